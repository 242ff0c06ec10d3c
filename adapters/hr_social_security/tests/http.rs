//! The HR adapter against the simulated department, over real HTTP on loopback.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{Duration, NaiveDate};
use hedui_adapter::{AuditLog, PersonRequest, Progress, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_hr_social_security::{factory, TARGET, TYPE_NAME};
use hedui_simulator::gen::{legacy_form, make_id, write_api_dir};
use hedui_simulator::{start, Endpoint, SimConfig, SimHandle};
use serde_json::{json, Value};

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

/// Remembers the last progress report.
#[derive(Default)]
struct LastProgress(Mutex<Option<(String, u64, u64)>>);
impl Progress for LastProgress {
    fn update(&self, source: &str, done: u64, total: u64) {
        *self.0.lock().unwrap() = Some((source.to_string(), done, total));
    }
}

struct Run {
    cx: SourceContext,
    audit: Arc<AuditLog>,
    progress: Arc<LastProgress>,
}

fn context(requests: Vec<PersonRequest>) -> Run {
    let audit = Arc::new(AuditLog::in_memory("run-7"));
    let progress = Arc::new(LastProgress::default());
    let cx = SourceContext {
        as_of: as_of(),
        batch_id: "20261126".into(),
        run_id: "run-7".into(),
        inbox: PathBuf::from("/nonexistent"),
        outbox: PathBuf::from("/nonexistent"),
        requests: Arc::new(requests),
        audit: audit.clone(),
        progress: progress.clone(),
    };
    Run { cx, audit, progress }
}

fn config(sim: &SimHandle, extra: &[(&str, Value)]) -> SourceConfig {
    let mut cfg = SourceConfig { code: "hr_social_security".into(), kind: TYPE_NAME.into(), ..Default::default() };
    cfg.settings.insert("url".into(), json!(sim.hr_url()));
    cfg.settings.insert("token".into(), json!("hr-test-token"));
    cfg.settings.insert("backoff_base_ms".into(), json!(2));
    for (k, v) in extra {
        cfg.settings.insert(k.to_string(), v.clone());
    }
    cfg
}

/// Fetches, and checks the adapter model's invariants on every output (the
/// shared compliance harness).
async fn fetch(cfg: &SourceConfig, run: &Run) -> Result<SourceOutput, SourceError> {
    let source = factory(cfg).unwrap();
    let out = source.fetch(&run.cx).await?;
    hedui_adapter::harness::check_output_invariants(&*source, &out, &run.audit.events());
    Ok(out)
}

fn result(id_number: &str, name: &str, base_fen: i64) -> Value {
    json!({"id_number": id_number, "name": name,
        "contributions": [{"month": "2026-09", "employer_code": "E520103000001", "employer_type": "企业", "base_fen": base_fen}],
        "pensions": [], "unemployment": []})
}

/// `n` persons, sorted by ID as the runner gives them; the households'
/// authorization numbers are shared by five persons each.
fn persons(n: u32) -> Vec<PersonRequest> {
    let born = NaiveDate::from_ymd_opt(1950, 1, 1).unwrap();
    let mut v: Vec<PersonRequest> = (0..n)
        .map(|i| PersonRequest {
            id: make_id("520103", born + Duration::days((i / 10) as i64), 100 + i % 10),
            name: format!("人{i}"),
            auth_no: format!("SQ{:07}", i / 5),
            age: 50,
        })
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

/// A world holding an HR result for every person (some stored under their
/// legacy 15-digit ID), and one extra result appended for every 1000th.
fn world(requests: &[PersonRequest]) -> (tempfile::TempDir, PathBuf, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let mut hr_persons = serde_json::Map::new();
    let mut extras = serde_json::Map::new();
    let mut extra_ids = Vec::new();
    for (i, p) in requests.iter().enumerate() {
        let stored = if i % 7 == 0 { legacy_form(&p.id) } else { p.id.clone() };
        hr_persons.insert(p.id.clone(), result(&stored, &p.name, 300_000 + i as i64));
        if i % 1000 == 0 {
            let stranger = make_id("520402", NaiveDate::from_ymd_opt(1992, 10, 9).unwrap(), i as u32 / 1000);
            extras.insert(p.id.clone(), json!([result(&stranger, "陌生人", 1)]));
            extra_ids.push(stranger);
        }
    }
    let hr = json!({"behavior": {"always_503": false}, "persons": hr_persons, "extras": extras});
    let api = write_api_dir(dir.path(), &hr, &json!({"behavior": {}, "students": {}})).unwrap();
    (dir, api, extra_ids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_through_ten_thousand_persons_retrying_every_injected_fault() {
    let requests = persons(10_000);
    let (_dir, api, extra_ids) = world(&requests);
    let sim = start(&api, SimConfig { fail_every_nth: Some(7), ..SimConfig::default() }).await.unwrap();
    let run = context(requests.clone());
    let out = fetch(&config(&sim, &[]), &run).await.unwrap();

    // Everyone's result plus the ten extras, nothing failed or quarantined.
    assert_eq!(out.records.hr.len(), 10_010);
    assert!(out.failed_persons.is_empty(), "{:?}", out.notes);
    assert!(out.quarantine.is_empty());
    assert!(out.notes.is_empty(), "{:?}", out.notes);
    assert_eq!(out.stats.rows_read, 10_010);

    // Delivery order: batch 1 first, its results in page order.
    let first = &out.records.hr[0];
    assert_eq!(first.origin.file.to_string(), format!("{TARGET}#1"));
    assert_eq!(first.origin.line, 1);
    assert_eq!(first.id_raw, legacy_form(&requests[0].id), "IDs are carried as HR returned them");
    assert_eq!(out.records.hr[1].origin.line, 2);
    assert_eq!(first.contributions[0].base_fen, 300_000);
    assert_eq!(first.contributions[0].month, NaiveDate::from_ymd_opt(2026, 9, 1).unwrap());
    assert_eq!(out.records.hr[1].id_raw, extra_ids[0], "the extra comes right after the person it hangs on");
    let last = out.records.hr.last().unwrap();
    assert_eq!(last.origin.file.to_string(), format!("{TARGET}#50"));
    assert_eq!(last.id_raw, requests[9_999].id);
    // Every extra (a stranger nobody asked about) comes back as a record.
    for x in &extra_ids {
        assert!(out.records.hr.iter().any(|r| &r.id_raw == x), "extra {x} missing");
    }

    // The department saw faults, and each was retried to success.
    let st = sim.stats(Endpoint::Hr);
    assert!(st.injected_faults >= 14, "{st:?}");
    assert!(st.too_many_requests > 0 && st.unavailable > 0, "{st:?}");
    assert_eq!(st.too_many_requests + st.unavailable, st.injected_faults);
    // 50 batches of 200 results (+ extras) at 150 a page: 2 pages each.
    assert_eq!(st.ok, 100);
    assert_eq!(out.stats.requests, st.requests);
    assert_eq!(out.stats.retries, st.injected_faults);

    // One audit line per request sent, pages and retries included.
    let events = run.audit.events();
    assert_eq!(events.len() as u64, st.requests);
    assert!(events.iter().all(|e| e.source == "hr_social_security" && e.target == TARGET && e.run_id == "run-7"));
    assert!(events.iter().all(|e| e.persons == 200 && e.auth_nos.len() == 40), "five persons share an auth_no");
    let count = |f: &dyn Fn(&hedui_adapter::AuditEvent) -> bool| events.iter().filter(|e| f(e)).count() as u64;
    assert_eq!(count(&|e| e.outcome == "ok"), 100);
    assert_eq!(count(&|e| e.outcome == "http 429"), st.too_many_requests);
    assert_eq!(count(&|e| e.outcome == "http 503"), st.unavailable);
    assert_eq!(count(&|e| e.action == "request" && e.outcome == "ok"), 50);
    assert_eq!(count(&|e| e.action == "page" && e.outcome == "ok"), 50);
    assert_eq!(count(&|e| e.attempt == 2), st.injected_faults);
    // No ID in any audit line.
    let audit_text = format!("{events:?}");
    assert!(!requests.iter().take(50).any(|p| audit_text.contains(&p.id)));

    // Only the requested persons were sent, each with their own auth_no.
    let asked = sim.asked(Endpoint::Hr);
    let expected: BTreeMap<String, String> = requests.iter().map(|p| (p.id.clone(), p.auth_no.clone())).collect();
    assert_eq!(asked, expected);
    let windows: Vec<_> = sim.hr_windows().into_iter().collect();
    assert_eq!(windows, [("2026-11-26".to_string(), "2025-11".to_string(), "2026-10".to_string())]);

    assert_eq!(*run.progress.0.lock().unwrap(), Some(("hr_social_security".into(), 10_000, 10_000)));
}

#[tokio::test]
async fn a_wrong_token_fails_the_source_at_once() {
    let requests = persons(1000);
    let (_dir, api, _) = world(&requests);
    let sim = start(&api, SimConfig::default()).await.unwrap();
    let run = context(requests);
    let cfg = config(&sim, &[("token", json!("not-the-token")), ("max_in_flight", json!(1))]);
    let err = fetch(&cfg, &run).await.unwrap_err();
    assert!(matches!(err, SourceError::Unavailable(_)));
    let msg = err.to_string();
    assert_eq!(msg, "HR rejected the token: check HEDUI_HR_TOKEN");
    assert!(!msg.contains("not-the-token"));
    // Not retried, and no further batch was sent after the 401.
    assert_eq!(sim.stats(Endpoint::Hr).unauthorized, 1);
    assert_eq!(sim.stats(Endpoint::Hr).requests, 1);
    assert_eq!(run.audit.events()[0].outcome, "http 401");
}

#[tokio::test]
async fn a_department_that_is_down_makes_the_source_unavailable() {
    let requests = persons(6000);
    let (_dir, api, _) = world(&requests);
    let sim = start(&api, SimConfig::default()).await.unwrap();
    sim.set_down(true);
    let run = context(requests);
    let cfg = config(&sim, &[("max_retries", json!(2)), ("max_in_flight", json!(2))]);
    let err = fetch(&cfg, &run).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("HR department is down"), "{msg}");
    assert!(msg.contains("http 503"), "{msg}");
    // It stopped asking after 4 batches in a row went unanswered (2 × max_in_flight),
    // instead of waiting out the retries of all 30.
    let st = sim.stats(Endpoint::Hr);
    assert_eq!(st.unavailable, st.requests);
    assert!(st.requests <= (4 + 2) * 3, "{st:?}");
    assert_eq!(run.audit.events().len() as u64, st.requests);

    // Back up: the same source works.
    sim.set_down(false);
    let out = fetch(&cfg, &run).await.unwrap();
    assert_eq!(out.records.hr.len(), 6000 + 6);
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_retried_then_reported() {
    let requests = persons(300);
    let (_dir, api, _) = world(&requests);
    let slow = SimConfig { latency: hedui_simulator::Latency::Fixed(std::time::Duration::from_millis(400)), ..SimConfig::default() };
    let sim = start(&api, slow).await.unwrap();
    let run = context(requests.clone());
    let cfg = config(&sim, &[("timeout_ms", json!(50)), ("max_retries", json!(1))]);
    let msg = fetch(&cfg, &run).await.unwrap_err().to_string();
    assert!(msg.contains("HR department is down") && msg.contains("timeout"), "{msg}");
    let events = run.audit.events();
    assert_eq!(events.len(), 4, "2 batches × 2 attempts");
    assert!(events.iter().all(|e| e.outcome == "timeout"));

    // Nothing listening any more: connection errors.
    let cfg = config(&sim, &[("max_retries", json!(1))]);
    sim.shutdown().await;
    let run = context(requests);
    let msg = fetch(&cfg, &run).await.unwrap_err().to_string();
    assert!(msg.contains("connection error"), "{msg}");
}

#[tokio::test]
async fn a_failed_batch_marks_only_its_persons_unavailable() {
    let mut requests = persons(2000);
    let (_dir, api, _) = world(&requests);
    let sim = start(&api, SimConfig { fail_every_nth: Some(3), ..SimConfig::default() }).await.unwrap();
    // No retries: every 3rd request sent fails for good.
    let run = context(requests.clone());
    let out = fetch(&config(&sim, &[("max_retries", json!(0)), ("batch_size", json!(100))]), &run).await.unwrap();
    // 20 batches of 100 results in one page each: 6 failed.
    assert_eq!(out.stats.requests, 20);
    assert_eq!(out.failed_persons.len(), 600);
    assert_eq!(out.records.hr.len() + out.failed_persons.len(), 2000 + 2 - extras_in_failed(&out, &requests));
    assert!(out.notes[0].starts_with("6 of 20 HR requests failed"), "{:?}", out.notes);
    let failed: std::collections::BTreeSet<&str> = out.failed_persons.iter().map(String::as_str).collect();
    assert!(out.records.hr.iter().all(|r| !failed.contains(r.id_raw.as_str())));

    // A malformed request (a person without auth_no) fails its batch: 400, not retried.
    requests[150].auth_no = String::new();
    let sim = start(&api, SimConfig::default()).await.unwrap();
    let run = context(requests.clone());
    let out = fetch(&config(&sim, &[("batch_size", json!(100))]), &run).await.unwrap();
    assert_eq!(out.failed_persons, requests[100..200].iter().map(|p| p.id.clone()).collect::<Vec<_>>());
    assert_eq!(sim.stats(Endpoint::Hr).bad_request, 1);
    assert_eq!(out.stats.retries, 0);
    assert!(out.notes[0].contains("request 2 (100 persons): http 400"), "{:?}", out.notes);
}

/// Extras attached to persons of failed batches are lost with their batch.
fn extras_in_failed(out: &SourceOutput, requests: &[PersonRequest]) -> usize {
    requests.iter().enumerate().filter(|(i, p)| i % 1000 == 0 && out.failed_persons.contains(&p.id)).count()
}

#[tokio::test]
async fn an_unreadable_result_is_quarantined_and_its_person_marked_failed() {
    let requests = persons(3);
    let dir = tempfile::tempdir().unwrap();
    let mut bad = result(&requests[1].id, "坏", 1);
    bad["contributions"][0]["month"] = json!("2026年9月");
    let hr = json!({"persons": {
        requests[0].id.clone(): result(&requests[0].id, "甲", 1),
        requests[1].id.clone(): bad,
        requests[2].id.clone(): "not an object"
    }});
    let api = write_api_dir(dir.path(), &hr, &json!({"students": {}})).unwrap();
    let sim = start(&api, SimConfig::default()).await.unwrap();
    let run = context(requests.clone());
    let out = fetch(&config(&sim, &[]), &run).await.unwrap();
    assert_eq!(out.records.hr.len(), 1);
    assert_eq!(out.quarantine.len(), 2);
    let q = &out.quarantine[0];
    assert_eq!((q.file.as_str(), q.line, q.field.as_str(), q.raw_value.as_str()), (TARGET_1, 2, "contributions[0].month", "2026年9月"));
    assert!(q.reason.contains("not a month"), "{}", q.reason);
    assert_eq!(out.quarantine[1].line, 3);
    assert_eq!(out.quarantine[1].reason, "result is not a JSON object");
    // The person whose data could not be read counts as not obtained.
    assert_eq!(out.failed_persons, vec![requests[1].id.clone()]);
    assert_eq!(out.stats.rows_read, 3);
}

const TARGET_1: &str = "POST /v1/persons/query#1";

#[tokio::test]
async fn nobody_to_ask_sends_nothing() {
    let (_dir, api, _) = world(&persons(1));
    let sim = start(&api, SimConfig::default()).await.unwrap();
    let run = context(Vec::new());
    let out = fetch(&config(&sim, &[]), &run).await.unwrap();
    assert!(out.records.is_empty());
    assert_eq!(sim.total().requests, 0);
}

/// The sample world's HR server, asked about the roster's members.
#[tokio::test]
async fn sample_world() {
    let world = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/gz-60-2026-11-26"));
    let requests = roster_requests(&world);
    assert!(requests.len() > 100);
    let sim = start(&world.join("api"), SimConfig::default()).await.unwrap();
    let run = context(requests.clone());
    let out = fetch(&config(&sim, &[]), &run).await.unwrap();

    let hr: Value = serde_json::from_slice(&std::fs::read(world.join("api/hr.json")).unwrap()).unwrap();
    let held = requests.iter().filter(|p| hr["persons"].get(&p.id).is_some()).count();
    let extras: usize =
        requests.iter().filter_map(|p| hr["extras"].get(&p.id)).map(|l| l.as_array().unwrap().len()).sum();
    assert!(extras > 0);
    assert_eq!(out.records.hr.len(), held + extras);
    assert!(out.quarantine.is_empty() && out.failed_persons.is_empty());

    let cao = out.records.hr.iter().find(|r| r.id_raw == "520103198109051534").unwrap();
    assert_eq!(cao.name, "曹洋");
    assert!(cao.contributions.iter().all(|c| c.employer_type == "灵活就业"));
    // The unrequested person the department appends.
    assert!(out.records.hr.iter().any(|r| r.id_raw == "520402199210090110"));
    // IDs stored in legacy form come back raw.
    assert!(out.records.hr.iter().any(|r| r.id_raw == "520103890918280"));
    assert_eq!(sim.asked(Endpoint::Hr).len(), requests.len());
}

/// Every valid member ID of the sample roster with its household's auth_no.
fn roster_requests(world: &std::path::Path) -> Vec<PersonRequest> {
    let households = std::fs::read_to_string(world.join("inbox/roster/households.csv")).unwrap();
    let auth: BTreeMap<String, String> = households
        .lines()
        .skip(1)
        .map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            (f[0].to_string(), f[9].to_string())
        })
        .collect();
    let members = std::fs::read_to_string(world.join("inbox/roster/members.csv")).unwrap();
    let mut out: BTreeMap<String, PersonRequest> = BTreeMap::new();
    for l in members.lines().skip(1) {
        let f: Vec<&str> = l.split(',').collect();
        let Ok(id) = hedui_core::identity::parse_id(f[1], as_of()) else { continue };
        let auth_no = auth[f[0]].clone();
        if auth_no.is_empty() {
            continue;
        }
        let age = id.age_on(as_of());
        out.insert(id.to_string(), PersonRequest { id: id.to_string(), name: f[2].to_string(), auth_no, age });
    }
    out.into_values().collect()
}
