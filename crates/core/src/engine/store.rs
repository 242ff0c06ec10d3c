//! The admitted records of a batch: one flat vector per record kind, sorted
//! by person ID once every source is in, and an index from each person to
//! the ranges that hold their records.
//!
//! Why flat: a map of per-person vectors cost ten `Vec`s per person, each
//! with room for four records on its first push (most persons have one
//! record of a kind), and a second copy of every record while it was built.
//! Here each kind is one exactly-sized vector, and a person costs one index
//! entry.
//!
//! Invariant (after [`Store::finish`]): within a kind, records are ordered by
//! person ID; one person's records keep the order they were added in —
//! source order, then delivery order — which is the order every check and
//! every piece of evidence relies on.

use std::ops::Range;

use rustc_hash::FxHashMap;

use super::merge::{MergedEducation, MergedHr, Resolved};
use crate::model::*;

/// A per-person reply (HR, education), merged over the replies of one source.
pub(crate) struct Reply<T> {
    pub src: usize,
    pub id: Text,
    pub data: T,
}

/// Something stored under a person's ID.
pub(crate) trait PersonKeyed {
    fn person(&self) -> &Text;
}

impl<T> PersonKeyed for Resolved<T> {
    fn person(&self) -> &Text {
        &self.id
    }
}

impl<T> PersonKeyed for Reply<T> {
    fn person(&self) -> &Text {
        &self.id
    }
}

/// Kinds, in the order of [`Ranges`].
const KINDS: usize = 10;

/// Where one person's records of each kind are (`start`, `len`).
type Ranges = [(u32, u32); KINDS];

#[derive(Default)]
pub(crate) struct Store {
    pub registry: Vec<Resolved<RegistryRow>>,
    pub vehicles: Vec<Resolved<Vehicle>>,
    pub hr: Vec<Reply<MergedHr>>,
    pub visits: Vec<Resolved<MedicalVisit>>,
    pub insurance: Vec<Resolved<InsuranceEnrollment>>,
    pub business: Vec<Resolved<BusinessRole>>,
    pub balances: Vec<Resolved<BankBalance>>,
    pub education: Vec<Reply<MergedEducation>>,
    pub properties: Vec<Resolved<Property>>,
    pub disability: Vec<Resolved<DisabilityCert>>,
    index: FxHashMap<Text, Ranges>,
}

/// One person's records, every kind.
pub(crate) struct PersonData<'a> {
    pub registry: &'a [Resolved<RegistryRow>],
    pub vehicles: &'a [Resolved<Vehicle>],
    pub hr: &'a [Reply<MergedHr>],
    pub visits: &'a [Resolved<MedicalVisit>],
    pub insurance: &'a [Resolved<InsuranceEnrollment>],
    pub business: &'a [Resolved<BusinessRole>],
    pub balances: &'a [Resolved<BankBalance>],
    pub education: &'a [Reply<MergedEducation>],
    pub properties: &'a [Resolved<Property>],
    pub disability: &'a [Resolved<DisabilityCert>],
}

/// Appends `items` to `to` without the doubling slack of repeated pushes.
pub(crate) fn append<T>(to: &mut Vec<T>, items: Vec<T>) {
    to.reserve_exact(items.len());
    to.extend(items);
}

impl Store {
    /// Sorts every kind by person and builds the person index. Called once,
    /// after the last source.
    pub fn finish(&mut self) {
        let mut index: FxHashMap<Text, Ranges> = FxHashMap::default();
        sort_and_index(&mut self.registry, 0, &mut index);
        sort_and_index(&mut self.vehicles, 1, &mut index);
        sort_and_index(&mut self.hr, 2, &mut index);
        sort_and_index(&mut self.visits, 3, &mut index);
        sort_and_index(&mut self.insurance, 4, &mut index);
        sort_and_index(&mut self.business, 5, &mut index);
        sort_and_index(&mut self.balances, 6, &mut index);
        sort_and_index(&mut self.education, 7, &mut index);
        sort_and_index(&mut self.properties, 8, &mut index);
        sort_and_index(&mut self.disability, 9, &mut index);
        self.index = index;
    }

    /// Every person with at least one record, in ID order.
    pub fn persons_sorted(&self) -> Vec<&Text> {
        let mut ids: Vec<&Text> = self.index.keys().collect();
        ids.sort_unstable();
        ids
    }

    /// The records about `id`, if any.
    pub fn person(&self, id: &str) -> Option<PersonData<'_>> {
        let r = self.index.get(id)?;
        let at = |k: usize| -> Range<usize> { r[k].0 as usize..(r[k].0 + r[k].1) as usize };
        Some(PersonData {
            registry: &self.registry[at(0)],
            vehicles: &self.vehicles[at(1)],
            hr: &self.hr[at(2)],
            visits: &self.visits[at(3)],
            insurance: &self.insurance[at(4)],
            business: &self.business[at(5)],
            balances: &self.balances[at(6)],
            education: &self.education[at(7)],
            properties: &self.properties[at(8)],
            disability: &self.disability[at(9)],
        })
    }
}

/// Stable-sorts `items` by person and records each person's range of kind `k`.
fn sort_and_index<T: PersonKeyed>(items: &mut [T], k: usize, index: &mut FxHashMap<Text, Ranges>) {
    items.sort_by(|a, b| a.person().cmp(b.person()));
    let mut start = 0;
    while start < items.len() {
        let id = items[start].person();
        let mut end = start + 1;
        while end < items.len() && items[end].person() == id {
            end += 1;
        }
        let len = u32::try_from(end - start).expect("fewer than 4 billion records of a kind per person");
        let start32 = u32::try_from(start).expect("fewer than 4 billion records of a kind");
        match index.get_mut(id) {
            Some(r) => r[k] = (start32, len),
            None => {
                let mut r: Ranges = [(0, 0); KINDS];
                r[k] = (start32, len);
                index.insert(id.clone(), r);
            }
        }
        start = end;
    }
}
