//! The generic `mapped_file` adapter, configured by the shipped TOML mappings
//! `config/sources/{disability,housing}.mapped.toml`, gives exactly the coded
//! `disability` and `housing` adapters' records (origins included),
//! quarantine and counts, on the sample world and on every fixture folder.
//! Two mappings written here read public_security's GBK files as the coded
//! adapter does.

use std::path::{Path, PathBuf};

use hedui_adapter::harness::{check_source_compliance, test_context};
use hedui_adapter::{Registry, Source, SourceConfig, SourceError, SourceOutput};

fn repo() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).to_path_buf()
}

fn sample_inbox() -> PathBuf {
    repo().join("../shared/samples/gz-60-2026-11-26/inbox")
}

/// Loads the one `[sources.<code>]` table of a shipped mapping file.
fn load_mapping(file: &str) -> SourceConfig {
    let text = std::fs::read_to_string(repo().join("config/sources").join(file)).unwrap();
    let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
    let sources = doc["sources"].as_table().expect("a [sources] table");
    assert_eq!(sources.len(), 1, "{file}: one source per mapping file");
    let (code, table) = sources.iter().next().unwrap();
    let mut cfg: SourceConfig = table.clone().try_into().unwrap_or_else(|e| panic!("{file}: {e}"));
    cfg.code = code.clone();
    cfg
}

fn registry() -> Registry {
    let mut r = Registry::new();
    r.register(hedui_adapter::mapped::TYPE_NAME, hedui_adapter::mapped::factory)
        .register(hedui_disability::TYPE_NAME, hedui_disability::factory)
        .register(hedui_housing::TYPE_NAME, hedui_housing::factory);
    r
}

/// The coded and the mapped source for `code`, with extra settings on both.
fn pair(code: &str, mapping: &str, extra: &[(&str, &str)]) -> (Box<dyn Source>, Box<dyn Source>) {
    let mut coded = SourceConfig { code: code.into(), kind: code.into(), enabled: true, ..Default::default() };
    let mut mapped = load_mapping(mapping);
    assert_eq!(mapped.code, code);
    assert_eq!(mapped.kind, "mapped_file");
    for (k, v) in extra {
        coded.settings.insert(k.to_string(), serde_json::json!(v));
        mapped.settings.insert(k.to_string(), serde_json::json!(v));
    }
    let r = registry();
    (r.build(&coded).unwrap(), r.build(&mapped).unwrap())
}

/// Runs both through the compliance harness and compares everything.
async fn assert_same(code: &str, mapping: &str, inbox: &Path, extra: &[(&str, &str)]) -> SourceOutput {
    let (coded, mapped) = pair(code, mapping, extra);
    let a = check_source_compliance(coded.as_ref(), &test_context(inbox)).await;
    let b = check_source_compliance(mapped.as_ref(), &test_context(inbox)).await;
    assert!(!a.records.is_empty() || !a.quarantine.is_empty() || !a.notes.is_empty(), "nothing read in {}", inbox.display());
    assert_eq!(a.records, b.records, "{code} records differ for {} {extra:?}", inbox.display());
    let key = |o: &SourceOutput| o.quarantine.iter().map(|q| (q.file.clone(), q.line, q.raw_value.clone())).collect::<Vec<_>>();
    assert_eq!(key(&a), key(&b), "{code} quarantine differs for {} {extra:?}", inbox.display());
    // The mapped adapter names the canonical field and the source header.
    for (qa, qb) in a.quarantine.iter().zip(&b.quarantine) {
        if !qa.field.is_empty() {
            assert!(qb.field.ends_with(&format!(" ({})", qa.field)), "{:?} vs {:?}", qb.field, qa.field);
        }
    }
    assert_eq!(a.stats, b.stats);
    assert_eq!(a.notes, b.notes);
    b
}

#[tokio::test]
async fn disability_mapping_matches_the_coded_adapter() {
    let out = assert_same("disability", "disability.mapped.toml", &sample_inbox(), &[]).await;
    assert_eq!(out.records.disability.len(), 18);
    let fixtures = repo().join("fixtures/disability");
    let out = assert_same("disability", "disability.mapped.toml", &fixtures, &[("folder", "quirks")]).await;
    assert_eq!((out.records.disability.len(), out.quarantine.len()), (9, 7));
    assert_eq!(out.quarantine[0].field, "level (残疾等级)");
    assert_same("disability", "disability.mapped.toml", &fixtures, &[("folder", "gbk"), ("encoding", "gbk")]).await;
}

#[tokio::test]
async fn housing_mapping_matches_the_coded_adapter() {
    let out = assert_same("housing", "housing.mapped.toml", &sample_inbox(), &[]).await;
    assert_eq!(out.records.properties.len(), 55);
    let fixtures = repo().join("fixtures/housing");
    let out = assert_same("housing", "housing.mapped.toml", &fixtures, &[("folder", "quirks")]).await;
    assert_eq!((out.records.properties.len(), out.quarantine.len()), (8, 8));
    assert_eq!(out.quarantine[0].field, "area_centi_m2 (建筑面积)");
    assert_same("housing", "housing.mapped.toml", &fixtures, &[("folder", "empty_rows")]).await;
    assert_same("housing", "housing.mapped.toml", &fixtures, &[("folder", "gbk"), ("encoding", "gbk")]).await;
}

/// The failures agree too: same file, same missing columns.
#[tokio::test]
async fn failures_match() {
    for (code, mapping) in [("disability", "disability.mapped.toml"), ("housing", "housing.mapped.toml")] {
        let fixtures = repo().join("fixtures").join(code);
        let cx = test_context(&fixtures);
        let (coded, mapped) = pair(code, mapping, &[("folder", "missing_columns")]);
        let (a, b) = (coded.fetch(&cx).await.unwrap_err(), mapped.fetch(&cx).await.unwrap_err());
        match (&a, &b) {
            (SourceError::MissingColumns { path: pa, missing: ma, .. }, SourceError::MissingColumns { path: pb, missing: mb, .. }) => {
                assert_eq!(pa, pb);
                let headers: Vec<&str> = mb.iter().map(|m| m.split(" (for ").next().unwrap()).collect();
                assert_eq!(ma, &headers);
            }
            _ => panic!("{a} / {b}"),
        }
        let (coded, mapped) = pair(code, mapping, &[("folder", "gbk")]);
        let (a, b) = (coded.fetch(&cx).await.unwrap_err(), mapped.fetch(&cx).await.unwrap_err());
        assert!(matches!((&a, &b), (SourceError::BadFile { path: pa, .. }, SourceError::BadFile { path: pb, .. }) if pa == pb), "{a} / {b}");
    }
}

/// public_security's two file sets as two `mapped_file` sources (registry and
/// vehicle), compared with the coded adapter.
#[tokio::test]
async fn public_security_mappings_match_the_coded_adapter() {
    let registry_columns = serde_json::json!({"household_no": "户号", "id_raw": "公民身份号码", "name": "姓名", "gender": "性别",
        "birth_date": "出生日期", "relation": "与户主关系", "status": "人员状态", "status_date": "状态日期", "region": "行政区划"});
    let vehicle_columns = serde_json::json!({"plate": "号牌号码", "plate_kind": "号牌种类", "vehicle_type": "车辆类型",
        "owner_id_raw": "所有人身份号码", "owner_name": "所有人姓名", "first_registered": "初次登记日期", "status": "机动车状态"});
    let build = |folder: &str, record: &str, pattern: &str, columns: &serde_json::Value| -> Box<dyn Source> {
        let settings = serde_json::json!({"folder": folder, "pattern": pattern, "encoding": "gbk", "record": record, "columns": columns});
        let cfg = SourceConfig { code: "public_security".into(), kind: "mapped_file".into(), enabled: true, settings: serde_json::from_value(settings).unwrap() };
        registry().build(&cfg).unwrap()
    };
    for (inbox, folder) in [(sample_inbox(), "public_security"), (repo().join("fixtures/public_security"), "quirks")] {
        let coded_cfg = SourceConfig {
            code: "public_security".into(),
            kind: "public_security".into(),
            enabled: true,
            settings: [("folder".to_string(), serde_json::json!(folder))].into_iter().collect(),
        };
        let coded = hedui_public_security::factory(&coded_cfg).unwrap();
        let a = check_source_compliance(coded.as_ref(), &test_context(&inbox)).await;
        let cx = test_context(&inbox);
        let mut b = check_source_compliance(build(folder, "registry", "huji_*.csv", &registry_columns).as_ref(), &cx).await;
        let v = check_source_compliance(build(folder, "vehicle", "jdc_*.csv", &vehicle_columns).as_ref(), &cx).await;
        b.records.append(v.records);
        b.quarantine.extend(v.quarantine);
        assert!(!a.records.registry.is_empty() && !a.records.vehicles.is_empty());
        assert_eq!(a.records, b.records, "{folder}");
        let key = |q: &[hedui_adapter::Quarantined]| q.iter().map(|q| (q.file.clone(), q.line, q.raw_value.clone())).collect::<Vec<_>>();
        assert_eq!(key(&a.quarantine), key(&b.quarantine), "{folder}");
    }
}
