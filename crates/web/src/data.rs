//! Every read and write the pages and the JSON API share: the HTML pages and
//! `/api/` show the same data because they call the same functions here.
//!
//! Identity numbers leave this module masked (`520102********123X`): the full
//! numbers stay in the run folder's files and the department feedback files.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{AssertSqlSafe, Row};

use crate::import::{ChangeSummary, Explanation};
use crate::store::{Store, StoreError, User};

/// Rows per page of the long lists.
pub const PAGE_SIZE: i64 = 50;

/// Review statuses an analyst can set (`open` = not reviewed, or reopened).
pub const REVIEW_STATUSES: [&str; 4] = ["open", "confirmed", "dismissed", "corrected"];

// ---------------------------------------------------------------------------
// Masking

/// Masks one identity number: first 6 and last 4 characters kept.
pub fn mask_id(raw: &str) -> String {
    let chars: Vec<char> = raw.trim().chars().collect();
    if chars.len() <= 10 {
        return "*".repeat(chars.len());
    }
    let mut out: String = chars[..6].iter().collect();
    out.extend(std::iter::repeat_n('*', chars.len() - 10));
    out.extend(chars[chars.len() - 4..].iter());
    out
}

/// Masks every ID-like run (15 or more digits, `X` allowed: ID and account
/// numbers) inside free text such as record keys and evidence facts.
pub fn mask_ids_in(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let is_id_char = |c: char| c.is_ascii_digit() || c == 'X' || c == 'x';
        if is_id_char(chars[i]) {
            let start = i;
            while i < chars.len() && is_id_char(chars[i]) {
                i += 1;
            }
            let run: String = chars[start..i].iter().collect();
            if run.len() >= 15 && run.chars().filter(|c| c.is_ascii_digit()).count() >= 14 {
                out.push_str(&mask_id(&run));
            } else {
                out.push_str(&run);
            }
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Runs

#[derive(Debug, Clone, Serialize)]
pub struct SourceStatus {
    pub code: String,
    pub status: String,
    pub reason: Option<String>,
    pub records_read: i64,
    pub records_used: i64,
    pub records_quarantined: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub run_id: String,
    pub as_of: String,
    pub started_at: String,
    pub finished_at: String,
    pub exit_code: i64,
    pub policy: String,
    pub households: i64,
    pub eligible: i64,
    pub ineligible: i64,
    pub review: i64,
    pub discrepancies: i64,
    pub quarantined_rows: i64,
    pub sources: Vec<SourceStatus>,
    /// Households whose verdict changed since the previous run; None for the first run.
    pub changes: Option<ChangeSummary>,
}

impl RunSummary {
    pub fn unavailable_sources(&self) -> impl Iterator<Item = &SourceStatus> {
        self.sources.iter().filter(|s| s.status != "ok")
    }
}

const RUN_COLS: &str = "run_id, as_of, started_at, finished_at, exit_code, policy, households, eligible, ineligible, review, discrepancies, quarantined, manifest, change_summary";

fn run_from(r: &AnyRow) -> Result<RunSummary, StoreError> {
    let manifest: serde_json::Value = serde_json::from_str(&r.try_get::<String, _>("manifest")?).unwrap_or_default();
    let sources = manifest
        .get("sources")
        .and_then(|s| s.as_array())
        .map(|a| {
            a.iter()
                .map(|s| {
                    let n = |k: &str| s.get("records").and_then(|r| r.get(k)).and_then(|v| v.as_i64()).unwrap_or(0);
                    SourceStatus {
                        code: s.get("code").and_then(|v| v.as_str()).unwrap_or("").to_string(),
                        status: s.get("status").and_then(|v| v.as_str()).unwrap_or("").to_string(),
                        reason: s.get("reason").and_then(|v| v.as_str()).map(str::to_string),
                        records_read: n("read"),
                        records_used: n("used"),
                        records_quarantined: n("quarantined"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    let changes = r.try_get::<Option<String>, _>("change_summary")?.and_then(|t| serde_json::from_str(&t).ok());
    Ok(RunSummary {
        run_id: r.try_get("run_id")?,
        as_of: r.try_get("as_of")?,
        started_at: r.try_get("started_at")?,
        finished_at: r.try_get("finished_at")?,
        exit_code: r.try_get("exit_code")?,
        policy: r.try_get("policy")?,
        households: r.try_get("households")?,
        eligible: r.try_get("eligible")?,
        ineligible: r.try_get("ineligible")?,
        review: r.try_get("review")?,
        discrepancies: r.try_get("discrepancies")?,
        quarantined_rows: r.try_get("quarantined")?,
        sources,
        changes,
    })
}

/// Every imported run, newest first.
pub async fn runs(store: &Store) -> Result<Vec<RunSummary>, StoreError> {
    let rows = sqlx::query(AssertSqlSafe(format!("SELECT {RUN_COLS} FROM runs ORDER BY sort_key DESC"))).fetch_all(store.pool()).await?;
    rows.iter().map(run_from).collect()
}

pub async fn run(store: &Store, run_id: &str) -> Result<Option<RunSummary>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {RUN_COLS} FROM runs WHERE run_id = $1"))).bind(run_id.to_string()).fetch_optional(store.pool()).await?;
    row.as_ref().map(run_from).transpose()
}

// ---------------------------------------------------------------------------
// Dashboard

#[derive(Debug, Clone, Serialize, Default)]
pub struct VerdictBreakdown {
    pub key: String,
    pub eligible: i64,
    pub ineligible: i64,
    pub review: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeCount {
    pub code: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct DepartmentCodeCount {
    pub department: String,
    pub code: String,
    pub count: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TrendPoint {
    pub run_id: String,
    pub as_of: String,
    pub eligible: i64,
    pub ineligible: i64,
    pub review: i64,
    pub discrepancies: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Dashboard {
    pub run: RunSummary,
    pub by_county: Vec<VerdictBreakdown>,
    /// Key: `PROGRAM area_type`.
    pub by_program: Vec<VerdictBreakdown>,
    pub by_reason: Vec<CodeCount>,
    pub by_department: Vec<CodeCount>,
    pub by_code: Vec<DepartmentCodeCount>,
    pub review_status: Vec<CodeCount>,
    /// The last runs up to this one, oldest first.
    pub trend: Vec<TrendPoint>,
}

/// How many runs the trend chart shows.
pub const TREND_RUNS: i64 = 14;

fn add_verdict(b: &mut VerdictBreakdown, verdict: &str, n: i64) {
    match verdict {
        "ELIGIBLE" => b.eligible += n,
        "INELIGIBLE" => b.ineligible += n,
        _ => b.review += n,
    }
}

pub async fn dashboard(store: &Store, run_id: &str) -> Result<Option<Dashboard>, StoreError> {
    let Some(run) = run(store, run_id).await? else { return Ok(None) };
    let pool = store.pool();
    let id = || run_id.to_string();
    let mut county: BTreeMap<String, VerdictBreakdown> = BTreeMap::new();
    let mut program: BTreeMap<String, VerdictBreakdown> = BTreeMap::new();
    for r in sqlx::query("SELECT county_code, program, area_type, verdict, COUNT(*) AS n FROM verdicts WHERE run_id = $1 GROUP BY county_code, program, area_type, verdict").bind(id()).fetch_all(pool).await? {
        let (c, p, a, v, n): (String, String, String, String, i64) = (r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
        add_verdict(county.entry(c.clone()).or_insert_with(|| VerdictBreakdown { key: c, ..Default::default() }), &v, n);
        let key = format!("{p} {a}");
        add_verdict(program.entry(key.clone()).or_insert_with(|| VerdictBreakdown { key, ..Default::default() }), &v, n);
    }
    let counts = |rows: Vec<AnyRow>| -> Result<Vec<CodeCount>, StoreError> { rows.iter().map(|r| Ok(CodeCount { code: r.try_get(0)?, count: r.try_get(1)? })).collect() };
    let by_reason = counts(sqlx::query("SELECT code, COUNT(*) AS n FROM reasons WHERE run_id = $1 GROUP BY code ORDER BY n DESC, code").bind(id()).fetch_all(pool).await?)?;
    let by_department = counts(sqlx::query("SELECT department, COUNT(*) AS n FROM discrepancies WHERE run_id = $1 GROUP BY department ORDER BY n DESC, department").bind(id()).fetch_all(pool).await?)?;
    // Reviewed rows through the (small) reviews table; the rest are open.
    let mut review_status = counts(sqlx::query("SELECT r.status, COUNT(*) AS n FROM reviews r JOIN discrepancies d ON d.dkey = r.dkey WHERE d.run_id = $1 AND r.status <> 'open' GROUP BY r.status ORDER BY n DESC").bind(id()).fetch_all(pool).await?)?;
    let reviewed: i64 = review_status.iter().map(|c| c.count).sum();
    if run.discrepancies > reviewed {
        review_status.insert(0, CodeCount { code: "open".into(), count: run.discrepancies - reviewed });
    }
    let by_code = sqlx::query("SELECT department, code, COUNT(*) AS n FROM discrepancies WHERE run_id = $1 GROUP BY department, code ORDER BY n DESC, department, code")
        .bind(id())
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(DepartmentCodeCount { department: r.try_get(0)?, code: r.try_get(1)?, count: r.try_get(2)? }))
        .collect::<Result<Vec<_>, StoreError>>()?;
    let mut trend = sqlx::query("SELECT run_id, as_of, eligible, ineligible, review, discrepancies FROM runs WHERE sort_key <= (SELECT sort_key FROM runs WHERE run_id = $1) ORDER BY sort_key DESC LIMIT $2")
        .bind(id())
        .bind(TREND_RUNS)
        .fetch_all(pool)
        .await?
        .iter()
        .map(|r| Ok(TrendPoint { run_id: r.try_get(0)?, as_of: r.try_get(1)?, eligible: r.try_get(2)?, ineligible: r.try_get(3)?, review: r.try_get(4)?, discrepancies: r.try_get(5)? }))
        .collect::<Result<Vec<_>, StoreError>>()?;
    trend.reverse();
    Ok(Some(Dashboard { run, by_county: county.into_values().collect(), by_program: program.into_values().collect(), by_reason, by_department, by_code, review_status, trend }))
}

// ---------------------------------------------------------------------------
// Paging

/// One page of a long list, with keyset cursors for the neighbours.
#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Rows matching the filters.
    pub total: i64,
    /// 0-based position of the first item among them.
    pub offset: i64,
    /// Cursor for the next page (`after=`), if there is one.
    pub next_after: Option<String>,
    /// Cursor for the previous page (`before=`), if there is one.
    pub prev_before: Option<String>,
}

/// Where a page starts: after a key (forward), before a key (backward), or at the start.
#[derive(Debug, Clone, Default, serde::Deserialize)]
pub struct Cursor {
    pub after: Option<String>,
    pub before: Option<String>,
}

/// Query parameters of the list pages and their API twins (each handler reads
/// the ones it knows).
#[derive(Debug, Default, serde::Deserialize)]
pub struct ListQuery {
    pub department: Option<String>,
    pub code: Option<String>,
    pub county: Option<String>,
    pub status: Option<String>,
    pub household: Option<String>,
    pub verdict: Option<String>,
    pub program: Option<String>,
    pub reason: Option<String>,
    pub q: Option<String>,
    pub kind: Option<String>,
    pub after: Option<String>,
    pub before: Option<String>,
    /// Pages: the review just saved (a confirmation banner).
    pub saved: Option<String>,
    /// API: page size (1–500, default [`PAGE_SIZE`]).
    pub limit: Option<i64>,
}

impl ListQuery {
    /// The paging cursor (empty strings mean none).
    pub fn cursor(&self) -> Cursor {
        Cursor { after: self.after.clone().filter(|s| !s.is_empty()), before: self.before.clone().filter(|s| !s.is_empty()) }
    }

    /// The API's page size.
    pub fn limit(&self) -> i64 {
        self.limit.unwrap_or(PAGE_SIZE).clamp(1, 500)
    }
}

/// A WHERE clause under construction with its binds (`$n` numbered in order).
struct Where {
    sql: String,
    binds: Vec<String>,
}

impl Where {
    fn new(first: &str, value: &str) -> Where {
        Where { sql: format!("{first} = $1"), binds: vec![value.to_string()] }
    }
    fn and(&mut self, clause_with_placeholder: &str, value: &str) {
        self.binds.push(value.to_string());
        let n = self.binds.len();
        self.sql.push_str(" AND ");
        self.sql.push_str(&clause_with_placeholder.replace("{}", &format!("${n}")));
    }
    fn and_plain(&mut self, clause: &str) {
        self.sql.push_str(" AND ");
        self.sql.push_str(clause);
    }
}

fn query_with(sql: String, binds: &[String]) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let mut q = sqlx::query(AssertSqlSafe(sql));
    for b in binds {
        q = q.bind(b.clone());
    }
    q
}

/// Runs a keyset-paged query. `from` is the FROM/JOIN part, `key` the unique
/// ordering column (text or integer, compared as written by `key_bind`).
///
/// `count_from` is the FROM part for counting (no joins that only add columns:
/// the filters must not need them), `from` the one for the rows shown.
#[allow(clippy::too_many_arguments)]
async fn page_rows(store: &Store, select: &str, from: &str, count_from: &str, w: Where, key: &str, key_is_int: bool, cursor: &Cursor, limit: i64) -> Result<(Vec<AnyRow>, i64, i64, bool, bool), StoreError> {
    let cmp_value = |s: &str| if key_is_int { format!("CAST({s} AS BIGINT)") } else { s.to_string() };
    let total: i64 = query_with(format!("SELECT COUNT(*) FROM {count_from} WHERE {}", w.sql), &w.binds).fetch_one(store.pool()).await?.try_get(0)?;
    let (rows, backwards) = match (&cursor.after, &cursor.before) {
        (Some(after), _) => {
            let mut w2 = Where { sql: w.sql.clone(), binds: w.binds.clone() };
            w2.and(&format!("{key} > {}", cmp_value("{}")), after);
            (query_with(format!("SELECT {select} FROM {from} WHERE {} ORDER BY {key} LIMIT {}", w2.sql, limit + 1), &w2.binds).fetch_all(store.pool()).await?, false)
        }
        (None, Some(before)) => {
            let mut w2 = Where { sql: w.sql.clone(), binds: w.binds.clone() };
            w2.and(&format!("{key} < {}", cmp_value("{}")), before);
            (query_with(format!("SELECT {select} FROM {from} WHERE {} ORDER BY {key} DESC LIMIT {}", w2.sql, limit + 1), &w2.binds).fetch_all(store.pool()).await?, true)
        }
        (None, None) => (query_with(format!("SELECT {select} FROM {from} WHERE {} ORDER BY {key} LIMIT {}", w.sql, limit + 1), &w.binds).fetch_all(store.pool()).await?, false),
    };
    let more = rows.len() as i64 > limit;
    let mut rows: Vec<AnyRow> = rows.into_iter().take(limit as usize).collect();
    if backwards {
        rows.reverse();
    }
    // Position of the first row: how many matching rows sort before it.
    let offset = match rows.first() {
        Some(first) => {
            let first_key: String = if key_is_int { first.try_get::<i64, _>("page_key")?.to_string() } else { first.try_get("page_key")? };
            let mut w3 = Where { sql: w.sql.clone(), binds: w.binds.clone() };
            w3.and(&format!("{key} < {}", cmp_value("{}")), &first_key);
            query_with(format!("SELECT COUNT(*) FROM {count_from} WHERE {}", w3.sql), &w3.binds).fetch_one(store.pool()).await?.try_get(0)?
        }
        None => 0,
    };
    let (has_next, has_prev) = if backwards { (true, more) } else { (more, offset > 0) };
    Ok((rows, total, offset, has_next, has_prev))
}

fn key_text(r: &AnyRow, key_is_int: bool) -> Result<String, StoreError> {
    Ok(if key_is_int { r.try_get::<i64, _>("page_key")?.to_string() } else { r.try_get("page_key")? })
}

fn make_page<T>(rows: &[AnyRow], items: Vec<T>, total: i64, offset: i64, has_next: bool, has_prev: bool, key_is_int: bool) -> Result<Page<T>, StoreError> {
    Ok(Page {
        next_after: if has_next { rows.last().map(|r| key_text(r, key_is_int)).transpose()? } else { None },
        prev_before: if has_prev { rows.first().map(|r| key_text(r, key_is_int)).transpose()? } else { None },
        items,
        total,
        offset,
    })
}

// ---------------------------------------------------------------------------
// Discrepancies and reviews

#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
pub struct DiscrepancyFilter {
    pub department: Option<String>,
    pub code: Option<String>,
    pub county: Option<String>,
    pub status: Option<String>,
    pub household: Option<String>,
}

impl DiscrepancyFilter {
    /// Empty form fields mean "any".
    pub fn normalized(self) -> DiscrepancyFilter {
        let f = |o: Option<String>| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        DiscrepancyFilter { department: f(self.department), code: f(self.code), county: f(self.county), status: f(self.status), household: f(self.household) }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ReviewState {
    pub status: String,
    pub comment: String,
    /// Number of changes so far; a new review names the version it saw.
    pub version: i64,
    pub updated_by: Option<String>,
    pub updated_at: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiscrepancyRow {
    pub run_id: String,
    pub seq: i64,
    pub code: String,
    pub department: String,
    pub household_id: String,
    pub county_code: String,
    /// Masked.
    pub person_id: String,
    /// ID-like parts masked.
    pub record_ref: String,
    pub detail: String,
    pub review: ReviewState,
}

const DISC_SELECT: &str = "d.seq AS page_key, d.run_id, d.code, d.department, d.household_id, d.county_code, d.person_id, d.record_ref, d.detail, r.status, r.comment, r.version, r.updated_by, r.updated_at";
const DISC_FROM: &str = "discrepancies d LEFT JOIN reviews r ON r.dkey = d.dkey";

fn discrepancy_from(r: &AnyRow) -> Result<DiscrepancyRow, StoreError> {
    Ok(DiscrepancyRow {
        run_id: r.try_get("run_id")?,
        seq: r.try_get("page_key")?,
        code: r.try_get("code")?,
        department: r.try_get("department")?,
        household_id: r.try_get("household_id")?,
        county_code: r.try_get("county_code")?,
        person_id: mask_id(&r.try_get::<String, _>("person_id")?),
        record_ref: mask_ids_in(&r.try_get::<String, _>("record_ref")?),
        detail: mask_ids_in(&r.try_get::<String, _>("detail")?),
        review: ReviewState {
            status: r.try_get::<Option<String>, _>("status")?.unwrap_or_else(|| "open".into()),
            comment: r.try_get::<Option<String>, _>("comment")?.unwrap_or_default(),
            version: r.try_get::<Option<i64>, _>("version")?.unwrap_or(0),
            updated_by: r.try_get("updated_by")?,
            updated_at: r.try_get("updated_at")?,
        },
    })
}

pub async fn discrepancies(store: &Store, run_id: &str, filter: &DiscrepancyFilter, cursor: &Cursor, limit: i64) -> Result<Page<DiscrepancyRow>, StoreError> {
    let mut w = Where::new("d.run_id", run_id);
    if let Some(d) = &filter.department {
        w.and("d.department = {}", d);
    }
    if let Some(c) = &filter.code {
        w.and("d.code = {}", c);
    }
    if let Some(c) = &filter.county {
        w.and("d.county_code = {}", c);
    }
    if let Some(h) = &filter.household {
        w.and("d.household_id = {}", h);
    }
    // Status through the (small) reviews table, so counting needs no join.
    match filter.status.as_deref() {
        None => {}
        Some("open") => w.and_plain("d.dkey NOT IN (SELECT dkey FROM reviews WHERE status <> 'open')"),
        Some(s) => w.and("d.dkey IN (SELECT dkey FROM reviews WHERE status = {})", s),
    }
    let (rows, total, offset, has_next, has_prev) = page_rows(store, DISC_SELECT, DISC_FROM, "discrepancies d", w, "d.seq", true, cursor, limit).await?;
    let items = rows.iter().map(discrepancy_from).collect::<Result<Vec<_>, _>>()?;
    make_page(&rows, items, total, offset, has_next, has_prev, true)
}

#[derive(Debug, Clone, Serialize)]
pub struct HistoryEntry {
    pub version: i64,
    pub run_id: String,
    pub at: String,
    pub by: String,
    pub before_status: String,
    pub after_status: String,
    pub before_comment: String,
    pub after_comment: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DiscrepancyDetail {
    #[serde(flatten)]
    pub row: DiscrepancyRow,
    /// Review changes, oldest first (never rewritten).
    pub history: Vec<HistoryEntry>,
    /// Other runs that found the same discrepancy (same review key), newest first.
    pub seen_in_runs: Vec<String>,
}

async fn dkey_of(store: &Store, run_id: &str, seq: i64) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query("SELECT dkey FROM discrepancies WHERE run_id = $1 AND seq = $2").bind(run_id.to_string()).bind(seq).fetch_optional(store.pool()).await?.map(|r| r.try_get("dkey")).transpose()?)
}

pub async fn discrepancy(store: &Store, run_id: &str, seq: i64) -> Result<Option<DiscrepancyDetail>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {DISC_SELECT}, d.dkey FROM {DISC_FROM} WHERE d.run_id = $1 AND d.seq = $2"))).bind(run_id.to_string()).bind(seq).fetch_optional(store.pool()).await?;
    let Some(row) = row else { return Ok(None) };
    let dkey: String = row.try_get("dkey")?;
    let history = sqlx::query("SELECT version, run_id, at, by_user, before_status, after_status, before_comment, after_comment FROM review_history WHERE dkey = $1 ORDER BY version")
        .bind(dkey.clone())
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| {
            Ok(HistoryEntry {
                version: r.try_get(0)?,
                run_id: r.try_get(1)?,
                at: r.try_get(2)?,
                by: r.try_get(3)?,
                before_status: r.try_get(4)?,
                after_status: r.try_get(5)?,
                before_comment: r.try_get(6)?,
                after_comment: r.try_get(7)?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    let seen_in_runs = sqlx::query("SELECT DISTINCT d.run_id, r.sort_key FROM discrepancies d JOIN runs r ON r.run_id = d.run_id WHERE d.dkey = $1 ORDER BY r.sort_key DESC")
        .bind(dkey)
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| r.try_get::<String, _>(0))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(DiscrepancyDetail { row: discrepancy_from(&row)?, history, seen_in_runs }))
}

/// Why a review was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("no such discrepancy")]
    NotFound,
    #[error("status must be one of open, confirmed, dismissed, corrected")]
    BadStatus,
    #[error("a dismissal needs a comment saying why")]
    CommentRequired,
    #[error("the comment is longer than 2000 characters")]
    CommentTooLong,
    #[error("someone else changed this review meanwhile (now version {0}); reload and try again")]
    Conflict(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for ReviewError {
    fn from(e: sqlx::Error) -> Self {
        ReviewError::Store(e.into())
    }
}

/// Records a review of the discrepancy `run_id`/`seq` by `user`: the current
/// state is updated and one history row appended, in one transaction.
/// `expected_version` is the version the user saw (0 = never reviewed).
pub async fn set_review(store: &Store, run_id: &str, seq: i64, user: &User, status: &str, comment: &str, expected_version: i64) -> Result<DiscrepancyDetail, ReviewError> {
    if !REVIEW_STATUSES.contains(&status) {
        return Err(ReviewError::BadStatus);
    }
    let comment = comment.trim();
    if comment.chars().count() > 2000 {
        return Err(ReviewError::CommentTooLong);
    }
    if status == "dismissed" && comment.is_empty() {
        return Err(ReviewError::CommentRequired);
    }
    let dkey = dkey_of(store, run_id, seq).await?.ok_or(ReviewError::NotFound)?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut tx = store.pool().begin().await?;
    let current = sqlx::query("SELECT status, comment, version FROM reviews WHERE dkey = $1").bind(dkey.clone()).fetch_optional(&mut *tx).await?;
    let (before_status, before_comment, version) = match &current {
        Some(r) => (r.try_get::<String, _>(0)?, r.try_get::<String, _>(1)?, r.try_get::<i64, _>(2)?),
        None => ("open".to_string(), String::new(), 0),
    };
    if version != expected_version {
        return Err(ReviewError::Conflict(version));
    }
    if before_status == status && before_comment == comment {
        drop(tx);
        return discrepancy(store, run_id, seq).await?.ok_or(ReviewError::NotFound);
    }
    let new_version = version + 1;
    let changed = if current.is_some() {
        sqlx::query("UPDATE reviews SET status = $1, comment = $2, version = $3, updated_by = $4, updated_at = $5 WHERE dkey = $6 AND version = $7")
            .bind(status.to_string())
            .bind(comment.to_string())
            .bind(new_version)
            .bind(user.name.clone())
            .bind(now.clone())
            .bind(dkey.clone())
            .bind(version)
            .execute(&mut *tx)
            .await
            .map(|r| r.rows_affected())
    } else {
        sqlx::query("INSERT INTO reviews (dkey, status, comment, version, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(dkey.clone())
            .bind(status.to_string())
            .bind(comment.to_string())
            .bind(new_version)
            .bind(user.name.clone())
            .bind(now.clone())
            .execute(&mut *tx)
            .await
            .map(|r| r.rows_affected())
    };
    match changed {
        Ok(1) => {}
        Ok(_) => return Err(ReviewError::Conflict(version)),
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(ReviewError::Conflict(version)),
        Err(e) => return Err(e.into()),
    }
    let appended = sqlx::query("INSERT INTO review_history (dkey, version, run_id, at, by_user, before_status, after_status, before_comment, after_comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(dkey)
        .bind(new_version)
        .bind(run_id.to_string())
        .bind(now)
        .bind(user.name.clone())
        .bind(before_status)
        .bind(status.to_string())
        .bind(before_comment)
        .bind(comment.to_string())
        .execute(&mut *tx)
        .await;
    match appended {
        Ok(_) => {}
        Err(sqlx::Error::Database(e)) if e.is_unique_violation() => return Err(ReviewError::Conflict(version)),
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    discrepancy(store, run_id, seq).await?.ok_or(ReviewError::NotFound)
}

// ---------------------------------------------------------------------------
// Households

#[derive(Debug, Clone, Default, serde::Deserialize, Serialize)]
pub struct HouseholdFilter {
    pub verdict: Option<String>,
    pub county: Option<String>,
    pub program: Option<String>,
    pub reason: Option<String>,
    /// Household ID, exact.
    pub q: Option<String>,
}

impl HouseholdFilter {
    pub fn normalized(self) -> HouseholdFilter {
        let f = |o: Option<String>| o.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        HouseholdFilter { verdict: f(self.verdict), county: f(self.county), program: f(self.program), reason: f(self.reason), q: f(self.q) }
    }
}

/// One reason in a list: what it is, by how much, on whose data.
#[derive(Debug, Clone, Serialize)]
pub struct ReasonBrief {
    pub code: String,
    pub value_fen: Option<i64>,
    pub limit_fen: Option<i64>,
    pub margin_fen: Option<i64>,
    pub departments: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictRow {
    pub household_id: String,
    pub program: String,
    pub county_code: String,
    pub area_type: String,
    pub verdict: String,
    pub counted_members: i64,
    pub standard_monthly_fen: Option<i64>,
    pub gross_income_12m_fen: Option<i64>,
    pub medical_deduction_fen: Option<i64>,
    pub net_income_12m_fen: Option<i64>,
    pub financial_assets_fen: Option<i64>,
    pub reasons: Vec<ReasonBrief>,
}

const VERDICT_SELECT: &str = "household_id AS page_key, program, county_code, area_type, verdict, counted_members, standard_monthly_fen, gross_income_fen, medical_deduction_fen, net_income_fen, financial_assets_fen, reason_codes";

fn verdict_from(r: &AnyRow) -> Result<VerdictRow, StoreError> {
    // Reasons without an explanation row (an older run folder) still show by code.
    let reasons = r.try_get::<String, _>("reason_codes")?.split(';').filter(|c| !c.is_empty()).map(|c| ReasonBrief { code: c.into(), value_fen: None, limit_fen: None, margin_fen: None, departments: vec![] }).collect();
    Ok(VerdictRow {
        household_id: r.try_get("page_key")?,
        program: r.try_get("program")?,
        county_code: r.try_get("county_code")?,
        area_type: r.try_get("area_type")?,
        verdict: r.try_get("verdict")?,
        counted_members: r.try_get("counted_members")?,
        standard_monthly_fen: r.try_get("standard_monthly_fen")?,
        gross_income_12m_fen: r.try_get("gross_income_fen")?,
        medical_deduction_fen: r.try_get("medical_deduction_fen")?,
        net_income_12m_fen: r.try_get("net_income_fen")?,
        financial_assets_fen: r.try_get("financial_assets_fen")?,
        reasons,
    })
}

/// Fills each row's reasons from the `reasons` table (margins and departments).
async fn attach_reasons(store: &Store, run_id: &str, rows: &mut [VerdictRow]) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let placeholders: Vec<String> = (0..rows.len()).map(|i| format!("${}", i + 2)).collect();
    let mut q = sqlx::query(AssertSqlSafe(format!("SELECT household_id, code, value_fen, limit_fen, margin_fen, departments FROM reasons WHERE run_id = $1 AND household_id IN ({}) ORDER BY household_id, ord", placeholders.join(", ")))).bind(run_id.to_string());
    for r in rows.iter() {
        q = q.bind(r.household_id.clone());
    }
    let mut by_household: BTreeMap<String, Vec<ReasonBrief>> = BTreeMap::new();
    for r in q.fetch_all(store.pool()).await? {
        by_household.entry(r.try_get(0)?).or_default().push(ReasonBrief {
            code: r.try_get(1)?,
            value_fen: r.try_get(2)?,
            limit_fen: r.try_get(3)?,
            margin_fen: r.try_get(4)?,
            departments: r.try_get::<String, _>(5)?.split(';').filter(|d| !d.is_empty()).map(str::to_string).collect(),
        });
    }
    for row in rows.iter_mut() {
        if let Some(list) = by_household.remove(&row.household_id) {
            row.reasons = list;
        }
    }
    Ok(())
}

pub async fn households(store: &Store, run_id: &str, filter: &HouseholdFilter, cursor: &Cursor, limit: i64) -> Result<Page<VerdictRow>, StoreError> {
    let mut w = Where::new("run_id", run_id);
    if let Some(v) = &filter.verdict {
        w.and("verdict = {}", v);
    }
    if let Some(c) = &filter.county {
        w.and("county_code = {}", c);
    }
    if let Some(p) = &filter.program {
        w.and("program = {}", p);
    }
    if let Some(q) = &filter.q {
        w.and("household_id = {}", q);
    }
    if let Some(reason) = &filter.reason {
        let n = w.binds.len() + 1;
        w.binds.push(reason.clone());
        w.and_plain(&format!("household_id IN (SELECT household_id FROM reasons WHERE run_id = $1 AND code = ${n})"));
    }
    let (rows, total, offset, has_next, has_prev) = page_rows(store, VERDICT_SELECT, "verdicts", "verdicts", w, "household_id", false, cursor, limit).await?;
    let mut items = rows.iter().map(verdict_from).collect::<Result<Vec<_>, _>>()?;
    attach_reasons(store, run_id, &mut items).await?;
    make_page(&rows, items, total, offset, has_next, has_prev, false)
}

#[derive(Debug, Clone, Serialize)]
pub struct MemberView {
    /// Masked.
    pub id: String,
    pub name: String,
    pub relation: String,
    pub counted: bool,
    pub registry_status: String,
    pub age: Option<i32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct VerdictHistoryPoint {
    pub run_id: String,
    pub as_of: String,
    pub verdict: String,
    pub reason_codes: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HouseholdDetail {
    pub run_id: String,
    pub verdict: VerdictRow,
    /// Each reason with its summary, amounts, parameters and evidence (record keys masked).
    pub reasons: Vec<crate::import::ExplainedReason>,
    pub members: Vec<MemberView>,
    pub unusable_departments: Vec<String>,
    pub income_window: String,
    pub discrepancies: Vec<DiscrepancyRow>,
    /// This household's verdict in every imported run, newest first.
    pub history: Vec<VerdictHistoryPoint>,
}

pub async fn household(store: &Store, run_id: &str, household_id: &str) -> Result<Option<HouseholdDetail>, StoreError> {
    let row = sqlx::query(AssertSqlSafe(format!("SELECT {VERDICT_SELECT} FROM verdicts WHERE run_id = $1 AND household_id = $2"))).bind(run_id.to_string()).bind(household_id.to_string()).fetch_optional(store.pool()).await?;
    let Some(row) = row else { return Ok(None) };
    let mut verdict = [verdict_from(&row)?];
    attach_reasons(store, run_id, &mut verdict).await?;
    let [verdict] = verdict;
    let body: Option<String> = sqlx::query("SELECT body FROM explanations WHERE run_id = $1 AND household_id = $2").bind(run_id.to_string()).bind(household_id.to_string()).fetch_optional(store.pool()).await?.map(|r| r.try_get(0)).transpose()?;
    let expl: Option<Explanation> = body.and_then(|b| serde_json::from_str::<Explanation>(&b).ok());
    let (mut reasons, members, unusable_departments, income_window) = match expl {
        Some(e) => (e.reasons, e.members, e.unusable_departments, e.income_window),
        None => (vec![], vec![], vec![], String::new()),
    };
    for r in &mut reasons {
        r.summary = mask_ids_in(&r.summary);
        for ev in &mut r.evidence {
            ev.record_ref = mask_ids_in(&ev.record_ref);
            ev.fact = mask_ids_in(&ev.fact);
        }
    }
    let members = members.into_iter().map(|m| MemberView { id: mask_id(&m.id), name: m.name, relation: m.relation, counted: m.counted, registry_status: m.registry_status, age: m.age }).collect();
    let filter = DiscrepancyFilter { household: Some(household_id.to_string()), ..Default::default() };
    let discrepancies = self::discrepancies(store, run_id, &filter, &Cursor::default(), 500).await?.items;
    let history = sqlx::query("SELECT v.run_id, r.as_of, v.verdict, v.reason_codes FROM verdicts v JOIN runs r ON r.run_id = v.run_id WHERE v.household_id = $1 ORDER BY r.sort_key DESC LIMIT 60")
        .bind(household_id.to_string())
        .fetch_all(store.pool())
        .await?
        .iter()
        .map(|r| Ok(VerdictHistoryPoint { run_id: r.try_get(0)?, as_of: r.try_get(1)?, verdict: r.try_get(2)?, reason_codes: r.try_get::<String, _>(3)?.split(';').filter(|c| !c.is_empty()).map(str::to_string).collect() }))
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Some(HouseholdDetail { run_id: run_id.to_string(), verdict, reasons, members, unusable_departments, income_window, discrepancies, history }))
}

// ---------------------------------------------------------------------------
// Changes since the previous run

#[derive(Debug, Clone, Serialize)]
pub struct ChangeRow {
    pub household_id: String,
    pub kind: String,
    /// Empty when the household was not in the previous run.
    pub before_verdict: String,
    pub after_verdict: String,
    pub reasons_added: Vec<String>,
    pub reasons_removed: Vec<String>,
}

pub async fn changes(store: &Store, run_id: &str, kind: Option<&str>, cursor: &Cursor, limit: i64) -> Result<Page<ChangeRow>, StoreError> {
    let mut w = Where::new("run_id", run_id);
    if let Some(k) = kind {
        w.and("kind = {}", k);
    }
    let (rows, total, offset, has_next, has_prev) = page_rows(store, "household_id AS page_key, kind, before_verdict, after_verdict, reasons_added, reasons_removed", "changes", "changes", w, "household_id", false, cursor, limit).await?;
    let split = |s: String| s.split(';').filter(|c| !c.is_empty()).map(str::to_string).collect();
    let items = rows
        .iter()
        .map(|r| {
            Ok(ChangeRow {
                household_id: r.try_get("page_key")?,
                kind: r.try_get("kind")?,
                before_verdict: r.try_get::<Option<String>, _>("before_verdict")?.unwrap_or_default(),
                after_verdict: r.try_get("after_verdict")?,
                reasons_added: split(r.try_get("reasons_added")?),
                reasons_removed: split(r.try_get("reasons_removed")?),
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    make_page(&rows, items, total, offset, has_next, has_prev, false)
}

// ---------------------------------------------------------------------------
// Feedback files

#[derive(Debug, Clone, Serialize)]
pub struct FeedbackFile {
    pub department: String,
    pub rows: i64,
    /// File names present in the run folder (`banking.csv`, `banking.xlsx`).
    pub files: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FeedbackRun {
    pub run_id: String,
    pub as_of: String,
    pub departments: Vec<FeedbackFile>,
}

/// Feedback files per run, newest first; `only` restricts to one department
/// (a department user never learns about the others).
pub async fn feedback(store: &Store, out: &Path, only: Option<&str>) -> Result<Vec<FeedbackRun>, StoreError> {
    let runs = sqlx::query("SELECT run_id, as_of FROM runs ORDER BY sort_key DESC").fetch_all(store.pool()).await?;
    let mut result = Vec::new();
    for r in runs {
        let run_id: String = r.try_get(0)?;
        let rows = match only {
            Some(d) => sqlx::query("SELECT department, COUNT(*) FROM discrepancies WHERE run_id = $1 AND department = $2 GROUP BY department").bind(run_id.clone()).bind(d.to_string()).fetch_all(store.pool()).await?,
            None => sqlx::query("SELECT department, COUNT(*) FROM discrepancies WHERE run_id = $1 GROUP BY department ORDER BY department").bind(run_id.clone()).fetch_all(store.pool()).await?,
        };
        let mut departments = Vec::new();
        for row in rows {
            let department: String = row.try_get(0)?;
            let files = ["csv", "xlsx"].iter().map(|ext| format!("{department}.{ext}")).filter(|f| out.join(&run_id).join("feedback").join(f).is_file()).collect();
            departments.push(FeedbackFile { rows: row.try_get(1)?, department, files });
        }
        result.push(FeedbackRun { run_id, as_of: r.try_get(1)?, departments });
    }
    Ok(result)
}

/// Codes present in one run, for the filter lists.
#[derive(Debug, Clone, Serialize, Default)]
pub struct FilterChoices {
    pub departments: Vec<String>,
    pub codes: Vec<String>,
    pub counties: Vec<String>,
    pub programs: Vec<String>,
    pub reasons: Vec<String>,
}

pub async fn filter_choices(store: &Store, run_id: &str) -> Result<FilterChoices, StoreError> {
    let list = |sql: &'static str| {
        let id = run_id.to_string();
        async move { sqlx::query(sql).bind(id).fetch_all(store.pool()).await.map(|rows| rows.iter().filter_map(|r| r.try_get::<String, _>(0).ok()).filter(|s| !s.is_empty()).collect::<Vec<_>>()) }
    };
    Ok(FilterChoices {
        departments: list("SELECT DISTINCT department FROM discrepancies WHERE run_id = $1 ORDER BY department").await?,
        codes: list("SELECT DISTINCT code FROM discrepancies WHERE run_id = $1 ORDER BY code").await?,
        counties: list("SELECT DISTINCT county_code FROM verdicts WHERE run_id = $1 ORDER BY county_code").await?,
        programs: list("SELECT DISTINCT program FROM verdicts WHERE run_id = $1 ORDER BY program").await?,
        reasons: list("SELECT DISTINCT code FROM reasons WHERE run_id = $1 ORDER BY code").await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_masked_in_fields_and_in_text() {
        assert_eq!(mask_id("52010219800101123X"), "520102********123X");
        assert_eq!(mask_ids_in("贵州银行+6222070895790466+20261116"), "贵州银行+622207******0466+20261116");
        assert_eq!(mask_ids_in("520115198002083371+2026-08"), "520115********3371+2026-08");
        assert_eq!(mask_ids_in("缴费基数 21,600.00"), "缴费基数 21,600.00");
    }
}
