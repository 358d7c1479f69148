//! `kryton backup` and `kryton restore`: one self-checking archive of the database and the notes.
//!
//! ```text
//! db/<table>.jsonl   one JSON object per row (column -> value), tables in foreign-key order
//! notes/...          the whole NOTES_DIR tree (history, trash, attachments), file by file
//! manifest.json      written last: format, kryton version and commit, backend, schema version,
//!                    created-at, the tables with row counts, and every part with size and SHA-256
//! ```
//!
//! The rows are dialect-neutral (integers as numbers, booleans as JSON booleans, times as epoch
//! milliseconds or RFC 3339 text), so an archive taken on SQLite restores into PostgreSQL and back.
//! See docs/backups.md for the operator's view.

mod archive;
pub mod pending;
pub mod remote;
pub mod sql;

use std::path::{Path, PathBuf};

use kryton_migrate::{MigrateError, MigrationConnection, MigrationSet};
use serde::{Deserialize, Serialize};
use sqlx::ConnectOptions;

use crate::config::{Config, DatabaseConfig};
use crate::db::{self, Unreachable};
use crate::migrations;
use crate::progress::{Progress, Unit};
use crate::version::BuildInfo;
use sql::Conn;

pub const FORMAT: &str = "kryton-backup";
pub const FORMAT_VERSION: u32 = 1;
pub const MANIFEST: &str = "manifest.json";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Failed(String),
    /// The archive is damaged, altered, truncated or not ours; nothing was written.
    #[error("refusing the archive: {0}; nothing was changed")]
    Corrupt(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Migrate(#[from] MigrateError),
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The archive's table of contents.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub format_version: u32,
    pub kryton_version: String,
    pub kryton_commit: String,
    /// `postgres` or `sqlite`: where it was taken (restores go to either).
    pub backend: String,
    /// The newest migration applied to the database the backup was taken from.
    pub schema_version: i64,
    pub created_at: String,
    /// Every table, in the order a restore loads them (parents before children).
    pub tables: Vec<TableEntry>,
    /// Every entry of the archive except the manifest.
    pub parts: Vec<Part>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableEntry {
    pub name: String,
    pub rows: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    pub path: String,
    #[serde(rename = "type")]
    pub kind: PartKind,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PartKind {
    File,
    Dir,
}

fn utc_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `20260102T030405Z`: sorts by time, safe in file names.
pub fn stamp(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Where `kryton backup` writes when `--out` is not given.
pub fn default_path(config: &Config) -> PathBuf {
    config
        .backup_dir
        .join(format!("kryton-backup-{}.tar.gz", stamp(utc_now())))
}

/// A connection that only reads, separate from the server's pool (the server may be serving).
async fn connect_reader(config: &Config) -> Result<MigrationConnection, BackupError> {
    match &config.database {
        DatabaseConfig::Postgres { .. } => Ok(db::connect_for_migration(config).await?),
        DatabaseConfig::Sqlite { path } => {
            if !path.exists() {
                return Err(BackupError::Failed(format!(
                    "there is no database at {}; nothing to back up",
                    path.display()
                )));
            }
            let conn = sqlx::sqlite::SqliteConnectOptions::new()
                .filename(path)
                .busy_timeout(std::time::Duration::from_secs(10))
                .connect()
                .await?;
            Ok(MigrationConnection::Sqlite {
                conn,
                lock_path: path.with_extension("db.migrate-lock"),
            })
        }
    }
}

fn conn_of(conn: &mut MigrationConnection) -> Conn<'_> {
    match conn {
        MigrationConnection::Postgres(c) => Conn::Pg(c),
        MigrationConnection::Sqlite { conn, .. } => Conn::Lite(conn),
    }
}

/// Writes a backup of the database behind `conn` and of `notes_dir` to `out`.
pub async fn backup_with(
    conn: &mut MigrationConnection,
    notes_dir: &Path,
    out: &Path,
) -> Result<Manifest, BackupError> {
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    // Private: the archive holds password hashes (0700 for a directory we create, 0600 files).
    archive::private_dir_all(&dir).map_err(|e| BackupError::Failed(format!("cannot create {}: {e}", dir.display())))?;
    let created = utc_now();
    let mut conn = conn_of(conn);
    let backend = conn.backend();
    let snapshot = sql::snapshot(&mut conn, &dir).await?;
    let build = BuildInfo::current();
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        format_version: FORMAT_VERSION,
        kryton_version: build.version.to_owned(),
        kryton_commit: build.commit,
        backend: backend.to_owned(),
        schema_version: snapshot.schema_version,
        created_at: rfc3339(created),
        tables: Vec::new(),
        parts: Vec::new(),
    };
    let (out, notes_dir) = (out.to_path_buf(), notes_dir.to_path_buf());
    // Tables and files put in the archive, as they go.
    let progress = Progress::start("backup", Unit::Files, 0);
    let counted = progress.clone();
    let written =
        tokio::task::spawn_blocking(move || archive::write(&out, snapshot.tables, &notes_dir, manifest, &counted))
            .await
            .map_err(|e| BackupError::Failed(format!("the backup task failed: {e}")))??;
    progress.finish();
    Ok(written)
}

/// `kryton backup [--out FILE]`.
pub async fn backup(config: &Config, out: Option<PathBuf>) -> Result<(PathBuf, Manifest), BackupError> {
    let out = out.unwrap_or_else(|| default_path(config));
    let mut conn = connect_reader(config).await?;
    let result = backup_with(&mut conn, &config.notes_dir, &out).await;
    conn.close().await;
    Ok((out, result?))
}

/// Removes partial archives in BACKUP_DIR left by a backup that was killed (at boot and before
/// each backup); never one a live process is still writing.
pub fn sweep_partials(config: &Config) {
    archive::sweep_orphans(&config.backup_dir, &config.backup_dir.join("kryton-.partial"));
}

/// What a restore did.
#[derive(Debug)]
pub struct Restored {
    pub manifest: Manifest,
    pub rows: u64,
    pub files: usize,
    pub head: i64,
    /// Where the previous NOTES_DIR went (with `--force`).
    pub moved_aside: Option<PathBuf>,
}

/// Any regular file below `dir` (a missing directory is empty).
fn has_files(dir: &Path) -> std::io::Result<bool> {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            } else {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

pub(crate) fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "notes".to_owned());
    dir.with_file_name(format!("{name}{suffix}"))
}

/// The fault-injection hook of the crash tests: when `KRYTON_FAULT_POINT` names `point`, the
/// process sends itself `KRYTON_FAULT_SIGNAL` (`KILL`, the default, or `STOP`) there. Inert without
/// the variable.
pub fn fault_point(point: &str) {
    if std::env::var("KRYTON_FAULT_POINT").ok().as_deref() != Some(point) {
        return;
    }
    let signal = match std::env::var("KRYTON_FAULT_SIGNAL").ok().as_deref() {
        Some("STOP") => "STOP",
        _ => "KILL",
    };
    eprintln!("kryton: fault injection: SIG{signal} at {point}");
    let _ = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("kill -{signal} {}", std::process::id()))
        .status();
}

/// `kryton restore FILE [--force]`.
///
/// Nothing in the target changes until the archive and its rows are fully checked:
/// 1. verify the whole archive: structure, sizes, hashes, the manifest's fields and counts;
/// 2. refuse a non-empty target unless `force`;
/// 3. extract into a staging directory beside NOTES_DIR, checking every hash again;
/// 4. check every row (ids that become paths, shapes) and load them all into a scratch SQLite
///    database built at the archive's schema version (unknown tables or columns, wrong types,
///    broken constraints are refused here);
///
/// then, all-or-nothing behind a durable "restore in progress" marker:
/// 5. build the schema up to the archive's version; empty the tables and load the rows in one
///    transaction;
/// 6. put the notes in place (moving an existing tree aside), fsyncing each rename;
/// 7. migrate forward to this binary's head and reindex the notes from the files;
/// 8. remove the marker.
pub async fn restore(config: &Config, file: &Path, source: &str, force: bool) -> Result<Restored, BackupError> {
    let set = migrations::for_config(config).map_err(MigrateError::from)?;
    let head = set.head();
    let pending = pending::read(config)?;

    let path = file.to_path_buf();
    let progress = Progress::start("verify", Unit::Files, 0);
    let counted = progress.clone();
    let manifest = tokio::task::spawn_blocking(move || archive::verify(&path, &counted))
        .await
        .map_err(|e| BackupError::Failed(format!("the verification task failed: {e}")))??;
    progress.finish();
    if manifest.schema_version > head {
        return Err(BackupError::Refused(format!(
            "the backup's schema version {:04} is newer than this binary's head {head:04}; restore it with kryton {} \
             (which took it) or newer",
            manifest.schema_version, manifest.kryton_version
        )));
    }

    // Stage beside NOTES_DIR, so that putting the tree in place is one rename.
    let notes_dir = config.notes_dir.clone();
    let staging = sibling(&notes_dir, ".restoring");
    if staging.exists() {
        std::fs::remove_dir_all(&staging)?; // left by an interrupted restore
    }
    archive::private_dir_all(&staging)?;
    let result = async {
        // Everything about the archive is checked before the target is even read.
        let tables = stage(config, file, &set, &manifest, &staging).await?;
        let notes_in_use = has_files(&notes_dir)?;
        let users_exist = match db::connect_read_only(config).await? {
            Some(mut conn) => {
                let found = sql::has_users(&mut conn_of(&mut conn)).await;
                conn.close().await;
                found?
            }
            None => false,
        };
        if (notes_in_use || users_exist) && !force {
            let what = match (users_exist, notes_in_use) {
                (true, true) => "the database has accounts and NOTES_DIR has files",
                (true, false) => "the database has accounts",
                _ => "NOTES_DIR has files",
            };
            let interrupted = match &pending {
                Some(p) => format!(
                    " (a restore of {} was interrupted: `{}` finishes it)",
                    p.source,
                    pending::finish_command(&p.source)
                ),
                None => String::new(),
            };
            return Err(BackupError::Refused(format!(
                "the target is not empty ({what}){interrupted}; restore into a new installation, or pass --force to replace it \
                 (tables are emptied; NOTES_DIR is moved aside, not deleted)"
            )));
        }

        restore_staged(config, source, &set, &manifest, &staging, tables, notes_in_use, pending).await
    }
    .await;
    if let Err(error) = std::fs::remove_dir_all(&staging)
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, path = %staging.display(), "could not remove the restore's staging directory");
    }
    let (rows, moved_aside) = result?;
    let files = manifest
        .parts
        .iter()
        .filter(|p| p.kind == PartKind::File && p.path.starts_with("notes/"))
        .count();
    Ok(Restored {
        manifest,
        rows,
        files,
        head,
        moved_aside,
    })
}

/// Steps 3 and 4: extraction and every check of the rows; writes only in `staging`.
async fn stage(
    config: &Config,
    file: &Path,
    set: &MigrationSet,
    manifest: &Manifest,
    staging: &Path,
) -> Result<Vec<(String, std::fs::File)>, BackupError> {
    let (path, stage, expected) = (file.to_path_buf(), staging.to_path_buf(), manifest.clone());
    let progress = Progress::start("extract", Unit::Files, manifest.parts.len() as u64);
    let counted = progress.clone();
    let tables = tokio::task::spawn_blocking(move || -> Result<_, BackupError> {
        let mut tables = archive::extract(&path, &stage, &expected, &counted)?;
        sql::check_rows(&mut tables)?;
        Ok(tables)
    })
    .await
    .map_err(|e| BackupError::Failed(format!("the extraction task failed: {e}")))??;
    progress.finish();
    let mut tables = tables;
    dry_run(config, set, manifest.schema_version, staging, &mut tables).await?;
    Ok(tables)
}

/// Loads the rows into a scratch SQLite database built at the archive's schema version, in the
/// staging directory: whatever the target would refuse (an unknown table or column, a wrong type,
/// a broken constraint) is refused here, before the target is touched.
async fn dry_run(
    config: &Config,
    set: &MigrationSet,
    version: i64,
    staging: &Path,
    tables: &mut [(String, std::fs::File)],
) -> Result<(), BackupError> {
    let sqlite = match (&config.migrations_dir, set.dialect) {
        (None, _) => migrations::embedded(kryton_migrate::Dialect::Sqlite).map_err(MigrateError::from)?,
        (Some(_), kryton_migrate::Dialect::Sqlite) => set.clone(),
        (Some(dir), kryton_migrate::Dialect::Postgres) => {
            // Only in tests: a directory of PostgreSQL migrations has no SQLite twin to build from.
            tracing::warn!(dir = %dir.display(), "KRYTON_MIGRATIONS_DIR holds PostgreSQL migrations only: the rows are checked by the target's own transaction");
            return Ok(());
        }
    };
    let upto = MigrationSet {
        dialect: sqlite.dialect,
        migrations: sqlite.migrations.into_iter().filter(|m| m.version <= version).collect(),
    };
    let path = staging.join("verify.db");
    let options = sqlx::sqlite::SqliteConnectOptions::new()
        .filename(&path)
        .create_if_missing(true)
        .foreign_keys(true);
    let mut migrate_options = kryton_migrate::Options::new(crate::version::VERSION);
    migrate_options.backup = None;
    let conn = options.clone().connect().await?;
    kryton_migrate::migrate(
        MigrationConnection::Sqlite {
            conn,
            lock_path: staging.join("verify.db.migrate-lock"),
        },
        &upto,
        &migrate_options,
    )
    .await?;
    let mut conn = options.connect().await?;
    let mut copies = Vec::new();
    for (name, file) in tables.iter_mut() {
        std::io::Seek::rewind(file)?;
        copies.push((name.clone(), file.try_clone()?));
    }
    let loaded = sql::load(&mut Conn::Lite(&mut conn), copies).await;
    let _ = sqlx::Connection::close(conn).await;
    for (_, file) in tables.iter_mut() {
        std::io::Seek::rewind(file)?;
    }
    loaded.map_err(|e| {
        BackupError::Corrupt(format!(
            "the archive's rows do not fit the schema at its version {version:04}: {e}"
        ))
    })?;
    Ok(())
}

fn fsync_parent(path: &Path) -> Result<(), BackupError> {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    Ok(archive::sync_dir(parent)?)
}

#[allow(clippy::too_many_arguments)]
async fn restore_staged(
    config: &Config,
    source: &str,
    set: &MigrationSet,
    manifest: &Manifest,
    staging: &Path,
    tables: Vec<(String, std::fs::File)>,
    notes_in_use: bool,
    interrupted: Option<pending::Pending>,
) -> Result<(u64, Option<PathBuf>), BackupError> {
    // From here on the target changes: first the durable marker, so that a crash at any later
    // point is seen by serve and migrate, which refuse to start on a half-restored target.
    // An interrupted restore's record of where the previous notes went is kept.
    let previous = interrupted.and_then(|p| p.previous_notes).filter(|p| p.exists());
    let mut marker = pending::Pending {
        source: source.to_owned(),
        started_at: rfc3339(utc_now()),
        pid: std::process::id(),
        previous_notes: previous.clone(),
    };
    config
        .prepare_directories()
        .map_err(|e| BackupError::Failed(e.to_string()))?;
    pending::write(config, &marker)?;
    fault_point("restore:marker-written");

    // The schema exactly at the archive's version; a newer target schema is dropped first (there
    // are no down-migrations).
    let version = manifest.schema_version;
    let mut options = migrations::options(config, false);
    // The archive being restored is the backup; the target's old contents were checked empty or
    // explicitly given up with --force.
    options.backup = None;
    let mut conn = db::connect_for_migration(config).await?;
    let ledger = kryton_migrate::ledger::read(&mut conn).await?;
    if ledger.iter().any(|e| e.version > version) {
        tracing::info!(
            target_version = ledger.iter().map(|e| e.version).max().unwrap_or(0),
            backup_version = version,
            "the target's schema is newer than the backup's: dropping it to rebuild at the backup's version"
        );
        sql::drop_everything(&mut conn_of(&mut conn)).await?;
    }
    conn.close().await;
    let upto = MigrationSet {
        dialect: set.dialect,
        migrations: set
            .migrations
            .iter()
            .filter(|m| m.version <= version)
            .cloned()
            .collect(),
    };
    kryton_migrate::migrate(db::connect_for_migration(config).await?, &upto, &options).await?;
    fault_point("restore:schema-built");

    let mut conn = db::connect_for_migration(config).await?;
    let loaded = sql::load(&mut conn_of(&mut conn), tables).await;
    conn.close().await;
    let rows = loaded?.values().sum();
    fault_point("restore:rows-loaded");

    // The notes: the old tree is moved aside (never deleted), the staged one renamed into place.
    let notes_dir = &config.notes_dir;
    let mut moved_aside = None;
    if previous.is_some() {
        // An interrupted restore already moved the original tree aside: what is at NOTES_DIR now
        // came from an archive, and is replaced.
        if notes_dir.exists() {
            let discard = sibling(notes_dir, ".discard");
            if discard.exists() {
                std::fs::remove_dir_all(&discard)?;
            }
            std::fs::rename(notes_dir, &discard)?;
            fsync_parent(notes_dir)?;
            std::fs::remove_dir_all(&discard)?;
        }
        moved_aside = previous;
    } else if notes_in_use {
        let base = format!(".before-restore-{}", stamp(utc_now()));
        let mut aside = sibling(notes_dir, &base);
        for n in 2.. {
            if !aside.exists() {
                break;
            }
            aside = sibling(notes_dir, &format!("{base}-{n}"));
        }
        // Recorded before the rename: a crash right after it still knows where the notes went.
        marker.previous_notes = Some(aside.clone());
        pending::write(config, &marker)?;
        std::fs::rename(notes_dir, &aside).map_err(|e| {
            BackupError::Failed(format!(
                "cannot move {} aside to {}: {e}",
                notes_dir.display(),
                aside.display()
            ))
        })?;
        fsync_parent(notes_dir)?;
        moved_aside = Some(aside);
    } else if notes_dir.exists() {
        std::fs::remove_dir_all(notes_dir)?; // holds directories only (checked above)
        fsync_parent(notes_dir)?;
    }
    fault_point("restore:notes-moved-aside");
    let staged_notes = staging.join("notes");
    if staged_notes.exists() {
        std::fs::rename(&staged_notes, notes_dir).map_err(|e| {
            BackupError::Failed(format!(
                "cannot move the restored notes into {}: {e}",
                notes_dir.display()
            ))
        })?;
        fsync_parent(notes_dir)?;
        fsync_parent(&staged_notes)?;
    } else {
        archive::private_dir_all(notes_dir)?;
    }
    fault_point("restore:notes-in-place");

    // Forward to this binary's head with the normal engine.
    kryton_migrate::migrate(db::connect_for_migration(config).await?, set, &options).await?;
    fault_point("restore:migrated");
    // The files are the truth: whatever the archive's index said, bring it in line with them.
    let pool = db::Database::open(config)
        .await
        .map_err(|e| BackupError::Failed(format!("reindex: {e}")))?;
    let progress = Progress::start("reindex", Unit::Notes, 0);
    let report = crate::notes::reconcile_all_with(&pool, config, &progress).await;
    progress.finish();
    pool.close().await;
    let report = report.map_err(|e| BackupError::Failed(format!("reindex after restore: {e}")))?;
    tracing::info!(
        added = report.added,
        updated = report.updated,
        removed = report.removed,
        "notes index reconciled"
    );
    fault_point("restore:reindexed");
    pending::remove(config)?;
    Ok((rows, moved_aside))
}

/// What a finished `kryton backup` did, for whoever wants to record it (metrics, logs).
#[derive(Clone, Debug)]
pub struct BackupReport {
    /// Where the archive went: a local path or the object's URL.
    pub target: String,
    /// The archive's size in bytes.
    pub bytes: u64,
    /// From the first read of the database to the archive being durable (uploaded, for a URL).
    pub duration: std::time::Duration,
    /// When it finished.
    pub finished_at: std::time::SystemTime,
    pub rows: u64,
    pub files: usize,
}

/// The command-line side: one summary line on success, errors mapped to exit codes.
pub mod command {
    use std::path::{Path, PathBuf};
    use std::time::Instant;

    use crate::boot::BootError;
    use crate::config::Config;

    use super::remote::{Location, Remote};
    use super::{BackupError, BackupReport};

    fn boot_error(error: BackupError) -> BootError {
        match error {
            BackupError::Migrate(e) => BootError::Migrate(e),
            BackupError::Unreachable(e) => BootError::Unreachable(e),
            other => BootError::Other(other.to_string()),
        }
    }

    /// `kryton backup [--out FILE | --out s3://|gs://|az://|file://...] [--retention N]`.
    pub async fn backup(
        config: &Config,
        out: Option<String>,
        retention: Option<usize>,
    ) -> Result<BackupReport, BootError> {
        let started = Instant::now();
        let location = match out.as_deref().and_then(Location::parse) {
            None => {
                let (path, bytes, rows, files) = backup_local(config, out.map(PathBuf::from)).await?;
                return Ok(BackupReport {
                    target: path.display().to_string(),
                    bytes,
                    duration: started.elapsed(),
                    finished_at: std::time::SystemTime::now(),
                    rows,
                    files,
                });
            }
            Some(location) => location.map_err(|e| BootError::Other(format!("backup failed: {e}")))?,
        };
        // The client is built before anything is written, so a configuration mistake costs nothing.
        let remote = Remote::open(location).map_err(|e| BootError::Other(format!("backup failed: {e}")))?;
        // Written locally first (verified, complete), then uploaded; the local copy is removed.
        let (path, bytes, rows, files) = backup_local(config, None).await?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let key = remote.location.key_for(&name);
        let url = remote.location.url_of(&key);
        let uploaded = remote.upload(&path, &key).await;
        let _ = std::fs::remove_file(&path);
        uploaded.map_err(|e| BootError::Other(format!("backup failed: uploading to {url}: {e}")))?;
        println!("uploaded to {url} ({})", crate::progress::bytes(bytes));
        let report = BackupReport {
            target: url,
            bytes,
            duration: started.elapsed(),
            finished_at: std::time::SystemTime::now(),
            rows,
            files,
        };
        if let Some(keep) = retention {
            let deleted = remote
                .prune(&key, keep)
                .await
                .map_err(|e| BootError::Other(format!("backup retention: {e}")))?;
            for old in deleted {
                println!("retention: deleted {old}");
            }
        }
        Ok(report)
    }

    async fn backup_local(config: &Config, out: Option<PathBuf>) -> Result<(PathBuf, u64, u64, usize), BootError> {
        let started = Instant::now();
        let (path, manifest) = super::backup(config, out).await.map_err(|e| match e {
            e @ (BackupError::Migrate(_) | BackupError::Unreachable(_)) => boot_error(e),
            other => BootError::Other(format!("backup failed: {other}")),
        })?;
        let rows: u64 = manifest.tables.iter().map(|t| t.rows).sum();
        let files = manifest
            .parts
            .iter()
            .filter(|p| p.path.starts_with("notes/") && p.sha256.is_some())
            .count();
        let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!(
            "backup written to {} ({} backend, schema {:04}, {rows} rows in {} tables, {files} note files, {}, {} ms)",
            path.display(),
            manifest.backend,
            manifest.schema_version,
            manifest.tables.len(),
            crate::progress::bytes(bytes),
            started.elapsed().as_millis()
        );
        Ok((path, bytes, rows, files))
    }

    /// `kryton restore FILE|s3://...|gs://...|az://...|file://... [--force]`.
    pub async fn restore(config: &Config, file: &str, force: bool) -> Result<(), BootError> {
        let location = match Location::parse(file) {
            None => return restore_local(config, Path::new(file), file, force).await,
            Some(location) => location.map_err(|e| BootError::Other(format!("restore failed: {e}")))?,
        };
        // file:// is read in place: no copy of a local archive.
        if let Some(path) = location.local_path(&location.key) {
            return restore_local(config, &path, file, force).await;
        }
        let remote = Remote::open(location).map_err(|e| BootError::Other(format!("restore failed: {e}")))?;
        super::archive::private_dir_all(&config.backup_dir)
            .map_err(|e| BootError::Other(format!("restore failed: {}: {e}", config.backup_dir.display())))?;
        let key = remote.location.key.clone();
        let name = key
            .rsplit('/')
            .next()
            .filter(|n| !n.is_empty())
            .unwrap_or("download.tar.gz");
        let local = config.backup_dir.join(format!("{name}.download"));
        let downloaded = remote.download(&key, &local).await;
        if let Err(e) = downloaded {
            let _ = std::fs::remove_file(&local);
            return Err(BootError::Other(format!("restore failed: downloading {file}: {e}")));
        }
        let result = restore_local(config, &local, file, force).await;
        let _ = std::fs::remove_file(&local);
        result
    }

    async fn restore_local(config: &Config, file: &Path, source: &str, force: bool) -> Result<(), BootError> {
        let started = Instant::now();
        // Named as the operator gave it, so that the marker's command can be run as printed.
        let source = match Location::parse(source) {
            Some(_) => source.to_owned(),
            None => std::path::absolute(file)
                .unwrap_or_else(|_| file.to_path_buf())
                .display()
                .to_string(),
        };
        let restored = super::restore(config, file, &source, force).await.map_err(|e| {
            // A failure after the target started to change leaves the marker: say how to finish.
            let unfinished = match super::pending::read(config) {
                Ok(Some(p)) => format!(
                    "; the target is half-restored and kryton will not start on it until `{}` succeeds",
                    super::pending::finish_command(&p.source)
                ),
                _ => String::new(),
            };
            match e {
                e @ (BackupError::Migrate(_) | BackupError::Unreachable(_)) if unfinished.is_empty() => boot_error(e),
                other => BootError::Other(format!("restore of {} failed: {other}{unfinished}", file.display())),
            }
        })?;
        if let Some(aside) = &restored.moved_aside {
            println!("the previous notes were moved to {}", aside.display());
        }
        println!(
            "restored {} ({} backup of kryton {}, schema {:04} -> {:04}): {} rows, {} note files, {} ms",
            file.display(),
            restored.manifest.backend,
            restored.manifest.kryton_version,
            restored.manifest.schema_version,
            restored.head,
            restored.rows,
            restored.files,
            started.elapsed().as_millis()
        );
        Ok(())
    }
}
