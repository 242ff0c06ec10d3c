//! The roster seen by the engine: households in output order, members with
//! their validated IDs, who is declared where, and which department each
//! household's authorization lets the engine use.

use std::collections::HashMap;

use crate::identity::{self, CitizenId};
use rustc_hash::FxHashMap;

use crate::model::{Household, Member, Roster, Text};
use crate::window::BatchDates;

/// A declared member with the outcome of ID validation.
pub(crate) struct MemberView<'a> {
    pub member: &'a Member,
    pub id: Option<CitizenId>,
}

impl MemberView<'_> {
    /// Normalized ID, or the trimmed raw value when invalid.
    pub fn id_text(&self) -> String {
        match &self.id {
            Some(id) => id.as_str().to_string(),
            None => self.member.id_raw.trim().to_string(),
        }
    }
}

/// A household with its members and authorization state.
pub(crate) struct HouseholdView<'a> {
    pub household: &'a Household,
    pub members: Vec<MemberView<'a>>,
    /// Authorization present and valid on D (POLICY §4).
    pub auth_valid: bool,
    /// Per source index: the authorization covers the source's department.
    pub covers: Vec<bool>,
    /// Per source index: covered, available, and no member's request failed.
    pub usable: Vec<bool>,
    /// Per source index: covered but the data could not be obtained.
    pub unavailable: Vec<bool>,
}

/// The roster indexed for the engine.
pub(crate) struct RosterIndex<'a> {
    /// Sorted by household_id.
    pub households: Vec<HouseholdView<'a>>,
    /// Normalized ID → indexes of the households declaring it (sorted, distinct).
    pub person_households: FxHashMap<Text, Vec<usize>>,
}

/// What the engine knows of a source before looking at its records.
pub(crate) struct SourceState<'a> {
    pub code: &'a str,
    pub available: bool,
    pub failed_persons: &'a std::collections::HashSet<String>,
}

impl<'a> RosterIndex<'a> {
    pub fn build(roster: &'a Roster, dates: &BatchDates, sources: &[SourceState]) -> Self {
        let mut order: Vec<&Household> = roster.households.iter().collect();
        order.sort_by(|a, b| a.household_id.cmp(&b.household_id));
        let position: HashMap<&str, usize> = order.iter().enumerate().map(|(i, h)| (h.household_id.as_str(), i)).collect();
        let mut households: Vec<HouseholdView> = order
            .iter()
            .map(|h| {
                let auth_valid = h.authorization.as_ref().is_some_and(|a| a.is_valid_on(dates.as_of));
                let covers: Vec<bool> = sources.iter().map(|s| auth_valid && h.authorization.as_ref().is_some_and(|a| a.covers(s.code))).collect();
                HouseholdView { household: h, members: Vec::new(), auth_valid, usable: covers.clone(), unavailable: vec![false; sources.len()], covers }
            })
            .collect();
        let mut person_households: FxHashMap<Text, Vec<usize>> = FxHashMap::default();
        for m in &roster.members {
            let Some(&hi) = position.get(m.household_id.as_str()) else { continue };
            let id = identity::parse_id(&m.id_raw, dates.as_of).ok();
            if let Some(id) = &id {
                let list = person_households.entry(Text::from(id.as_str())).or_default();
                if !list.contains(&hi) {
                    list.push(hi);
                }
            }
            households[hi].members.push(MemberView { member: m, id });
        }
        for list in person_households.values_mut() {
            list.sort_unstable();
        }
        for hv in &mut households {
            for (si, s) in sources.iter().enumerate() {
                if !hv.covers[si] {
                    continue;
                }
                let failed = hv.members.iter().any(|m| m.id.as_ref().is_some_and(|id| s.failed_persons.contains(id.as_str())));
                if !s.available || failed {
                    hv.usable[si] = false;
                    hv.unavailable[si] = true;
                }
            }
        }
        RosterIndex { households, person_households }
    }

    /// The households of a person that may use data from source `si`.
    pub fn users_of(&self, id: &str, si: usize) -> impl Iterator<Item = usize> + '_ {
        self.person_households.get(id).into_iter().flatten().copied().filter(move |&h| self.households[h].usable[si])
    }

    /// The first household (by household_id) of a person that may use source `si`.
    pub fn first_user(&self, id: &str, si: usize) -> Option<usize> {
        self.users_of(id, si).next()
    }
}
