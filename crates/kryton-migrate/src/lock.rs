//! The migration lock: one migrating process at a time, however many replicas boot.
//!
//! PostgreSQL: a session advisory lock taken with `pg_try_advisory_lock`, polled with jittered
//! backoff. Never the blocking `pg_advisory_lock`: a waiter blocked inside it holds a snapshot and
//! deadlocks a peer's `CREATE INDEX CONCURRENTLY`. SQLite: an OS file lock beside the database.

use std::fs::{File, OpenOptions, TryLockError};
use std::time::{Duration, Instant};

use rand::Rng;

use crate::connection::MigrationConnection;
use crate::error::MigrateError;

/// The advisory lock key: the bytes of "KrytonM1".
pub const ADVISORY_KEY: i64 = 0x4b72_7974_6f6e_4d31;

/// How often a waiting process says who holds the lock.
const REPORT_EVERY: Duration = Duration::from_secs(10);

/// Proof that the lock is held; release it with [`MigrationLock::release`].
pub struct MigrationLock {
    /// Held open for SQLite; the OS releases the lock when it is closed.
    file: Option<File>,
}

impl MigrationLock {
    /// Polls for the lock until `wait` has passed.
    pub async fn acquire(conn: &mut MigrationConnection, wait: Duration) -> Result<Self, MigrateError> {
        if let MigrationConnection::Postgres(c) = conn {
            watch_for_a_vanished_client(c).await;
        }
        let started = Instant::now();
        let mut last_report = Instant::now();
        let mut attempt: u32 = 0;
        let sqlite_file = match conn {
            MigrationConnection::Sqlite { lock_path, .. } => Some(
                OpenOptions::new()
                    .create(true)
                    .truncate(false)
                    .write(true)
                    .open(&*lock_path)
                    .map_err(|e| MigrateError::Lock(format!("cannot open {}: {e}", lock_path.display())))?,
            ),
            MigrationConnection::Postgres(_) => None,
        };
        loop {
            let acquired = match (&mut *conn, &sqlite_file) {
                (MigrationConnection::Postgres(c), _) => {
                    sqlx::query_scalar::<_, bool>("SELECT pg_try_advisory_lock($1)")
                        .bind(ADVISORY_KEY)
                        .fetch_one(c)
                        .await
                        .map_err(MigrateError::Database)?
                }
                (MigrationConnection::Sqlite { lock_path, .. }, Some(file)) => match file.try_lock() {
                    Ok(()) => true,
                    Err(TryLockError::WouldBlock) => false,
                    Err(TryLockError::Error(e)) => {
                        return Err(MigrateError::Lock(format!("cannot lock {}: {e}", lock_path.display())));
                    }
                },
                (MigrationConnection::Sqlite { .. }, None) => false,
            };
            if acquired {
                if attempt > 0 {
                    tracing::info!(
                        waited_ms = started.elapsed().as_millis() as u64,
                        "migration lock acquired"
                    );
                }
                return Ok(MigrationLock { file: sqlite_file });
            }
            if started.elapsed() >= wait {
                let holder = holder(conn).await;
                return Err(MigrateError::LockWaitExceeded {
                    waited: started.elapsed(),
                    holder,
                });
            }
            if last_report.elapsed() >= REPORT_EVERY || attempt == 0 {
                let holder = holder(conn).await;
                tracing::info!(%holder, waited_s = started.elapsed().as_secs(), "waiting for the migration lock");
                last_report = Instant::now();
            }
            attempt = attempt.saturating_add(1);
            tokio::time::sleep(backoff(attempt)).await;
        }
    }

    /// Releases the lock. The caller then closes the connection, which also releases it.
    pub async fn release(self, conn: &mut MigrationConnection) {
        if let MigrationConnection::Postgres(c) = conn
            && let Err(error) = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(ADVISORY_KEY)
                .execute(c)
                .await
        {
            tracing::warn!(%error, "could not release the migration lock; closing the connection releases it");
        }
        drop(self.file);
    }
}

/// Asks PostgreSQL to notice quickly when this process is gone (killed, its host lost), so that
/// the session ends and the migration lock is released in seconds rather than when the running
/// statement finishes: `client_connection_check_interval` (PostgreSQL 14+) polls the socket while
/// a statement runs, and short TCP keepalives catch a peer that vanished without closing it.
/// Settings the server does not know are skipped with a debug line.
async fn watch_for_a_vanished_client(conn: &mut sqlx::PgConnection) {
    for setting in [
        "SET client_connection_check_interval = '1s'",
        "SET tcp_keepalives_idle = 5",
        "SET tcp_keepalives_interval = 2",
        "SET tcp_keepalives_count = 3",
    ] {
        if let Err(error) = sqlx::query(setting).execute(&mut *conn).await {
            tracing::debug!(%error, setting, "PostgreSQL did not accept a liveness setting");
        }
    }
}

/// 50 ms doubling up to 2 s, with ±50 % jitter so that replicas do not poll in step.
fn backoff(attempt: u32) -> Duration {
    let base = 50u64.saturating_mul(1u64 << attempt.min(6)).min(2_000);
    let jitter = rand::rng().random_range(0.5..1.5);
    Duration::from_millis((base as f64 * jitter) as u64)
}

/// Describes who holds the lock, for the log line a waiting process prints.
async fn holder(conn: &mut MigrationConnection) -> String {
    match conn {
        MigrationConnection::Postgres(c) => {
            let row = sqlx::query_as::<_, (i32, String, String)>(
                "SELECT a.pid, coalesce(a.application_name, ''), coalesce(a.client_addr::text, 'local socket') \
                 FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid \
                 WHERE l.locktype = 'advisory' AND l.granted \
                   AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.objsubid = 1",
            )
            .bind((ADVISORY_KEY >> 32) & 0xffff_ffff)
            .bind(ADVISORY_KEY & 0xffff_ffff)
            .fetch_optional(c)
            .await;
            match row {
                Ok(Some((pid, app, addr))) => format!("backend pid {pid} ({app}) from {addr}"),
                Ok(None) => "nobody any more".to_owned(),
                Err(e) => format!("unknown ({e})"),
            }
        }
        MigrationConnection::Sqlite { lock_path, .. } => {
            format!("another process holding {}", lock_path.display())
        }
    }
}
