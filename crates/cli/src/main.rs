//! `hedui`: the command line of the verification engine.
//!
//! - `hedui run` — the nightly batch (OUTPUTS.md): exit 0 complete, 3 complete
//!   with a source unavailable, 2 bad usage/config/roster, 1 failed.
//! - `hedui demo` — the same batch on the bundled sample world, with the
//!   simulated HR and education departments started in-process on loopback.
//! - `hedui simulate` — serve a world's `api/` folder as the two HTTP departments.
//! - `hedui serve` — the analysts' workbench over published runs (hedui-web);
//!   `hedui user add` creates its users.
//! - `hedui generate` — write a generated world (every department's files,
//!   the simulator's data, and the expected verdicts and discrepancies).

mod progress;
mod serve;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use hedui_batch::{RunOutcome, RunRequest};
use hedui_cli::registry;

/// A batch allocates and frees tens of millions of small records: glibc's
/// allocator spent about a third of the rules stage's CPU and kept freed
/// memory fragmented across its arenas (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "hedui", version, about = "核对 — verifies the economic status of social-assistance households")]
struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the nightly batch.
    Run {
        /// Verification date D (YYYY-MM-DD); default today.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Input folder: roster/ and one folder per file-delivered department.
        #[arg(long)]
        inbox: PathBuf,
        /// Where requests to departments are written (banking/QRY_<batch>.txt).
        #[arg(long)]
        outbox: PathBuf,
        /// Where run folders are published (DIR/<run_id>/, DIR/latest).
        #[arg(long)]
        out: PathBuf,
        /// Settings file (TOML); default: the shipped policy gz-2026 and sources.
        #[arg(long)]
        config: Option<PathBuf>,
        /// No progress bars even on a terminal.
        #[arg(long)]
        no_progress: bool,
    },
    /// Run the batch on a sample world with simulated departments.
    Demo {
        /// World folder (inbox/, api/, world.json).
        #[arg(long)]
        world: Option<PathBuf>,
        /// Where run folders are published.
        #[arg(long, default_value = "out")]
        out: PathBuf,
        /// Where department requests are written.
        #[arg(long, default_value = "outbox")]
        outbox: PathBuf,
        /// Verification date; default: the world's as_of.
        #[arg(long)]
        as_of: Option<NaiveDate>,
        /// Settings file (TOML); default: the shipped one.
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long)]
        no_progress: bool,
        /// Reply latency of the simulated departments, in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Lift the education rate limits on both sides (the simulated
        /// department's 20 calls/s and 8 in flight, and the engine's client
        /// limiter): for benchmarks and large generated worlds.
        #[arg(long)]
        no_rate_limit: bool,
    },
    /// The analysts' workbench: published runs, reviews, department feedback files.
    Serve(serve::ServeArgs),
    /// Workbench users.
    User {
        #[command(subcommand)]
        command: serve::UserCommand,
    },
    /// Serve a world's api/ folder as the HR and education departments.
    Simulate {
        /// World folder holding api/hr.json and api/education.json.
        #[arg(long)]
        world: PathBuf,
        #[arg(long, default_value_t = 18080)]
        port: u16,
        /// Fixed reply latency in milliseconds.
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// Switch off education's 20 calls/s and 8 in-flight limits.
        #[arg(long)]
        no_rate_limit: bool,
    },
    /// Generate a world with known right answers (inbox/, api/, world.json, expected/).
    Generate {
        #[arg(long)]
        households: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// The verification date the expected outputs are for.
        #[arg(long)]
        as_of: NaiveDate,
        /// The world folder to write.
        #[arg(long)]
        out: PathBuf,
        /// `0.03` sets every fault's rate; `CODE=0.1` one fault's (repeatable).
        #[arg(long)]
        fault_rate: Vec<String>,
        /// Probability of each formatting quirk and neutral trap.
        #[arg(long, default_value_t = 0.05)]
        quirk_rate: f64,
        /// Make a department's data unobtainable for the batch (repeatable).
        #[arg(long)]
        unavailable: Vec<String>,
        /// Data rows per delivered text file before the next one starts.
        #[arg(long, default_value_t = 1_000_000)]
        rows_per_file: u64,
        /// Data rows per XLSX sheet before the next workbook starts.
        #[arg(long, default_value_t = 1_000_000)]
        xlsx_rows_per_file: u32,
    },
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEDUI_LOG").unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        LogFormat::Text => builder.init(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let code = rt.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::serve(args).await,
            Command::User { command } => serve::user(command).await,
            Command::Run { as_of, inbox, outbox, out, config, no_progress } => {
                let req = RunRequest { as_of: as_of.unwrap_or_else(|| chrono::Local::now().date_naive()), inbox, outbox, out, config, overrides: Vec::new() };
                run_batch(req, no_progress).await
            }
            Command::Demo { world, out, outbox, as_of, config, no_progress, latency_ms, no_rate_limit } => {
                demo(DemoArgs { world, out, outbox, as_of, config, no_progress, latency_ms, no_rate_limit }).await
            }
            Command::Simulate { world, port, latency_ms, no_rate_limit } => simulate(&world, port, latency_ms, no_rate_limit).await,
            Command::Generate { households, seed, as_of, out, fault_rate, quirk_rate, unavailable, rows_per_file, xlsx_rows_per_file } => {
                let mut cfg = hedui_generator::GenConfig::new(households, seed, as_of, out);
                cfg.quirk_rate = quirk_rate;
                cfg.unavailable = unavailable.into_iter().collect();
                cfg.rows_per_file = rows_per_file;
                cfg.xlsx_rows_per_file = xlsx_rows_per_file;
                generate(cfg, &fault_rate)
            }
        }
    });
    ExitCode::from(code as u8)
}

async fn run_batch(req: RunRequest, no_progress: bool) -> i32 {
    let progress = progress::for_terminal(no_progress);
    let sink: Arc<dyn hedui_adapter::Progress> = progress.clone();
    let registry = registry::all();
    match hedui_batch::run(&req, &registry, registry::load_roster, sink).await {
        Ok(outcome) => {
            progress.finish();
            summarize(&outcome);
            outcome.exit_code
        }
        Err(e) => {
            progress.finish();
            eprintln!("error: {e}");
            e.exit_code()
        }
    }
}

fn summarize(o: &RunOutcome) {
    let counts: Vec<String> = o.verdict_counts.iter().map(|(k, v)| format!("{k} {v}")).collect();
    eprintln!("run {} published: {}", o.run_id, o.run_dir.display());
    eprintln!("  verdicts: {}; discrepancies: {}", counts.join(", "), o.discrepancies);
    for s in &o.sources {
        let why = s.reason.as_deref().map(|r| format!(" — {r}")).unwrap_or_default();
        eprintln!("  {:<20} {:<11} read {:>7} used {:>7}{}", s.code, s.status, s.records.read, s.records.used, why);
    }
    eprintln!("  report: {}", o.run_dir.join("report.html").display());
}

/// The bundled world: `fixtures/worlds/gz-60-2026-11-26` under the current
/// folder, or under the source tree this binary was built from.
fn default_world() -> PathBuf {
    let rel = Path::new("fixtures/worlds/gz-60-2026-11-26");
    if rel.is_dir() {
        return rel.to_path_buf();
    }
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

struct DemoArgs {
    world: Option<PathBuf>,
    out: PathBuf,
    outbox: PathBuf,
    as_of: Option<NaiveDate>,
    config: Option<PathBuf>,
    no_progress: bool,
    latency_ms: u64,
    no_rate_limit: bool,
}

async fn demo(args: DemoArgs) -> i32 {
    let DemoArgs { world, out, outbox, as_of, config, no_progress, latency_ms, no_rate_limit } = args;
    let world = world.unwrap_or_else(default_world);
    let meta: serde_json::Value = match std::fs::read_to_string(world.join("world.json")) {
        Ok(t) => serde_json::from_str(&t).unwrap_or_default(),
        Err(e) => {
            eprintln!("error: {}: {e} (is --world a sample world folder?)", world.join("world.json").display());
            return 2;
        }
    };
    let as_of = match as_of.or_else(|| meta.get("as_of").and_then(|v| v.as_str()).and_then(|s| s.parse().ok())) {
        Some(d) => d,
        None => chrono::Local::now().date_naive(),
    };
    let latency = if latency_ms > 0 { hedui_simulator::Latency::Fixed(std::time::Duration::from_millis(latency_ms)) } else { hedui_simulator::Latency::None };
    let mut sim_cfg = hedui_simulator::SimConfig { latency, ..Default::default() };
    if no_rate_limit {
        sim_cfg.education_calls_per_s = None;
        sim_cfg.education_max_in_flight = None;
    }
    let sim = match hedui_simulator::start(&world.join("api"), sim_cfg).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the simulated departments from {}: {e}", world.join("api").display());
            return 1;
        }
    };
    let token = meta.get("hr_token_default").and_then(|v| v.as_str()).unwrap_or(hedui_simulator::DEFAULT_HR_TOKEN).to_string();
    let key = meta.get("education_key_default").and_then(|v| v.as_str()).unwrap_or(hedui_simulator::DEFAULT_EDUCATION_KEY).to_string();
    eprintln!("simulated departments on {} (HR) and {} (education)", sim.hr_url(), sim.education_url());
    let mut overrides: Vec<(String, String)> = vec![
        ("sources.hr_social_security.url".into(), sim.hr_url()),
        ("sources.hr_social_security.token".into(), token),
        ("sources.education.url".into(), sim.education_url()),
        ("sources.education.key".into(), key),
    ];
    if no_rate_limit {
        overrides.push(("sources.education.rate_limit_per_s".into(), "0".into()));
    }
    let req = RunRequest { as_of, inbox: world.join("inbox"), outbox, out, config, overrides };
    let code = run_batch(req, no_progress).await;
    sim.shutdown().await;
    code
}

async fn simulate(world: &Path, port: u16, latency_ms: u64, no_rate_limit: bool) -> i32 {
    let mut cfg = hedui_simulator::SimConfig { latency: hedui_simulator::Latency::Fixed(std::time::Duration::from_millis(latency_ms)), ..Default::default() };
    if no_rate_limit {
        cfg.education_calls_per_s = None;
        cfg.education_max_in_flight = None;
    }
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    match hedui_simulator::start_on(addr, &world.join("api"), cfg).await {
        Ok(sim) => {
            eprintln!("serving HR at {} and education at {}; Ctrl-C stops", sim.hr_url(), sim.education_url());
            let _ = tokio::signal::ctrl_c().await;
            sim.shutdown().await;
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

/// `hedui generate`: writes the world and prints what it holds.
fn generate(mut cfg: hedui_generator::GenConfig, fault_rates: &[String]) -> i32 {
    for spec in fault_rates {
        if let Err(e) = cfg.set_fault_rate(spec) {
            eprintln!("error: {e}");
            return 2;
        }
    }
    let started = std::time::Instant::now();
    let total = cfg.households;
    let result = hedui_generator::generate(&cfg, &mut |done| eprintln!("  {done} / {total} households"));
    match result {
        Ok(s) => {
            let verdicts: Vec<String> = s.verdicts.iter().map(|(k, v)| format!("{k} {v}")).collect();
            eprintln!("world written to {} in {:.1} s", cfg.out.display(), started.elapsed().as_secs_f64());
            eprintln!("  households {}; expected verdicts: {}; expected discrepancies {}; exit code {}", s.households, verdicts.join(", "), s.discrepancies, s.exit_code);
            0
        }
        Err(hedui_generator::GenError::Usage(m)) => {
            eprintln!("error: {m}");
            2
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}
