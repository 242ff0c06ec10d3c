//! The store: SQLite (a file, zero set-up) or PostgreSQL, through sqlx's `Any`
//! driver so every query is written once. Queries use `$n` binds, which both
//! SQLite and PostgreSQL accept, and only TEXT / BIGINT columns.
//!
//! Migrations are embedded in the binary: version 1 (the schema) is the same
//! text for both backends; version 2 (the append-only guard of the review
//! history, a trigger) needs each backend's trigger dialect.

use std::borrow::Cow;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Row, SqlSafeStr};

const SCHEMA: &str = include_str!("../migrations/0001_schema.sql");
const APPEND_ONLY_SQLITE: &str = include_str!("../migrations/0002_append_only.sqlite.sql");
const APPEND_ONLY_POSTGRES: &str = include_str!("../migrations/0002_append_only.postgres.sql");

/// Which database the store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unsupported database URL {0:?}: use sqlite://FILE?mode=rwc or postgres://USER@HOST:PORT/DB")]
    BadUrl(String),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("database migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("{0}")]
    Invalid(String),
}

/// A user's role: analysts see everything; a department user sees only its
/// own department's feedback files.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "role", content = "department", rename_all = "lowercase")]
pub enum Role {
    Analyst,
    Department(String),
}

/// A signed-in user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct User {
    pub name: String,
    #[serde(flatten)]
    pub role: Role,
}

impl User {
    pub fn is_analyst(&self) -> bool {
        self.role == Role::Analyst
    }
}

/// The database behind the workbench.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
}

impl Store {
    /// Connects (creating a SQLite file when the URL says `mode=rwc`) and
    /// brings the schema up to date.
    pub async fn connect(url: &str) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let backend = if url.starts_with("sqlite:") {
            Backend::Sqlite
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Backend::Postgres
        } else {
            return Err(StoreError::BadUrl(url.to_string()));
        };
        let max = if backend == Backend::Sqlite { 4 } else { 8 };
        let pool = AnyPoolOptions::new().max_connections(max).connect(url).await?;
        if backend == Backend::Sqlite {
            // Readers never wait for the nightly import (WAL is a property of the file).
            sqlx::query("PRAGMA journal_mode=WAL").execute(&pool).await?;
        }
        migrator(backend).run(&pool).await?;
        Ok(Store { pool, backend })
    }

    pub fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Creates a user (`hedui user add`). Department codes are the folder and
    /// file names of the feedback files (`banking`, `health`, …).
    pub async fn add_user(&self, name: &str, password: &str, role: &Role) -> Result<(), StoreError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(|c| c.is_control()) {
            return Err(StoreError::Invalid("a user name is 1 to 64 printable characters".into()));
        }
        if password.chars().count() < 8 {
            return Err(StoreError::Invalid("a password has at least 8 characters".into()));
        }
        let (role_text, department) = match role {
            Role::Analyst => ("analyst", String::new()),
            Role::Department(d) if is_department_code(d) => ("department", d.clone()),
            Role::Department(d) => return Err(StoreError::Invalid(format!("{d:?} is not a department code (lower-case letters, digits and _, e.g. banking)"))),
        };
        let hash = hash_password(password.to_string()).await?;
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let res = sqlx::query("INSERT INTO users (name, password_hash, role, department, created_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(name.to_string())
            .bind(hash)
            .bind(role_text)
            .bind(department)
            .bind(now)
            .execute(&self.pool)
            .await;
        match res {
            Ok(_) => Ok(()),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Invalid(format!("user {name:?} already exists"))),
            Err(e) => Err(e.into()),
        }
    }

    /// The user, if the name exists and the password matches its hash.
    pub async fn check_password(&self, name: &str, password: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT password_hash, role, department FROM users WHERE name = $1").bind(name.trim().to_string()).fetch_optional(&self.pool).await?;
        let Some(row) = row else {
            // Spend the same time as for a real user, so timing does not tell names apart.
            let _ = verify_password(password.to_string(), DUMMY_HASH.to_string()).await;
            return Ok(None);
        };
        let hash: String = row.try_get("password_hash")?;
        if !verify_password(password.to_string(), hash).await {
            return Ok(None);
        }
        Ok(Some(User { name: name.trim().to_string(), role: role_from(&row.try_get::<String, _>("role")?, row.try_get("department")?) }))
    }

    /// How many users exist (the server hints at `hedui user add` when none).
    pub async fn user_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query("SELECT COUNT(*) FROM users").fetch_one(&self.pool).await?.try_get(0)?)
    }

    /// Looks a user up by name (sessions refer to users by name).
    pub async fn user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row = sqlx::query("SELECT role, department FROM users WHERE name = $1").bind(name.to_string()).fetch_optional(&self.pool).await?;
        Ok(match row {
            Some(r) => Some(User { name: name.to_string(), role: role_from(&r.try_get::<String, _>("role")?, r.try_get("department")?) }),
            None => None,
        })
    }
}

/// The database URL for printing: a password in it is replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    match rest.split_once('@') {
        Some((userinfo, host)) if userinfo.contains(':') => {
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{scheme}://{user}:***@{host}")
        }
        _ => url.to_string(),
    }
}

/// The default store of a runs folder: `sqlite://<OUT>/hedui.db?mode=rwc`.
pub fn default_db_url(out: &std::path::Path) -> String {
    let abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
    format!("sqlite://{}?mode=rwc", abs.join("hedui.db").display())
}

fn role_from(role: &str, department: String) -> Role {
    if role == "analyst" {
        Role::Analyst
    } else {
        Role::Department(department)
    }
}

/// `banking`, `hr_social_security`: the form of a department code, which is
/// also what makes it safe inside a file name.
pub fn is_department_code(s: &str) -> bool {
    !s.is_empty() && s.len() <= 40 && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn migrator(backend: Backend) -> Migrator {
    let guard = match backend {
        Backend::Sqlite => APPEND_ONLY_SQLITE,
        Backend::Postgres => APPEND_ONLY_POSTGRES,
    };
    Migrator::with_migrations(vec![
        Migration::new(1, Cow::Borrowed("schema"), MigrationType::Simple, SCHEMA.into_sql_str(), false),
        Migration::new(2, Cow::Borrowed("review history append-only"), MigrationType::Simple, guard.into_sql_str(), false),
    ])
}

/// A valid argon2id hash of a random password, verified against when the user
/// name does not exist.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$0GQ3W9mB0kqDY3m4E7lN0Y0c6g8V3lQmKkq7mX8Qe3c";

/// Argon2id (the crate's defaults: 19 MiB, 2 passes), off the async threads.
async fn hash_password(password: String) -> Result<String, StoreError> {
    tokio::task::spawn_blocking(move || Argon2::default().hash_password(password.as_bytes()).map(|h| h.to_string()))
        .await
        .map_err(|e| StoreError::Invalid(format!("hashing task: {e}")))?
        .map_err(|e| StoreError::Invalid(format!("hashing: {e}")))
}

async fn verify_password(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || match PasswordHash::new(&hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show_in_printed_urls() {
        assert_eq!(redact_url("postgres://hedui:s3cret@db:5432/hedui"), "postgres://hedui:***@db:5432/hedui");
        assert_eq!(redact_url("postgres://postgres@127.0.0.1:5432/test"), "postgres://postgres@127.0.0.1:5432/test");
        assert!(default_db_url(std::path::Path::new("/srv/out")).starts_with("sqlite:///srv/out/hedui.db?mode=rwc"));
    }
}
