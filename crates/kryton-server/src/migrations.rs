//! The server's own migrations, embedded at compile time, and the safety backup before
//! destructive ones.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;

use kryton_migrate::{
    BackupHook, Dialect, Migration, MigrationConnection, MigrationSet, Options, ProgressHook, SourceError,
};

use crate::config::{Config, DatabaseConfig};
use crate::progress::{Progress, Unit};
use crate::version::VERSION;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/embedded_migrations.rs"));
}

pub fn dialect_of(config: &Config) -> Dialect {
    match config.database {
        DatabaseConfig::Postgres { .. } => Dialect::Postgres,
        DatabaseConfig::Sqlite { .. } => Dialect::Sqlite,
    }
}

/// The embedded files of one dialect.
pub fn embedded(dialect: Dialect) -> Result<MigrationSet, SourceError> {
    let files = match dialect {
        Dialect::Postgres => embedded::POSTGRES,
        Dialect::Sqlite => embedded::SQLITE,
    };
    MigrationSet::from_files(dialect, files.iter().copied())
}

/// The migrations this process runs: embedded, or from `KRYTON_MIGRATIONS_DIR` in tests.
pub fn for_config(config: &Config) -> Result<MigrationSet, SourceError> {
    let dialect = dialect_of(config);
    match &config.migrations_dir {
        Some(dir) => {
            tracing::warn!(dir = %dir.display(), "KRYTON_MIGRATIONS_DIR is set: using migrations from disk, not the embedded ones");
            MigrationSet::from_dir(dialect, dir)
        }
        None => embedded(dialect),
    }
}

pub fn options(config: &Config, allow_out_of_order: bool) -> Options {
    let mut options = Options::new(VERSION);
    options.lock_wait = config.migration_lock_wait;
    options.lock_timeout = config.migration_lock_timeout;
    options.allow_out_of_order = allow_out_of_order;
    options.backup = config.migration_backup.then(|| {
        Arc::new(PreMigrationBackup {
            dir: config.backup_dir.clone(),
            keep: config.backup_keep,
            notes_dir: config.notes_dir.clone(),
        }) as Arc<dyn BackupHook>
    });
    options.progress = Some(Arc::new(MigrationProgress::default()) as Arc<dyn ProgressHook>);
    options
}

/// Migrations applied, as a bar on a terminal or log lines (see [`crate::progress`]).
#[derive(Default)]
struct MigrationProgress {
    current: std::sync::Mutex<Option<Progress>>,
}

impl ProgressHook for MigrationProgress {
    fn started(&self, pending: usize) {
        if let Ok(mut current) = self.current.lock() {
            *current = Some(Progress::start("migrate", Unit::Migrations, pending as u64));
        }
    }

    fn applied(&self, _migration: &Migration) {
        if let Ok(current) = self.current.lock()
            && let Some(progress) = current.as_ref()
        {
            progress.inc(1);
        }
    }

    fn finished(&self) {
        if let Ok(mut current) = self.current.lock()
            && let Some(progress) = current.take()
        {
            progress.finish();
        }
    }
}

/// A full backup (the `kryton backup` archive: database and notes) taken before a `contract`
/// migration, kept `keep` deep.
struct PreMigrationBackup {
    dir: PathBuf,
    keep: usize,
    notes_dir: PathBuf,
}

const PREFIX: &str = "kryton-pre-migration-";

impl BackupHook for PreMigrationBackup {
    fn backup<'a>(
        &'a self,
        conn: &'a mut MigrationConnection,
        before: &'a Migration,
    ) -> Pin<Box<dyn Future<Output = Result<PathBuf, String>> + Send + 'a>> {
        Box::pin(async move {
            // Durable: the new BACKUP_DIR entry is fsynced into its parent before a backup is written in it.
            crate::vault::fs::create_dirs_durable(&self.dir)
                .map_err(|e| format!("cannot create {}: {e}", self.dir.display()))?;
            let stamp = crate::backup::stamp(time::OffsetDateTime::now_utc());
            let path = self
                .dir
                .join(format!("{PREFIX}{stamp}-before-{:04}.tar.gz", before.version));
            // Read on the migration connection itself: it holds the lock, so nothing migrates
            // underneath, and the snapshot is the schema exactly as it is before the DDL.
            crate::backup::backup_with(conn, &self.notes_dir, &path)
                .await
                .map_err(|e| format!("the backup to {} failed: {e}", path.display()))?;
            prune(&self.dir, self.keep);
            Ok(path)
        })
    }
}

fn prune(dir: &Path, keep: usize) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut backups: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(PREFIX)))
        .filter(|p| !p.to_string_lossy().ends_with(".partial"))
        .collect();
    backups.sort();
    let excess = backups.len().saturating_sub(keep.max(1));
    for old in backups.into_iter().take(excess) {
        if let Err(error) = std::fs::remove_file(&old) {
            tracing::warn!(%error, path = %old.display(), "could not prune an old pre-migration backup");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every version exists in both dialects with the same slug and compat class.
    #[test]
    fn both_dialects_have_the_same_history() {
        let pg = embedded(Dialect::Postgres).unwrap();
        let lite = embedded(Dialect::Sqlite).unwrap();
        let shape = |s: &MigrationSet| {
            s.migrations
                .iter()
                .map(|m| (m.version, m.slug.clone(), m.compat, m.no_transaction))
                .collect::<Vec<_>>()
        };
        let (pg_shape, lite_shape) = (shape(&pg), shape(&lite));
        assert!(!pg_shape.is_empty());
        // SQLite has no CREATE INDEX CONCURRENTLY; a no-transaction file may differ in that flag only.
        let strip = |v: Vec<(i64, String, kryton_migrate::Compat, bool)>| {
            v.into_iter().map(|(a, b, c, _)| (a, b, c)).collect::<Vec<_>>()
        };
        assert_eq!(strip(pg_shape), strip(lite_shape));
        for (i, m) in pg.migrations.iter().enumerate() {
            assert_eq!(m.version, i as i64 + 1, "versions are contiguous from 0001");
        }
    }
}
