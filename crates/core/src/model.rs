//! Canonical records: what every department's data becomes once an adapter has
//! read it. The engine only ever sees these types, never a department's format.
//!
//! Invariants every adapter upholds:
//! - IDs are carried **raw** (as delivered, only trimmed of nothing): the engine
//!   normalizes and validates them (POLICY §2), so that `ID_INVALID` and
//!   `UNREQUESTED_RECORD` are decided in one place for all departments.
//! - Within each `Vec` of [`Records`], records are in **delivery order**: files
//!   sorted by name byte-wise, then row order. "Delivered last" (POLICY §8) is
//!   the later position.
//! - Money is integer fen ([`Fen`]); dates are parsed [`NaiveDate`]s. A row whose
//!   date or amount cannot be parsed is quarantined by the adapter, not guessed.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::money::Fen;

/// A short text field of a record (an ID, a name, a status, a code): stored
/// inline up to 24 bytes, so the tens of millions of records of a province
/// cost no allocation per field.
pub type Text = compact_str::CompactString;
pub use compact_str::{format_compact, ToCompactString};

/// The name of a delivered file, shared by every record read from it.
pub type FileName = std::sync::Arc<str>;

/// Where a record came from: the file (or request) and its line/row number.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub struct Origin {
    /// File name (no directory) or a request label such as `POST /v1/persons/query#3`.
    pub file: FileName,
    /// 1-based line (CSV/JSONL) or row (XLSX) number; 0 when not applicable.
    pub line: u64,
}

impl Origin {
    pub fn new(file: impl Into<FileName>, line: u64) -> Self {
        Origin { file: file.into(), line }
    }
}

/// 户籍 registry row (public_security). Several rows per person form a history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegistryRow {
    pub origin: Origin,
    /// 户号
    pub household_no: Text,
    /// 公民身份号码 (raw)
    pub id_raw: Text,
    /// 姓名
    pub name: Text,
    /// 性别 as delivered (`男`/`女`).
    pub gender: Text,
    /// 出生日期 (`YYYYMMDD`), `None` when empty.
    pub birth_date: Option<NaiveDate>,
    /// 与户主关系
    pub relation: Text,
    /// 人员状态 正常/死亡/服刑/迁出
    pub status: Text,
    /// 状态日期, `None` when empty (= the oldest row of a history).
    pub status_date: Option<NaiveDate>,
    /// 行政区划
    pub region: Text,
}

/// 机动车 vehicle (public_security).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vehicle {
    pub origin: Origin,
    /// 号牌号码 — the record key.
    pub plate: Text,
    /// 号牌种类
    pub plate_kind: Text,
    /// 车辆类型 (GA 802 code: `K33`, `H31`, `M21` …)
    pub vehicle_type: Text,
    /// 所有人身份号码 (raw)
    pub owner_id_raw: Text,
    /// 所有人姓名
    pub owner_name: Text,
    /// 初次登记日期
    pub first_registered: NaiveDate,
    /// 机动车状态 正常/注销/报废/查封
    pub status: Text,
}

/// One HR contribution month (缴费基数) for one employer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Contribution {
    /// `YYYY-MM`, first day of the month.
    pub month: NaiveDate,
    pub employer_code: Text,
    /// 企业|机关|事业|个体|灵活就业
    pub employer_type: Text,
    pub base_fen: Fen,
}

/// A monthly payment (pension or unemployment benefit).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MonthlyPayment {
    /// First day of the month.
    pub month: NaiveDate,
    pub amount_fen: Fen,
}

/// The HR department's reply about one person (POLICY §8: one record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HrReply {
    pub origin: Origin,
    /// `id_number` as the department returned it (raw).
    pub id_raw: Text,
    pub name: Text,
    pub contributions: Vec<Contribution>,
    pub pensions: Vec<MonthlyPayment>,
    pub unemployment: Vec<MonthlyPayment>,
}

/// 就诊费用 medical visit (health).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MedicalVisit {
    pub origin: Origin,
    /// 就诊流水号 — the record key.
    pub serial: Text,
    pub id_raw: Text,
    pub name: Text,
    pub visit_date: NaiveDate,
    pub total_fen: Fen,
    pub pooled_fen: Fen,
    /// 个人自付
    pub self_paid_fen: Fen,
}

/// 参保状态 insurance enrollment (health).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsuranceEnrollment {
    pub origin: Origin,
    pub id_raw: Text,
    pub name: Text,
    /// 险种 职工医保/城乡居民医保
    pub insurance_type: Text,
    /// 参保年度
    pub year: i32,
    /// 状态 参保/停保/终止
    pub status: Text,
}

/// A person's role in a registered business (market_regulation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusinessRole {
    pub origin: Origin,
    pub uscc: Text,
    pub entity_name: Text,
    /// 企业|个体工商户
    pub entity_type: Text,
    /// 存续|注销|吊销
    pub status: Text,
    /// Registered capital in fen; `None` = unknown (empty in the source).
    pub registered_capital_fen: Option<Fen>,
    pub person_id_raw: Text,
    pub person_name: Text,
    /// 法定代表人|股东|经营者
    pub role: Text,
    pub established: NaiveDate,
}

/// Currency of a bank balance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Currency {
    Cny,
    Usd,
}

/// A balance of one account on one date (banking).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BankBalance {
    pub origin: Origin,
    pub id_raw: Text,
    pub name: Text,
    /// 机构名称
    pub institution: Text,
    /// 账号
    pub account: Text,
    /// 账户类型 活期存款/定期存款/理财产品/证券资产
    pub account_type: Text,
    pub currency: Currency,
    /// Balance in the account's currency, in its cents (fen for CNY).
    pub balance_cents: i64,
    pub balance_date: NaiveDate,
}

/// One 学籍 enrollment inside an education reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Enrollment {
    /// Record key.
    pub student_no: Text,
    pub school: Text,
    /// 学前|小学|初中|高中|中职|高职|本科|研究生
    pub stage: Text,
    /// 在读|休学|毕业|退学
    pub status: Text,
    pub since: NaiveDate,
}

/// One 资助 aid entry inside an education reply.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Aid {
    pub program: Text,
    /// `2026-2027`
    pub academic_year: Text,
    pub amount_fen: Fen,
}

/// The education department's reply about one person (POLICY §8: one record).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EducationReply {
    pub origin: Origin,
    pub id_raw: Text,
    pub name: Text,
    pub birth_date: Option<NaiveDate>,
    pub enrollments: Vec<Enrollment>,
    pub aid: Vec<Aid>,
}

/// 不动产权证 property certificate, one row per owner (housing).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Property {
    pub origin: Origin,
    /// 不动产权证号
    pub certificate_no: Text,
    pub owner_id_raw: Text,
    pub owner_name: Text,
    /// 共有情况 单独所有/共同共有/按份共有
    pub sharing: Text,
    /// 用途 住宅/商业/办公/工业/其他
    pub usage: Text,
    /// 建筑面积 in hundredths of m² (kept exact, never a float).
    pub area_centi_m2: i64,
    pub registered: NaiveDate,
    /// 状态 现势/注销/查封
    pub status: Text,
}

/// 残疾证 disability certificate (disability).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisabilityCert {
    pub origin: Origin,
    /// 残疾证号 — the record key.
    pub certificate_no: Text,
    pub id_raw: Text,
    pub name: Text,
    /// 残疾类别 视力/听力/言语/肢体/智力/精神/多重
    pub category: Text,
    /// 残疾等级 1..=4 (`一级` → 1).
    pub level: u8,
    pub valid_until: NaiveDate,
    /// 困难残疾人生活补贴 是 → true
    pub living_subsidy: bool,
    /// 重度残疾人护理补贴 是 → true
    pub care_subsidy: bool,
}

/// Every canonical record kind, for schemas and counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Registry,
    Vehicle,
    HrReply,
    MedicalVisit,
    InsuranceEnrollment,
    BusinessRole,
    BankBalance,
    EducationReply,
    Property,
    DisabilityCert,
}

/// The canonical record tables one or more sources yield.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    pub registry: Vec<RegistryRow>,
    pub vehicles: Vec<Vehicle>,
    pub hr: Vec<HrReply>,
    pub medical_visits: Vec<MedicalVisit>,
    pub insurance: Vec<InsuranceEnrollment>,
    pub business: Vec<BusinessRole>,
    pub bank_balances: Vec<BankBalance>,
    pub education: Vec<EducationReply>,
    pub properties: Vec<Property>,
    pub disability: Vec<DisabilityCert>,
}

impl Records {
    /// Total number of records of every kind.
    pub fn len(&self) -> usize {
        self.registry.len()
            + self.vehicles.len()
            + self.hr.len()
            + self.medical_visits.len()
            + self.insurance.len()
            + self.business.len()
            + self.bank_balances.len()
            + self.education.len()
            + self.properties.len()
            + self.disability.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `other`'s records after this one's (delivery order preserved).
    pub fn append(&mut self, mut other: Records) {
        self.registry.append(&mut other.registry);
        self.vehicles.append(&mut other.vehicles);
        self.hr.append(&mut other.hr);
        self.medical_visits.append(&mut other.medical_visits);
        self.insurance.append(&mut other.insurance);
        self.business.append(&mut other.business);
        self.bank_balances.append(&mut other.bank_balances);
        self.education.append(&mut other.education);
        self.properties.append(&mut other.properties);
        self.disability.append(&mut other.disability);
    }
}

/// The civil-affairs roster: who applied, under which authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Roster {
    /// In file order; the engine sorts by `household_id` for output.
    pub households: Vec<Household>,
    pub members: Vec<Member>,
}

/// 低保 or 特困.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Program {
    /// 低保 minimum living allowance
    #[serde(rename = "DIBAO")]
    Dibao,
    /// 特困 extreme-poverty support
    #[serde(rename = "TEKUN")]
    Tekun,
}

impl Program {
    pub fn code(self) -> &'static str {
        match self {
            Program::Dibao => "DIBAO",
            Program::Tekun => "TEKUN",
        }
    }
    pub fn parse(s: &str) -> Option<Program> {
        match s.trim() {
            "DIBAO" => Some(Program::Dibao),
            "TEKUN" => Some(Program::Tekun),
            _ => None,
        }
    }
}

/// 城镇 / 农村.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AreaType {
    Urban,
    Rural,
}

impl AreaType {
    pub fn code(self) -> &'static str {
        match self {
            AreaType::Urban => "urban",
            AreaType::Rural => "rural",
        }
    }
    pub fn parse(s: &str) -> Option<AreaType> {
        match s.trim() {
            "urban" => Some(AreaType::Urban),
            "rural" => Some(AreaType::Rural),
            _ => None,
        }
    }
}

/// 授权书: the household's signed authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub number: String,
    pub signed: NaiveDate,
    pub valid_until: NaiveDate,
    /// Department codes covered; `None` = `ALL`.
    pub scope: Option<Vec<String>>,
}

impl Authorization {
    /// Valid on `as_of`: signed on or before it and valid until it or later.
    pub fn is_valid_on(&self, as_of: NaiveDate) -> bool {
        self.signed <= as_of && self.valid_until >= as_of
    }
    /// Covers the department `code` (civil_affairs needs no scope).
    pub fn covers(&self, code: &str) -> bool {
        code == crate::CIVIL_AFFAIRS
            || match &self.scope {
                None => true,
                Some(list) => list.iter().any(|c| c == code),
            }
    }
}

/// One household of the roster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Household {
    /// Line in households.csv (for error messages).
    pub line: u64,
    pub household_id: String,
    pub program: Program,
    pub county_code: String,
    pub area_type: AreaType,
    pub head_id_raw: String,
    pub declared_monthly_income_fen: Fen,
    pub declared_financial_assets_fen: Fen,
    pub declared_vehicle_count: u32,
    pub declared_property_count: u32,
    /// `None` when the auth fields are empty (no authorization).
    pub authorization: Option<Authorization>,
}

/// One declared member of a household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    /// Line in members.csv.
    pub line: u64,
    pub household_id: String,
    pub id_raw: String,
    pub name: String,
    /// 户主/配偶/子女/父母/孙子女/兄弟姐妹/其他
    pub relation: String,
}
