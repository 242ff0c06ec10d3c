//! POLICY §4 end to end: a household whose authorization is missing, expired,
//! signed after D, or does not cover a department is never sent to that
//! department — not to HR, not to education, not in the banking request file —
//! and every request cites the household's authorization number.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hedui_adapter::NoProgress;
use hedui_batch::RunRequest;
use hedui_simulator::{Endpoint, SimConfig};


#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_households_are_never_sent_to_any_department() {
    let world = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/worlds/gz-60-2026-11-26");
    let as_of = chrono::NaiveDate::from_ymd_opt(2026, 11, 26).unwrap();
    let mut roster = hedui_civil_affairs::load_roster(&world.join("inbox/roster")).unwrap();
    roster.households.sort_by(|a, b| a.household_id.cmp(&b.household_id));

    // Who may be asked what, straight from the roster and POLICY §4.
    let mut may_ask: BTreeMap<&str, BTreeMap<String, String>> = BTreeMap::new();
    let mut never: Vec<String> = Vec::new();
    for h in &roster.households {
        let members = roster.members.iter().filter(|m| m.household_id == h.household_id);
        for m in members {
            let Ok(id) = hedui_core::identity::parse_id(&m.id_raw, as_of) else { continue };
            let id = id.as_str().to_string();
            match &h.authorization {
                Some(a) if a.is_valid_on(as_of) => {
                    for dept in ["hr_social_security", "education", "banking"] {
                        if a.covers(dept) {
                            // A person in two households is asked once, citing the first household's authorization.
                            may_ask.entry(dept).or_default().entry(id.clone()).or_insert_with(|| a.number.clone());
                        }
                    }
                }
                _ => never.push(id),
            }
        }
    }
    // A person also declared in an authorized household may be asked under that
    // household's authorization (the sample has one: DUPLICATE_MEMBERSHIP).
    let authorized: std::collections::BTreeSet<&String> = may_ask.values().flat_map(|m| m.keys()).collect();
    never.retain(|id| !authorized.contains(id));
    // The sample has households without, with an expired and with a future authorization.
    assert!(never.len() >= 8, "{} unauthorized persons", never.len());

    let sim = hedui_simulator::start(&world.join("api"), SimConfig::default()).await.unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let req = RunRequest {
        as_of,
        inbox: world.join("inbox"),
        outbox: tmp.path().join("outbox"),
        out: tmp.path().join("out"),
        config: None,
        overrides: vec![
            ("sources.hr_social_security.url".into(), sim.hr_url()),
            ("sources.hr_social_security.token".into(), "hr-test-token".into()),
            ("sources.education.url".into(), sim.education_url()),
            ("sources.education.key".into(), "edu-test-key".into()),
        ],
    };
    let outcome = hedui_batch::run(&req, &hedui_cli::registry::all(), hedui_cli::registry::load_roster, Arc::new(NoProgress)).await.unwrap();
    assert_eq!(outcome.exit_code, 0);

    let hr = sim.asked(Endpoint::Hr);
    let edu = sim.asked(Endpoint::Education);
    let qry = std::fs::read(tmp.path().join("outbox/banking/QRY_20261126.txt")).unwrap();
    let (qry, _, _) = encoding_rs::GBK.decode(&qry);
    let bank: BTreeMap<String, String> = qry.lines().skip(1).map(|l| l.split('|').collect::<Vec<_>>()).map(|f| (f[1].to_string(), f[3].to_string())).collect();

    for id in &never {
        assert!(!hr.contains_key(id) && !edu.contains_key(id) && !bank.contains_key(id), "{} of an unauthorized household was sent", hedui_core::identity::mask_id(id));
    }
    // Exactly the authorized persons, each with its authorization number.
    assert_eq!(&hr, &may_ask["hr_social_security"]);
    assert_eq!(&bank, &may_ask["banking"]);
    for (id, auth) in &edu {
        assert_eq!(may_ask["education"].get(id), Some(auth), "education asked about someone not authorized");
    }
    // Out of scope: H0000021's authorization does not cover banking.
    let h21: Vec<String> = roster.members.iter().filter(|m| m.household_id == "H0000021").map(|m| hedui_core::identity::parse_id(&m.id_raw, as_of).unwrap().as_str().to_string()).collect();
    assert!(h21.iter().all(|id| !bank.contains_key(id)));
    sim.shutdown().await;
}
