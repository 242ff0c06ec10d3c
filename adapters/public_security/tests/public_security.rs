//! The public-security adapter on hand-made GBK fixtures (every quirk of
//! DEPARTMENTS.md "public_security") and on the sample world's delivery.

use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hedui_adapter::harness::{check_source_compliance, test_context};
use hedui_adapter::{Source, SourceConfig, SourceError};
use hedui_core::model::{Origin, RegistryRow, Vehicle};

fn fixtures() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/public_security")).to_path_buf()
}

fn sample_inbox() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/gz-60-2026-11-26/inbox")).to_path_buf()
}

fn config(settings: &[(&str, &str)]) -> SourceConfig {
    SourceConfig {
        code: "public_security".into(),
        kind: hedui_public_security::TYPE_NAME.into(),
        enabled: true,
        settings: settings.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect(),
    }
}

fn source(folder: &str) -> Box<dyn Source> {
    hedui_public_security::factory(&config(&[("folder", folder)])).unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

#[test]
fn fixtures_are_real_gbk() {
    let bytes = std::fs::read(fixtures().join("quirks/huji_01.csv")).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "the fixture must be GBK bytes, not UTF-8");
}

#[tokio::test]
async fn registry_quirks() {
    let out = check_source_compliance(source("quirks").as_ref(), &test_context(&fixtures())).await;
    let r = &out.records.registry;
    let lines: Vec<(&str, u64)> = r.iter().map(|x| (x.origin.file.as_ref(), x.origin.line)).collect();
    let mut expected: Vec<(&str, u64)> = (2..=12).map(|l| ("huji_01.csv", l)).collect();
    expected.extend([("huji_01.csv", 17), ("huji_02.csv", 2)]);
    assert_eq!(lines, expected);
    assert_eq!(
        r[0],
        RegistryRow {
            origin: Origin::new("huji_01.csv", 2),
            household_no: "520102462825".into(),
            id_raw: "520102194009231365".into(),
            name: "杨霞畅".into(),
            gender: "女".into(),
            birth_date: Some(d(1940, 9, 23)),
            relation: "配偶".into(),
            status: "服刑".into(),
            status_date: Some(d(2024, 11, 2)),
            region: "520102".into(),
        }
    );
    assert_eq!(r[1].status_date, None); // empty 状态日期 = the oldest row of a history
    // A history: two rows for one person, kept in delivery order.
    assert_eq!((r[2].status.as_str(), r[2].status_date, r[3].status.as_str(), r[3].status_date), ("迁出", Some(d(2014, 7, 29)), "正常", Some(d(2023, 10, 3))));
    assert_eq!(r[4].id_raw, " 520102197511033632 ");
    assert_eq!((r[5].name.as_str(), r[5].status.as_str()), ("戴鹏 ", "正常"));
    assert_eq!((r[6].id_raw.as_str(), r[6].birth_date), ("520281800728273", None));
    // An exact repeat is kept (the engine merges it): same values, next line.
    assert_eq!((r[7].origin.line, r[8].origin.line), (9, 10));
    assert_eq!(r[7], RegistryRow { origin: r[7].origin.clone(), ..r[8].clone() });
    assert_eq!(r[9].id_raw, "52040219870129616x");
    assert_eq!(r[10].id_raw, "５２０１０３１９８００６０７５６２１");
    assert_eq!(r[11].name, "迪丽努尔·玉素甫");
    // A CRLF file, status date written YYYY-MM-DD.
    assert_eq!((r[12].status.as_str(), r[12].status_date), ("死亡", Some(d(2026, 5, 7))));

    let q: Vec<(&str, u64, &str, &str)> = out.quarantine.iter().map(|q| (q.file.as_str(), q.line, q.field.as_str(), q.raw_value.as_str())).collect();
    assert_eq!(
        q,
        [
            ("huji_01.csv", 13, "人员状态", "失踪"),
            ("huji_01.csv", 14, "出生日期", "19800230"),
            ("huji_01.csv", 15, "状态日期", "20261301"),
            ("huji_01.csv", 16, "", ""),
            ("jdc_01.csv", 5, "初次登记日期", "2019-02-30"),
            ("jdc_01.csv", 6, "号牌号码", ""),
            ("jdc_01.csv", 7, "机动车状态", "在用"),
        ]
    );
    assert!(out.quarantine[0].reason.contains("正常/死亡/服刑/迁出"), "{:?}", out.quarantine[0]);
    assert!(out.quarantine[1].reason.contains("not a date"), "{:?}", out.quarantine[1]);
    assert!(out.quarantine[3].reason.contains("7 fields, header has 9"), "{:?}", out.quarantine[3]);
    assert!(out.quarantine[6].reason.contains("正常/注销/报废/查封"), "{:?}", out.quarantine[6]);
    assert_eq!((out.stats.rows_read, out.stats.files), (26, 5));
}

#[tokio::test]
async fn vehicle_quirks() {
    let out = source("quirks").fetch(&test_context(&fixtures())).await.unwrap();
    let v = &out.records.vehicles;
    let lines: Vec<(&str, u64)> = v.iter().map(|x| (x.origin.file.as_ref(), x.origin.line)).collect();
    // jdc_01 < jdc_10 < jdc_9, byte-wise.
    assert_eq!(lines, [("jdc_01.csv", 2), ("jdc_01.csv", 3), ("jdc_01.csv", 4), ("jdc_01.csv", 8), ("jdc_10.csv", 2), ("jdc_9.csv", 2)]);
    assert_eq!(
        v[0],
        Vehicle {
            origin: Origin::new("jdc_01.csv", 2),
            plate: "贵E3KQPB".into(),
            plate_kind: "02".into(),
            vehicle_type: "K33".into(),
            owner_id_raw: "520402197011112373".into(),
            owner_name: "陈俊".into(),
            first_registered: d(2023, 8, 5),
            status: "正常".into(),
        }
    );
    assert_eq!((v[2].owner_id_raw.as_str(), v[2].vehicle_type.as_str(), v[2].status.as_str()), (" 52010219751103363x ", "H31", "查封"));
    assert_eq!((v[3].first_registered, v[3].status.as_str()), (d(2019, 2, 1), "报废")); // YYYYMMDD read too
    // The same plate in two files: the later file (jdc_9) comes last.
    assert_eq!((v[4].plate.as_str(), v[4].status.as_str(), v[5].plate.as_str(), v[5].status.as_str()), ("贵A318T3", "正常", "贵A318T3", "注销"));
}

#[tokio::test]
async fn missing_columns_fail_the_source_naming_them_all() {
    let err = source("missing_columns").fetch(&test_context(&fixtures())).await.unwrap_err();
    let SourceError::MissingColumns { path, missing, .. } = &err else { panic!("{err}") };
    assert!(path.ends_with("huji_01.csv"));
    assert_eq!(missing, &["人员状态", "状态日期"]);
}

#[tokio::test]
async fn a_utf8_delivery_is_refused_with_the_cause() {
    let err = source("utf8").fetch(&test_context(&fixtures())).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("huji_01.csv") && msg.contains("UTF-8") && msg.contains("encoding"), "{msg}");
    // Configured as UTF-8, the same files are read.
    let src = hedui_public_security::factory(&config(&[("folder", "utf8"), ("encoding", "utf8")])).unwrap();
    let out = check_source_compliance(src.as_ref(), &test_context(&fixtures())).await;
    assert_eq!((out.records.registry.len(), out.records.vehicles.len()), (12, 1));
}

#[tokio::test]
async fn both_file_sets_must_be_delivered() {
    let err = source("no_vehicles").fetch(&test_context(&fixtures())).await.unwrap_err();
    assert!(matches!(err, SourceError::Unavailable(_)), "{err}");
    assert!(err.to_string().contains("jdc_*.csv"), "{err}");
    // Other patterns can be configured.
    let src = hedui_public_security::factory(&config(&[("folder", "no_vehicles"), ("vehicle_pattern", "huji_*.csv"), ("registry_pattern", "none_*.csv")])).unwrap();
    let err = src.fetch(&test_context(&fixtures())).await.unwrap_err();
    assert!(err.to_string().contains("none_*.csv"), "{err}");
}

#[tokio::test]
async fn the_sample_world_delivery() {
    let src = hedui_public_security::factory(&SourceConfig { code: "public_security".into(), kind: "public_security".into(), enabled: true, ..Default::default() }).unwrap();
    let out = check_source_compliance(src.as_ref(), &test_context(&sample_inbox())).await;
    assert!(out.quarantine.is_empty(), "{:?}", out.quarantine);
    let r = &out.records.registry;
    assert_eq!(r.len(), 177);
    assert_eq!((out.stats.files, out.stats.rows_read), (4, 177 + 18));
    assert_eq!((r[0].name.as_str(), r[0].status.as_str(), r[0].status_date), ("杨霞畅", "服刑", Some(d(2024, 11, 2))));
    assert_eq!(r[1].status_date, None);
    assert_eq!(r[33].id_raw, " 520102197511033632 ");
    let v = &out.records.vehicles;
    assert_eq!(v.len(), 18);
    assert_eq!(v.iter().map(|x| x.origin.file.as_ref()).collect::<std::collections::BTreeSet<_>>().len(), 3);
    assert_eq!((v[16].origin.file.as_ref(), v[16].status.as_str()), ("jdc_10.csv", "正常"));
    assert_eq!((v[17].origin.file.as_ref(), v[17].status.as_str()), ("jdc_9.csv", "注销"));
    assert_eq!(v[1].first_registered, d(2027, 1, 3)); // after D: kept, the engine ignores it
}
