//! `run.json`: the manifest a scheduler or auditor reads first.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::run::SourceReport;

#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub run_id: String,
    pub as_of: String,
    pub batch_id: String,
    pub policy_id: String,
    pub policy_version: String,
    pub config: String,
    pub config_digest: String,
    pub started_at: String,
    pub finished_at: String,
    pub exit_code: i32,
    pub households: u64,
    pub members: u64,
    pub sources: Vec<SourceReport>,
    /// Source settings with secrets replaced by `***`.
    pub source_settings: Vec<serde_json::Value>,
    pub verdicts: BTreeMap<String, u64>,
    pub discrepancies_by_department: BTreeMap<String, u64>,
    pub discrepancies_by_code: BTreeMap<String, u64>,
    pub quarantined_rows: u64,
    pub timings_seconds: BTreeMap<String, f64>,
    /// sha256 of every other file of the run folder.
    pub files: BTreeMap<String, String>,
}
