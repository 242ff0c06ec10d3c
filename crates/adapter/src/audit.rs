//! The append-only audit log: one JSON line per department request, page or
//! file read. It records *that* data was asked for or read, under which
//! authorizations — never the data itself and never a full ID.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

/// One audit line.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct AuditEvent {
    /// RFC 3339 UTC time, filled in by [`AuditLog::record`].
    pub time: String,
    pub run_id: String,
    pub source: String,
    /// `request`, `page`, `file_read`, `request_file_written`, `cache_reuse` …
    pub action: String,
    /// What was touched: an endpoint or a file name (no IDs).
    pub target: String,
    /// Authorization numbers cited (may be many for a batched request).
    pub auth_nos: Vec<String>,
    pub persons: u64,
    /// `ok`, `http 429`, `timeout`, `error: …` (no data).
    pub outcome: String,
    /// 1 for the first try, 2 for the first retry …
    pub attempt: u32,
}

impl AuditEvent {
    pub fn new(source: &str, action: &str, target: impl Into<String>) -> Self {
        AuditEvent {
            time: String::new(),
            run_id: String::new(),
            source: source.to_string(),
            action: action.to_string(),
            target: target.into(),
            auth_nos: Vec::new(),
            persons: 0,
            outcome: "ok".to_string(),
            attempt: 1,
        }
    }
}

/// Append-only audit sink. Writes are serialized and flushed per line so a
/// crash loses at most the line being written.
pub struct AuditLog {
    run_id: String,
    path: Option<PathBuf>,
    inner: Mutex<AuditInner>,
}

struct AuditInner {
    file: Option<File>,
    lines: Vec<AuditEvent>,
}

impl AuditLog {
    /// Appends to `path` (created with its folder if missing).
    pub fn open(path: &Path, run_id: &str) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        Ok(AuditLog {
            run_id: run_id.to_string(),
            path: Some(path.to_path_buf()),
            inner: Mutex::new(AuditInner { file: Some(file), lines: Vec::new() }),
        })
    }

    /// An in-memory log (tests): events are kept and can be read back.
    pub fn in_memory(run_id: &str) -> Self {
        AuditLog { run_id: run_id.to_string(), path: None, inner: Mutex::new(AuditInner { file: None, lines: Vec::new() }) }
    }

    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Records one event; the run id and time are filled in here.
    pub fn record(&self, mut event: AuditEvent) {
        event.run_id = self.run_id.clone();
        event.time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut inner = self.inner.lock().expect("audit lock");
        if let Some(f) = inner.file.as_mut() {
            let line = serde_json::to_string(&event).expect("audit event serializes");
            // An audit line that cannot be written is a failure the operator must see.
            if let Err(e) = writeln!(f, "{line}").and_then(|_| f.flush()) {
                tracing::error!(error = %e, "cannot append to the audit log");
            }
        } else {
            // Only an in-memory log keeps its events: a batch's file-backed
            // log sees one event per request (over a million for a province)
            // and must not hold them all.
            inner.lines.push(event);
        }
    }

    /// Every event recorded through this handle, in order (a file-backed
    /// log reads its file back: the events of this run id).
    pub fn events(&self) -> Vec<AuditEvent> {
        let inner = self.inner.lock().expect("audit lock");
        match &self.path {
            None => inner.lines.clone(),
            Some(path) => std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| serde_json::from_str::<AuditEvent>(l).ok())
                .filter(|e| e.run_id == self.run_id)
                .collect(),
        }
    }
}
