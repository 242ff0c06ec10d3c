//! hedui-web: the analysts' workbench (`hedui serve`).
//!
//! An axum application over the published run folders of `hedui run`
//! (`OUT/<run_id>/`, OUTPUTS.md). Runs are imported into a store — SQLite by
//! default, PostgreSQL with `--db postgres://…`, same migrations — so every
//! page is an indexed SQL query; review state (confirmed / dismissed /
//! corrected, with an append-only history) lives beside them.
//!
//! - [`router`] builds the application for a [`AppState`] (tests drive it
//!   with `tower::ServiceExt::oneshot`); [`serve`] runs it on a listener with
//!   the periodic import of new runs.
//! - Pages are rendered on the server ([`html`]), Chinese labels with English
//!   on `?lang=en`, inline CSS and SVG charts, no script and nothing fetched
//!   at run time; the same data is under `/api/` as JSON ([`api`], `docs/api.md`).
//! - Roles ([`auth`]): analysts see everything; a department user sees and
//!   downloads only its own department's feedback files.

pub mod api;
pub mod auth;
pub mod data;
pub mod html;
pub mod i18n;
pub mod import;
pub mod store;

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_TYPE, SET_COOKIE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

pub use import::ImportReport;
pub use store::{Backend, Role, Store, StoreError, User};

use crate::auth::SignedIn;
use crate::i18n::Lang;

/// Settings of a running workbench.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long a sign-in lasts (absolute; the server forgets it after).
    pub session_ttl: Duration,
    /// Mark cookies `Secure` (set when served behind HTTPS).
    pub secure_cookies: bool,
    /// How often [`serve`] looks for newly published runs (None: only at start
    /// and on `POST /refresh`).
    pub refresh_every: Option<Duration>,
    /// County code → name (the policy's counties.csv), for labels.
    pub county_names: BTreeMap<String, String>,
}

impl Default for Options {
    fn default() -> Self {
        Options { session_ttl: Duration::from_secs(8 * 3600), secure_cookies: false, refresh_every: Some(Duration::from_secs(60)), county_names: BTreeMap::new() }
    }
}

/// The last scan of the runs folder, shown on the runs page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ScanInfo {
    pub at: String,
    #[serde(flatten)]
    pub report: ImportReport,
    pub error: Option<String>,
}

struct Inner {
    store: Store,
    out: PathBuf,
    opts: Options,
    import_lock: tokio::sync::Mutex<()>,
    last_scan: Mutex<Option<ScanInfo>>,
    /// Filter lists per run: a run never changes once imported.
    choices: Mutex<HashMap<String, Arc<data::FilterChoices>>>,
}

/// What every handler shares: the store, the runs folder and the options.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    pub fn new(store: Store, out: impl Into<PathBuf>, opts: Options) -> AppState {
        AppState(Arc::new(Inner { store, out: out.into(), opts, import_lock: tokio::sync::Mutex::new(()), last_scan: Mutex::new(None), choices: Mutex::new(HashMap::new()) }))
    }

    pub fn store(&self) -> &Store {
        &self.0.store
    }

    /// The runs folder (`hedui run --out`).
    pub fn out(&self) -> &Path {
        &self.0.out
    }

    pub fn options(&self) -> &Options {
        &self.0.opts
    }

    /// Imports the run folders published since the last scan (one scan at a time).
    pub async fn refresh(&self) -> Result<ImportReport, StoreError> {
        let _guard = self.0.import_lock.lock().await;
        let result = import::import_new_runs(&self.0.store, &self.0.out).await;
        let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let info = match &result {
            Ok(r) => ScanInfo { at, report: r.clone(), error: None },
            Err(e) => ScanInfo { at, report: ImportReport::default(), error: Some(e.to_string()) },
        };
        if let Ok(mut last) = self.0.last_scan.lock() {
            *last = Some(info);
        }
        result
    }

    /// The filter lists of a run's pages (departments, codes, counties…), cached.
    pub async fn filter_choices(&self, run_id: &str) -> Result<Arc<data::FilterChoices>, StoreError> {
        if let Some(c) = self.0.choices.lock().ok().and_then(|m| m.get(run_id).cloned()) {
            return Ok(c);
        }
        let c = Arc::new(data::filter_choices(&self.0.store, run_id).await?);
        if let Ok(mut m) = self.0.choices.lock() {
            m.insert(run_id.to_string(), c.clone());
        }
        Ok(c)
    }

    pub fn last_scan(&self) -> Option<ScanInfo> {
        self.0.last_scan.lock().ok().and_then(|l| l.clone())
    }

    /// `云岩区 520103`, or the code alone when the name is not known.
    pub fn county_label(&self, code: &str) -> String {
        match self.0.opts.county_names.get(code) {
            Some(name) => format!("{name} {code}"),
            None if code.is_empty() => "—".to_string(),
            None => code.to_string(),
        }
    }
}

/// The whole application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(html::home))
        .route("/login", get(html::login_form).post(html::login))
        .route("/logout", post(html::logout))
        .route("/refresh", post(html::refresh))
        .route("/runs", get(html::runs_page))
        .route("/runs/{run}", get(html::dashboard_page))
        .route("/runs/{run}/changes", get(html::changes_page))
        .route("/runs/{run}/households", get(html::households_page))
        .route("/runs/{run}/households/{household}", get(html::household_page))
        .route("/runs/{run}/discrepancies", get(html::discrepancies_page))
        .route("/runs/{run}/discrepancies/{seq}", get(html::review_page).post(html::review_post))
        .route("/runs/{run}/report", get(html::batch_report))
        .route("/runs/{run}/feedback/{file}", get(feedback_download))
        .route("/feedback", get(html::feedback_page))
        .nest("/api", api::router())
        .fallback(html::not_found)
        .layer(middleware::from_fn(common_headers))
        .with_state(state)
}

/// Serves the application on `listener` until `shutdown` completes: imports
/// new runs first, then every `refresh_every`.
pub async fn serve(listener: tokio::net::TcpListener, state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    match state.refresh().await {
        Ok(r) => tracing::info!(imported = r.imported.len(), failed = r.failed.len(), out = %state.out().display(), "runs folder scanned"),
        Err(e) => tracing::warn!(error = %e, "runs folder not scanned"),
    }
    let refresher = state.options().refresh_every.map(|every| {
        let s = state.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = s.refresh().await {
                    tracing::warn!(error = %e, "runs folder not scanned");
                }
            }
        })
    });
    let result = axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await;
    if let Some(r) = refresher {
        r.abort();
    }
    result
}

/// Headers on every response: pages hold personal data (no caching), run no
/// script and load nothing from elsewhere; `?lang=` is remembered.
async fn common_headers(req: Request, next: Next) -> Response {
    let lang = req.uri().query().and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("lang=")).and_then(Lang::parse));
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"));
    h.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("same-origin"));
    if !h.contains_key(CACHE_CONTROL) {
        h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(l) = lang {
        h.append(SET_COOKIE, auth::set_cookie(auth::LANG_COOKIE, l.code(), "/", 365 * 86400, false, false));
    }
    res
}

/// `GET /runs/{run}/feedback/{department}.{csv|xlsx}`: a department user gets
/// only its own department's files; names are checked against known runs and
/// the department-code form before any path is built.
async fn feedback_download(State(state): State<AppState>, SignedIn(session): SignedIn, lang: Lang, UrlPath((run, file)): UrlPath<(String, String)>) -> Response {
    let Some((department, ext)) = file.rsplit_once('.') else { return html::error_page(StatusCode::NOT_FOUND, lang) };
    let content_type = match ext {
        "csv" => "text/csv; charset=utf-8",
        "xlsx" => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        _ => return html::error_page(StatusCode::NOT_FOUND, lang),
    };
    if !store::is_department_code(department) || !import::is_run_id(&run) {
        return html::error_page(StatusCode::NOT_FOUND, lang);
    }
    if let Some(own) = session.department() {
        if own != department {
            tracing::warn!(user = %session.user.name, run = %run, department, "feedback download refused: another department's file");
            return auth::forbidden(false, lang);
        }
    }
    match data::run(state.store(), &run).await {
        Ok(Some(_)) => {}
        Ok(None) => return html::error_page(StatusCode::NOT_FOUND, lang),
        Err(e) => return html::internal_error(e),
    }
    let path = state.out().join(&run).join("feedback").join(format!("{department}.{ext}"));
    match tokio::fs::read(&path).await {
        Ok(bytes) => {
            tracing::info!(user = %session.user.name, run = %run, department, ext, "feedback downloaded");
            let disposition = format!("attachment; filename=\"{run}_{department}.{ext}\"");
            let mut res = Response::new(Body::from(bytes));
            res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            if let Ok(v) = HeaderValue::from_str(&disposition) {
                res.headers_mut().insert(CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(_) => html::error_page(StatusCode::NOT_FOUND, lang),
    }
}

/// Shortcut used by handlers: a store error becomes a logged 500.
pub(crate) fn store_error(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "request failed");
    (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
}
