//! Generated worlds (hedui-generator) run through the real `hedui` binary
//! with the simulated departments: the engine must agree with the truth the
//! generator planted on every household and every discrepancy — verdict
//! columns exactly, discrepancies as a set of (code, department,
//! household_id, person_id), as `shared/tools/compare.py` judges — and on
//! the exit code. Seeds and as-of dates on both sides of the 2026-07-01
//! standards change; together the worlds must exercise every reason and
//! discrepancy code of POLICY §3–§8.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use hedui_generator::{generate, GenConfig};

type Rows = Vec<BTreeMap<String, String>>;

fn csv_rows(path: &Path) -> Rows {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    let headers = r.headers().unwrap().clone();
    r.records().map(|x| headers.iter().zip(x.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect()).collect()
}

const VERDICT_COLUMNS: [&str; 8] = [
    "verdict",
    "reason_codes",
    "counted_members",
    "standard_monthly_yuan",
    "gross_income_12m_yuan",
    "medical_deduction_yuan",
    "net_income_12m_yuan",
    "financial_assets_yuan",
];

/// Differences between a run folder and the expected files, as compare.py reports them.
fn differences(run: &Path, expected: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let key = |r: &BTreeMap<String, String>| (r["household_id"].clone(), r["program"].clone());
    let got: BTreeMap<_, _> = csv_rows(&run.join("verdicts.csv")).into_iter().map(|r| (key(&r), r)).collect();
    let want: BTreeMap<_, _> = csv_rows(&expected.join("verdicts.csv")).into_iter().map(|r| (key(&r), r)).collect();
    for (k, w) in &want {
        match got.get(k) {
            None => out.push(format!("missing verdict {k:?}")),
            Some(g) => {
                for c in VERDICT_COLUMNS {
                    if g.get(c) != w.get(c) {
                        out.push(format!("{} {c}: got {:?} want {:?}", k.0, g.get(c), w.get(c)));
                    }
                }
            }
        }
    }
    for k in got.keys().filter(|k| !want.contains_key(*k)) {
        out.push(format!("unexpected verdict {k:?}"));
    }
    let dkey = |r: &BTreeMap<String, String>| (r["code"].clone(), r["department"].clone(), r["household_id"].clone(), r["person_id"].clone());
    let got: BTreeSet<_> = csv_rows(&run.join("discrepancies.csv")).iter().map(dkey).collect();
    let want: BTreeSet<_> = csv_rows(&expected.join("discrepancies.csv")).iter().map(dkey).collect();
    out.extend(want.difference(&got).map(|t| format!("missed discrepancy {t:?}")));
    out.extend(got.difference(&want).map(|t| format!("unexpected discrepancy {t:?}")));
    out
}

/// Generates a world, runs `hedui demo` on it, and returns the codes its truth holds.
fn check_world(households: u64, seed: u64, as_of: &str, tweak: impl FnOnce(&mut GenConfig)) -> BTreeSet<String> {
    let tmp = tempfile::tempdir().unwrap();
    let world = tmp.path().join("world");
    let mut cfg = GenConfig::new(households, seed, as_of.parse().unwrap(), world.clone());
    // Small files, so that every department's delivery is split across several.
    cfg.rows_per_file = 700;
    cfg.xlsx_rows_per_file = 500;
    cfg.fault_rate = 0.06;
    cfg.quirk_rate = 0.2;
    tweak(&mut cfg);
    let summary = generate(&cfg, &mut |_| {}).unwrap();

    let out = tmp.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_hedui"))
        .args(["demo", "--no-progress", "--no-rate-limit", "--world"])
        .arg(&world)
        .arg("--out")
        .arg(&out)
        .arg("--outbox")
        .arg(tmp.path().join("outbox"))
        .env_remove("HEDUI_HR_TOKEN")
        .env_remove("HEDUI_EDUCATION_KEY")
        .output()
        .expect("hedui runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(summary.exit_code as i32), "exit code of seed {seed} as of {as_of}\n{stderr}");
    let diffs = differences(&out.join("latest"), &world.join("expected"));
    assert!(diffs.is_empty(), "seed {seed}, as of {as_of}: {} differences\n{}", diffs.len(), diffs.iter().take(40).cloned().collect::<Vec<_>>().join("\n"));

    let mut codes: BTreeSet<String> = BTreeSet::new();
    for v in csv_rows(&world.join("expected/verdicts.csv")) {
        codes.extend(v["reason_codes"].split(';').filter(|c| !c.is_empty()).map(String::from));
    }
    for d in csv_rows(&world.join("expected/discrepancies.csv")) {
        codes.insert(d["code"].clone());
    }
    codes
}

#[test]
fn generated_worlds_agree_with_their_truth() {
    let mut seen = BTreeSet::new();
    // Before and after the standards (and the USD rate) change on 2026-07-01,
    // the day itself, and a date before 1 September (academic year).
    seen.extend(check_world(600, 1, "2026-11-26", |_| {}));
    seen.extend(check_world(600, 2, "2026-03-15", |_| {}));
    seen.extend(check_world(500, 3, "2026-07-01", |c| c.fault_rate = 0.12));
    // The exchange's response is incomplete: banking unavailable, exit 3.
    seen.extend(check_world(300, 4, "2026-06-30", |c| {
        c.unavailable.insert("banking".into());
    }));

    let every_code = [
        // POLICY §7 reasons
        "INCOME_ABOVE_STANDARD",
        "FINANCIAL_ASSETS_ABOVE_LIMIT",
        "VEHICLE_OWNED",
        "MULTIPLE_RESIDENTIAL_PROPERTIES",
        "NON_RESIDENTIAL_PROPERTY",
        "BUSINESS_OWNER",
        "PUBLIC_PAYROLL",
        "TEKUN_NOT_QUALIFIED",
        "AUTHORIZATION_INVALID",
        "AUTHORIZATION_SCOPE_INCOMPLETE",
        "MEMBER_ID_INVALID",
        "MEMBER_MOVED_OUT",
        "MEMBER_NOT_IN_REGISTRY",
        "HOUSEHOLD_EMPTY",
        "NO_STANDARD",
        "MEMBER_IN_SEVERAL_HOUSEHOLDS",
        "DEPARTMENT_DATA_UNAVAILABLE",
        "BUSINESS_INCOME_UNVERIFIED",
        "CONFLICTING_DEPARTMENT_DATA",
        // POLICY §8 discrepancies
        "ID_INVALID",
        "UNREQUESTED_RECORD",
        "NAME_MISMATCH",
        "BIRTHDATE_MISMATCH",
        "GENDER_MISMATCH",
        "DECEASED_WITH_ACTIVITY",
        "DUPLICATE_RECORD",
        "DECLARED_MEMBER_DECEASED",
        "DECLARED_MEMBER_INCARCERATED",
        "DUPLICATE_MEMBERSHIP",
        "UNDECLARED_VEHICLE",
        "UNDECLARED_PROPERTY",
        "INCOME_UNDERDECLARED",
        "ASSETS_UNDERDECLARED",
        "MEDICAL_INSURANCE_NOT_ENROLLED",
        "EDUCATION_AID_MISSING",
        "DISABILITY_SUBSIDY_MISSING",
    ];
    let missing: Vec<&str> = every_code.iter().copied().filter(|c| !seen.contains(*c)).collect();
    assert!(missing.is_empty(), "the generated worlds never exercised {missing:?}");
}
