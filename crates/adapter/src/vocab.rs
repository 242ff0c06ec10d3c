//! The closed vocabularies of DEPARTMENTS.md that the engine's rules compare
//! against (`正常`, `现势`, `住宅` …). An adapter checks a delivered value
//! against its list and quarantines the row when it is not there: a status the
//! engine does not know would otherwise be silently treated as "not held" /
//! "not active". Open vocabularies (性别, 与户主关系, 车辆类型 codes, 号牌种类)
//! are carried as delivered and are not listed here.
//!
//! Shared by the coded adapters and the generic `mapped_file` adapter so both
//! accept exactly the same values.

use hedui_core::model::Text;

/// 人员状态 of a 户籍 row.
pub const REGISTRY_STATUS: &[&str] = &["正常", "死亡", "服刑", "迁出"];
/// 机动车状态.
pub const VEHICLE_STATUS: &[&str] = &["正常", "注销", "报废", "查封"];
/// 共有情况 of a property certificate.
pub const PROPERTY_SHARING: &[&str] = &["单独所有", "共同共有", "按份共有"];
/// 用途 of a property.
pub const PROPERTY_USAGE: &[&str] = &["住宅", "商业", "办公", "工业", "其他"];
/// 状态 of a property certificate.
pub const PROPERTY_STATUS: &[&str] = &["现势", "注销", "查封"];
/// 残疾类别.
pub const DISABILITY_CATEGORY: &[&str] = &["视力", "听力", "言语", "肢体", "智力", "精神", "多重"];
/// 险种 of a 参保 row.
pub const INSURANCE_TYPE: &[&str] = &["职工医保", "城乡居民医保"];
/// 状态 of a 参保 row.
pub const INSURANCE_STATUS: &[&str] = &["参保", "停保", "终止"];
/// entity_type of a business.
pub const ENTITY_TYPE: &[&str] = &["企业", "个体工商户"];
/// status of a business.
pub const BUSINESS_STATUS: &[&str] = &["存续", "注销", "吊销"];
/// role of a person in a business.
pub const BUSINESS_ROLE: &[&str] = &["法定代表人", "股东", "经营者"];
/// 账户类型 of a bank balance.
pub const ACCOUNT_TYPE: &[&str] = &["活期存款", "定期存款", "理财产品", "证券资产"];

/// Returns the trimmed value when it is one of `allowed`, else a reason that
/// names the accepted values.
pub fn one_of(raw: &str, allowed: &[&str]) -> Result<Text, String> {
    let v = raw.trim();
    if allowed.contains(&v) {
        Ok(Text::from(v))
    } else if v.is_empty() {
        Err(format!("empty (expected one of {})", allowed.join("/")))
    } else {
        Err(format!("unknown value {v:?} (expected one of {})", allowed.join("/")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_listed_values_trimmed() {
        assert_eq!(one_of(" 现势 ", PROPERTY_STATUS), Ok(Text::from("现势")));
        let err = one_of("抵押", PROPERTY_STATUS).unwrap_err();
        assert!(err.contains("\"抵押\"") && err.contains("现势/注销/查封"), "{err}");
        assert!(one_of("", PROPERTY_STATUS).unwrap_err().starts_with("empty"));
    }
}
