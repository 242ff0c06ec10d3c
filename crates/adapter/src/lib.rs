//! The department adapter model.
//!
//! Every department source implements [`Source`]: it declares the canonical
//! record kinds it yields, is built by name from configuration (a
//! [`SourceFactory`] in a [`Registry`]), receives a [`SourceContext`] and
//! returns a [`SourceOutput`]: canonical records plus a quarantine of rows it
//! could not read. How bytes arrive (file drop, HTTP, exchange) is the
//! adapter's business; what the records mean is the engine's.
//!
//! Architecture invariants:
//! - An adapter never decides eligibility and never validates IDs against
//!   POLICY §2 — it carries IDs raw. The engine (hedui-core) does that once for
//!   all departments.
//! - An adapter asks a department only about [`SourceContext::requests`]: the
//!   persons whose household authorization is valid and covers it. It writes
//!   one audit line per request, page or file read.
//! - A file that is unreadable, truncated or has the wrong columns fails the
//!   whole source ([`SourceError`]): a source is never half-used. A single bad
//!   row is quarantined and the rest kept.

pub mod audit;
pub mod files;
pub mod harness;
pub mod http;
pub mod mapped;
pub mod text;
pub mod vocab;



use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::NaiveDate;
use hedui_core::model::{RecordKind, Records};
use serde::{Deserialize, Serialize};

pub use audit::{AuditEvent, AuditLog};

/// One person a department may be asked about, under its household's authorization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRequest {
    /// Normalized, valid 18-character ID.
    pub id: String,
    /// The roster's name (the banking request file carries it).
    pub name: String,
    /// Authorization number (授权书编号) to cite in the request.
    pub auth_no: String,
    /// Age in completed years on the as-of date.
    pub age: i32,
}

/// Progress reporting, implemented by the runner (terminal bar or log lines).
pub trait Progress: Send + Sync {
    /// `done` of `total` units (requests, rows, files) for this source.
    fn update(&self, source: &str, done: u64, total: u64);
}

/// A progress sink that ignores everything (tests, libraries).
pub struct NoProgress;
impl Progress for NoProgress {
    fn update(&self, _: &str, _: u64, _: u64) {}
}

/// What an adapter receives for one batch.
#[derive(Clone)]
pub struct SourceContext {
    /// Verification date D.
    pub as_of: NaiveDate,
    /// D as `YYYYMMDD`.
    pub batch_id: String,
    /// Run identifier (for audit lines).
    pub run_id: String,
    /// The batch input folder; file sources read `<inbox>/<code>/`.
    pub inbox: PathBuf,
    /// The batch output folder for requests (banking writes `<outbox>/banking/`).
    pub outbox: PathBuf,
    /// Persons this department may be asked about, sorted by ID, each once.
    pub requests: Arc<Vec<PersonRequest>>,
    pub audit: Arc<AuditLog>,
    pub progress: Arc<dyn Progress>,
}

/// A row an adapter could not turn into a canonical record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    pub file: String,
    /// Line (CSV/JSONL) or row (XLSX) number, 1-based.
    pub line: u64,
    /// Field (column header) at fault, empty when the whole row is bad.
    pub field: String,
    /// The raw value (IDs masked by the caller before logging).
    pub raw_value: String,
    pub reason: String,
}

/// Counts an adapter reports about its own work.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceStats {
    /// Data rows (or reply records) read, before any merging.
    pub rows_read: u64,
    /// Files read.
    pub files: u64,
    /// HTTP requests sent (pages included), or request files written.
    pub requests: u64,
    /// Retries among them.
    pub retries: u64,
    /// Answers reused from the cache instead of asked again.
    pub reused: u64,
}

/// What an adapter returns for one batch.
#[derive(Debug, Clone, Default)]
pub struct SourceOutput {
    pub records: Records,
    pub quarantine: Vec<Quarantined>,
    pub stats: SourceStats,
    /// Normalized IDs of persons whose requests still failed after the retry
    /// budget: only the households touching them become
    /// `DEPARTMENT_DATA_UNAVAILABLE`; the source stays available.
    pub failed_persons: Vec<String>,
    /// Non-fatal notes for the manifest (e.g. "file X had no data rows").
    pub notes: Vec<String>,
}

/// Why a whole source is unavailable for the batch.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: folder is missing — put the department's files there or disable the source in the config")]
    MissingFolder { path: PathBuf },
    #[error("{path}: {message}")]
    BadFile { path: PathBuf, message: String },
    #[error("{path}: missing columns {missing:?} (found {found:?})")]
    MissingColumns { path: PathBuf, missing: Vec<String>, found: Vec<String> },
    #[error("{path}: cannot read: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{0}")]
    Unavailable(String),
    #[error("configuration: {0}")]
    Config(String),
}

/// A department source.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// The department code (`public_security`, `health` …).
    fn code(&self) -> &str;
    /// The canonical record kinds this source yields.
    fn kinds(&self) -> &'static [RecordKind];
    /// Whether this department should be asked about a person of this age at
    /// all (education holds nobody aged 30 or over). Defaults to everyone.
    fn wants_person(&self, _age: i32) -> bool {
        true
    }
    /// Fetch or read everything for the batch.
    async fn fetch(&self, cx: &SourceContext) -> Result<SourceOutput, SourceError>;
}

/// The settings of one source, as found under `[sources.<code>]` in the config.
/// `type` selects the factory; the rest is the factory's own.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SourceConfig {
    /// Department code (the table key).
    #[serde(default)]
    pub code: String,
    /// Factory name (`public_security`, `mapped_file`, `hr_http` …).
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Factory-specific settings.
    #[serde(flatten)]
    pub settings: BTreeMap<String, serde_json::Value>,
}

fn default_true() -> bool {
    true
}

impl SourceConfig {
    /// A string setting.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.settings.get(key).and_then(|v| v.as_str())
    }
    /// A numeric setting (numbers or numeric strings, as env overrides give).
    pub fn f64(&self, key: &str) -> Option<f64> {
        match self.settings.get(key)? {
            serde_json::Value::Number(n) => n.as_f64(),
            serde_json::Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
    /// Deserializes the settings into a factory's own struct.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, SourceError> {
        let v = serde_json::to_value(&self.settings).map_err(|e| SourceError::Config(e.to_string()))?;
        serde_json::from_value(v).map_err(|e| SourceError::Config(format!("[sources.{}]: {e}", self.code)))
    }
}

/// Builds a source from its config.
pub type SourceFactory = fn(&SourceConfig) -> Result<Box<dyn Source>, SourceError>;

/// Source factories by name. The runner builds sources only through this.
#[derive(Default, Clone)]
pub struct Registry {
    factories: BTreeMap<String, SourceFactory>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn register(&mut self, name: &str, factory: SourceFactory) -> &mut Self {
        self.factories.insert(name.to_string(), factory);
        self
    }
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.factories.keys().map(String::as_str)
    }
    pub fn build(&self, cfg: &SourceConfig) -> Result<Box<dyn Source>, SourceError> {
        let f = self.factories.get(&cfg.kind).ok_or_else(|| {
            SourceError::Config(format!(
                "[sources.{}] type = {:?} is not a known adapter (known: {})",
                cfg.code,
                cfg.kind,
                self.factories.keys().cloned().collect::<Vec<_>>().join(", ")
            ))
        })?;
        f(cfg)
    }
}
