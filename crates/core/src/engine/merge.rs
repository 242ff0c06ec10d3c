//! Admission and deduplication of department records (POLICY §4, §8, §9).
//!
//! Every record passes the same gates, in this order:
//! 1. its ID fails §2 → `ID_INVALID`, quarantined;
//! 2. valid ID of nobody in the roster → `UNREQUESTED_RECORD`, dropped;
//! 3. no household of that person may use the source (authorization invalid,
//!    out of scope, source unusable) → dropped silently;
//! 4. dated after D → ignored;
//! 5. same record key: exact repeats merged; distinct contents are a conflict
//!    (`DUPLICATE_RECORD`), resolved by the kind's rule.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use chrono::NaiveDate;
use serde::Serialize;

use super::records::CanonRecord;
use super::roster::RosterIndex;
use crate::identity;
use crate::model::{Aid, Contribution, EducationReply, Enrollment, HrReply, MonthlyPayment, Origin, Text};
use crate::window::BatchDates;

/// Per-source reconciliation: `read = used + quarantined + unrequested +
/// not_authorized + after_as_of + duplicates` (the adapter's own quarantine is
/// added by the batch runner).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RecordCounts {
    pub read: u64,
    pub used: u64,
    /// Invalid ID (`ID_INVALID`).
    pub quarantined: u64,
    /// Valid ID of nobody in the roster (`UNREQUESTED_RECORD`).
    pub unrequested: u64,
    /// About roster members whose household's authorization does not let the
    /// engine use this source: dropped silently.
    pub not_authorized: u64,
    /// Dated after the as-of date: ignored.
    pub after_as_of: u64,
    /// Rows merged into another row with the same record key.
    pub duplicates: u64,
}

/// A record that passed the gates, with the person's normalized ID.
pub(crate) struct Admitted<T> {
    pub src: usize,
    pub id: Text,
    pub rec: T,
}

/// A record after deduplication.
#[derive(Clone)]
pub(crate) struct Resolved<T> {
    pub src: usize,
    pub id: Text,
    pub rec: T,
    /// Distinct contents were delivered under this key.
    pub conflict: bool,
}

impl<T: CanonRecord> Resolved<T> {
    /// The record key (DEPARTMENTS.md). Computed when cited rather than
    /// stored: most keys are longer than inline text, and a stored copy per
    /// record cost ~50 bytes of tens of millions.
    pub fn key(&self) -> Text {
        self.rec.key(&self.id)
    }
}

/// Why a record was turned away at the gate.
pub(crate) enum Turned {
    Invalid { id_text: Text },
    Unrequested { id: Text },
}

/// Admits `records` of source `si`; returns what passed and what was turned
/// away (for the caller to report).
pub(crate) fn admit<T: CanonRecord>(
    records: Vec<T>,
    si: usize,
    dates: &BatchDates,
    index: &RosterIndex,
    counts: &mut RecordCounts,
    turned: &mut Vec<(Turned, T)>,
) -> Vec<Admitted<T>> {
    let mut out = Vec::with_capacity(records.len());
    for rec in records {
        counts.read += 1;
        let id = match identity::parse_id(rec.raw_id(), dates.as_of) {
            Ok(id) => id,
            Err(_) => {
                counts.quarantined += 1;
                turned.push((Turned::Invalid { id_text: rec.raw_id().trim().into() }, rec));
                continue;
            }
        };
        let id = Text::from(id.as_str());
        if !index.person_households.contains_key(&id) {
            counts.unrequested += 1;
            turned.push((Turned::Unrequested { id }, rec));
            continue;
        }
        if index.first_user(&id, si).is_none() {
            counts.not_authorized += 1;
            continue;
        }
        if rec.after_as_of(dates) {
            counts.after_as_of += 1;
            continue;
        }
        out.push(Admitted { src: si, id, rec });
    }
    out
}

/// Groups admitted records by key, merging exact repeats and resolving conflicts.
pub(crate) fn dedupe<T: CanonRecord>(items: Vec<Admitted<T>>, counts: &mut RecordCounts) -> Vec<Resolved<T>> {
    /// Rows under one key. Almost every key has one row: `later` stays an
    /// empty (unallocated) Vec for them.
    struct Group<T> {
        id: Text,
        src: usize,
        first: T,
        later: Vec<T>,
    }
    let mut groups: Vec<Group<T>> = Vec::with_capacity(items.len());
    let mut by_key: FxHashMap<Text, usize> = FxHashMap::default();
    by_key.reserve(items.len());
    for a in items {
        let key = a.rec.key(&a.id);
        match by_key.get(&key) {
            Some(&g) => groups[g].later.push(a.rec),
            None => {
                by_key.insert(key, groups.len());
                groups.push(Group { id: a.id, src: a.src, first: a.rec, later: Vec::new() });
            }
        }
    }
    drop(by_key);
    groups
        .into_iter()
        .map(|Group { id, src, first, later }| {
            counts.duplicates += later.len() as u64;
            counts.used += 1;
            if later.is_empty() {
                return Resolved { src, id, rec: first, conflict: false };
            }
            let mut distinct: Vec<T> = Vec::new();
            for r in std::iter::once(first).chain(later) {
                // Keep the *last* delivery of each distinct content, in delivery order.
                if let Some(pos) = distinct.iter().position(|d| d.same_content(&r)) {
                    distinct.remove(pos);
                }
                distinct.push(r);
            }
            let conflict = distinct.len() > 1;
            let rec = if conflict { T::resolve(distinct) } else { distinct.pop().expect("one row") };
            Resolved { src, id, rec, conflict }
        })
        .collect()
}

/// One person's HR data, merged over every reply and filtered to D.
#[derive(Debug, Clone)]
pub(crate) struct MergedHr {
    pub origin: Origin,
    pub name: Text,
    pub contributions: Vec<Contribution>,
    pub pensions: Vec<MonthlyPayment>,
    pub unemployment: Vec<MonthlyPayment>,
}

/// Merges the replies about one person (delivery order). Items are keyed
/// (contribution: month + employer; payments: month); distinct amounts under
/// one key are a conflict and the larger amount counts. Items after D are dropped.
pub(crate) fn merge_hr(replies: Vec<HrReply>, dates: &BatchDates) -> (MergedHr, bool) {
    let mut conflict = false;
    let mut contributions: BTreeMap<(NaiveDate, Text), Contribution> = BTreeMap::new();
    let mut pensions: BTreeMap<NaiveDate, MonthlyPayment> = BTreeMap::new();
    let mut unemployment: BTreeMap<NaiveDate, MonthlyPayment> = BTreeMap::new();
    let origin = replies.first().map(|r| r.origin.clone()).unwrap_or_default();
    let name = replies.last().map(|r| r.name.clone()).unwrap_or_default();
    for r in replies {
        for c in r.contributions {
            if dates.month_after_as_of(c.month) {
                continue;
            }
            match contributions.get_mut(&(c.month, c.employer_code.clone())) {
                Some(prev) if *prev != c => {
                    conflict = true;
                    let base = prev.base_fen.max(c.base_fen);
                    *prev = Contribution { base_fen: base, ..c };
                }
                Some(_) => {}
                None => {
                    contributions.insert((c.month, c.employer_code.clone()), c);
                }
            }
        }
        for (target, items) in [(&mut pensions, r.pensions), (&mut unemployment, r.unemployment)] {
            for p in items {
                if dates.month_after_as_of(p.month) {
                    continue;
                }
                match target.get_mut(&p.month) {
                    Some(prev) if *prev != p => {
                        conflict = true;
                        prev.amount_fen = prev.amount_fen.max(p.amount_fen);
                    }
                    Some(_) => {}
                    None => {
                        target.insert(p.month, p);
                    }
                }
            }
        }
    }
    let merged = MergedHr {
        origin,
        name,
        contributions: contributions.into_values().collect(),
        pensions: pensions.into_values().collect(),
        unemployment: unemployment.into_values().collect(),
    };
    (merged, conflict)
}

/// One person's education data, merged over replies and filtered to D.
#[derive(Debug, Clone)]
pub(crate) struct MergedEducation {
    pub name: Text,
    pub birth_date: Option<NaiveDate>,
    /// Keyed by student_no; conflicts resolved to the last delivered.
    pub enrollments: Vec<Enrollment>,
    pub conflicting_student_nos: Vec<Text>,
    pub aid: Vec<Aid>,
}

impl MergedEducation {
    /// The current enrollment: the latest `since` ≤ D (later delivery wins a tie).
    pub fn current(&self) -> Option<&Enrollment> {
        self.enrollments.iter().max_by_key(|e| e.since)
    }
}

pub(crate) fn merge_education(replies: Vec<EducationReply>, dates: &BatchDates) -> MergedEducation {
    let name = replies.last().map(|r| r.name.clone()).unwrap_or_default();
    let birth_date = replies.iter().rev().find_map(|r| r.birth_date);
    let mut enrollments: Vec<Enrollment> = Vec::new();
    let mut conflicting = Vec::new();
    let mut aid: Vec<Aid> = Vec::new();
    for r in replies {
        for e in r.enrollments {
            if e.since > dates.as_of {
                continue;
            }
            match enrollments.iter().position(|p| p.student_no == e.student_no) {
                Some(pos) => {
                    if enrollments[pos] != e {
                        if !conflicting.contains(&e.student_no) {
                            conflicting.push(e.student_no.clone());
                        }
                        enrollments.remove(pos);
                        enrollments.push(e);
                    }
                }
                None => enrollments.push(e),
            }
        }
        for a in r.aid {
            if !aid.contains(&a) {
                aid.push(a);
            }
        }
    }
    MergedEducation { name, birth_date, enrollments, conflicting_student_nos: conflicting, aid }
}
