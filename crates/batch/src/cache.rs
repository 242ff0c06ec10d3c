//! Department answers kept between nights (SQLite): a source that declares
//! `answer_ttl_days` is asked only about persons who are new or whose stored
//! answer is older than that — a rate-limited department (education: 20
//! calls/s) then fits a province into one night.
//!
//! Only per-person answers are kept (HR and education replies, keyed by the
//! person asked); failed persons are never stored, so they are asked again.
//! The store holds personal data at rest like the audit log does: it lives
//! under the run output folder (`DIR/cache/answers.db`) with the same access.

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;

use chrono::NaiveDate;
use hedui_core::identity;
use hedui_core::model::{RecordKind, Records};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};
use sqlx::Row;

/// Record kinds whose records are answers about the person asked.
pub const CACHEABLE_KINDS: [RecordKind; 2] = [RecordKind::HrReply, RecordKind::EducationReply];

/// The answer store.
pub struct AnswerCache {
    pool: SqlitePool,
}

/// A stored answer.
#[derive(Debug, Clone)]
pub struct CachedAnswer {
    pub as_of: NaiveDate,
    pub records: Records,
}

impl AnswerCache {
    /// Opens (creating if needed) the store at `path`.
    pub async fn open(path: &Path) -> Result<AnswerCache, sqlx::Error> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(sqlx::Error::Io)?;
        }
        // WAL + NORMAL: the store is a cache (a lost tail is asked again), so
        // it needs no fsync per commit.
        let opts = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sqlx::sqlite::SqliteSynchronous::Normal);
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(opts).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS answers (
                source TEXT NOT NULL,
                person_id TEXT NOT NULL,
                as_of TEXT NOT NULL,
                run_id TEXT NOT NULL,
                payload TEXT NOT NULL,
                PRIMARY KEY (source, person_id))",
        )
        .execute(&pool)
        .await?;
        Ok(AnswerCache { pool })
    }

    /// Answers for `ids` stored for an as-of date no later than `as_of` and
    /// less than `ttl_days` before it.
    pub async fn fresh(&self, source: &str, ids: &[String], as_of: NaiveDate, ttl_days: i64) -> Result<HashMap<String, CachedAnswer>, sqlx::Error> {
        let wanted: HashSet<&str> = ids.iter().map(String::as_str).collect();
        let rows = sqlx::query("SELECT person_id, as_of, payload FROM answers WHERE source = ?").bind(source).fetch_all(&self.pool).await?;
        let mut out = HashMap::new();
        for row in rows {
            let person: String = row.try_get("person_id")?;
            if !wanted.contains(person.as_str()) {
                continue;
            }
            let stored: String = row.try_get("as_of")?;
            let Ok(stored) = NaiveDate::parse_from_str(&stored, "%Y-%m-%d") else { continue };
            let age = (as_of - stored).num_days();
            if age < 0 || age >= ttl_days {
                continue;
            }
            let payload: String = row.try_get("payload")?;
            // An unreadable entry (older format) is simply asked again.
            if let Ok(records) = serde_json::from_str::<Records>(&payload) {
                out.insert(person, CachedAnswer { as_of: stored, records });
            }
        }
        Ok(out)
    }

    /// Stores the answers about the persons asked (replacing older ones).
    ///
    /// Rows go in as multi-row `INSERT`s in one transaction: one statement
    /// per row cost ~50 µs each through the driver (6 s for 127k answers).
    pub async fn store(&self, source: &str, as_of: NaiveDate, run_id: &str, answers: &HashMap<String, Records>) -> Result<(), sqlx::Error> {
        /// Rows per statement: 5 bound values each, under SQLite's 32,766.
        const ROWS_PER_INSERT: usize = 1000;
        let mut ids: Vec<&String> = answers.keys().collect();
        ids.sort();
        let as_of = as_of.to_string();
        let mut tx = self.pool.begin().await?;
        for chunk in ids.chunks(ROWS_PER_INSERT) {
            let payloads = chunk
                .iter()
                .map(|id| serde_json::to_string(&answers[*id]).map_err(|e| sqlx::Error::Protocol(e.to_string())))
                .collect::<Result<Vec<String>, _>>()?;
            let mut insert = sqlx::QueryBuilder::new("INSERT OR REPLACE INTO answers (source, person_id, as_of, run_id, payload) ");
            insert.push_values(chunk.iter().zip(payloads), |mut row, (id, payload)| {
                row.push_bind(source).push_bind(id.as_str()).push_bind(as_of.as_str()).push_bind(run_id).push_bind(payload);
            });
            insert.build().execute(&mut *tx).await?;
        }
        tx.commit().await
    }
}

/// Splits a fetched output's per-person replies by the person asked: every
/// asked person gets an answer (possibly empty: "no record"), except the failed.
/// Records about anyone else (a department's unrequested extras) are not kept.
pub fn answers_by_person(records: &Records, asked: &[String], failed: &HashSet<String>, as_of: NaiveDate) -> HashMap<String, Records> {
    let mut out: HashMap<String, Records> = asked.iter().filter(|id| !failed.contains(*id)).map(|id| (id.clone(), Records::default())).collect();
    let norm = |raw: &str| identity::parse_id(raw, as_of).ok().map(|i| i.as_str().to_string());
    for r in &records.hr {
        if let Some(entry) = norm(&r.id_raw).and_then(|id| out.get_mut(&id)) {
            entry.hr.push(r.clone());
        }
    }
    for r in &records.education {
        if let Some(entry) = norm(&r.id_raw).and_then(|id| out.get_mut(&id)) {
            entry.education.push(r.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hedui_core::model::{EducationReply, Origin};

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    fn id(seq: u32) -> String {
        let first17 = format!("52010220100101{seq:03}");
        format!("{first17}{}", identity::check_char(first17.as_bytes()) as char)
    }

    fn reply(id: &str) -> EducationReply {
        EducationReply { origin: Origin::new("GET", 1), id_raw: id.into(), name: "学生".into(), birth_date: None, enrollments: vec![], aid: vec![] }
    }

    #[tokio::test]
    async fn answers_are_reused_within_the_ttl_only() {
        let dir = tempfile::tempdir().unwrap();
        let cache = AnswerCache::open(&dir.path().join("cache/answers.db")).await.unwrap();
        let (a, b) = (id(1), id(2));
        let mut recs = Records::default();
        recs.education.push(reply(&a.to_lowercase()));
        let answers = answers_by_person(&recs, &[a.clone(), b.clone()], &HashSet::new(), d("2026-11-01"));
        assert_eq!(answers[&a].education.len(), 1);
        assert!(answers[&b].is_empty()); // asked, no record: a real answer
        cache.store("education", d("2026-11-01"), "r1", &answers).await.unwrap();

        let ids = [a.clone(), b.clone(), id(3)];
        let hit = cache.fresh("education", &ids, d("2026-11-26"), 30).await.unwrap();
        assert_eq!(hit.len(), 2);
        assert_eq!(hit[&a].records.education[0].name, "学生");
        assert!(cache.fresh("education", &ids, d("2026-12-01"), 30).await.unwrap().is_empty(), "30 days old: stale");
        assert!(cache.fresh("education", &ids, d("2026-10-31"), 30).await.unwrap().is_empty(), "stored for a later date");
        assert!(cache.fresh("hr_social_security", &ids, d("2026-11-26"), 30).await.unwrap().is_empty());
    }

    #[test]
    fn failed_persons_and_extras_are_not_stored() {
        let (a, b, x) = (id(1), id(2), id(3));
        let mut recs = Records::default();
        recs.education.push(reply(&x));
        let failed: HashSet<String> = [b.clone()].into();
        let answers = answers_by_person(&recs, &[a.clone(), b], &failed, d("2026-11-01"));
        assert_eq!(answers.keys().collect::<Vec<_>>(), vec![&a]);
    }
}
