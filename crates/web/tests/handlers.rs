//! Handler tests through `router(...)` and `oneshot`, each run on SQLite (a
//! temp file) and on PostgreSQL (a fresh schema of the `test` database).

mod common;

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use common::*;
use serde_json::json;

/// Runs a test body on both stores.
macro_rules! both_stores {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$name(super::Kind::Sqlite).await
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$name(super::Kind::Postgres).await
                }
            }
        )*
    };
}

both_stores!(
    runs_are_imported_once_with_their_counts,
    changes_since_the_previous_run_match_the_verdict_files,
    an_analyst_answers_why_in_three_clicks,
    discrepancies_filter_and_page_without_gaps,
    reviews_keep_an_append_only_history,
    a_department_user_cannot_cross_the_line,
    sessions_expire_and_forms_need_their_token,
    pages_switch_language_and_escape_text,
    paging_stays_fast_at_100k_discrepancies,
);

async fn runs_are_imported_once_with_their_counts(kind: Kind) {
    let out = copy_fixture();
    // Not runs: a staging folder (a crash mid-publication) and a broken folder.
    std::fs::create_dir_all(out.path().join(".staging-20261127-001")).unwrap();
    std::fs::write(out.path().join(".staging-20261127-001/run.json"), "{}").unwrap();
    std::fs::create_dir_all(out.path().join("20261127-001")).unwrap();
    std::fs::write(out.path().join("20261127-001/run.json"), r#"{"run_id":"20261127-001"}"#).unwrap();
    let Some(app) = App::start(kind, out.path()).await else { return };
    let scan = app.state.last_scan().unwrap();
    assert_eq!(scan.report.imported, vec![RUN_OLD.to_string(), RUN_NEW.to_string()], "latest/ and .staging-* are not runs");
    assert_eq!(scan.report.failed.len(), 1);
    assert!(scan.report.failed[0].1.contains("verdicts.csv"), "the broken run names its missing file: {:?}", scan.report.failed);

    let ana = app.login(ANALYST).await;
    let runs = app.get(Some(&ana), "/api/runs").await.json();
    let list = runs["runs"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["run_id"], RUN_NEW, "newest first");
    for r in list {
        let id = r["run_id"].as_str().unwrap();
        let manifest: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(fixture_out().join(id).join("run.json")).unwrap()).unwrap();
        let verdicts = csv_rows(&fixture_out().join(id).join("verdicts.csv"));
        assert_eq!(r["households"].as_u64().unwrap() as usize, verdicts.len());
        for (k, field) in [("ELIGIBLE", "eligible"), ("INELIGIBLE", "ineligible"), ("REVIEW", "review")] {
            assert_eq!(r[field], manifest["verdicts"].get(k).cloned().unwrap_or(json!(0)), "{id} {k}");
        }
        let disc = csv_rows(&fixture_out().join(id).join("discrepancies.csv")).len();
        assert_eq!(r["discrepancies"].as_u64().unwrap() as usize, disc);
    }
    // The first run had banking unavailable: the runs page says so.
    let old = list.iter().find(|r| r["run_id"] == RUN_OLD).unwrap();
    let banking = old["sources"].as_array().unwrap().iter().find(|s| s["code"] == "banking").unwrap();
    assert_eq!(banking["status"], "unavailable");
    let page = app.get(Some(&ana), "/runs").await.text();
    assert!(page.contains("银行 不可用"), "source status on the runs page");

    // A second scan finds nothing new; a newly published run is picked up.
    assert!(app.state.refresh().await.unwrap().imported.is_empty());
    std::fs::remove_dir_all(out.path().join("20261127-001")).unwrap();
    copy_dir(&fixture_out().join(RUN_NEW), &out.path().join("20261127-001"));
    let manifest_path = out.path().join("20261127-001/run.json");
    let text = std::fs::read_to_string(&manifest_path).unwrap().replace(RUN_NEW, "20261127-001").replace("\"as_of\": \"2026-11-26\"", "\"as_of\": \"2026-11-27\"");
    std::fs::write(&manifest_path, text).unwrap();
    let csrf_less = app.post_form(Some(&ana), "/refresh", &[]).await;
    assert_eq!(csrf_less.status, StatusCode::FORBIDDEN);
    let res = app.post_form(Some(&ana), "/refresh", &[("csrf", &ana.csrf)]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let runs = app.get(Some(&ana), "/api/runs").await.json();
    assert_eq!(runs["runs"][0]["run_id"], "20261127-001");
    // Same verdicts as the night before: nothing changed.
    assert_eq!(runs["runs"][0]["changes"]["newly_ineligible"]["households"], 0);
    assert_eq!(runs["runs"][0]["changes"]["previous_run_id"], RUN_NEW);
    app.finish().await;
}

async fn changes_since_the_previous_run_match_the_verdict_files(kind: Kind) {
    let Some(app) = App::start(kind, &fixture_out()).await else { return };
    let ana = app.login(ANALYST).await;
    // The test's own diff of the two verdict files.
    let verdicts = |run: &str| -> BTreeMap<String, (String, BTreeSet<String>)> {
        csv_rows(&fixture_out().join(run).join("verdicts.csv"))
            .into_iter()
            .map(|r| (r["household_id"].clone(), (r["verdict"].clone(), r["reason_codes"].split(';').filter(|c| !c.is_empty()).map(str::to_string).collect())))
            .collect()
    };
    let (before, after) = (verdicts(RUN_OLD), verdicts(RUN_NEW));
    let mut expected: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (h, (v, _)) in &after {
        if before.get(h).map(|b| &b.0) != Some(v) {
            let kind = match v.as_str() {
                "INELIGIBLE" => "ineligible",
                "ELIGIBLE" => "eligible",
                _ => "review",
            };
            expected.entry(kind).or_default().insert(h.clone());
        }
    }
    assert!(!expected.get("eligible").cloned().unwrap_or_default().is_empty(), "the fixture has households that became eligible once banking answered");
    let run = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}")).await.json();
    let c = &run["run"]["changes"];
    assert_eq!(c["previous_run_id"], RUN_OLD);
    for kind in ["ineligible", "eligible", "review"] {
        let want = expected.get(kind).cloned().unwrap_or_default();
        assert_eq!(c[format!("newly_{kind}")]["households"].as_u64().unwrap() as usize, want.len(), "{kind}");
        let listed = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/changes?kind={kind}&limit=500")).await.json();
        let got: BTreeSet<String> = listed["items"].as_array().unwrap().iter().map(|i| i["household_id"].as_str().unwrap().to_string()).collect();
        assert_eq!(got, want, "{kind}");
        // Each change names the reasons gained or lost.
        for item in listed["items"].as_array().unwrap() {
            let h = item["household_id"].as_str().unwrap();
            let now = &after[h].1;
            let then = before.get(h).map(|b| b.1.clone()).unwrap_or_default();
            let gained: BTreeSet<String> = item["reasons_added"].as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect();
            assert_eq!(gained, now.difference(&then).cloned().collect::<BTreeSet<_>>(), "{h}");
        }
    }
    // Newly eligible households lost DEPARTMENT_DATA_UNAVAILABLE (banking answered).
    let reasons = c["newly_eligible"]["reasons"].as_array().unwrap();
    assert!(reasons.iter().any(|r| r[0] == "DEPARTMENT_DATA_UNAVAILABLE"), "{reasons:?}");
    let page = app.get(Some(&ana), &format!("/runs/{RUN_NEW}/changes?kind=eligible")).await.text();
    assert!(page.contains("部门数据不可用"), "the reason that changed, as a label");
    // The first run has nothing to compare with.
    let first = app.get(Some(&ana), &format!("/api/runs/{RUN_OLD}")).await.json();
    assert!(first["run"]["changes"].is_null());
    app.finish().await;
}

async fn an_analyst_answers_why_in_three_clicks(kind: Kind) {
    let Some(app) = App::start(kind, &fixture_out()).await else { return };
    let ana = app.login(ANALYST).await;
    // Click 0: the runs page links the ineligible count of each run.
    let runs = app.get(Some(&ana), "/runs").await;
    assert_eq!(runs.status, StatusCode::OK);
    let ineligible_link = format!("/runs/{RUN_NEW}/households?verdict=INELIGIBLE");
    assert!(runs.text().contains(&ineligible_link));
    // Click 1: the ineligible households, each with reason, margin and department.
    let list = app.get(Some(&ana), &ineligible_link).await.text();
    let expl: Vec<serde_json::Value> = std::fs::read_to_string(fixture_out().join(RUN_NEW).join("explanations.jsonl")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let target = expl.iter().find(|e| e["verdict"] == "INELIGIBLE" && e["reasons"][0]["code"] == "INCOME_ABOVE_STANDARD").expect("an income case in the fixture");
    let hid = target["household_id"].as_str().unwrap();
    assert!(list.contains(&format!("/runs/{RUN_NEW}/households/{hid}")));
    assert!(list.contains("收入超过保障标准") && list.contains("超出") && list.contains("人社"), "why, by how much, whose data — already in the list");
    // Click 2: the household.
    let page = app.get(Some(&ana), &format!("/runs/{RUN_NEW}/households/{hid}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    let reason = &target["reasons"][0];
    let yuan = |fen: i64| {
        let s = format!("{}.{:02}", fen.abs() / 100, fen.abs() % 100);
        let (w, f) = s.split_once('.').unwrap();
        let mut g = String::new();
        for (i, c) in w.chars().enumerate() {
            if i > 0 && (w.len() - i) % 3 == 0 {
                g.push(',');
            }
            g.push(c);
        }
        format!("{}{g}.{f}", if fen < 0 { "-" } else { "" })
    };
    assert!(html.contains(&yuan(reason["value_fen"].as_i64().unwrap())), "value");
    assert!(html.contains(&yuan(reason["limit_fen"].as_i64().unwrap())), "limit");
    assert!(html.contains(&format!("+{}", yuan(reason["margin_fen"].as_i64().unwrap()))), "margin");
    assert!(html.contains(&reason["evidence"][0]["origin"].as_str().unwrap()), "origin of the evidence");
    assert!(html.contains("数据来源部门") && html.contains("人社"), "whose data");
    // Members: masked IDs only.
    for m in target["members"].as_array().unwrap() {
        let id = m["id"].as_str().unwrap();
        assert!(!html.contains(id), "full ID {id} leaked");
        if id.len() == 18 {
            assert!(html.contains(&format!("{}********{}", &id[..6], &id[14..])), "masked {id}");
        }
        assert!(html.contains(m["name"].as_str().unwrap()));
    }
    // The JSON API has the same household, masked the same way.
    let api = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/households/{hid}")).await.json();
    assert_eq!(api["verdict"]["verdict"], "INELIGIBLE");
    assert_eq!(api["reasons"][0]["margin_fen"], reason["margin_fen"]);
    assert!(!api.to_string().contains(target["members"][0]["id"].as_str().unwrap()));
    assert_eq!(app.get(Some(&ana), &format!("/runs/{RUN_NEW}/households/NOPE")).await.status, StatusCode::NOT_FOUND);
    // The dashboard: charts as inline SVG, bars linking to filtered lists.
    let dash = app.get(Some(&ana), &format!("/runs/{RUN_NEW}")).await.text();
    assert!(dash.contains("<svg") && dash.contains("/discrepancies?department=banking") && dash.contains("/households?county="));
    let d = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}")).await.json();
    let by_dept: i64 = d["by_department"].as_array().unwrap().iter().map(|c| c["count"].as_i64().unwrap()).sum();
    assert_eq!(by_dept, d["run"]["discrepancies"].as_i64().unwrap());
    assert_eq!(d["trend"].as_array().unwrap().len(), 2);
    app.finish().await;
}

async fn discrepancies_filter_and_page_without_gaps(kind: Kind) {
    let Some(app) = App::start(kind, &fixture_out()).await else { return };
    let ana = app.login(ANALYST).await;
    let rows = csv_rows(&fixture_out().join(RUN_NEW).join("discrepancies.csv"));
    // Forward through every page of 7: each row once, in file order.
    let mut seqs: Vec<i64> = Vec::new();
    let mut pages = Vec::new();
    let mut after = String::new();
    loop {
        let p = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/discrepancies?limit=7&after={after}")).await.json();
        assert_eq!(p["total"].as_u64().unwrap() as usize, rows.len());
        assert_eq!(p["offset"].as_u64().unwrap() as usize, seqs.len());
        let items: Vec<i64> = p["items"].as_array().unwrap().iter().map(|i| i["seq"].as_i64().unwrap()).collect();
        seqs.extend(&items);
        pages.push(items);
        match p["next_after"].as_str() {
            Some(a) => after = a.to_string(),
            None => break,
        }
    }
    assert_eq!(seqs, (1..=rows.len() as i64).collect::<Vec<_>>());
    // Backward from the last page gives the page before it.
    let last_first = pages.last().unwrap()[0];
    let back = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/discrepancies?limit=7&before={last_first}")).await.json();
    let back_items: Vec<i64> = back["items"].as_array().unwrap().iter().map(|i| i["seq"].as_i64().unwrap()).collect();
    assert_eq!(&back_items, &pages[pages.len() - 2]);
    // Filters: department, department + code, county; each row matches and the totals agree with the file.
    let want = rows.iter().filter(|r| r["department"] == "banking").count();
    let p = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/discrepancies?department=banking&limit=500")).await.json();
    assert_eq!(p["total"].as_u64().unwrap() as usize, want);
    assert!(p["items"].as_array().unwrap().iter().all(|i| i["department"] == "banking"));
    let want = rows.iter().filter(|r| r["department"] == "civil_affairs" && r["code"] == "DUPLICATE_MEMBERSHIP").count();
    let p = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/discrepancies?department=civil_affairs&code=DUPLICATE_MEMBERSHIP")).await.json();
    assert_eq!(p["total"].as_u64().unwrap() as usize, want);
    let county_of: BTreeMap<String, String> = csv_rows(&fixture_out().join(RUN_NEW).join("verdicts.csv")).into_iter().map(|r| (r["household_id"].clone(), r["county_code"].clone())).collect();
    let county = county_of.values().next().unwrap().clone();
    let want = rows.iter().filter(|r| county_of.get(&r["household_id"]) == Some(&county)).count();
    let p = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/discrepancies?county={county}&limit=500")).await.json();
    assert_eq!(p["total"].as_u64().unwrap() as usize, want);
    // Masked everywhere: no full person ID of the file appears.
    let page = app.get(Some(&ana), &format!("/runs/{RUN_NEW}/discrepancies?department=public_security")).await.text();
    for r in rows.iter().filter(|r| r["department"] == "public_security" && r["person_id"].len() == 18) {
        assert!(!page.contains(&r["person_id"]), "full ID on the page");
    }
    assert!(page.contains("第 1–"), "row position shown");
    // The HTML filters and pager keep the filters in the links.
    assert!(rows.len() > 50, "the fixture has more than one page");
    let html = app.get(Some(&ana), &format!("/runs/{RUN_NEW}/discrepancies?status=open")).await.text();
    assert!(html.contains("status=open&amp;after=50"), "next page keeps the filter");
    let html = app.get(Some(&ana), &format!("/runs/{RUN_NEW}/discrepancies?status=open&after=50")).await.text();
    assert!(html.contains("status=open&amp;before=51") && html.contains("第 51–"), "previous page and position");
    app.finish().await;
}

async fn reviews_keep_an_append_only_history(kind: Kind) {
    let Some(app) = App::start(kind, &fixture_out()).await else { return };
    let ana = app.login(ANALYST).await;
    // A discrepancy found in both runs (same department, code, household, person, record).
    let key = |r: &BTreeMap<String, String>| (r["department"].clone(), r["code"].clone(), r["household_id"].clone(), r["person_id"].clone(), r["record_ref"].clone());
    let old: Vec<_> = csv_rows(&fixture_out().join(RUN_OLD).join("discrepancies.csv")).iter().map(key).collect();
    let new_rows = csv_rows(&fixture_out().join(RUN_NEW).join("discrepancies.csv"));
    let (idx, _) = new_rows.iter().enumerate().find(|(_, r)| old.contains(&key(r))).expect("a finding repeated in both runs");
    let seq = idx + 1;
    let old_seq = old.iter().position(|k| *k == key(&new_rows[idx])).unwrap() + 1;
    let uri = format!("/runs/{RUN_NEW}/discrepancies/{seq}");

    // Without the CSRF token: refused, nothing recorded.
    let r = app.post_form(Some(&ana), &uri, &[("status", "confirmed"), ("comment", "x"), ("version", "0")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // A dismissal needs a comment.
    let r = app.post_form(Some(&ana), &uri, &[("csrf", &ana.csrf), ("status", "dismissed"), ("comment", " "), ("version", "0")]).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Confirmed, then corrected.
    let r = app.post_form(Some(&ana), &uri, &[("csrf", &ana.csrf), ("status", "confirmed"), ("comment", "核实属实 <b>bold</b>"), ("version", "0")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text());
    assert_eq!(r.location(), format!("{uri}?saved=1"));
    let r = app.post_json(&ana, Some(&ana.csrf), &format!("/api{uri}/review"), json!({"status": "corrected", "comment": "部门已更正", "version": 1})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    // A stale version (someone else changed it meanwhile): 409, nothing written.
    let r = app.post_json(&ana, Some(&ana.csrf), &format!("/api{uri}/review"), json!({"status": "dismissed", "comment": "late", "version": 1})).await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = app.post_json(&ana, None, &format!("/api{uri}/review"), json!({"status": "dismissed", "comment": "no token", "version": 2})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let d = app.get(Some(&ana), &format!("/api{uri}")).await.json();
    assert_eq!(d["review"]["status"], "corrected");
    assert_eq!(d["review"]["version"], 2);
    let h = d["history"].as_array().unwrap();
    assert_eq!(h.len(), 2);
    assert_eq!((h[0]["before_status"].as_str(), h[0]["after_status"].as_str(), h[0]["by"].as_str()), (Some("open"), Some("confirmed"), Some(ANALYST.0)));
    assert_eq!((h[1]["before_status"].as_str(), h[1]["after_status"].as_str()), (Some("confirmed"), Some("corrected")));
    assert_eq!(h[1]["before_comment"], "核实属实 <b>bold</b>");
    // The page shows the history, escaped.
    let page = app.get(Some(&ana), &format!("{uri}?saved=1")).await.text();
    assert!(page.contains("复核已保存") && page.contains("&lt;b&gt;bold&lt;/b&gt;") && !page.contains("<b>bold</b>"));
    // The same finding in the other run shares the review.
    let other = app.get(Some(&ana), &format!("/api/runs/{RUN_OLD}/discrepancies/{old_seq}")).await.json();
    assert_eq!(other["review"]["status"], "corrected");
    assert_eq!(other["seen_in_runs"].as_array().unwrap().len(), 2);
    // Status filter.
    let p = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/discrepancies?status=corrected")).await.json();
    assert_eq!(p["total"], 1);
    let open = app.get(Some(&ana), &format!("/api/runs/{RUN_NEW}/discrepancies?status=open")).await.json();
    assert_eq!(open["total"].as_u64().unwrap() as usize, new_rows.len() - 1);
    // The database itself refuses to rewrite history.
    let pool = app.state.store().pool();
    assert!(sqlx::query("UPDATE review_history SET after_status = 'dismissed'").execute(pool).await.is_err(), "UPDATE must fail");
    assert!(sqlx::query("DELETE FROM review_history").execute(pool).await.is_err(), "DELETE must fail");
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM review_history").fetch_one(pool).await.unwrap();
    assert_eq!(n, 2);
    app.finish().await;
}

async fn a_department_user_cannot_cross_the_line(kind: Kind) {
    let Some(app) = App::start(kind, &fixture_out()).await else { return };
    let bank = app.login(BANK).await;
    let ana = app.login(ANALYST).await;

    let me = app.get(Some(&bank), "/api/me").await.json();
    assert_eq!(me["user"], json!({"name": "bank", "role": "department", "department": "banking"}));
    // Its own files: listed and downloadable, byte for byte.
    let page = app.get(Some(&bank), "/feedback").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(text.contains(&format!("/runs/{RUN_NEW}/feedback/banking.csv")) && text.contains(&format!("/runs/{RUN_NEW}/feedback/banking.xlsx")));
    assert!(!text.contains("health.csv") && !text.contains("civil_affairs"), "other departments are not even named");
    for ext in ["csv", "xlsx"] {
        let r = app.get(Some(&bank), &format!("/runs/{RUN_NEW}/feedback/banking.{ext}")).await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.body, std::fs::read(fixture_out().join(RUN_NEW).join(format!("feedback/banking.{ext}"))).unwrap());
        assert!(r.headers["content-disposition"].to_str().unwrap().starts_with("attachment;"));
    }
    let api = app.get(Some(&bank), "/api/feedback").await.json();
    let depts: BTreeSet<&str> = api["runs"].as_array().unwrap().iter().flat_map(|r| r["departments"].as_array().unwrap().iter().map(|d| d["department"].as_str().unwrap())).collect();
    assert_eq!(depts, BTreeSet::from(["banking"]));

    // Another department's file, and attempts to reach other files by path.
    let attempts = [
        format!("/runs/{RUN_NEW}/feedback/health.csv"),
        format!("/runs/{RUN_NEW}/feedback/health.xlsx"),
        format!("/runs/{RUN_NEW}/feedback/..%2Fverdicts.csv"),
        format!("/runs/{RUN_NEW}/feedback/..%2F..%2Flatest%2Ffeedback%2Fhealth.csv"),
        format!("/runs/{RUN_NEW}/feedback/%2E%2E%2Frun.json"),
        format!("/runs/{RUN_NEW}/feedback/banking.csv%00.xlsx"),
        format!("/runs/{RUN_NEW}/feedback/banking.csv%2F..%2F..%2Frun.json"),
        "/runs/..%2F..%2F..%2Fetc/feedback/banking.csv".to_string(),
        format!("/runs/{RUN_NEW}%2F..%2F{RUN_OLD}/feedback/banking.csv"),
        "/runs/latest/feedback/banking.csv".to_string(),
        format!("/runs/{RUN_NEW}/feedback/BANKING.CSV"),
        format!("/runs/{RUN_NEW}/report"),
    ];
    for uri in &attempts {
        let r = app.get(Some(&bank), uri).await;
        assert!(r.status == StatusCode::FORBIDDEN || r.status == StatusCode::NOT_FOUND, "{uri}: {}", r.status);
    }
    // Analyst pages and API: 403, whatever the run or household.
    let hid = "H0000002";
    let forbidden = [
        "/runs".to_string(),
        format!("/runs/{RUN_NEW}"),
        format!("/runs/{RUN_NEW}/households"),
        format!("/runs/{RUN_NEW}/households/{hid}"),
        format!("/runs/{RUN_NEW}/discrepancies?department=banking"),
        format!("/runs/{RUN_NEW}/discrepancies/1"),
        format!("/runs/{RUN_NEW}/changes"),
        "/api/runs".to_string(),
        format!("/api/runs/{RUN_NEW}"),
        format!("/api/runs/{RUN_NEW}/households/{hid}"),
        format!("/api/runs/{RUN_NEW}/discrepancies?department=banking"),
        format!("/api/runs/{RUN_NEW}/discrepancies/1"),
        format!("/api/runs/{RUN_NEW}/changes"),
    ];
    for uri in &forbidden {
        let r = app.get(Some(&bank), uri).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{uri}");
        assert!(!r.text().contains(hid) || uri.contains(hid), "{uri} leaked data");
    }
    // Writes too, even with a valid token.
    let r = app.post_json(&bank, Some(&bank.csrf), &format!("/api/runs/{RUN_NEW}/discrepancies/1/review"), json!({"status": "dismissed", "comment": "not ours", "version": 0})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post_form(Some(&bank), &format!("/runs/{RUN_NEW}/discrepancies/1"), &[("csrf", &bank.csrf), ("status", "dismissed"), ("comment", "x"), ("version", "0")]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = app.post_form(Some(&bank), "/refresh", &[("csrf", &bank.csrf)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reviews").fetch_one(app.state.store().pool()).await.unwrap();
    assert_eq!(n, 0);
    // Signing in with a `next` that points at an analyst page lands on the start page instead.
    // The health user sees health only; the analyst sees every department's files.
    let clinic = app.login(HEALTH).await;
    assert_eq!(app.get(Some(&clinic), &format!("/runs/{RUN_NEW}/feedback/health.csv")).await.status, StatusCode::OK);
    assert_eq!(app.get(Some(&clinic), &format!("/runs/{RUN_NEW}/feedback/banking.csv")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(Some(&ana), &format!("/runs/{RUN_NEW}/feedback/health.csv")).await.status, StatusCode::OK);
    assert_eq!(app.get(Some(&ana), &format!("/runs/{RUN_NEW}/feedback/..%2Frun.json")).await.status, StatusCode::NOT_FOUND);
    // Nobody signed in: pages redirect to sign-in, the API says 401, files are not served.
    let r = app.get(None, &format!("/runs/{RUN_NEW}/feedback/banking.csv")).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(r.location().starts_with("/login?next="));
    assert_eq!(app.get(None, "/api/runs").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(app.get(None, "/api/feedback").await.status, StatusCode::UNAUTHORIZED);
    app.finish().await;
}

async fn sessions_expire_and_forms_need_their_token(kind: Kind) {
    let Some(app) = App::start(kind, &fixture_out()).await else { return };
    // Passwords are stored as argon2id hashes.
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users WHERE name = 'ana'").fetch_one(app.state.store().pool()).await.unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains(ANALYST.1));
    // Wrong password: 401, no session.
    let form = app.get(None, "/login").await;
    let login_cookie = form.set_cookie("hedui_login").unwrap();
    let pre = Client { cookie: format!("hedui_login={login_cookie}"), csrf: String::new() };
    let r = app.post_form(Some(&pre), "/login", &[("name", "ana"), ("password", "wrong-password"), ("csrf", &login_cookie)]).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert!(r.set_cookie("hedui_session").is_none());
    assert!(r.text().contains("用户名或密码错误"));
    // A sign-in form posted from elsewhere (no login cookie): refused.
    let r = app.post_form(None, "/login", &[("name", "ana"), ("password", ANALYST.1), ("csrf", &login_cookie)]).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.set_cookie("hedui_session").is_none());
    // The session cookie: HttpOnly, SameSite=Strict, with an expiry.
    let r = app.post_form(Some(&pre), "/login", &[("name", "ana"), ("password", ANALYST.1), ("csrf", &login_cookie), ("next", "//evil.example/")]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/", "no open redirect");
    let line = r.set_cookie_line("hedui_session").unwrap();
    assert!(line.contains("HttpOnly") && line.contains("SameSite=Strict") && line.contains("Max-Age=28800"), "{line}");
    let ana = app.login(ANALYST).await;
    assert_eq!(app.get(Some(&ana), "/runs").await.status, StatusCode::OK);
    // The server keeps a hash of the token, never the token.
    let token = ana.cookie.strip_prefix("hedui_session=").unwrap();
    let stored: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM sessions WHERE token_hash = '{token}'"))).fetch_one(app.state.store().pool()).await.unwrap();
    assert_eq!(stored, 0);
    // Expiry is checked on the server: an expired session is signed out.
    sqlx::query("UPDATE sessions SET expires_at = 0").execute(app.state.store().pool()).await.unwrap();
    let r = app.get(Some(&ana), "/runs").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.location(), "/login?next=%2Fruns");
    assert_eq!(app.get(Some(&ana), "/api/me").await.status, StatusCode::UNAUTHORIZED);
    // Sign-out needs the token, then ends the session.
    let ana = app.login(ANALYST).await;
    assert_eq!(app.post_form(Some(&ana), "/logout", &[("csrf", "nope")]).await.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(Some(&ana), "/runs").await.status, StatusCode::OK);
    let r = app.post_form(Some(&ana), "/logout", &[("csrf", &ana.csrf)]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(app.get(Some(&ana), "/runs").await.status, StatusCode::SEE_OTHER);
    // Users: duplicate names and bad department codes are refused.
    let store = app.state.store();
    assert!(store.add_user("ana", "another-pass", &hedui_web::Role::Analyst).await.is_err());
    assert!(store.add_user("x", "long-enough", &hedui_web::Role::Department("../etc".into())).await.is_err());
    assert!(store.add_user("y", "short", &hedui_web::Role::Analyst).await.is_err());
    app.finish().await;
}

async fn pages_switch_language_and_escape_text(kind: Kind) {
    let Some(app) = App::start(kind, &fixture_out()).await else { return };
    let ana = app.login(ANALYST).await;
    let zh = app.get(Some(&ana), "/runs").await;
    assert!(zh.text().contains("核对批次") && zh.text().contains("lang=en"));
    assert!(zh.headers["content-security-policy"].to_str().unwrap().contains("default-src 'none'"));
    assert_eq!(zh.headers["cache-control"], "no-store");
    let en = app.get(Some(&ana), "/runs?lang=en").await;
    assert!(en.text().contains("Change since the previous run") && en.text().contains("<html lang=\"en\">"));
    let lang_cookie = en.set_cookie("hedui_lang").unwrap();
    assert_eq!(lang_cookie, "en");
    // Remembered through the cookie.
    let with_cookie = Client { cookie: format!("{}; hedui_lang=en", ana.cookie), csrf: ana.csrf.clone() };
    let dash = app.get(Some(&with_cookie), &format!("/runs/{RUN_NEW}")).await.text();
    assert!(dash.contains("Verdicts by county") && dash.contains("Trend over the last runs"));
    let h = app.get(Some(&with_cookie), &format!("/runs/{RUN_NEW}/households/H0000002")).await.text();
    assert!(h.contains("Why this verdict") && h.contains("Income above the standard"));
    // Nothing from elsewhere: no external URL in any page.
    for page in [&zh.text(), &dash, &h] {
        assert!(!page.contains("href=\"http") && !page.contains("src=") && !page.contains("<script"), "self-contained page");
    }
    app.finish().await;
}

/// A synthetic night of 100,000 discrepancies over 20,000 households.
fn big_run(out: &std::path::Path, run_id: &str) {
    let dir = out.join(run_id);
    std::fs::create_dir_all(dir.join("feedback")).unwrap();
    let depts = ["banking", "civil_affairs", "health", "hr_social_security", "public_security"];
    let codes = ["ID_INVALID", "NAME_MISMATCH", "DUPLICATE_RECORD", "UNREQUESTED_RECORD"];
    let counties = ["520102", "520103", "520111", "520115"];
    let mut v = String::from("household_id,program,county_code,area_type,verdict,reason_codes,counted_members,standard_monthly_yuan,gross_income_12m_yuan,medical_deduction_yuan,net_income_12m_yuan,financial_assets_yuan\n");
    for h in 0..20_000 {
        v.push_str(&format!("H{h:07},DIBAO,{},urban,{},,{},900.00,1000.00,0.00,1000.00,0.00\n", counties[h % 4], ["ELIGIBLE", "INELIGIBLE", "REVIEW"][h % 3], 1 + h % 4));
    }
    std::fs::write(dir.join("verdicts.csv"), v).unwrap();
    std::fs::write(dir.join("explanations.jsonl"), "").unwrap();
    let mut rows: Vec<(String, String, String, String)> = (0..100_000).map(|i| (depts[i % 5].to_string(), codes[(i / 5) % 4].to_string(), format!("52010219800101{:04}", i % 10_000), format!("H{:07}", i % 20_000))).collect();
    rows.sort();
    let mut d = String::from("code,department,household_id,person_id,record_ref,detail\n");
    for (i, (dept, code, person, h)) in rows.iter().enumerate() {
        d.push_str(&format!("{code},{dept},{h},{person},R{i},详情 {i}\n"));
    }
    std::fs::write(dir.join("discrepancies.csv"), d).unwrap();
    std::fs::write(dir.join("run.json"), json!({"run_id": run_id, "as_of": "2026-12-01", "started_at": "2026-12-01T01:00:00Z", "finished_at": "2026-12-01T02:00:00Z", "exit_code": 0, "policy_id": "gz-2026", "policy_version": "2026.1", "verdicts": {"ELIGIBLE": 6667, "INELIGIBLE": 6667, "REVIEW": 6666}, "quarantined_rows": 0, "sources": []}).to_string()).unwrap();
}

async fn paging_stays_fast_at_100k_discrepancies(kind: Kind) {
    let out = tempfile::tempdir().unwrap();
    big_run(out.path(), "20261201-001");
    let t = std::time::Instant::now();
    let Some(app) = App::start(kind, out.path()).await else { return };
    eprintln!("{kind:?}: imported 100,000 discrepancies + 20,000 households in {:.1}s", t.elapsed().as_secs_f64());
    let ana = app.login(ANALYST).await;
    let run = "20261201-001";
    // A review, so that the status filters have something to find.
    app.post_json(&ana, Some(&ana.csrf), &format!("/api/runs/{run}/discrepancies/77777/review"), json!({"status": "confirmed", "comment": "", "version": 0})).await;
    let queries = [
        ("first page", "".to_string()),
        ("deep page", "after=99900".to_string()),
        ("department", "department=health".to_string()),
        ("department deep", "department=health&after=90000".to_string()),
        ("department + code", "department=public_security&code=NAME_MISMATCH".to_string()),
        ("county", "county=520111&after=50000".to_string()),
        ("status open", "status=open&after=60000".to_string()),
        ("status confirmed", "status=confirmed".to_string()),
        ("backwards", "before=99951".to_string()),
    ];
    for (what, q) in &queries {
        // The HTML page (filter lists, count, position) and the API.
        for prefix in ["", "/api"] {
            let t = std::time::Instant::now();
            let r = app.get(Some(&ana), &format!("{prefix}/runs/{run}/discrepancies?{q}")).await;
            let ms = t.elapsed().as_millis();
            assert_eq!(r.status, StatusCode::OK, "{what}");
            eprintln!("{kind:?}: {prefix}/…/discrepancies?{q} ({what}): {ms} ms");
            assert!(ms < 750, "{what} took {ms} ms (debug build)");
        }
    }
    let p = app.get(Some(&ana), &format!("/api/runs/{run}/discrepancies?status=confirmed")).await.json();
    assert_eq!(p["total"], 1);
    let p = app.get(Some(&ana), &format!("/api/runs/{run}/discrepancies?after=99900")).await.json();
    assert_eq!(p["offset"], 99_900);
    assert_eq!(p["items"].as_array().unwrap().len(), 50);
    let t = std::time::Instant::now();
    let r = app.get(Some(&ana), &format!("/runs/{run}/households?verdict=INELIGIBLE&after=H0015000")).await;
    assert_eq!(r.status, StatusCode::OK);
    eprintln!("{kind:?}: households deep page: {} ms", t.elapsed().as_millis());
    app.finish().await;
}
