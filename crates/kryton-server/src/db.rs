//! The database: one connection for migrating, then the application pool, on either backend.

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use kryton_migrate::MigrationConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{ConnectOptions, PgPool, SqlitePool};

use crate::config::{Config, DatabaseConfig};
use crate::version::VERSION;

/// How long a single SQLite statement waits for a peer's write lock.
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request waits for a pooled connection before `/readyz` or an API call gives up.
const POOL_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// Opens a transaction that will write. On SQLite it begins `IMMEDIATE`: the write lock is taken
/// up front and waited for (up to the busy timeout), instead of a deferred transaction failing
/// with "database is locked" when it tries to upgrade its read lock while a peer writes. Decisions
/// that read rows and then write (first admin, invite use, last admin, key count) are therefore
/// serialised on SQLite; on PostgreSQL the callers add a row or advisory lock.
pub trait BeginWrite {
    type Db: sqlx::Database;
    fn begin_write(&self) -> impl Future<Output = Result<sqlx::Transaction<'static, Self::Db>, sqlx::Error>> + Send;
}

impl BeginWrite for PgPool {
    type Db = sqlx::Postgres;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error>> + Send {
        self.begin()
    }
}

impl BeginWrite for SqlitePool {
    type Db = sqlx::Sqlite;
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error>> + Send {
        self.begin_with("BEGIN IMMEDIATE")
    }
}

/// The application's connection pool.
#[derive(Clone, Debug)]
pub enum Database {
    Postgres(PgPool),
    Sqlite(SqlitePool),
}

#[derive(Debug, thiserror::Error)]
#[error("database {target} not reachable after {waited}s: {last_error}")]
pub struct Unreachable {
    pub target: String,
    pub waited: u64,
    pub last_error: String,
}

/// Every session pins `synchronous_commit=on`: a 2xx is sent only after the commit is on disk,
/// even when the server (or the database, or the role) is configured with `off` or `local`.
fn postgres_options(url: &str, role: &str) -> Result<PgConnectOptions, sqlx::Error> {
    let host = crate::hostname();
    Ok(PgConnectOptions::from_str(url)?
        .application_name(&format!("kryton-{role}/{VERSION}/{host}/{}", std::process::id()))
        .options([("synchronous_commit", "on")]))
}

/// WAL with `synchronous=FULL`: every commit fsyncs the WAL before it returns, so an answered
/// write survives a power cut (`NORMAL` only syncs at checkpoints and loses recent commits).
fn sqlite_options(path: &std::path::Path) -> SqliteConnectOptions {
    SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
}

/// Opens the dedicated migration connection, retrying until `DB_CONNECT_TIMEOUT` has passed.
pub async fn connect_for_migration(config: &Config) -> Result<MigrationConnection, Unreachable> {
    let started = Instant::now();
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = match &config.database {
            DatabaseConfig::Postgres { url, .. } => match postgres_options(url, "migrate") {
                Ok(options) => attempt_with_timeout(options.connect())
                    .await
                    .map(MigrationConnection::Postgres),
                Err(e) => Err(e.to_string()),
            },
            DatabaseConfig::Sqlite { path } => {
                let lock_path = path.with_extension("db.migrate-lock");
                attempt_with_timeout(sqlite_options(path).connect())
                    .await
                    .map(|conn| MigrationConnection::Sqlite { conn, lock_path })
            }
        };
        match result {
            Ok(conn) => return Ok(conn),
            Err(error) => {
                let waited = started.elapsed();
                if waited >= config.db_connect_timeout {
                    return Err(Unreachable {
                        target: config.database.redacted(),
                        waited: waited.as_secs(),
                        last_error: error,
                    });
                }
                let pause = Duration::from_millis(250u64 << attempt.min(4)).min(config.db_connect_timeout - waited);
                tracing::warn!(attempt, %error, retry_in_ms = pause.as_millis() as u64,
                    database = %config.database.redacted(), "database not reachable yet");
                tokio::time::sleep(pause).await;
            }
        }
    }
}

async fn attempt_with_timeout<T>(
    connect: impl std::future::Future<Output = Result<T, sqlx::Error>>,
) -> Result<T, String> {
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("connection attempt timed out after 5s".to_owned()),
    }
}

/// A connection for `migrate status` and `migrate plan`, which must write nothing: SQLite is
/// opened read-only, and a database file that does not exist yet is reported as `None` (empty).
pub async fn connect_read_only(config: &Config) -> Result<Option<MigrationConnection>, Unreachable> {
    match &config.database {
        DatabaseConfig::Sqlite { path } if !path.exists() => Ok(None),
        DatabaseConfig::Sqlite { path } => attempt_with_timeout(sqlite_options(path).read_only(true).connect())
            .await
            .map(|conn| {
                Some(MigrationConnection::Sqlite {
                    conn,
                    lock_path: path.with_extension("db.migrate-lock"),
                })
            })
            .map_err(|last_error| Unreachable {
                target: config.database.redacted(),
                waited: 0,
                last_error,
            }),
        DatabaseConfig::Postgres { .. } => connect_for_migration(config).await.map(Some),
    }
}

impl Database {
    /// Opens the pool, after migrations have run.
    pub async fn open(config: &Config) -> Result<Self, sqlx::Error> {
        Ok(match &config.database {
            DatabaseConfig::Postgres { url, .. } => Database::Postgres(
                PgPoolOptions::new()
                    .max_connections(config.db_pool_max)
                    .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
                    .connect_with(postgres_options(url, "server")?)
                    .await?,
            ),
            DatabaseConfig::Sqlite { path } => Database::Sqlite(
                SqlitePoolOptions::new()
                    .max_connections(config.db_pool_max)
                    .acquire_timeout(POOL_ACQUIRE_TIMEOUT)
                    .connect_with(sqlite_options(path))
                    .await?,
            ),
        })
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Database::Postgres(_) => "postgres",
            Database::Sqlite(_) => "sqlite",
        }
    }

    /// The newest applied migration: proves the database answers and says which schema it has.
    pub async fn schema_version(&self) -> Result<i64, sqlx::Error> {
        match self {
            Database::Postgres(pool) => {
                sqlx::query_scalar(
                    "SELECT coalesce(max(version), 0)::bigint FROM kryton.schema_migrations WHERE status = 'applied'",
                )
                .fetch_one(pool)
                .await
            }
            Database::Sqlite(pool) => {
                sqlx::query_scalar(
                    "SELECT coalesce(max(version), 0) FROM _kryton_schema_migrations WHERE status = 'applied'",
                )
                .fetch_one(pool)
                .await
            }
        }
    }

    pub async fn close(&self) {
        match self {
            Database::Postgres(pool) => pool.close().await,
            Database::Sqlite(pool) => pool.close().await,
        }
    }
}
