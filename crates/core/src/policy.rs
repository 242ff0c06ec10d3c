//! The policy as data (POLICY §5): rule switches, effective-dated standards per
//! county × area × program, effective-dated scalar parameters, and counties.
//!
//! This module parses *text* (the batch crate reads the files): a malformed
//! policy is refused with every problem listed — file, line, field — not just
//! the first.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::model::{AreaType, Program};
use crate::money::{self, Fen};
use crate::rules::{DiscrepancyCode, ReasonCode};

/// The non-tabular part of a policy, from the `[policy]` table of the config.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PolicySettings {
    /// e.g. `gz-2026`
    pub id: String,
    /// e.g. `2026.1`
    pub version: String,
    /// Rule switches: a reason or discrepancy code → enabled. Codes not listed
    /// are enabled.
    #[serde(default)]
    pub rules: BTreeMap<String, bool>,
}

/// One problem found in a policy file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyProblem {
    pub file: String,
    /// 1-based line; 0 when the problem is not on one line.
    pub line: u64,
    pub field: String,
    pub message: String,
}

impl fmt::Display for PolicyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "{}:{}: {}: {}", self.file, self.line, self.field, self.message)
        } else {
            write!(f, "{}: {}: {}", self.file, self.field, self.message)
        }
    }
}

/// Every problem of a refused policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct PolicyError {
    pub problems: Vec<PolicyProblem>,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "the policy has {} problem(s):", self.problems.len())?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

/// One row of `standards.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandardRow {
    pub county_code: String,
    pub area_type: AreaType,
    pub program: Program,
    pub effective_from: NaiveDate,
    pub monthly_fen: Fen,
    pub line: u64,
}

/// A county of `counties.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct County {
    pub code: String,
    pub name: String,
    pub city: String,
}

/// A scalar parameter value as written (exact decimal, scaled by 10^4).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParameterRow {
    pub effective_from: NaiveDate,
    /// The value × 10,000, exact.
    pub value_e4: i64,
    /// The value as written in the file, for explanations.
    pub raw: String,
    pub line: u64,
}

/// The scalar parameters the rules need, with their meaning.
pub const PARAMETER_NAMES: [&str; 8] = [
    "financial_asset_months",
    "medical_deduction_floor_yuan",
    "business_capital_limit_yuan",
    "usd_cny_rate",
    "underdeclared_ratio",
    "underdeclared_income_min_yuan",
    "underdeclared_assets_min_yuan",
    "public_payroll_recent_months",
];

/// A loaded, validated policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub id: String,
    pub version: String,
    standards: BTreeMap<(String, AreaType, Program), Vec<StandardRow>>,
    parameters: BTreeMap<String, Vec<ParameterRow>>,
    counties: BTreeMap<String, County>,
    disabled: BTreeSet<String>,
}

/// A parameter in force on a date, with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ParamValue {
    pub name: &'static str,
    pub value_e4: i64,
    pub raw: String,
    pub effective_from: NaiveDate,
}

impl ParamValue {
    /// A yuan parameter in fen.
    pub fn fen(&self) -> Fen {
        self.value_e4 / 100
    }
    /// A whole-number parameter.
    pub fn int(&self) -> i64 {
        self.value_e4 / 10_000
    }
}

/// The parameters in force on the as-of date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Parameters {
    pub financial_asset_months: ParamValue,
    pub medical_deduction_floor: ParamValue,
    pub business_capital_limit: ParamValue,
    pub usd_cny_rate: ParamValue,
    pub underdeclared_ratio: ParamValue,
    pub underdeclared_income_min: ParamValue,
    pub underdeclared_assets_min: ParamValue,
    pub public_payroll_recent_months: ParamValue,
}

/// A monthly standard in force, with its source row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StandardValue {
    pub monthly_fen: Fen,
    pub effective_from: NaiveDate,
}

struct Collector<'a> {
    file: &'a str,
    problems: &'a mut Vec<PolicyProblem>,
}

impl Collector<'_> {
    fn push(&mut self, line: u64, field: &str, message: impl Into<String>) {
        self.problems.push(PolicyProblem { file: self.file.to_string(), line, field: field.to_string(), message: message.into() });
    }
}

/// Reads a CSV text into (line, record) pairs after checking the header.
fn csv_rows(text: &str, expected: &[&str], c: &mut Collector) -> Vec<(u64, csv::StringRecord)> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut rdr = csv::ReaderBuilder::new().has_headers(true).flexible(true).from_reader(text.as_bytes());
    let headers: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(|s| s.trim().to_string()).collect(),
        Err(e) => {
            c.push(1, "header", format!("cannot read: {e}"));
            return Vec::new();
        }
    };
    if headers != expected {
        c.push(1, "header", format!("expected columns {}, found {}", expected.join(","), headers.join(",")));
        return Vec::new();
    }
    let mut out = Vec::new();
    for rec in rdr.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map(|p| p.line()).unwrap_or(0);
                if r.iter().all(|f| f.trim().is_empty()) {
                    continue;
                }
                if r.len() != expected.len() {
                    c.push(line, "row", format!("{} fields, expected {}", r.len(), expected.len()));
                    continue;
                }
                out.push((line, r));
            }
            Err(e) => c.push(e.position().map(|p| p.line()).unwrap_or(0), "row", e.to_string()),
        }
    }
    out
}

fn parse_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d").ok()
}

impl Policy {
    /// Parses and validates a policy. Each table is `(file name, text)`.
    pub fn parse(settings: &PolicySettings, standards: (&str, &str), parameters: (&str, &str), counties: (&str, &str)) -> Result<Policy, PolicyError> {
        let mut problems = Vec::new();

        // Rule switches must name known codes: a typo must not leave a rule on.
        let known: BTreeSet<&str> = ReasonCode::ALL.iter().map(|r| r.as_str()).chain(DiscrepancyCode::ALL.iter().map(|d| d.as_str())).collect();
        let mut disabled = BTreeSet::new();
        for (code, on) in &settings.rules {
            if !known.contains(code.as_str()) {
                problems.push(PolicyProblem { file: "policy".into(), line: 0, field: format!("rules.{code}"), message: "not a reason or discrepancy code of POLICY.md".into() });
            } else if !on {
                disabled.insert(code.clone());
            }
        }

        let mut county_map = BTreeMap::new();
        {
            let mut c = Collector { file: counties.0, problems: &mut problems };
            for (line, r) in csv_rows(counties.1, &["county_code", "county_name", "city_name"], &mut c) {
                let code = r[0].trim().to_string();
                if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
                    c.push(line, "county_code", format!("{code:?} is not a 6-digit code"));
                    continue;
                }
                if county_map.insert(code.clone(), County { code: code.clone(), name: r[1].trim().into(), city: r[2].trim().into() }).is_some() {
                    c.push(line, "county_code", format!("{code} listed twice"));
                }
            }
        }

        let mut standards_map: BTreeMap<(String, AreaType, Program), Vec<StandardRow>> = BTreeMap::new();
        {
            let mut c = Collector { file: standards.0, problems: &mut problems };
            for (line, r) in csv_rows(standards.1, &["county_code", "area_type", "program", "effective_from", "monthly_standard_yuan"], &mut c) {
                let county = r[0].trim().to_string();
                let area = AreaType::parse(&r[1]);
                let program = Program::parse(&r[2]);
                let from = parse_date(&r[3]);
                let amount = money::parse_yuan(&r[4]);
                if !county_map.contains_key(&county) {
                    c.push(line, "county_code", format!("{county} is not in {}", counties.0));
                }
                if area.is_none() {
                    c.push(line, "area_type", format!("{:?} is not urban or rural", &r[1]));
                }
                if program.is_none() {
                    c.push(line, "program", format!("{:?} is not DIBAO or TEKUN", &r[2]));
                }
                if from.is_none() {
                    c.push(line, "effective_from", format!("{:?} is not a date YYYY-MM-DD", &r[3]));
                }
                match &amount {
                    Err(e) => c.push(line, "monthly_standard_yuan", e.to_string()),
                    Ok(v) if *v <= 0 => c.push(line, "monthly_standard_yuan", "must be positive"),
                    _ => {}
                }
                if let (Some(area), Some(program), Some(from), Ok(monthly_fen)) = (area, program, from, amount) {
                    let rows = standards_map.entry((county.clone(), area, program)).or_default();
                    if let Some(prev) = rows.iter().find(|p| p.effective_from == from) {
                        c.push(line, "effective_from", format!("{county} {} {} from {from} already given on line {}", area.code(), program.code(), prev.line));
                    } else {
                        rows.push(StandardRow { county_code: county, area_type: area, program, effective_from: from, monthly_fen, line });
                    }
                }
            }
        }
        for rows in standards_map.values_mut() {
            rows.sort_by_key(|r| r.effective_from);
        }

        let mut params: BTreeMap<String, Vec<ParameterRow>> = BTreeMap::new();
        {
            let mut c = Collector { file: parameters.0, problems: &mut problems };
            for (line, r) in csv_rows(parameters.1, &["name", "effective_from", "value"], &mut c) {
                let name = r[0].trim().to_string();
                if !PARAMETER_NAMES.contains(&name.as_str()) {
                    c.push(line, "name", format!("{name:?} is not a known parameter ({})", PARAMETER_NAMES.join(", ")));
                    continue;
                }
                let from = parse_date(&r[1]);
                if from.is_none() {
                    c.push(line, "effective_from", format!("{:?} is not a date YYYY-MM-DD", &r[1]));
                }
                let value = money::parse_scaled(&r[2], 4);
                match &value {
                    Err(e) => c.push(line, "value", e.to_string()),
                    Ok(v) if *v < 0 => c.push(line, "value", "must not be negative"),
                    Ok(v) if name.ends_with("_months") && v % 10_000 != 0 => c.push(line, "value", "must be a whole number of months"),
                    _ => {}
                }
                if let (Some(from), Ok(value_e4)) = (from, value) {
                    let rows = params.entry(name.clone()).or_default();
                    if rows.iter().any(|p| p.effective_from == from) {
                        c.push(line, "effective_from", format!("{name} from {from} given twice"));
                    } else {
                        rows.push(ParameterRow { effective_from: from, value_e4, raw: r[2].trim().to_string(), line });
                    }
                }
            }
            for name in PARAMETER_NAMES {
                if !params.contains_key(name) {
                    c.push(0, name, "missing: every parameter needs at least one row");
                }
            }
        }
        for rows in params.values_mut() {
            rows.sort_by_key(|r| r.effective_from);
        }

        if !problems.is_empty() {
            return Err(PolicyError { problems });
        }
        Ok(Policy { id: settings.id.clone(), version: settings.version.clone(), standards: standards_map, parameters: params, counties: county_map, disabled })
    }

    /// Whether a reason or discrepancy rule is switched on.
    pub fn rule_enabled(&self, code: &str) -> bool {
        !self.disabled.contains(code)
    }

    /// The monthly standard in force on `on`: the row with the latest
    /// `effective_from ≤ on`.
    pub fn standard(&self, county: &str, area: AreaType, program: Program, on: NaiveDate) -> Option<StandardValue> {
        let rows = self.standards.get(&(county.to_string(), area, program))?;
        rows.iter().rev().find(|r| r.effective_from <= on).map(|r| StandardValue { monthly_fen: r.monthly_fen, effective_from: r.effective_from })
    }

    pub fn county(&self, code: &str) -> Option<&County> {
        self.counties.get(code)
    }

    pub fn counties(&self) -> impl Iterator<Item = &County> {
        self.counties.values()
    }

    fn param(&self, name: &'static str, on: NaiveDate) -> Result<ParamValue, PolicyProblem> {
        let rows = self.parameters.get(name).map(Vec::as_slice).unwrap_or(&[]);
        rows.iter()
            .rev()
            .find(|r| r.effective_from <= on)
            .map(|r| ParamValue { name, value_e4: r.value_e4, raw: r.raw.clone(), effective_from: r.effective_from })
            .ok_or_else(|| PolicyProblem { file: "parameters".into(), line: 0, field: name.into(), message: format!("no value in force on {on}") })
    }

    /// Every parameter in force on `on`, or every one that has none.
    pub fn parameters_on(&self, on: NaiveDate) -> Result<Parameters, PolicyError> {
        let mut problems = Vec::new();
        let mut get = |name| self.param(name, on).map_err(|p| problems.push(p)).ok();
        let p = (
            get("financial_asset_months"),
            get("medical_deduction_floor_yuan"),
            get("business_capital_limit_yuan"),
            get("usd_cny_rate"),
            get("underdeclared_ratio"),
            get("underdeclared_income_min_yuan"),
            get("underdeclared_assets_min_yuan"),
            get("public_payroll_recent_months"),
        );
        match p {
            (Some(a), Some(b), Some(c), Some(d), Some(e), Some(f), Some(g), Some(h)) => Ok(Parameters {
                financial_asset_months: a,
                medical_deduction_floor: b,
                business_capital_limit: c,
                usd_cny_rate: d,
                underdeclared_ratio: e,
                underdeclared_income_min: f,
                underdeclared_assets_min: g,
                public_payroll_recent_months: h,
            }),
            _ => Err(PolicyError { problems }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COUNTIES: &str = "county_code,county_name,city_name\n520102,南明区,贵阳市\n";
    const PARAMS: &str = "name,effective_from,value\nfinancial_asset_months,2025-07-01,24\nmedical_deduction_floor_yuan,2025-07-01,1200.00\nbusiness_capital_limit_yuan,2025-07-01,100000.00\nusd_cny_rate,2025-07-01,7.20\nusd_cny_rate,2026-07-01,7.10\nunderdeclared_ratio,2025-07-01,1.2\nunderdeclared_income_min_yuan,2025-07-01,100.00\nunderdeclared_assets_min_yuan,2025-07-01,1000.00\npublic_payroll_recent_months,2025-07-01,3\n";
    const STANDARDS: &str = "county_code,area_type,program,effective_from,monthly_standard_yuan\n520102,urban,DIBAO,2025-07-01,870.00\n520102,urban,DIBAO,2026-07-01,900.00\n";

    fn settings() -> PolicySettings {
        PolicySettings { id: "t".into(), version: "1".into(), rules: BTreeMap::new() }
    }
    fn d(s: &str) -> NaiveDate {
        parse_date(s).unwrap()
    }

    #[test]
    fn effective_dated_lookups_on_both_sides_of_a_change() {
        let p = Policy::parse(&settings(), ("standards.csv", STANDARDS), ("parameters.csv", PARAMS), ("counties.csv", COUNTIES)).unwrap();
        let s = |on| p.standard("520102", AreaType::Urban, Program::Dibao, d(on)).map(|v| v.monthly_fen);
        assert_eq!(s("2026-06-30"), Some(87000));
        assert_eq!(s("2026-07-01"), Some(90000));
        assert_eq!(s("2025-06-30"), None);
        assert_eq!(p.standard("520102", AreaType::Rural, Program::Dibao, d("2026-07-01")), None);
        assert_eq!(p.parameters_on(d("2026-06-30")).unwrap().usd_cny_rate.value_e4, 72000);
        assert_eq!(p.parameters_on(d("2026-07-01")).unwrap().usd_cny_rate.value_e4, 71000);
        assert_eq!(p.parameters_on(d("2026-07-01")).unwrap().business_capital_limit.fen(), 10_000_000);
        assert!(p.parameters_on(d("2025-01-01")).unwrap_err().problems.len() == 8);
    }

    #[test]
    fn every_problem_is_listed_with_file_line_and_field() {
        let bad_standards = "county_code,area_type,program,effective_from,monthly_standard_yuan\n999999,urban,DIBAO,2025-07-01,870.00\n520102,town,DIBAO,2025-13-01,abc\n";
        let bad_params = "name,effective_from,value\nfinancial_asset_months,2025-07-01,24.5\nusd_rate,2025-07-01,7\n";
        let mut s = settings();
        s.rules.insert("VEHICLE_OWNED".into(), false);
        s.rules.insert("VEHICLE_OWENED".into(), false);
        let err = Policy::parse(&s, ("standards.csv", bad_standards), ("parameters.csv", bad_params), ("counties.csv", COUNTIES)).unwrap_err();
        let text = err.to_string();
        for needle in [
            "standards.csv:2: county_code",
            "standards.csv:3: area_type",
            "standards.csv:3: effective_from",
            "standards.csv:3: monthly_standard_yuan",
            "parameters.csv:2: value: must be a whole number",
            "parameters.csv:3: name",
            "parameters.csv: medical_deduction_floor_yuan: missing",
            "rules.VEHICLE_OWENED",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
    }

    #[test]
    fn a_rule_can_be_switched_off() {
        let mut s = settings();
        s.rules.insert("VEHICLE_OWNED".into(), false);
        let p = Policy::parse(&s, ("standards.csv", STANDARDS), ("parameters.csv", PARAMS), ("counties.csv", COUNTIES)).unwrap();
        assert!(!p.rule_enabled("VEHICLE_OWNED"));
        assert!(p.rule_enabled("INCOME_ABOVE_STANDARD"));
    }
}
