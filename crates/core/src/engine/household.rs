//! Household evaluation (POLICY §3, §5–§8): who counts, the amounts, every
//! reason with its evidence and margin, case findings and coverage gaps.

use std::collections::{BTreeMap, BTreeSet};

use super::Ctx;
use crate::identity::names_match;
use crate::model::{Currency, Program, RecordKind};
use crate::money::{convert_half_up, yuan_grouped, Fen};
use crate::policy::ParamValue;
use crate::rules::{DiscrepancyCode as D, Evidence, Explanation, MemberNote, ParamUse, Reason, ReasonCode as R, Verdict, VerdictKind};

const STUDENT_EXEMPT_STAGES: [&str; 4] = ["高中", "中职", "高职", "本科"];
const AID_STAGES: [&str; 4] = ["小学", "初中", "高中", "中职"];

fn param_use(p: &ParamValue) -> ParamUse {
    ParamUse { name: p.name.to_string(), value: p.raw.clone(), effective_from: p.effective_from.to_string() }
}

fn origin_text(o: &crate::model::Origin) -> String {
    if o.line > 0 {
        format!("{}:{}", o.file, o.line)
    } else {
        o.file.clone()
    }
}

/// Collects reasons for one household.
#[derive(Default)]
struct Reasons {
    list: BTreeMap<&'static str, Reason>,
}

impl Reasons {
    fn add(&mut self, code: R, summary: impl Into<String>) -> &mut Reason {
        self.list.entry(code.as_str()).or_insert_with(|| Reason {
            code,
            summary: summary.into(),
            value_fen: None,
            limit_fen: None,
            margin_fen: None,
            parameters: Vec::new(),
            evidence: Vec::new(),
        })
    }
}

fn compare(reason: &mut Reason, value: Fen, limit: Fen) {
    reason.value_fen = Some(value);
    reason.limit_fen = Some(limit);
    reason.margin_fen = Some(value - limit);
}

pub(crate) fn evaluate_all(cx: &mut Ctx) -> (Vec<Verdict>, Vec<Explanation>) {
    let mut verdicts = Vec::with_capacity(cx.index.households.len());
    let mut explanations = Vec::with_capacity(cx.index.households.len());
    for h in 0..cx.index.households.len() {
        let (v, e) = evaluate(cx, h);
        verdicts.push(v);
        explanations.push(e);
    }
    (verdicts, explanations)
}

fn evaluate(cx: &mut Ctx, h: usize) -> (Verdict, Explanation) {
    let dates = cx.dates;
    let hv = &cx.index.households[h];
    let hh = hv.household;
    let hid = hh.household_id.clone();
    let standard = cx.policy.standard(&hh.county_code, hh.area_type, hh.program, dates.as_of);
    let mut reasons = Reasons::default();
    let mut notes: Vec<MemberNote> = Vec::new();
    let head_id = crate::identity::parse_id(&hh.head_id_raw, dates.as_of).map(|i| i.as_str().to_string()).unwrap_or_else(|_| hh.head_id_raw.trim().to_string());
    let mut verdict = Verdict {
        household_id: hid.clone(),
        program: hh.program.code().to_string(),
        county_code: hh.county_code.clone(),
        area_type: hh.area_type.code().to_string(),
        verdict: VerdictKind::Review,
        reasons: Vec::new(),
        counted_members: hv.members.len() as u32,
        standard_monthly_fen: standard.as_ref().map(|s| s.monthly_fen),
        gross_income_12m_fen: None,
        medical_deduction_fen: None,
        net_income_12m_fen: None,
        financial_assets_fen: None,
    };
    let mut explanation = Explanation {
        household_id: hid.clone(),
        verdict: VerdictKind::Review,
        reasons: Vec::new(),
        members: Vec::new(),
        unusable_departments: Vec::new(),
        income_window: dates.window_label(),
    };

    // §4: without a valid authorization nothing is requested, used or reported.
    if !hv.auth_valid {
        let why = match &hh.authorization {
            None => "no authorization on the roster".to_string(),
            Some(a) if a.signed > dates.as_of => format!("authorization {} signed {} after the as-of date {}", a.number, a.signed, dates.as_of),
            Some(a) => format!("authorization {} expired on {} (as-of date {})", a.number, a.valid_until, dates.as_of),
        };
        reasons.add(R::AUTHORIZATION_INVALID, why);
        explanation.members = hv.members.iter().map(|m| MemberNote { id: m.id_text(), name: m.member.name.trim().to_string(), relation: m.member.relation.clone(), counted: true, registry_status: "未核对".into(), age: m.id.as_ref().map(|i| i.age_on(dates.as_of)) }).collect();
        return finish(cx, reasons, verdict, explanation);
    }

    let registry_usable = cx.kind_usable(h, RecordKind::Registry);
    let mut findings: Vec<(D, String, String, String, String)> = Vec::new(); // code, person, ref, detail, name
    let mut counted: Vec<&str> = Vec::new(); // valid IDs of counted members
    let mut counted_n = 0u32;
    for m in &hv.members {
        let name = m.member.name.trim().to_string();
        let mut note = MemberNote { id: m.id_text(), name: name.clone(), relation: m.member.relation.clone(), counted: true, registry_status: String::new(), age: None };
        let Some(id) = &m.id else {
            counted_n += 1;
            note.registry_status = "身份证号无效".into();
            reasons.add(R::MEMBER_ID_INVALID, format!("member on members.csv line {} has an invalid ID", m.member.line));
            findings.push((D::ID_INVALID, m.id_text(), String::new(), "户籍成员身份证号无效".into(), name));
            notes.push(note);
            continue;
        };
        note.age = Some(id.age_on(dates.as_of));
        if cx.index.person_households.get(id.as_str()).is_some_and(|l| l.len() > 1) {
            let n = cx.index.person_households[id.as_str()].len();
            let others: Vec<String> = cx.index.person_households[id.as_str()].iter().filter(|&&o| o != h).map(|&o| cx.index.households[o].household.household_id.clone()).collect();
            reasons.add(R::MEMBER_IN_SEVERAL_HOUSEHOLDS, "a member is declared in several households").evidence.push(Evidence {
                department: crate::CIVIL_AFFAIRS.into(),
                record_ref: format!("members.csv:{}", m.member.line),
                origin: format!("members.csv:{}", m.member.line),
                fact: format!("{} also declared in {}", id.masked(), others.join(", ")),
            });
            findings.push((D::DUPLICATE_MEMBERSHIP, id.to_string(), String::new(), format!("该成员同时在{n}个家庭中申报"), name.clone()));
        }
        if !registry_usable {
            note.registry_status = "户籍数据不可用".into();
            counted_n += 1;
            counted.push(id.as_str());
            notes.push(note);
            continue;
        }
        match cx.registry_current(h, id.as_str()) {
            None => {
                counted_n += 1;
                counted.push(id.as_str());
                note.registry_status = "不在户籍库".into();
                reasons.add(R::MEMBER_NOT_IN_REGISTRY, "a member is not in the public-security registry").evidence.push(Evidence {
                    department: crate::CIVIL_AFFAIRS.into(),
                    record_ref: format!("members.csv:{}", m.member.line),
                    origin: format!("members.csv:{}", m.member.line),
                    fact: format!("{} not found in the registry", id.masked()),
                });
            }
            Some(reg) => {
                let status = reg.rec.status.trim();
                let date = reg.rec.status_date.map(|d| d.to_string()).unwrap_or_default();
                note.registry_status = format!("{status} {date}").trim().to_string();
                let ev = Evidence { department: cx.codes[reg.src].to_string(), record_ref: reg.key.clone(), origin: origin_text(&reg.rec.origin), fact: format!("人员状态 {status} {date}") };
                match status {
                    "死亡" => {
                        note.counted = false;
                        let detail = match reg.rec.status_date {
                            Some(d) => format!("申报成员户籍状态为死亡（{d}）"),
                            None => "申报成员户籍状态为死亡".to_string(),
                        };
                        findings.push((D::DECLARED_MEMBER_DECEASED, id.to_string(), String::new(), detail, name.clone()));
                    }
                    "服刑" => {
                        note.counted = false;
                        findings.push((D::DECLARED_MEMBER_INCARCERATED, id.to_string(), String::new(), "申报成员正在服刑".into(), name.clone()));
                    }
                    s => {
                        if s == "迁出" {
                            reasons.add(R::MEMBER_MOVED_OUT, "a member has moved out of the registry area").evidence.push(ev);
                        }
                        counted_n += 1;
                        counted.push(id.as_str());
                    }
                }
                if !names_match(&m.member.name, &reg.rec.name, false) {
                    findings.push((D::NAME_MISMATCH, id.to_string(), String::new(), format!("申报姓名与户籍登记不一致（户籍：{}）", reg.rec.name.trim()), name.clone()));
                }
            }
        }
        notes.push(note);
    }
    explanation.members = notes;
    verdict.counted_members = counted_n;
    let size = counted_n as i64;

    // Which departments can be used; why not.
    for (si, code) in cx.codes.iter().enumerate() {
        let hv = &cx.index.households[h];
        if !hv.covers[si] {
            reasons.add(R::AUTHORIZATION_SCOPE_INCOMPLETE, "the authorization does not cover every department").evidence.push(Evidence {
                department: code.to_string(),
                record_ref: hh.authorization.as_ref().map(|a| a.number.clone()).unwrap_or_default(),
                origin: format!("households.csv:{}", hh.line),
                fact: format!("scope does not include {code}"),
            });
            explanation.unusable_departments.push(format!("{code}: not in the authorization's scope"));
        } else if hv.unavailable[si] {
            reasons.add(R::DEPARTMENT_DATA_UNAVAILABLE, "a department's data could not be obtained for this batch").evidence.push(Evidence {
                department: code.to_string(),
                record_ref: String::new(),
                origin: String::new(),
                fact: format!("{code} unavailable"),
            });
            explanation.unusable_departments.push(format!("{code}: data unavailable for this batch"));
        }
    }

    // Amounts over counted members, from usable sources only.
    let usable = |src: usize| cx.index.households[h].usable[src];
    let hr_usable = cx.kind_usable(h, RecordKind::HrReply);
    let health_usable = cx.kind_usable(h, RecordKind::MedicalVisit);
    let bank_usable = cx.kind_usable(h, RecordKind::BankBalance);
    let p = &cx.params;
    let empty = super::PersonData::default();
    let data = |id: &str| cx.persons.get(id).unwrap_or(&empty);

    let is_student = |id: &str| {
        data(id).education.iter().filter(|(s, _)| usable(*s)).any(|(_, e)| e.current().is_some_and(|c| c.status == "在读" && STUDENT_EXEMPT_STAGES.contains(&c.stage.as_str())))
    };
    let mut gross: Fen = 0;
    let mut hr_evidence = Vec::new();
    for &id in &counted {
        let student = is_student(id);
        for (src, hr) in data(id).hr.iter().filter(|(s, _)| usable(*s)) {
            let wages: Fen = if student { 0 } else { hr.contributions.iter().filter(|c| dates.in_window(c.month)).map(|c| c.base_fen).sum() };
            let pensions: Fen = hr.pensions.iter().filter(|x| dates.in_window(x.month)).map(|x| x.amount_fen).sum();
            let unemployment: Fen = hr.unemployment.iter().filter(|x| dates.in_window(x.month)).map(|x| x.amount_fen).sum();
            gross += wages + pensions + unemployment;
            if wages + pensions + unemployment > 0 || student {
                hr_evidence.push(Evidence {
                    department: cx.codes[*src].to_string(),
                    record_ref: id.to_string(),
                    origin: origin_text(&hr.origin),
                    fact: format!(
                        "缴费基数 {}{}, 养老金 {}, 失业金 {}",
                        yuan_grouped(wages),
                        if student { "（在读学生，工资收入不计）" } else { "" },
                        yuan_grouped(pensions),
                        yuan_grouped(unemployment)
                    ),
                });
            }
        }
    }
    let mut self_paid: Fen = 0;
    let mut medical_evidence = Vec::new();
    for &id in &counted {
        for v in data(id).visits.iter().filter(|v| usable(v.src) && dates.in_window(v.rec.visit_date)) {
            self_paid += v.rec.self_paid_fen;
            medical_evidence.push(Evidence { department: cx.codes[v.src].to_string(), record_ref: v.key.clone(), origin: origin_text(&v.rec.origin), fact: format!("{} 个人自付 {}", v.rec.visit_date, yuan_grouped(v.rec.self_paid_fen)) });
        }
    }
    let floor = p.medical_deduction_floor.fen();
    let deduction = (self_paid - floor).max(0);
    let net = (gross - deduction).max(0);

    // Financial assets: per account, the latest balance ≤ D; USD converted one by one.
    let rate = &p.usd_cny_rate;
    let mut accounts: BTreeMap<(String, String), &super::Resolved<crate::model::BankBalance>> = BTreeMap::new();
    for &id in &counted {
        for b in data(id).balances.iter().filter(|b| usable(b.src)) {
            let k = (b.rec.institution.trim().to_string(), b.rec.account.trim().to_string());
            match accounts.get(&k) {
                Some(prev) if prev.rec.balance_date >= b.rec.balance_date => {}
                _ => {
                    accounts.insert(k, b);
                }
            }
        }
    }
    let mut assets: Fen = 0;
    let mut asset_evidence = Vec::new();
    for b in accounts.values() {
        let fen = match b.rec.currency {
            Currency::Cny => b.rec.balance_cents,
            Currency::Usd => convert_half_up(b.rec.balance_cents, rate.value_e4, 4),
        };
        assets += fen;
        let cur = if b.rec.currency == Currency::Usd { format!("USD {} × {} = ", yuan_grouped(b.rec.balance_cents), rate.raw) } else { String::new() };
        asset_evidence.push(Evidence { department: cx.codes[b.src].to_string(), record_ref: b.key.clone(), origin: origin_text(&b.rec.origin), fact: format!("{} {}{}", b.rec.account_type, cur, yuan_grouped(fen)) });
    }

    verdict.gross_income_12m_fen = hr_usable.then_some(gross);
    verdict.medical_deduction_fen = health_usable.then_some(deduction);
    verdict.net_income_12m_fen = (hr_usable && health_usable).then_some(net);
    verdict.financial_assets_fen = bank_usable.then_some(assets);

    // Case findings that compare declarations with verified data.
    let vehicle_usable = cx.kind_usable(h, RecordKind::Vehicle);
    let property_usable = cx.kind_usable(h, RecordKind::Property);
    let normal_plates: BTreeSet<&str> = counted.iter().flat_map(|id| data(id).vehicles.iter()).filter(|v| usable(v.src) && v.rec.status.trim() == "正常").map(|v| v.key.as_str()).collect();
    let held: Vec<&super::Resolved<crate::model::Property>> = counted.iter().flat_map(|id| data(id).properties.iter()).filter(|r| usable(r.src) && matches!(r.rec.status.trim(), "现势" | "查封")).collect();
    let held_certs: BTreeSet<&str> = held.iter().map(|r| r.rec.certificate_no.trim()).collect();
    if vehicle_usable && normal_plates.len() as u32 > hh.declared_vehicle_count {
        findings.push((D::UNDECLARED_VEHICLE, head_id.clone(), String::new(), format!("申报车辆{}辆，核实正常状态车辆{}辆", hh.declared_vehicle_count, normal_plates.len()), String::new()));
    }
    if property_usable && held_certs.len() as u32 > hh.declared_property_count {
        findings.push((D::UNDECLARED_PROPERTY, head_id.clone(), String::new(), format!("申报房产{}处，核实现势房产{}处", hh.declared_property_count, held_certs.len()), String::new()));
    }
    let ratio = p.underdeclared_ratio.value_e4 as i128;
    let declared_income = hh.declared_monthly_income_fen as i128;
    // gross/12 > declared × ratio  ⇔  gross × 10⁴ > declared × 12 × ratio_e4; and gross/12 − declared > min ⇔ gross − 12·declared > 12·min.
    if hr_usable && (gross as i128) * 10_000 > declared_income * 12 * ratio && (gross as i128) - 12 * declared_income > 12 * p.underdeclared_income_min.fen() as i128 {
        findings.push((D::INCOME_UNDERDECLARED, head_id.clone(), String::new(), "核实月均收入高于申报收入".into(), String::new()));
    }
    let declared_assets = hh.declared_financial_assets_fen as i128;
    if bank_usable && (assets as i128) * 10_000 > declared_assets * ratio && (assets as i128) - declared_assets > p.underdeclared_assets_min.fen() as i128 {
        findings.push((D::ASSETS_UNDERDECLARED, head_id.clone(), String::new(), "核实金融资产高于申报金额".into(), String::new()));
    }

    if size == 0 {
        // §3: an empty household gets this single reason; no other test applies.
        reasons = Reasons::default();
        reasons.add(R::HOUSEHOLD_EMPTY, "no declared member counts (deceased or incarcerated per the registry)");
        report(cx, h, findings);
        return finish(cx, reasons, verdict, explanation);
    }

    // §7 INELIGIBLE rules.
    if let Some(std) = &standard {
        let std_param = ParamUse { name: "monthly_standard_yuan".into(), value: crate::money::Yuan(std.monthly_fen).to_string(), effective_from: std.effective_from.to_string() };
        let income_limit = size * std.monthly_fen * 12;
        let rules_net = (gross - if health_usable { deduction } else { 0 }).max(0);
        if rules_net >= income_limit {
            let r = reasons.add(
                R::INCOME_ABOVE_STANDARD,
                format!(
                    "net income {} ≥ limit {} ({} × {} × 12), over by {}",
                    yuan_grouped(rules_net),
                    yuan_grouped(income_limit),
                    size,
                    yuan_grouped(std.monthly_fen),
                    yuan_grouped(rules_net - income_limit)
                ),
            );
            compare(r, rules_net, income_limit);
            r.parameters.push(std_param.clone());
            r.parameters.push(param_use(&p.medical_deduction_floor));
            r.evidence.extend(hr_evidence.iter().cloned());
            r.evidence.extend(medical_evidence.iter().cloned());
        }
        let asset_limit = size * std.monthly_fen * p.financial_asset_months.int();
        if assets > asset_limit {
            let r = reasons.add(
                R::FINANCIAL_ASSETS_ABOVE_LIMIT,
                format!(
                    "financial assets {} > limit {} ({} × {} × {}), over by {}",
                    yuan_grouped(assets),
                    yuan_grouped(asset_limit),
                    size,
                    yuan_grouped(std.monthly_fen),
                    p.financial_asset_months.int(),
                    yuan_grouped(assets - asset_limit)
                ),
            );
            compare(r, assets, asset_limit);
            r.parameters.push(std_param);
            r.parameters.push(param_use(&p.financial_asset_months));
            r.parameters.push(param_use(&p.usd_cny_rate));
            r.evidence.extend(asset_evidence.iter().cloned());
        }
    } else {
        reasons.add(R::NO_STANDARD, format!("no {} standard for county {} ({}) in force on {}", hh.program.code(), hh.county_code, hh.area_type.code(), dates.as_of));
    }

    let physical_disability = |id: &str| data(id).disability.iter().any(|c| usable(c.src) && c.rec.category.trim() == "肢体" && c.rec.valid_until >= dates.as_of);
    for &id in &counted {
        for v in data(id).vehicles.iter().filter(|v| usable(v.src) && v.rec.status.trim() == "正常") {
            let t = v.rec.vehicle_type.trim();
            let owned = t.starts_with('H') || (t.starts_with('K') && !physical_disability(id));
            if owned {
                reasons.add(R::VEHICLE_OWNED, "a counted member owns a passenger car or truck in normal status").evidence.push(Evidence {
                    department: cx.codes[v.src].to_string(),
                    record_ref: v.key.clone(),
                    origin: origin_text(&v.rec.origin),
                    fact: format!("车辆类型 {t}, 状态 正常, 初次登记 {}", v.rec.first_registered),
                });
            }
        }
    }
    let residential: BTreeSet<&str> = held.iter().filter(|r| r.rec.usage.trim() == "住宅").map(|r| r.rec.certificate_no.trim()).collect();
    if residential.len() > 1 {
        let r = reasons.add(R::MULTIPLE_RESIDENTIAL_PROPERTIES, format!("{} residential certificates held (limit 1)", residential.len()));
        for x in held.iter().filter(|r| r.rec.usage.trim() == "住宅") {
            r.evidence.push(Evidence { department: cx.codes[x.src].to_string(), record_ref: x.key.clone(), origin: origin_text(&x.rec.origin), fact: format!("用途 住宅, 状态 {}", x.rec.status.trim()) });
        }
    }
    for x in held.iter().filter(|r| r.rec.usage.trim() != "住宅") {
        reasons.add(R::NON_RESIDENTIAL_PROPERTY, "a counted member holds a non-residential property").evidence.push(Evidence {
            department: cx.codes[x.src].to_string(),
            record_ref: x.key.clone(),
            origin: origin_text(&x.rec.origin),
            fact: format!("用途 {}, 状态 {}", x.rec.usage.trim(), x.rec.status.trim()),
        });
    }
    let limit = p.business_capital_limit.fen();
    for &id in &counted {
        for b in data(id).business.iter().filter(|b| usable(b.src) && b.rec.status.trim() == "存续") {
            let role = b.rec.role.trim();
            let ev = Evidence {
                department: cx.codes[b.src].to_string(),
                record_ref: b.key.clone(),
                origin: origin_text(&b.rec.origin),
                fact: format!(
                    "{} {} {}, 注册资本 {}",
                    b.rec.entity_type.trim(),
                    b.rec.status.trim(),
                    role,
                    b.rec.registered_capital_fen.map(yuan_grouped).unwrap_or_else(|| "未知".into())
                ),
            };
            match b.rec.entity_type.trim() {
                "个体工商户" => reasons.add(R::BUSINESS_INCOME_UNVERIFIED, "a counted member runs a registered business whose income is not verified").evidence.push(ev),
                "企业" if role == "法定代表人" || role == "股东" => match b.rec.registered_capital_fen {
                    Some(c) if c >= limit => {
                        let r = reasons.add(R::BUSINESS_OWNER, format!("{role} of an enterprise with capital {} ≥ limit {}, over by {}", yuan_grouped(c), yuan_grouped(limit), yuan_grouped(c - limit)));
                        compare(r, c, limit);
                        if r.parameters.is_empty() {
                            r.parameters.push(param_use(&p.business_capital_limit));
                        }
                        r.evidence.push(ev);
                    }
                    _ => reasons.add(R::BUSINESS_INCOME_UNVERIFIED, "a counted member owns an enterprise below the capital limit or of unknown capital").evidence.push(ev),
                },
                _ => {}
            }
        }
    }
    let recent = p.public_payroll_recent_months.int() as i32;
    let recent_from = crate::window::month_start_shifted(dates.window_end, -(recent - 1));
    for &id in &counted {
        for (src, hr) in data(id).hr.iter().filter(|(s, _)| usable(*s)) {
            let in_window: Vec<_> = hr.contributions.iter().filter(|c| dates.in_window(c.month)).collect();
            let Some(latest) = in_window.iter().map(|c| c.month).max() else { continue };
            if latest >= recent_from {
                if let Some(c) = in_window.iter().find(|c| c.month == latest && matches!(c.employer_type.trim(), "机关" | "事业")) {
                    let r = reasons.add(R::PUBLIC_PAYROLL, format!("latest contribution {} from a {} employer, within the last {recent} months of the window", latest.format("%Y-%m"), c.employer_type.trim()));
                    r.parameters.push(param_use(&p.public_payroll_recent_months));
                    r.evidence.push(Evidence { department: cx.codes[*src].to_string(), record_ref: id.to_string(), origin: origin_text(&hr.origin), fact: format!("{} {} {}", latest.format("%Y-%m"), c.employer_code, c.employer_type) });
                }
            }
        }
    }
    if hh.program == Program::Tekun {
        let qualifies = counted.iter().any(|id| {
            let age = crate::identity::parse_id(id, dates.as_of).map(|i| i.age_on(dates.as_of)).unwrap_or(30);
            age >= 60 || age < 16 || data(id).disability.iter().any(|c| usable(c.src) && c.rec.level <= 2 && c.rec.valid_until >= dates.as_of)
        });
        if !qualifies {
            reasons.add(R::TEKUN_NOT_QUALIFIED, "no counted member is aged 60 or over, under 16, or holds a level 1–2 disability certificate valid on the as-of date");
        }
    }
    if cx.conflicts.contains(&h) {
        reasons.add(R::CONFLICTING_DEPARTMENT_DATA, "a conflicting duplicate record touches this household (see discrepancies DUPLICATE_RECORD)");
    }

    let eligible = !reasons.list.values().any(|r| cx.policy.rule_enabled(r.code.as_str()));
    if eligible {
        coverage_gaps(cx, h, &counted, &mut findings);
    }
    report(cx, h, findings);
    finish(cx, reasons, verdict, explanation)
}

/// §8 coverage gaps, for ELIGIBLE households only.
fn coverage_gaps(cx: &Ctx, h: usize, counted: &[&str], findings: &mut Vec<(D, String, String, String, String)>) {
    use chrono::Datelike;
    let dates = cx.dates;
    let usable = |src: usize| cx.index.households[h].usable[src];
    let year = dates.as_of.year();
    let academic_year = dates.academic_year();
    let empty = super::PersonData::default();
    for &id in counted {
        let d = cx.persons.get(id).unwrap_or(&empty);
        if cx.kind_usable(h, RecordKind::InsuranceEnrollment) && !d.insurance.iter().any(|i| usable(i.src) && i.rec.year == year && i.rec.status.trim() == "参保") {
            findings.push((D::MEDICAL_INSURANCE_NOT_ENROLLED, id.to_string(), String::new(), "家庭成员本年度未参加医疗保险".into(), String::new()));
        }
        for (_, e) in d.education.iter().filter(|(s, _)| usable(*s)) {
            if let Some(cur) = e.current() {
                if cur.status == "在读" && AID_STAGES.contains(&cur.stage.as_str()) && !e.aid.iter().any(|a| a.academic_year.trim() == academic_year) {
                    findings.push((D::EDUCATION_AID_MISSING, id.to_string(), cur.student_no.clone(), "在读学生本学年未获资助".into(), e.name.clone()));
                }
            }
        }
        for c in d.disability.iter().filter(|c| usable(c.src) && c.rec.valid_until >= dates.as_of && !c.rec.living_subsidy) {
            findings.push((D::DISABILITY_SUBSIDY_MISSING, id.to_string(), c.key.clone(), "持有效残疾证但未享受困难残疾人生活补贴".into(), c.rec.name.clone()));
        }
    }
}

/// Files household findings with the department that can act on each.
fn report(cx: &mut Ctx, h: usize, findings: Vec<(D, String, String, String, String)>) {
    let hid = cx.index.households[h].household.household_id.clone();
    for (code, person, record_ref, detail, name) in findings {
        let department = match code {
            D::MEDICAL_INSURANCE_NOT_ENROLLED => department_of(cx, RecordKind::InsuranceEnrollment),
            D::EDUCATION_AID_MISSING => department_of(cx, RecordKind::EducationReply),
            D::DISABILITY_SUBSIDY_MISSING => department_of(cx, RecordKind::DisabilityCert),
            _ => crate::CIVIL_AFFAIRS.to_string(),
        };
        cx.push(code, &department, &hid, &person, &record_ref, detail, &name);
    }
}

fn department_of(cx: &Ctx, kind: RecordKind) -> String {
    cx.kinds.iter().position(|k| k.contains(&kind)).map(|i| cx.codes[i].to_string()).unwrap_or_default()
}

fn finish(cx: &Ctx, reasons: Reasons, mut verdict: Verdict, mut explanation: Explanation) -> (Verdict, Explanation) {
    let kept: Vec<Reason> = reasons.list.into_values().filter(|r| cx.policy.rule_enabled(r.code.as_str())).collect();
    verdict.reasons = kept.iter().map(|r| r.code).collect();
    verdict.verdict = if kept.iter().any(|r| r.code.is_ineligible()) {
        VerdictKind::Ineligible
    } else if !kept.is_empty() {
        VerdictKind::Review
    } else {
        VerdictKind::Eligible
    };
    explanation.verdict = verdict.verdict;
    explanation.reasons = kept;
    (verdict, explanation)
}
