//! `hedui serve` (the analysts' workbench, crate hedui-web) and `hedui user add`.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use hedui_web::store::{default_db_url, redact_url};
use hedui_web::{AppState, Options, Role, Store, StoreError};

#[derive(Args)]
pub struct ServeArgs {
    /// Runs folder (`hedui run --out`): every published run in it is shown.
    #[arg(long)]
    out: PathBuf,
    /// Store for imported runs, users and reviews: sqlite://FILE?mode=rwc or
    /// postgres://USER@HOST:PORT/DB (a schema: add ?options[search_path]=NAME).
    /// Default: sqlite://<OUT>/hedui.db?mode=rwc.
    #[arg(long, env = "HEDUI_DB")]
    db: Option<String>,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Settings file whose policy names the counties (default: the shipped one).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Seconds between scans for newly published runs (0: only at start and on request).
    #[arg(long, default_value_t = 60)]
    refresh_secs: u64,
    /// Hours a sign-in lasts.
    #[arg(long, default_value_t = 8)]
    session_hours: u64,
    /// Mark cookies Secure (when served behind HTTPS).
    #[arg(long)]
    secure_cookies: bool,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a workbench user. The password is read from standard input (one
    /// line), or from the environment variable named by --password-env.
    Add(UserAddArgs),
}

#[derive(Clone, Copy, ValueEnum)]
enum UserRole {
    /// Sees every run, household and discrepancy; reviews discrepancies.
    Analyst,
    /// Sees and downloads only its own department's feedback files.
    Department,
}

#[derive(Args)]
pub struct UserAddArgs {
    /// Store URL (as for `hedui serve --db`).
    #[arg(long, env = "HEDUI_DB")]
    db: Option<String>,
    /// Or the runs folder, for its default SQLite store.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long)]
    name: String,
    #[arg(long, value_enum)]
    role: UserRole,
    /// Department code for --role department (banking, health, civil_affairs, …).
    #[arg(long)]
    department: Option<String>,
    /// Read the password from this environment variable instead of standard input.
    #[arg(long)]
    password_env: Option<String>,
}

fn store_exit(e: &StoreError) -> i32 {
    match e {
        StoreError::BadUrl(_) | StoreError::Invalid(_) => 2,
        _ => 1,
    }
}

pub async fn serve(args: ServeArgs) -> i32 {
    if !args.out.is_dir() {
        eprintln!("error: runs folder {} does not exist (the --out of hedui run)", args.out.display());
        return 2;
    }
    let db = args.db.clone().unwrap_or_else(|| default_db_url(&args.out));
    let store = match Store::connect(&db).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: store {}: {e}", redact_url(&db));
            return store_exit(&e);
        }
    };
    let county_names: BTreeMap<String, String> = match hedui_batch::settings::Settings::load(args.config.as_deref(), &[]) {
        Ok(s) => s.policy.counties().map(|c| (c.code.clone(), c.name.clone())).collect(),
        Err(e) => {
            eprintln!("warning: county names not loaded ({e}); counties show as codes");
            BTreeMap::new()
        }
    };
    match store.user_count().await {
        Ok(0) => eprintln!("no user yet: create one with  hedui user add --out {} --name NAME --role analyst", args.out.display()),
        Ok(_) => {}
        Err(e) => {
            eprintln!("error: {e}");
            return 1;
        }
    }
    let opts = Options {
        session_ttl: Duration::from_secs(args.session_hours.max(1) * 3600),
        secure_cookies: args.secure_cookies,
        refresh_every: (args.refresh_secs > 0).then(|| Duration::from_secs(args.refresh_secs)),
        county_names,
    };
    let state = AppState::new(store, &args.out, opts);
    let listener = match tokio::net::TcpListener::bind(args.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", args.listen);
            return 1;
        }
    };
    eprintln!("hedui workbench on http://{}/ — runs from {}, store {}; Ctrl-C stops", args.listen, args.out.display(), redact_url(&db));
    // Ctrl-C or SIGTERM (a service manager): requests in flight finish first.
    let shutdown = async {
        #[cfg(unix)]
        {
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    return;
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    };
    match hedui_web::serve(listener, state, shutdown).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

pub async fn user(cmd: UserCommand) -> i32 {
    let UserCommand::Add(args) = cmd;
    let db = match (&args.db, &args.out) {
        (Some(db), _) => db.clone(),
        (None, Some(out)) => {
            if let Err(e) = std::fs::create_dir_all(out) {
                eprintln!("error: {}: {e}", out.display());
                return 2;
            }
            default_db_url(out)
        }
        (None, None) => {
            eprintln!("error: give --db URL or --out DIR (the runs folder whose default store to use)");
            return 2;
        }
    };
    let role = match (args.role, args.department) {
        (UserRole::Analyst, None) => Role::Analyst,
        (UserRole::Analyst, Some(_)) => {
            eprintln!("error: an analyst sees every department; --department is for --role department");
            return 2;
        }
        (UserRole::Department, Some(d)) => Role::Department(d),
        (UserRole::Department, None) => {
            eprintln!("error: --role department needs --department CODE (e.g. banking)");
            return 2;
        }
    };
    let password = match &args.password_env {
        Some(var) => match std::env::var(var) {
            Ok(p) => p,
            Err(_) => {
                eprintln!("error: environment variable {var} is not set");
                return 2;
            }
        },
        None => {
            let stdin = std::io::stdin();
            if stdin.is_terminal() {
                // No terminal-echo control without another crate: say so.
                eprint!("password for {} (shown as typed; or use --password-env): ", args.name);
                let _ = std::io::stderr().flush();
            }
            let mut line = String::new();
            if stdin.lock().read_line(&mut line).is_err() || line.is_empty() {
                eprintln!("error: no password on standard input");
                return 2;
            }
            line.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let store = match Store::connect(&db).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: store {}: {e}", redact_url(&db));
            return store_exit(&e);
        }
    };
    let result = store.add_user(&args.name, &password, &role).await;
    store.close().await;
    match result {
        Ok(()) => {
            let what = match &role {
                Role::Analyst => "analyst".to_string(),
                Role::Department(d) => format!("department {d}"),
            };
            eprintln!("user {} added ({what}) to {}", args.name.trim(), redact_url(&db));
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            store_exit(&e)
        }
    }
}
