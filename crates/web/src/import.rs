//! Imports published run folders (`OUT/<run_id>/`, OUTPUTS.md) into the store,
//! so every page is an indexed SQL query. A run is imported once, in one
//! transaction: it is either all there or not at all. Folders that are not
//! published runs (`.staging-*`, `latest`, `audit/`, `cache/`) are skipped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::AnyConnection;
use sqlx::{AssertSqlSafe, Row};

use crate::store::{Store, StoreError};

/// What one scan of the output folder did.
#[derive(Debug, Default, Clone, Serialize)]
pub struct ImportReport {
    pub imported: Vec<String>,
    /// Run folders that could not be imported, and why (tried again next scan).
    pub failed: Vec<(String, String)>,
}

/// A run id as the batch writes it (`20261126-001`): also what makes it safe
/// inside a path.
pub fn is_run_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 64 && !s.starts_with('.') && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Imports every published run folder of `out` that the store does not have yet.
pub async fn import_new_runs(store: &Store, out: &Path) -> Result<ImportReport, StoreError> {
    let mut candidates: Vec<(String, PathBuf)> = Vec::new();
    let entries = match std::fs::read_dir(out) {
        Ok(e) => e,
        Err(e) => return Err(StoreError::Invalid(format!("cannot read the runs folder {}: {e}", out.display()))),
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        // symlink_metadata: `latest` is a link to a run that is imported under its own name.
        let is_dir = entry.path().symlink_metadata().map(|m| m.is_dir()).unwrap_or(false);
        if is_dir && is_run_id(&name) && entry.path().join("run.json").is_file() {
            candidates.push((name, entry.path()));
        }
    }
    candidates.sort();
    let known: BTreeSet<String> = sqlx::query("SELECT run_id FROM runs").fetch_all(store.pool()).await?.iter().filter_map(|r| r.try_get::<String, _>("run_id").ok()).collect();
    let mut report = ImportReport::default();
    for (run_id, dir) in candidates.into_iter().filter(|(id, _)| !known.contains(id)) {
        match import_run(store, &run_id, &dir).await {
            Ok(()) => report.imported.push(run_id),
            Err(e) => {
                tracing::warn!(run_id = %run_id, error = %e, "run folder not imported");
                report.failed.push((run_id, e.to_string()));
            }
        }
    }
    // Each new run is compared with the one before it; a run that arrived out
    // of order also changes the comparison of the run after it.
    let mut to_compare: BTreeSet<String> = BTreeSet::new();
    for run_id in &report.imported {
        to_compare.insert(run_id.clone());
        if let Some(next) = sqlx::query("SELECT run_id FROM runs WHERE sort_key > (SELECT sort_key FROM runs WHERE run_id = $1) ORDER BY sort_key LIMIT 1").bind(run_id.clone()).fetch_optional(store.pool()).await? {
            to_compare.insert(next.try_get("run_id")?);
        }
    }
    for run_id in to_compare {
        compare_with_previous(store, &run_id).await?;
    }
    if !report.imported.is_empty() {
        // Fresh statistics, so the planner knows a run has many rows and
        // reviews are few (both backends accept a bare ANALYZE).
        sqlx::query("ANALYZE").execute(store.pool()).await?;
        tracing::info!(runs = report.imported.len(), "runs imported");
    }
    Ok(report)
}

/// The parts of `explanations.jsonl` the importer and the pages read. Lenient:
/// fields the engine adds later are ignored, missing lists are empty.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Explanation {
    pub household_id: String,
    pub verdict: String,
    #[serde(default)]
    pub reasons: Vec<ExplainedReason>,
    #[serde(default)]
    pub members: Vec<MemberNote>,
    #[serde(default)]
    pub unusable_departments: Vec<String>,
    #[serde(default)]
    pub income_window: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ExplainedReason {
    pub code: String,
    #[serde(default)]
    pub summary: String,
    pub value_fen: Option<i64>,
    pub limit_fen: Option<i64>,
    pub margin_fen: Option<i64>,
    #[serde(default)]
    pub parameters: Vec<ParamUse>,
    #[serde(default)]
    pub evidence: Vec<Evidence>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ParamUse {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub effective_from: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Evidence {
    pub department: String,
    #[serde(default)]
    pub record_ref: String,
    #[serde(default)]
    pub origin: String,
    #[serde(default)]
    pub fact: String,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct MemberNote {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub relation: String,
    #[serde(default)]
    pub counted: bool,
    #[serde(default)]
    pub registry_status: String,
    pub age: Option<i32>,
}

type Rows<'a> = Box<dyn Iterator<Item = Vec<V>> + Send + 'a>;

/// A value bound into a bulk insert.
enum V {
    T(String),
    I(i64),
    N(Option<i64>),
}

fn err(file: &Path, what: impl std::fmt::Display) -> StoreError {
    StoreError::Invalid(format!("{}: {what}", file.display()))
}

/// A CSV file: column name → index, and its rows (compact `StringRecord`s).
struct Table {
    path: PathBuf,
    columns: HashMap<String, usize>,
    rows: Vec<csv::StringRecord>,
}

impl Table {
    /// Reads a CSV file (a UTF-8 BOM is tolerated) and checks its columns.
    fn read(path: PathBuf, required: &[&str]) -> Result<Table, StoreError> {
        let bytes = std::fs::read(&path).map_err(|e| err(&path, e))?;
        let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
        let mut rdr = csv::ReaderBuilder::new().from_reader(body);
        let columns: HashMap<String, usize> = rdr.headers().map_err(|e| err(&path, e))?.iter().enumerate().map(|(i, h)| (h.to_string(), i)).collect();
        let missing: Vec<&str> = required.iter().filter(|c| !columns.contains_key(**c)).copied().collect();
        if !missing.is_empty() {
            return Err(err(&path, format!("missing columns {}", missing.join(", "))));
        }
        let rows = rdr.records().collect::<Result<Vec<_>, _>>().map_err(|e| err(&path, e))?;
        Ok(Table { path, columns, rows })
    }

    fn get<'r>(&self, row: &'r csv::StringRecord, column: &str) -> &'r str {
        self.columns.get(column).and_then(|i| row.get(*i)).unwrap_or("")
    }
}

const VERDICT_COLUMNS: [&str; 12] = [
    "household_id",
    "program",
    "county_code",
    "area_type",
    "verdict",
    "reason_codes",
    "counted_members",
    "standard_monthly_yuan",
    "gross_income_12m_yuan",
    "medical_deduction_yuan",
    "net_income_12m_yuan",
    "financial_assets_yuan",
];
const DISCREPANCY_COLUMNS: [&str; 6] = ["code", "department", "household_id", "person_id", "record_ref", "detail"];

/// The files of one run folder, read and checked.
struct RunFiles {
    manifest_text: String,
    manifest: serde_json::Value,
    verdicts: Table,
    discrepancies: Table,
    /// explanations.jsonl: each line with its parsed form.
    explanations: Vec<(String, Explanation)>,
}

fn read_run(run_id: &str, dir: &Path) -> Result<RunFiles, StoreError> {
    let manifest_path = dir.join("run.json");
    let manifest_text = std::fs::read_to_string(&manifest_path).map_err(|e| err(&manifest_path, e))?;
    let manifest: serde_json::Value = serde_json::from_str(&manifest_text).map_err(|e| err(&manifest_path, e))?;
    if manifest.get("run_id").and_then(|v| v.as_str()) != Some(run_id) {
        return Err(err(&manifest_path, format!("run_id does not match the folder name {run_id}")));
    }
    let verdicts = Table::read(dir.join("verdicts.csv"), &VERDICT_COLUMNS)?;
    let discrepancies = Table::read(dir.join("discrepancies.csv"), &DISCREPANCY_COLUMNS)?;
    let expl_path = dir.join("explanations.jsonl");
    let text = std::fs::read_to_string(&expl_path).map_err(|e| err(&expl_path, e))?;
    let mut explanations = Vec::new();
    for (line, l) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let e: Explanation = serde_json::from_str(l).map_err(|e| err(&expl_path, format!("line {}: {e}", line + 1)))?;
        explanations.push((l.to_string(), e));
    }
    Ok(RunFiles { manifest_text, manifest, verdicts, discrepancies, explanations })
}

/// Reads one run folder (off the async threads) and writes it in one transaction.
async fn import_run(store: &Store, run_id: &str, dir: &Path) -> Result<(), StoreError> {
    let (id, d) = (run_id.to_string(), dir.to_path_buf());
    let files = tokio::task::spawn_blocking(move || read_run(&id, &d)).await.map_err(|e| StoreError::Invalid(format!("reading {}: {e}", dir.display())))??;
    let RunFiles { manifest_text, manifest: m, verdicts, discrepancies, explanations } = files;
    let text = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let num = |v: Option<&serde_json::Value>| v.and_then(|v| v.as_i64()).unwrap_or(0);
    let verdict_count = |k: &str| num(m.get("verdicts").and_then(|v| v.get(k)));

    // Amounts are checked before anything is written.
    let mut amounts: Vec<[Option<i64>; 5]> = Vec::with_capacity(verdicts.rows.len());
    let mut county_of: HashMap<&str, &str> = HashMap::with_capacity(verdicts.rows.len());
    for (line, r) in verdicts.rows.iter().enumerate() {
        let fen = |k: &str| parse_fen(verdicts.get(r, k)).map_err(|e| err(&verdicts.path, format!("line {}: {k}: {e}", line + 2)));
        amounts.push([fen("standard_monthly_yuan")?, fen("gross_income_12m_yuan")?, fen("medical_deduction_yuan")?, fen("net_income_12m_yuan")?, fen("financial_assets_yuan")?]);
        county_of.insert(verdicts.get(r, "household_id"), verdicts.get(r, "county_code"));
    }

    let t = |s: &str| V::T(s.to_string());
    let (as_of, started_at) = (text("as_of"), text("started_at"));
    let mut tx = store.pool().begin().await?;
    let verdict_rows = verdicts.rows.iter().zip(&amounts).map(|(r, a)| {
        let f = |k: &str| verdicts.get(r, k);
        vec![
            t(run_id),
            t(f("household_id")),
            t(f("program")),
            t(f("county_code")),
            t(f("area_type")),
            t(f("verdict")),
            t(f("reason_codes")),
            V::I(f("counted_members").trim().parse().unwrap_or(0)),
            V::N(a[0]),
            V::N(a[1]),
            V::N(a[2]),
            V::N(a[3]),
            V::N(a[4]),
        ]
    });
    insert_rows(&mut tx, "verdicts", &["run_id", "household_id", "program", "county_code", "area_type", "verdict", "reason_codes", "counted_members", "standard_monthly_fen", "gross_income_fen", "medical_deduction_fen", "net_income_fen", "financial_assets_fen"], Box::new(verdict_rows)).await?;
    let reason_rows = explanations.iter().flat_map(|(_, e)| {
        e.reasons.iter().enumerate().map(move |(ord, r)| {
            let departments: BTreeSet<&str> = r.evidence.iter().map(|ev| ev.department.as_str()).collect();
            vec![
                V::T(run_id.to_string()),
                V::T(e.household_id.clone()),
                V::I(ord as i64),
                V::T(r.code.clone()),
                V::T(r.summary.clone()),
                V::N(r.value_fen),
                V::N(r.limit_fen),
                V::N(r.margin_fen),
                V::T(departments.into_iter().collect::<Vec<_>>().join(";")),
            ]
        })
    });
    insert_rows(&mut tx, "reasons", &["run_id", "household_id", "ord", "code", "summary", "value_fen", "limit_fen", "margin_fen", "departments"], Box::new(reason_rows)).await?;
    let explanation_rows = explanations.iter().map(|(line, e)| vec![t(run_id), t(&e.household_id), t(line)]);
    insert_rows(&mut tx, "explanations", &["run_id", "household_id", "body"], Box::new(explanation_rows)).await?;
    let discrepancy_rows = discrepancies.rows.iter().enumerate().map(|(i, r)| {
        let f = |k: &str| discrepancies.get(r, k);
        let household = f("household_id");
        vec![
            t(run_id),
            V::I(i as i64 + 1),
            t(f("code")),
            t(f("department")),
            t(household),
            t(f("person_id")),
            t(f("record_ref")),
            t(f("detail")),
            t(county_of.get(household).copied().unwrap_or("")),
            V::T(discrepancy_key(f("department"), f("code"), household, f("person_id"), f("record_ref"))),
        ]
    });
    insert_rows(&mut tx, "discrepancies", &["run_id", "seq", "code", "department", "household_id", "person_id", "record_ref", "detail", "county_code", "dkey"], Box::new(discrepancy_rows)).await?;
    sqlx::query(
        "INSERT INTO runs (run_id, as_of, started_at, finished_at, sort_key, exit_code, policy, households, eligible, ineligible, review, discrepancies, quarantined, manifest, imported_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
    )
    .bind(run_id.to_string())
    .bind(as_of.clone())
    .bind(started_at.clone())
    .bind(text("finished_at"))
    .bind(format!("{as_of}|{started_at}|{run_id}"))
    .bind(num(m.get("exit_code")))
    .bind(format!("{} {}", text("policy_id"), text("policy_version")).trim().to_string())
    .bind(verdicts.rows.len() as i64)
    .bind(verdict_count("ELIGIBLE"))
    .bind(verdict_count("INELIGIBLE"))
    .bind(verdict_count("REVIEW"))
    .bind(discrepancies.rows.len() as i64)
    .bind(num(m.get("quarantined_rows")))
    .bind(manifest_text)
    .bind(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The review key of a discrepancy: the same finding on another night has the
/// same key (detail text is left out: amounts in it may move).
pub fn discrepancy_key(department: &str, code: &str, household: &str, person: &str, record_ref: &str) -> String {
    let mut h = Sha256::new();
    for part in [department, code, household, person, record_ref] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `21600.00` → 2160000 fen; empty → None. Integer arithmetic only.
pub fn parse_fen(s: &str) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let (whole, frac) = body.split_once('.').unwrap_or((body, ""));
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 2 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not an amount in yuan"));
    }
    let whole: i64 = whole.parse().map_err(|_| format!("{s:?} is too large"))?;
    let frac: i64 = if frac.is_empty() { 0 } else { format!("{frac:0<2}").parse().unwrap_or(0) };
    let fen = whole.checked_mul(100).and_then(|w| w.checked_add(frac)).ok_or_else(|| format!("{s:?} is too large"))?;
    Ok(Some(if neg { -fen } else { fen }))
}

/// Multi-row INSERTs, at most ~900 binds each (within every SQLite build's limit).
/// Rows come as a boxed iterator, built lazily one chunk at a time (a boxed
/// trait object also keeps the future `Send` for the spawned import loop).
async fn insert_rows(conn: &mut AnyConnection, table: &str, cols: &[&str], rows: Rows<'_>) -> Result<(), StoreError> {
    let per = (900 / cols.len()).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<Vec<V>> = rows.by_ref().take(per).collect();
        let mut sql = format!("INSERT INTO {table} ({}) VALUES ", cols.join(", "));
        let mut n = 0;
        for (i, _) in chunk.iter().enumerate() {
            if i > 0 {
                sql.push_str(", ");
            }
            sql.push('(');
            for c in 0..cols.len() {
                n += 1;
                if c > 0 {
                    sql.push_str(", ");
                }
                sql.push_str(&format!("${n}"));
            }
            sql.push(')');
        }
        // The SQL text holds only fixed table/column names and placeholders.
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for row in chunk {
            for v in row {
                q = match v {
                    V::T(s) => q.bind(s),
                    V::I(i) => q.bind(i),
                    V::N(o) => q.bind(o),
                };
            }
        }
        q.execute(&mut *conn).await?;
    }
    Ok(())
}

/// What changed for a household since the previous run (stored in `changes`).
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct ChangeSummary {
    pub previous_run_id: String,
    pub newly_ineligible: ChangeCount,
    pub newly_eligible: ChangeCount,
    pub newly_review: ChangeCount,
}

/// How many households changed to one verdict, and the reasons that changed
/// (reasons gained for INELIGIBLE/REVIEW, reasons lost for ELIGIBLE), most frequent first.
#[derive(Debug, Clone, Serialize, Deserialize, Default, PartialEq, Eq)]
pub struct ChangeCount {
    pub households: i64,
    pub reasons: Vec<(String, i64)>,
}

fn split_codes(s: &str) -> BTreeSet<String> {
    s.split(';').filter(|c| !c.is_empty()).map(str::to_string).collect()
}

/// Rebuilds the `changes` rows and the change summary of one run against the
/// run before it (by as-of date, then start time).
async fn compare_with_previous(store: &Store, run_id: &str) -> Result<(), StoreError> {
    let mut tx = store.pool().begin().await?;
    let prev: Option<String> = sqlx::query("SELECT run_id FROM runs WHERE sort_key < (SELECT sort_key FROM runs WHERE run_id = $1) ORDER BY sort_key DESC LIMIT 1")
        .bind(run_id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get("run_id"))
        .transpose()?;
    sqlx::query("DELETE FROM changes WHERE run_id = $1").bind(run_id.to_string()).execute(&mut *tx).await?;
    let Some(prev) = prev else {
        sqlx::query("UPDATE runs SET prev_run_id = NULL, change_summary = NULL WHERE run_id = $1").bind(run_id.to_string()).execute(&mut *tx).await?;
        tx.commit().await?;
        return Ok(());
    };
    let rows = sqlx::query(
        "SELECT a.household_id, a.verdict, a.reason_codes, b.verdict AS before_verdict, b.reason_codes AS before_reasons \
         FROM verdicts a LEFT JOIN verdicts b ON b.run_id = $2 AND b.household_id = a.household_id \
         WHERE a.run_id = $1 AND (b.verdict IS NULL OR b.verdict <> a.verdict) ORDER BY a.household_id",
    )
    .bind(run_id.to_string())
    .bind(prev.clone())
    .fetch_all(&mut *tx)
    .await?;
    let mut summary = ChangeSummary { previous_run_id: prev.clone(), ..Default::default() };
    let mut tallies: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
    let mut inserts = Vec::new();
    for r in &rows {
        let after: String = r.try_get("verdict")?;
        let before: Option<String> = r.try_get("before_verdict")?;
        let now = split_codes(&r.try_get::<String, _>("reason_codes")?);
        let then = split_codes(&r.try_get::<Option<String>, _>("before_reasons")?.unwrap_or_default());
        let added: Vec<String> = now.difference(&then).cloned().collect();
        let removed: Vec<String> = then.difference(&now).cloned().collect();
        let (kind, count, changed) = match after.as_str() {
            "INELIGIBLE" => ("ineligible", &mut summary.newly_ineligible, &added),
            "ELIGIBLE" => ("eligible", &mut summary.newly_eligible, &removed),
            _ => ("review", &mut summary.newly_review, &added),
        };
        count.households += 1;
        for c in changed {
            *tallies.entry(kind).or_default().entry(c.clone()).or_default() += 1;
        }
        inserts.push(vec![V::T(run_id.into()), V::T(r.try_get("household_id")?), V::T(kind.into()), match before {
            Some(b) => V::T(b),
            None => V::T(String::new()),
        }, V::T(after), V::T(added.join(";")), V::T(removed.join(";"))]);
    }
    for (kind, count) in [("ineligible", &mut summary.newly_ineligible), ("eligible", &mut summary.newly_eligible), ("review", &mut summary.newly_review)] {
        let mut t: Vec<(String, i64)> = tallies.remove(kind).unwrap_or_default().into_iter().collect();
        t.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        count.reasons = t;
    }
    insert_rows(&mut tx, "changes", &["run_id", "household_id", "kind", "before_verdict", "after_verdict", "reasons_added", "reasons_removed"], Box::new(inserts.into_iter())).await?;
    sqlx::query("UPDATE runs SET prev_run_id = $2, change_summary = $3 WHERE run_id = $1")
        .bind(run_id.to_string())
        .bind(prev)
        .bind(serde_json::to_string(&summary).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_to_fen_without_floats() {
        assert_eq!(parse_fen("21600.00"), Ok(Some(2_160_000)));
        assert_eq!(parse_fen("791.47"), Ok(Some(79_147)));
        assert_eq!(parse_fen("0.5"), Ok(Some(50)));
        assert_eq!(parse_fen("-12.30"), Ok(Some(-1230)));
        assert_eq!(parse_fen(""), Ok(None));
        assert!(parse_fen("1.234").is_err());
        assert!(parse_fen("abc").is_err());
    }

    #[test]
    fn run_ids_exclude_staging_folders_and_paths() {
        assert!(is_run_id("20261126-001"));
        assert!(!is_run_id(".staging-20261126-001"));
        assert!(!is_run_id("../etc"));
        assert!(!is_run_id("a/b"));
        assert!(!is_run_id(""));
    }

    #[test]
    fn the_review_key_ignores_the_detail_and_separates_fields() {
        assert_eq!(discrepancy_key("banking", "ID_INVALID", "", "X", "R"), discrepancy_key("banking", "ID_INVALID", "", "X", "R"));
        assert_ne!(discrepancy_key("banking", "ID_INVALID", "", "X", "R"), discrepancy_key("banking", "ID_INVALID", "", "XR", ""));
    }
}
