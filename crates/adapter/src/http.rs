//! HTTP plumbing shared by the adapters that pull from a department's server
//! (`hr_social_security`, `education`): one place for retries with
//! exponential backoff and jitter honouring `Retry-After`, a client-side rate
//! limiter, and a detector that notices a department that has gone down.
//!
//! What is transient (retried): HTTP 408, 429, 500, 502, 503, 504, timeouts,
//! connection errors and bodies cut off mid-way. Every other status is an
//! answer and goes back to the caller, which knows what 401, 400 or 404 mean
//! for its department.
//!
//! Nothing here logs or returns a URL: a per-person URL holds an ID
//! (`/api/students/{id}`), so errors are stripped of it.

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, HeaderValue, RETRY_AFTER};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

use crate::{SourceConfig, SourceError};

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first try (so at most `max_retries + 1` attempts).
    pub max_retries: u32,
    /// First backoff; doubled for every further retry.
    pub backoff_base: Duration,
    /// Cap on one exponential backoff.
    pub backoff_max: Duration,
    /// Cap on an honoured `Retry-After`: a server asking for an hour would
    /// otherwise stall the whole batch; past this the request is retried anyway.
    pub retry_after_max: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            retry_after_max: Duration::from_secs(60),
        }
    }
}

impl RetryPolicy {
    /// A policy with `max_retries` and `backoff_base`, other fields default.
    pub fn new(max_retries: u32, backoff_base: Duration) -> Self {
        RetryPolicy { max_retries, backoff_base, ..RetryPolicy::default() }
    }

    /// The wait before retry number `retry` (1 = first retry).
    ///
    /// With a `Retry-After` the server's word is kept (capped at
    /// `retry_after_max`) plus a little jitter, so that clients told the same
    /// second do not all come back in the same millisecond. Without one:
    /// exponential backoff `base · 2^(retry-1)` capped at `backoff_max`, with
    /// "equal jitter" (half fixed, half random) so waits never collapse to zero.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        let mut rng = rand::rng();
        if let Some(after) = retry_after {
            let spread = (self.backoff_base / 2).as_millis() as u64;
            return after.min(self.retry_after_max) + Duration::from_millis(rng.random_range(0..=spread));
        }
        let exp = self
            .backoff_base
            .saturating_mul(1u32.checked_shl(retry.saturating_sub(1)).unwrap_or(u32::MAX))
            .min(self.backoff_max);
        let half = (exp / 2).as_millis() as u64;
        Duration::from_millis(half + rng.random_range(0..=half))
    }
}

/// Whether an HTTP status is worth retrying.
pub fn is_transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500 | 502 | 503 | 504)
}

/// `Retry-After` in seconds (an integer or decimal). The HTTP-date form is not
/// used by the departments; it yields `None` and the normal backoff applies.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let s = headers.get(RETRY_AFTER)?.to_str().ok()?.trim();
    let secs: f64 = s.parse().ok()?;
    (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs))
}

/// A department's answer: any status that is not transient.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
    /// Attempts it took (1 = first try).
    pub attempts: u32,
}

impl Reply {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
    /// The start of the body as text, for an error message (no IDs are
    /// expected in a department's error text; it is cut short anyway).
    pub fn body_excerpt(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text = text.trim();
        match text.char_indices().nth(120) {
            Some((i, _)) => format!("{}…", &text[..i]),
            None => text.to_string(),
        }
    }
}

/// Why no answer could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HttpError {
    /// Every attempt met a transient failure; `last` is the last outcome.
    #[error("no answer after {attempts} attempts (last: {last})")]
    Exhausted { attempts: u32, last: String },
    /// The request itself cannot be sent (bad URL, header value not ASCII …).
    #[error("request cannot be sent: {reason}")]
    Invalid { attempts: u32, reason: String },
}

impl HttpError {
    pub fn attempts(&self) -> u32 {
        match self {
            HttpError::Exhausted { attempts, .. } | HttpError::Invalid { attempts, .. } => *attempts,
        }
    }
}

/// Outcome word for an audit line: `ok`, `http 429`, `timeout`, `connection error` …
pub fn outcome_of_status(status: u16) -> String {
    if (200..300).contains(&status) {
        "ok".to_string()
    } else {
        format!("http {status}")
    }
}

fn outcome_of_error(e: reqwest::Error) -> String {
    if e.is_timeout() {
        "timeout".to_string()
    } else if e.is_connect() {
        "connection error".to_string()
    } else {
        // The URL may hold an ID: never let it into an outcome.
        format!("error: {}", e.without_url())
    }
}

/// Sends a request until it gets an answer or the retries run out.
///
/// `build` makes a fresh request for every attempt. `limiter`, when given, is
/// waited on before every attempt (retries spend the department's quota
/// too). `on_attempt(attempt, outcome)` is called once per attempt, for the
/// audit line. Returns the first non-transient answer, whatever its status.
pub async fn send_with_retry(
    policy: &RetryPolicy,
    limiter: Option<&RateLimiter>,
    mut build: impl FnMut() -> reqwest::RequestBuilder,
    mut on_attempt: impl FnMut(u32, &str),
) -> Result<Reply, HttpError> {
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        if let Some(l) = limiter {
            l.acquire().await;
        }
        let (outcome, wait_hint) = match build().send().await {
            Ok(resp) => {
                let status = resp.status().as_u16();
                let hint = retry_after(resp.headers());
                if is_transient(status) {
                    (outcome_of_status(status), hint)
                } else {
                    match resp.bytes().await {
                        Ok(body) => {
                            on_attempt(attempt, &outcome_of_status(status));
                            return Ok(Reply { status, body: body.to_vec(), attempts: attempt });
                        }
                        // A body cut off mid-way is a transport failure: retry.
                        Err(e) => (outcome_of_error(e), None),
                    }
                }
            }
            Err(e) if e.is_builder() => {
                let reason = e.without_url().to_string();
                on_attempt(attempt, &format!("error: {reason}"));
                return Err(HttpError::Invalid { attempts: attempt, reason });
            }
            Err(e) => (outcome_of_error(e), None),
        };
        on_attempt(attempt, &outcome);
        if attempt > policy.max_retries {
            return Err(HttpError::Exhausted { attempts: attempt, last: outcome });
        }
        tokio::time::sleep(policy.delay(attempt, wait_hint)).await;
    }
}

/// Client-side rate limiter: spaces calls evenly, one every `1/rate` second
/// plus a 5 % margin. The margin matters: a department counting "more than N
/// calls in any one-second window" sees arrival times, and a client spaced at
/// exactly `1/N` would trip it on a millisecond of network jitter.
#[derive(Debug)]
pub struct RateLimiter {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl RateLimiter {
    /// A limiter for `rate` calls a second; `None` when `rate <= 0` (unlimited).
    pub fn per_second(rate: f64) -> Option<RateLimiter> {
        (rate.is_finite() && rate > 0.0)
            .then(|| RateLimiter { interval: Duration::from_secs_f64(1.05 / rate), next: Mutex::new(None) })
    }

    /// The spacing between two calls.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Waits for this caller's slot.
    pub async fn acquire(&self) {
        let slot = {
            let mut next = self.next.lock().expect("rate limiter lock");
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }
}

/// Notices a department that is down, so a batch does not wait out the full
/// retry budget for each of thousands of persons: after `threshold` requests
/// in a row whose retries all ran out, it trips and callers stop asking.
#[derive(Debug)]
pub struct DownDetector {
    threshold: u32,
    consecutive: AtomicU32,
    answered: AtomicU64,
    tripped: AtomicBool,
}

impl DownDetector {
    pub fn new(threshold: u32) -> Self {
        DownDetector {
            threshold: threshold.max(1),
            consecutive: AtomicU32::new(0),
            answered: AtomicU64::new(0),
            tripped: AtomicBool::new(false),
        }
    }
    /// The department answered (any non-transient status).
    pub fn answered(&self) {
        self.answered.fetch_add(1, Ordering::SeqCst);
        self.consecutive.store(0, Ordering::SeqCst);
    }
    /// A request's retries ran out. Returns whether the detector is now tripped.
    pub fn exhausted(&self) -> bool {
        if self.consecutive.fetch_add(1, Ordering::SeqCst) + 1 >= self.threshold {
            self.tripped.store(true, Ordering::SeqCst);
        }
        self.is_tripped()
    }
    /// The department is deemed down: ask no more.
    pub fn is_tripped(&self) -> bool {
        self.tripped.load(Ordering::SeqCst)
    }
    /// How many requests got an answer.
    pub fn answered_count(&self) -> u64 {
        self.answered.load(Ordering::SeqCst)
    }
}

/// Runs `task(0)`, `task(1)` … `task(count - 1)`, at most `max_in_flight` at
/// once, started in index order. Returns the results in index order, or the
/// first error, in which case every task still running is cancelled (a fatal
/// answer such as a rejected token stops the whole source at once).
pub async fn run_bounded<T, E, F, Fut>(count: usize, max_in_flight: usize, mut task: F) -> Result<Vec<T>, E>
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<T, E>> + Send + 'static,
    T: Send + 'static,
    E: Send + 'static,
{
    let permits = Arc::new(Semaphore::new(max_in_flight.max(1)));
    let mut running = JoinSet::new();
    let mut out: Vec<Option<T>> = (0..count).map(|_| None).collect();
    let mut store = |joined: Result<(usize, Result<T, E>), tokio::task::JoinError>| -> Result<(), E> {
        let (i, result) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("request task cancelled: {e}"),
        };
        out[i] = Some(result?);
        Ok(())
    };
    for i in 0..count {
        let permit = permits.clone().acquire_owned().await.expect("semaphore is never closed");
        while let Some(joined) = running.try_join_next() {
            store(joined)?;
        }
        let fut = task(i);
        running.spawn(async move {
            let result = fut.await;
            drop(permit);
            (i, result)
        });
    }
    while let Some(joined) = running.join_next().await {
        store(joined)?;
    }
    Ok(out.into_iter().map(|r| r.expect("every task finished")).collect())
}

/// The settings every HTTP source shares, read from its `[sources.<code>]` table.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Department base URL (no trailing `/`).
    pub url: String,
    /// Per-request timeout (`timeout_ms`, default 30000).
    pub timeout: Duration,
    /// `max_retries` (default 5) and `backoff_base_ms` (default 200).
    pub retry: RetryPolicy,
    /// `max_in_flight`: concurrent requests (default per department).
    pub max_in_flight: usize,
    /// `down_after_failures`: requests in a row whose retries all ran out
    /// before the department is deemed down and no more are sent
    /// (default: twice `max_in_flight`).
    pub down_after: u32,
}

impl HttpSettings {
    /// Reads `url`, `timeout_ms`, `max_retries`, `backoff_base_ms`,
    /// `max_in_flight` and `down_after_failures`.
    pub fn from_config(cfg: &SourceConfig, default_in_flight: u64) -> Result<Self, SourceError> {
        let url = required_str(cfg, "url", "the department's base URL, e.g. https://host/")?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(config_error(cfg, format!("url must start with http:// or https://, found {url:?}")));
        }
        let max_in_flight = setting_u64(cfg, "max_in_flight", default_in_flight)?.max(1);
        Ok(HttpSettings {
            url: url.trim_end_matches('/').to_string(),
            timeout: Duration::from_millis(setting_u64(cfg, "timeout_ms", 30_000)?.max(1)),
            retry: RetryPolicy::new(
                setting_u64(cfg, "max_retries", 5)? as u32,
                Duration::from_millis(setting_u64(cfg, "backoff_base_ms", 200)?),
            ),
            max_in_flight: max_in_flight as usize,
            down_after: setting_u64(cfg, "down_after_failures", 2 * max_in_flight)?.max(1) as u32,
        })
    }

    /// An HTTP client with the timeout.
    pub fn client(&self) -> Result<reqwest::Client, SourceError> {
        reqwest::Client::builder()
            .timeout(self.timeout)
            .build()
            .map_err(|e| SourceError::Config(format!("cannot set up the HTTP client: {e}")))
    }
}

fn config_error(cfg: &SourceConfig, msg: String) -> SourceError {
    SourceError::Config(format!("[sources.{}] {msg}", cfg.code))
}

/// A whole-number setting ≥ 0 (numbers or numeric strings), `default` when absent.
pub fn setting_u64(cfg: &SourceConfig, key: &str, default: u64) -> Result<u64, SourceError> {
    if !cfg.settings.contains_key(key) {
        return Ok(default);
    }
    match cfg.f64(key) {
        Some(v) if v >= 0.0 && v.fract() == 0.0 && v < 1e15 => Ok(v as u64),
        _ => Err(config_error(cfg, format!("{key} must be a whole number ≥ 0, found {}", cfg.settings[key]))),
    }
}

/// A required, non-empty text setting. The value is never put in the error.
pub fn required_str(cfg: &SourceConfig, key: &str, what: &str) -> Result<String, SourceError> {
    match cfg.str(key).map(str::trim) {
        Some(v) if !v.is_empty() => Ok(v.to_string()),
        _ => Err(config_error(cfg, format!("{key} is required: {what}"))),
    }
}

/// A header value holding a secret (token, API key): checked once, marked
/// sensitive so it is never printed in debug output.
pub fn secret_header(cfg: &SourceConfig, key: &str, value: &str) -> Result<HeaderValue, SourceError> {
    let mut h = HeaderValue::from_str(value)
        .map_err(|_| config_error(cfg, format!("{key} holds characters not allowed in an HTTP header")))?;
    h.set_sensitive(true);
    Ok(h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let p = RetryPolicy::new(5, Duration::from_millis(200));
        for _ in 0..50 {
            let d1 = p.delay(1, None);
            assert!(d1 >= Duration::from_millis(100) && d1 <= Duration::from_millis(200), "{d1:?}");
            let d3 = p.delay(3, None);
            assert!(d3 >= Duration::from_millis(400) && d3 <= Duration::from_millis(800), "{d3:?}");
            let d30 = p.delay(30, None);
            assert!(d30 >= Duration::from_secs(5) && d30 <= Duration::from_secs(10), "{d30:?}");
        }
    }

    #[test]
    fn retry_after_is_honoured_and_capped() {
        let p = RetryPolicy::new(5, Duration::from_millis(200));
        let d = p.delay(1, Some(Duration::from_secs(1)));
        assert!(d >= Duration::from_secs(1) && d <= Duration::from_millis(1100), "{d:?}");
        let d = p.delay(1, Some(Duration::from_secs(3600)));
        assert!(d <= Duration::from_millis(60_100), "{d:?}");

        let mut h = HeaderMap::new();
        h.insert(RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert(RETRY_AFTER, "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn transient_statuses() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_transient(s));
        }
        for s in [200, 400, 401, 403, 404, 501] {
            assert!(!is_transient(s));
        }
    }

    #[tokio::test]
    async fn limiter_spaces_calls() {
        let l = RateLimiter::per_second(100.0).unwrap();
        let start = Instant::now();
        for _ in 0..11 {
            l.acquire().await;
        }
        // 10 intervals of 10.5 ms.
        assert!(start.elapsed() >= Duration::from_millis(105));
        assert!(RateLimiter::per_second(0.0).is_none());
    }

    #[tokio::test]
    async fn run_bounded_keeps_order_bounds_concurrency_and_stops_on_error() {
        let running = Arc::new(AtomicU32::new(0));
        let peak = Arc::new(AtomicU32::new(0));
        let out: Result<Vec<usize>, String> = run_bounded(20, 3, |i| {
            let (running, peak) = (running.clone(), peak.clone());
            async move {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(((20 - i) % 4) as u64 * 3)).await;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(i * 10)
            }
        })
        .await;
        assert_eq!(out.unwrap(), (0..20).map(|i| i * 10).collect::<Vec<_>>());
        assert_eq!(peak.load(Ordering::SeqCst), 3);

        let started = Arc::new(AtomicU32::new(0));
        let out: Result<Vec<()>, String> = run_bounded(100, 2, |i| {
            let started = started.clone();
            async move {
                started.fetch_add(1, Ordering::SeqCst);
                if i == 3 {
                    return Err("fatal".to_string());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
                Ok(())
            }
        })
        .await;
        assert_eq!(out.unwrap_err(), "fatal");
        assert!(started.load(Ordering::SeqCst) < 10, "later tasks are not started");
    }

    #[test]
    fn settings_defaults_and_errors() {
        let mut cfg = SourceConfig { code: "hr_social_security".into(), kind: "hr_social_security".into(), ..Default::default() };
        let err = HttpSettings::from_config(&cfg, 4).unwrap_err().to_string();
        assert!(err.contains("[sources.hr_social_security] url is required"), "{err}");
        cfg.settings.insert("url".into(), "http://127.0.0.1:9/".into());
        let s = HttpSettings::from_config(&cfg, 4).unwrap();
        assert_eq!(s.url, "http://127.0.0.1:9");
        assert_eq!((s.max_in_flight, s.down_after, s.timeout), (4, 8, Duration::from_secs(30)));
        assert_eq!(s.retry, RetryPolicy::default());
        cfg.settings.insert("max_retries".into(), "2".into());
        assert_eq!(HttpSettings::from_config(&cfg, 4).unwrap().retry.max_retries, 2);
        cfg.settings.insert("timeout_ms".into(), (-1).into());
        let err = HttpSettings::from_config(&cfg, 4).unwrap_err().to_string();
        assert!(err.contains("timeout_ms must be a whole number"), "{err}");
        let h = secret_header(&cfg, "token", "Bearer abc").unwrap();
        assert!(!format!("{h:?}").contains("abc"));
        assert!(secret_header(&cfg, "token", "a\nb").is_err());
    }

    #[test]
    fn detector_trips_after_consecutive_failures_only() {
        let d = DownDetector::new(3);
        assert!(!d.exhausted());
        assert!(!d.exhausted());
        d.answered();
        assert!(!d.exhausted());
        assert!(!d.exhausted());
        assert!(d.exhausted());
        assert!(d.is_tripped());
        assert_eq!(d.answered_count(), 1);
    }
}
