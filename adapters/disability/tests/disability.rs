//! The disability adapter on hand-made fixtures (every quirk of DEPARTMENTS.md
//! "disability") and on the sample world's delivery.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hedui_adapter::harness::{check_source_compliance, test_context};
use hedui_adapter::{Source, SourceConfig, SourceError};
use hedui_core::model::{DisabilityCert, Origin};

fn fixtures() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/disability")).to_path_buf()
}

fn sample_inbox() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/gz-60-2026-11-26/inbox")).to_path_buf()
}

fn config(settings: &[(&str, &str)]) -> SourceConfig {
    SourceConfig {
        code: "disability".into(),
        kind: hedui_disability::TYPE_NAME.into(),
        enabled: true,
        settings: settings.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect(),
    }
}

/// The source reading `<fixtures>/disability/<folder>`.
fn source(folder: &str) -> Box<dyn Source> {
    hedui_disability::factory(&config(&[("folder", folder)])).unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[tokio::test]
async fn quirks_are_read_or_quarantined() {
    let out = check_source_compliance(source("quirks").as_ref(), &test_context(&fixtures())).await;
    let c = &out.records.disability;
    let lines: Vec<(&str, u64)> = c.iter().map(|r| (r.origin.file.as_ref(), r.origin.line)).collect();
    assert_eq!(
        lines,
        [
            ("canlian_01.csv", 2),
            ("canlian_01.csv", 3),
            ("canlian_01.csv", 4),
            ("canlian_01.csv", 5),
            ("canlian_01.csv", 6),
            ("canlian_01.csv", 7),
            ("canlian_01.csv", 8),
            ("canlian_01.csv", 9),
            ("canlian_02.csv", 2),
        ]
    );
    assert_eq!(
        c[0],
        DisabilityCert {
            origin: Origin::new("canlian_01.csv", 2),
            certificate_no: "52020119880626906411".into(),
            id_raw: "520201198806269064".into(),
            name: "叶静燕".into(),
            category: "视力".into(),
            level: 1,
            valid_until: d(2028, 10, 11),
            living_subsidy: true,
            care_subsidy: false,
        }
    );
    // 二级 / 三级 under one key (a conflict the engine reports), then an exact repeat: all kept.
    assert_eq!((c[1].level, c[2].level, c[3].level), (2, 3, 3));
    assert_eq!(c[1].certificate_no, c[2].certificate_no);
    // Legacy ID, 一级, " 是 " trimmed.
    assert_eq!((c[4].id_raw.as_str(), c[4].level, c[4].living_subsidy, c[4].care_subsidy), ("520382800117199", 1, true, true));
    // Spaces around the ID and after the name are kept raw; 2028/12/9.
    assert_eq!((c[5].id_raw.as_str(), c[5].name.as_str(), c[5].level, c[5].valid_until), (" 520302201505141696 ", "韩俊岩 ", 4, d(2028, 12, 9)));
    // Lowercase x, ideographic space, " 4 ", YYYYMMDD.
    assert_eq!((c[6].id_raw.as_str(), c[6].name.as_str(), c[6].category.as_str(), c[6].level, c[6].valid_until), ("52022119760123239x", "姜博\u{3000}岩", "多重", 4, d(2029, 1, 1)));
    // Full-width digits kept raw.
    assert_eq!((c[7].id_raw.as_str(), c[7].category.as_str(), c[7].level), ("５２０１０３１９８００６０７５６２１", "言语", 2));
    // BOM + CRLF file, quoted name.
    assert_eq!((c[8].name.as_str(), c[8].level, c[8].care_subsidy), ("汤丽\u{3000}霞", 2, true));

    let q: Vec<(&str, u64, &str, &str)> = out.quarantine.iter().map(|q| (q.file.as_str(), q.line, q.field.as_str(), q.raw_value.as_str())).collect();
    assert_eq!(
        q,
        [
            ("canlian_01.csv", 10, "残疾等级", "五级"),
            ("canlian_01.csv", 11, "困难残疾人生活补贴", "有"),
            ("canlian_01.csv", 12, "重度残疾人护理补贴", ""),
            ("canlian_01.csv", 13, "有效期至", "长期"),
            ("canlian_01.csv", 14, "残疾类别", "内脏"),
            ("canlian_01.csv", 15, "残疾证号", ""),
            ("canlian_02.csv", 3, "", ""),
        ]
    );
    let reasons: Vec<&str> = out.quarantine.iter().map(|q| q.reason.as_str()).collect();
    assert!(reasons[0].contains("一级…四级 or 1…4"), "{reasons:?}");
    assert!(reasons[1].contains("是/否") && reasons[2].contains("是/否"), "{reasons:?}");
    assert!(reasons[3].contains("not a date"), "{reasons:?}");
    assert!(reasons[4].contains("视力/听力/言语/肢体/智力/精神/多重"), "{reasons:?}");
    assert!(reasons[5].contains("empty record key"), "{reasons:?}");
    assert!(reasons[6].contains("9 fields, header has 8"), "{reasons:?}");
    assert_eq!((out.stats.rows_read, out.stats.files), (16, 2));
}

#[tokio::test]
async fn missing_columns_fail_the_source_naming_them_all() {
    let err = source("missing_columns").fetch(&test_context(&fixtures())).await.unwrap_err();
    let SourceError::MissingColumns { path, missing, .. } = &err else { panic!("{err}") };
    assert!(path.ends_with("canlian_01.csv"));
    assert_eq!(missing, &["残疾类别", "困难残疾人生活补贴"]);
    assert!(err.to_string().contains("canlian_01.csv"), "{err}");
}

#[tokio::test]
async fn a_gbk_file_is_refused_unless_configured() {
    let err = source("gbk").fetch(&test_context(&fixtures())).await.unwrap_err();
    assert!(err.to_string().contains("canlian_01.csv") && err.to_string().contains("GBK"), "{err}");
    let src = hedui_disability::factory(&config(&[("folder", "gbk"), ("encoding", "gbk")])).unwrap();
    let out = check_source_compliance(src.as_ref(), &test_context(&fixtures())).await;
    assert_eq!((out.records.disability[0].name.as_str(), out.records.disability[0].level), ("叶静燕", 1));
}

#[tokio::test]
async fn another_pattern_can_be_configured() {
    let src = hedui_disability::factory(&config(&[("folder", "quirks"), ("pattern", "canlian_02.csv")])).unwrap();
    let out = check_source_compliance(src.as_ref(), &test_context(&fixtures())).await;
    assert_eq!(out.records.disability.len(), 1);
    let err = hedui_disability::factory(&config(&[("folder", "quirks"), ("pattern", "cdpf_*.csv")])).unwrap().fetch(&test_context(&fixtures())).await.unwrap_err();
    assert!(matches!(err, SourceError::Unavailable(_)), "{err}");
}

#[test]
fn levels_and_flags() {
    use hedui_disability::{parse_level, parse_yes_no};
    assert_eq!([parse_level("一级"), parse_level("2"), parse_level(" 三级 "), parse_level("4")], [Ok(1), Ok(2), Ok(3), Ok(4)]);
    assert!(parse_level("0").is_err() && parse_level("5").is_err() && parse_level("1级").is_err());
    assert_eq!((parse_yes_no("是"), parse_yes_no("否")), (Ok(true), Ok(false)));
    assert!(parse_yes_no("Y").is_err() && parse_yes_no("").is_err());
}

#[tokio::test]
async fn the_sample_world_delivery() {
    let src = hedui_disability::factory(&SourceConfig { code: "disability".into(), kind: "disability".into(), enabled: true, ..Default::default() }).unwrap();
    let out = check_source_compliance(src.as_ref(), &test_context(&sample_inbox())).await;
    let c = &out.records.disability;
    assert_eq!(c.len(), 18);
    assert!(out.quarantine.is_empty(), "{:?}", out.quarantine);
    assert_eq!(c[0].level, 1); // "1"
    assert_eq!((c[1].level, c[2].level), (2, 3)); // 二级, 三级 under one certificate
    assert_eq!(c[12].id_raw, " 520302201505141696 ");
    assert_eq!((c[12].living_subsidy, c[12].care_subsidy), (false, false));
    assert_eq!(c[17].origin, Origin::new("canlian_01.csv", 19));
    assert_eq!((c[17].category.as_str(), c[17].valid_until), ("多重", d(2026, 4, 5)));
}
