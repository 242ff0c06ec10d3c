//! One nightly batch, start to finish: settings → roster → sources (all at
//! once) → rules → outputs → atomic publication.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use chrono::NaiveDate;
use hedui_adapter::{AuditEvent, AuditLog, PersonRequest, Progress, Quarantined, Registry, Source, SourceContext, SourceOutput};
use hedui_core::engine::{self, EngineOutput, SourceInput};
use hedui_core::identity::mask_id;
use hedui_core::model::{RecordKind, Roster};
use hedui_core::window::BatchDates;
use serde::Serialize;

use crate::cache::{answers_by_person, AnswerCache, CachedAnswer, CACHEABLE_KINDS};
use crate::output;
use crate::publish::Staging;
use crate::settings::{redact, Settings, SettingsError};

/// Reads the civil-affairs roster from its folder. Supplied by the binary so
/// the runner never names a concrete adapter.
pub type RosterLoader = fn(&Path) -> Result<Roster, Box<dyn std::error::Error + Send + Sync>>;

/// What a run is asked to do.
pub struct RunRequest {
    pub as_of: NaiveDate,
    pub inbox: PathBuf,
    pub outbox: PathBuf,
    pub out: PathBuf,
    pub config: Option<PathBuf>,
    /// Settings set by the caller on top of file and environment (the demo
    /// points the HTTP sources at its simulator this way).
    pub overrides: Vec<(String, String)>,
}

/// The ways a run ends without publishing.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// Bad usage, config or roster: nothing was asked, nothing written (exit 2).
    #[error("{0}")]
    Usage(String),
    /// The run failed: nothing was published (exit 1).
    #[error("{0}")]
    Failed(String),
}

impl From<SettingsError> for RunError {
    fn from(e: SettingsError) -> Self {
        RunError::Usage(e.to_string())
    }
}

impl RunError {
    pub fn exit_code(&self) -> i32 {
        match self {
            RunError::Usage(_) => 2,
            RunError::Failed(_) => 1,
        }
    }
}

/// What happened to one source.
#[derive(Debug, Clone, Serialize)]
pub struct SourceReport {
    pub code: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// `ok` or `unavailable`
    pub status: String,
    pub reason: Option<String>,
    pub persons_requested: u64,
    pub failed_persons: u64,
    pub files: u64,
    pub requests: u64,
    pub retries: u64,
    /// Persons asked tonight (answers fresh from the department).
    pub answers_fresh: u64,
    /// Persons whose answers were stored from an earlier night and reused.
    pub answers_reused: u64,
    /// Rows read = used + quarantined + unrequested + not_authorized + after_as_of + duplicates.
    pub records: Reconciliation,
    pub notes: Vec<String>,
    pub seconds: f64,
}

/// The record accounting of one source (adapter quarantine included).
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Reconciliation {
    pub read: u64,
    pub used: u64,
    pub quarantined: u64,
    pub unrequested: u64,
    pub not_authorized: u64,
    pub after_as_of: u64,
    pub duplicate: u64,
}

impl Reconciliation {
    /// Whether the identity read = used + … holds.
    pub fn balances(&self) -> bool {
        self.read == self.used + self.quarantined + self.unrequested + self.not_authorized + self.after_as_of + self.duplicate
    }
}

/// A finished, published run.
#[derive(Debug)]
pub struct RunOutcome {
    pub run_id: String,
    pub run_dir: PathBuf,
    /// 0 complete; 3 complete with some source unavailable.
    pub exit_code: i32,
    pub sources: Vec<SourceReport>,
    pub verdict_counts: BTreeMap<String, u64>,
    pub discrepancies: usize,
}

/// Runs one batch.
pub async fn run(req: &RunRequest, registry: &Registry, load_roster: RosterLoader, progress: Arc<dyn Progress>) -> Result<RunOutcome, RunError> {
    let started = chrono::Utc::now();
    let t0 = Instant::now();
    let settings = Settings::load(req.config.as_deref(), &req.overrides)?;
    let dates = BatchDates::new(req.as_of);
    let batch_id = dates.batch_id();

    // Everything that can be refused is refused before any department is asked.
    let roster_dir = req.inbox.join(&settings.run.roster_folder);
    let roster = load_roster(&roster_dir).map_err(|e| RunError::Usage(format!("roster {}: {e}", roster_dir.display())))?;
    let mut sources: Vec<(hedui_adapter::SourceConfig, Box<dyn Source>)> = Vec::new();
    let mut build_errors = Vec::new();
    for cfg in settings.sources.iter().filter(|c| c.enabled) {
        match registry.build(cfg) {
            Ok(s) => sources.push((cfg.clone(), s)),
            Err(e) => build_errors.push(e.to_string()),
        }
    }
    if !build_errors.is_empty() {
        return Err(RunError::Usage(build_errors.join("\n")));
    }
    if !req.inbox.is_dir() {
        return Err(RunError::Usage(format!("inbox {} is not a folder", req.inbox.display())));
    }
    tracing::info!(as_of = %req.as_of, households = roster.households.len(), members = roster.members.len(), sources = sources.len(), "batch starts");

    std::fs::create_dir_all(&req.out).map_err(|e| RunError::Failed(format!("cannot create {}: {e}", req.out.display())))?;
    let staging = Staging::begin(&req.out, &batch_id).map_err(|e| RunError::Failed(format!("cannot prepare the run folder in {}: {e}", req.out.display())))?;
    let run_id = staging.run_id().to_string();
    let audit_path = req.out.join("audit").join("audit.jsonl");
    let audit = Arc::new(AuditLog::open(&audit_path, &run_id).map_err(|e| RunError::Failed(format!("cannot open the audit log {}: {e}", audit_path.display())))?);

    // Answers kept between nights, for sources that declare a time-to-live.
    let needs_cache = sources.iter().any(|(cfg, _)| answer_ttl(cfg).is_some());
    for (cfg, source) in &sources {
        if answer_ttl(cfg).is_some() && !source.kinds().iter().all(|k| CACHEABLE_KINDS.contains(k)) {
            return Err(RunError::Usage(format!("[sources.{}] answer_ttl_days: only sources of per-person replies (HR, education) can keep answers", cfg.code)));
        }
    }
    let cache = if needs_cache {
        let path = req.out.join("cache").join("answers.db");
        match AnswerCache::open(&path).await {
            Ok(c) => Some(Arc::new(c)),
            Err(e) => {
                tracing::warn!(error = %e, path = %path.display(), "answer cache unavailable: every person is asked");
                None
            }
        }
    } else {
        None
    };

    // Fetch every source concurrently.
    let mut tasks = Vec::new();
    let planner = engine::RequestPlanner::new(&roster, req.as_of);
    for (cfg, source) in sources {
        let requests: Vec<PersonRequest> = planner
            .plan(source.code())
            .into_iter()
            .filter(|p| source.wants_person(p.age))
            .map(|p| PersonRequest { id: p.id, name: p.name, auth_no: p.auth_no, age: p.age })
            .collect();
        let cx = SourceContext {
            as_of: req.as_of,
            batch_id: batch_id.clone(),
            run_id: run_id.clone(),
            inbox: req.inbox.clone(),
            outbox: req.outbox.clone(),
            requests: Arc::new(requests),
            audit: audit.clone(),
            progress: progress.clone(),
        };
        let cache = cache.clone().filter(|_| answer_ttl(&cfg).is_some());
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let persons = cx.requests.len() as u64;
            let result = match cache {
                Some(cache) => fetch_with_cache(source.as_ref(), cx, &cfg, &cache).await,
                None => source.fetch(&cx).await,
            };
            let kinds = source.kinds();
            (cfg, kinds, persons, result, t.elapsed().as_secs_f64())
        }));
    }
    drop(planner);
    let mut fetched = Vec::new();
    for t in tasks {
        fetched.push(t.await.map_err(|e| RunError::Failed(format!("a source task panicked: {e}")))?);
    }

    // Rules over everything at once.
    struct Fetched {
        cfg: hedui_adapter::SourceConfig,
        kinds: &'static [RecordKind],
        persons: u64,
        output: SourceOutput,
        error: Option<String>,
        failed: HashSet<String>,
        seconds: f64,
    }
    let mut fetched: Vec<Fetched> = fetched
        .into_iter()
        .map(|(cfg, kinds, persons, result, seconds)| {
            let (output, error) = match result {
                Ok(o) => (o, None),
                Err(e) => {
                    tracing::warn!(source = %cfg.code, error = %e, "source unavailable");
                    (SourceOutput::default(), Some(e.to_string()))
                }
            };
            let failed: HashSet<String> = output.failed_persons.iter().cloned().collect();
            Fetched { cfg, kinds, persons, output, error, failed, seconds }
        })
        .collect();
    // The records are handed over to the engine, not copied: at a province's
    // scale they are most of the memory.
    let inputs: Vec<SourceInput> = fetched
        .iter_mut()
        .map(|f| {
            let Fetched { cfg, kinds, output, error, failed, .. } = f;
            let records = std::borrow::Cow::Owned(std::mem::take(&mut output.records));
            let (cfg, failed): (&hedui_adapter::SourceConfig, &HashSet<String>) = (cfg, failed);
            SourceInput { code: &cfg.code, kinds, available: error.is_none(), failed_persons: failed, records }
        })
        .collect();
    let t_rules = Instant::now();
    let households = roster.households.len() as u64;
    progress.update("rules", 0, households);
    let result: EngineOutput = engine::verify(&roster, &settings.policy, req.as_of, inputs).map_err(|e| RunError::Usage(e.to_string()))?;
    let rules_seconds = t_rules.elapsed().as_secs_f64();
    progress.update("rules", households, households);

    let mut reports = Vec::new();
    let mut quarantine: Vec<(String, Quarantined)> = Vec::new();
    for (f, (_, counts)) in fetched.iter().zip(&result.counts) {
        let q = f.output.quarantine.len() as u64;
        let rec = Reconciliation {
            read: counts.read + q,
            used: counts.used,
            quarantined: counts.quarantined + q,
            unrequested: counts.unrequested,
            not_authorized: counts.not_authorized,
            after_as_of: counts.after_as_of,
            duplicate: counts.duplicates,
        };
        if !rec.balances() {
            return Err(RunError::Failed(format!("source {}: record counts do not reconcile: {rec:?}", f.cfg.code)));
        }
        if f.output.stats.rows_read != 0 && f.output.stats.rows_read != rec.read {
            tracing::warn!(source = %f.cfg.code, adapter_rows = f.output.stats.rows_read, engine_rows = rec.read, "row counts of adapter and engine differ");
        }
        for qr in &f.output.quarantine {
            quarantine.push((f.cfg.code.clone(), qr.clone()));
        }
        reports.push(SourceReport {
            code: f.cfg.code.clone(),
            kind: f.cfg.kind.clone(),
            status: if f.error.is_none() { "ok".into() } else { "unavailable".into() },
            reason: f.error.clone(),
            persons_requested: f.persons,
            failed_persons: f.failed.len() as u64,
            files: f.output.stats.files,
            requests: f.output.stats.requests,
            retries: f.output.stats.retries,
            answers_fresh: f.persons.saturating_sub(f.output.stats.reused),
            answers_reused: f.output.stats.reused,
            records: rec,
            notes: f.output.notes.clone(),
            seconds: f.seconds,
        });
        if !f.output.quarantine.is_empty() {
            tracing::info!(source = %f.cfg.code, rows = f.output.quarantine.len(), "rows quarantined (see quarantine.csv)");
        }
    }
    for (code, q) in &quarantine {
        tracing::debug!(source = %code, file = %q.file, line = q.line, field = %q.field, value = %mask_id(&q.raw_value), reason = %q.reason, "quarantined");
    }
    let any_unavailable = reports.iter().any(|r| r.status != "ok");
    let mut verdict_counts: BTreeMap<String, u64> = BTreeMap::new();
    for v in &result.verdicts {
        *verdict_counts.entry(v.verdict.as_str().to_string()).or_default() += 1;
    }

    // Outputs, then publication.
    let t_out = Instant::now();
    let manifest_base = output::manifest::Manifest {
        run_id: run_id.clone(),
        as_of: req.as_of.to_string(),
        batch_id: batch_id.clone(),
        policy_id: settings.policy.id.clone(),
        policy_version: settings.policy.version.clone(),
        config: settings.origin.clone(),
        config_digest: settings.digest.clone(),
        started_at: started.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        finished_at: String::new(),
        exit_code: if any_unavailable { 3 } else { 0 },
        households: roster.households.len() as u64,
        members: roster.members.len() as u64,
        sources: reports.clone(),
        source_settings: settings.sources.iter().map(redact).collect(),
        verdicts: verdict_counts.clone(),
        discrepancies_by_department: count_by(&result.discrepancies, |d| d.department.clone()),
        discrepancies_by_code: count_by(&result.discrepancies, |d| d.code.as_str().to_string()),
        quarantined_rows: quarantine.len() as u64,
        timings_seconds: BTreeMap::from([("rules".to_string(), rules_seconds)]),
        files: BTreeMap::new(),
    };
    let dir = staging.dir().to_path_buf();
    let counties: BTreeMap<String, String> = settings.policy.counties().map(|c| (c.code.clone(), c.name.clone())).collect();
    output::write_all(&dir, &result, &quarantine, manifest_base, &counties, t0, t_out).map_err(|e| RunError::Failed(format!("writing outputs: {e}")))?;
    let run_dir = staging.publish().map_err(|e| RunError::Failed(format!("publishing the run folder: {e}")))?;
    audit.record(AuditEvent { outcome: format!("published {}", run_dir.display()), ..AuditEvent::new("hedui", "run_published", run_id.clone()) });
    tracing::info!(run_id = %run_id, dir = %run_dir.display(), exit_code = if any_unavailable { 3 } else { 0 }, "run published");
    Ok(RunOutcome {
        run_id,
        run_dir,
        exit_code: if any_unavailable { 3 } else { 0 },
        sources: reports,
        verdict_counts,
        discrepancies: result.discrepancies.len(),
    })
}

/// A source's `answer_ttl_days`, when it keeps answers between nights.
fn answer_ttl(cfg: &hedui_adapter::SourceConfig) -> Option<i64> {
    cfg.f64("answer_ttl_days").filter(|t| *t >= 1.0).map(|t| t as i64)
}

/// Asks the department only about persons without a fresh stored answer,
/// stores what it answered, and adds the stored answers to its output.
async fn fetch_with_cache(source: &dyn Source, cx: SourceContext, cfg: &hedui_adapter::SourceConfig, cache: &AnswerCache) -> Result<SourceOutput, hedui_adapter::SourceError> {
    let ttl = answer_ttl(cfg).unwrap_or(0);
    let ids: Vec<String> = cx.requests.iter().map(|p| p.id.clone()).collect();
    let hits = cache.fresh(&cfg.code, &ids, cx.as_of, ttl).await.unwrap_or_else(|e| {
        tracing::warn!(source = %cfg.code, error = %e, "cannot read stored answers: asking everyone");
        HashMap::new()
    });
    let to_ask: Vec<PersonRequest> = cx.requests.iter().filter(|p| !hits.contains_key(&p.id)).cloned().collect();
    let asked: Vec<String> = to_ask.iter().map(|p| p.id.clone()).collect();
    let reused_auth: Vec<String> = {
        let mut a: Vec<String> = cx.requests.iter().filter(|p| hits.contains_key(&p.id)).map(|p| p.auth_no.clone()).collect();
        a.sort();
        a.dedup();
        a
    };
    let cx = SourceContext { requests: Arc::new(to_ask), ..cx };
    let mut out = source.fetch(&cx).await?;
    let failed: HashSet<String> = out.failed_persons.iter().cloned().collect();
    let answers = answers_by_person(&out.records, &asked, &failed, cx.as_of);
    if let Err(e) = cache.store(&cfg.code, cx.as_of, &cx.run_id, &answers).await {
        tracing::warn!(source = %cfg.code, error = %e, "cannot store answers for the next night");
    }
    if !hits.is_empty() {
        cx.audit.record(AuditEvent { auth_nos: reused_auth, persons: hits.len() as u64, ..AuditEvent::new(&cfg.code, "cache_reuse", format!("answers kept up to {ttl} days")) });
    }
    out.stats.reused = hits.len() as u64;
    let mut persons: Vec<(String, CachedAnswer)> = hits.into_iter().collect();
    persons.sort_by(|a, b| a.0.cmp(&b.0));
    for (_, answer) in persons {
        out.records.append(answer.records);
    }
    Ok(out)
}

fn count_by<T>(items: &[T], key: impl Fn(&T) -> String) -> BTreeMap<String, u64> {
    let mut m = BTreeMap::new();
    for i in items {
        *m.entry(key(i)).or_default() += 1;
    }
    m
}
