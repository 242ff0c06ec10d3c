//! Browser tests: Debian's headless Chromium, driven through Debian's
//! chromedriver (WebDriver, via the `fantoccini` crate: no browser download,
//! no TLS stack), against the real server on loopback — once per store.
//!
//! An analyst signs in, opens a run, filters discrepancies, opens a household
//! and marks a review; a department user fails to open another department's
//! file. Every page is saved as a PNG under `target/web-screenshots/<store>/`.
//!
//! Chromium missing: the test fails in CI (`CI` set) and is skipped with a
//! message elsewhere.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use common::*;
use fantoccini::{Client, ClientBuilder, Locator};
use hedui_web::{AppState, Options, Role, Store};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// One browser at a time: the machine has two cores.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_sqlite() {
    browser_walkthrough(Kind::Sqlite).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn browser_postgres() {
    browser_walkthrough(Kind::Postgres).await
}

fn browsers_present() -> bool {
    let present = Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists();
    if !present {
        if in_ci() {
            panic!("{CHROMIUM} or {CHROMEDRIVER} is missing: .ci/run installs them (apt-get install chromium chromium-driver)");
        }
        eprintln!("SKIPPED: {CHROMIUM} / {CHROMEDRIVER} not installed (apt-get install chromium chromium-driver); CI runs this test");
    }
    present
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn start_driver() -> (Driver, u16) {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("chromedriver starts");
    let driver = Driver(child);
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return (driver, port);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on {port}");
}

fn screenshot_dir(kind: Kind) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("web-screenshots").join(format!("{kind:?}").to_lowercase());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the whole page (the window grown to the page's height).
async fn shot(c: &Client, dir: &Path, name: &str) {
    // Measured at a small window: scrollHeight is never less than the window.
    c.set_window_size(1366, 700).await.unwrap();
    let height = c.execute("return Math.max(document.documentElement.scrollHeight, 700);", vec![]).await.ok().and_then(|v| v.as_u64()).unwrap_or(900).min(6000) as u32;
    c.set_window_size(1366, height + 140).await.unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn text_of(c: &Client) -> String {
    c.find(Locator::Css("body")).await.unwrap().text().await.unwrap()
}

/// Clicks something that navigates, and waits until the new page is there.
async fn click_to(c: &Client, loc: Locator<'_>) {
    let before = c.current_url().await.unwrap();
    c.find(loc).await.unwrap().click().await.unwrap();
    for _ in 0..100 {
        if c.current_url().await.unwrap() != before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for _ in 0..100 {
        if c.execute("return document.readyState;", vec![]).await.ok().and_then(|v| v.as_str().map(str::to_string)).as_deref() == Some("complete") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn sign_in(c: &Client, base: &str, (name, password): (&str, &str)) {
    c.goto(&format!("{base}/login")).await.unwrap();
    c.find(Locator::Css("input[name=name]")).await.unwrap().send_keys(name).await.unwrap();
    c.find(Locator::Css("input[name=password]")).await.unwrap().send_keys(password).await.unwrap();
    click_to(c, Locator::Css("button[type=submit]")).await;
}

async fn browser_walkthrough(kind: Kind) {
    if !browsers_present() {
        return;
    }
    let _one = ONE_BROWSER.lock().await;
    let Some(db) = TestDb::new(kind).await else { return };
    let store = Store::connect(&db.url).await.unwrap();
    store.add_user(ANALYST.0, ANALYST.1, &Role::Analyst).await.unwrap();
    store.add_user(BANK.0, BANK.1, &Role::Department("banking".into())).await.unwrap();
    let state = AppState::new(store, fixture_out(), Options { refresh_every: None, county_names: county_names(), ..Options::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(hedui_web::serve(listener, state.clone(), async move {
        let _ = stop_rx.await;
    }));

    let (driver, port) = start_driver().await;
    let profile = tempfile::tempdir().unwrap();
    let caps = serde_json::json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1366,900",
                format!("--user-data-dir={}", profile.path().display()),
            ]
        }
    });
    let caps = caps.as_object().unwrap().clone();
    let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new()).capabilities(caps).connect(&format!("http://127.0.0.1:{port}")).await.expect("a Chromium session");
    let dir = screenshot_dir(kind);

    // The walk runs in its own task so that a failed assertion still closes the browser.
    let c = client.clone();
    let walk = tokio::spawn(async move { walk(&c, &base, &dir).await });
    let result = walk.await;
    let _ = client.close().await;
    drop(driver);
    let _ = stop_tx.send(());
    let _ = server.await;
    state.store().close().await;
    db.cleanup().await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

async fn walk(c: &Client, base: &str, dir: &Path) {
    // Sign-in page, then the runs page.
    c.goto(&format!("{base}/runs")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().starts_with("/login"), "signed out: sent to sign in");
    shot(c, dir, "01-sign-in").await;
    sign_in(c, base, ANALYST).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/runs");
    let runs = text_of(c).await;
    assert!(runs.contains("核对批次") && runs.contains(RUN_NEW) && runs.contains("新增不符合"), "{runs}");
    shot(c, dir, "02-runs").await;

    // Open a run: the dashboard.
    click_to(c, Locator::Css(&format!("a[href='/runs/{RUN_NEW}']"))).await;
    assert_eq!(c.current_url().await.unwrap().path(), format!("/runs/{RUN_NEW}"));
    assert!(text_of(c).await.contains("按区县核对结果"));
    shot(c, dir, "03-run-dashboard").await;

    // Discrepancies, filtered by department with the form.
    click_to(c, Locator::Css(&format!("a.card[href='/runs/{RUN_NEW}/discrepancies']"))).await;
    c.find(Locator::Css("select[name=department]")).await.unwrap().select_by_value("civil_affairs").await.unwrap();
    click_to(c, Locator::Css("form.filters button[type=submit]")).await;
    let url = c.current_url().await.unwrap();
    assert_eq!(url.path(), format!("/runs/{RUN_NEW}/discrepancies"));
    assert!(url.query().unwrap_or("").contains("department=civil_affairs"));
    let rows = c.find_all(Locator::Css("table tr td:nth-child(3)")).await.unwrap();
    assert!(!rows.is_empty());
    for r in rows {
        assert_eq!(r.text().await.unwrap(), "民政");
    }
    shot(c, dir, "04-discrepancies-filtered").await;

    // Runs → ineligible households → a household: why, by how much, whose data.
    click_to(c, Locator::Css("header nav a[href='/runs']")).await;
    click_to(c, Locator::Css(&format!("a[href='/runs/{RUN_NEW}/households?verdict=INELIGIBLE']"))).await;
    shot(c, dir, "05-households-ineligible").await;
    click_to(c, Locator::Css("table tr td:first-child a")).await;
    assert!(c.current_url().await.unwrap().path().starts_with(&format!("/runs/{RUN_NEW}/households/H")), "three clicks from the runs page");
    let household = text_of(c).await;
    assert!(household.contains("结论依据") && household.contains("差额") && household.contains("数据来源部门"), "{household}");
    shot(c, dir, "06-household").await;
    // The same page in English, through the switch in the top bar.
    click_to(c, Locator::LinkText("English")).await;
    assert!(text_of(c).await.contains("Why this verdict"));
    shot(c, dir, "07-household-en").await;
    click_to(c, Locator::LinkText("中文")).await;

    // A household with discrepancies: open one and mark it confirmed.
    c.goto(&format!("{base}/runs/{RUN_NEW}/discrepancies?department=civil_affairs&code=DECLARED_MEMBER_DECEASED")).await.unwrap();
    click_to(c, Locator::Css("table tr td:nth-child(4) a")).await;
    shot(c, dir, "08-household-with-discrepancy").await;
    click_to(c, Locator::Css("a[href*='/discrepancies/']")).await;
    c.find(Locator::Css("input[name=status][value=confirmed]")).await.unwrap().click().await.unwrap();
    c.find(Locator::Css("textarea[name=comment]")).await.unwrap().send_keys("已电话核实：成员确已死亡，通知民政更新").await.unwrap();
    click_to(c, Locator::Css("main form[method=post] button[type=submit]")).await;
    assert!(c.current_url().await.unwrap().query().unwrap_or("").contains("saved=1"));
    let review = text_of(c).await;
    assert!(review.contains("复核已保存") && review.contains("已确认") && review.contains(ANALYST.0) && review.contains("已电话核实"), "{review}");
    shot(c, dir, "09-review-saved").await;

    // Changes since the previous run.
    c.goto(&format!("{base}/runs/{RUN_NEW}/changes?kind=eligible")).await.unwrap();
    assert!(text_of(c).await.contains("部门数据不可用"));
    shot(c, dir, "10-changes").await;

    // Sign out; a department user signs in and sees only its own files.
    click_to(c, Locator::Css("header form[action='/logout'] button")).await;
    assert!(c.current_url().await.unwrap().path().starts_with("/login"));
    sign_in(c, base, BANK).await;
    assert_eq!(c.current_url().await.unwrap().path(), "/feedback");
    let feedback = text_of(c).await;
    assert!(feedback.contains("banking.csv") && !feedback.contains("health.csv"), "{feedback}");
    shot(c, dir, "11-department-feedback").await;
    // Its own file downloads (same cookies as the browser); another department's does not.
    let own = c.raw_client_for(Method::GET, &format!("{base}/runs/{RUN_NEW}/feedback/banking.csv")).await.unwrap();
    assert_eq!(own.status(), StatusCode::OK);
    assert!(own.headers()["content-disposition"].to_str().unwrap().contains("banking.csv"));
    let other = c.raw_client_for(Method::GET, &format!("{base}/runs/{RUN_NEW}/feedback/health.csv")).await.unwrap();
    assert_eq!(other.status(), StatusCode::FORBIDDEN);
    c.goto(&format!("{base}/runs/{RUN_NEW}/feedback/health.csv")).await.unwrap();
    assert!(text_of(c).await.contains("无权访问"));
    shot(c, dir, "12-department-refused-other-file").await;
    c.goto(&format!("{base}/runs/{RUN_NEW}/households/H0000002")).await.unwrap();
    assert!(text_of(c).await.contains("无权访问"));
}
