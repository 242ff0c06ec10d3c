//! `education` (教育): 学籍 enrollments and 资助 aid, pulled over HTTP one
//! person per call (DEPARTMENTS.md).
//!
//! `GET {url}/api/students/{id}?as_of=D` with headers `X-Api-Key: <key>` and
//! `X-Auth-No: <auth_no>`. 200 → one [`EducationReply`]; 404 → not a
//! student (no record). The department allows at most 20 calls a second and
//! 8 in flight, so calls are spaced by a client-side rate limiter and bounded
//! by a semaphore; a 429 is retried after its `Retry-After`.
//!
//! Failures: 401 (wrong key) fails the whole source at once; a person whose
//! retries run out goes to [`SourceOutput::failed_persons`]; if nobody could
//! be asked, the department is down and the source unavailable. A reply that
//! cannot be read is quarantined and its person marked failed too — missing
//! data must never look like "no student aid".
//!
//! Settings (`[sources.education]`): `url` (required), `key` (required, never
//! logged), `rate_limit_per_s` (20; 0 = unlimited), `max_in_flight` (8),
//! `timeout_ms` (30000), `max_retries` (5), `backoff_base_ms` (200),
//! `down_after_failures` (16: persons in a row whose retries all ran out
//! before the department is deemed down and no more are asked).

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use hedui_adapter::http::{self, DownDetector, HttpError, HttpSettings, RateLimiter};
use hedui_adapter::text::parse_date;
use hedui_adapter::{
    AuditEvent, PersonRequest, Quarantined, Source, SourceConfig, SourceContext, SourceError, SourceOutput,
};
use hedui_core::model::{Aid, EducationReply, Enrollment, Origin, RecordKind, Text};
use reqwest::header::HeaderValue;
use serde_json::Value;

/// Registry name of this adapter.
pub const TYPE_NAME: &str = "education";
/// The endpoint, as written in audit lines and record origins (no ID in it).
pub const TARGET: &str = "GET /api/students/{id}";
/// The registry holds nobody this old or older on D.
pub const MAX_AGE_EXCLUSIVE: i32 = 30;

/// Builds the education source from its settings.
pub fn factory(cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
    Ok(Box::new(EducationSource::new(cfg)?))
}

/// The education department over HTTP.
pub struct EducationSource {
    inner: Arc<Inner>,
}

struct Inner {
    code: String,
    settings: HttpSettings,
    /// `X-Api-Key`, marked sensitive.
    key: HeaderValue,
    /// Calls per second allowed (0 = unlimited).
    rate_limit_per_s: f64,
    client: reqwest::Client,
}

impl std::fmt::Debug for EducationSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The API key is left out on purpose.
        f.debug_struct("EducationSource")
            .field("code", &self.inner.code)
            .field("settings", &self.inner.settings)
            .field("rate_limit_per_s", &self.inner.rate_limit_per_s)
            .finish_non_exhaustive()
    }
}

impl EducationSource {
    pub fn new(cfg: &SourceConfig) -> Result<Self, SourceError> {
        let settings = HttpSettings::from_config(cfg, 8)?;
        let key = http::required_str(cfg, "key", "the education API key (set HEDUI_EDUCATION_KEY)")?;
        let key = http::secret_header(cfg, "key", &key)?;
        let rate_limit_per_s = match cfg.settings.get("rate_limit_per_s") {
            None => 20.0,
            Some(_) => match cfg.f64("rate_limit_per_s") {
                Some(r) if r.is_finite() && r >= 0.0 => r,
                _ => {
                    return Err(SourceError::Config(format!(
                        "[sources.{}] rate_limit_per_s must be a number ≥ 0 (0 = unlimited)",
                        cfg.code
                    )))
                }
            },
        };
        let code = if cfg.code.is_empty() { TYPE_NAME.to_string() } else { cfg.code.clone() };
        Ok(EducationSource {
            inner: Arc::new(Inner { code, client: settings.client()?, settings, key, rate_limit_per_s }),
        })
    }
}

/// How asking about one person ended.
enum Asked {
    /// 200: the reply body.
    Student(Vec<u8>),
    /// 404: no student record.
    NotAStudent,
    /// No usable answer; the person is marked unavailable.
    Failed { reason: String, exhausted: bool },
    /// Not asked: the department was already deemed down.
    Skipped,
}

struct PersonOutcome {
    requests: u64,
    retries: u64,
    asked: Asked,
}

/// The key was rejected: nothing else matters.
struct KeyRejected;

impl Inner {
    async fn ask(
        &self,
        cx: &SourceContext,
        person: &PersonRequest,
        limiter: Option<&RateLimiter>,
        down: &DownDetector,
    ) -> Result<PersonOutcome, KeyRejected> {
        if down.is_tripped() {
            return Ok(PersonOutcome { requests: 0, retries: 0, asked: Asked::Skipped });
        }
        // IDs are digits and `X`, dates digits and `-`: nothing to escape.
        let url = format!("{}/api/students/{}?as_of={}", self.settings.url, person.id, cx.as_of.format("%Y-%m-%d"));
        let sent = http::send_with_retry(
            &self.settings.retry,
            limiter,
            || {
                self.client
                    .get(&url)
                    .header("X-Api-Key", self.key.clone())
                    .header("X-Auth-No", person.auth_no.as_str())
            },
            |attempt, outcome| {
                let mut e = AuditEvent::new(&self.code, "request", TARGET);
                e.auth_nos = vec![person.auth_no.clone()];
                e.persons = 1;
                e.outcome = outcome.to_string();
                e.attempt = attempt;
                cx.audit.record(e);
            },
        )
        .await;
        let (attempts, asked) = match sent {
            Ok(reply) => {
                down.answered();
                let asked = match reply.status {
                    200 => Asked::Student(reply.body),
                    404 => Asked::NotAStudent,
                    401 => return Err(KeyRejected),
                    s => Asked::Failed { reason: format!("http {s}: {}", reply.body_excerpt()), exhausted: false },
                };
                (reply.attempts, asked)
            }
            Err(e) => {
                let exhausted = matches!(e, HttpError::Exhausted { .. });
                if exhausted {
                    down.exhausted();
                }
                (e.attempts(), Asked::Failed { reason: e.to_string(), exhausted })
            }
        };
        Ok(PersonOutcome { requests: attempts as u64, retries: attempts as u64 - 1, asked })
    }
}

/// Why a reply could not be read.
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

fn text(obj: &Value, field: &str, path: &str, required: bool) -> Result<Text, Bad> {
    match obj.get(field) {
        Some(Value::String(s)) => Ok(Text::from(s.as_str())),
        None | Some(Value::Null) if !required => Ok(Text::default()),
        None | Some(Value::Null) => Err(bad(path, &Value::Null, format!("{path} is missing"))),
        Some(v) => Err(bad(path, v, format!("{path} is not text"))),
    }
}

fn date(obj: &Value, field: &str, path: &str) -> Result<Option<NaiveDate>, Bad> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(v @ Value::String(s)) => parse_date(s).map(Some).map_err(|e| bad(path, v, e)),
        Some(v) => Err(bad(path, v, format!("{path} is not a date"))),
    }
}

fn list<'a>(obj: &'a Value, field: &str) -> Result<&'a [Value], Bad> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(&[]),
        Some(Value::Array(a)) => Ok(a),
        Some(v) => Err(bad(field, v, format!("{field} is not a list"))),
    }
}

/// A 200 body → an [`EducationReply`].
fn parse_reply(body: &[u8], origin: Origin) -> Result<EducationReply, Bad> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        bad("", &Value::String(String::from_utf8_lossy(body).into_owned()), format!("reply is not JSON: {e}"))
    })?;
    if !v.is_object() {
        return Err(bad("", &v, "reply is not a JSON object"));
    }
    let enrollments = list(&v, "enrollments")?
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let p = |f: &str| format!("enrollments[{i}].{f}");
            Ok(Enrollment {
                student_no: text(e, "student_no", &p("student_no"), true)?,
                school: text(e, "school", &p("school"), false)?,
                stage: text(e, "stage", &p("stage"), true)?,
                status: text(e, "status", &p("status"), true)?,
                since: date(e, "since", &p("since"))?
                    .ok_or_else(|| bad(p("since"), e.get("since").unwrap_or(&Value::Null), format!("{} is missing", p("since"))))?,
            })
        })
        .collect::<Result<_, Bad>>()?;
    let aid = list(&v, "aid")?
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let p = |f: &str| format!("aid[{i}].{f}");
            let amount = a.get("amount_fen").unwrap_or(&Value::Null);
            Ok(Aid {
                program: text(a, "program", &p("program"), true)?,
                academic_year: text(a, "academic_year", &p("academic_year"), true)?,
                amount_fen: amount
                    .as_i64()
                    .ok_or_else(|| bad(p("amount_fen"), amount, format!("{} is not a whole number of fen", p("amount_fen"))))?,
            })
        })
        .collect::<Result<_, Bad>>()?;
    Ok(EducationReply {
        origin,
        id_raw: text(&v, "id_number", "id_number", true)?,
        name: text(&v, "name", "name", false)?,
        birth_date: date(&v, "birth_date", "birth_date")?,
        enrollments,
        aid,
    })
}

#[async_trait::async_trait]
impl Source for EducationSource {
    fn code(&self) -> &str {
        &self.inner.code
    }

    fn kinds(&self) -> &'static [RecordKind] {
        &[RecordKind::EducationReply]
    }

    /// The education registry (学籍) holds nobody aged 30 or over on D:
    /// asking about them only spends the department's quota (20 calls/s).
    fn wants_person(&self, age: i32) -> bool {
        age < MAX_AGE_EXCLUSIVE
    }

    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError> {
        let inner = &self.inner;
        // The runner normally leaves older persons out already (wants_person);
        // filtering again here keeps the quota safe whoever builds the context.
        let persons: Arc<Vec<PersonRequest>> =
            Arc::new(cx.requests.iter().filter(|p| self.wants_person(p.age)).cloned().collect());
        let total = persons.len() as u64;
        let limiter = RateLimiter::per_second(inner.rate_limit_per_s).map(Arc::new);
        let down = Arc::new(DownDetector::new(inner.settings.down_after));
        let done = Arc::new(AtomicU64::new(0));
        cx.progress.update(&inner.code, 0, total);

        let outcomes = http::run_bounded(persons.len(), inner.settings.max_in_flight, |i| {
            let (inner, cx, persons, limiter, down, done) =
                (self.inner.clone(), cx.clone(), persons.clone(), limiter.clone(), down.clone(), done.clone());
            async move {
                let outcome = inner.ask(&cx, &persons[i], limiter.as_deref(), &down).await?;
                cx.progress.update(&inner.code, done.fetch_add(1, Ordering::SeqCst) + 1, total);
                Ok(outcome)
            }
        })
        .await
        .map_err(|KeyRejected| {
            SourceError::Unavailable("education rejected the API key: check HEDUI_EDUCATION_KEY".into())
        })?;

        let mut out = SourceOutput::default();
        let mut failed: BTreeSet<String> = BTreeSet::new();
        let mut failures: Vec<String> = Vec::new();
        let (mut answered, mut skipped, mut exhausted_any) = (0usize, 0usize, false);
        for (i, (person, outcome)) in persons.iter().zip(outcomes).enumerate() {
            out.stats.requests += outcome.requests;
            out.stats.retries += outcome.retries;
            let label = format!("{TARGET}#{}", i + 1);
            match outcome.asked {
                Asked::Student(body) => {
                    answered += 1;
                    out.stats.rows_read += 1;
                    match parse_reply(&body, Origin::new(label.clone(), 1)) {
                        Ok(reply) => out.records.education.push(reply),
                        Err(bad) => {
                            failed.insert(person.id.clone());
                            out.quarantine.push(Quarantined {
                                file: label,
                                line: 1,
                                field: bad.field,
                                raw_value: bad.raw,
                                reason: bad.reason,
                            });
                        }
                    }
                }
                Asked::NotAStudent => answered += 1,
                Asked::Failed { reason, exhausted } => {
                    exhausted_any |= exhausted;
                    failed.insert(person.id.clone());
                    failures.push(format!("request {}: {reason}", i + 1));
                }
                Asked::Skipped => {
                    skipped += 1;
                    failed.insert(person.id.clone());
                }
            }
        }

        if total > 0 && answered == 0 {
            let why = failures.first().cloned().unwrap_or_default();
            let msg = if exhausted_any {
                format!(
                    "the education department is down: none of {total} persons could be asked after {} retries ({why})",
                    inner.settings.retry.max_retries
                )
            } else {
                format!("the education department refused every request ({why})")
            };
            return Err(SourceError::Unavailable(msg));
        }
        if !failures.is_empty() || skipped > 0 {
            let mut note = format!(
                "{} of {total} education requests failed; those persons are marked unavailable",
                failures.len() + skipped
            );
            if skipped > 0 {
                note.push_str(&format!(
                    " ({skipped} not asked: the department stopped answering after {} failed requests in a row)",
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
        out.failed_persons = persons.iter().filter(|p| failed.contains(&p.id)).map(|p| p.id.clone()).collect();
        Ok(out)
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use serde_json::json;

    fn o() -> Origin {
        Origin::new("GET /api/students/{id}#1", 1)
    }

    #[test]
    fn replies_parse_or_say_why_not() {
        let good = json!({"id_number": "52050220070224800x", "name": "王五", "birth_date": "2007-02-24",
            "enrollments": [{"student_no": "G1", "school": "一中", "stage": "高中", "status": "毕业", "since": "2022-09-01"},
                            {"student_no": "G2", "school": "贵大", "stage": "本科", "status": "在读", "since": "2025/9/1"}],
            "aid": [{"program": "国家助学金", "academic_year": "2025-2026", "amount_fen": 125000}]});
        let r = parse_reply(good.to_string().as_bytes(), o()).unwrap_or_else(|b| panic!("{}", b.reason));
        assert_eq!(r.id_raw, "52050220070224800x", "carried raw");
        assert_eq!(r.birth_date, NaiveDate::from_ymd_opt(2007, 2, 24));
        assert_eq!(r.enrollments[1].since, NaiveDate::from_ymd_opt(2025, 9, 1).unwrap());
        assert_eq!(r.aid[0].amount_fen, 125000);

        let mut v = good.clone();
        v["enrollments"][1]["since"] = json!("2025-09-31");
        let b = parse_reply(v.to_string().as_bytes(), o()).err().unwrap();
        assert_eq!((b.field.as_str(), b.raw.as_str()), ("enrollments[1].since", "2025-09-31"));
        assert!(b.reason.contains("not a date"), "{}", b.reason);

        let mut v = good.clone();
        v["aid"][0]["amount_fen"] = json!("1250.00");
        assert_eq!(parse_reply(v.to_string().as_bytes(), o()).err().unwrap().field, "aid[0].amount_fen");

        let b = parse_reply(b"<html>busy</html>", o()).err().unwrap();
        assert!(b.reason.starts_with("reply is not JSON"), "{}", b.reason);

        let minimal = parse_reply(br#"{"id_number": "1", "birth_date": ""}"#, o()).unwrap_or_else(|b| panic!("{}", b.reason));
        assert_eq!(minimal.birth_date, None);
        assert!(minimal.enrollments.is_empty() && minimal.aid.is_empty());
    }

    #[test]
    fn asks_only_persons_under_thirty_and_hides_its_key() {
        let mut cfg = SourceConfig { code: "education".into(), kind: TYPE_NAME.into(), ..Default::default() };
        cfg.settings.insert("url".into(), json!("http://127.0.0.1:1"));
        let err = EducationSource::new(&cfg).unwrap_err().to_string();
        assert!(err.contains("key is required") && err.contains("HEDUI_EDUCATION_KEY"), "{err}");
        cfg.settings.insert("key".into(), json!("k3y-secret"));
        let src = EducationSource::new(&cfg).unwrap();
        assert!(src.wants_person(29));
        assert!(!src.wants_person(30));
        assert_eq!(src.inner.rate_limit_per_s, 20.0);
        assert_eq!(src.inner.settings.max_in_flight, 8);
        assert!(!format!("{src:?}").contains("k3y"));
        cfg.settings.insert("rate_limit_per_s".into(), json!(-1));
        assert!(EducationSource::new(&cfg).is_err());
    }
}
