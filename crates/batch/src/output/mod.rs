//! The run folder's files (OUTPUTS.md). Only this module serializes outputs.

pub mod feedback;
pub mod manifest;
pub mod report;
pub mod tables;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::time::Instant;

use hedui_adapter::Quarantined;
use hedui_core::engine::EngineOutput;
use sha2::{Digest, Sha256};

/// Writes every output of a run into `dir` (the staging folder).
pub fn write_all(
    dir: &Path,
    result: &EngineOutput,
    quarantine: &[(String, Quarantined)],
    mut manifest: manifest::Manifest,
    counties: &BTreeMap<String, String>,
    run_started: Instant,
    outputs_started: Instant,
) -> io::Result<()> {
    tables::write_verdicts(&dir.join("verdicts.csv"), &result.verdicts)?;
    tables::write_discrepancies(&dir.join("discrepancies.csv"), &result.discrepancies)?;
    tables::write_quarantine(&dir.join("quarantine.csv"), quarantine)?;
    tables::write_explanations(&dir.join("explanations.jsonl"), &result.explanations)?;
    feedback::write_all(&dir.join("feedback"), &result.discrepancies)?;
    report::write(&dir.join("report.html"), result, &manifest, counties)?;
    manifest.timings_seconds.insert("outputs".into(), outputs_started.elapsed().as_secs_f64());
    manifest.timings_seconds.insert("total".into(), run_started.elapsed().as_secs_f64());
    manifest.finished_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    manifest.files = hash_files(dir)?;
    let json = serde_json::to_string_pretty(&manifest).map_err(io::Error::other)?;
    std::fs::write(dir.join("run.json"), json + "\n")?;
    Ok(())
}

/// sha256 of every file under `dir`, by relative path.
fn hash_files(dir: &Path) -> io::Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d)? {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let bytes = std::fs::read(&p)?;
                let rel = p.strip_prefix(dir).unwrap_or(&p).to_string_lossy().replace('\\', "/");
                out.insert(rel, format!("{:x}", Sha256::digest(&bytes)));
            }
        }
    }
    Ok(out)
}
