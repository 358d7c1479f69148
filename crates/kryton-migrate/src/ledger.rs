//! The ledger: one row per applied migration, plus an append-only log of attempts.
//!
//! PostgreSQL keeps it in a schema of its own (`kryton.schema_migrations`); SQLite in prefixed
//! tables (`_kryton_schema_migrations`).

use serde::Serialize;
use sqlx::{AssertSqlSafe, Row};

use crate::connection::MigrationConnection;
use crate::source::{Compat, Migration};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LedgerStatus {
    Applied,
    /// A no-transaction migration started and never finished.
    Running,
}

/// One ledger row.
#[derive(Clone, Debug, Serialize)]
pub struct LedgerEntry {
    pub version: i64,
    pub slug: String,
    pub checksum: String,
    pub compat: Compat,
    pub status: LedgerStatus,
    pub applied_at: String,
    pub execution_ms: i64,
    pub applied_by_version: String,
    pub applied_by: String,
}

const PG_CREATE: &str = "
CREATE SCHEMA IF NOT EXISTS kryton;
CREATE TABLE IF NOT EXISTS kryton.schema_migrations (
    version BIGINT PRIMARY KEY,
    slug TEXT NOT NULL,
    checksum TEXT NOT NULL,
    compat TEXT NOT NULL CHECK (compat IN ('expand', 'contract')),
    status TEXT NOT NULL CHECK (status IN ('applied', 'running')),
    applied_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    execution_ms BIGINT NOT NULL DEFAULT 0,
    applied_by_version TEXT NOT NULL,
    applied_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS kryton.migration_attempts (
    id BIGSERIAL PRIMARY KEY,
    version BIGINT NOT NULL,
    event TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    at TIMESTAMPTZ NOT NULL DEFAULT now(),
    by_version TEXT NOT NULL,
    by_host TEXT NOT NULL
);";

const SQLITE_CREATE: &str = "
CREATE TABLE IF NOT EXISTS _kryton_schema_migrations (
    version INTEGER PRIMARY KEY,
    slug TEXT NOT NULL,
    checksum TEXT NOT NULL,
    compat TEXT NOT NULL CHECK (compat IN ('expand', 'contract')),
    status TEXT NOT NULL CHECK (status IN ('applied', 'running')),
    applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    execution_ms INTEGER NOT NULL DEFAULT 0,
    applied_by_version TEXT NOT NULL,
    applied_by TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS _kryton_migration_attempts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version INTEGER NOT NULL,
    event TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
    by_version TEXT NOT NULL,
    by_host TEXT NOT NULL
);";

const PG_SELECT: &str = "SELECT version, slug, checksum, compat, status,
    to_char(applied_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS applied_at,
    execution_ms, applied_by_version, applied_by
    FROM kryton.schema_migrations ORDER BY version";

const SQLITE_SELECT: &str = "SELECT version, slug, checksum, compat, status, applied_at,
    execution_ms, applied_by_version, applied_by
    FROM _kryton_schema_migrations ORDER BY version";

/// This machine's name: `HOSTNAME` (set in containers), else /etc/hostname.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Who is applying: `host/pid`, recorded in the ledger and the attempts log.
pub fn applier_identity() -> String {
    format!("{}/{}", hostname(), std::process::id())
}

/// Creates the ledger tables when missing. Call only under the migration lock.
pub async fn ensure(conn: &mut MigrationConnection) -> Result<(), sqlx::Error> {
    match conn {
        MigrationConnection::Postgres(c) => {
            sqlx::raw_sql(PG_CREATE).execute(c).await?;
        }
        MigrationConnection::Sqlite { conn, .. } => {
            sqlx::raw_sql(SQLITE_CREATE).execute(conn).await?;
        }
    };
    Ok(())
}

/// Whether the ledger exists (read-only; `status` and `plan` must not create it).
pub async fn exists(conn: &mut MigrationConnection) -> Result<bool, sqlx::Error> {
    Ok(match conn {
        MigrationConnection::Postgres(c) => {
            sqlx::query_scalar::<_, bool>("SELECT to_regclass('kryton.schema_migrations') IS NOT NULL")
                .fetch_one(c)
                .await?
        }
        MigrationConnection::Sqlite { conn, .. } => {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_kryton_schema_migrations'",
            )
            .fetch_one(conn)
            .await?
                > 0
        }
    })
}

/// Every ledger row in version order; empty when the ledger does not exist yet.
pub async fn read(conn: &mut MigrationConnection) -> Result<Vec<LedgerEntry>, sqlx::Error> {
    if !exists(conn).await? {
        return Ok(Vec::new());
    }

    match conn {
        MigrationConnection::Postgres(c) => sqlx::query(PG_SELECT).fetch_all(c).await?.iter().map(entry).collect(),
        MigrationConnection::Sqlite { conn, .. } => sqlx::query(SQLITE_SELECT)
            .fetch_all(conn)
            .await?
            .iter()
            .map(entry)
            .collect(),
    }
}

fn entry<R: Row>(row: &R) -> Result<LedgerEntry, sqlx::Error>
where
    for<'r> i64: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> String: sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    for<'r> &'r str: sqlx::ColumnIndex<R>,
{
    let compat: String = row.try_get("compat")?;
    let status: String = row.try_get("status")?;
    Ok(LedgerEntry {
        version: row.try_get("version")?,
        slug: row.try_get("slug")?,
        checksum: row.try_get("checksum")?,
        // The CHECK constraints keep these two in range; treat anything else as the safer value.
        compat: Compat::parse(&compat).unwrap_or(Compat::Contract),
        status: if status == "applied" {
            LedgerStatus::Applied
        } else {
            LedgerStatus::Running
        },
        applied_at: row.try_get("applied_at")?,
        execution_ms: row.try_get("execution_ms")?,
        applied_by_version: row.try_get("applied_by_version")?,
        applied_by: row.try_get("applied_by")?,
    })
}

/// Inserts a ledger row; inside the migration's transaction for transactional files.
pub async fn insert(
    conn: &mut MigrationConnection,
    migration: &Migration,
    status: LedgerStatus,
    execution_ms: i64,
    app_version: &str,
) -> Result<(), sqlx::Error> {
    let status = match status {
        LedgerStatus::Applied => "applied",
        LedgerStatus::Running => "running",
    };
    let sql = match conn.dialect() {
        crate::source::Dialect::Postgres => {
            "INSERT INTO kryton.schema_migrations
             (version, slug, checksum, compat, status, execution_ms, applied_by_version, applied_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        }
        crate::source::Dialect::Sqlite => {
            "INSERT INTO _kryton_schema_migrations
             (version, slug, checksum, compat, status, execution_ms, applied_by_version, applied_by)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
        }
    };
    macro_rules! bind_all {
        ($q:expr) => {
            $q.bind(migration.version)
                .bind(&migration.slug)
                .bind(&migration.checksum)
                .bind(migration.compat.as_str())
                .bind(status)
                .bind(execution_ms)
                .bind(app_version)
                .bind(applier_identity())
        };
    }
    match conn {
        MigrationConnection::Postgres(c) => {
            bind_all!(sqlx::query(sql)).execute(c).await?;
        }
        MigrationConnection::Sqlite { conn, .. } => {
            bind_all!(sqlx::query(sql)).execute(conn).await?;
        }
    };
    Ok(())
}

/// Marks a `running` row as applied (after its statements finished, or by `migrate resolve`).
pub async fn mark_applied(
    conn: &mut MigrationConnection,
    version: i64,
    checksum: &str,
    execution_ms: i64,
) -> Result<(), sqlx::Error> {
    match conn {
        MigrationConnection::Postgres(c) => {
            sqlx::query(
                "UPDATE kryton.schema_migrations SET status = 'applied', checksum = $2, execution_ms = $3 \
                 WHERE version = $1",
            )
            .bind(version)
            .bind(checksum)
            .bind(execution_ms)
            .execute(c)
            .await?;
        }
        MigrationConnection::Sqlite { conn, .. } => {
            sqlx::query(
                "UPDATE _kryton_schema_migrations SET status = 'applied', checksum = ?2, execution_ms = ?3 \
                 WHERE version = ?1",
            )
            .bind(version)
            .bind(checksum)
            .bind(execution_ms)
            .execute(conn)
            .await?;
        }
    };
    Ok(())
}

/// Removes a ledger row (`migrate resolve VERSION --rolled-back`).
pub async fn remove(conn: &mut MigrationConnection, version: i64) -> Result<(), sqlx::Error> {
    match conn {
        MigrationConnection::Postgres(c) => {
            sqlx::query("DELETE FROM kryton.schema_migrations WHERE version = $1")
                .bind(version)
                .execute(c)
                .await?;
        }
        MigrationConnection::Sqlite { conn, .. } => {
            sqlx::query("DELETE FROM _kryton_schema_migrations WHERE version = ?")
                .bind(version)
                .execute(conn)
                .await?;
        }
    };
    Ok(())
}

/// Appends to the attempts log. Best effort: a failure here never hides the original error.
pub async fn record_attempt(
    conn: &mut MigrationConnection,
    version: i64,
    event: &str,
    message: &str,
    app_version: &str,
) {
    let result = match conn {
        MigrationConnection::Postgres(c) => sqlx::query(
            "INSERT INTO kryton.migration_attempts (version, event, message, by_version, by_host) \
                 VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(version)
        .bind(event)
        .bind(message)
        .bind(app_version)
        .bind(applier_identity())
        .execute(c)
        .await
        .map(drop),
        MigrationConnection::Sqlite { conn, .. } => sqlx::query(
            "INSERT INTO _kryton_migration_attempts (version, event, message, by_version, by_host) \
                 VALUES (?, ?, ?, ?, ?)",
        )
        .bind(version)
        .bind(event)
        .bind(message)
        .bind(app_version)
        .bind(applier_identity())
        .execute(conn)
        .await
        .map(drop),
    };
    if let Err(error) = result {
        tracing::warn!(%error, version, event, "could not record the migration attempt");
    }
}

/// Runs raw SQL on the migration connection (migration bodies and session settings).
pub async fn execute_raw(conn: &mut MigrationConnection, sql: String) -> Result<(), sqlx::Error> {
    match conn {
        MigrationConnection::Postgres(c) => {
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(c).await?;
        }
        MigrationConnection::Sqlite { conn, .. } => {
            sqlx::raw_sql(AssertSqlSafe(sql)).execute(conn).await?;
        }
    };
    Ok(())
}
