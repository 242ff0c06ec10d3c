//! Shared test harness: a store on SQLite (temp file) or PostgreSQL (a fresh
//! schema in the `test` database, dropped afterwards), the fixture runs
//! imported, three users, and request helpers over `router(...)`.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use hedui_web::{AppState, Options, Role, Store};
use tower::ServiceExt;

pub const PG_BASE: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const RUN_OLD: &str = "20261026-001";
pub const RUN_NEW: &str = "20261126-001";
pub const ANALYST: (&str, &str) = ("ana", "analyst-pass-1");
pub const BANK: (&str, &str) = ("bank", "bank-pass-123");
pub const HEALTH: (&str, &str) = ("clinic", "health-pass-12");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Sqlite,
    Postgres,
}

pub fn fixture_out() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/out")
}

pub fn in_ci() -> bool {
    std::env::var("CI").map(|v| !v.is_empty() && v != "false" && v != "0").unwrap_or(false)
}

/// A database for one test; `cleanup` drops what it made.
pub struct TestDb {
    pub url: String,
    pub kind: Kind,
    schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// None (skipped, with a message) only when PostgreSQL is unreachable outside CI.
    pub async fn new(kind: Kind) -> Option<TestDb> {
        match kind {
            Kind::Sqlite => {
                let dir = tempfile::tempdir().unwrap();
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("hedui.db").display());
                Some(TestDb { url, kind, schema: None, _dir: Some(dir) })
            }
            Kind::Postgres => {
                let admin = match admin_pool().await {
                    Ok(p) => p,
                    Err(e) if !in_ci() => {
                        eprintln!("SKIPPED: PostgreSQL at {PG_BASE} is not reachable ({e}); CI runs this test");
                        return None;
                    }
                    Err(e) => panic!("PostgreSQL at {PG_BASE} is not reachable in CI: {e}"),
                };
                let now = chrono::Utc::now().timestamp();
                // Schemas left by killed test runs: dropped after an hour.
                let stale: Vec<String> = sqlx::query_scalar("SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'hedui_t_%'").fetch_all(&admin).await.unwrap();
                for s in stale {
                    let born: i64 = s.split('_').nth(2).and_then(|t| t.parse().ok()).unwrap_or(0);
                    if born < now - 3600 {
                        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{s}\" CASCADE"))).execute(&admin).await;
                    }
                }
                let schema = format!("hedui_t_{now}_{}", &hedui_web::auth::random_token()[..10]);
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\""))).execute(&admin).await.unwrap();
                admin.close().await;
                Some(TestDb { url: format!("{PG_BASE}?options[search_path]={schema}"), kind, schema: Some(schema), _dir: None })
            }
        }
    }

    pub async fn cleanup(self) {
        if let Some(schema) = &self.schema {
            let admin = admin_pool().await.unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))).execute(&admin).await.unwrap();
            admin.close().await;
        }
    }
}

/// A plain connection to the `test` database (no migrations), to make and drop schemas.
pub async fn admin_pool() -> Result<sqlx::AnyPool, sqlx::Error> {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new().max_connections(1).acquire_timeout(Duration::from_secs(5)).connect(PG_BASE).await
}

pub fn county_names() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config/policy/gz-2026/counties.csv")).unwrap();
    text.lines().skip(1).filter_map(|l| {
        let mut f = l.split(',');
        Some((f.next()?.to_string(), f.next()?.to_string()))
    }).collect()
}

/// The application over a runs folder, with the standard users.
pub struct App {
    pub state: AppState,
    pub router: Router,
    pub db: TestDb,
}

impl App {
    pub async fn start(kind: Kind, out: &Path) -> Option<App> {
        let db = TestDb::new(kind).await?;
        let store = Store::connect(&db.url).await.unwrap();
        store.add_user(ANALYST.0, ANALYST.1, &Role::Analyst).await.unwrap();
        store.add_user(BANK.0, BANK.1, &Role::Department("banking".into())).await.unwrap();
        store.add_user(HEALTH.0, HEALTH.1, &Role::Department("health".into())).await.unwrap();
        let opts = Options { refresh_every: None, county_names: county_names(), ..Options::default() };
        let state = AppState::new(store, out, opts);
        state.refresh().await.unwrap();
        let router = hedui_web::router(state.clone());
        Some(App { state, router, db })
    }

    pub async fn finish(self) {
        self.state.store().close().await;
        self.db.cleanup().await;
    }

    pub async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), 64 << 20).await.unwrap();
        Reply { status, headers, body: bytes.to_vec() }
    }

    pub async fn get(&self, who: Option<&Client>, uri: &str) -> Reply {
        let mut b = Request::get(uri);
        if let Some(c) = who {
            b = b.header(header::COOKIE, c.cookie.clone());
        }
        self.send(b.body(Body::empty()).unwrap()).await
    }

    pub async fn post_form(&self, who: Option<&Client>, uri: &str, form: &[(&str, &str)]) -> Reply {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", hedui_web::html::urlencode(v))).collect();
        let mut b = Request::post(uri).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        if let Some(c) = who {
            b = b.header(header::COOKIE, c.cookie.clone());
        }
        self.send(b.body(Body::from(body.join("&"))).unwrap()).await
    }

    pub async fn post_json(&self, who: &Client, csrf: Option<&str>, uri: &str, json: serde_json::Value) -> Reply {
        let mut b = Request::post(uri).header(header::CONTENT_TYPE, "application/json").header(header::COOKIE, who.cookie.clone());
        if let Some(t) = csrf {
            b = b.header("x-csrf-token", t);
        }
        self.send(b.body(Body::from(json.to_string())).unwrap()).await
    }

    /// Signs in through the real form (login cookie + hidden token).
    pub async fn login(&self, (name, password): (&str, &str)) -> Client {
        let form = self.get(None, "/login").await;
        assert_eq!(form.status, StatusCode::OK);
        let login_cookie = form.set_cookie("hedui_login").expect("login cookie");
        let pre = Client { cookie: format!("hedui_login={login_cookie}"), csrf: String::new() };
        let res = self.post_form(Some(&pre), "/login", &[("name", name), ("password", password), ("csrf", &login_cookie), ("next", "/")]).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "sign-in of {name}: {}", res.text());
        let token = res.set_cookie("hedui_session").expect("session cookie");
        let mut c = Client { cookie: format!("hedui_session={token}"), csrf: String::new() };
        let me = self.get(Some(&c), "/api/me").await.json();
        c.csrf = me["csrf_token"].as_str().unwrap().to_string();
        c
    }
}

/// A signed-in client: its cookie header and CSRF token.
#[derive(Clone, Debug)]
pub struct Client {
    pub cookie: String,
    pub csrf: String,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
    pub fn set_cookie(&self, name: &str) -> Option<String> {
        self.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| v.strip_prefix(&format!("{name}=")).map(|rest| rest.split(';').next().unwrap_or("").to_string()))
    }
    pub fn set_cookie_line(&self, name: &str) -> Option<String> {
        self.headers.get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find(|v| v.starts_with(&format!("{name}="))).map(str::to_string)
    }
    pub fn location(&self) -> String {
        self.headers.get(header::LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
    }
}

/// Copies the fixture runs folder to a temp folder the test may change.
pub fn copy_fixture() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&fixture_out(), dir.path());
    dir
}

pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let meta = e.path().symlink_metadata().unwrap();
        let target = to.join(e.file_name());
        if meta.file_type().is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else if meta.is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// Reads a run's CSV as header → value maps (the test's own reading of the contract).
pub fn csv_rows(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let text = text.trim_start_matches('\u{feff}');
    let mut r = csv::Reader::from_reader(text.as_bytes());
    let h = r.headers().unwrap().clone();
    r.records().map(|rec| h.iter().zip(rec.unwrap().iter()).map(|(a, b)| (a.to_string(), b.to_string())).collect()).collect()
}

pub fn wait() -> Duration {
    Duration::from_millis(50)
}
