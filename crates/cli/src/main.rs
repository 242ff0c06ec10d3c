//! `hedui`: the command line of the verification engine.
//!
//! - `hedui run` — the nightly batch (OUTPUTS.md): exit 0 complete, 3 complete
//!   with a source unavailable, 2 bad usage/config/roster, 1 failed.
//! - `hedui demo` — the same batch on the bundled sample world, with the
//!   simulated HR and education departments started in-process on loopback.
//! - `hedui simulate` — serve a world's `api/` folder as the two HTTP departments.

mod progress;
mod registry;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;
use clap::{Parser, Subcommand, ValueEnum};
use hedui_batch::{RunOutcome, RunRequest};

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
            Command::Run { as_of, inbox, outbox, out, config, no_progress } => {
                let req = RunRequest { as_of: as_of.unwrap_or_else(|| chrono::Local::now().date_naive()), inbox, outbox, out, config, overrides: Vec::new() };
                run_batch(req, no_progress).await
            }
            Command::Demo { world, out, outbox, as_of, config, no_progress, latency_ms } => demo(DemoArgs { world, out, outbox, as_of, config, no_progress, latency_ms }).await,
            Command::Simulate { world, port, latency_ms } => simulate(&world, port, latency_ms).await,
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
}

async fn demo(args: DemoArgs) -> i32 {
    let DemoArgs { world, out, outbox, as_of, config, no_progress, latency_ms } = args;
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
    let sim = match hedui_simulator::start(&world.join("api"), hedui_simulator::SimConfig { latency, ..Default::default() }).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot start the simulated departments from {}: {e}", world.join("api").display());
            return 1;
        }
    };
    let token = meta.get("hr_token_default").and_then(|v| v.as_str()).unwrap_or(hedui_simulator::DEFAULT_HR_TOKEN).to_string();
    let key = meta.get("education_key_default").and_then(|v| v.as_str()).unwrap_or(hedui_simulator::DEFAULT_EDUCATION_KEY).to_string();
    eprintln!("simulated departments on {} (HR) and {} (education)", sim.hr_url(), sim.education_url());
    let req = RunRequest {
        as_of,
        inbox: world.join("inbox"),
        outbox,
        out,
        config,
        overrides: vec![
            ("sources.hr_social_security.url".into(), sim.hr_url()),
            ("sources.hr_social_security.token".into(), token),
            ("sources.education.url".into(), sim.education_url()),
            ("sources.education.key".into(), key),
        ],
    };
    let code = run_batch(req, no_progress).await;
    sim.shutdown().await;
    code
}

async fn simulate(world: &Path, port: u16, latency_ms: u64) -> i32 {
    let cfg = hedui_simulator::SimConfig { latency: hedui_simulator::Latency::Fixed(std::time::Duration::from_millis(latency_ms)), ..Default::default() };
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

