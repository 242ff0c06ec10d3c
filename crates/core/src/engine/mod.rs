//! The verification engine: roster + canonical records + policy → verdicts,
//! discrepancies and explanations for every household at once.
//!
//! The work is set-based: records are admitted and deduplicated per kind in one
//! pass (`merge.rs`) and checked record by record (names, dates, activity after
//! death); they then become canonical record tables (`frames.rs`) on which the
//! household rules run as one Polars lazy plan of joins and group-bys over all
//! households at once (`household.rs`) — the same code for 60 households and a
//! million.

mod frames;
mod household;
mod merge;
mod records;
mod roster;
mod store;

use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub use merge::RecordCounts;

use self::merge::{admit, dedupe, merge_education, merge_hr, Admitted, Resolved, Turned};
use self::records::CanonRecord;
use self::roster::{RosterIndex, SourceState};
use self::store::{append, PersonData, Reply, Store};
use crate::identity::{self, names_match};
use crate::model::*;
use crate::policy::{Policy, PolicyError};
use crate::rules::{Discrepancy, DiscrepancyCode, Explanation, Verdict};
use crate::window::BatchDates;

/// One source's contribution to a batch.
#[derive(Clone)]
pub struct SourceInput<'a> {
    /// Department code.
    pub code: &'a str,
    /// Record kinds the source declares (known even when it is unavailable).
    pub kinds: &'a [RecordKind],
    /// `false`: the source's data could not be obtained for this batch.
    pub available: bool,
    /// Persons whose requests failed after retries.
    pub failed_persons: &'a HashSet<String>,
    /// Owned when the caller hands its records over (the batch: no copy of
    /// tens of millions of rows); borrowed in tests.
    pub records: std::borrow::Cow<'a, Records>,
}

/// Everything a batch decides.
#[derive(Debug, Clone, Default, Serialize)]
pub struct EngineOutput {
    /// Sorted by household_id.
    pub verdicts: Vec<Verdict>,
    /// Sorted by (department, code, person_id, record_ref).
    pub discrepancies: Vec<Discrepancy>,
    /// One per household, in verdict order.
    pub explanations: Vec<Explanation>,
    /// Per source, in input order: how its records were accounted for.
    pub counts: Vec<(String, RecordCounts)>,
}

/// A person a department may be asked about (POLICY §4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestedPerson {
    pub id: String,
    pub name: String,
    pub auth_no: String,
    pub age: i32,
}

/// The persons department `code` may be asked about: every declared member
/// with a valid ID of a household whose authorization is valid on D and covers
/// `code`, each once (first household by id), sorted by ID.
pub fn plan_requests(roster: &Roster, as_of: NaiveDate, code: &str) -> Vec<RequestedPerson> {
    RequestPlanner::new(roster, as_of).plan(code)
}

/// The roster's members parsed once, to plan every department's requests
/// (parsing 3 million IDs once per department was seconds per source).
pub struct RequestPlanner<'a> {
    /// Members with a valid ID whose household has an authorization valid
    /// on D, ordered by (household id, roster order).
    members: Vec<(&'a Household, &'a Authorization, &'a Member, identity::CitizenId)>,
    as_of: NaiveDate,
}

impl<'a> RequestPlanner<'a> {
    pub fn new(roster: &'a Roster, as_of: NaiveDate) -> Self {
        let auth: HashMap<&str, (&Household, &Authorization)> = roster
            .households
            .iter()
            .filter_map(|h| h.authorization.as_ref().filter(|a| a.is_valid_on(as_of)).map(|a| (h.household_id.as_str(), (h, a))))
            .collect();
        let mut members: Vec<_> = roster
            .members
            .iter()
            .filter_map(|m| {
                let &(h, a) = auth.get(m.household_id.as_str())?;
                let id = identity::parse_id(&m.id_raw, as_of).ok()?;
                Some((h, a, m, id))
            })
            .collect();
        // Stable: members of one household keep their roster order.
        members.sort_by(|x, y| x.0.household_id.cmp(&y.0.household_id));
        RequestPlanner { members, as_of }
    }

    /// The persons department `code` may be asked about (see [`plan_requests`]).
    pub fn plan(&self, code: &str) -> Vec<RequestedPerson> {
        // Households in id order: the first household naming a person wins.
        let mut seen: rustc_hash::FxHashSet<&str> = rustc_hash::FxHashSet::default();
        let mut list: Vec<RequestedPerson> = Vec::new();
        for (_, a, m, id) in &self.members {
            if !a.covers(code) || !seen.insert(id.as_str()) {
                continue;
            }
            list.push(RequestedPerson { id: id.as_str().to_string(), name: m.name.trim().to_string(), auth_no: a.number.clone(), age: id.age_on(self.as_of) });
        }
        list.sort_by(|a, b| a.id.cmp(&b.id));
        list
    }
}

/// Shared state of one evaluation.
pub(crate) struct Ctx<'a> {
    pub dates: BatchDates,
    pub policy: &'a Policy,
    pub params: crate::policy::Parameters,
    pub index: RosterIndex<'a>,
    pub codes: Vec<&'a str>,
    /// Per source: the kinds it declares.
    pub kinds: Vec<&'a [RecordKind]>,
    /// Every admitted record, by kind and person.
    pub store: Store,
    pub discrepancies: Vec<Discrepancy>,
    /// Households touched by a conflicting duplicate.
    pub conflicts: HashSet<usize>,
}

impl Ctx<'_> {
    /// Whether every source of `kind` may be used for household `h` (and at
    /// least one source yields it).
    pub fn kind_usable(&self, h: usize, kind: RecordKind) -> bool {
        let mut any = false;
        for (si, kinds) in self.kinds.iter().enumerate() {
            if kinds.contains(&kind) {
                any = true;
                if !self.index.households[h].usable[si] {
                    return false;
                }
            }
        }
        any
    }

    /// The person's current registry row as household `h` may see it: the
    /// latest 状态日期 (empty = oldest) among usable sources.
    pub fn registry_current(&self, h: usize, id: &str) -> Option<&Resolved<RegistryRow>> {
        let hv = &self.index.households[h];
        self.store.person(id)?.registry.iter().filter(|r| hv.usable[r.src]).max_by_key(|r| r.rec.status_date)
    }

    pub fn push(&mut self, code: DiscrepancyCode, department: &str, household_id: &str, person_id: &str, record_ref: &str, detail: String, name: &str) {
        self.discrepancies.push(Discrepancy {
            department: department.to_string(),
            code,
            person_id: person_id.to_string(),
            record_ref: record_ref.to_string(),
            household_id: household_id.to_string(),
            detail,
            name: name.trim().to_string(),
        });
    }
}

/// Verifies every household of `roster` as of `as_of`.
pub fn verify(roster: &Roster, policy: &Policy, as_of: NaiveDate, sources: Vec<SourceInput>) -> Result<EngineOutput, PolicyError> {
    let dates = BatchDates::new(as_of);
    let params = policy.parameters_on(as_of)?;
    let states: Vec<SourceState> = sources.iter().map(|s| SourceState { code: s.code, available: s.available, failed_persons: s.failed_persons }).collect();
    let index = RosterIndex::build(roster, &dates, &states);
    let mut cx = Ctx {
        dates,
        policy,
        params,
        index,
        codes: sources.iter().map(|s| s.code).collect(),
        kinds: sources.iter().map(|s| s.kinds).collect(),
        store: Store::default(),
        discrepancies: Vec::new(),
        conflicts: HashSet::new(),
    };
    let mut counts = Vec::new();
    for (si, s) in sources.into_iter().enumerate() {
        let mut c = RecordCounts::default();
        if s.available {
            ingest(&mut cx, si, s.records.into_owned(), &mut c);
        }
        counts.push((s.code.to_string(), c));
    }
    cx.store.finish();
    record_findings(&mut cx);
    let (verdicts, explanations) = household::evaluate_all(&mut cx);
    // Freeing every person's records one by one took ~15 % of the rules stage
    // at 100k households; the caller only needs the decisions, so the index
    // is freed on a thread of its own while the outputs are written.
    let store = std::mem::take(&mut cx.store);
    std::thread::spawn(move || drop(store));

    let mut discrepancies = std::mem::take(&mut cx.discrepancies);
    discrepancies.retain(|d| policy.rule_enabled(d.code.as_str()));
    discrepancies.sort_by(|a, b| {
        (a.department.as_str(), a.code.as_str(), a.person_id.as_str(), a.record_ref.as_str(), a.household_id.as_str(), a.detail.as_str())
            .cmp(&(b.department.as_str(), b.code.as_str(), b.person_id.as_str(), b.record_ref.as_str(), b.household_id.as_str(), b.detail.as_str()))
    });
    discrepancies.dedup();
    Ok(EngineOutput { verdicts, discrepancies, explanations, counts })
}

/// Admits, deduplicates and indexes one source's records, reporting what it
/// turned away.
fn ingest(cx: &mut Ctx, si: usize, records: Records, c: &mut RecordCounts) {
    fn gate<T: CanonRecord>(cx: &mut Ctx, si: usize, recs: Vec<T>, c: &mut RecordCounts) -> Vec<Admitted<T>> {
        let mut turned = Vec::new();
        let admitted = admit(recs, si, &cx.dates, &cx.index, c, &mut turned);
        let code = cx.codes[si];
        for (t, rec) in turned {
            match t {
                Turned::Invalid { id_text } => {
                    let key = rec.key(&id_text);
                    cx.push(DiscrepancyCode::ID_INVALID, code, "", &id_text, &key, "身份证号无效，记录已隔离未比对".into(), rec.name());
                }
                Turned::Unrequested { id } => {
                    let key = rec.key(&id);
                    cx.push(DiscrepancyCode::UNREQUESTED_RECORD, code, "", &id, &key, "记录所涉人员不在本批核对名单中，已丢弃".into(), rec.name());
                }
            }
        }
        admitted
    }
    macro_rules! simple {
        ($field:ident) => {{
            let admitted = gate(cx, si, records.$field, c);
            append(&mut cx.store.$field, dedupe(admitted, c));
        }};
    }
    simple!(registry);
    simple!(vehicles);
    simple!(insurance);
    simple!(business);
    simple!(properties);
    simple!(disability);
    {
        let admitted = gate(cx, si, records.medical_visits, c);
        append(&mut cx.store.visits, dedupe(admitted, c));
    }
    {
        let admitted = gate(cx, si, records.bank_balances, c);
        append(&mut cx.store.balances, dedupe(admitted, c));
    }
    // HR and education: the reply about a person is one record; several
    // replies about one person merge item by item.
    let hr = gate(cx, si, records.hr, c);
    for (id, replies) in group_by_person(hr) {
        c.used += 1;
        c.duplicates += replies.len() as u64 - 1;
        let (merged, conflict) = merge_hr(replies, &cx.dates);
        if conflict {
            conflict_found(cx, si, &id, &id, "同一记录出现多次且内容不一致，按较大金额或最后送达的记录处理", &merged.name);
        }
        cx.store.hr.push(Reply { src: si, id, data: merged });
    }
    let edu = gate(cx, si, records.education, c);
    for (id, replies) in group_by_person(edu) {
        c.used += 1;
        c.duplicates += replies.len() as u64 - 1;
        let merged = merge_education(replies, &cx.dates);
        for sno in merged.conflicting_student_nos.clone() {
            conflict_found(cx, si, &id, &sno, "学籍记录重复且不一致，按最后送达的记录处理", &merged.name);
        }
        cx.store.education.push(Reply { src: si, id, data: merged });
    }
}

fn group_by_person<T>(items: Vec<Admitted<T>>) -> Vec<(Text, Vec<T>)> {
    let mut order: Vec<(Text, Vec<T>)> = Vec::new();
    let mut pos: FxHashMap<Text, usize> = FxHashMap::default();
    for a in items {
        match pos.get(&a.id) {
            Some(&i) => order[i].1.push(a.rec),
            None => {
                pos.insert(a.id.clone(), order.len());
                order.push((a.id, vec![a.rec]));
            }
        }
    }
    order
}

/// Reports a conflicting duplicate and marks every household that uses it.
fn conflict_found(cx: &mut Ctx, si: usize, id: &str, record_ref: &str, detail: &str, name: &str) {
    let users: Vec<usize> = cx.index.users_of(id, si).collect();
    let Some(&first) = users.first() else { return };
    cx.conflicts.extend(users);
    let hid = cx.index.households[first].household.household_id.to_string();
    let code = cx.codes[si];
    cx.push(DiscrepancyCode::DUPLICATE_RECORD, code, &hid, id, record_ref, detail.to_string(), name);
}

/// Record-level findings: conflicts, names, birth dates, genders, activity
/// after death. Each goes to the department that delivered the record and
/// names the first household (by id) that uses it.
fn record_findings(cx: &mut Ctx) {
    let mut found: Vec<Discrepancy> = Vec::new();
    let mut conflicts: Vec<(usize, String, String, String)> = Vec::new();
    {
        let cx_ref = &*cx;
        for id in cx_ref.store.persons_sorted() {
            let p = cx_ref.store.person(id).expect("indexed person");
            let checker = RecordChecker { cx: cx_ref, id, out: &mut found, conflicts: &mut conflicts };
            checker.check(&p);
        }
    }
    for (si, id, key, name) in conflicts {
        conflict_found(cx, si, &id, &key, "同一记录出现多次且内容不一致，按较大金额或最后送达的记录处理", &name);
    }
    cx.discrepancies.extend(found);
}

struct RecordChecker<'c, 'a> {
    cx: &'c Ctx<'a>,
    id: &'c str,
    out: &'c mut Vec<Discrepancy>,
    conflicts: &'c mut Vec<(usize, String, String, String)>,
}

impl RecordChecker<'_, '_> {
    fn emit(&mut self, code: DiscrepancyCode, si: usize, h: usize, record_ref: &str, detail: String, name: &str) {
        self.out.push(Discrepancy {
            department: self.cx.codes[si].to_string(),
            code,
            person_id: self.id.to_string(),
            record_ref: record_ref.to_string(),
            household_id: self.cx.index.households[h].household.household_id.clone(),
            detail,
            name: name.trim().to_string(),
        });
    }

    /// The registry's current row for the first household using source `si`.
    fn registry_for(&self, si: usize) -> Option<(usize, &RegistryRow)> {
        let h = self.cx.index.first_user(self.id, si)?;
        Some((h, &self.cx.registry_current(h, self.id)?.rec))
    }

    fn name_check(&mut self, si: usize, name: &str, record_ref: &str, wildcard: bool) {
        if name.trim().is_empty() {
            return;
        }
        if let Some((h, reg)) = self.registry_for(si) {
            if !names_match(name, &reg.name, wildcard) {
                let detail = format!("姓名与户籍登记不一致（户籍：{}）", reg.name.trim());
                self.emit(DiscrepancyCode::NAME_MISMATCH, si, h, record_ref, detail, name);
            }
        }
    }

    /// The date of death the registry records for this person, as seen by the
    /// first household using source `si`.
    fn death(&self, si: usize) -> Option<(usize, NaiveDate)> {
        let (h, reg) = self.registry_for(si)?;
        (reg.status.trim() == "死亡").then_some(())?;
        Some((h, reg.status_date?))
    }

    fn resolved<T: CanonRecord>(&mut self, r: &Resolved<T>) {
        if r.conflict {
            self.conflicts.push((r.src, self.id.to_string(), r.key().to_string(), r.rec.name().to_string()));
        }
    }

    fn check(mut self, p: &PersonData) {
        let id = self.cx.index.person_households.get(self.id).map(|_| identity::parse_id(self.id, self.cx.dates.as_of).ok()).flatten();
        for r in p.registry {
            self.resolved(r);
            let Some(h) = self.cx.index.first_user(self.id, r.src) else { continue };
            if let (Some(id), Some(birth)) = (&id, r.rec.birth_date) {
                if id.birth_date() != birth {
                    self.emit(DiscrepancyCode::BIRTHDATE_MISMATCH, r.src, h, &r.key(), "户籍出生日期与身份证号不一致".into(), &r.rec.name);
                }
            }
            let g = r.rec.gender.trim();
            if let Some(id) = &id {
                if (g == "男" || g == "女") && g != id.gender().chinese() {
                    self.emit(DiscrepancyCode::GENDER_MISMATCH, r.src, h, &r.key(), "户籍性别与身份证号不一致".into(), &r.rec.name);
                }
            }
        }
        for r in p.vehicles {
            self.resolved(r);
            self.name_check(r.src, &r.rec.owner_name, &r.key(), false);
        }
        for r in p.insurance {
            self.resolved(r);
            self.name_check(r.src, &r.rec.name, &r.key(), false);
        }
        for r in p.business {
            self.resolved(r);
            self.name_check(r.src, &r.rec.person_name, &r.key(), false);
        }
        for r in p.properties {
            self.resolved(r);
            self.name_check(r.src, &r.rec.owner_name, &r.key(), false);
        }
        for r in p.disability {
            self.resolved(r);
            self.name_check(r.src, &r.rec.name, &r.key(), false);
        }
        for r in p.balances {
            self.resolved(r);
            // The exchange writes `?` for characters GBK cannot encode.
            self.name_check(r.src, &r.rec.name, &r.key(), true);
        }
        for r in p.visits {
            self.resolved(r);
            self.name_check(r.src, &r.rec.name, &r.key(), false);
            if let Some((h, died)) = self.death(r.src) {
                if r.rec.visit_date > died {
                    self.emit(DiscrepancyCode::DECEASED_WITH_ACTIVITY, r.src, h, &r.key(), "户籍登记死亡后仍有就诊记录".into(), &r.rec.name);
                }
            }
        }
        for Reply { src: si, data: hr, .. } in p.hr {
            let key = self.id.to_string();
            self.name_check(*si, &hr.name, &key, false);
            if let Some((h, died)) = self.death(*si) {
                let died_month = crate::window::month_start_shifted(died, 0);
                let after = hr.contributions.iter().map(|c| c.month).chain(hr.pensions.iter().map(|p| p.month)).chain(hr.unemployment.iter().map(|p| p.month)).any(|m| m > died_month);
                if after {
                    self.emit(DiscrepancyCode::DECEASED_WITH_ACTIVITY, *si, h, &key, "户籍登记死亡后仍有社保缴费、养老金或失业金记录".into(), &hr.name);
                }
            }
        }
        for Reply { src: si, data: edu, .. } in p.education {
            let reference = edu.current().or(edu.enrollments.first()).map(|e| e.student_no.clone()).unwrap_or_else(|| self.id.into());
            self.name_check(*si, &edu.name, &reference, false);
            if let (Some(id), Some(birth)) = (&id, edu.birth_date) {
                if id.birth_date() != birth {
                    if let Some(h) = self.cx.index.first_user(self.id, *si) {
                        self.emit(DiscrepancyCode::BIRTHDATE_MISMATCH, *si, h, &reference, "学籍出生日期与身份证号不一致".into(), &edu.name);
                    }
                }
            }
            if let (Some((h, _)), Some(cur)) = (self.death(*si), edu.current()) {
                if cur.status == "在读" {
                    self.emit(DiscrepancyCode::DECEASED_WITH_ACTIVITY, *si, h, &cur.student_no, "户籍登记死亡后学籍仍为在读".into(), &edu.name);
                }
            }
        }
    }
}
