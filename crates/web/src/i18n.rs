//! Labels: Chinese by default, English with `?lang=en` (remembered in a cookie).
//! Codes are always shown beside their label, so a label that falls behind the
//! engine's vocabulary still leaves the code readable.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lang {
    Zh,
    En,
}

impl Lang {
    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    pub fn html_lang(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// Picks the label of this language.
    pub fn t(self, zh: &'static str, en: &'static str) -> &'static str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    pub fn other(self) -> Lang {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }
}

/// Reason codes (POLICY §7): (code, 中文, English).
pub const REASONS: &[(&str, &str, &str)] = &[
    ("INCOME_ABOVE_STANDARD", "收入超过保障标准", "Income above the standard"),
    ("FINANCIAL_ASSETS_ABOVE_LIMIT", "金融资产超过限额", "Financial assets above the limit"),
    ("VEHICLE_OWNED", "拥有机动车辆", "Owns a vehicle"),
    ("MULTIPLE_RESIDENTIAL_PROPERTIES", "拥有多套住房", "Several residential properties"),
    ("NON_RESIDENTIAL_PROPERTY", "拥有非住宅房产", "Non-residential property"),
    ("BUSINESS_OWNER", "经营或投资企业", "Business owner or shareholder"),
    ("PUBLIC_PAYROLL", "财政供养人员", "On a public payroll"),
    ("TEKUN_NOT_QUALIFIED", "不符合特困供养条件", "Not qualified for TEKUN"),
    ("AUTHORIZATION_INVALID", "授权书无效", "Authorization invalid"),
    ("AUTHORIZATION_SCOPE_INCOMPLETE", "授权范围不完整", "Authorization scope incomplete"),
    ("MEMBER_ID_INVALID", "成员身份证号无效", "Member ID number invalid"),
    ("MEMBER_MOVED_OUT", "成员已迁出", "Member moved out"),
    ("MEMBER_NOT_IN_REGISTRY", "成员不在户籍库", "Member not in the registry"),
    ("HOUSEHOLD_EMPTY", "无计入成员", "No counted member"),
    ("NO_STANDARD", "无适用保障标准", "No standard applies"),
    ("MEMBER_IN_SEVERAL_HOUSEHOLDS", "成员在多个家庭中申报", "Member in several households"),
    ("DEPARTMENT_DATA_UNAVAILABLE", "部门数据不可用", "Department data unavailable"),
    ("BUSINESS_INCOME_UNVERIFIED", "经营收入无法核实", "Business income unverified"),
    ("CONFLICTING_DEPARTMENT_DATA", "部门数据相互矛盾", "Conflicting department data"),
];

/// Discrepancy codes (POLICY §8): (code, 中文 as in the feedback files, English).
pub const DISCREPANCIES: &[(&str, &str, &str)] = &[
    ("ID_INVALID", "身份证号无效", "Invalid ID number"),
    ("UNREQUESTED_RECORD", "非本批核对对象的记录", "Record of nobody in this batch"),
    ("NAME_MISMATCH", "姓名与户籍登记不一致", "Name differs from the registry"),
    ("BIRTHDATE_MISMATCH", "出生日期与身份证号不一致", "Birth date disagrees with the ID"),
    ("GENDER_MISMATCH", "性别与身份证号不一致", "Gender disagrees with the ID"),
    ("DECEASED_WITH_ACTIVITY", "户籍登记死亡后仍有业务记录", "Activity after registered death"),
    ("DUPLICATE_RECORD", "重复记录且内容不一致", "Conflicting duplicate record"),
    ("DECLARED_MEMBER_DECEASED", "申报成员已死亡", "Declared member is deceased"),
    ("DECLARED_MEMBER_INCARCERATED", "申报成员正在服刑", "Declared member is incarcerated"),
    ("DUPLICATE_MEMBERSHIP", "成员在多个家庭中申报", "Member declared in several households"),
    ("UNDECLARED_VEHICLE", "未如实申报车辆", "Undeclared vehicle"),
    ("UNDECLARED_PROPERTY", "未如实申报房产", "Undeclared property"),
    ("INCOME_UNDERDECLARED", "少报收入", "Income under-declared"),
    ("ASSETS_UNDERDECLARED", "少报金融资产", "Financial assets under-declared"),
    ("MEDICAL_INSURANCE_NOT_ENROLLED", "未参加医疗保险", "Not enrolled in medical insurance"),
    ("EDUCATION_AID_MISSING", "在读学生未获教育资助", "Student without education aid"),
    ("DISABILITY_SUBSIDY_MISSING", "未享受困难残疾人生活补贴", "Disability living subsidy missing"),
];

/// Departments (DEPARTMENTS.md): (code, 中文, English).
pub const DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("civil_affairs", "民政", "Civil affairs"),
    ("public_security", "公安", "Public security"),
    ("hr_social_security", "人社", "HR & social security"),
    ("health", "医保", "Health insurance"),
    ("market_regulation", "市场监管", "Market regulation"),
    ("banking", "银行", "Banking"),
    ("education", "教育", "Education"),
    ("housing", "住建", "Housing"),
    ("disability", "残联", "Disability federation"),
];

fn find(table: &'static [(&'static str, &'static str, &'static str)], code: &str, lang: Lang) -> Option<&'static str> {
    table.iter().find(|(c, _, _)| *c == code).map(|(_, zh, en)| lang.t(zh, en))
}

/// The label of a reason code, or the code itself when unknown.
pub fn reason(code: &str, lang: Lang) -> String {
    find(REASONS, code, lang).map(str::to_string).unwrap_or_else(|| code.to_string())
}

pub fn discrepancy(code: &str, lang: Lang) -> String {
    find(DISCREPANCIES, code, lang).map(str::to_string).unwrap_or_else(|| code.to_string())
}

pub fn department(code: &str, lang: Lang) -> String {
    find(DEPARTMENTS, code, lang).map(str::to_string).unwrap_or_else(|| code.to_string())
}

pub fn verdict(v: &str, lang: Lang) -> &'static str {
    match v {
        "ELIGIBLE" => lang.t("符合", "Eligible"),
        "INELIGIBLE" => lang.t("不符合", "Ineligible"),
        "REVIEW" => lang.t("待复核", "Review"),
        "" => lang.t("（新增）", "(new)"),
        _ => "?",
    }
}

pub fn program(p: &str, lang: Lang) -> String {
    match p {
        "DIBAO" => lang.t("低保", "DIBAO").to_string(),
        "TEKUN" => lang.t("特困", "TEKUN").to_string(),
        other => other.to_string(),
    }
}

pub fn area(a: &str, lang: Lang) -> String {
    match a {
        "urban" => lang.t("城市", "urban").to_string(),
        "rural" => lang.t("农村", "rural").to_string(),
        other => other.to_string(),
    }
}

pub fn review_status(s: &str, lang: Lang) -> &'static str {
    match s {
        "open" => lang.t("待处理", "Open"),
        "confirmed" => lang.t("已确认", "Confirmed"),
        "dismissed" => lang.t("已排除", "Dismissed"),
        "corrected" => lang.t("已更正", "Corrected"),
        _ => "?",
    }
}

pub fn source_status(s: &str, lang: Lang) -> &'static str {
    match s {
        "ok" => lang.t("正常", "ok"),
        _ => lang.t("不可用", "unavailable"),
    }
}
