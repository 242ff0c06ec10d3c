//! `hedui serve` and `hedui user add` through the real binary, on what
//! `hedui demo` publishes today (the workbench reads the run folder contract,
//! so this catches any drift between the batch's files and the importer), and
//! the workbench's labels against the engine's vocabulary.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hedui_core::rules::{DiscrepancyCode, ReasonCode};

#[test]
fn the_workbench_has_a_label_for_every_engine_code() {
    for code in ReasonCode::ALL {
        assert!(hedui_web::i18n::REASONS.iter().any(|(c, _, _)| *c == code.as_str()), "no label for reason {code}");
    }
    for code in DiscrepancyCode::ALL {
        let label = hedui_web::i18n::DISCREPANCIES.iter().find(|(c, _, _)| *c == code.as_str());
        // The Chinese label is the feedback files' 问题说明, word for word.
        assert_eq!(label.map(|l| l.1), Some(code.description_zh()), "label of discrepancy {code}");
    }
}

fn hedui() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_hedui"));
    c.env("HEDUI_LOG", "warn").env_remove("HEDUI_DB");
    c
}

fn world() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/gz-60-2026-11-26")
}

/// The server process, stopped when dropped.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A minimal HTTP/1.1 exchange: (status, headers, body).
fn http(port: u16, method: &str, path: &str, cookie: &str, body: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nCookie: {cookie}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, head.to_string(), rest.to_string())
}

fn cookie_value(head: &str, name: &str) -> Option<String> {
    head.lines().filter_map(|l| l.strip_prefix("set-cookie: ").or_else(|| l.strip_prefix("Set-Cookie: "))).find_map(|v| v.strip_prefix(&format!("{name}=")).map(|r| r.split(';').next().unwrap_or("").to_string()))
}

#[test]
fn a_new_user_runs_the_batch_then_serves_and_signs_in() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let status = hedui().args(["demo", "--no-progress", "--world"]).arg(world()).arg("--out").arg(&out).arg("--outbox").arg(tmp.path().join("outbox")).stderr(Stdio::null()).status().unwrap();
    assert!(matches!(status.code(), Some(0) | Some(3)), "the demo published a run");
    let run_id = std::fs::read_link(out.join("latest")).unwrap().to_string_lossy().into_owned();

    // Users: password from standard input, or from a variable.
    let mut add = hedui().args(["user", "add", "--out"]).arg(&out).args(["--name", "wang", "--role", "analyst"]).stdin(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    add.stdin.take().unwrap().write_all(b"wang-password-1\n").unwrap();
    let done = add.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0), "{}", String::from_utf8_lossy(&done.stderr));
    let dept = hedui().args(["user", "add", "--out"]).arg(&out).args(["--name", "bank1", "--role", "department", "--department", "banking", "--password-env", "PW"]).env("PW", "bank1-password").output().unwrap();
    assert_eq!(dept.status.code(), Some(0));
    let again = hedui().args(["user", "add", "--out"]).arg(&out).args(["--name", "wang", "--role", "analyst", "--password-env", "PW"]).env("PW", "another-password").output().unwrap();
    assert_eq!(again.status.code(), Some(2), "an existing name is refused");
    let no_dept = hedui().args(["user", "add", "--out"]).arg(&out).args(["--name", "x", "--role", "department", "--password-env", "PW"]).env("PW", "long-enough-1").output().unwrap();
    assert_eq!(no_dept.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&no_dept.stderr).contains("--department"));

    // The server on a free loopback port, default SQLite store beside the runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let _server = Server(hedui().args(["serve", "--refresh-secs", "0", "--listen", &format!("127.0.0.1:{port}"), "--out"]).arg(&out).stderr(Stdio::null()).spawn().unwrap());
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(30), "hedui serve did not listen");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(out.join("hedui.db").exists(), "default store: OUT/hedui.db");

    let (status, head, _) = http(port, "GET", "/runs", "", "");
    assert_eq!(status, 303, "signed out: to the sign-in page");
    assert!(head.to_lowercase().contains("location: /login?next=%2fruns"));
    let (_, head, body) = http(port, "GET", "/login", "", "");
    let login = cookie_value(&head, "hedui_login").unwrap();
    assert!(body.contains(&login));
    let (status, head, _) = http(port, "POST", "/login", &format!("hedui_login={login}"), &format!("name=wang&password=wang-password-1&csrf={login}"));
    assert_eq!(status, 303);
    let session = format!("hedui_session={}", cookie_value(&head, "hedui_session").unwrap());

    // The run is there, with the counts of its run.json.
    let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join(&run_id).join("run.json")).unwrap()).unwrap();
    let (status, _, body) = http(port, "GET", "/api/runs", &session, "");
    assert_eq!(status, 200);
    let runs: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(runs["runs"][0]["run_id"], run_id.as_str());
    assert_eq!(runs["runs"][0]["ineligible"], manifest["verdicts"]["INELIGIBLE"]);
    assert_eq!(runs["runs"][0]["households"], manifest["households"]);
    // Why is an ineligible household ineligible, by how much, on whose data.
    let (_, _, body) = http(port, "GET", &format!("/api/runs/{run_id}/households?verdict=INELIGIBLE&limit=500"), &session, "");
    let list: serde_json::Value = serde_json::from_str(&body).unwrap();
    let first = &list["items"][0];
    let hid = first["household_id"].as_str().unwrap();
    let (status, _, page) = http(port, "GET", &format!("/runs/{run_id}/households/{hid}"), &session, "");
    assert_eq!(status, 200);
    assert!(page.contains("结论依据") && page.contains("数据来源部门"));
    // County names come from the shipped policy.
    assert!(page.contains("区") || page.contains("市") || page.contains("县"));
    // The department user gets its own feedback file and nothing else.
    let (_, head, _) = http(port, "GET", "/login", "", "");
    let login = cookie_value(&head, "hedui_login").unwrap();
    let (_, head, _) = http(port, "POST", "/login", &format!("hedui_login={login}"), &format!("name=bank1&password=bank1-password&csrf={login}"));
    let bank = format!("hedui_session={}", cookie_value(&head, "hedui_session").unwrap());
    let (status, _, csv) = http(port, "GET", &format!("/runs/{run_id}/feedback/banking.csv"), &bank, "");
    assert_eq!(status, 200);
    assert!(csv.starts_with('\u{feff}'), "the file as published, BOM included");
    assert_eq!(http(port, "GET", &format!("/runs/{run_id}/feedback/health.csv"), &bank, "").0, 403);
    assert_eq!(http(port, "GET", &format!("/api/runs/{run_id}"), &bank, "").0, 403);
}
