//! Household evaluation (POLICY §3, §5–§8) in three steps:
//!
//! 1. **Roster stage** (Rust, per household): who counts (§3), the standard in
//!    force (§5), and the REVIEW reasons that come from the roster, the
//!    registry and the authorization (§4). Its output is the roster tables.
//! 2. **Rules** (Polars, all households at once): one lazy plan over the
//!    canonical record tables (`frames.rs`) computes every amount (§6), every
//!    INELIGIBLE rule (§7), the case findings that compare declarations (§8)
//!    and the coverage-gap candidates (§8), with joins and group-bys over all
//!    households — the same plan for 60 households and a million. It is
//!    collected once.
//! 3. **Assembly** (Rust, per household): verdict rows, explanations (summaries,
//!    margins, parameters, evidence) and discrepancies, read off the collected
//!    tables. No rule is decided here.

use std::collections::BTreeMap;

use polars::prelude::*;

use super::frames::{self, HouseholdRow, MemberRow, Rows, Tables, PENSION, UNEMPLOYMENT, WAGE};
use super::Ctx;
use crate::identity::names_match;
use crate::model::{Currency, Program, RecordKind};
use crate::money::{yuan_grouped, Fen};
use crate::policy::{ParamValue, StandardValue};
use crate::rules::{DiscrepancyCode as D, Evidence, Explanation, MemberNote, ParamUse, Reason, ReasonCode as R, Verdict, VerdictKind};

const STUDENT_EXEMPT_STAGES: [&str; 4] = ["高中", "中职", "高职", "本科"];
const AID_STAGES: [&str; 4] = ["小学", "初中", "高中", "中职"];

/// `business.class`: how a 存续 business role counts (§7).
const SOLE_PROPRIETOR: i32 = 1; // 个体工商户, any role → BUSINESS_INCOME_UNVERIFIED
const OWNER_AT_LIMIT: i32 = 2; // 企业 法定代表人/股东, capital ≥ limit → BUSINESS_OWNER
const OWNER_BELOW_LIMIT: i32 = 3; // 企业 法定代表人/股东, capital < limit or unknown → BUSINESS_INCOME_UNVERIFIED

/// A household-level discrepancy before filing: code, person, record_ref, detail, name.
type Finding = (D, String, String, String, String);

fn param_use(p: &ParamValue) -> ParamUse {
    ParamUse { name: p.name.to_string(), value: p.raw.clone(), effective_from: p.effective_from.to_string() }
}

fn origin_text(o: &crate::model::Origin) -> String {
    if o.line > 0 {
        format!("{}:{}", o.file, o.line)
    } else {
        o.file.to_string()
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
    let n = cx.index.households.len();
    let mut drafts = Vec::with_capacity(n);
    let mut households = Vec::with_capacity(n);
    let mut members = Vec::new();
    for h in 0..n {
        let (draft, row) = roster_stage(cx, h, &mut members);
        drafts.push(draft);
        households.push(row);
    }
    let mut findings = Vec::new();
    let (verdicts, explanations) = {
        let cx = &*cx;
        let (tables, rows) = frames::build(cx, &households, &members).unwrap_or_else(|e| plan_bug(e));
        let collected = Collected::read(&run_plan_with_stack(cx, &tables).unwrap_or_else(|e| plan_bug(e)), n);
        drafts.into_iter().enumerate().map(|(h, draft)| assemble(cx, &rows, &collected, h, draft, &mut findings)).unzip()
    };
    for (h, found) in findings {
        report(cx, h, found);
    }
    (verdicts, explanations)
}

/// Polars converts and optimizes a plan recursively. It grows the stack on
/// demand when less than 128 KiB remain at its checkpoints, but in unoptimized
/// (debug) builds one stretch between checkpoints can need more than that: a
/// random world overflowed a 2 MiB test thread (a tokio worker has the same).
/// The plan therefore runs on a thread of its own with room to spare (the
/// stack is reserved, not committed, until used).
const PLAN_STACK_BYTES: usize = 64 << 20;

fn run_plan_with_stack(cx: &Ctx, tables: &Tables) -> PolarsResult<Results> {
    std::thread::scope(|scope| {
        let worker = std::thread::Builder::new().name("hedui-rules".into()).stack_size(PLAN_STACK_BYTES).spawn_scoped(scope, || run_plan(cx, tables));
        match worker.expect("a thread for the household rules").join() {
            Ok(results) => results,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The plan's schema is fixed by this module: a Polars error is a bug here,
/// never a property of the data.
fn plan_bug(e: PolarsError) -> ! {
    panic!("household rules plan failed (a bug in hedui-core, not in the data): {e}")
}

// ---------------------------------------------------------------------------
// 1. Roster stage

/// What the roster stage decides about one household.
struct Draft {
    verdict: Verdict,
    explanation: Explanation,
    reasons: Reasons,
    findings: Vec<Finding>,
    standard: Option<StandardValue>,
    head_id: String,
    /// §4: no valid authorization — nothing else is decided or reported.
    auth_invalid: bool,
}

fn roster_stage(cx: &Ctx, h: usize, members: &mut Vec<MemberRow>) -> (Draft, HouseholdRow) {
    let dates = cx.dates;
    let hv = &cx.index.households[h];
    let hh = hv.household;
    let hid = hh.household_id.clone();
    let standard = cx.policy.standard(&hh.county_code, hh.area_type, hh.program, dates.as_of);
    let mut reasons = Reasons::default();
    let mut notes: Vec<MemberNote> = Vec::new();
    let head_id = crate::identity::parse_id(&hh.head_id_raw, dates.as_of).map(|i| i.as_str().to_string()).unwrap_or_else(|_| hh.head_id_raw.trim().to_string());
    let verdict = Verdict {
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
    let row = HouseholdRow {
        standard_fen: standard.as_ref().map(|s| s.monthly_fen),
        tekun: hh.program == Program::Tekun,
        declared_income_fen: hh.declared_monthly_income_fen,
        declared_assets_fen: hh.declared_financial_assets_fen,
        declared_vehicles: hh.declared_vehicle_count,
        declared_properties: hh.declared_property_count,
    };
    let mut member = |pos: usize, person: String, valid: bool, counted: bool, age: Option<i32>| members.push(MemberRow { h: h as u32, pos: pos as u32, person, valid, counted, age });

    // §4: without a valid authorization nothing is requested, used or reported.
    if !hv.auth_valid {
        let why = match &hh.authorization {
            None => "no authorization on the roster".to_string(),
            Some(a) if a.signed > dates.as_of => format!("authorization {} signed {} after the as-of date {}", a.number, a.signed, dates.as_of),
            Some(a) => format!("authorization {} expired on {} (as-of date {})", a.number, a.valid_until, dates.as_of),
        };
        reasons.add(R::AUTHORIZATION_INVALID, why);
        explanation.members = hv.members.iter().map(|m| MemberNote { id: m.id_text(), name: m.member.name.trim().to_string(), relation: m.member.relation.clone(), counted: true, registry_status: "未核对".into(), age: m.id.as_ref().map(|i| i.age_on(dates.as_of)) }).collect();
        for (pos, m) in hv.members.iter().enumerate() {
            member(pos, m.id_text(), m.id.is_some(), true, m.id.as_ref().map(|i| i.age_on(dates.as_of)));
        }
        let draft = Draft { verdict, explanation, reasons, findings: Vec::new(), standard, head_id, auth_invalid: true };
        return (draft, row);
    }

    // §3: who counts, from the registry's current row.
    let registry_usable = cx.kind_usable(h, RecordKind::Registry);
    let mut findings: Vec<Finding> = Vec::new();
    for (pos, m) in hv.members.iter().enumerate() {
        let name = m.member.name.trim().to_string();
        let mut note = MemberNote { id: m.id_text(), name: name.clone(), relation: m.member.relation.clone(), counted: true, registry_status: String::new(), age: None };
        let Some(id) = &m.id else {
            member(pos, m.id_text(), false, true, None);
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
        } else {
            match cx.registry_current(h, id.as_str()) {
                None => {
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
                        "迁出" => {
                            let ev = Evidence { department: cx.codes[reg.src].to_string(), record_ref: reg.key().to_string(), origin: origin_text(&reg.rec.origin), fact: format!("人员状态 {status} {date}") };
                            reasons.add(R::MEMBER_MOVED_OUT, "a member has moved out of the registry area").evidence.push(ev);
                        }
                        _ => {}
                    }
                    if !names_match(&m.member.name, &reg.rec.name, false) {
                        findings.push((D::NAME_MISMATCH, id.to_string(), String::new(), format!("申报姓名与户籍登记不一致（户籍：{}）", reg.rec.name.trim()), name.clone()));
                    }
                }
            }
        }
        member(pos, id.as_str().to_string(), true, note.counted, note.age);
        notes.push(note);
    }
    explanation.members = notes;

    // §4: which departments can be used; why not.
    for (si, code) in cx.codes.iter().enumerate() {
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
    let draft = Draft { verdict, explanation, reasons, findings, standard, head_id, auth_invalid: false };
    (draft, row)
}

// ---------------------------------------------------------------------------
// 2. Rules, as one lazy plan over all households

fn inner() -> JoinArgs {
    JoinArgs::new(JoinType::Inner)
}

fn left() -> JoinArgs {
    JoinArgs::new(JoinType::Left)
}

fn cols(names: &[&str]) -> Vec<Expr> {
    names.iter().map(|n| col(*n)).collect()
}

/// `column` equals one of `values`.
fn one_of(column: &str, values: &[&str]) -> Expr {
    values.iter().map(|v| col(column).eq(lit(*v))).reduce(Expr::or).unwrap_or(lit(false))
}

/// max(0, x)
fn at_least_zero(x: Expr) -> Expr {
    when(x.clone().gt(lit(0i64))).then(x).otherwise(lit(0i64))
}

/// §5: a USD amount in cents at `rate_e4` (the rate × 10⁴), in fen, rounded
/// half-up (away from zero) — integer arithmetic only, as `money::convert_half_up`.
fn usd_to_fen(cents: Expr, rate_e4: i64) -> Expr {
    const SCALE: i64 = 10_000;
    let num = cents * lit(rate_e4);
    let magnitude = when(num.clone().lt(lit(0i64))).then(lit(0i64) - num.clone()).otherwise(num.clone());
    // `/` on integer columns divides like Rust (truncating; floor for the
    // non-negative magnitude), without the `round_series` feature `floor_div` needs.
    let whole = magnitude.clone() / lit(SCALE);
    let rest = magnitude - whole.clone() * lit(SCALE);
    let rounded = whole + when((rest * lit(2i64)).gt_eq(lit(SCALE))).then(lit(1i64)).otherwise(lit(0i64));
    when(num.lt(lit(0i64))).then(lit(0i64) - rounded.clone()).otherwise(rounded)
}

/// Sorted by `keys`, ties in input order.
fn sorted(lf: LazyFrame, keys: &[&str]) -> LazyFrame {
    lf.sort(keys.iter().map(|k| PlSmallStr::from(*k)).collect::<Vec<_>>(), SortMultipleOptions::default().with_maintain_order(true))
}

/// A marker table `keys…, flag = true` of the distinct key combinations of `lf`.
fn marks(lf: LazyFrame, keys: &[&str], flag: &str) -> LazyFrame {
    lf.select(cols(keys)).unique(None, UniqueKeepStrategy::Any).with_column(lit(true).alias(flag))
}

/// Left-joins a marker table and turns "no match" into `false`.
fn with_mark(lf: LazyFrame, marks: LazyFrame, keys: &[&str], flag: &str) -> LazyFrame {
    lf.join(marks, cols(keys), cols(keys), left()).with_column(col(flag).fill_null(lit(false)))
}

/// Left-joins per-household values, `fill` where a household has none.
fn with_values(lf: LazyFrame, values: LazyFrame, fills: &[(&str, Expr)]) -> LazyFrame {
    lf.join(values, [col("h")], [col("h")], left()).with_columns(fills.iter().map(|(c, v)| col(*c).fill_null(v.clone())).collect::<Vec<_>>())
}

/// What every rule starts from: the tables, the counted members, the usable
/// sources and the batch's dates as numbers.
struct Plan<'a> {
    t: &'a Tables,
    params: &'a crate::policy::Parameters,
    /// `h, pos, person, age`: counted members with a valid ID — only they are
    /// matched with records (§3).
    counted: LazyFrame,
    /// `h, src` pairs a household may use (§4).
    usable_ok: LazyFrame,
    window: (i32, i32),
    as_of_day: i32,
    as_of_year: i32,
    academic_year: String,
    recent_from: i32,
}

impl Plan<'_> {
    /// A record table seen by every household that counts its person and may
    /// use its source (§3, §4): one row per (household, member, record).
    fn attach(&self, records: LazyFrame) -> LazyFrame {
        records
            .join(self.counted.clone(), [col("person")], [col("person")], inner())
            .join(self.usable_ok.clone(), cols(&["h", "src"]), cols(&["h", "src"]), inner())
    }

    /// An input table as the start of a lazy query.
    fn records(&self, table: &DataFrame) -> LazyFrame {
        table.clone().lazy()
    }

    /// `month` lies in the income window (§1).
    fn in_window(&self) -> Expr {
        col("month").gt_eq(lit(self.window.0)).and(col("month").lt_eq(lit(self.window.1)))
    }

    /// `h, <name>`: a kind's data may be used for the household when every
    /// source yielding it may be used, and one does (§4).
    fn kind_usable(&self, kind: RecordKind, name: &str) -> LazyFrame {
        let sources = self.t.source_kinds.clone().lazy().filter(col("kind").eq(lit(frames::kind_code(kind))));
        self.t.usable.clone().lazy().join(sources, [col("src")], [col("src")], inner()).group_by([col("h")]).agg([col("ok").all(true).alias(name)])
    }

    /// `h, person, student`: enrolled 在读 on D in an exempt stage (§6).
    fn students(&self) -> LazyFrame {
        let enrolled = self.attach(self.records(&self.t.education)).filter(col("status").eq(lit("在读")).and(one_of("stage", &STUDENT_EXEMPT_STAGES)));
        marks(enrolled, &["h", "person"], "student")
    }

    /// §6 income. Per member and HR reply: the window's wages (none for a
    /// student), pensions and unemployment benefits. Returns `h, gross` and
    /// the evidence rows `h, pos, reply, wages, pensions, unemployment, student`.
    fn income(&self) -> (LazyFrame, LazyFrame) {
        let sum_of = |kind: i32| when(col("kind").eq(lit(kind))).then(col("amount")).otherwise(lit(0i64)).sum();
        // Per reply first (a reply's sums are the same for every household that uses it).
        let per_reply = self.records(&self.t.hr_items).filter(self.in_window()).group_by([col("reply")]).agg([
            sum_of(WAGE).alias("wages_paid"),
            sum_of(PENSION).alias("pensions"),
            sum_of(UNEMPLOYMENT).alias("unemployment"),
        ]);
        let replies = self.records(&self.t.hr_replies).rename(["row"], ["reply"], true).join(per_reply, [col("reply")], [col("reply")], left());
        let hr = with_mark(self.attach(replies), self.students(), &["h", "person"], "student")
            .with_columns([col("wages_paid").fill_null(lit(0i64)), col("pensions").fill_null(lit(0i64)), col("unemployment").fill_null(lit(0i64))])
            .with_column(when(col("student")).then(lit(0i64)).otherwise(col("wages_paid")).alias("wages"))
            .with_column((col("wages") + col("pensions") + col("unemployment")).alias("income"));
        let gross = hr.clone().group_by([col("h")]).agg([col("income").sum().alias("gross")]);
        let evidence = hr.filter(col("income").gt(lit(0i64)).or(col("student"))).select(cols(&["h", "pos", "reply", "wages", "pensions", "unemployment", "student"]));
        (gross, sorted(evidence, &["h", "pos", "reply"]))
    }

    /// §6 medical: self-paid costs of visits in the window. Returns
    /// `h, self_paid` and the evidence rows `h, row`.
    fn medical(&self) -> (LazyFrame, LazyFrame) {
        let visits = self.attach(self.records(&self.t.visits).filter(self.in_window()));
        let self_paid = visits.clone().group_by([col("h")]).agg([col("self_paid").sum().alias("self_paid")]);
        (self_paid, sorted(visits.select(cols(&["h", "pos", "row"])), &["h", "pos", "row"]).select(cols(&["h", "row"])))
    }

    /// §7 financial assets: per account (institution + account) of the
    /// household's counted members, the balance with the latest date (on a
    /// tie, the first member's in declaration order, then delivery order); USD
    /// converted balance by balance; then summed. Returns `h, assets` and the
    /// counted balances `h, row, fen` by account.
    fn financial_assets(&self) -> PolarsResult<(LazyFrame, LazyFrame)> {
        let account = cols(&["h", "institution", "account"]);
        let latest = self
            .attach(self.records(&self.t.balances))
            .with_column((col("pos").cast(DataType::Int64) * lit(1i64 << 32) + col("row").cast(DataType::Int64)).alias("order"))
            .with_column(col("day").max().over(account.clone())?.alias("latest_day"))
            .filter(col("day").eq(col("latest_day")))
            .with_column(col("order").min().over(account)?.alias("first_order"))
            .filter(col("order").eq(col("first_order")))
            .with_column(when(col("usd")).then(usd_to_fen(col("cents"), self.params.usd_cny_rate.value_e4)).otherwise(col("cents")).alias("fen"));
        let assets = latest.clone().group_by([col("h")]).agg([col("fen").sum().alias("assets")]);
        let evidence = sorted(latest.select(cols(&["h", "institution", "account", "row", "fen"])), &["h", "institution", "account"]);
        Ok((assets, evidence.select(cols(&["h", "row", "fen"]))))
    }

    /// §7 VEHICLE_OWNED: a 正常 K (passenger) or H (truck) vehicle; a K vehicle
    /// is exempt when its owner holds a 肢体 certificate valid on D. §8
    /// UNDECLARED_VEHICLE counts every distinct 正常 plate. Returns
    /// `h, plates, vehicles_owned` and the owned vehicles `h, row`.
    fn vehicles(&self) -> (LazyFrame, LazyFrame) {
        let normal = self.attach(self.records(&self.t.vehicles).filter(col("status").eq(lit("正常"))));
        let physical = self.attach(self.records(&self.t.disability)).filter(col("category").eq(lit("肢体")).and(col("valid_until").gt_eq(lit(self.as_of_day))));
        let owned = with_mark(normal.clone(), marks(physical, &["h", "person"], "physical"), &["h", "person"], "physical")
            .filter(col("class").eq(lit("H")).or(col("class").eq(lit("K")).and(col("physical").not())));
        let counts = normal
            .group_by([col("h")])
            .agg([col("plate").n_unique().cast(DataType::Int64).alias("plates")])
            .join(owned.clone().group_by([col("h")]).agg([len().cast(DataType::Int64).alias("vehicles_owned")]), [col("h")], [col("h")], left());
        (counts, sorted(owned.select(cols(&["h", "pos", "row"])), &["h", "pos", "row"]).select(cols(&["h", "row"])))
    }

    /// §7 properties: certificates held (现势 or 查封) — more than one distinct
    /// 住宅 certificate, or any other use, disqualifies. §8
    /// UNDECLARED_PROPERTY counts distinct held certificates. Returns
    /// `h, held, residential, non_residential` and the held rows `h, row, residential`.
    fn properties(&self) -> (LazyFrame, LazyFrame) {
        let held = self.attach(self.records(&self.t.properties).filter(one_of("status", &["现势", "查封"]))).with_column(col("usage").eq(lit("住宅")).alias("residential"));
        let counts = held.clone().group_by([col("h")]).agg([
            col("certificate").n_unique().cast(DataType::Int64).alias("held"),
            col("certificate").filter(col("residential")).n_unique().cast(DataType::Int64).alias("residential"),
            col("residential").not().sum().cast(DataType::Int64).alias("non_residential"),
        ]);
        (counts, sorted(held.select(cols(&["h", "pos", "row", "residential"])), &["h", "pos", "row"]).select(cols(&["h", "row", "residential"])))
    }

    /// §7 business roles in 存续 entities, classified: a 个体工商户 in any
    /// role, or 法定代表人/股东 of a 企业 with capital ≥ the limit, or below it
    /// (or unknown). Returns `h, business_owner, business_unverified` and the
    /// roles `h, row, class`.
    fn business(&self) -> (LazyFrame, LazyFrame) {
        let enterprise_owner = col("entity_type").eq(lit("企业")).and(one_of("role", &["法定代表人", "股东"]));
        let at_limit = col("capital").is_not_null().and(col("capital").gt_eq(lit(self.params.business_capital_limit.fen())));
        let class = when(col("entity_type").eq(lit("个体工商户")))
            .then(lit(SOLE_PROPRIETOR))
            .when(enterprise_owner.clone().and(at_limit))
            .then(lit(OWNER_AT_LIMIT))
            .when(enterprise_owner)
            .then(lit(OWNER_BELOW_LIMIT))
            .otherwise(lit(0i32));
        let roles = self.attach(self.records(&self.t.business).filter(col("status").eq(lit("存续")))).with_column(class.alias("class")).filter(col("class").gt(lit(0i32)));
        let counts = roles.clone().group_by([col("h")]).agg([
            col("class").eq(lit(OWNER_AT_LIMIT)).sum().cast(DataType::Int64).alias("business_owner"),
            col("class").neq(lit(OWNER_AT_LIMIT)).sum().cast(DataType::Int64).alias("business_unverified"),
        ]);
        (counts, sorted(roles.select(cols(&["h", "pos", "row", "class"])), &["h", "pos", "row"]).select(cols(&["h", "row", "class"])))
    }

    /// §7 PUBLIC_PAYROLL: per HR reply, the latest contribution month in the
    /// window is among its last `public_payroll_recent_months` months and has
    /// a 机关/事业 contribution (the first such, in month + employer order).
    /// Returns `h, public_payroll` and the contributions `h, reply, item`.
    fn public_payroll(&self) -> PolarsResult<(LazyFrame, LazyFrame)> {
        let per_reply = self
            .records(&self.t.hr_items)
            .filter(col("kind").eq(lit(WAGE)).and(self.in_window()))
            .with_column(col("month").max().over([col("reply")])?.alias("latest"))
            .filter(col("latest").gt_eq(lit(self.recent_from)).and(col("month").eq(col("latest"))).and(one_of("employer_type", &["机关", "事业"])))
            .group_by([col("reply")])
            .agg([col("item").min()]);
        let found = self.attach(self.records(&self.t.hr_replies).rename(["row"], ["reply"], true).join(per_reply, [col("reply")], [col("reply")], inner()));
        let counts = found.clone().group_by([col("h")]).agg([len().cast(DataType::Int64).alias("public_payroll")]);
        Ok((counts, sorted(found, &["h", "pos", "reply"]).select(cols(&["h", "reply", "item"]))))
    }

    /// §7 TEKUN: counted members aged ≥ 60 or < 16 on D, or holding a level
    /// 1–2 certificate valid on D. Returns `h, tekun_qualifying`.
    fn tekun_qualifying(&self) -> LazyFrame {
        let severe = self.attach(self.records(&self.t.disability)).filter(col("level").lt_eq(lit(2i32)).and(col("valid_until").gt_eq(lit(self.as_of_day))));
        with_mark(self.counted.clone(), marks(severe, &["h", "person"], "severe"), &["h", "person"], "severe")
            .filter(col("age").gt_eq(lit(60i32)).or(col("age").lt(lit(16i32))).or(col("severe")))
            .group_by([col("h")])
            .agg([len().cast(DataType::Int64).alias("tekun_qualifying")])
    }

    /// §8 coverage-gap candidates (assembly keeps those of ELIGIBLE
    /// households): members without a 参保 row for D's year (`h, pos`),
    /// 在读 pupils in an aided stage without aid this academic year and valid
    /// certificates without the living subsidy (`h, pos, row`).
    fn coverage_gaps(&self) -> (LazyFrame, LazyFrame, LazyFrame) {
        let insured = self.attach(self.records(&self.t.insurance)).filter(col("year").eq(lit(self.as_of_year)).and(col("status").eq(lit("参保"))));
        let members = self.counted.clone().join(self.kind_usable(RecordKind::InsuranceEnrollment, "insurance_usable"), [col("h")], [col("h")], inner());
        let insurance = with_mark(members, marks(insured, &["h", "person"], "insured"), &["h", "person"], "insured").filter(col("insurance_usable").and(col("insured").not()));
        let aided = marks(self.records(&self.t.aid).filter(col("academic_year").eq(lit(self.academic_year.as_str()))), &["reply"], "aided").rename(["reply"], ["row"], true);
        let education = with_mark(self.attach(self.records(&self.t.education)), aided, &["row"], "aided").filter(col("status").eq(lit("在读")).and(one_of("stage", &AID_STAGES)).and(col("aided").not()));
        let disability = self.attach(self.records(&self.t.disability)).filter(col("valid_until").gt_eq(lit(self.as_of_day)).and(col("living_subsidy").not()));
        let by_member = |lf: LazyFrame, keys: &[&str]| sorted(lf.select(cols(keys)), keys);
        (by_member(insurance, &["h", "pos"]), by_member(education, &["h", "pos", "row"]), by_member(disability, &["h", "pos", "row"]))
    }
}

/// The collected results of the plan, each sorted for assembly.
struct Results {
    /// One row per household, in `h` order.
    households: DataFrame,
    /// `h, pos, reply, wages, pensions, unemployment, student` by (h, pos, reply).
    hr_evidence: DataFrame,
    /// `h, row` by (h, pos, row).
    medical_evidence: DataFrame,
    /// `h, row, fen` by (h, institution, account).
    asset_evidence: DataFrame,
    /// `h, row` by (h, pos, row).
    vehicles_owned: DataFrame,
    /// `h, row, residential` by (h, pos, row).
    held_properties: DataFrame,
    /// `h, row, class` by (h, pos, row).
    business_roles: DataFrame,
    /// `h, reply, item` by (h, pos, reply).
    public_payroll: DataFrame,
    /// `h, pos` of members with no 参保 row for D's year.
    gap_insurance: DataFrame,
    /// `h, pos, row` of education replies missing aid, by (h, pos, row).
    gap_education: DataFrame,
    /// `h, pos, row` of certificates without the living subsidy, by (h, pos, row).
    gap_disability: DataFrame,
}

fn run_plan(cx: &Ctx, t: &Tables) -> PolarsResult<Results> {
    let dates = cx.dates;
    let p = &cx.params;
    let recent = p.public_payroll_recent_months.int() as i32;
    let plan = Plan {
        t,
        params: p,
        counted: t.members.clone().lazy().filter(col("counted").and(col("valid"))).select(cols(&["h", "pos", "person", "age"])),
        usable_ok: t.usable.clone().lazy().filter(col("ok")).select(cols(&["h", "src"])),
        window: (frames::month_index(dates.window_start), frames::month_index(dates.window_end)),
        as_of_day: frames::day_number(dates.as_of),
        as_of_year: chrono::Datelike::year(&dates.as_of),
        academic_year: dates.academic_year(),
        recent_from: frames::month_index(crate::window::month_start_shifted(dates.window_end, -(recent - 1))),
    };
    let (gross, hr_evidence) = plan.income();
    let (self_paid, medical_evidence) = plan.medical();
    let (assets, asset_evidence) = plan.financial_assets()?;
    let (vehicle_counts, vehicles_owned) = plan.vehicles();
    let (certificates, held_properties) = plan.properties();
    let (role_counts, business_roles) = plan.business();
    let (payroll_counts, public_payroll) = plan.public_payroll()?;
    let (gap_insurance, gap_education, gap_disability) = plan.coverage_gaps();
    // §3 size: counted members, valid ID or not.
    let size = t.members.clone().lazy().group_by([col("h")]).agg([col("counted").cast(DataType::Int64).sum().alias("size")]);

    // The household table: one row per household with every amount, flag and
    // rule comparison.
    let zero = || lit(0i64);
    let mut hh = t.households.clone().lazy();
    for (kind, name) in [
        (RecordKind::HrReply, "hr_usable"),
        (RecordKind::MedicalVisit, "health_usable"),
        (RecordKind::BankBalance, "bank_usable"),
        (RecordKind::Vehicle, "vehicle_usable"),
        (RecordKind::Property, "property_usable"),
    ] {
        hh = with_values(hh, plan.kind_usable(kind, name), &[(name, lit(false))]);
    }
    hh = with_values(hh, size, &[("size", zero())]);
    hh = with_values(hh, gross, &[("gross", zero())]);
    hh = with_values(hh, self_paid, &[("self_paid", zero())]);
    hh = with_values(hh, assets, &[("assets", zero())]);
    hh = with_values(hh, vehicle_counts, &[("plates", zero()), ("vehicles_owned", zero())]);
    hh = with_values(hh, certificates, &[("held", zero()), ("residential", zero()), ("non_residential", zero())]);
    hh = with_values(hh, role_counts, &[("business_owner", zero()), ("business_unverified", zero())]);
    hh = with_values(hh, payroll_counts, &[("public_payroll", zero())]);
    hh = with_values(hh, plan.tekun_qualifying(), &[("tekun_qualifying", zero())]);

    let no_amount = || lit(NULL).cast(DataType::Int64);
    let ratio = p.underdeclared_ratio.value_e4;
    let households = hh
        .with_columns([
            // §6: deduction = max(0, self-paid − floor).
            at_least_zero(col("self_paid") - lit(p.medical_deduction_floor.fen())).alias("deduction"),
            // §7 limits: size × standard × 12, size × standard × financial_asset_months
            // (null without a standard).
            (col("size") * col("standard") * lit(12i64)).alias("income_limit"),
            (col("size") * col("standard") * lit(p.financial_asset_months.int())).alias("asset_limit"),
        ])
        .with_columns([
            // §6: net = max(0, gross − deduction).
            at_least_zero(col("gross") - col("deduction")).alias("net"),
            // §4: a deduction that needs unusable health data is not granted.
            at_least_zero(col("gross") - when(col("health_usable")).then(col("deduction")).otherwise(zero())).alias("rules_net"),
        ])
        .with_columns([
            // Verdict amounts: empty when the data they rest on cannot be used (§4).
            when(col("hr_usable")).then(col("gross")).otherwise(no_amount()).alias("gross_income_12m"),
            when(col("health_usable")).then(col("deduction")).otherwise(no_amount()).alias("medical_deduction"),
            when(col("hr_usable").and(col("health_usable"))).then(col("net")).otherwise(no_amount()).alias("net_income_12m"),
            when(col("bank_usable")).then(col("assets")).otherwise(no_amount()).alias("financial_assets"),
            // §7 INELIGIBLE rules (no standard, no comparison: NO_STANDARD instead).
            col("rules_net").gt_eq(col("income_limit")).fill_null(lit(false)).alias("income_above_standard"),
            col("assets").gt(col("asset_limit")).fill_null(lit(false)).alias("assets_above_limit"),
            col("vehicles_owned").gt(zero()).alias("vehicle_owned"),
            col("residential").gt(lit(1i64)).alias("multiple_residential"),
            col("non_residential").gt(zero()).alias("non_residential_property"),
            col("business_owner").gt(zero()).alias("is_business_owner"),
            col("business_unverified").gt(zero()).alias("business_income_unverified"),
            col("public_payroll").gt(zero()).alias("is_public_payroll"),
            col("tekun").and(col("tekun_qualifying").eq(zero())).alias("tekun_not_qualified"),
            // §8 case findings comparing declarations with verified data.
            col("vehicle_usable").and(col("plates").gt(col("declared_vehicles"))).alias("undeclared_vehicle"),
            col("property_usable").and(col("held").gt(col("declared_properties"))).alias("undeclared_property"),
            // gross/12 > declared × ratio ⇔ gross × 10⁴ > declared × 12 × ratio_e4, and
            // gross/12 − declared > min ⇔ gross − 12 × declared > 12 × min: no division.
            // (Int64: exact below ~9 × 10¹⁴ fen of yearly income.)
            col("hr_usable")
                .and((col("gross") * lit(10_000i64)).gt(col("declared_income") * lit(12i64) * lit(ratio)))
                .and((col("gross") - col("declared_income") * lit(12i64)).gt(lit(12 * p.underdeclared_income_min.fen())))
                .alias("income_underdeclared"),
            col("bank_usable")
                .and((col("assets") * lit(10_000i64)).gt(col("declared_assets") * lit(ratio)))
                .and((col("assets") - col("declared_assets")).gt(lit(p.underdeclared_assets_min.fen())))
                .alias("assets_underdeclared"),
        ]);

    // One collect for every output, so Polars can share their common sub-plans.
    let plans = [
        sorted(households, &["h"]),
        hr_evidence,
        medical_evidence,
        asset_evidence,
        vehicles_owned,
        held_properties,
        business_roles,
        public_payroll,
        gap_insurance,
        gap_education,
        gap_disability,
    ];
    let mut out = LazyFrame::collect_all_with_engine(plans.into_iter().map(|lf| lf.logical_plan).collect(), Engine::InMemory, OptFlags::default())?.into_iter();
    let mut next = || out.next().expect("one frame per plan");
    Ok(Results {
        households: next(),
        hr_evidence: next(),
        medical_evidence: next(),
        asset_evidence: next(),
        vehicles_owned: next(),
        held_properties: next(),
        business_roles: next(),
        public_payroll: next(),
        gap_insurance: next(),
        gap_education: next(),
        gap_disability: next(),
    })
}

// ---------------------------------------------------------------------------
// 3. Assembly

/// Typed access to collected columns.
struct Table<'d>(&'d DataFrame);

impl Table<'_> {
    fn u32(&self, name: &str) -> Vec<u32> {
        self.0.column(name).and_then(|c| c.cast(&DataType::UInt32)).map(|c| c.u32().expect("cast to u32").into_no_null_iter().collect()).unwrap_or_else(|e| plan_bug(e))
    }
    fn i64(&self, name: &str) -> Vec<i64> {
        self.0.column(name).and_then(|c| c.cast(&DataType::Int64)).map(|c| c.i64().expect("cast to i64").into_no_null_iter().collect()).unwrap_or_else(|e| plan_bug(e))
    }
    fn opt_i64(&self, name: &str) -> Vec<Option<i64>> {
        self.0.column(name).and_then(|c| c.cast(&DataType::Int64)).map(|c| c.i64().expect("cast to i64").iter().collect()).unwrap_or_else(|e| plan_bug(e))
    }
    fn bool(&self, name: &str) -> Vec<bool> {
        self.0.column(name).and_then(|c| c.bool().cloned()).map(|c| c.iter().map(|b| b.unwrap_or(false)).collect()).unwrap_or_else(|e| plan_bug(e))
    }
    /// Row indexes of each household, in the table's order.
    fn by_household(&self, households: usize) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); households];
        for (i, h) in self.u32("h").into_iter().enumerate() {
            out[h as usize].push(i);
        }
        out
    }
}

/// One household's row of the collected household table.
struct Computed {
    size: i64,
    gross_income_12m: Option<Fen>,
    medical_deduction: Option<Fen>,
    net_income_12m: Option<Fen>,
    financial_assets: Option<Fen>,
    rules_net: Fen,
    income_limit: Option<Fen>,
    assets: Fen,
    asset_limit: Option<Fen>,
    plates: i64,
    held: i64,
    residential: i64,
    flags: BTreeMap<&'static str, bool>,
}

const FLAGS: [&str; 13] = [
    "income_above_standard",
    "assets_above_limit",
    "vehicle_owned",
    "multiple_residential",
    "non_residential_property",
    "is_business_owner",
    "business_income_unverified",
    "is_public_payroll",
    "tekun_not_qualified",
    "undeclared_vehicle",
    "undeclared_property",
    "income_underdeclared",
    "assets_underdeclared",
];

/// Reads the household table into one [`Computed`] per household, in `h` order.
fn read_households(df: &DataFrame) -> Vec<Computed> {
    let t = Table(df);
    let (size, rules_net, assets, plates, held, residential) = (t.i64("size"), t.i64("rules_net"), t.i64("assets"), t.i64("plates"), t.i64("held"), t.i64("residential"));
    let (gross, deduction, net, financial) = (t.opt_i64("gross_income_12m"), t.opt_i64("medical_deduction"), t.opt_i64("net_income_12m"), t.opt_i64("financial_assets"));
    let (income_limit, asset_limit) = (t.opt_i64("income_limit"), t.opt_i64("asset_limit"));
    let flags: Vec<(&'static str, Vec<bool>)> = FLAGS.iter().map(|f| (*f, t.bool(f))).collect();
    (0..df.height())
        .map(|h| Computed {
            size: size[h],
            gross_income_12m: gross[h],
            medical_deduction: deduction[h],
            net_income_12m: net[h],
            financial_assets: financial[h],
            rules_net: rules_net[h],
            income_limit: income_limit[h],
            assets: assets[h],
            asset_limit: asset_limit[h],
            plates: plates[h],
            held: held[h],
            residential: residential[h],
            flags: flags.iter().map(|(f, v)| (*f, v[h])).collect(),
        })
        .collect()
}

/// One member's income from one HR reply, as the plan counted it (§6).
#[derive(Clone, Copy)]
struct HrIncome {
    reply: u32,
    wages: Fen,
    pensions: Fen,
    unemployment: Fen,
    /// Wages not counted: an enrolled student.
    student: bool,
}

/// Everything assembly reads, indexed by household.
struct Collected {
    households: Vec<Computed>,
    hr: Vec<Vec<HrIncome>>,
    medical: Vec<Vec<u32>>,
    assets: Vec<Vec<(u32, i64)>>,
    vehicles: Vec<Vec<u32>>,
    properties: Vec<Vec<(u32, bool)>>,
    business: Vec<Vec<(u32, i32)>>,
    payroll: Vec<Vec<(u32, u32)>>,
    gap_insurance: Vec<Vec<u32>>,
    gap_education: Vec<Vec<(u32, u32)>>,
    gap_disability: Vec<Vec<(u32, u32)>>,
}

impl Collected {
    fn read(r: &Results, n: usize) -> Self {
        fn bucket<T: Clone>(df: &DataFrame, n: usize, values: Vec<T>) -> Vec<Vec<T>> {
            Table(df).by_household(n).into_iter().map(|idx| idx.into_iter().map(|i| values[i].clone()).collect()).collect()
        }
        let pos_row = |df: &DataFrame| Table(df).u32("pos").into_iter().zip(Table(df).u32("row")).collect::<Vec<_>>();
        let hr = Table(&r.hr_evidence);
        let (reply, wages, pensions, unemployment, student) = (hr.u32("reply"), hr.i64("wages"), hr.i64("pensions"), hr.i64("unemployment"), hr.bool("student"));
        let hr_rows = (0..reply.len()).map(|i| HrIncome { reply: reply[i], wages: wages[i], pensions: pensions[i], unemployment: unemployment[i], student: student[i] }).collect();
        let assets = Table(&r.asset_evidence);
        let asset_rows = assets.u32("row").into_iter().zip(assets.i64("fen")).collect();
        let props = Table(&r.held_properties);
        let prop_rows = props.u32("row").into_iter().zip(props.bool("residential")).collect();
        let roles = Table(&r.business_roles);
        let role_rows = roles.u32("row").into_iter().zip(roles.i64("class").into_iter().map(|c| c as i32)).collect();
        let payroll = Table(&r.public_payroll);
        let payroll_rows = payroll.u32("reply").into_iter().zip(payroll.u32("item")).collect();
        Collected {
            households: read_households(&r.households),
            hr: bucket(&r.hr_evidence, n, hr_rows),
            medical: bucket(&r.medical_evidence, n, Table(&r.medical_evidence).u32("row")),
            assets: bucket(&r.asset_evidence, n, asset_rows),
            vehicles: bucket(&r.vehicles_owned, n, Table(&r.vehicles_owned).u32("row")),
            properties: bucket(&r.held_properties, n, prop_rows),
            business: bucket(&r.business_roles, n, role_rows),
            payroll: bucket(&r.public_payroll, n, payroll_rows),
            gap_insurance: bucket(&r.gap_insurance, n, Table(&r.gap_insurance).u32("pos")),
            gap_education: bucket(&r.gap_education, n, pos_row(&r.gap_education)),
            gap_disability: bucket(&r.gap_disability, n, pos_row(&r.gap_disability)),
        }
    }
}

fn assemble(cx: &Ctx, rows: &Rows, c: &Collected, h: usize, draft: Draft, filed: &mut Vec<(usize, Vec<Finding>)>) -> (Verdict, Explanation) {
    let Draft { mut verdict, explanation, mut reasons, mut findings, standard, head_id, auth_invalid } = draft;
    if auth_invalid {
        return finish(cx, reasons, verdict, explanation);
    }
    let hv = &cx.index.households[h];
    let hh = hv.household;
    let p = &cx.params;
    let x = &c.households[h];
    let flag = |name: &str| x.flags[name];
    verdict.counted_members = x.size as u32;
    verdict.gross_income_12m_fen = x.gross_income_12m;
    verdict.medical_deduction_fen = x.medical_deduction;
    verdict.net_income_12m_fen = x.net_income_12m;
    verdict.financial_assets_fen = x.financial_assets;

    // §8 case findings that compare declarations with verified data.
    if flag("undeclared_vehicle") {
        findings.push((D::UNDECLARED_VEHICLE, head_id.clone(), String::new(), format!("申报车辆{}辆，核实正常状态车辆{}辆", hh.declared_vehicle_count, x.plates), String::new()));
    }
    if flag("undeclared_property") {
        findings.push((D::UNDECLARED_PROPERTY, head_id.clone(), String::new(), format!("申报房产{}处，核实现势房产{}处", hh.declared_property_count, x.held), String::new()));
    }
    if flag("income_underdeclared") {
        findings.push((D::INCOME_UNDERDECLARED, head_id.clone(), String::new(), "核实月均收入高于申报收入".into(), String::new()));
    }
    if flag("assets_underdeclared") {
        findings.push((D::ASSETS_UNDERDECLARED, head_id.clone(), String::new(), "核实金融资产高于申报金额".into(), String::new()));
    }

    if x.size == 0 {
        // §3: an empty household gets this single reason; no other test applies.
        reasons = Reasons::default();
        reasons.add(R::HOUSEHOLD_EMPTY, "no declared member counts (deceased or incarcerated per the registry)");
        filed.push((h, findings));
        return finish(cx, reasons, verdict, explanation);
    }

    // §7 INELIGIBLE rules, as decided by the plan; here only explained.
    if let Some(std) = &standard {
        let std_param = ParamUse { name: "monthly_standard_yuan".into(), value: crate::money::Yuan(std.monthly_fen).to_string(), effective_from: std.effective_from.to_string() };
        if flag("income_above_standard") {
            let (net, limit) = (x.rules_net, x.income_limit.expect("a standard gives an income limit"));
            let summary = format!("net income {} ≥ limit {} ({} × {} × 12), over by {}", yuan_grouped(net), yuan_grouped(limit), x.size, yuan_grouped(std.monthly_fen), yuan_grouped(net - limit));
            let r = reasons.add(R::INCOME_ABOVE_STANDARD, summary);
            compare(r, net, limit);
            r.parameters.push(std_param.clone());
            r.parameters.push(param_use(&p.medical_deduction_floor));
            r.evidence.extend(hr_evidence(cx, rows, &c.hr[h]));
            r.evidence.extend(medical_evidence(cx, rows, &c.medical[h]));
        }
        if flag("assets_above_limit") {
            let (assets, limit) = (x.assets, x.asset_limit.expect("a standard gives an asset limit"));
            let months = p.financial_asset_months.int();
            let summary = format!("financial assets {} > limit {} ({} × {} × {months}), over by {}", yuan_grouped(assets), yuan_grouped(limit), x.size, yuan_grouped(std.monthly_fen), yuan_grouped(assets - limit));
            let r = reasons.add(R::FINANCIAL_ASSETS_ABOVE_LIMIT, summary);
            compare(r, assets, limit);
            r.parameters.push(std_param);
            r.parameters.push(param_use(&p.financial_asset_months));
            r.parameters.push(param_use(&p.usd_cny_rate));
            r.evidence.extend(asset_evidence(cx, rows, &c.assets[h]));
        }
    } else {
        reasons.add(R::NO_STANDARD, format!("no {} standard for county {} ({}) in force on {}", hh.program.code(), hh.county_code, hh.area_type.code(), cx.dates.as_of));
    }

    if flag("vehicle_owned") {
        let r = reasons.add(R::VEHICLE_OWNED, "a counted member owns a passenger car or truck in normal status");
        for &row in &c.vehicles[h] {
            let v = rows.vehicles[row as usize];
            let fact = format!("车辆类型 {}, 状态 正常, 初次登记 {}", v.rec.vehicle_type.trim(), v.rec.first_registered);
            r.evidence.push(Evidence { department: cx.codes[v.src].to_string(), record_ref: v.key().to_string(), origin: origin_text(&v.rec.origin), fact });
        }
    }
    let held = |residential: bool| c.properties[h].iter().filter(move |(_, r)| *r == residential).map(|(row, _)| rows.properties[*row as usize]);
    if flag("multiple_residential") {
        let r = reasons.add(R::MULTIPLE_RESIDENTIAL_PROPERTIES, format!("{} residential certificates held (limit 1)", x.residential));
        for prop in held(true) {
            r.evidence.push(Evidence { department: cx.codes[prop.src].to_string(), record_ref: prop.key().to_string(), origin: origin_text(&prop.rec.origin), fact: format!("用途 住宅, 状态 {}", prop.rec.status.trim()) });
        }
    }
    if flag("non_residential_property") {
        let r = reasons.add(R::NON_RESIDENTIAL_PROPERTY, "a counted member holds a non-residential property");
        for prop in held(false) {
            let fact = format!("用途 {}, 状态 {}", prop.rec.usage.trim(), prop.rec.status.trim());
            r.evidence.push(Evidence { department: cx.codes[prop.src].to_string(), record_ref: prop.key().to_string(), origin: origin_text(&prop.rec.origin), fact });
        }
    }
    if flag("is_business_owner") || flag("business_income_unverified") {
        let limit = p.business_capital_limit.fen();
        for &(row, class) in &c.business[h] {
            let b = rows.business[row as usize];
            let role = b.rec.role.trim();
            let capital = b.rec.registered_capital_fen.map(yuan_grouped).unwrap_or_else(|| "未知".into());
            let fact = format!("{} {} {role}, 注册资本 {capital}", b.rec.entity_type.trim(), b.rec.status.trim());
            let ev = Evidence { department: cx.codes[b.src].to_string(), record_ref: b.key().to_string(), origin: origin_text(&b.rec.origin), fact };
            match class {
                SOLE_PROPRIETOR => reasons.add(R::BUSINESS_INCOME_UNVERIFIED, "a counted member runs a registered business whose income is not verified").evidence.push(ev),
                OWNER_AT_LIMIT => {
                    let capital = b.rec.registered_capital_fen.expect("an owner at the limit has a known capital");
                    let r = reasons.add(R::BUSINESS_OWNER, format!("{role} of an enterprise with capital {} ≥ limit {}, over by {}", yuan_grouped(capital), yuan_grouped(limit), yuan_grouped(capital - limit)));
                    compare(r, capital, limit);
                    if r.parameters.is_empty() {
                        r.parameters.push(param_use(&p.business_capital_limit));
                    }
                    r.evidence.push(ev);
                }
                _ => reasons.add(R::BUSINESS_INCOME_UNVERIFIED, "a counted member owns an enterprise below the capital limit or of unknown capital").evidence.push(ev),
            }
        }
    }
    if flag("is_public_payroll") {
        let recent = p.public_payroll_recent_months.int();
        for &(reply, item) in &c.payroll[h] {
            let (id, src, hr) = rows.hr[reply as usize];
            let contribution = &hr.contributions[item as usize];
            let month = contribution.month.format("%Y-%m");
            let r = reasons.add(R::PUBLIC_PAYROLL, format!("latest contribution {month} from a {} employer, within the last {recent} months of the window", contribution.employer_type.trim()));
            r.parameters.push(param_use(&p.public_payroll_recent_months));
            let fact = format!("{month} {} {}", contribution.employer_code, contribution.employer_type);
            r.evidence.push(Evidence { department: cx.codes[src].to_string(), record_ref: id.to_string(), origin: origin_text(&hr.origin), fact });
        }
    }
    if flag("tekun_not_qualified") {
        reasons.add(R::TEKUN_NOT_QUALIFIED, "no counted member is aged 60 or over, under 16, or holds a level 1–2 disability certificate valid on the as-of date");
    }
    if cx.conflicts.contains(&h) {
        reasons.add(R::CONFLICTING_DEPARTMENT_DATA, "a conflicting duplicate record touches this household (see discrepancies DUPLICATE_RECORD)");
    }

    let eligible = !reasons.list.values().any(|r| cx.policy.rule_enabled(r.code.as_str()));
    if eligible {
        coverage_gaps(rows, c, h, hv, &mut findings);
    }
    filed.push((h, findings));
    finish(cx, reasons, verdict, explanation)
}

fn hr_evidence(cx: &Ctx, rows: &Rows, found: &[HrIncome]) -> Vec<Evidence> {
    found
        .iter()
        .map(|&HrIncome { reply, wages, pensions, unemployment, student }| {
            let (id, src, hr) = rows.hr[reply as usize];
            let exempt = if student { "（在读学生，工资收入不计）" } else { "" };
            let fact = format!("缴费基数 {}{exempt}, 养老金 {}, 失业金 {}", yuan_grouped(wages), yuan_grouped(pensions), yuan_grouped(unemployment));
            Evidence { department: cx.codes[src].to_string(), record_ref: id.to_string(), origin: origin_text(&hr.origin), fact }
        })
        .collect()
}

fn medical_evidence(cx: &Ctx, rows: &Rows, found: &[u32]) -> Vec<Evidence> {
    found
        .iter()
        .map(|&row| {
            let v = rows.visits[row as usize];
            let fact = format!("{} 个人自付 {}", v.rec.visit_date, yuan_grouped(v.rec.self_paid_fen));
            Evidence { department: cx.codes[v.src].to_string(), record_ref: v.key().to_string(), origin: origin_text(&v.rec.origin), fact }
        })
        .collect()
}

fn asset_evidence(cx: &Ctx, rows: &Rows, found: &[(u32, Fen)]) -> Vec<Evidence> {
    let rate = &cx.params.usd_cny_rate;
    found
        .iter()
        .map(|&(row, fen)| {
            let b = rows.balances[row as usize];
            let converted = if b.rec.currency == Currency::Usd { format!("USD {} × {} = ", yuan_grouped(b.rec.balance_cents), rate.raw) } else { String::new() };
            let fact = format!("{} {converted}{}", b.rec.account_type, yuan_grouped(fen));
            Evidence { department: cx.codes[b.src].to_string(), record_ref: b.key().to_string(), origin: origin_text(&b.rec.origin), fact }
        })
        .collect()
}

/// §8 coverage gaps, for ELIGIBLE households only: the plan's candidates, per
/// member in declaration order.
fn coverage_gaps(rows: &Rows, c: &Collected, h: usize, hv: &super::roster::HouseholdView, findings: &mut Vec<Finding>) {
    let mut gaps: Vec<(u32, Finding)> = Vec::new();
    for &pos in &c.gap_insurance[h] {
        let id = hv.members[pos as usize].id_text();
        gaps.push((pos, (D::MEDICAL_INSURANCE_NOT_ENROLLED, id, String::new(), "家庭成员本年度未参加医疗保险".into(), String::new())));
    }
    for &(pos, row) in &c.gap_education[h] {
        let (id, _, e) = rows.education[row as usize];
        let student_no = e.current().map(|cur| cur.student_no.to_string()).unwrap_or_default();
        gaps.push((pos, (D::EDUCATION_AID_MISSING, id.to_string(), student_no, "在读学生本学年未获资助".into(), e.name.to_string())));
    }
    for &(pos, row) in &c.gap_disability[h] {
        let d = rows.disability[row as usize];
        gaps.push((pos, (D::DISABILITY_SUBSIDY_MISSING, d.id.to_string(), d.key().to_string(), "持有效残疾证但未享受困难残疾人生活补贴".into(), d.rec.name.to_string())));
    }
    // Stable: within a member, insurance, then education, then disability, each in delivery order.
    gaps.sort_by_key(|(pos, _)| *pos);
    findings.extend(gaps.into_iter().map(|(_, f)| f));
}

/// Files household findings with the department that can act on each.
fn report(cx: &mut Ctx, h: usize, findings: Vec<Finding>) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{verify, SourceInput};
    use crate::model::*;
    use crate::policy::{Policy, PolicySettings};

    #[test]
    fn usd_conversion_in_the_plan_matches_money_convert_half_up() {
        let cents: Vec<i64> = vec![0, 1, 5, 15, 7, 10_000, 123_456_789, -1, -5, -15, -10_000, -123_456_789, 14, 21, 99_999];
        for rate in [71_000i64, 72_000, 70_500, 1] {
            let df = df!("cents" => cents.clone()).unwrap();
            let out = df.lazy().select([usd_to_fen(col("cents"), rate).alias("fen")]).collect().unwrap();
            let got: Vec<i64> = out.column("fen").unwrap().i64().unwrap().into_no_null_iter().collect();
            let want: Vec<i64> = cents.iter().map(|c| crate::money::convert_half_up(*c, rate, 4)).collect();
            assert_eq!(got, want, "rate {rate}");
        }
    }

    /// The batch may call the engine from a tokio worker (2 MiB stack) or a
    /// smaller one: the rules run on their own thread (`PLAN_STACK_BYTES`).
    /// Smoke test of that contract: without the thread, whether a debug build
    /// overflows depends on where Polars' on-demand stack growth (128 KiB red
    /// zone) happens to check, which no small world pins down.
    #[test]
    fn rules_run_from_a_thread_with_a_small_stack() {
        let base = concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/policy/gz-2026/");
        let read = |f: &str| std::fs::read_to_string(format!("{base}{f}")).unwrap();
        let settings = PolicySettings { id: "gz-2026".into(), version: "test".into(), rules: Default::default() };
        let policy = Policy::parse(&settings, ("standards.csv", &read("standards.csv")), ("parameters.csv", &read("parameters.csv")), ("counties.csv", &read("counties.csv"))).unwrap();
        let d = |s: &str| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        let first17 = "52010219800101011";
        let id = format!("{first17}{}", crate::identity::check_char(first17.as_bytes()) as char);
        let roster = Roster {
            households: vec![Household {
                line: 2,
                household_id: "H1".into(),
                program: Program::Dibao,
                county_code: "520102".into(),
                area_type: AreaType::Urban,
                head_id_raw: id.clone(),
                declared_monthly_income_fen: 0,
                declared_financial_assets_fen: 0,
                declared_vehicle_count: 0,
                declared_property_count: 0,
                authorization: Some(Authorization { number: "SQ1".into(), signed: d("2025-01-01"), valid_until: d("2030-01-01"), scope: None }),
            }],
            members: vec![Member { line: 2, household_id: "H1".into(), id_raw: id.clone(), name: "张三".into(), relation: "户主".into() }],
        };
        let vehicles = Records {
            vehicles: vec![Vehicle { origin: Origin::new("v.csv", 2), plate: "贵A1".into(), plate_kind: "02".into(), vehicle_type: "K33".into(), owner_id_raw: id.into(), owner_name: "张三".into(), first_registered: d("2020-01-01"), status: "正常".into() }],
            ..Records::default()
        };
        let none = std::collections::HashSet::new();
        let worker = std::thread::Builder::new().stack_size(256 << 10).spawn(move || {
            let inputs = [SourceInput { code: "public_security", kinds: &[RecordKind::Registry, RecordKind::Vehicle], available: true, failed_persons: &none, records: std::borrow::Cow::Borrowed(&vehicles) }];
            verify(&roster, &policy, d("2026-11-26"), inputs.into()).unwrap()
        });
        let out = worker.unwrap().join().expect("verify ran on a 256 KiB stack");
        assert_eq!(out.verdicts[0].reason_codes(), "MEMBER_NOT_IN_REGISTRY;VEHICLE_OWNED");
        assert_eq!(out.explanations[0].reasons[1].evidence[0].record_ref, "贵A1");
    }
}
