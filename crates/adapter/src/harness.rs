//! The compliance harness every adapter's tests run.
//!
//! It checks the invariants of the adapter model (see the crate docs and
//! `docs/adapters.md`) on a real fetch, so each adapter's own tests only have
//! to assert *what* it read:
//!
//! ```no_run
//! use hedui_adapter::{harness, Source};
//!
//! async fn reads_the_fixtures(source: &dyn Source) {
//!     let cx = harness::test_context(std::path::Path::new("fixtures/housing"));
//!     let out = harness::check_source_compliance(source, &cx).await;
//!     assert_eq!(out.records.properties[0].area_centi_m2, 11367);
//! }
//! ```
//!
//! - [`test_context`] builds a [`SourceContext`] for an inbox folder (as of
//!   2026-11-26, in-memory audit, no progress display, no requests).
//! - [`check_source_compliance`] fetches once and checks everything a
//!   file-delivered source must keep (it panics with a message naming the
//!   broken invariant).
//! - [`check_output_invariants`] is the transport-independent part, for HTTP
//!   sources whose fetch cannot be pointed at a missing folder.
//!
//! It is an ordinary public module (not test-only) so that adapter crates can
//! call it from their own tests without enabling a feature.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::NaiveDate;
use hedui_core::model::{Origin, RecordKind, Records};

use crate::{AuditEvent, AuditLog, NoProgress, PersonRequest, Source, SourceContext, SourceError, SourceOutput};

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A path under the system temp folder that does not exist yet, unique per call.
fn unique_temp_path(what: &str) -> PathBuf {
    let n = UNIQUE.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!("hedui-harness-{what}-{}-{n}", std::process::id()))
}

/// A context for reading `inbox`: as of 2026-11-26 (batch `20261126`), run id
/// `test-run`, an in-memory audit log, [`NoProgress`], no person requests, and
/// an outbox under the temp folder (not created until an adapter writes there).
pub fn test_context(inbox: &Path) -> SourceContext {
    test_context_with_requests(inbox, Vec::new())
}

/// [`test_context`] with person requests (for sources that ask about persons).
/// To inspect what a source writes, replace the outbox:
/// `SourceContext { outbox: dir.path().into(), ..test_context(inbox) }`.
pub fn test_context_with_requests(inbox: &Path, requests: Vec<PersonRequest>) -> SourceContext {
    SourceContext {
        as_of: NaiveDate::from_ymd_opt(2026, 11, 26).expect("valid date"),
        batch_id: "20261126".to_string(),
        run_id: "test-run".to_string(),
        inbox: inbox.to_path_buf(),
        outbox: unique_temp_path("outbox"),
        requests: Arc::new(requests),
        audit: Arc::new(AuditLog::in_memory("test-run")),
        progress: Arc::new(NoProgress),
    }
}

/// A copy of `cx` with a fresh in-memory audit log and a fresh temporary
/// outbox (removed by the caller), so a second fetch does not disturb what the
/// first one recorded or wrote.
fn fresh_copy(cx: &SourceContext) -> SourceContext {
    SourceContext {
        audit: Arc::new(AuditLog::in_memory(&cx.run_id)),
        outbox: unique_temp_path("outbox"),
        ..cx.clone()
    }
}

/// Fetches with `cx` and checks every invariant of a file-delivered source.
/// Returns the output of that fetch for the caller's own assertions.
///
/// Checked (a panic names the source and the broken rule):
/// - the fetch succeeds;
/// - everything [`check_output_invariants`] checks;
/// - one `file_read` audit line per file read: as many as `stats.files`, each
///   naming a different file by its name only (no folder), and every file an
///   origin or a quarantined row cites was audited;
/// - per kind, the files appear in byte-wise name order and lines are ≥ 1;
/// - a second fetch of the same inbox gives the same records, quarantine and
///   counts (re-runs are reproducible);
/// - with an inbox that does not exist, the fetch fails with
///   [`SourceError::MissingFolder`].
pub async fn check_source_compliance(source: &dyn Source, cx: &SourceContext) -> SourceOutput {
    let code = source.code().to_string();
    let before = cx.audit.events().len();
    let out = match source.fetch(cx).await {
        Ok(out) => out,
        Err(e) => panic!("[{code}] fetch of {} failed: {e}", cx.inbox.display()),
    };
    let events: Vec<AuditEvent> = cx.audit.events().into_iter().skip(before).filter(|e| e.source == code).collect();
    check_output_invariants(source, &out, &events);

    // One audit line per file read, naming the file only.
    let reads: Vec<&AuditEvent> = events.iter().filter(|e| e.action == "file_read").collect();
    assert_eq!(reads.len() as u64, out.stats.files, "[{code}] {} file_read audit lines for stats.files = {}", reads.len(), out.stats.files);
    let audited: BTreeSet<&str> = reads.iter().map(|e| e.target.as_str()).collect();
    assert_eq!(audited.len(), reads.len(), "[{code}] a file was audited twice: {audited:?}");
    for t in &audited {
        assert!(!t.is_empty() && !t.contains('/') && !t.contains('\\'), "[{code}] audit target {t:?} is not a bare file name");
    }

    for (kind, origins) in origins_by_kind(&out.records) {
        let mut last_file: Option<&str> = None;
        for o in origins {
            assert!(o.line >= 1, "[{code}] {kind:?} record from {} has line 0 (lines are 1-based)", o.file);
            assert!(audited.contains(&*o.file), "[{code}] {kind:?} record cites {:?}, which has no file_read audit line", o.file);
            if let Some(prev) = last_file {
                assert!(prev.as_bytes() <= o.file.as_bytes(), "[{code}] {kind:?} records: {:?} comes after {prev:?} (files must be read in byte-wise name order)", o.file);
            }
            last_file = Some(&o.file);
        }
    }
    for q in &out.quarantine {
        assert!(q.line >= 1, "[{code}] quarantined row of {} has line 0", q.file);
        assert!(audited.contains(q.file.as_str()), "[{code}] quarantined row cites {:?}, which has no file_read audit line", q.file);
    }

    // Reproducible: the same inbox gives the same output.
    let second = fresh_copy(cx);
    let again = source.fetch(&second).await;
    let _ = std::fs::remove_dir_all(&second.outbox);
    let again = match again {
        Ok(o) => o,
        Err(e) => panic!("[{code}] second fetch of the same inbox failed: {e}"),
    };
    assert!(again.records == out.records, "[{code}] a second fetch of the same inbox gave different records");
    assert_eq!(again.quarantine, out.quarantine, "[{code}] a second fetch gave a different quarantine");
    assert_eq!(again.stats, out.stats, "[{code}] a second fetch gave different counts");

    // A missing folder fails the whole source with MissingFolder.
    let missing = SourceContext { inbox: unique_temp_path("missing-inbox"), ..fresh_copy(cx) };
    let result = source.fetch(&missing).await;
    let _ = std::fs::remove_dir_all(&missing.outbox);
    match result {
        Err(SourceError::MissingFolder { .. }) => {}
        Err(other) => panic!("[{code}] missing inbox folder gave {other:?}, expected SourceError::MissingFolder"),
        Ok(_) => panic!("[{code}] fetch succeeded although the inbox folder does not exist"),
    }
    out
}

/// The invariants of any source's output, whatever its transport:
/// - only the kinds declared by [`Source::kinds`] hold records;
/// - every record has an origin naming its file or request; per kind, the
///   records of one origin file are contiguous with non-decreasing lines
///   (delivery order: file by file, row by row);
/// - `stats.rows_read` ≥ records + quarantined rows;
/// - every quarantined row names its file and says why;
/// - no audit line carries a person's ID or name found in the records.
pub fn check_output_invariants(source: &dyn Source, out: &SourceOutput, audit: &[AuditEvent]) {
    let code = source.code();
    let declared = source.kinds();
    for (kind, origins) in origins_by_kind(&out.records) {
        assert!(origins.is_empty() || declared.contains(&kind), "[{code}] yields {kind:?} records but declares only {declared:?}");
        let mut seen_files: BTreeSet<&str> = BTreeSet::new();
        let mut prev: Option<&Origin> = None;
        for o in origins {
            assert!(!o.file.is_empty(), "[{code}] {kind:?} record without an origin file");
            match prev {
                Some(p) if p.file == o.file => {
                    assert!(p.line <= o.line, "[{code}] {kind:?} records of {}: line {} after line {} (not in row order)", o.file, o.line, p.line)
                }
                _ => assert!(seen_files.insert(&o.file), "[{code}] {kind:?} records of {} are not contiguous (not in delivery order)", o.file),
            }
            prev = Some(o);
        }
    }
    let total = out.records.len() as u64 + out.quarantine.len() as u64;
    assert!(
        out.stats.rows_read >= total,
        "[{code}] stats.rows_read = {} but {} records + {} quarantined",
        out.stats.rows_read,
        out.records.len(),
        out.quarantine.len()
    );
    for q in &out.quarantine {
        assert!(!q.file.is_empty(), "[{code}] quarantined row without a file: {q:?}");
        assert!(!q.reason.trim().is_empty(), "[{code}] quarantined row of {} line {} without a reason", q.file, q.line);
    }
    let personal = personal_values(&out.records);
    for e in audit {
        let texts = [e.target.as_str(), e.outcome.as_str()];
        for v in &personal {
            for t in texts.iter().copied().chain(e.auth_nos.iter().map(String::as_str)) {
                assert!(!t.contains(v.as_str()), "[{code}] audit line {:?} {:?} carries personal data", e.action, e.target);
            }
        }
    }
}

/// Origins of every record, per kind, in the order of the `Vec`s.
pub fn origins_by_kind(r: &Records) -> Vec<(RecordKind, Vec<&Origin>)> {
    vec![
        (RecordKind::Registry, r.registry.iter().map(|x| &x.origin).collect()),
        (RecordKind::Vehicle, r.vehicles.iter().map(|x| &x.origin).collect()),
        (RecordKind::HrReply, r.hr.iter().map(|x| &x.origin).collect()),
        (RecordKind::MedicalVisit, r.medical_visits.iter().map(|x| &x.origin).collect()),
        (RecordKind::InsuranceEnrollment, r.insurance.iter().map(|x| &x.origin).collect()),
        (RecordKind::BusinessRole, r.business.iter().map(|x| &x.origin).collect()),
        (RecordKind::BankBalance, r.bank_balances.iter().map(|x| &x.origin).collect()),
        (RecordKind::EducationReply, r.education.iter().map(|x| &x.origin).collect()),
        (RecordKind::Property, r.properties.iter().map(|x| &x.origin).collect()),
        (RecordKind::DisabilityCert, r.disability.iter().map(|x| &x.origin).collect()),
    ]
}

/// IDs (≥ 15 characters once trimmed) and names (≥ 2 characters) found in
/// the records: values that must never appear in an audit line.
fn personal_values(r: &Records) -> BTreeSet<String> {
    let mut ids: Vec<&str> = Vec::new();
    let mut names: Vec<&str> = Vec::new();
    ids.extend(r.registry.iter().map(|x| x.id_raw.as_str()));
    names.extend(r.registry.iter().map(|x| x.name.as_str()));
    ids.extend(r.vehicles.iter().map(|x| x.owner_id_raw.as_str()));
    names.extend(r.vehicles.iter().map(|x| x.owner_name.as_str()));
    ids.extend(r.hr.iter().map(|x| x.id_raw.as_str()));
    names.extend(r.hr.iter().map(|x| x.name.as_str()));
    ids.extend(r.medical_visits.iter().map(|x| x.id_raw.as_str()));
    names.extend(r.medical_visits.iter().map(|x| x.name.as_str()));
    ids.extend(r.insurance.iter().map(|x| x.id_raw.as_str()));
    names.extend(r.insurance.iter().map(|x| x.name.as_str()));
    ids.extend(r.business.iter().map(|x| x.person_id_raw.as_str()));
    names.extend(r.business.iter().map(|x| x.person_name.as_str()));
    ids.extend(r.bank_balances.iter().map(|x| x.id_raw.as_str()));
    names.extend(r.bank_balances.iter().map(|x| x.name.as_str()));
    ids.extend(r.education.iter().map(|x| x.id_raw.as_str()));
    names.extend(r.education.iter().map(|x| x.name.as_str()));
    ids.extend(r.properties.iter().map(|x| x.owner_id_raw.as_str()));
    names.extend(r.properties.iter().map(|x| x.owner_name.as_str()));
    ids.extend(r.disability.iter().map(|x| x.id_raw.as_str()));
    names.extend(r.disability.iter().map(|x| x.name.as_str()));
    let ids = ids.into_iter().map(str::trim).filter(|s| s.chars().count() >= 15);
    let names = names.into_iter().map(str::trim).filter(|s| s.chars().count() >= 2);
    ids.chain(names).map(str::to_string).collect()
}
