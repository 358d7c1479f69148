//! The boot algorithm: lock, re-read the ledger, validate, back up, apply, unlock, close.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::Serialize;

use crate::connection::MigrationConnection;
use crate::error::MigrateError;
use crate::ledger::{self, LedgerEntry, LedgerStatus};
use crate::lock::MigrationLock;
use crate::source::{Compat, Dialect, Migration, MigrationSet};

/// Takes a backup before a `contract` migration runs. Returns where it was written.
pub trait BackupHook: Send + Sync {
    fn backup<'a>(
        &'a self,
        conn: &'a mut MigrationConnection,
        before: &'a Migration,
    ) -> Pin<Box<dyn Future<Output = Result<PathBuf, String>> + Send + 'a>>;
}

/// Told about each migration as it is applied (the server shows a progress bar or log lines).
pub trait ProgressHook: Send + Sync {
    /// `pending` migrations are about to be applied (called only when there is at least one).
    fn started(&self, pending: usize);
    fn applied(&self, migration: &Migration);
    fn finished(&self);
}

/// How the engine behaves; the server fills it from configuration.
#[derive(Clone)]
pub struct Options {
    /// The applying binary's version, stored in the ledger.
    pub app_version: String,
    /// How long to wait for another process's migration before giving up.
    pub lock_wait: Duration,
    /// PostgreSQL `lock_timeout` inside each migration, unless its file says otherwise.
    pub lock_timeout: Duration,
    /// Retries of a migration that hit its lock timeout, before failing.
    pub lock_retries: u32,
    pub allow_out_of_order: bool,
    /// Runs before the first `contract` migration; `None` disables the safety backup.
    pub backup: Option<Arc<dyn BackupHook>>,
    /// Follows the migrations being applied; `None` reports nothing beyond the log lines.
    pub progress: Option<Arc<dyn ProgressHook>>,
}

impl Options {
    pub fn new(app_version: impl Into<String>) -> Self {
        Options {
            app_version: app_version.into(),
            lock_wait: Duration::from_secs(15 * 60),
            lock_timeout: Duration::from_secs(5),
            lock_retries: 3,
            allow_out_of_order: false,
            backup: None,
            progress: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub applied: Vec<AppliedMigration>,
    /// The database is newer than this binary, and every newer migration is `expand`.
    pub compatibility_mode: bool,
    /// Applied versions this binary does not know.
    pub unknown: Vec<LedgerEntry>,
    /// Where the pre-migration backup went, when one was taken.
    pub backup: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AppliedMigration {
    pub version: i64,
    pub slug: String,
    pub duration_ms: u64,
}

/// The outcome of comparing the embedded files with the ledger (pure; no database work).
#[derive(Debug)]
pub struct Assessment<'a> {
    pub pending: Vec<&'a Migration>,
    pub unknown: Vec<LedgerEntry>,
    pub compatibility_mode: bool,
}

/// Decides what may run. Every refusal happens here, before any DDL.
pub fn assess<'a>(
    set: &'a MigrationSet,
    entries: &[LedgerEntry],
    allow_out_of_order: bool,
) -> Result<Assessment<'a>, MigrateError> {
    if let Some(running) = entries.iter().find(|e| e.status == LedgerStatus::Running) {
        return Err(MigrateError::NeedsOperator(format!(
            "migration {:04}_{} (no-transaction) was interrupted or failed part-way, started by {} ({}). \
             Inspect the schema; if its statements all took effect run `kryton migrate resolve {} --applied`, \
             otherwise undo what it created and run `kryton migrate resolve {} --rolled-back`",
            running.version,
            running.slug,
            running.applied_by,
            running.applied_by_version,
            running.version,
            running.version
        )));
    }
    for entry in entries {
        if let Some(file) = set.get(entry.version)
            && file.checksum != entry.checksum
        {
            return Err(MigrateError::ChecksumMismatch {
                file: file.file_name.clone(),
                applied: entry.checksum.clone(),
                embedded: file.checksum.clone(),
            });
        }
    }
    let unknown: Vec<LedgerEntry> = entries
        .iter()
        .filter(|e| set.get(e.version).is_none())
        .cloned()
        .collect();
    let pending: Vec<&Migration> = set
        .migrations
        .iter()
        .filter(|m| !entries.iter().any(|e| e.version == m.version))
        .collect();

    if !unknown.is_empty() {
        if let Some(contract) = unknown.iter().find(|e| e.compat == Compat::Contract) {
            return Err(MigrateError::Refused(format!(
                "the database is newer than this binary: migration {:04}_{} is a `contract` change applied by \
                 kryton {} that this release may not work with. Run kryton {} or newer, or roll back honestly \
                 by restoring the backup taken before that upgrade",
                contract.version, contract.slug, contract.applied_by_version, contract.applied_by_version
            )));
        }
        if let Some(missing) = pending.first() {
            return Err(MigrateError::Refused(format!(
                "the database and this binary have different histories: the database has {} that this binary \
                 does not know, and lacks {} that it does. Run the release that applied them",
                versions(&unknown.iter().map(|e| e.version).collect::<Vec<_>>()),
                missing.file_name
            )));
        }
        return Ok(Assessment {
            pending,
            unknown,
            compatibility_mode: true,
        });
    }

    let newest_applied = entries.iter().map(|e| e.version).max().unwrap_or(0);
    if let Some(late) = pending.iter().find(|m| m.version < newest_applied)
        && !allow_out_of_order
    {
        return Err(MigrateError::Refused(format!(
            "pending migration {} is older than the newest applied one ({newest_applied:04}); it was \
                 probably merged late. Review it, then run `kryton migrate --allow-out-of-order`",
            late.file_name
        )));
    }
    Ok(Assessment {
        pending,
        unknown,
        compatibility_mode: false,
    })
}

fn versions(list: &[i64]) -> String {
    list.iter().map(|v| format!("{v:04}")).collect::<Vec<_>>().join(", ")
}

/// Migrates to the head of `set` on a dedicated connection, which is closed afterwards.
pub async fn migrate(
    mut conn: MigrationConnection,
    set: &MigrationSet,
    options: &Options,
) -> Result<Report, MigrateError> {
    let result = migrate_on(&mut conn, set, options).await;
    conn.close().await;
    result
}

async fn migrate_on(
    conn: &mut MigrationConnection,
    set: &MigrationSet,
    options: &Options,
) -> Result<Report, MigrateError> {
    check_dialect(conn, set)?;
    prepare_session(conn).await?;
    let lock = MigrationLock::acquire(conn, options.lock_wait).await?;
    let result = migrate_locked(conn, set, options).await;
    lock.release(conn).await;
    result
}

fn check_dialect(conn: &MigrationConnection, set: &MigrationSet) -> Result<(), MigrateError> {
    if conn.dialect() != set.dialect {
        return Err(MigrateError::Refused(format!(
            "{} migrations cannot run on a {} database",
            set.dialect.as_str(),
            conn.dialect().as_str()
        )));
    }
    Ok(())
}

/// Role defaults must not kill a long index build: the migration session has no statement timeout.
async fn prepare_session(conn: &mut MigrationConnection) -> Result<(), MigrateError> {
    if conn.dialect() == Dialect::Postgres {
        ledger::execute_raw(conn, "SET statement_timeout = 0".to_owned()).await?;
    }
    Ok(())
}

async fn migrate_locked(
    conn: &mut MigrationConnection,
    set: &MigrationSet,
    options: &Options,
) -> Result<Report, MigrateError> {
    ledger::ensure(conn).await?;
    // Re-read under the lock: a peer may have applied everything while this process waited.
    let entries = ledger::read(conn).await?;
    let assessment = assess(set, &entries, options.allow_out_of_order)?;
    let mut report = Report {
        compatibility_mode: assessment.compatibility_mode,
        unknown: assessment.unknown.clone(),
        ..Report::default()
    };
    if assessment.compatibility_mode {
        tracing::warn!(
            unknown = %versions(&assessment.unknown.iter().map(|e| e.version).collect::<Vec<_>>()),
            "the database is newer than this binary; every newer migration is `expand`, so this release \
             keeps working. Running in compatibility mode: no migration is applied"
        );
        return Ok(report);
    }
    if let (Some(hook), Some(first_contract)) = (
        &options.backup,
        assessment.pending.iter().find(|m| m.compat == Compat::Contract),
    ) {
        let path = hook
            .backup(conn, first_contract)
            .await
            .map_err(MigrateError::BackupFailed)?;
        tracing::info!(path = %path.display(), before = %first_contract.file_name, "pre-migration backup written");
        report.backup = Some(path);
    } else if assessment.pending.iter().any(|m| m.compat == Compat::Contract) {
        tracing::warn!("a destructive (contract) migration is pending and the pre-migration backup is turned off");
    }
    let progress = options.progress.as_ref().filter(|_| !assessment.pending.is_empty());
    if let Some(progress) = progress {
        progress.started(assessment.pending.len());
    }
    for migration in assessment.pending {
        let started = Instant::now();
        if migration.no_transaction {
            apply_without_transaction(conn, migration, options).await?;
        } else {
            apply_in_transaction(conn, migration, options).await?;
        }
        let duration_ms = started.elapsed().as_millis() as u64;
        tracing::info!(version = migration.version, slug = %migration.slug, compat = migration.compat.as_str(),
            duration_ms, "migration applied");
        report.applied.push(AppliedMigration {
            version: migration.version,
            slug: migration.slug.clone(),
            duration_ms,
        });
        if let Some(progress) = progress {
            progress.applied(migration);
        }
    }
    if let Some(progress) = progress {
        progress.finished();
    }
    Ok(report)
}

fn is_lock_timeout(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.code().as_deref() == Some("55P03"))
}

fn millis(d: Duration) -> u128 {
    d.as_millis()
}

async fn apply_in_transaction(
    conn: &mut MigrationConnection,
    migration: &Migration,
    options: &Options,
) -> Result<(), MigrateError> {
    let mut attempt = 0;
    loop {
        let started = Instant::now();
        let result = try_transaction(conn, migration, options, started).await;
        match result {
            Ok(()) => return Ok(()),
            Err(error) if is_lock_timeout(&error) && attempt < options.lock_retries => {
                attempt += 1;
                let pause = Duration::from_millis(500u64 << attempt.min(5)).mul_f64(rand::rng().random_range(0.5..1.5));
                tracing::warn!(
                    version = migration.version,
                    attempt,
                    pause_ms = pause.as_millis() as u64,
                    "migration waited too long for a table lock and was rolled back; retrying"
                );
                ledger::record_attempt(
                    conn,
                    migration.version,
                    "lock-timeout",
                    &error.to_string(),
                    &options.app_version,
                )
                .await;
                tokio::time::sleep(pause).await;
            }
            Err(error) => {
                let message = error.to_string();
                ledger::record_attempt(conn, migration.version, "failed", &message, &options.app_version).await;
                return Err(MigrateError::Failed {
                    file: migration.file_name.clone(),
                    message,
                });
            }
        }
    }
}

async fn try_transaction(
    conn: &mut MigrationConnection,
    migration: &Migration,
    options: &Options,
    started: Instant,
) -> Result<(), sqlx::Error> {
    let begin = match conn.dialect() {
        Dialect::Postgres => "BEGIN",
        // IMMEDIATE takes the write lock up front instead of failing half-way with SQLITE_BUSY.
        Dialect::Sqlite => "BEGIN IMMEDIATE",
    };
    ledger::execute_raw(conn, begin.to_owned()).await?;
    let body = async {
        if conn.dialect() == Dialect::Postgres {
            let lock_timeout = migration.lock_timeout.unwrap_or(options.lock_timeout);
            ledger::execute_raw(conn, format!("SET LOCAL lock_timeout = '{}ms'", millis(lock_timeout))).await?;
            if let Some(statement_timeout) = migration.statement_timeout {
                ledger::execute_raw(
                    conn,
                    format!("SET LOCAL statement_timeout = '{}ms'", millis(statement_timeout)),
                )
                .await?;
            }
        }
        ledger::execute_raw(conn, migration.sql.clone()).await?;
        let ms = started.elapsed().as_millis() as i64;
        ledger::insert(conn, migration, LedgerStatus::Applied, ms, &options.app_version).await?;
        ledger::execute_raw(conn, "COMMIT".to_owned()).await
    };
    let result = body.await;
    if result.is_err()
        && let Err(error) = ledger::execute_raw(conn, "ROLLBACK".to_owned()).await
    {
        tracing::debug!(%error, "rollback after a failed migration");
    }
    result
}

/// No-transaction files (`CREATE INDEX CONCURRENTLY`): a `running` row first, then each statement.
async fn apply_without_transaction(
    conn: &mut MigrationConnection,
    migration: &Migration,
    options: &Options,
) -> Result<(), MigrateError> {
    let started = Instant::now();
    ledger::insert(conn, migration, LedgerStatus::Running, 0, &options.app_version).await?;
    let statements = migration.statements();
    let result: Result<(), (usize, sqlx::Error)> = async {
        if conn.dialect() == Dialect::Postgres {
            let lock_timeout = migration.lock_timeout.unwrap_or(options.lock_timeout);
            ledger::execute_raw(conn, format!("SET lock_timeout = '{}ms'", millis(lock_timeout)))
                .await
                .map_err(|e| (0, e))?;
            if let Some(statement_timeout) = migration.statement_timeout {
                ledger::execute_raw(
                    conn,
                    format!("SET statement_timeout = '{}ms'", millis(statement_timeout)),
                )
                .await
                .map_err(|e| (0, e))?;
            }
        }
        for (index, statement) in statements.iter().enumerate() {
            ledger::execute_raw(conn, (*statement).to_owned())
                .await
                .map_err(|e| (index + 1, e))?;
        }
        Ok(())
    }
    .await;
    if conn.dialect() == Dialect::Postgres {
        ledger::execute_raw(conn, "SET lock_timeout = DEFAULT; SET statement_timeout = 0".to_owned()).await?;
    }
    match result {
        Ok(()) => {
            ledger::mark_applied(
                conn,
                migration.version,
                &migration.checksum,
                started.elapsed().as_millis() as i64,
            )
            .await?;
            Ok(())
        }
        Err((index, error)) => {
            let message = format!("statement {index} of {}: {error}", statements.len());
            ledger::record_attempt(conn, migration.version, "failed", &message, &options.app_version).await;
            Err(MigrateError::NeedsOperator(format!(
                "no-transaction migration {} failed part-way ({message}); earlier statements stay in effect. \
                 Undo or finish them by hand, then run `kryton migrate resolve {} --rolled-back` or `--applied`",
                migration.file_name, migration.version
            )))
        }
    }
}

/// One row of `kryton migrate status`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MigrationState {
    pub version: i64,
    pub slug: String,
    pub compat: Compat,
    /// `applied`, `pending`, `running` or `unknown` (applied, but this binary lacks the file).
    pub state: &'static str,
    pub checksum: String,
    pub checksum_matches: Option<bool>,
    pub applied_at: Option<String>,
    pub applied_by_version: Option<String>,
    pub execution_ms: Option<i64>,
}

/// The whole picture, read without the lock and without writing anything.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    pub backend: Dialect,
    /// The newest migration this binary carries.
    pub binary_head: i64,
    /// The newest applied migration (0 on an empty database).
    pub database_version: i64,
    pub migrations: Vec<MigrationState>,
    pub pending: Vec<i64>,
    pub unknown_to_binary: Vec<i64>,
    pub running: Vec<i64>,
}

pub async fn status(conn: &mut MigrationConnection, set: &MigrationSet) -> Result<Status, MigrateError> {
    check_dialect(conn, set)?;
    let entries = ledger::read(conn).await?;
    Ok(status_of(set, &entries))
}

pub fn status_of(set: &MigrationSet, entries: &[LedgerEntry]) -> Status {
    let mut migrations: Vec<MigrationState> = entries
        .iter()
        .map(|e| {
            let file = set.get(e.version);
            MigrationState {
                version: e.version,
                slug: e.slug.clone(),
                compat: e.compat,
                state: match (e.status, file) {
                    (LedgerStatus::Running, _) => "running",
                    (LedgerStatus::Applied, Some(_)) => "applied",
                    (LedgerStatus::Applied, None) => "unknown",
                },
                checksum: e.checksum.clone(),
                checksum_matches: file.map(|f| f.checksum == e.checksum),
                applied_at: Some(e.applied_at.clone()),
                applied_by_version: Some(e.applied_by_version.clone()),
                execution_ms: Some(e.execution_ms),
            }
        })
        .collect();
    for m in &set.migrations {
        if !entries.iter().any(|e| e.version == m.version) {
            migrations.push(MigrationState {
                version: m.version,
                slug: m.slug.clone(),
                compat: m.compat,
                state: "pending",
                checksum: m.checksum.clone(),
                checksum_matches: None,
                applied_at: None,
                applied_by_version: None,
                execution_ms: None,
            });
        }
    }
    migrations.sort_by_key(|m| m.version);
    let with_state = |state: &str| {
        migrations
            .iter()
            .filter(|m| m.state == state)
            .map(|m| m.version)
            .collect()
    };
    Status {
        backend: set.dialect,
        binary_head: set.head(),
        database_version: entries
            .iter()
            .filter(|e| e.status == LedgerStatus::Applied)
            .map(|e| e.version)
            .max()
            .unwrap_or(0),
        pending: with_state("pending"),
        unknown_to_binary: with_state("unknown"),
        running: with_state("running"),
        migrations,
    }
}

/// What `migrate` would do and whether it is safe; writes nothing.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub status: Status,
    pub would_apply: Vec<i64>,
    pub compatibility_mode: bool,
    /// `None` when migrating would proceed; the refusal otherwise.
    pub refusal: Option<String>,
    pub exit_code: i32,
    pub summary: String,
}

pub async fn plan(
    conn: &mut MigrationConnection,
    set: &MigrationSet,
    allow_out_of_order: bool,
) -> Result<Plan, MigrateError> {
    check_dialect(conn, set)?;
    let entries = ledger::read(conn).await?;
    Ok(plan_of(set, &entries, allow_out_of_order))
}

/// The plan for a given ledger (pure).
pub fn plan_of(set: &MigrationSet, entries: &[LedgerEntry], allow_out_of_order: bool) -> Plan {
    let status = status_of(set, entries);
    match assess(set, entries, allow_out_of_order) {
        Ok(a) => {
            let contract = a.pending.iter().filter(|m| m.compat == Compat::Contract).count();
            let summary = if a.compatibility_mode {
                "the database is newer than this binary and only by `expand` migrations: this binary would boot in \
                 compatibility mode and apply nothing"
                    .to_owned()
            } else if a.pending.is_empty() {
                "up to date: nothing to apply".to_owned()
            } else if contract == 0 {
                format!(
                    "would apply {} migration(s), all `expand`: the previous release keeps working with the result",
                    a.pending.len()
                )
            } else {
                format!(
                    "would apply {} migration(s), {contract} of them `contract`: the previous release may not work \
                     afterwards; a backup is taken first unless turned off",
                    a.pending.len()
                )
            };
            Plan {
                would_apply: a.pending.iter().map(|m| m.version).collect(),
                compatibility_mode: a.compatibility_mode,
                refusal: None,
                exit_code: crate::exit_code::OK,
                summary,
                status,
            }
        }
        Err(refusal) => Plan {
            would_apply: Vec::new(),
            compatibility_mode: false,
            exit_code: refusal.exit_code(),
            summary: format!("migrating would stop: {refusal}"),
            refusal: Some(refusal.to_string()),
            status,
        },
    }
}

/// How an operator settles an interrupted no-transaction migration.
#[derive(Clone, Copy, Debug)]
pub enum Resolution {
    /// Its statements all took effect: record it as applied.
    Applied,
    /// Its effects were undone: forget it, so the next run applies it again.
    RolledBack,
}

pub async fn resolve(
    mut conn: MigrationConnection,
    set: &MigrationSet,
    version: i64,
    resolution: Resolution,
    options: &Options,
) -> Result<(), MigrateError> {
    let result = async {
        check_dialect(&conn, set)?;
        let lock = MigrationLock::acquire(&mut conn, options.lock_wait).await?;
        let result = resolve_locked(&mut conn, set, version, resolution, options).await;
        lock.release(&mut conn).await;
        result
    }
    .await;
    conn.close().await;
    result
}

async fn resolve_locked(
    conn: &mut MigrationConnection,
    set: &MigrationSet,
    version: i64,
    resolution: Resolution,
    options: &Options,
) -> Result<(), MigrateError> {
    let entries = ledger::read(conn).await?;
    let entry = entries.iter().find(|e| e.version == version).ok_or_else(|| {
        MigrateError::Refused(format!("migration {version:04} has no ledger row; nothing to resolve"))
    })?;
    if entry.status != LedgerStatus::Running {
        return Err(MigrateError::Refused(format!(
            "migration {version:04} is already applied; resolve only settles interrupted (running) migrations"
        )));
    }
    match resolution {
        Resolution::Applied => {
            let file = set
                .get(version)
                .ok_or_else(|| MigrateError::Refused(format!("this binary does not carry migration {version:04}")))?;
            ledger::mark_applied(conn, version, &file.checksum, entry.execution_ms).await?;
            ledger::record_attempt(conn, version, "resolved-applied", "", &options.app_version).await;
        }
        Resolution::RolledBack => {
            ledger::remove(conn, version).await?;
            ledger::record_attempt(conn, version, "resolved-rolled-back", "", &options.app_version).await;
        }
    }
    tracing::info!(version, ?resolution, "migration resolved");
    Ok(())
}
