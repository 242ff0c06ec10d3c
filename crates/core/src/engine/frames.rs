//! The canonical record tables the household rules run on (POLICY §3–§9), as
//! Polars `DataFrame`s: the roster (households, members), which source each
//! household may use, and one table per record kind after admission and
//! deduplication (`merge.rs`).
//!
//! Column conventions, shared by every table:
//! - `h`: household index (households sorted by id, the output order), UInt32;
//! - `pos`: the member's position among the household's declared members, UInt32;
//! - `person`: the person (one number per normalized citizen ID), UInt32 —
//!   a number rather than the ID text keeps the many joins on it cheap;
//! - `src`: source index (input order), UInt32;
//! - `row`: index of the record in the matching [`Rows`] vector, UInt32, so a
//!   rule's result can name the record it rests on (evidence); rows of one
//!   person are numbered in that person's delivery order;
//! - money: Int64 fen, never a float; months: `year × 12 + month0` (Int32);
//!   days: days since 0001-01-01 (Int32).
//!
//! Text codes are trimmed where the rules compare them trimmed (statuses,
//! types, uses, roles); education status and stage are compared as delivered.

use std::collections::HashMap;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;

use super::merge::{MergedEducation, MergedHr, Resolved};
use super::Ctx;
use crate::model::{BankBalance, BusinessRole, Currency, DisabilityCert, InsuranceEnrollment, MedicalVisit, Property, RecordKind, Vehicle};
use crate::money::Fen;

/// `hr_items.kind`: what an HR item is (POLICY §6).
pub(crate) const WAGE: i32 = 0;
pub(crate) const PENSION: i32 = 1;
pub(crate) const UNEMPLOYMENT: i32 = 2;

/// A month as a number that orders and compares like the month.
pub(crate) fn month_index(d: NaiveDate) -> i32 {
    d.year() * 12 + d.month0() as i32
}

/// A date as a day number.
pub(crate) fn day_number(d: NaiveDate) -> i32 {
    d.num_days_from_ce()
}

/// One household of the roster stage (`household.rs`), as the rules see it.
pub(crate) struct HouseholdRow {
    /// Monthly standard in force on D (§5); `None` = no standard.
    pub standard_fen: Option<Fen>,
    pub tekun: bool,
    pub declared_income_fen: Fen,
    pub declared_assets_fen: Fen,
    pub declared_vehicles: u32,
    pub declared_properties: u32,
}

/// One declared member after the registry check (§3).
pub(crate) struct MemberRow {
    pub h: u32,
    pub pos: u32,
    /// Normalized ID, or the trimmed raw value when invalid (numbered in the table).
    pub person: String,
    /// The ID passed §2 (only such members are matched with records).
    pub valid: bool,
    /// The member counts towards `size` (§3).
    pub counted: bool,
    /// Age on D; `None` for an invalid ID.
    pub age: Option<i32>,
}

/// The records behind each table's `row` column, for evidence and findings.
#[derive(Default)]
pub(crate) struct Rows<'a> {
    /// One HR reply per (person, source), merged (`hr_replies.row`).
    pub hr: Vec<(&'a str, usize, &'a MergedHr)>,
    pub visits: Vec<&'a Resolved<MedicalVisit>>,
    pub balances: Vec<&'a Resolved<BankBalance>>,
    pub vehicles: Vec<&'a Resolved<Vehicle>>,
    pub properties: Vec<&'a Resolved<Property>>,
    pub business: Vec<&'a Resolved<BusinessRole>>,
    pub disability: Vec<&'a Resolved<DisabilityCert>>,
    pub insurance: Vec<&'a Resolved<InsuranceEnrollment>>,
    /// One education reply per (person, source) that has a current enrollment.
    pub education: Vec<(&'a str, usize, &'a MergedEducation)>,
}

/// Every input table of the household plan.
pub(crate) struct Tables {
    /// `h, standard, tekun, declared_income, declared_assets, declared_vehicles, declared_properties`
    pub households: DataFrame,
    /// `h, pos, person, valid, counted, age`
    pub members: DataFrame,
    /// `h, src, ok`: every household × source; `ok` = the household may use
    /// the source (authorization valid and covering it, source available, no
    /// member's request failed — §4).
    pub usable: DataFrame,
    /// `src, kind`: the record kinds each source declares (`kind` = `RecordKind as u32`).
    pub source_kinds: DataFrame,
    /// `row, person, src`: one merged HR reply per person and source.
    pub hr_replies: DataFrame,
    /// `reply, item, person, src, kind, month, amount, employer_type`: every
    /// wage (contribution base), pension and unemployment item of a reply, not
    /// after D; `item` = the contribution's index in its reply.
    pub hr_items: DataFrame,
    /// `row, person, src, month, self_paid`
    pub visits: DataFrame,
    /// `row, person, src, institution, account, day, usd, cents`: balances in
    /// the account's currency (cents; fen for CNY).
    pub balances: DataFrame,
    /// `row, person, src, plate, status, class` (`class`: first character of
    /// the GA 802 vehicle type, `K` passenger, `H` truck …).
    pub vehicles: DataFrame,
    /// `row, person, src, certificate, usage, status`
    pub properties: DataFrame,
    /// `row, person, src, entity_type, status, role, capital` (`capital` null = unknown)
    pub business: DataFrame,
    /// `row, person, src, category, level, valid_until, living_subsidy`
    pub disability: DataFrame,
    /// `row, person, src, year, status`
    pub insurance: DataFrame,
    /// `row, person, src, status, stage`: each reply's current enrollment.
    pub education: DataFrame,
    /// `reply, academic_year`: the aid entries of those replies.
    pub aid: DataFrame,
}

/// Builds every table from the roster stage and the admitted records.
pub(crate) fn build<'a>(cx: &'a Ctx, households: &[HouseholdRow], members: &[MemberRow]) -> PolarsResult<(Tables, Rows<'a>)> {
    let mut rows = Rows::default();
    // Persons in ID order, each person's records in delivery order: `row`
    // numbers then order like the per-person vectors they come from.
    // The store holds each kind in person-ID order already.
    let ids = cx.store.persons_sorted();
    let st = &cx.store;
    rows.hr.extend(st.hr.iter().map(|r| (r.id.as_str(), r.src, &r.data)));
    rows.visits.extend(st.visits.iter());
    rows.balances.extend(st.balances.iter());
    rows.vehicles.extend(st.vehicles.iter());
    rows.properties.extend(st.properties.iter());
    rows.business.extend(st.business.iter());
    rows.disability.extend(st.disability.iter());
    rows.insurance.extend(st.insurance.iter());
    rows.education.extend(st.education.iter().filter(|r| r.data.current().is_some()).map(|r| (r.id.as_str(), r.src, &r.data)));
    // Person numbers: every person with records, then members without any.
    let mut numbers: HashMap<&str, u32> = ids.iter().enumerate().map(|(i, id)| (id.as_str(), i as u32)).collect();
    let member_numbers: Vec<u32> = members
        .iter()
        .map(|m| {
            let next = numbers.len() as u32;
            *numbers.entry(m.person.as_str()).or_insert(next)
        })
        .collect();
    let person = |id: &str| numbers[id];

    let n = |len: usize| (0..len as u32).collect::<Vec<u32>>();
    let src = |s: usize| s as u32;

    let households = df!(
        "h" => n(households.len()),
        "standard" => households.iter().map(|x| x.standard_fen).collect::<Vec<_>>(),
        "tekun" => households.iter().map(|x| x.tekun).collect::<Vec<_>>(),
        "declared_income" => households.iter().map(|x| x.declared_income_fen).collect::<Vec<_>>(),
        "declared_assets" => households.iter().map(|x| x.declared_assets_fen).collect::<Vec<_>>(),
        "declared_vehicles" => households.iter().map(|x| x.declared_vehicles as i64).collect::<Vec<_>>(),
        "declared_properties" => households.iter().map(|x| x.declared_properties as i64).collect::<Vec<_>>(),
    )?;
    let members = df!(
        "h" => members.iter().map(|m| m.h).collect::<Vec<_>>(),
        "pos" => members.iter().map(|m| m.pos).collect::<Vec<_>>(),
        "person" => member_numbers,
        "valid" => members.iter().map(|m| m.valid).collect::<Vec<_>>(),
        "counted" => members.iter().map(|m| m.counted).collect::<Vec<_>>(),
        "age" => members.iter().map(|m| m.age).collect::<Vec<_>>(),
    )?;

    let (mut uh, mut us, mut uok) = (Vec::new(), Vec::new(), Vec::new());
    for (h, hv) in cx.index.households.iter().enumerate() {
        for (si, ok) in hv.usable.iter().enumerate() {
            uh.push(h as u32);
            us.push(src(si));
            uok.push(*ok);
        }
    }
    let usable = df!("h" => uh, "src" => us, "ok" => uok)?;
    let (mut ks, mut kk) = (Vec::new(), Vec::new());
    for (si, kinds) in cx.kinds.iter().enumerate() {
        for k in kinds.iter() {
            ks.push(src(si));
            kk.push(*k as u32);
        }
    }
    let source_kinds = df!("src" => ks, "kind" => kk)?;

    let hr_replies = df!(
        "row" => n(rows.hr.len()),
        "person" => rows.hr.iter().map(|r| person(r.0)).collect::<Vec<_>>(),
        "src" => rows.hr.iter().map(|r| src(r.1)).collect::<Vec<_>>(),
    )?;
    let hr_items = {
        let (mut reply, mut item, mut persons, mut s, mut kind, mut month, mut amount, mut etype) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
        for (r, (id, si, hr)) in rows.hr.iter().enumerate() {
            let mut push = |i: usize, k: i32, m: NaiveDate, a: Fen, t: &'a str| {
                reply.push(r as u32);
                item.push(i as u32);
                persons.push(person(id));
                s.push(src(*si));
                kind.push(k);
                month.push(month_index(m));
                amount.push(a);
                etype.push(t);
            };
            for (i, c) in hr.contributions.iter().enumerate() {
                push(i, WAGE, c.month, c.base_fen, c.employer_type.trim());
            }
            for (i, p) in hr.pensions.iter().enumerate() {
                push(i, PENSION, p.month, p.amount_fen, "");
            }
            for (i, p) in hr.unemployment.iter().enumerate() {
                push(i, UNEMPLOYMENT, p.month, p.amount_fen, "");
            }
        }
        df!("reply" => reply, "item" => item, "person" => persons, "src" => s, "kind" => kind, "month" => month, "amount" => amount, "employer_type" => etype)?
    };
    let visits = df!(
        "row" => n(rows.visits.len()),
        "person" => rows.visits.iter().map(|r| person(&r.id)).collect::<Vec<_>>(),
        "src" => rows.visits.iter().map(|r| src(r.src)).collect::<Vec<_>>(),
        "month" => rows.visits.iter().map(|r| month_index(r.rec.visit_date)).collect::<Vec<_>>(),
        "self_paid" => rows.visits.iter().map(|r| r.rec.self_paid_fen).collect::<Vec<_>>(),
    )?;
    let balances = df!(
        "row" => n(rows.balances.len()),
        "person" => rows.balances.iter().map(|r| person(&r.id)).collect::<Vec<_>>(),
        "src" => rows.balances.iter().map(|r| src(r.src)).collect::<Vec<_>>(),
        "institution" => rows.balances.iter().map(|r| r.rec.institution.trim()).collect::<Vec<_>>(),
        "account" => rows.balances.iter().map(|r| r.rec.account.trim()).collect::<Vec<_>>(),
        "day" => rows.balances.iter().map(|r| day_number(r.rec.balance_date)).collect::<Vec<_>>(),
        "usd" => rows.balances.iter().map(|r| r.rec.currency == Currency::Usd).collect::<Vec<_>>(),
        "cents" => rows.balances.iter().map(|r| r.rec.balance_cents).collect::<Vec<_>>(),
    )?;
    let vehicles = df!(
        "row" => n(rows.vehicles.len()),
        "person" => rows.vehicles.iter().map(|r| person(&r.id)).collect::<Vec<_>>(),
        "src" => rows.vehicles.iter().map(|r| src(r.src)).collect::<Vec<_>>(),
        "plate" => rows.vehicles.iter().map(|r| r.key().to_string()).collect::<Vec<String>>(),
        "status" => rows.vehicles.iter().map(|r| r.rec.status.trim()).collect::<Vec<_>>(),
        "class" => rows.vehicles.iter().map(|r| r.rec.vehicle_type.trim().chars().next().map(String::from).unwrap_or_default()).collect::<Vec<_>>(),
    )?;
    let properties = df!(
        "row" => n(rows.properties.len()),
        "person" => rows.properties.iter().map(|r| person(&r.id)).collect::<Vec<_>>(),
        "src" => rows.properties.iter().map(|r| src(r.src)).collect::<Vec<_>>(),
        "certificate" => rows.properties.iter().map(|r| r.rec.certificate_no.trim()).collect::<Vec<_>>(),
        "usage" => rows.properties.iter().map(|r| r.rec.usage.trim()).collect::<Vec<_>>(),
        "status" => rows.properties.iter().map(|r| r.rec.status.trim()).collect::<Vec<_>>(),
    )?;
    let business = df!(
        "row" => n(rows.business.len()),
        "person" => rows.business.iter().map(|r| person(&r.id)).collect::<Vec<_>>(),
        "src" => rows.business.iter().map(|r| src(r.src)).collect::<Vec<_>>(),
        "entity_type" => rows.business.iter().map(|r| r.rec.entity_type.trim()).collect::<Vec<_>>(),
        "status" => rows.business.iter().map(|r| r.rec.status.trim()).collect::<Vec<_>>(),
        "role" => rows.business.iter().map(|r| r.rec.role.trim()).collect::<Vec<_>>(),
        "capital" => rows.business.iter().map(|r| r.rec.registered_capital_fen).collect::<Vec<_>>(),
    )?;
    let disability = df!(
        "row" => n(rows.disability.len()),
        "person" => rows.disability.iter().map(|r| person(&r.id)).collect::<Vec<_>>(),
        "src" => rows.disability.iter().map(|r| src(r.src)).collect::<Vec<_>>(),
        "category" => rows.disability.iter().map(|r| r.rec.category.trim()).collect::<Vec<_>>(),
        "level" => rows.disability.iter().map(|r| r.rec.level as i32).collect::<Vec<_>>(),
        "valid_until" => rows.disability.iter().map(|r| day_number(r.rec.valid_until)).collect::<Vec<_>>(),
        "living_subsidy" => rows.disability.iter().map(|r| r.rec.living_subsidy).collect::<Vec<_>>(),
    )?;
    let insurance = df!(
        "row" => n(rows.insurance.len()),
        "person" => rows.insurance.iter().map(|r| person(&r.id)).collect::<Vec<_>>(),
        "src" => rows.insurance.iter().map(|r| src(r.src)).collect::<Vec<_>>(),
        "year" => rows.insurance.iter().map(|r| r.rec.year).collect::<Vec<_>>(),
        "status" => rows.insurance.iter().map(|r| r.rec.status.trim()).collect::<Vec<_>>(),
    )?;
    let current = |e: &'a MergedEducation| e.current().expect("replies without a current enrollment are left out");
    let education = df!(
        "row" => n(rows.education.len()),
        "person" => rows.education.iter().map(|r| person(r.0)).collect::<Vec<_>>(),
        "src" => rows.education.iter().map(|r| src(r.1)).collect::<Vec<_>>(),
        "status" => rows.education.iter().map(|r| current(r.2).status.as_str()).collect::<Vec<_>>(),
        "stage" => rows.education.iter().map(|r| current(r.2).stage.as_str()).collect::<Vec<_>>(),
    )?;
    let (mut ar, mut ay) = (Vec::new(), Vec::new());
    for (r, (_, _, e)) in rows.education.iter().enumerate() {
        for a in &e.aid {
            ar.push(r as u32);
            ay.push(a.academic_year.trim());
        }
    }
    let aid = df!("reply" => ar, "academic_year" => ay)?;

    let tables = Tables { households, members, usable, source_kinds, hr_replies, hr_items, visits, balances, vehicles, properties, business, disability, insurance, education, aid };
    Ok((tables, rows))
}

/// The column `kind` value of a record kind in `source_kinds`.
pub(crate) fn kind_code(kind: RecordKind) -> u32 {
    kind as u32
}
