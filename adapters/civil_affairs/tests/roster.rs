//! The roster loader on hand-made fixtures and on the sample world's roster.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hedui_civil_affairs::{load_roster, ProblemKind, RosterError};
use hedui_core::model::{AreaType, Authorization, Program};

fn fixtures(name: &str) -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/civil_affairs")).join(name)
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn problems(err: &RosterError) -> Vec<(&str, u64, &str, &str, ProblemKind)> {
    err.problems.iter().map(|p| (p.file.as_str(), p.line, p.field.as_str(), p.value.as_str(), p.kind)).collect()
}

#[test]
fn a_good_roster_with_every_allowed_quirk() {
    let r = load_roster(&fixtures("good")).unwrap();
    assert_eq!(r.households.len(), 3);
    let h = &r.households[0];
    assert_eq!((h.line, h.household_id.as_str(), h.program, h.area_type), (2, "H0000001", Program::Dibao, AreaType::Urban));
    assert_eq!((h.declared_monthly_income_fen, h.declared_financial_assets_fen), (190_550, 3_073_400));
    assert_eq!((h.declared_vehicle_count, h.declared_property_count), (0, 1));
    assert_eq!(
        h.authorization,
        Some(Authorization {
            number: "SQ5201030000001".into(),
            signed: d(2025, 5, 7),
            valid_until: d(2027, 6, 2),
            scope: Some(vec!["public_security".into(), "housing".into(), "banking".into()]),
        })
    );
    // ALL = every department; the head's ID is kept raw.
    let h = &r.households[1];
    assert_eq!((h.program, h.area_type, h.head_id_raw.as_str()), (Program::Tekun, AreaType::Rural, " 52011519800208337x "));
    assert_eq!(h.authorization.as_ref().unwrap().scope, None);
    assert_eq!(h.declared_vehicle_count, 2);
    // Trimmed household_id/program/area_type/count; all auth fields empty = no authorization.
    let h = &r.households[2];
    assert_eq!((h.household_id.as_str(), h.program, h.area_type, h.declared_vehicle_count), ("H0000003", Program::Dibao, AreaType::Urban, 1));
    assert_eq!(h.authorization, None);

    assert_eq!(r.members.len(), 6);
    let m = &r.members;
    assert_eq!((m[0].line, m[0].household_id.as_str(), m[0].name.as_str(), m[0].relation.as_str()), (2, "H0000001", "曹洋", "户主"));
    assert_eq!(m[1].name, "迪丽努尔•玉素甫");
    // IDs and names raw, even invalid ones (the engine reports them).
    assert_eq!((m[2].id_raw.as_str(), m[2].name.as_str()), (" 52011519800208337x ", "罗 梅"));
    assert_eq!(m[3].id_raw, "５２０１１５２０１００１０１００１２");
    assert_eq!(m[4].id_raw, "12345");
    assert_eq!((m[5].household_id.as_str(), m[5].relation.as_str()), ("H0000003", "户主"));
}

#[test]
fn every_problem_is_listed() {
    let err = load_roster(&fixtures("errors")).unwrap_err();
    use ProblemKind::*;
    const H: &str = "households.csv";
    const M: &str = "members.csv";
    assert_eq!(
        problems(&err),
        [
            (H, 2, "program", "DIBAOO", UnknownProgram),
            (H, 2, "area_type", "city", UnknownAreaType),
            (H, 2, "declared_monthly_income_yuan", "abc", BadAmount),
            (H, 2, "declared_financial_assets_yuan", "-5", BadAmount),
            (H, 2, "declared_vehicle_count", "one", BadCount),
            (H, 2, "declared_property_count", "-1", BadCount),
            (H, 2, "auth_signed_date", "2025-02-30", BadDate),
            (H, 3, "declared_monthly_income_yuan", "100.123", BadAmount),
            (H, 3, "auth_signed_date", "", PartialAuthorization),
            (H, 3, "auth_scope", "", PartialAuthorization),
            (H, 4, "household_id", "H1", DuplicateHousehold),
            (H, 5, "household_id", "", EmptyValue),
            (H, 6, "auth_valid_until", "2027/13/01", BadDate),
            (H, 6, "auth_scope", "|", BadScope),
            (H, 7, "", "", MalformedRow),
            (M, 3, "household_id", "H9", UnknownHousehold),
            (M, 4, "household_id", "", EmptyValue),
            (M, 6, "", "", MalformedRow),
        ]
    );
    let text = err.to_string();
    assert!(text.contains("has 18 problem(s)"), "{text}");
    assert!(text.contains("households.csv line 2, program = \"DIBAOO\": unknown program (expected DIBAO or TEKUN)"), "{text}");
    assert!(text.contains("households.csv line 4, household_id = \"H1\": duplicate household_id (first on line 2)"), "{text}");
    assert!(text.contains("line 3, declared_monthly_income_yuan = \"100.123\": not an amount in yuan: more than 2 decimals"), "{text}");
    assert!(text.contains("auth_scope = \"\": empty while other auth fields are filled"), "{text}");
    assert!(text.contains("members.csv line 3, household_id = \"H9\": no such household in households.csv"), "{text}");
    assert!(text.contains("members.csv line 6: malformed row: 2 fields, header has 4"), "{text}");
}

#[test]
fn missing_files_and_columns_are_all_listed() {
    let err = load_roster(&fixtures("missing_columns")).unwrap_err();
    assert_eq!(
        problems(&err),
        [
            ("households.csv", 1, "declared_financial_assets_yuan", "", ProblemKind::MissingColumn),
            ("households.csv", 1, "auth_scope", "", ProblemKind::MissingColumn),
            ("members.csv", 0, "", "", ProblemKind::MissingFile),
        ]
    );
    assert!(err.to_string().contains("members.csv: file not found"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let err = load_roster(dir.path()).unwrap_err();
    assert_eq!(err.problems.iter().map(|p| p.kind).collect::<Vec<_>>(), [ProblemKind::MissingFile, ProblemKind::MissingFile]);
}

#[test]
fn a_file_in_another_encoding_is_named() {
    let err = load_roster(&fixtures("not_utf8")).unwrap_err();
    assert_eq!(problems(&err), [("members.csv", 0, "", "", ProblemKind::Unreadable)]);
    assert!(err.to_string().contains("not valid UTF-8"), "{err}");
}

#[test]
fn the_sample_world_roster() {
    let dir = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/gz-60-2026-11-26/inbox/roster"));
    let r = load_roster(dir).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((r.households.len(), r.members.len()), (60, 144));
    let h = &r.households[0];
    assert_eq!((h.household_id.as_str(), h.program, h.county_code.as_str(), h.area_type), ("H0000001", Program::Dibao, "520103", AreaType::Urban));
    assert_eq!((h.declared_monthly_income_fen, h.declared_financial_assets_fen), (190_500, 3_073_400));
    let a = h.authorization.as_ref().unwrap();
    assert_eq!((a.number.as_str(), a.signed, a.valid_until), ("SQ5201030000001", d(2025, 5, 7), d(2027, 6, 2)));
    assert_eq!(a.scope.as_ref().unwrap().len(), 8);
    assert!(a.covers("banking") && !a.covers("pension"));
    assert_eq!(r.households[1].authorization.as_ref().unwrap().scope, None); // ALL
    assert_eq!(r.households.iter().filter(|h| h.authorization.is_none()).count(), 2);
    assert_eq!(r.households.iter().filter(|h| h.program == Program::Tekun).count(), 4);
    assert_eq!(r.households.iter().filter(|h| h.area_type == AreaType::Rural).count(), 21);
    assert_eq!((r.members[1].name.as_str(), r.members[1].relation.as_str()), ("迪丽努尔•玉素甫", "配偶"));
    assert!(r.members.iter().all(|m| r.households.iter().any(|h| h.household_id == m.household_id)));
}
