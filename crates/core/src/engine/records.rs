//! How the engine sees each canonical record kind: its person ID, its record
//! key (DEPARTMENTS.md), the date that decides "after D" (POLICY §9), and how
//! conflicting duplicates resolve (POLICY §8: amounts → the larger; otherwise
//! the row delivered last).

use crate::model::*;

/// A date as `YYYYMMDD` in record keys (cheaper than chrono's formatter,
/// which parses its format string every time).
struct Ymd(chrono::NaiveDate);

impl std::fmt::Display for Ymd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use chrono::Datelike;
        write!(f, "{:04}{:02}{:02}", self.0.year(), self.0.month(), self.0.day())
    }
}
use crate::window::BatchDates;

/// A canonical record the engine admits, deduplicates and matches.
pub(crate) trait CanonRecord: Clone + PartialEq {
    fn origin(&self) -> &Origin;
    fn origin_mut(&mut self) -> &mut Origin;
    fn raw_id(&self) -> &str;
    fn name(&self) -> &str;
    /// Whether the record is dated after D and so ignored.
    fn after_as_of(&self, dates: &BatchDates) -> bool;
    /// The record key, with `id` standing for the person's ID.
    fn key(&self, id: &str) -> Text;
    /// Resolves a conflict among distinct contents, in delivery order.
    fn resolve(rows: Vec<Self>) -> Self {
        rows.into_iter().last().expect("a conflict has rows")
    }
    /// Same content, origin aside.
    fn same_content(&self, other: &Self) -> bool {
        let mut o = other.clone();
        *o.origin_mut() = self.origin().clone();
        &o == self
    }
}

/// The last row of `rows`, with an amount field replaced by the largest value.
fn last_with_max<T: Clone>(rows: Vec<T>, get: impl Fn(&T) -> i64, set: impl Fn(&mut T, i64)) -> T {
    let max = rows.iter().map(&get).max().expect("rows");
    let mut last = rows.into_iter().last().expect("rows");
    set(&mut last, max);
    last
}

impl CanonRecord for RegistryRow {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.id_raw
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn after_as_of(&self, d: &BatchDates) -> bool {
        self.status_date.is_some_and(|s| s > d.as_of)
    }
    fn key(&self, id: &str) -> Text {
        match self.status_date {
            Some(d) => format_compact!("{id}+{}", Ymd(d)),
            None => format_compact!("{id}+"),
        }
    }
}

impl CanonRecord for Vehicle {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.owner_id_raw
    }
    fn name(&self) -> &str {
        &self.owner_name
    }
    fn after_as_of(&self, d: &BatchDates) -> bool {
        self.first_registered > d.as_of
    }
    fn key(&self, _id: &str) -> Text {
        self.plate.trim().into()
    }
}

impl CanonRecord for MedicalVisit {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.id_raw
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn after_as_of(&self, d: &BatchDates) -> bool {
        self.visit_date > d.as_of
    }
    fn key(&self, _id: &str) -> Text {
        self.serial.trim().into()
    }
    fn resolve(rows: Vec<Self>) -> Self {
        let total = rows.iter().map(|r| r.total_fen).max().unwrap_or(0);
        let pooled = rows.iter().map(|r| r.pooled_fen).max().unwrap_or(0);
        last_with_max(
            rows,
            |r| r.self_paid_fen,
            |r, v| {
                r.self_paid_fen = v;
                r.total_fen = total;
                r.pooled_fen = pooled;
            },
        )
    }
}

impl CanonRecord for InsuranceEnrollment {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.id_raw
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn after_as_of(&self, d: &BatchDates) -> bool {
        use chrono::Datelike;
        self.year > d.as_of.year()
    }
    fn key(&self, id: &str) -> Text {
        format_compact!("{id}+{}+{}", self.year, self.insurance_type.trim())
    }
}

impl CanonRecord for BusinessRole {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.person_id_raw
    }
    fn name(&self) -> &str {
        &self.person_name
    }
    fn after_as_of(&self, d: &BatchDates) -> bool {
        self.established > d.as_of
    }
    fn key(&self, id: &str) -> Text {
        format_compact!("{}+{id}+{}", self.uscc.trim(), self.role.trim())
    }
    fn resolve(rows: Vec<Self>) -> Self {
        // Capital is the amount: the larger known value counts (unknown only if never known).
        let max = rows.iter().filter_map(|r| r.registered_capital_fen).max();
        let mut last = rows.into_iter().last().expect("rows");
        last.registered_capital_fen = max;
        last
    }
}

impl CanonRecord for BankBalance {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.id_raw
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn after_as_of(&self, d: &BatchDates) -> bool {
        self.balance_date > d.as_of
    }
    fn key(&self, _id: &str) -> Text {
        format_compact!("{}+{}+{}", self.institution.trim(), self.account.trim(), Ymd(self.balance_date))
    }
    fn resolve(rows: Vec<Self>) -> Self {
        last_with_max(rows, |r| r.balance_cents, |r, v| r.balance_cents = v)
    }
}

impl CanonRecord for Property {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.owner_id_raw
    }
    fn name(&self) -> &str {
        &self.owner_name
    }
    fn after_as_of(&self, d: &BatchDates) -> bool {
        self.registered > d.as_of
    }
    fn key(&self, id: &str) -> Text {
        format_compact!("{}+{id}", self.certificate_no.trim())
    }
}

impl CanonRecord for DisabilityCert {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.id_raw
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn after_as_of(&self, _d: &BatchDates) -> bool {
        false // POLICY §9: disability rows are never "after D".
    }
    fn key(&self, _id: &str) -> Text {
        self.certificate_no.trim().into()
    }
}

impl CanonRecord for HrReply {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.id_raw
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn after_as_of(&self, _d: &BatchDates) -> bool {
        false // items are filtered one by one (their month decides)
    }
    fn key(&self, id: &str) -> Text {
        id.into()
    }
}

impl CanonRecord for EducationReply {
    fn origin(&self) -> &Origin {
        &self.origin
    }
    fn origin_mut(&mut self) -> &mut Origin {
        &mut self.origin
    }
    fn raw_id(&self) -> &str {
        &self.id_raw
    }
    fn name(&self) -> &str {
        &self.name
    }
    fn after_as_of(&self, _d: &BatchDates) -> bool {
        false // enrollments are filtered one by one (their `since` decides)
    }
    fn key(&self, id: &str) -> Text {
        id.into()
    }
}
