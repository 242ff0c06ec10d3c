//! The banking exchange against committed GBK fixtures and the sample worlds.
//!
//! The shared harness's `check_source_compliance` is not used here: it
//! expects a missing inbox folder to fail with `MissingFolder`, whereas for
//! the exchange a missing folder means "no response yet" (`Unavailable`).
//! The transport-independent `check_output_invariants` is applied instead,
//! plus this source's own audit rules.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use hedui_adapter::harness::{check_output_invariants, test_context_with_requests};
use hedui_adapter::{PersonRequest, Source, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_core::model::{BankBalance, Currency};

fn fixtures_root() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures"))
}

fn samples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples"))
}

fn source(settings: &[(&str, &str)]) -> Box<dyn Source> {
    let settings: BTreeMap<String, serde_json::Value> = settings.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect();
    let cfg = SourceConfig { code: "banking".into(), kind: hedui_banking::TYPE_NAME.into(), enabled: true, settings };
    hedui_banking::factory(&cfg).expect("valid config")
}

fn person(id: &str, name: &str, auth_no: &str) -> PersonRequest {
    PersonRequest { id: id.into(), name: name.into(), auth_no: auth_no.into(), age: 45 }
}

fn persons() -> Vec<PersonRequest> {
    vec![
        person("520103198109051534", "张三", "SQ2026-002"),
        person("52011119930618260X", "王五", "SQ2026-001"),
        person("522722198806230646", "董荣𠀋", "SQ2026-002"),
    ]
}

/// A context reading `inbox` and writing into a fresh temp outbox.
fn context(inbox: &Path, outbox: &Path) -> SourceContext {
    SourceContext { outbox: outbox.to_path_buf(), ..test_context_with_requests(inbox, persons()) }
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

fn at<'a>(b: &'a [BankBalance], file: &str, line: u64) -> &'a BankBalance {
    b.iter().find(|r| *r.origin.file == *file && r.origin.line == line).unwrap_or_else(|| panic!("no balance from {file} line {line}"))
}

async fn fetch(folder: &str) -> (Result<SourceOutput, SourceError>, SourceContext, tempfile::TempDir) {
    let outbox = tempfile::tempdir().unwrap();
    let cx = context(&fixtures_root(), outbox.path());
    let result = source(&[("folder", folder)]).fetch(&cx).await;
    (result, cx, outbox)
}

async fn fetch_err(folder: &str) -> String {
    let (result, cx, outbox) = fetch(folder).await;
    let err = result.expect_err("the source must fail");
    // The request is written whatever the responses hold.
    assert!(outbox.path().join("banking/QRY_20261126.txt").is_file(), "request written even when {folder} fails");
    let reads: Vec<_> = cx.audit.events().into_iter().filter(|e| e.action == "file_read").collect();
    assert!(reads.iter().any(|e| e.outcome.starts_with("error")), "the refused file is audited as refused");
    err.to_string()
}

#[tokio::test]
async fn writes_the_request_and_reads_complete_responses() {
    let src = source(&[]);
    let outbox = tempfile::tempdir().unwrap();
    let cx = context(&fixtures_root(), outbox.path());
    let out = src.fetch(&cx).await.unwrap();
    check_output_invariants(src.as_ref(), &out, &cx.audit.events());

    // The request: GBK, CRLF, one line per requested person, sequenced query numbers,
    // a character GBK lacks written as `?`.
    let bytes = std::fs::read(outbox.path().join("banking/QRY_20261126.txt")).unwrap();
    let (text, _, malformed) = encoding_rs::GBK.decode(&bytes);
    assert!(!malformed);
    assert_eq!(
        text,
        "查询编号|身份证号|姓名|授权书编号\r\n\
         Q202611260000001|520103198109051534|张三|SQ2026-002\r\n\
         Q202611260000002|52011119930618260X|王五|SQ2026-001\r\n\
         Q202611260000003|522722198806230646|董荣?|SQ2026-002\r\n"
    );
    let names: Vec<String> = std::fs::read_dir(outbox.path().join("banking")).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(names, ["QRY_20261126.txt"], "no temp file left behind");

    // Audit: the request (persons, distinct authorizations), then one line per response read.
    let events = cx.audit.events();
    let actions: Vec<(&str, &str)> = events.iter().map(|e| (e.action.as_str(), e.target.as_str())).collect();
    assert_eq!(
        actions,
        [("request_file_written", "QRY_20261126.txt"), ("file_read", "RSP_20261126_001.txt"), ("file_read", "RSP_20261126_002.txt")]
    );
    assert_eq!(events[0].persons, 3);
    assert_eq!(events[0].auth_nos, ["SQ2026-001", "SQ2026-002"]);

    // Records of both files, in name order then line order.
    let b = &out.records.bank_balances;
    let lines: Vec<(&str, u64)> = b.iter().map(|r| (r.origin.file.as_ref(), r.origin.line)).collect();
    assert_eq!(
        lines,
        [
            ("RSP_20261126_001.txt", 2),
            ("RSP_20261126_001.txt", 3),
            ("RSP_20261126_001.txt", 4),
            ("RSP_20261126_001.txt", 5),
            ("RSP_20261126_002.txt", 2),
            ("RSP_20261126_002.txt", 8),
        ]
    );
    let r = at(b, "RSP_20261126_001.txt", 2);
    assert_eq!(
        (r.id_raw.as_str(), r.name.as_str(), r.institution.as_str(), r.account.as_str(), r.account_type.as_str()),
        ("520103198109051534", "张三", "中国建设银行贵州省分行", "6661760313721590109", "活期存款")
    );
    assert_eq!((r.currency, r.balance_cents, r.balance_date), (Currency::Cny, 2_592_000, d(2026, 10, 11)));
    let r = at(b, "RSP_20261126_001.txt", 3);
    assert_eq!((r.id_raw.as_str(), r.currency, r.balance_cents), ("52011119930618260x", Currency::Cny, 123_456_789), "人民币, separators");
    let r = at(b, "RSP_20261126_001.txt", 4);
    assert_eq!((r.id_raw.as_str(), r.name.as_str(), r.currency, r.balance_cents), ("522722880623064", "董荣?", Currency::Usd, 300_050));
    let r = at(b, "RSP_20261126_001.txt", 5);
    assert_eq!((r.currency, r.balance_cents, r.account_type.as_str()), (Currency::Usd, 5, "理财产品"), "美元");
    // The exact repeat in the second file is delivered again (the engine merges it).
    let first = at(b, "RSP_20261126_001.txt", 2);
    assert_eq!(BankBalance { origin: first.origin.clone(), ..at(b, "RSP_20261126_002.txt", 2).clone() }, *first);
    // IDs and names raw; labels trimmed.
    let r = at(b, "RSP_20261126_002.txt", 8);
    assert_eq!((r.id_raw.as_str(), r.name.as_str(), r.currency, r.balance_cents), (" 520103198109051534 ", "张三 ", Currency::Cny, -1_250));

    let q: Vec<(&str, u64, &str, &str)> = out.quarantine.iter().map(|q| (q.file.as_str(), q.line, q.field.as_str(), q.raw_value.as_str())).collect();
    assert_eq!(
        q,
        [
            ("RSP_20261126_002.txt", 3, "币种", "EUR"),
            ("RSP_20261126_002.txt", 4, "余额", "12.345"),
            ("RSP_20261126_002.txt", 5, "余额日期", "20261131"),
            ("RSP_20261126_002.txt", 6, "", "X000105|520103198109051534|张三|贵阳银行|7286023828818574"),
        ]
    );
    assert!(out.quarantine[0].reason.contains("unknown currency"), "{:?}", out.quarantine[0]);
    assert!(out.quarantine[3].reason.contains("5 fields"), "{:?}", out.quarantine[3]);
    // The blank line is not a record; the trailers' counts hold.
    assert_eq!((out.stats.files, out.stats.rows_read, out.stats.requests), (2, 10, 1));
    assert!(out.notes.iter().any(|n| n.contains("RSP_20261125_001.txt") && n.contains("20261126")), "{:?}", out.notes);
}

#[tokio::test]
async fn an_identical_request_is_left_and_a_different_one_replaced() {
    let outbox = tempfile::tempdir().unwrap();
    let qry = outbox.path().join("banking/QRY_20261126.txt");
    let src = source(&[]);
    src.fetch(&context(&fixtures_root(), outbox.path())).await.unwrap();
    let first = std::fs::read(&qry).unwrap();
    let modified = std::fs::metadata(&qry).unwrap().modified().unwrap();

    // Same persons: the file is left as it is.
    let cx = context(&fixtures_root(), outbox.path());
    let out = src.fetch(&cx).await.unwrap();
    assert_eq!(std::fs::read(&qry).unwrap(), first);
    assert_eq!(std::fs::metadata(&qry).unwrap().modified().unwrap(), modified);
    assert!(cx.audit.events()[0].outcome.contains("identical"), "{:?}", cx.audit.events()[0]);
    assert!(!out.notes.iter().any(|n| n.contains("QRY_")), "{:?}", out.notes);

    // One person fewer: replaced, and said so.
    let cx = SourceContext { requests: std::sync::Arc::new(persons()[..2].to_vec()), ..context(&fixtures_root(), outbox.path()) };
    let out = src.fetch(&cx).await.unwrap();
    let bytes = std::fs::read(&qry).unwrap();
    let (text, _, _) = encoding_rs::GBK.decode(&bytes);
    assert_eq!(text.lines().count(), 3);
    assert!(out.notes.iter().any(|n| n.contains("QRY_20261126.txt") && n.contains("replaced")), "{:?}", out.notes);
    assert_eq!(cx.audit.events()[0].persons, 2);
}

#[tokio::test]
async fn the_request_folder_is_a_setting_and_an_empty_request_has_its_header() {
    let outbox = tempfile::tempdir().unwrap();
    let cx = SourceContext { requests: std::sync::Arc::new(Vec::new()), ..context(&fixtures_root(), outbox.path()) };
    source(&[("request_folder", "jinrong/out")]).fetch(&cx).await.unwrap();
    let bytes = std::fs::read(outbox.path().join("jinrong/out/QRY_20261126.txt")).unwrap();
    assert_eq!(encoding_rs::GBK.decode(&bytes).0, "查询编号|身份证号|姓名|授权书编号\r\n");
}

#[tokio::test]
async fn a_response_without_trailer_makes_banking_unavailable() {
    let msg = fetch_err("banking/no_trailer").await;
    assert!(msg.contains("RSP_20261126_001.txt") && msg.contains("incomplete") && msg.contains("no trailer"), "{msg}");
}

#[tokio::test]
async fn a_wrong_count_in_any_file_fails_the_whole_source() {
    let (result, _, _outbox) = fetch("banking/wrong_count").await;
    // The first file is complete, but banking is never half-used.
    match result {
        Err(SourceError::BadFile { path, message }) => {
            assert_eq!(path.file_name().unwrap(), "RSP_20261126_002.txt");
            assert!(message.contains("announces 3 records but the file holds 2"), "{message}");
        }
        other => panic!("expected BadFile, got {other:?}"),
    }
}

#[tokio::test]
async fn a_malformed_trailer_or_data_after_it_fails() {
    let msg = fetch_err("banking/bad_trailer").await;
    assert!(msg.contains("RSP_20261126_001.txt") && msg.contains("malformed trailer") && msg.contains("#END|two"), "{msg}");
    let msg = fetch_err("banking/after_trailer").await;
    assert!(msg.contains("RSP_20261126_001.txt") && msg.contains("after the trailer"), "{msg}");
}

#[tokio::test]
async fn a_utf8_response_is_refused_as_wrong_encoding() {
    let msg = fetch_err("banking/utf8").await;
    assert!(msg.contains("RSP_20261126_001.txt") && msg.contains("UTF-8") && msg.contains("GBK"), "{msg}");
}

#[tokio::test]
async fn a_response_with_wrong_columns_is_refused() {
    let (result, _, _outbox) = fetch("banking/wrong_columns").await;
    match result {
        Err(SourceError::MissingColumns { path, missing, .. }) => {
            assert_eq!(path.file_name().unwrap(), "RSP_20261126_001.txt");
            assert_eq!(missing, ["余额日期"]);
        }
        other => panic!("expected MissingColumns, got {other:?}"),
    }
}

#[tokio::test]
async fn line_feeds_alone_are_tolerated() {
    let (result, _, _outbox) = fetch("banking/lf_only").await;
    let out = result.unwrap();
    assert_eq!(out.records.bank_balances.len(), 2);
}

#[tokio::test]
async fn no_response_for_the_batch_yet_is_unavailable() {
    let (result, _, outbox) = fetch("banking/other_batch_only").await;
    match result {
        Err(SourceError::Unavailable(msg)) => {
            assert!(msg.contains("no banking response for batch 20261126 yet"), "{msg}");
            assert!(msg.contains("other batches ignored: RSP_20261125_001.txt"), "{msg}");
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(outbox.path().join("banking/QRY_20261126.txt").is_file());
    // A missing folder is the same situation: the exchange has not answered.
    let (result, _, _outbox) = fetch("banking/nothing_here").await;
    assert!(matches!(result, Err(SourceError::Unavailable(ref m)) if m.contains("20261126")), "{result:?}");
}

#[tokio::test]
async fn reads_the_sample_world() {
    let src = source(&[]);
    let outbox = tempfile::tempdir().unwrap();
    let cx = context(&samples().join("gz-60-2026-11-26/inbox"), outbox.path());
    let out = src.fetch(&cx).await.unwrap();
    check_output_invariants(src.as_ref(), &out, &cx.audit.events());
    let b = &out.records.bank_balances;
    assert_eq!(b.len(), 125, "62 + 63 records; the 20261125 response is not used");
    assert!(out.quarantine.is_empty(), "{:?}", out.quarantine);
    assert_eq!((out.stats.files, out.stats.rows_read), (2, 125));
    assert!(out.notes.iter().any(|n| n.contains("RSP_20261125_001.txt")), "{:?}", out.notes);
    assert_eq!(b.iter().filter(|r| r.currency == Currency::Usd).count(), 9, "6 USD + 3 美元");
    let r = at(b, "RSP_20261126_001.txt", 2);
    assert_eq!((r.id_raw.as_str(), r.balance_cents, r.balance_date, r.currency), ("520103198109051534", 2_592_000, d(2026, 10, 11), Currency::Cny));
    assert!(b.iter().any(|r| r.name == "董荣?" && r.institution == "华创证券" && r.balance_cents == 300_000));
    assert!(b.iter().any(|r| r.name == "张建国 "), "names are raw");
}

#[tokio::test]
async fn the_no_banking_sample_world_is_unavailable() {
    let outbox = tempfile::tempdir().unwrap();
    let cx = context(&samples().join("gz-60-no-banking/inbox"), outbox.path());
    match source(&[]).fetch(&cx).await {
        Err(SourceError::Unavailable(msg)) => assert!(msg.contains("no banking response for batch 20261126 yet"), "{msg}"),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    assert!(outbox.path().join("banking/QRY_20261126.txt").is_file(), "the request still goes out");
}
