//! `hr_social_security` (人社): contributions (缴费基数), pensions and
//! unemployment benefits, pulled over HTTP in batches (DEPARTMENTS.md).
//!
//! `POST {url}/v1/persons/query` with `Authorization: Bearer <token>`, at
//! most 200 persons a call, each with the `auth_no` of their household's
//! authorization. A reply with a `next_page` is followed by the same body
//! with `"page": <it>` until it is null. Each result becomes one
//! [`HrReply`] carrying the ID exactly as HR returned it (legacy/lowercase
//! forms included), in delivery order: batch by batch, page by page.
//!
//! Failures, from worst to mildest:
//! - 401: the token is wrong; the whole source fails at once.
//! - every batch failed (retries exhausted, or rejected): the department is
//!   down; the source is unavailable.
//! - one batch failed: its persons go to [`SourceOutput::failed_persons`]
//!   (their households become `DEPARTMENT_DATA_UNAVAILABLE`), the rest is used.
//! - one result cannot be read: it is quarantined with its request label and
//!   index, and its person is marked failed too — missing data must never
//!   look like "no income".
//!
//! Settings (`[sources.hr_social_security]`): `url` (required), `token`
//! (required, never logged), `batch_size` (200, at most 200), `max_in_flight`
//! (4), `timeout_ms` (30000), `max_retries` (5), `backoff_base_ms` (200),
//! `down_after_failures` (8: batches in a row that exhausted their retries
//! before HR is deemed down and no more batches are sent).

use std::collections::{BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{Datelike, Months, NaiveDate};
use hedui_adapter::http::{self, DownDetector, HttpError, HttpSettings};
use hedui_adapter::text::parse_month;
use hedui_adapter::{
    AuditEvent, PersonRequest, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput,
};
use hedui_core::identity::parse_id;
use hedui_core::model::{Contribution, FileName, HrReply, MonthlyPayment, Origin, RecordKind, Text};
use reqwest::header::{HeaderValue, AUTHORIZATION};
use serde_json::{json, Value};

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "hr_social_security";
/// The endpoint, as written in audit lines and record origins.
pub const TARGET: &str = "POST /v1/persons/query";
/// Most persons HR accepts in one call.
pub const MAX_BATCH: usize = 200;
/// A reply chain longer than this is a department bug, not data.
const MAX_PAGES: usize = 1000;

/// Builds the HR source from its settings.
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(HrSource::new(cfg)?))
}

/// The HR department over HTTP.
pub struct HrSource {
    inner: Arc<Inner>,
}

struct Inner {
    code: String,
    endpoint: String,
    settings: HttpSettings,
    batch_size: usize,
    /// `Bearer <token>`, marked sensitive.
    auth: HeaderValue,
    client: reqwest::Client,
}

impl std::fmt::Debug for HrSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The token is left out on purpose.
        f.debug_struct("HrSource")
            .field("code", &self.inner.code)
            .field("endpoint", &self.inner.endpoint)
            .field("batch_size", &self.inner.batch_size)
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl HrSource {
    pub fn new(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let settings = HttpSettings::from_config(cfg, 4)?;
        let token = http::required_str(cfg, "token", "the HR bearer token (set HEDUI_HR_TOKEN)")?;
        let auth = http::secret_header(cfg, "token", &format!("Bearer {token}"))?;
        let batch_size = http::setting_u64(cfg, "batch_size", MAX_BATCH as u64)? as usize;
        if !(1..=MAX_BATCH).contains(&batch_size) {
            return Err(SourceError::Config(format!(
                "[sources.{}] batch_size must be 1 to {MAX_BATCH} (HR accepts at most {MAX_BATCH} persons a call), found {batch_size}",
                cfg.code
            )));
        }
        let code = if cfg.code.is_empty() { TYPE_NAME.to_string() } else { cfg.code.clone() };
        Ok(HrSource {
            inner: Arc::new(Inner {
                code,
                endpoint: format!("{}/v1/persons/query", settings.url),
                client: settings.client()?,
                settings,
                batch_size,
                auth,
            }),
        })
    }
}

/// The 12 full calendar months before the as-of month, as `(start, end)`
/// `YYYY-MM`: D = 2026-11-26 → (`2025-11`, `2026-10`).
pub fn window(as_of: NaiveDate) -> (String, String) {
    let first = as_of.with_day(1).expect("day 1 exists");
    let start = first - Months::new(12);
    let end = first - Months::new(1);
    (start.format("%Y-%m").to_string(), end.format("%Y-%m").to_string())
}

/// How one batch ended.
enum BatchEnd {
    /// Every page answered: the results, in order, each read as it arrived
    /// (a page's JSON tree is ~20× its text: holding every page's tree until
    /// the last batch answered was gigabytes at a province's scale).
    Answered(Vec<ReadResult>),
    /// The batch failed; its persons are marked unavailable.
    Failed { reason: String, exhausted: bool },
    /// Not sent: HR was already deemed down.
    Skipped,
}

/// One result of a page, read into a record or explained.
enum ReadResult {
    Record(HrReply),
    Unreadable { bad: Bad, id_number: Option<String> },
}

struct BatchOutcome {
    requests: u64,
    retries: u64,
    received: u64,
    end: BatchEnd,
}

/// The token was rejected: nothing else matters.
struct TokenRejected;

impl Inner {
    fn audit(&self, cx: &SourceContext, action: &str, batch: &[PersonRequest], attempt: u32, outcome: &str) {
        let mut auth_nos: Vec<String> = Vec::new();
        for p in batch {
            if !auth_nos.contains(&p.auth_no) {
                auth_nos.push(p.auth_no.clone());
            }
        }
        let mut e = AuditEvent::new(&self.code, action, TARGET);
        e.auth_nos = auth_nos;
        e.persons = batch.len() as u64;
        e.outcome = outcome.to_string();
        e.attempt = attempt;
        cx.audit.record(e);
    }

    /// Sends batch `number` (1-based) and follows its pages.
    async fn run_batch(
        &self,
        cx: &SourceContext,
        number: usize,
        batch: &[PersonRequest],
        down: &DownDetector,
    ) -> Result<BatchOutcome, TokenRejected> {
        let mut out = BatchOutcome { requests: 0, retries: 0, received: 0, end: BatchEnd::Skipped };
        if down.is_tripped() {
            return Ok(out);
        }
        let (window_start, window_end) = window(cx.as_of);
        let request_id = format!("{}-{number:04}", cx.run_id);
        let persons: Vec<Value> =
            batch.iter().map(|p| json!({ "id_number": p.id, "auth_no": p.auth_no })).collect();
        let mut body = json!({
            "request_id": request_id,
            "as_of": cx.as_of.format("%Y-%m-%d").to_string(),
            "window_start": window_start,
            "window_end": window_end,
            "persons": persons,
            "page": null,
        });
        let mut results = Vec::new();
        let origin_file: FileName = format!("{TARGET}#{number}").into();
        for _ in 0..MAX_PAGES {
            let action = if body["page"].is_null() { "request" } else { "page" };
            let sent = http::send_with_retry(
                &self.settings.retry,
                None,
                || self.client.post(&self.endpoint).header(AUTHORIZATION, self.auth.clone()).json(&body),
                |attempt, outcome| self.audit(cx, action, batch, attempt, outcome),
            )
            .await;
            let reply = match sent {
                Ok(reply) => {
                    out.requests += reply.attempts as u64;
                    out.retries += reply.attempts as u64 - 1;
                    down.answered();
                    reply
                }
                Err(e) => {
                    out.requests += e.attempts() as u64;
                    out.retries += e.attempts() as u64 - 1;
                    let exhausted = matches!(e, HttpError::Exhausted { .. });
                    if exhausted {
                        down.exhausted();
                    }
                    out.end = BatchEnd::Failed { reason: e.to_string(), exhausted };
                    return Ok(out);
                }
            };
            match reply.status {
                200 => {}
                401 => return Err(TokenRejected),
                s => {
                    out.end = BatchEnd::Failed { reason: format!("http {s}: {}", reply.body_excerpt()), exhausted: false };
                    return Ok(out);
                }
            }
            let (page_results, next) = match read_page(&reply.body, &request_id) {
                Ok(page) => page,
                Err(reason) => {
                    out.end = BatchEnd::Failed { reason, exhausted: false };
                    return Ok(out);
                }
            };
            out.received += page_results.len() as u64;
            for v in &page_results {
                let line = results.len() as u64 + 1;
                results.push(match parse_result(v, Origin::new(origin_file.clone(), line)) {
                    Ok(r) => ReadResult::Record(r),
                    Err(bad) => ReadResult::Unreadable { bad, id_number: v.get("id_number").and_then(Value::as_str).map(str::to_string) },
                });
            }
            drop(page_results);
            if next.is_null() {
                out.end = BatchEnd::Answered(results);
                return Ok(out);
            }
            if next == body["page"] {
                out.end = BatchEnd::Failed { reason: "HR sent the same next_page twice".into(), exhausted: false };
                return Ok(out);
            }
            body["page"] = next;
        }
        out.end = BatchEnd::Failed { reason: format!("HR paging did not end after {MAX_PAGES} pages"), exhausted: false };
        Ok(out)
    }
}

/// One page of a 200 reply: its results and `next_page`.
fn read_page(body: &[u8], request_id: &str) -> Result<(Vec<Value>, Value), String> {
    let mut v: Value = serde_json::from_slice(body).map_err(|e| format!("reply is not JSON: {e}"))?;
    match v.get("request_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(r)) if r == request_id => {}
        Some(other) => return Err(format!("reply is for another request ({other}), not {request_id}")),
    }
    let results = match v.get_mut("results").map(Value::take) {
        Some(Value::Array(a)) => a,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err("reply's results is not a list".into()),
    };
    Ok((results, v.get("next_page").cloned().unwrap_or(Value::Null)))
}

/// Why one result could not be read.
struct Bad {
    field: String,
    raw: String,
    reason: String,
}

fn bad(field: impl Into<String>, raw: &Value, reason: impl Into<String>) -> Bad {
    let raw = match raw {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let raw = match raw.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &raw[..i]),
        None => raw,
    };
    Bad { field: field.into(), raw, reason: reason.into() }
}

// The JSON paths in error messages (`contributions[3].month`) are built
// only when a field is bad: `path` is called on the error path alone, so
// reading millions of good items allocates nothing for them.

fn text(obj: &Value, field: &str, path: impl Fn() -> String, required: bool) -> Result<Text, Bad> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(Text::from(s.as_str())),
        None | Some(Value::Null) if !required => Ok(Text::default()),
        None | Some(Value::Null) => Err(bad(path(), &Value::Null, format!("{} is missing", path()))),
        Some(v) => Err(bad(path(), v, format!("{} is not text", path()))),
    }
}

fn fen(obj: &Value, field: &str, path: impl Fn() -> String) -> Result<i64, Bad> {
    let v = obj.get(field).unwrap_or(&Value::Null);
    v.as_i64().ok_or_else(|| bad(path(), v, format!("{} is not a whole number of fen", path())))
}

fn month(obj: &Value, path: impl Fn() -> String) -> Result<NaiveDate, Bad> {
    let v = obj.get("month").unwrap_or(&Value::Null);
    match v {
        Value::String(s) => parse_month(s).map_err(|e| bad(path(), v, e)),
        _ => Err(bad(path(), v, format!("{} is not a month (YYYY-MM)", path()))),
    }
}

fn list<'a>(obj: &'a Value, field: &str) -> Result<&'a [Value], Bad> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(bad(field, v, format!("{field} is not a list"))),
    }
}

fn payments(obj: &Value, field: &str) -> Result<Vec<MonthlyPayment>, Bad> {
    list(obj, field)?
        .iter()
        .enumerate()
        .map(|(i, p)| {
            Ok(MonthlyPayment {
                month: month(p, || format!("{field}[{i}].month"))?,
                amount_fen: fen(p, "amount_fen", || format!("{field}[{i}].amount_fen"))?,
            })
        })
        .collect()
}

/// One HR result → an [`HrReply`].
fn parse_result(v: &Value, origin: Origin) -> Result<HrReply, Bad> {
    if !v.is_object() {
        return Err(bad("", v, "result is not a JSON object"));
    }
    let id_raw = text(v, "id_number", || "id_number".into(), true)?;
    let name = text(v, "name", || "name".into(), false)?;
    let contributions = list(v, "contributions")?
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let p = |f: &'static str| move || format!("contributions[{i}].{f}");
            Ok(Contribution {
                month: month(c, p("month"))?,
                employer_code: text(c, "employer_code", p("employer_code"), true)?,
                employer_type: text(c, "employer_type", p("employer_type"), true)?,
                base_fen: fen(c, "base_fen", p("base_fen"))?,
            })
        })
        .collect::<Result<_, Bad>>()?;
    Ok(HrReply {
        origin,
        id_raw,
        name,
        contributions,
        pensions: payments(v, "pensions")?,
        unemployment: payments(v, "unemployment")?,
    })
}

#[async_trait::async_trait]
impl Source for HrSource {
    fn code(&self) -> &str {
        &self.inner.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        &[RecordKind::HrReply]
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let inner = &self.inner;
        let requests = cx.requests.clone();
        let total = requests.len() as u64;
        let batches: Vec<(usize, usize)> =
            (0..requests.len()).step_by(inner.batch_size).map(|s| (s, (s + inner.batch_size).min(requests.len()))).collect();
        let down = Arc::new(DownDetector::new(inner.settings.down_after));
        let done = Arc::new(AtomicU64::new(0));
        cx.progress.update(&inner.code, 0, total);

        let outcomes = http::run_bounded(batches.len(), inner.settings.max_in_flight, |b| {
            let (inner, cx, down, done, requests) =
                (self.inner.clone(), cx.clone(), down.clone(), done.clone(), requests.clone());
            let (start, end) = batches[b];
            async move {
                let batch = &requests[start..end];
                let outcome = inner.run_batch(&cx, b + 1, batch, &down).await?;
                let now = done.fetch_add(batch.len() as u64, Ordering::SeqCst) + batch.len() as u64;
                cx.progress.update(&inner.code, now, total);
                Ok(outcome)
            }
        })
        .await
        .map_err(|TokenRejected| SourceError::Unavailable("HR rejected the token: check HEDUI_HR_TOKEN".into()))?;

        let mut out = SourceOutput::default();
        let mut failures: Vec<String> = Vec::new();
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let (mut answered, mut skipped, mut exhausted_any) = (0usize, 0usize, false);
        for (b, outcome) in outcomes.into_iter().enumerate() {
            let batch = &requests[batches[b].0..batches[b].1];
            out.stats.requests += outcome.requests;
            out.stats.retries += outcome.retries;
            out.stats.rows_read += outcome.received;
            match outcome.end {
                BatchEnd::Answered(results) => {
                    answered += 1;
                    // Requested IDs of this batch, to mark the person of an unreadable result.
                    let asked: HashSet<&str> = batch.iter().map(|p| p.id.as_str()).collect();
                    let label = format!("{TARGET}#{}", b + 1);
                    for (i, result) in results.into_iter().enumerate() {
                        match result {
                            ReadResult::Record(r) => out.records.hr.push(r),
                            ReadResult::Unreadable { bad, id_number } => {
                                if let Some(id) = id_number {
                                    if let Ok(id) = parse_id(&id, cx.as_of) {
                                        if asked.contains(id.as_str()) {
                                            failed.insert(id.as_str().to_string());
                                        }
                                    }
                                }
                                out.quarantine.push(Quarantined {
                                    file: label.clone(),
                                    line: i as u64 + 1,
                                    field: bad.field,
                                    raw_value: bad.raw,
                                    reason: bad.reason,
                                });
                            }
                        }
                    }
                }
                BatchEnd::Failed { reason, exhausted } => {
                    exhausted_any |= exhausted;
                    failures.push(format!("request {} ({} persons): {reason}", b + 1, batch.len()));
                    failed.extend(batch.iter().map(|p| p.id.clone()));
                }
                BatchEnd::Skipped => {
                    skipped += 1;
                    failed.extend(batch.iter().map(|p| p.id.clone()));
                }
            }
        }

        if !batches.is_empty() && answered == 0 {
            let why = failures.first().cloned().unwrap_or_default();
            let msg = if exhausted_any {
                format!(
                    "the HR department is down: none of {} requests got an answer after {} retries ({why})",
                    batches.len(),
                    inner.settings.retry.max_retries
                )
            } else {
                format!("the HR department refused every request ({why})")
            };
            return Err(SourceError::Unavailable(msg));
        }
        if !failures.is_empty() || skipped > 0 {
            let mut note = format!(
                "{} of {} HR requests failed; their persons are marked unavailable",
                failures.len() + skipped,
                batches.len()
            );
            if skipped > 0 {
                note.push_str(&format!(
                    " ({skipped} not sent: HR stopped answering after {} failed requests in a row)",
                    inner.settings.down_after
                ));
            }
            for f in failures.iter().take(5) {
                note.push_str("; ");
                note.push_str(f);
            }
            if failures.len() > 5 {
                note.push_str(&format!("; … and {} more", failures.len() - 5));
            }
            out.notes.push(note);
        }
        // In request order (requests are sorted by ID), each once.
        out.failed_persons = requests.iter().filter(|p| failed.contains(&p.id)).map(|p| p.id.clone()).collect();
        Ok(out)
    }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn window_is_the_twelve_months_before_the_as_of_month() {
        let d = |y, m, day| NaiveDate::from_ymd_opt(y, m, day).unwrap();
        assert_eq!(window(d(2026, 11, 26)), ("2025-11".into(), "2026-10".into()));
        assert_eq!(window(d(2026, 1, 1)), ("2025-01".into(), "2025-12".into()));
        assert_eq!(window(d(2024, 3, 31)), ("2023-03".into(), "2024-02".into()));
    }

    #[test]
    fn results_parse_or_say_why_not() {
        let o = || Origin::new("POST /v1/persons/query#1", 1);
        let good = json!({"id_number": "520103750505234", "name": "李四",
            "contributions": [{"month": "2026-03", "employer_code": "E1", "employer_type": "企业", "base_fen": 350000}],
            "pensions": [{"month": "2026-01", "amount_fen": 180000}]});
        let r = parse_result(&good, o()).unwrap_or_else(|b| panic!("{}", b.reason));
        assert_eq!(r.id_raw, "520103750505234");
        assert_eq!(r.contributions[0].month, NaiveDate::from_ymd_opt(2026, 3, 1).unwrap());
        assert_eq!(r.contributions[0].base_fen, 350000);
        assert_eq!(r.pensions[0].amount_fen, 180000);
        assert!(r.unemployment.is_empty(), "absent list = no records");

        let mut v = good.clone();
        v["contributions"][0]["month"] = json!("2026-13");
        let b = parse_result(&v, o()).err().unwrap();
        assert_eq!((b.field.as_str(), b.raw.as_str()), ("contributions[0].month", "2026-13"));
        assert!(b.reason.contains("not a month"), "{}", b.reason);

        let mut v = good.clone();
        v["pensions"][0]["amount_fen"] = json!(1800.5);
        let b = parse_result(&v, o()).err().unwrap();
        assert_eq!(b.field, "pensions[0].amount_fen");
        assert!(b.reason.contains("whole number of fen"));

        let b = parse_result(&json!({"name": "x"}), o()).err().unwrap();
        assert_eq!(b.field, "id_number");
        assert!(parse_result(&json!([1]), o()).is_err());
    }

    #[test]
    fn settings_are_checked_and_the_token_stays_secret() {
        let mut cfg = SourceConfig { code: "hr_social_security".into(), kind: TYPE_NAME.into(), ..Default::default() };
        cfg.settings.insert("url".into(), "http://127.0.0.1:1".into());
        let err = HrSource::new(&cfg).unwrap_err().to_string();
        assert!(err.contains("token is required") && err.contains("HEDUI_HR_TOKEN"), "{err}");
        cfg.settings.insert("token".into(), "s3cret-token".into());
        cfg.settings.insert("batch_size".into(), 201.into());
        assert!(HrSource::new(&cfg).unwrap_err().to_string().contains("batch_size must be 1 to 200"));
        cfg.settings.insert("batch_size".into(), 50.into());
        let src = HrSource::new(&cfg).unwrap();
        let debug = format!("{src:?}");
        assert!(!debug.contains("s3cret"), "{debug}");
        assert!(debug.contains("batch_size: 50"));
    }
}
