//! The vocabulary of verdicts (POLICY §7–§8): reason codes, discrepancy codes,
//! and the output rows the engine produces.

use serde::{Deserialize, Serialize};

use crate::money::Fen;

macro_rules! codes {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[allow(non_camel_case_types)]
        pub enum $name { $($(#[$vm])* $v),* }
        impl $name {
            /// Every code, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$v),*];
            /// The code as written in outputs.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$v => stringify!($v)),* }
            }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

codes! {
    /// Why a household is not ELIGIBLE (POLICY §7).
    ReasonCode {
        INCOME_ABOVE_STANDARD,
        FINANCIAL_ASSETS_ABOVE_LIMIT,
        VEHICLE_OWNED,
        MULTIPLE_RESIDENTIAL_PROPERTIES,
        NON_RESIDENTIAL_PROPERTY,
        BUSINESS_OWNER,
        PUBLIC_PAYROLL,
        TEKUN_NOT_QUALIFIED,
        AUTHORIZATION_INVALID,
        AUTHORIZATION_SCOPE_INCOMPLETE,
        MEMBER_ID_INVALID,
        MEMBER_MOVED_OUT,
        MEMBER_NOT_IN_REGISTRY,
        HOUSEHOLD_EMPTY,
        NO_STANDARD,
        MEMBER_IN_SEVERAL_HOUSEHOLDS,
        DEPARTMENT_DATA_UNAVAILABLE,
        BUSINESS_INCOME_UNVERIFIED,
        CONFLICTING_DEPARTMENT_DATA,
    }
}

impl ReasonCode {
    /// INELIGIBLE reasons decide the verdict over REVIEW ones.
    pub fn is_ineligible(self) -> bool {
        use ReasonCode::*;
        matches!(
            self,
            INCOME_ABOVE_STANDARD | FINANCIAL_ASSETS_ABOVE_LIMIT | VEHICLE_OWNED | MULTIPLE_RESIDENTIAL_PROPERTIES | NON_RESIDENTIAL_PROPERTY | BUSINESS_OWNER | PUBLIC_PAYROLL | TEKUN_NOT_QUALIFIED
        )
    }
}

codes! {
    /// Findings sent back to a department (POLICY §8).
    DiscrepancyCode {
        ID_INVALID,
        UNREQUESTED_RECORD,
        NAME_MISMATCH,
        BIRTHDATE_MISMATCH,
        GENDER_MISMATCH,
        DECEASED_WITH_ACTIVITY,
        DUPLICATE_RECORD,
        DECLARED_MEMBER_DECEASED,
        DECLARED_MEMBER_INCARCERATED,
        DUPLICATE_MEMBERSHIP,
        UNDECLARED_VEHICLE,
        UNDECLARED_PROPERTY,
        INCOME_UNDERDECLARED,
        ASSETS_UNDERDECLARED,
        MEDICAL_INSURANCE_NOT_ENROLLED,
        EDUCATION_AID_MISSING,
        DISABILITY_SUBSIDY_MISSING,
    }
}

impl DiscrepancyCode {
    /// 问题说明: the code's meaning in Chinese, for feedback files.
    pub fn description_zh(self) -> &'static str {
        use DiscrepancyCode::*;
        match self {
            ID_INVALID => "身份证号无效",
            UNREQUESTED_RECORD => "非本批核对对象的记录",
            NAME_MISMATCH => "姓名与户籍登记不一致",
            BIRTHDATE_MISMATCH => "出生日期与身份证号不一致",
            GENDER_MISMATCH => "性别与身份证号不一致",
            DECEASED_WITH_ACTIVITY => "户籍登记死亡后仍有业务记录",
            DUPLICATE_RECORD => "重复记录且内容不一致",
            DECLARED_MEMBER_DECEASED => "申报成员已死亡",
            DECLARED_MEMBER_INCARCERATED => "申报成员正在服刑",
            DUPLICATE_MEMBERSHIP => "成员在多个家庭中申报",
            UNDECLARED_VEHICLE => "未如实申报车辆",
            UNDECLARED_PROPERTY => "未如实申报房产",
            INCOME_UNDERDECLARED => "少报收入",
            ASSETS_UNDERDECLARED => "少报金融资产",
            MEDICAL_INSURANCE_NOT_ENROLLED => "未参加医疗保险",
            EDUCATION_AID_MISSING => "在读学生未获教育资助",
            DISABILITY_SUBSIDY_MISSING => "未享受困难残疾人生活补贴",
        }
    }
}

/// ELIGIBLE / INELIGIBLE / REVIEW.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum VerdictKind {
    Eligible,
    Ineligible,
    Review,
}

impl VerdictKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VerdictKind::Eligible => "ELIGIBLE",
            VerdictKind::Ineligible => "INELIGIBLE",
            VerdictKind::Review => "REVIEW",
        }
    }
}

/// One row of `verdicts.csv`. `None` amounts are written empty: the data they
/// rest on could not be used for the household.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub household_id: String,
    pub program: String,
    pub county_code: String,
    pub area_type: String,
    pub verdict: VerdictKind,
    /// Sorted by code text.
    pub reasons: Vec<ReasonCode>,
    pub counted_members: u32,
    pub standard_monthly_fen: Option<Fen>,
    pub gross_income_12m_fen: Option<Fen>,
    pub medical_deduction_fen: Option<Fen>,
    pub net_income_12m_fen: Option<Fen>,
    pub financial_assets_fen: Option<Fen>,
}

impl Verdict {
    /// `reason_codes` column: sorted, `;`-joined.
    pub fn reason_codes(&self) -> String {
        self.reasons.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(";")
    }
}

/// One row of `discrepancies.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Discrepancy {
    /// The department it goes back to (first: the output sort order).
    pub department: String,
    pub code: DiscrepancyCode,
    pub person_id: String,
    pub record_ref: String,
    pub household_id: String,
    /// Short human sentence in Chinese.
    pub detail: String,
    /// The person's name as delivered (feedback files only; never logged).
    #[serde(default)]
    pub name: String,
}

/// One piece of evidence: a department record that a reason rests on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub department: String,
    /// The record key (DEPARTMENTS.md), IDs normalized.
    pub record_ref: String,
    /// File and line (or request) it came from.
    pub origin: String,
    /// What the record says that matters here, e.g. `车辆类型 K33, 状态 正常`.
    pub fact: String,
}

/// A parameter value used by a reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParamUse {
    pub name: String,
    pub value: String,
    /// Effective date of the row in force.
    pub effective_from: String,
}

/// One reason of a verdict, explained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reason {
    pub code: ReasonCode,
    /// One sentence: the comparison and its margin, e.g. "net income
    /// 9,120.00 ≥ limit 8,040.00, over by 1,080.00".
    pub summary: String,
    /// The quantity compared and the limit, in fen, when the rule compares amounts.
    pub value_fen: Option<Fen>,
    pub limit_fen: Option<Fen>,
    /// value − limit (positive = over).
    pub margin_fen: Option<Fen>,
    pub parameters: Vec<ParamUse>,
    pub evidence: Vec<Evidence>,
}

/// The structured explanation of one household's verdict (`explanations.jsonl`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    pub household_id: String,
    pub verdict: VerdictKind,
    pub reasons: Vec<Reason>,
    /// Each declared member: ID (normalized or raw when invalid), whether counted, why not.
    pub members: Vec<MemberNote>,
    /// Departments whose data could not be used, and why.
    pub unusable_departments: Vec<String>,
    /// Income window, e.g. `2025-11..2026-10`.
    pub income_window: String,
}

/// Whether a declared member counted, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberNote {
    pub id: String,
    pub name: String,
    pub relation: String,
    pub counted: bool,
    /// `正常`, `死亡 2026-08-16`, `不在户籍库`, `身份证号无效` …
    pub registry_status: String,
    pub age: Option<i32>,
}
