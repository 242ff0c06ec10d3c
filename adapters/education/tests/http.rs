//! The education adapter against the simulated department, over real HTTP on loopback.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::NaiveDate;
use hedui_adapter::{AuditLog, PersonRequest, Progress, SourceConfig, SourceContext, SourceError, SourceOutput};
use hedui_education::{factory, TARGET, TYPE_NAME};
use hedui_simulator::gen::{make_id, write_api_dir};
use hedui_simulator::{start, Endpoint, Latency, SimConfig, SimHandle};
use serde_json::{json, Value};

fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

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
    let audit = Arc::new(AuditLog::in_memory("run-9"));
    let progress = Arc::new(LastProgress::default());
    let cx = SourceContext {
        as_of: as_of(),
        batch_id: "20261126".into(),
        run_id: "run-9".into(),
        inbox: PathBuf::from("/nonexistent"),
        outbox: PathBuf::from("/nonexistent"),
        requests: Arc::new(requests),
        audit: audit.clone(),
        progress: progress.clone(),
    };
    Run { cx, audit, progress }
}

fn config(sim: &SimHandle, extra: &[(&str, Value)]) -> SourceConfig {
    let mut cfg = SourceConfig { code: "education".into(), kind: TYPE_NAME.into(), ..Default::default() };
    cfg.settings.insert("url".into(), json!(sim.education_url()));
    cfg.settings.insert("key".into(), json!("edu-test-key"));
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

/// `n` children born 2010–2019, sorted by ID, two per household.
fn children(n: u32) -> Vec<PersonRequest> {
    let mut v: Vec<PersonRequest> = (0..n)
        .map(|i| {
            let born = NaiveDate::from_ymd_opt(2010 + (i % 10) as i32, 1 + i % 12, 1 + i % 28).unwrap();
            PersonRequest {
                id: make_id("520103", born, i),
                name: format!("童{i}"),
                auth_no: format!("SQ{:07}", i / 2),
                age: hedui_core::identity::age_on(born, as_of()),
            }
        })
        .collect();
    v.sort_by(|a, b| a.id.cmp(&b.id));
    v
}

fn reply(p: &PersonRequest, i: usize) -> Value {
    json!({"id_number": p.id, "name": p.name, "birth_date": format!("{}-{}-{}", &p.id[6..10], &p.id[10..12], &p.id[12..14]),
        "enrollments": [{"student_no": format!("G{i:05}"), "school": "第一小学", "stage": "小学", "status": "在读", "since": "2024-09-01"}],
        "aid": [{"program": "义务教育营养改善计划", "academic_year": "2026-2027", "amount_fen": 150000}]})
}

/// Every second child is a student.
fn world(requests: &[PersonRequest]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let students: serde_json::Map<String, Value> =
        requests.iter().enumerate().filter(|(i, _)| i % 2 == 0).map(|(i, p)| (p.id.clone(), reply(p, i))).collect();
    let api = write_api_dir(dir.path(), &json!({"persons": {}}), &json!({"behavior": {}, "students": students})).unwrap();
    (dir, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sustains_close_to_twenty_calls_a_second_without_a_429() {
    let requests = children(100);
    let (_dir, api) = world(&requests);
    let cfg = SimConfig { latency: Latency::Fixed(Duration::from_millis(100)), ..SimConfig::default() };
    let sim = start(&api, cfg).await.unwrap();
    let run = context(requests.clone());
    let started = Instant::now();
    let out = fetch(&config(&sim, &[]), &run).await.unwrap();
    let elapsed = started.elapsed().as_secs_f64();

    let st = sim.stats(Endpoint::Education);
    assert_eq!(st.too_many_requests, 0, "{st:?}");
    assert_eq!(st.requests, 100);
    let rate = st.requests as f64 / elapsed;
    assert!(rate > 15.0, "{rate:.1} calls/s");
    assert!(sim.education_max_in_flight_seen() <= 8);

    assert_eq!(out.records.education.len(), 50);
    assert_eq!(st.not_found, 50, "non-students answer 404 and yield no record");
    assert!(out.failed_persons.is_empty() && out.quarantine.is_empty() && out.notes.is_empty());
    assert_eq!(out.stats.requests, 100);
    assert_eq!(out.stats.rows_read, 50);

    // In request order, labelled by request number.
    let first = &out.records.education[0];
    assert_eq!(first.id_raw, requests[0].id);
    assert_eq!(first.origin.file.to_string(), format!("{TARGET}#1"));
    assert_eq!(out.records.education[1].origin.file.to_string(), format!("{TARGET}#3"));
    assert_eq!(first.enrollments[0].since, NaiveDate::from_ymd_opt(2024, 9, 1).unwrap());
    assert_eq!(first.aid[0].amount_fen, 150000);

    // Only the requested persons were asked, each with their household's auth_no.
    let expected: BTreeMap<String, String> = requests.iter().map(|p| (p.id.clone(), p.auth_no.clone())).collect();
    assert_eq!(sim.asked(Endpoint::Education), expected);

    let events = run.audit.events();
    assert_eq!(events.len(), 100);
    assert!(events.iter().all(|e| e.target == TARGET && e.persons == 1 && e.auth_nos.len() == 1 && e.attempt == 1));
    assert_eq!(events.iter().filter(|e| e.outcome == "http 404").count(), 50);
    assert_eq!(*run.progress.0.lock().unwrap(), Some(("education".into(), 100, 100)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_client_limit_the_departments_429s_are_retried_after_retry_after() {
    let requests = children(50);
    let (_dir, api) = world(&requests);
    let cfg = SimConfig { latency: Latency::Fixed(Duration::from_millis(50)), ..SimConfig::default() };
    let sim = start(&api, cfg).await.unwrap();
    let run = context(requests.clone());
    let out = fetch(&config(&sim, &[("rate_limit_per_s", json!(0)), ("max_retries", json!(8))]), &run).await.unwrap();

    let st = sim.stats(Endpoint::Education);
    assert!(st.too_many_requests > 0, "{st:?}");
    assert!(out.failed_persons.is_empty(), "{:?}", out.notes);
    assert_eq!(out.records.education.len(), 25);
    assert_eq!(out.stats.retries, st.too_many_requests);
    let events = run.audit.events();
    assert_eq!(events.len() as u64, st.requests);
    assert_eq!(events.iter().filter(|e| e.outcome == "http 429").count() as u64, st.too_many_requests);
    assert!(events.iter().any(|e| e.attempt >= 2 && e.outcome != "http 429"));
}

#[tokio::test]
async fn injected_faults_are_retried_to_success() {
    let requests = children(40);
    let (_dir, api) = world(&requests);
    let cfg = SimConfig { fail_every_nth: Some(4), education_calls_per_s: None, ..SimConfig::default() };
    let sim = start(&api, cfg).await.unwrap();
    let run = context(requests);
    let out = fetch(&config(&sim, &[("backoff_base_ms", json!(2)), ("rate_limit_per_s", json!(0))]), &run).await.unwrap();
    let st = sim.stats(Endpoint::Education);
    assert_eq!(st.injected_faults, 10);
    assert_eq!(st.too_many_requests + st.unavailable, 10);
    assert!(out.failed_persons.is_empty());
    assert_eq!(out.records.education.len(), 20);
    assert_eq!(out.stats.requests, 50);
    assert_eq!(out.stats.retries, 10);
    assert_eq!(run.audit.events().len(), 50);
}

#[tokio::test]
async fn a_wrong_key_fails_the_source_at_once() {
    let requests = children(30);
    let (_dir, api) = world(&requests);
    let sim = start(&api, SimConfig::default()).await.unwrap();
    let run = context(requests);
    let cfg = config(&sim, &[("key", json!("wrong-key")), ("max_in_flight", json!(1))]);
    let err = fetch(&cfg, &run).await.unwrap_err();
    assert_eq!(err.to_string(), "education rejected the API key: check HEDUI_EDUCATION_KEY");
    assert_eq!(sim.stats(Endpoint::Education).requests, 1);
}

#[tokio::test]
async fn a_department_that_is_down_makes_the_source_unavailable() {
    let requests = children(200);
    let (_dir, api) = world(&requests);
    let sim = start(&api, SimConfig { down: true, ..SimConfig::default() }).await.unwrap();
    let run = context(requests);
    let cfg = config(&sim, &[("max_retries", json!(1)), ("backoff_base_ms", json!(2)), ("rate_limit_per_s", json!(0))]);
    let err = fetch(&cfg, &run).await.unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("education department is down"), "{msg}");
    // It stopped after 16 persons in a row went unanswered (plus those in flight).
    let st = sim.stats(Endpoint::Education);
    assert!(st.requests <= (16 + 8) * 2, "{st:?}");
    assert_eq!(st.unavailable, st.requests);
}

#[tokio::test]
async fn only_persons_under_thirty_are_asked_and_bad_replies_are_quarantined() {
    let mut requests = children(4);
    let adult = PersonRequest {
        id: make_id("520103", NaiveDate::from_ymd_opt(1996, 11, 26).unwrap(), 1),
        name: "成人".into(),
        auth_no: "SQ9".into(),
        age: 30,
    };
    requests.push(adult.clone());
    let dir = tempfile::tempdir().unwrap();
    let mut broken = reply(&requests[1], 1);
    broken["enrollments"][0]["since"] = json!("2024-13-01");
    let students = json!({
        requests[0].id.clone(): reply(&requests[0], 0),
        requests[1].id.clone(): broken,
        adult.id.clone(): reply(&adult, 9),
    });
    let api = write_api_dir(dir.path(), &json!({}), &json!({"students": students})).unwrap();
    let sim = start(&api, SimConfig::default()).await.unwrap();
    let run = context(requests.clone());
    let out = fetch(&config(&sim, &[]), &run).await.unwrap();

    assert!(!sim.asked(Endpoint::Education).contains_key(&adult.id), "aged 30: never asked");
    assert_eq!(sim.asked(Endpoint::Education).len(), 4);
    assert_eq!(out.records.education.len(), 1);
    let q = &out.quarantine[0];
    assert_eq!((q.file.as_str(), q.line, q.field.as_str(), q.raw_value.as_str()), (format!("{TARGET}#2").as_str(), 1, "enrollments[0].since", "2024-13-01"));
    assert_eq!(out.failed_persons, vec![requests[1].id.clone()]);
    assert_eq!(*run.progress.0.lock().unwrap(), Some(("education".into(), 4, 4)));
}

#[tokio::test]
async fn sample_world() {
    let world = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/gz-60-2026-11-26"));
    let requests = roster_requests(&world);
    let sim = start(&world.join("api"), SimConfig::default()).await.unwrap();
    let run = context(requests.clone());
    let out = fetch(&config(&sim, &[]), &run).await.unwrap();

    let young: Vec<&PersonRequest> = requests.iter().filter(|p| p.age < 30).collect();
    assert!(young.len() < requests.len());
    assert_eq!(sim.asked(Endpoint::Education).len(), young.len());
    let edu: Value = serde_json::from_slice(&std::fs::read(world.join("api/education.json")).unwrap()).unwrap();
    let students = young.iter().filter(|p| edu["students"].get(&p.id).is_some()).count();
    assert!(students > 10);
    assert_eq!(out.records.education.len(), students);
    assert!(out.quarantine.is_empty() && out.failed_persons.is_empty());

    let r = out.records.education.iter().find(|r| r.id_raw == "522601201902064104").unwrap();
    assert_eq!(r.enrollments.len(), 2);
    assert_eq!(r.enrollments[1].since, NaiveDate::from_ymd_opt(2027, 3, 30).unwrap(), "a future date is kept as sent");
    let r = out.records.education.iter().find(|r| r.id_raw == "520502200911305904").unwrap();
    assert_eq!(r.aid[0].amount_fen, 125000);
    assert_eq!(r.birth_date, NaiveDate::from_ymd_opt(2009, 11, 30));
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
