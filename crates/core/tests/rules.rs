//! Every reason and discrepancy code of POLICY §3–§8 on hand-built households a
//! reader can check by hand, boundaries included. The policy is the shipped
//! default (`config/policy/gz-2026`).

use std::collections::{BTreeMap, HashSet};

use chrono::NaiveDate;
use hedui_core::engine::{verify, EngineOutput, SourceInput};
use hedui_core::identity::check_char;
use hedui_core::model::*;
use hedui_core::policy::{Policy, PolicySettings};
use hedui_core::rules::{DiscrepancyCode, Verdict, VerdictKind};

const DEPTS: [(&str, &[RecordKind]); 8] = [
    ("public_security", &[RecordKind::Registry, RecordKind::Vehicle]),
    ("hr_social_security", &[RecordKind::HrReply]),
    ("health", &[RecordKind::MedicalVisit, RecordKind::InsuranceEnrollment]),
    ("market_regulation", &[RecordKind::BusinessRole]),
    ("banking", &[RecordKind::BankBalance]),
    ("education", &[RecordKind::EducationReply]),
    ("housing", &[RecordKind::Property]),
    ("disability", &[RecordKind::DisabilityCert]),
];

fn d(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
}

/// A valid ID born on `born` (YYYYMMDD) in county 520102; odd `seq` = male.
fn id(born: &str, seq: u32) -> String {
    let first17 = format!("520102{born}{seq:03}");
    format!("{first17}{}", check_char(first17.as_bytes()) as char)
}

fn origin() -> Origin {
    Origin::new("test", 1)
}

fn policy(rules: &[(&str, bool)]) -> Policy {
    let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/policy/gz-2026/");
    let read = |f: &str| std::fs::read_to_string(format!("{base}{f}")).unwrap();
    let settings = PolicySettings { id: "gz-2026".into(), version: "test".into(), rules: rules.iter().map(|(k, v)| (k.to_string(), *v)).collect() };
    Policy::parse(&settings, ("standards.csv", &read("standards.csv")), ("parameters.csv", &read("parameters.csv")), ("counties.csv", &read("counties.csv"))).unwrap()
}

struct World {
    as_of: NaiveDate,
    roster: Roster,
    records: BTreeMap<&'static str, Records>,
    unavailable: Vec<&'static str>,
    rules: Vec<(&'static str, bool)>,
}

impl World {
    fn new(as_of: &str) -> Self {
        World { as_of: d(as_of), roster: Roster::default(), records: BTreeMap::new(), unavailable: Vec::new(), rules: Vec::new() }
    }

    /// A DIBAO urban household in 南明区 (standard 900.00 from 2026-07-01,
    /// 870.00 before) with authorization `ALL`, members registered as 正常.
    fn household(&mut self, hid: &str, members: &[&str]) -> &mut Household {
        for (i, m) in members.iter().enumerate() {
            self.roster.members.push(Member { line: 0, household_id: hid.into(), id_raw: m.to_string(), name: format!("成员{}", &m[m.len().saturating_sub(4)..]), relation: if i == 0 { "户主".into() } else { "子女".into() } });
            self.registry(m, "正常", None);
        }
        self.roster.households.push(Household {
            line: 0,
            household_id: hid.into(),
            program: Program::Dibao,
            county_code: "520102".into(),
            area_type: AreaType::Urban,
            head_id_raw: members.first().map(|m| m.to_string()).unwrap_or_default(),
            declared_monthly_income_fen: 0,
            declared_financial_assets_fen: 0,
            declared_vehicle_count: 9,
            declared_property_count: 9,
            authorization: Some(Authorization { number: format!("SQ{hid}"), signed: d("2025-01-01"), valid_until: d("2030-01-01"), scope: None }),
        });
        self.roster.households.last_mut().unwrap()
    }

    fn rec(&mut self, dept: &'static str) -> &mut Records {
        self.records.entry(dept).or_default()
    }

    fn registry(&mut self, id: &str, status: &str, date: Option<&str>) {
        let name = format!("成员{}", &id[id.len().saturating_sub(4)..]);
        self.rec("public_security").registry.push(RegistryRow {
            origin: origin(),
            household_no: "1".into(),
            id_raw: id.into(),
            name: name.into(),
            gender: Default::default(),
            birth_date: None,
            relation: Default::default(),
            status: status.into(),
            status_date: date.map(d),
            region: "520102".into(),
        });
    }

    fn pension(&mut self, id: &str, months: &[&str], fen: i64) {
        let pensions = months.iter().map(|m| MonthlyPayment { month: d(&format!("{m}-01")), amount_fen: fen }).collect();
        self.rec("hr_social_security").hr.push(HrReply { origin: origin(), id_raw: id.into(), name: Default::default(), contributions: vec![], pensions, unemployment: vec![] });
    }

    fn wages(&mut self, id: &str, months: &[&str], employer_type: &str, fen: i64) {
        let contributions = months.iter().map(|m| Contribution { month: d(&format!("{m}-01")), employer_code: "E1".into(), employer_type: employer_type.into(), base_fen: fen }).collect();
        self.rec("hr_social_security").hr.push(HrReply { origin: origin(), id_raw: id.into(), name: Default::default(), contributions, pensions: vec![], unemployment: vec![] });
    }

    fn balance(&mut self, id: &str, account: &str, currency: Currency, cents: i64, date: &str) {
        let name = format!("成员{}", &id[id.len() - 4..]);
        self.rec("banking").bank_balances.push(BankBalance { origin: origin(), id_raw: id.into(), name: name.into(), institution: "银行".into(), account: account.into(), account_type: "活期存款".into(), currency, balance_cents: cents, balance_date: d(date) });
    }

    fn visit(&mut self, id: &str, serial: &str, date: &str, self_paid: i64) {
        self.rec("health").medical_visits.push(MedicalVisit { origin: origin(), serial: serial.into(), id_raw: id.into(), name: Default::default(), visit_date: d(date), total_fen: self_paid, pooled_fen: 0, self_paid_fen: self_paid });
    }

    fn insured(&mut self, id: &str, year: i32) {
        self.rec("health").insurance.push(InsuranceEnrollment { origin: origin(), id_raw: id.into(), name: Default::default(), insurance_type: "城乡居民医保".into(), year, status: "参保".into() });
    }

    fn vehicle(&mut self, id: &str, plate: &str, kind: &str, status: &str) {
        self.rec("public_security").vehicles.push(Vehicle { origin: origin(), plate: plate.into(), plate_kind: "02".into(), vehicle_type: kind.into(), owner_id_raw: id.into(), owner_name: Default::default(), first_registered: d("2020-01-01"), status: status.into() });
    }

    fn property(&mut self, id: &str, cert: &str, usage: &str, status: &str) {
        self.rec("housing").properties.push(Property { origin: origin(), certificate_no: cert.into(), owner_id_raw: id.into(), owner_name: Default::default(), sharing: "单独所有".into(), usage: usage.into(), area_centi_m2: 8000, registered: d("2015-01-01"), status: status.into() });
    }

    fn business(&mut self, id: &str, entity_type: &str, role: &str, capital: Option<i64>) {
        let n = self.records.get("market_regulation").map(|r| r.business.len()).unwrap_or(0);
        self.rec("market_regulation").business.push(BusinessRole {
            origin: origin(),
            uscc: format!("USCC{n}").into(),
            entity_name: "某公司".into(),
            entity_type: entity_type.into(),
            status: "存续".into(),
            registered_capital_fen: capital,
            person_id_raw: id.into(),
            person_name: Default::default(),
            role: role.into(),
            established: d("2015-01-01"),
        });
    }

    fn disability(&mut self, id: &str, cert: &str, category: &str, level: u8, valid_until: &str, subsidy: bool) {
        self.rec("disability").disability.push(DisabilityCert { origin: origin(), certificate_no: cert.into(), id_raw: id.into(), name: Default::default(), category: category.into(), level, valid_until: d(valid_until), living_subsidy: subsidy, care_subsidy: false });
    }

    fn student(&mut self, id: &str, stage: &str, aid_year: Option<&str>) {
        let aid = aid_year.map(|y| vec![Aid { program: "资助".into(), academic_year: y.into(), amount_fen: 100000 }]).unwrap_or_default();
        self.rec("education").education.push(EducationReply {
            origin: origin(),
            id_raw: id.into(),
            name: Default::default(),
            birth_date: None,
            enrollments: vec![Enrollment { student_no: format!("G{}", &id[10..]).into(), school: "学校".into(), stage: stage.into(), status: "在读".into(), since: d("2025-09-01") }],
            aid,
        });
    }

    fn run(&self) -> EngineOutput {
        let empty = HashSet::new();
        let none = Records::default();
        let inputs: Vec<SourceInput> = DEPTS
            .iter()
            .map(|(code, kinds)| SourceInput { code, kinds, available: !self.unavailable.contains(code), failed_persons: &empty, records: std::borrow::Cow::Borrowed(self.records.get(code).unwrap_or(&none)) })
            .collect();
        verify(&self.roster, &policy(&self.rules), self.as_of, inputs).unwrap()
    }
}

fn verdict<'a>(out: &'a EngineOutput, hid: &str) -> &'a Verdict {
    out.verdicts.iter().find(|v| v.household_id == hid).unwrap()
}

fn reasons(out: &EngineOutput, hid: &str) -> String {
    verdict(out, hid).reason_codes()
}

fn codes(out: &EngineOutput, hid: &str) -> Vec<(String, &'static str)> {
    out.discrepancies.iter().filter(|x| x.household_id == hid).map(|x| (x.department.clone(), x.code.as_str())).collect()
}

const MONTHS: [&str; 12] = ["2025-11", "2025-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"];

#[test]
fn income_exactly_at_the_limit_is_ineligible_one_fen_below_is_eligible() {
    let (a, b) = (id("19800101", 11), id("19820202", 22));
    let (c, e) = (id("19800303", 31), id("19820404", 42));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a, &b]);
    w.household("H2", &[&c, &e]);
    // limit = 2 × 900.00 × 12 = 21,600.00 = 12 × 1,800.00
    w.pension(&a, &MONTHS, 180_000);
    w.pension(&c, &MONTHS[..11], 180_000);
    w.pension(&c, &MONTHS[11..], 179_999);
    let out = w.run();
    let v1 = verdict(&out, "H1");
    assert_eq!((v1.verdict, v1.reason_codes().as_str()), (VerdictKind::Ineligible, "INCOME_ABOVE_STANDARD"));
    assert_eq!(v1.net_income_12m_fen, Some(2_160_000));
    let r = &out.explanations[0].reasons[0];
    assert_eq!(r.summary, "net income 21,600.00 ≥ limit 21,600.00 (2 × 900.00 × 12), over by 0.00");
    assert_eq!((r.value_fen, r.limit_fen, r.margin_fen), (Some(2_160_000), Some(2_160_000), Some(0)));
    assert_eq!(r.parameters[0].value, "900.00");
    assert_eq!(r.evidence[0].department, "hr_social_security");
    assert_eq!(verdict(&out, "H2").verdict, VerdictKind::Eligible);
    assert_eq!(verdict(&out, "H2").gross_income_12m_fen, Some(2_159_999));
}

#[test]
fn income_outside_the_window_or_after_d_does_not_count() {
    let a = id("19800101", 11);
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]);
    w.pension(&a, &["2025-10", "2026-11", "2026-12"], 5_000_000);
    let out = w.run();
    assert_eq!(verdict(&out, "H1").gross_income_12m_fen, Some(0));
    assert_eq!(verdict(&out, "H1").verdict, VerdictKind::Eligible);
}

#[test]
fn standards_on_both_sides_of_the_effective_date() {
    let a = id("19800101", 11);
    for (as_of, standard) in [("2026-06-30", 87_000), ("2026-07-01", 90_000)] {
        let mut w = World::new(as_of);
        w.household("H1", &[&a]);
        let out = w.run();
        assert_eq!(verdict(&out, "H1").standard_monthly_fen, Some(standard), "{as_of}");
    }
}

#[test]
fn assets_exactly_at_the_limit_are_not_above_it() {
    let (a, b) = (id("19800101", 11), id("19800202", 21));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]);
    w.household("H2", &[&b]);
    // limit = 1 × 900.00 × 24 = 21,600.00
    w.balance(&a, "1", Currency::Cny, 2_000_000, "2026-10-01");
    w.balance(&a, "2", Currency::Cny, 160_000, "2026-10-01");
    w.balance(&b, "9", Currency::Cny, 2_160_001, "2026-10-01");
    let out = w.run();
    assert_eq!(verdict(&out, "H1").verdict, VerdictKind::Eligible);
    assert_eq!(verdict(&out, "H1").financial_assets_fen, Some(2_160_000));
    assert_eq!(reasons(&out, "H2"), "FINANCIAL_ASSETS_ABOVE_LIMIT");
    assert!(out.explanations[1].reasons[0].summary.ends_with("over by 0.01"), "{}", out.explanations[1].reasons[0].summary);
}

#[test]
fn latest_balance_per_account_and_usd_rounded_half_up_at_the_rate_in_force() {
    let a = id("19800101", 11);
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]);
    w.balance(&a, "1", Currency::Cny, 999_999, "2026-01-01"); // older balance of the same account: ignored
    w.balance(&a, "1", Currency::Cny, 10_000, "2026-10-01");
    w.balance(&a, "1", Currency::Cny, 888_888, "2026-12-01"); // after D: ignored
    w.balance(&a, "2", Currency::Usd, 15, "2026-10-01"); // 0.15 × 7.10 = 1.065 → 1.07
    w.balance(&a, "3", Currency::Usd, 10_000, "2026-10-01"); // 100.00 × 7.10 = 710.00
    let out = w.run();
    assert_eq!(verdict(&out, "H1").financial_assets_fen, Some(10_000 + 107 + 71_000));
    let mut w = World::new("2026-06-30"); // 7.20 before 2026-07-01
    w.household("H1", &[&a]);
    w.balance(&a, "3", Currency::Usd, 10_000, "2026-06-01");
    assert_eq!(verdict(&w.run(), "H1").financial_assets_fen, Some(72_000));
}

#[test]
fn medical_costs_above_the_floor_are_deducted() {
    let (a, b) = (id("19800101", 11), id("19800202", 21));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]);
    w.household("H2", &[&b]);
    w.pension(&a, &MONTHS, 100_000);
    w.pension(&b, &MONTHS, 100_000);
    w.visit(&a, "V1", "2026-03-05", 120_000); // exactly the floor: nothing deducted
    w.visit(&b, "V2", "2026-03-05", 100_000);
    w.visit(&b, "V3", "2026-04-05", 50_000);
    w.visit(&b, "V4", "2025-10-31", 90_000); // outside the window
    let out = w.run();
    assert_eq!(verdict(&out, "H1").medical_deduction_fen, Some(0));
    assert_eq!(verdict(&out, "H2").medical_deduction_fen, Some(30_000));
    assert_eq!(verdict(&out, "H2").net_income_12m_fen, Some(1_200_000 - 30_000));
}

#[test]
fn student_wages_are_exempt_in_upper_stages_only() {
    let (a, s1, s2) = (id("19800101", 11), id("20080101", 21), id("20120101", 31));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a, &s1, &s2]);
    w.wages(&s1, &MONTHS, "企业", 100_000); // 高中: exempt
    w.student(&s1, "高中", Some("2026-2027"));
    w.wages(&s2, &MONTHS[..1], "企业", 50_000); // 初中: counted
    w.student(&s2, "初中", Some("2026-2027"));
    let out = w.run();
    assert_eq!(verdict(&out, "H1").gross_income_12m_fen, Some(50_000));
}

#[test]
fn deaths_before_or_on_d_do_not_count_after_d_the_row_is_ignored() {
    let (a, b, c) = (id("19400101", 11), id("19420202", 22), id("19440303", 31));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a, &b, &c]);
    w.registry(&a, "死亡", Some("2026-11-26")); // on D: not counted
    w.registry(&b, "死亡", Some("2026-11-27")); // after D: the row is ignored, b counts
    w.registry(&c, "死亡", Some("2026-10-15"));
    w.pension(&a, &["2026-11"], 10_000); // same month as the death: no activity after it
    w.pension(&c, &["2026-11"], 10_000); // a month after the death, not after D
    let out = w.run();
    assert_eq!(verdict(&out, "H1").counted_members, 1);
    let found = out.discrepancies.iter().filter(|x| x.household_id == "H1").map(|x| (x.code.as_str(), x.person_id.clone())).collect::<Vec<_>>();
    assert!(found.contains(&("DECLARED_MEMBER_DECEASED", a.clone())));
    assert!(found.contains(&("DECLARED_MEMBER_DECEASED", c.clone())));
    assert!(!found.contains(&("DECLARED_MEMBER_DECEASED", b.clone())));
    assert!(found.contains(&("DECEASED_WITH_ACTIVITY", c.clone())));
    assert!(!found.contains(&("DECEASED_WITH_ACTIVITY", a.clone())));
}

#[test]
fn an_empty_household_gets_the_single_reason_and_member_findings() {
    let (a, b) = (id("19400101", 11), id("19420202", 22));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a, &b]);
    w.registry(&a, "死亡", Some("2026-01-01"));
    w.registry(&b, "服刑", Some("2025-01-01"));
    w.unavailable.push("banking");
    let out = w.run();
    let v = verdict(&out, "H1");
    assert_eq!((v.verdict, v.reason_codes().as_str(), v.counted_members), (VerdictKind::Review, "HOUSEHOLD_EMPTY", 0));
    assert_eq!((v.gross_income_12m_fen, v.financial_assets_fen), (Some(0), None));
    let found = codes(&out, "H1");
    assert!(found.contains(&("civil_affairs".into(), "DECLARED_MEMBER_DECEASED")));
    assert!(found.contains(&("civil_affairs".into(), "DECLARED_MEMBER_INCARCERATED")));
}

#[test]
fn authorization_invalid_overrides_everything_and_reports_nothing() {
    let ids: Vec<String> = (1..=6).map(|i| id("19800101", i * 10 + 1)).collect();
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&ids[0], &ids[1]]).authorization = None;
    w.household("H2", &[&ids[2]]).authorization.as_mut().unwrap().valid_until = d("2026-11-25");
    w.household("H3", &[&ids[3]]).authorization.as_mut().unwrap().signed = d("2026-11-27");
    w.household("H4", &[&ids[4]]).authorization.as_mut().unwrap().valid_until = d("2026-11-26"); // valid through D
    for i in &ids[..5] {
        w.registry(i, "死亡", Some("2026-01-01"));
        w.vehicle(i, &format!("贵A{i}"), "K33", "正常");
    }
    let out = w.run();
    for hid in ["H1", "H2", "H3"] {
        let v = verdict(&out, hid);
        assert_eq!((v.verdict, v.reason_codes().as_str()), (VerdictKind::Review, "AUTHORIZATION_INVALID"), "{hid}");
        assert_eq!(v.standard_monthly_fen, Some(90_000));
        assert_eq!((v.gross_income_12m_fen, v.medical_deduction_fen, v.net_income_12m_fen, v.financial_assets_fen), (None, None, None, None));
        assert!(codes(&out, hid).is_empty(), "{hid}: {:?}", codes(&out, hid));
    }
    assert_eq!(verdict(&out, "H1").counted_members, 2);
    assert_eq!(reasons(&out, "H4"), "HOUSEHOLD_EMPTY");
    // Records about unauthorized members are dropped silently, not "unrequested".
    assert!(!out.discrepancies.iter().any(|x| x.code == DiscrepancyCode::UNREQUESTED_RECORD));
}

#[test]
fn out_of_scope_data_is_not_used_and_amounts_resting_on_it_are_empty() {
    let a = id("19800101", 11);
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]).authorization.as_mut().unwrap().scope = Some(vec!["public_security".into(), "hr_social_security".into(), "banking".into(), "education".into(), "housing".into(), "disability".into(), "market_regulation".into()]);
    w.pension(&a, &MONTHS, 100_000);
    w.visit(&a, "V1", "2026-03-05", 500_000);
    let out = w.run();
    let v = verdict(&out, "H1");
    assert_eq!(v.reason_codes(), "AUTHORIZATION_SCOPE_INCOMPLETE;INCOME_ABOVE_STANDARD");
    assert_eq!((v.gross_income_12m_fen, v.medical_deduction_fen, v.net_income_12m_fen), (Some(1_200_000), None, None));
    assert_eq!(out.counts.iter().find(|(c, _)| c == "health").unwrap().1.not_authorized, 1);
}

#[test]
fn an_unavailable_department_gives_review_but_proven_ineligibility_stands() {
    let (a, b) = (id("19800101", 11), id("19800202", 21));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]);
    w.household("H2", &[&b]);
    w.vehicle(&b, "贵A1", "H31", "正常");
    w.unavailable.push("banking");
    let out = w.run();
    assert_eq!(reasons(&out, "H1"), "DEPARTMENT_DATA_UNAVAILABLE");
    assert_eq!(verdict(&out, "H1").financial_assets_fen, None);
    assert_eq!(verdict(&out, "H2").verdict, VerdictKind::Ineligible);
    assert_eq!(reasons(&out, "H2"), "DEPARTMENT_DATA_UNAVAILABLE;VEHICLE_OWNED");
}

#[test]
fn vehicles_passenger_and_truck_count_physical_disability_exempts_k_only() {
    let (a, b, c, e) = (id("19800101", 11), id("19800202", 21), id("19800303", 31), id("19800404", 41));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]).declared_vehicle_count = 0;
    w.household("H2", &[&b]);
    w.household("H3", &[&c]);
    w.household("H4", &[&e]);
    w.vehicle(&a, "贵A1", "M21", "正常"); // motorcycle: not owned for §7, but declared 0 → UNDECLARED_VEHICLE
    w.vehicle(&b, "贵A2", "K33", "正常");
    w.disability(&b, "D2", "肢体", 3, "2030-01-01", true);
    w.vehicle(&c, "贵A3", "H31", "正常");
    w.disability(&c, "D3", "肢体", 3, "2030-01-01", true);
    w.vehicle(&e, "贵A4", "K33", "注销");
    let out = w.run();
    assert_eq!(reasons(&out, "H1"), "");
    assert!(codes(&out, "H1").contains(&("civil_affairs".into(), "UNDECLARED_VEHICLE")));
    assert_eq!(reasons(&out, "H2"), "");
    assert_eq!(reasons(&out, "H3"), "VEHICLE_OWNED");
    assert_eq!(reasons(&out, "H4"), "");
}

#[test]
fn properties_held_residential_and_non_residential() {
    let (a, b, c) = (id("19800101", 11), id("19800202", 21), id("19800303", 31));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]).declared_property_count = 1;
    w.household("H2", &[&b]);
    w.household("H3", &[&c]);
    w.property(&a, "P1", "住宅", "现势");
    w.property(&a, "P2", "住宅", "查封"); // sealed still counts as held
    w.property(&b, "P3", "住宅", "现势");
    w.property(&b, "P4", "住宅", "注销");
    w.property(&c, "P5", "商业", "现势");
    let out = w.run();
    assert_eq!(reasons(&out, "H1"), "MULTIPLE_RESIDENTIAL_PROPERTIES");
    assert!(codes(&out, "H1").contains(&("civil_affairs".into(), "UNDECLARED_PROPERTY")));
    assert_eq!(reasons(&out, "H2"), "");
    assert_eq!(reasons(&out, "H3"), "NON_RESIDENTIAL_PROPERTY");
}

#[test]
fn business_capital_exactly_ten_wan_disqualifies_below_needs_review() {
    let (a, b, c, e) = (id("19800101", 11), id("19800202", 21), id("19800303", 31), id("19800404", 41));
    let mut w = World::new("2026-11-26");
    for (h, p) in [("H1", &a), ("H2", &b), ("H3", &c), ("H4", &e)] {
        w.household(h, &[p]);
    }
    w.business(&a, "企业", "法定代表人", Some(10_000_000));
    w.business(&b, "企业", "股东", Some(9_999_999));
    w.business(&c, "企业", "股东", None);
    w.business(&e, "个体工商户", "经营者", Some(10));
    let out = w.run();
    assert_eq!(reasons(&out, "H1"), "BUSINESS_OWNER");
    for h in ["H2", "H3", "H4"] {
        assert_eq!(reasons(&out, h), "BUSINESS_INCOME_UNVERIFIED", "{h}");
    }
}

#[test]
fn public_payroll_only_when_the_latest_month_is_recent() {
    let (a, b) = (id("19800101", 11), id("19800202", 21));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]);
    w.household("H2", &[&b]);
    w.wages(&a, &["2026-08"], "机关", 100_000); // window ends 2026-10: Aug–Oct are the last 3 months
    w.wages(&b, &["2026-07"], "事业", 100_000);
    let out = w.run();
    assert_eq!(reasons(&out, "H1"), "PUBLIC_PAYROLL");
    assert_eq!(reasons(&out, "H2"), "");
}

#[test]
fn tekun_needs_an_old_young_or_severely_disabled_member() {
    let mut w = World::new("2026-11-26");
    let aged_59 = id("19671127", 11); // 60 on 2027-11-27
    let aged_60 = id("19661126", 21); // 60 on D exactly
    let aged_16 = id("20101126", 31); // 16 on D exactly
    let disabled = id("19800101", 41);
    for (h, p) in [("H1", &aged_59), ("H2", &aged_60), ("H3", &aged_16), ("H4", &disabled)] {
        w.household(h, &[p]).program = Program::Tekun;
    }
    w.disability(&disabled, "D4", "视力", 2, "2026-11-26", true);
    let out = w.run();
    assert_eq!(reasons(&out, "H1"), "TEKUN_NOT_QUALIFIED");
    assert_eq!(reasons(&out, "H2"), "");
    assert_eq!(reasons(&out, "H3"), "TEKUN_NOT_QUALIFIED");
    assert_eq!(reasons(&out, "H4"), "");
}

#[test]
fn member_review_reasons() {
    let (a, b, c, e) = (id("19800101", 11), id("19800202", 21), id("19800303", 31), id("19800404", 41));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a, "52010219800101001"]); // 17 digits
    w.household("H2", &[&b]);
    w.registry(&b, "迁出", Some("2026-05-01"));
    w.household("H3", &[&c]);
    w.records.get_mut("public_security").unwrap().registry.retain(|r| r.id_raw != c);
    w.household("H4", &[&e]).county_code = "520113".into();
    w.household("H5", &[&e]);
    let out = w.run();
    assert_eq!(reasons(&out, "H1"), "MEMBER_ID_INVALID");
    assert_eq!(verdict(&out, "H1").counted_members, 2);
    assert!(codes(&out, "H1").contains(&("civil_affairs".into(), "ID_INVALID")));
    assert_eq!(reasons(&out, "H2"), "MEMBER_MOVED_OUT");
    assert_eq!(reasons(&out, "H3"), "MEMBER_NOT_IN_REGISTRY");
    assert_eq!(reasons(&out, "H4"), "MEMBER_IN_SEVERAL_HOUSEHOLDS;NO_STANDARD");
    assert_eq!(verdict(&out, "H4").standard_monthly_fen, None);
    assert_eq!(reasons(&out, "H5"), "MEMBER_IN_SEVERAL_HOUSEHOLDS");
    assert_eq!(codes(&out, "H5"), vec![("civil_affairs".to_string(), "DUPLICATE_MEMBERSHIP")]);
}

#[test]
fn department_data_errors_go_back_to_their_department() {
    let (a, b) = (id("19800101", 11), id("20150101", 22));
    let stranger = id("19700101", 51);
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a, &b]);
    let first_a = w.rec("public_security").registry.iter().position(|r| r.id_raw == a).unwrap();
    w.rec("public_security").registry[first_a].name = "张𠮷".into(); // 𠮷 has no GBK code
    w.balance(&a, "1", Currency::Cny, 100, "2026-10-01");
    w.rec("banking").bank_balances[0].name = "李?".into(); // wrong surname → mismatch
    w.balance(&a, "2", Currency::Cny, 100, "2026-10-01");
    w.rec("banking").bank_balances[1].name = "张?".into(); // the exchange's `?` for 𠮷 → matches
    w.balance(&stranger, "3", Currency::Cny, 100, "2026-10-01");
    w.balance("5203021959A6214771", "4", Currency::Cny, 100, "2026-12-25"); // invalid, reported whatever its date
    let first = w.rec("public_security").registry.iter().position(|r| r.id_raw == b).unwrap();
    w.rec("public_security").registry[first].birth_date = Some(d("2015-01-02"));
    w.rec("public_security").registry[first].gender = "男".into();
    w.student(&b, "小学", Some("2026-2027"));
    w.rec("education").education[0].birth_date = Some(d("2015-01-01"));
    let out = w.run();
    let all: Vec<(String, &str, String)> = out.discrepancies.iter().map(|x| (x.department.clone(), x.code.as_str(), x.person_id.clone())).collect();
    assert!(all.contains(&("banking".into(), "NAME_MISMATCH", a.clone())));
    assert_eq!(all.iter().filter(|x| x.0 == "banking" && x.1 == "NAME_MISMATCH").count(), 1, "{all:?}");
    assert!(all.contains(&("banking".into(), "UNREQUESTED_RECORD", stranger.clone())));
    assert!(all.contains(&("banking".into(), "ID_INVALID", "5203021959A6214771".into())));
    assert!(all.contains(&("public_security".into(), "BIRTHDATE_MISMATCH", b.clone())));
    assert!(all.contains(&("public_security".into(), "GENDER_MISMATCH", b.clone())));
    assert!(!all.iter().any(|x| x.0 == "education" && x.1 == "BIRTHDATE_MISMATCH"));
    let unrequested = out.discrepancies.iter().find(|x| x.code == DiscrepancyCode::UNREQUESTED_RECORD).unwrap();
    assert_eq!((unrequested.household_id.as_str(), unrequested.record_ref.as_str()), ("", "银行+3+20261001"));
    let counts = &out.counts.iter().find(|(c, _)| c == "banking").unwrap().1;
    assert_eq!((counts.read, counts.used, counts.quarantined, counts.unrequested), (4, 2, 1, 1));
}

#[test]
fn conflicting_duplicates_use_the_larger_amount_and_flag_the_household() {
    let a = id("19800101", 11);
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]);
    w.balance(&a, "1", Currency::Cny, 500, "2026-10-01");
    w.balance(&a, "1", Currency::Cny, 900, "2026-10-01");
    w.balance(&a, "1", Currency::Cny, 500, "2026-10-01"); // exact repeat of the first: merged
    w.vehicle(&a, "贵A1", "K33", "正常");
    w.vehicle(&a, "贵A1", "K33", "注销"); // delivered last wins: not owned
    let out = w.run();
    let v = verdict(&out, "H1");
    assert_eq!(v.financial_assets_fen, Some(900));
    assert_eq!(v.reason_codes(), "CONFLICTING_DEPARTMENT_DATA");
    let dups: Vec<_> = out.discrepancies.iter().filter(|x| x.code == DiscrepancyCode::DUPLICATE_RECORD).map(|x| (x.department.as_str(), x.record_ref.as_str())).collect();
    assert_eq!(dups, vec![("banking", "银行+1+20261001"), ("public_security", "贵A1")]);
    let c = &out.counts.iter().find(|(c, _)| c == "banking").unwrap().1;
    assert_eq!((c.read, c.used, c.duplicates), (3, 1, 2));
}

#[test]
fn underdeclaration_findings() {
    let (a, b) = (id("19800101", 11), id("19800202", 21));
    let mut w = World::new("2026-11-26");
    // verified 1,000.00/month vs declared 800.00: 1,000 > 960 and 200 > 100 → underdeclared
    w.household("H1", &[&a]).declared_monthly_income_fen = 80_000;
    w.pension(&a, &MONTHS, 100_000);
    // declared 834.00: 1,000 ≤ 1,000.80 → not
    w.household("H2", &[&b]).declared_monthly_income_fen = 83_400;
    w.pension(&b, &MONTHS, 100_000);
    w.rec("banking"); // assets: 0 declared, 1,000.01 verified → diff > 1,000 → underdeclared
    w.balance(&a, "1", Currency::Cny, 100_001, "2026-10-01");
    w.balance(&b, "1", Currency::Cny, 100_000, "2026-10-01");
    let out = w.run();
    assert!(codes(&out, "H1").contains(&("civil_affairs".into(), "INCOME_UNDERDECLARED")));
    assert!(codes(&out, "H1").contains(&("civil_affairs".into(), "ASSETS_UNDERDECLARED")));
    assert!(!codes(&out, "H2").iter().any(|c| c.1.ends_with("UNDERDECLARED")), "{:?}", codes(&out, "H2"));
}

#[test]
fn coverage_gaps_only_for_eligible_households() {
    let (a, s, b) = (id("19800101", 11), id("20150101", 22), id("19800202", 21));
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a, &s]);
    w.insured(&a, 2026);
    w.insured(&s, 2025);
    w.student(&s, "小学", Some("2025-2026"));
    w.disability(&a, "D1", "视力", 3, "2026-11-26", false);
    w.household("H2", &[&b]);
    w.vehicle(&b, "贵A2", "K33", "正常");
    let out = w.run();
    let mut h1 = codes(&out, "H1");
    h1.sort();
    assert_eq!(
        h1,
        vec![("disability".into(), "DISABILITY_SUBSIDY_MISSING"), ("education".into(), "EDUCATION_AID_MISSING"), ("health".into(), "MEDICAL_INSURANCE_NOT_ENROLLED")]
    );
    assert!(!codes(&out, "H2").iter().any(|c| c.1 == "MEDICAL_INSURANCE_NOT_ENROLLED"));
}

#[test]
fn a_rule_switched_off_in_the_policy_no_longer_applies() {
    let a = id("19800101", 11);
    let mut w = World::new("2026-11-26");
    w.household("H1", &[&a]);
    w.vehicle(&a, "贵A1", "K33", "正常");
    assert_eq!(reasons(&w.run(), "H1"), "VEHICLE_OWNED");
    w.rules.push(("VEHICLE_OWNED", false));
    assert_eq!(verdict(&w.run(), "H1").verdict, VerdictKind::Eligible);
}
