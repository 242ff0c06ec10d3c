//! Shared setup of hedui's benchmarks (`cargo bench -p hedui-benches`):
//! a world generated once by hedui-generator and kept under
//! `target/bench-worlds/`, and helpers that feed it to each hot path —
//! ID validation, every format reader, and the rule evaluation
//! (`hedui_core::engine::verify`). The end-to-end benchmark of the whole
//! batch is `benches/e2e.sh`.
//!
//! The world's size is `HEDUI_BENCH_HOUSEHOLDS` (default 5,000 households).

pub mod big;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use hedui_adapter::{AuditLog, NoProgress, PersonRequest, Source, SourceConfig, SourceContext, SourceOutput};
use hedui_core::model::Roster;
use hedui_core::policy::{Policy, PolicySettings};

/// The as-of date of the benchmark world.
pub fn as_of() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).expect("valid")
}

/// Households in the benchmark world.
pub fn households() -> u64 {
    std::env::var("HEDUI_BENCH_HOUSEHOLDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000)
}

/// The benchmark world, generated on first use (seed 42) and reused after.
pub fn world() -> PathBuf {
    let n = households();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-worlds").join(format!("w{n}"));
    if !dir.join("expected/exit_code").is_file() {
        let cfg = hedui_generator::GenConfig::new(n, 42, as_of(), dir.clone());
        hedui_generator::generate(&cfg, &mut |_| {}).expect("benchmark world generated");
    }
    dir
}

/// Total size in bytes of the files directly in `dir` whose name matches `pattern` (`*` glob).
pub fn bytes_of(dir: &Path, pattern: &str) -> u64 {
    hedui_adapter::files::list_files(dir, pattern).expect("folder").iter().map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)).sum()
}

/// The gz-2026 policy shipped in config/.
pub fn policy() -> Policy {
    let settings = PolicySettings { id: "gz-2026".into(), version: "bench".into(), rules: Default::default() };
    Policy::parse(
        &settings,
        ("standards.csv", include_str!("../../config/policy/gz-2026/standards.csv")),
        ("parameters.csv", include_str!("../../config/policy/gz-2026/parameters.csv")),
        ("counties.csv", include_str!("../../config/policy/gz-2026/counties.csv")),
    )
    .expect("shipped policy parses")
}

/// A source of the given adapter type with extra settings.
pub fn source(kind: &str, settings: &[(&str, serde_json::Value)]) -> Box<dyn Source> {
    let cfg = SourceConfig {
        code: kind.into(),
        kind: kind.into(),
        enabled: true,
        settings: settings.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
    };
    let r = match kind {
        "public_security" => hedui_public_security::factory(&cfg),
        "health" => hedui_health::factory(&cfg),
        "market_regulation" => hedui_market_regulation::factory(&cfg),
        "housing" => hedui_housing::factory(&cfg),
        "disability" => hedui_disability::factory(&cfg),
        "banking" => hedui_banking::factory(&cfg),
        "hr_social_security" => hedui_hr_social_security::factory(&cfg),
        "education" => hedui_education::factory(&cfg),
        other => panic!("no adapter {other}"),
    };
    r.expect("source builds")
}

/// The context a source is fetched with: the world's inbox, requests for `code`.
pub fn context(world: &Path, roster: &Roster, code: &str, scratch: &Path) -> SourceContext {
    let requests: Vec<PersonRequest> = hedui_core::engine::plan_requests(roster, as_of(), code)
        .into_iter()
        .map(|p| PersonRequest { id: p.id, name: p.name, auth_no: p.auth_no, age: p.age })
        .collect();
    SourceContext {
        as_of: as_of(),
        batch_id: as_of().format("%Y%m%d").to_string(),
        run_id: "bench".into(),
        inbox: world.join("inbox"),
        outbox: scratch.join("outbox"),
        requests: Arc::new(requests),
        audit: Arc::new(AuditLog::open(&scratch.join("audit.jsonl"), "bench").expect("audit log")),
        progress: Arc::new(NoProgress),
    }
}

/// Fetches one source on a fresh current-thread runtime.
pub fn fetch(source: &dyn Source, cx: &SourceContext) -> SourceOutput {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    rt.block_on(source.fetch(cx)).expect("source reads")
}

/// One source's output with its code and the record kinds it declares.
pub type Fetched = (String, SourceOutput, &'static [hedui_core::model::RecordKind]);

/// Everything the engine needs for the world: the roster and every
/// source's output (HR and education through the simulated departments,
/// without rate limits).
pub fn all_sources(world: &Path, scratch: &Path) -> (Roster, Vec<Fetched>) {
    let roster = hedui_civil_affairs::load_roster(&world.join("inbox/roster")).expect("roster");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let cfg = hedui_simulator::SimConfig { education_calls_per_s: None, education_max_in_flight: None, ..Default::default() };
    let sim = rt.block_on(hedui_simulator::start(&world.join("api"), cfg)).expect("simulator");
    let mut out = Vec::new();
    for kind in ["public_security", "hr_social_security", "health", "market_regulation", "banking", "education", "housing", "disability"] {
        let settings: Vec<(&str, serde_json::Value)> = match kind {
            "hr_social_security" => vec![("url", sim.hr_url().into()), ("token", hedui_simulator::DEFAULT_HR_TOKEN.into())],
            "education" => vec![("url", sim.education_url().into()), ("key", hedui_simulator::DEFAULT_EDUCATION_KEY.into()), ("rate_limit_per_s", 0.into())],
            _ => vec![],
        };
        let s = source(kind, &settings);
        let cx = context(world, &roster, kind, scratch);
        let o = rt.block_on(s.fetch(&cx)).expect("source reads");
        out.push((kind.to_string(), o, s.kinds()));
    }
    drop(sim);
    (roster, out)
}
