//! The bundled sample worlds, run through the real `hedui` binary with the
//! simulated departments: verdicts and discrepancies must agree exactly with
//! the expected files (as `shared/tools/compare.py` judges them), the exit code
//! must match, and a re-run must reproduce the same bytes.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn world(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds").join(name)
}

fn run_demo(world: &Path, out: &Path, outbox: &Path) -> i32 {
    let status = Command::new(env!("CARGO_BIN_EXE_hedui"))
        .args(["demo", "--no-progress", "--world"])
        .arg(world)
        .arg("--out")
        .arg(out)
        .arg("--outbox")
        .arg(outbox)
        .env_remove("HEDUI_HR_TOKEN")
        .env_remove("HEDUI_EDUCATION_KEY")
        .env("HEDUI_LOG", "warn")
        .status()
        .expect("hedui runs");
    status.code().expect("exit code")
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = csv::ReaderBuilder::new().has_headers(true).from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    r.records().map(|x| x.unwrap().iter().map(String::from).collect()).collect()
}

fn assert_agrees(run: &Path, expected: &Path) {
    let got = csv_rows(&run.join("verdicts.csv"));
    let want = csv_rows(&expected.join("verdicts.csv"));
    let mut diffs = Vec::new();
    for w in &want {
        match got.iter().find(|g| g[0] == w[0]) {
            None => diffs.push(format!("missing verdict {}", w[0])),
            Some(g) if g != w => diffs.push(format!("got  {}\nwant {}", g.join(","), w.join(","))),
            _ => {}
        }
    }
    assert_eq!(got.len(), want.len(), "verdict count");
    assert!(diffs.is_empty(), "verdicts differ:\n{}", diffs.join("\n"));

    // compare.py keys discrepancies by (code, department, household_id, person_id).
    let key = |r: &Vec<String>| (r[0].clone(), r[1].clone(), r[2].clone(), r[3].clone());
    let got: BTreeSet<_> = csv_rows(&run.join("discrepancies.csv")).iter().map(key).collect();
    let want: BTreeSet<_> = csv_rows(&expected.join("discrepancies.csv")).iter().map(key).collect();
    let missed: Vec<_> = want.difference(&got).collect();
    let unexpected: Vec<_> = got.difference(&want).collect();
    assert!(missed.is_empty() && unexpected.is_empty(), "discrepancies differ\nmissed: {missed:#?}\nunexpected: {unexpected:#?}");
}

fn expected_exit(world: &Path) -> i32 {
    std::fs::read_to_string(world.join("expected/exit_code")).unwrap().trim().parse().unwrap()
}

#[test]
fn full_world_agrees_and_reruns_byte_for_byte() {
    let w = world("gz-60-2026-11-26");
    let tmp = tempfile::tempdir().unwrap();
    let (out, outbox) = (tmp.path().join("out"), tmp.path().join("outbox"));
    assert_eq!(run_demo(&w, &out, &outbox), expected_exit(&w));
    let first = std::fs::canonicalize(out.join("latest")).unwrap();
    assert_agrees(&first, &w.join("expected"));

    // The banking request went out for authorized persons only.
    let qry = std::fs::read(outbox.join("banking/QRY_20261126.txt")).unwrap();
    let (qry, _, bad) = encoding_rs::GBK.decode(&qry);
    assert!(!bad);
    assert!(qry.starts_with("查询编号|身份证号|姓名|授权书编号"));
    for unauthorized in ["520302198804087373", "522601194307267975"] {
        // heads of H0000020 (no authorization) and H0000035 (none either)
        assert!(!qry.contains(unauthorized), "{unauthorized} was sent to the bank");
    }

    // Every file the manifest promises exists and hashes as it says.
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(first.join("run.json")).unwrap()).unwrap();
    for f in ["verdicts.csv", "discrepancies.csv", "explanations.jsonl", "report.html", "feedback/civil_affairs.csv", "feedback/health.xlsx"] {
        assert!(manifest["files"][f].is_string(), "manifest lacks {f}");
    }
    for s in manifest["sources"].as_array().unwrap() {
        let r = &s["records"];
        let sum: u64 = ["used", "quarantined", "unrequested", "not_authorized", "after_as_of", "duplicate"].iter().map(|k| r[k].as_u64().unwrap()).sum();
        assert_eq!(r["read"].as_u64().unwrap(), sum, "{} does not reconcile", s["code"]);
    }

    // A second run: a new folder, the same bytes, the first untouched.
    assert_eq!(run_demo(&w, &out, &outbox), expected_exit(&w));
    let second = std::fs::canonicalize(out.join("latest")).unwrap();
    assert_ne!(first, second);
    // Education answers were kept from the first night and reused, not asked again.
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(second.join("run.json")).unwrap()).unwrap();
    let edu = manifest["sources"].as_array().unwrap().iter().find(|s| s["code"] == "education").unwrap();
    assert!(edu["persons_requested"].as_u64().unwrap() > 0);
    assert_eq!(edu["answers_reused"], edu["persons_requested"]);
    assert_eq!(edu["requests"], 0);
    for f in ["verdicts.csv", "discrepancies.csv"] {
        assert_eq!(std::fs::read(first.join(f)).unwrap(), std::fs::read(second.join(f)).unwrap(), "{f} differs between runs");
    }
    assert!(out.join("audit/audit.jsonl").exists());
    let audit = std::fs::read_to_string(out.join("audit/audit.jsonl")).unwrap();
    assert!(!audit.contains("520103198109051534"), "a full ID in the audit log");
}

#[test]
fn no_banking_world_agrees_with_exit_3() {
    let w = world("gz-60-no-banking");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    assert_eq!(run_demo(&w, &out, &tmp.path().join("outbox")), 3);
    assert_agrees(&out.join("latest"), &w.join("expected"));
}

#[test]
fn a_bad_roster_is_refused_with_exit_2_and_nothing_written() {
    let tmp = tempfile::tempdir().unwrap();
    let inbox = tmp.path().join("inbox");
    std::fs::create_dir_all(inbox.join("roster")).unwrap();
    std::fs::write(inbox.join("roster/households.csv"), "household_id,program\nH1,DIBAO\n").unwrap();
    let out = tmp.path().join("out");
    let output = Command::new(env!("CARGO_BIN_EXE_hedui"))
        .args(["run", "--as-of", "2026-11-26", "--no-progress", "--inbox"])
        .arg(&inbox)
        .arg("--outbox")
        .arg(tmp.path().join("outbox"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2), "{}", String::from_utf8_lossy(&output.stderr));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("households.csv"), "the error names the file: {stderr}");
    assert!(!out.exists() || std::fs::read_dir(&out).unwrap().next().is_none(), "something was written");
    assert!(!tmp.path().join("outbox").exists(), "a request went out");
}

#[test]
fn killing_the_run_midway_leaves_no_folder_that_looks_complete() {
    let w = world("gz-60-2026-11-26");
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_hedui"))
        .args(["demo", "--no-progress", "--latency-ms", "3000", "--world"])
        .arg(&w)
        .arg("--out")
        .arg(&out)
        .arg("--outbox")
        .arg(tmp.path().join("outbox"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the run has started writing (its staging folder exists), then kill it.
    let started = std::time::Instant::now();
    while !std::fs::read_dir(&out).map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with(".staging-"))).unwrap_or(false) {
        assert!(started.elapsed().as_secs() < 20, "the run never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!out.join("latest").exists(), "latest points somewhere");
    for e in std::fs::read_dir(&out).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        assert!(name.starts_with(".staging-") || name == "audit" || name == "cache", "{name} looks like a run folder");
    }
}
