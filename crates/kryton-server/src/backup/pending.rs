//! The "restore in progress" marker: written (durably) before a restore changes anything in the
//! target, removed only after the notes are in place and reindexed. While it exists the database
//! and NOTES_DIR may be half-restored, so `serve`, `migrate` and `reindex` refuse to start and name
//! the command that finishes the restore.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::archive::{private_file, sync_dir};
use super::{BackupError, sibling};
use crate::config::Config;

/// What an interrupted restore left behind.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    /// The archive as the operator named it (a path or an `s3://` URL).
    pub source: String,
    pub started_at: String,
    pub pid: u32,
    /// Where the NOTES_DIR from before the restore is (being) moved, once that step is reached.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_notes: Option<PathBuf>,
}

/// `<NOTES_DIR>.restore-in-progress`, beside NOTES_DIR (like the staging directory).
pub fn path(config: &Config) -> PathBuf {
    sibling(&config.notes_dir, ".restore-in-progress")
}

fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// The marker, if a restore did not finish. An unreadable marker still counts as one.
pub fn read(config: &Config) -> Result<Option<Pending>, BackupError> {
    let path = path(config);
    let text = match std::fs::read(&path) {
        Ok(text) => text,
        // No marker can be where NOTES_DIR's parent is missing or not a directory (the
        // configuration check that follows names that problem).
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Ok(None);
        }
        Err(e) => return Err(BackupError::Failed(format!("cannot read {}: {e}", path.display()))),
    };
    Ok(Some(serde_json::from_slice(&text).unwrap_or_else(|_| Pending {
        source: "<the archive>".to_owned(),
        started_at: "an unknown time".to_owned(),
        pid: 0,
        previous_notes: None,
    })))
}

/// Writes the marker atomically and durably (temporary file, fsync, rename, fsync of the
/// directory): once this returns, a crash at any later point leaves it in place.
pub fn write(config: &Config, pending: &Pending) -> Result<(), BackupError> {
    let path = path(config);
    let temporary = path.with_extension("tmp");
    let text = serde_json::to_vec_pretty(pending).map_err(|e| BackupError::Failed(e.to_string()))?;
    let result = (|| -> std::io::Result<()> {
        let mut file = private_file(&temporary)?;
        file.write_all(&text)?;
        file.sync_all()?;
        std::fs::rename(&temporary, &path)?;
        sync_dir(parent(&path))
    })();
    result.map_err(|e| BackupError::Failed(format!("cannot write the restore marker {}: {e}", path.display())))
}

/// Removes the marker durably: the restore is whole.
pub fn remove(config: &Config) -> Result<(), BackupError> {
    let path = path(config);
    let result = std::fs::remove_file(&path).and_then(|()| sync_dir(parent(&path)));
    result.map_err(|e| BackupError::Failed(format!("cannot remove the restore marker {}: {e}", path.display())))
}

/// The command that finishes an interrupted restore of `source`.
pub fn finish_command(source: &str) -> String {
    format!("kryton restore --force {source}")
}

/// `Err` with the operator's instructions while a restore is unfinished (for serve, migrate and
/// reindex, before they touch anything).
pub fn refuse_if_pending(config: &Config) -> Result<(), String> {
    let pending = match read(config) {
        Ok(None) => return Ok(()),
        Ok(Some(pending)) => pending,
        Err(e) => return Err(e.to_string()),
    };
    let kept = match &pending.previous_notes {
        Some(previous) if previous.exists() => {
            format!("; the notes from before the restore are kept in {}", previous.display())
        }
        _ => String::new(),
    };
    Err(format!(
        "a restore of {} started at {} did not finish ({} exists): the database and NOTES_DIR may be \
         half-restored, so kryton will not start on them. Run `{}` to finish it (it verifies the archive \
         and restores it again from the start){kept}",
        pending.source,
        pending.started_at,
        path(config).display(),
        finish_command(&pending.source),
    ))
}
