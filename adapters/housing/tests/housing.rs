//! The housing adapter on hand-made fixtures (every quirk of DEPARTMENTS.md
//! "housing") and on the sample world's delivery.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hedui_adapter::harness::{check_source_compliance, test_context};
use hedui_adapter::{SourceConfig, SourceError};
use hedui_core::model::Origin;

fn fixtures() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/housing")).to_path_buf()
}

fn sample_inbox() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/gz-60-2026-11-26/inbox")).to_path_buf()
}

/// The source reading `<fixtures>/housing/<folder>`.
fn source(folder: Option<&str>) -> Box<dyn hedui_adapter::Source> {
    let mut cfg = SourceConfig { code: "housing".into(), kind: hedui_housing::TYPE_NAME.into(), enabled: true, ..Default::default() };
    if let Some(f) = folder {
        cfg.settings.insert("folder".into(), serde_json::json!(f));
    }
    hedui_housing::factory(&cfg).unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[tokio::test]
async fn quirks_are_read_or_quarantined() {
    let out = check_source_compliance(source(Some("quirks")).as_ref(), &test_context(&fixtures())).await;
    let p = &out.records.properties;
    // Delivery order: budongchan_01 < budongchan_10 < budongchan_9 byte-wise.
    let origins: Vec<(&str, u64)> = p.iter().map(|r| (r.origin.file.as_ref(), r.origin.line)).collect();
    assert_eq!(
        origins,
        [
            ("budongchan_01.csv", 2),
            ("budongchan_01.csv", 3),
            ("budongchan_01.csv", 4),
            ("budongchan_01.csv", 5),
            ("budongchan_01.csv", 6),
            ("budongchan_01.csv", 7),
            ("budongchan_10.csv", 6),
            ("budongchan_9.csv", 2),
        ]
    );
    assert_eq!(p[0].certificate_no, "黔(2015)六盘水市不动产权第0000067号");
    assert_eq!(p[0].area_centi_m2, 11367);
    assert_eq!(p[0].sharing, "按份共有");
    // The shared certificate appears once per owner; IDs and names stay raw.
    assert_eq!(p[1].certificate_no, p[0].certificate_no);
    assert_eq!(p[1].owner_id_raw, " 520113198304244289 ");
    assert_eq!(p[1].owner_name, " 汤丽霞");
    // Legacy ID, whole-number area, exact duplicate rows both kept (the engine merges).
    assert_eq!(p[2].owner_id_raw, "520382860206675");
    assert_eq!(p[2].area_centi_m2, 10700);
    assert_eq!(p[3], hedui_core::model::Property { origin: Origin::new("budongchan_01.csv", 5), ..p[2].clone() });
    // Lowercase x, ideographic space in a name, quoted thousands separator, 2016/5/9, 查封.
    assert_eq!(p[4].owner_id_raw, "52022119760123239x");
    assert_eq!(p[4].owner_name, "姜博\u{3000}岩");
    assert_eq!((p[4].usage.as_str(), p[4].area_centi_m2, p[4].registered, p[4].status.as_str()), ("商业", 102450, d(2016, 5, 9), "查封"));
    // Full-width digits kept raw; enumerations trimmed; 125.2 m² exactly; YYYYMMDD.
    assert_eq!(p[5].owner_id_raw, "５２０１０３１９８００６０７５６２１");
    assert_eq!((p[5].usage.as_str(), p[5].area_centi_m2, p[5].registered, p[5].status.as_str()), ("办公", 12520, d(2017, 2, 22), "注销"));
    // CRLF file, 年月日 date, 0.5 m².
    assert_eq!((p[6].usage.as_str(), p[6].area_centi_m2, p[6].registered), ("工业", 50, d(2021, 3, 5)));

    let q: Vec<(&str, u64, &str, &str)> = out.quarantine.iter().map(|q| (q.file.as_str(), q.line, q.field.as_str(), q.raw_value.as_str())).collect();
    assert_eq!(
        q,
        [
            ("budongchan_01.csv", 8, "建筑面积", "约90"),
            ("budongchan_01.csv", 9, "建筑面积", "90.123"),
            ("budongchan_01.csv", 10, "用途", "车位"),
            ("budongchan_01.csv", 11, "建筑面积", "-5"),
            ("budongchan_10.csv", 2, "不动产权证号", ""),
            ("budongchan_10.csv", 3, "登记日期", "2026-02-30"),
            ("budongchan_10.csv", 4, "", ""),
            ("budongchan_10.csv", 5, "状态", "抵押"),
        ]
    );
    let reasons: Vec<&str> = out.quarantine.iter().map(|q| q.reason.as_str()).collect();
    assert!(reasons[0].contains("not an area"), "{reasons:?}");
    assert!(reasons[1].contains("more than 2 decimals"), "{reasons:?}");
    assert!(reasons[2].contains("住宅/商业/办公/工业/其他"), "{reasons:?}");
    assert!(reasons[3].contains("negative"), "{reasons:?}");
    assert!(reasons[4].contains("empty"), "{reasons:?}");
    assert!(reasons[5].contains("not a date"), "{reasons:?}");
    assert!(reasons[6].contains("6 fields, header has 8"), "{reasons:?}");
    assert!(reasons[7].contains("现势/注销/查封"), "{reasons:?}");
    assert_eq!(out.stats.rows_read, 16);
    assert_eq!(out.stats.files, 3);
}

#[tokio::test]
async fn missing_columns_fail_the_source_naming_them_all() {
    let err = source(Some("missing_columns")).fetch(&test_context(&fixtures())).await.unwrap_err();
    let SourceError::MissingColumns { path, missing, .. } = &err else { panic!("{err}") };
    assert!(path.ends_with("budongchan_01.csv"));
    assert_eq!(missing, &["建筑面积", "状态"]);
}

#[tokio::test]
async fn a_gbk_file_is_refused_with_the_encoding_named() {
    let err = source(Some("gbk")).fetch(&test_context(&fixtures())).await.unwrap_err();
    assert!(matches!(err, SourceError::BadFile { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("budongchan_01.csv") && msg.contains("GBK"), "{msg}");
    // …and read when the config says so.
    let cfg = SourceConfig {
        code: "housing".into(),
        kind: "housing".into(),
        enabled: true,
        settings: [("folder".to_string(), serde_json::json!("gbk")), ("encoding".to_string(), serde_json::json!("gbk"))].into_iter().collect(),
    };
    let out = check_source_compliance(hedui_housing::factory(&cfg).unwrap().as_ref(), &test_context(&fixtures())).await;
    assert_eq!(out.records.properties[0].owner_name, "叶静燕");
}

#[tokio::test]
async fn a_header_only_file_is_a_note_and_no_file_at_all_is_unavailable() {
    let out = check_source_compliance(source(Some("empty_rows")).as_ref(), &test_context(&fixtures())).await;
    assert!(out.records.is_empty());
    assert_eq!(out.notes, ["housing/budongchan_01.csv had no data rows"]);
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("housing")).unwrap();
    let err = source(None).fetch(&test_context(dir.path())).await.unwrap_err();
    assert!(matches!(err, SourceError::Unavailable(_)) && err.to_string().contains("budongchan_*.csv"), "{err}");
}

#[test]
fn settings_are_checked() {
    let cfg = SourceConfig { code: "housing".into(), kind: "housing".into(), enabled: true, settings: [("patern".to_string(), serde_json::json!("x"))].into_iter().collect() };
    let err = hedui_housing::factory(&cfg).err().unwrap().to_string();
    assert!(err.contains("patern"), "{err}");
    let cfg = SourceConfig { code: "housing".into(), kind: "housing".into(), enabled: true, settings: [("encoding".to_string(), serde_json::json!("latin1"))].into_iter().collect() };
    assert!(hedui_housing::factory(&cfg).err().unwrap().to_string().contains("latin1"));
}

#[tokio::test]
async fn the_sample_world_delivery() {
    let out = check_source_compliance(source(None).as_ref(), &test_context(&sample_inbox())).await;
    let p = &out.records.properties;
    assert_eq!(p.len(), 55);
    assert!(out.quarantine.is_empty(), "{:?}", out.quarantine);
    assert_eq!(out.stats.rows_read, 55);
    assert_eq!(p[1].owner_name, " 钱荣畅");
    assert_eq!(p[1].origin, Origin::new("budongchan_01.csv", 3));
    assert_eq!(p[6].area_centi_m2, 15680); // 156.80
    assert_eq!(p[7].usage, "其他");
    assert_eq!(p[7].registered, d(2024, 11, 26));
    assert_eq!(p.iter().filter(|r| r.status == "查封").count(), 2);
}
