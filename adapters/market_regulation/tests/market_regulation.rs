//! The market-regulation adapter against committed JSON Lines fixtures and
//! the sample world's real delivery.

use std::collections::BTreeMap;
use std::path::PathBuf;

use chrono::NaiveDate;
use hedui_adapter::harness::{check_source_compliance, test_context};
use hedui_adapter::{Source, SourceConfig, SourceError};
use hedui_core::model::BusinessRole;

fn fixtures_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"))
}

fn sample_inbox() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/gz-60-2026-11-26/inbox"))
}

fn source(settings: &[(&str, &str)]) -> Box<dyn Source> {
    let settings: BTreeMap<String, serde_json::Value> = settings.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
    let cfg = SourceConfig { code: "market_regulation".into(), kind: hedui_market_regulation::TYPE_NAME.into(), enabled: true, settings };
    hedui_market_regulation::factory(&cfg).expect("valid config")
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn at<'a>(records: &'a [BusinessRole], file: &str, line: u64) -> &'a BusinessRole {
    records.iter().find(|r| *r.origin.file == *file && r.origin.line == line).unwrap_or_else(|| panic!("no record from {file} line {line}"))
}

#[tokio::test]
async fn reads_every_quirk_and_quarantines_bad_lines_by_number() {
    let src = source(&[]);
    let cx = test_context(&fixtures_root());
    let out = check_source_compliance(src.as_ref(), &cx).await;
    let b = &out.records.business;

    let lines: Vec<(&str, u64)> = b.iter().map(|r| (r.origin.file.as_ref(), r.origin.line)).collect();
    assert_eq!(
        lines,
        [("qiye_01.jsonl", 1), ("qiye_01.jsonl", 3), ("qiye_01.jsonl", 5), ("qiye_01.jsonl", 9), ("qiye_01.jsonl", 11), ("qiye_02.jsonl", 1), ("qiye_02.jsonl", 2)]
    );

    let r = at(b, "qiye_01.jsonl", 1);
    assert_eq!(
        (r.uscc.as_str(), r.entity_type.as_str(), r.status.as_str(), r.role.as_str(), r.person_id_raw.as_str(), r.person_name.as_str()),
        ("91520102MA6A000001", "企业", "存续", "法定代表人", "520103810905153", "张三")
    );
    assert_eq!((r.registered_capital_fen, r.established), (Some(50_000_000), d(2020, 1, 18)), "50 万元 = 500,000.00 yuan");
    // Empty capital = unknown; the ID is raw, full-width with U+3000 and a trailing space.
    let r = at(b, "qiye_01.jsonl", 3);
    assert_eq!((r.registered_capital_fen, r.person_id_raw.as_str()), (None, "\u{3000}５２０１１１１９７５１２０５１０９７ "));
    // Four decimals of 万元 are exact; lowercase x kept.
    let r = at(b, "qiye_01.jsonl", 5);
    assert_eq!((r.registered_capital_fen, r.person_id_raw.as_str()), (Some(12_345_600), "52011119930618260x"));
    // An exact duplicate line is delivered again (the engine merges repeats).
    assert_eq!(BusinessRole { origin: at(b, "qiye_01.jsonl", 1).origin.clone(), ..at(b, "qiye_01.jsonl", 9).clone() }, *at(b, "qiye_01.jsonl", 1));
    // A capital written as a bare number; a CRLF line end.
    assert_eq!(at(b, "qiye_01.jsonl", 11).registered_capital_fen, Some(100_000_000));
    // BOM on the first line, JSON escapes, slash date, unknown extra fields ignored.
    let r = at(b, "qiye_02.jsonl", 1);
    assert_eq!((r.status.as_str(), r.registered_capital_fen), ("注销", Some(800_000_000)));
    let r = at(b, "qiye_02.jsonl", 2);
    assert_eq!((r.entity_name.as_str(), r.person_name.as_str(), r.established, r.registered_capital_fen), ("张三商行", "张三", d(2021, 6, 1), Some(500_000)));

    let q: Vec<(&str, u64, &str)> = out.quarantine.iter().map(|q| (q.file.as_str(), q.line, q.field.as_str())).collect();
    assert_eq!(
        q,
        [
            ("qiye_01.jsonl", 4, ""),
            ("qiye_01.jsonl", 6, "registered_capital_wan"),
            ("qiye_01.jsonl", 7, "established"),
            ("qiye_01.jsonl", 8, "person_id"),
            ("qiye_01.jsonl", 12, ""),
        ]
    );
    assert!(out.quarantine[0].reason.starts_with("not valid JSON"), "{:?}", out.quarantine[0]);
    assert!(out.quarantine[0].raw_value.contains("MA6BROKEN"));
    assert!(out.quarantine[1].reason.contains("more than 4 decimals"), "{:?}", out.quarantine[1]);
    assert_eq!(out.quarantine[1].raw_value, "1.23456");
    assert_eq!(out.quarantine[2].raw_value, "2022-13-01");
    assert_eq!(out.quarantine[3].reason, "required field person_id is missing");
    assert_eq!(out.quarantine[4].reason, "not a JSON object");

    // Blank and whitespace-only lines are not rows.
    assert_eq!((out.stats.files, out.stats.rows_read), (2, 12));
    let reads: Vec<String> = cx.audit.events().iter().filter(|e| e.action == "file_read").map(|e| e.target.clone()).collect();
    assert_eq!(reads, ["qiye_01.jsonl", "qiye_02.jsonl"]);
}

#[tokio::test]
async fn a_file_that_is_not_utf8_fails_the_source_naming_it() {
    let err = source(&[("folder", "market_regulation/not_utf8")]).fetch(&test_context(&fixtures_root())).await.err().unwrap();
    assert!(matches!(err, SourceError::BadFile { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("qiye_01.jsonl") && msg.contains("not valid UTF-8 at line 1"), "{msg}");
}

#[tokio::test]
async fn pattern_and_folder_are_settings() {
    // Only qiye_02 matches.
    let out = source(&[("pattern", "*_02.jsonl")]).fetch(&test_context(&fixtures_root())).await.unwrap();
    assert_eq!(out.records.business.len(), 2);
    assert_eq!(out.stats.files, 1);
    let out = source(&[("pattern", "*.json")]).fetch(&test_context(&fixtures_root())).await.unwrap();
    assert!(out.records.is_empty());
    assert!(out.notes.iter().any(|n| n.contains("*.json")), "{:?}", out.notes);
}

#[tokio::test]
async fn a_large_file_streams_through() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("market_regulation")).unwrap();
    let line = r#"{"uscc":"91520102MA6A000001","entity_name":"某某有限公司","entity_type":"企业","status":"存续","registered_capital_wan":"50","person_id":"520103198109051534","person_name":"张三","role":"股东","established":"2020-01-18"}"#;
    let mut body = String::new();
    for i in 0..20_000 {
        body.push_str(line);
        body.push('\n');
        if i % 1000 == 0 {
            body.push_str("{broken\n");
        }
    }
    std::fs::write(dir.path().join("market_regulation/big.jsonl"), body).unwrap();
    let out = source(&[]).fetch(&test_context(dir.path())).await.unwrap();
    assert_eq!(out.records.business.len(), 20_000);
    assert_eq!(out.quarantine.len(), 20);
    assert_eq!(out.stats.rows_read, 20_020);
    assert_eq!(out.quarantine[1].line, 1003, "line numbers count every physical line");
}

#[tokio::test]
async fn reads_the_sample_world() {
    let src = source(&[]);
    let out = check_source_compliance(src.as_ref(), &test_context(&sample_inbox())).await;
    assert_eq!(out.records.business.len(), 14);
    assert_eq!(out.stats.rows_read, 15);
    // The truncated line is reported with its file and line, never fatal.
    assert_eq!(out.quarantine.len(), 1);
    assert_eq!((out.quarantine[0].file.as_str(), out.quarantine[0].line), ("qiye_01.jsonl", 7));
    assert!(out.quarantine[0].reason.starts_with("not valid JSON"));

    let b = &out.records.business;
    let first = at(b, "qiye_01.jsonl", 1);
    assert_eq!((first.entity_type.as_str(), first.status.as_str(), first.registered_capital_fen), ("个体工商户", "存续", None));
    assert_eq!(at(b, "qiye_01.jsonl", 4).registered_capital_fen, Some(800_000_000), "800 万元");
    assert_eq!(at(b, "qiye_02.jsonl", 1).person_id_raw, "\u{3000}520382198001171995 ");
    assert!(b.iter().any(|r| r.person_id_raw == "520221811224863" && r.established == d(2017, 9, 13)));
    assert!(b.iter().any(|r| r.established == d(2027, 2, 17)), "records dated after D are the engine's to ignore");
}
