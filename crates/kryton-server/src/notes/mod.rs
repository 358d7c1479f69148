//! Notes: the vault on disk is the truth, the index in the database follows it.
//!
//! Every change writes the file first (atomically, under the vault's cross-process lock) and then
//! re-reads what is on disk into the index, so the index describes the file even when another
//! process wrote in between. A crash between the two is healed by [`reconcile`], which runs at
//! boot and as `kryton reindex`.

mod operations;
pub mod resync;

pub use operations::{Moved, Rewritten, delete_user, finished_user_deletion, recover_all, rename_folder, rename_note};
pub mod query;
pub mod sharing;
pub mod write;

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::Config;
use crate::db::Database;
use crate::error::AppError;
use crate::markdown;
use crate::progress::{Progress, Unit};
use crate::store::notes::{self as index, IndexedNote, LinkRow, TitledLink};
use crate::vault::{Note, NotePath, Vault, VaultError};

/// The vault of one user: `NOTES_DIR/<userId>`.
pub fn vault(config: &Config, user_id: &str) -> Vault {
    Vault::new(config.notes_dir.join(user_id)).with_history_limit(config.history_limit)
}

impl From<VaultError> for AppError {
    fn from(error: VaultError) -> Self {
        match error {
            VaultError::Path(e) => AppError::Validation(e.to_string()),
            VaultError::NotFound(what) => AppError::NotFound(format!("{what} not found")),
            e @ (VaultError::AlreadyExists | VaultError::IntoItself) => AppError::Conflict(e.to_string()),
            VaultError::Conflict { current_hash } => AppError::PreconditionFailed {
                message: "the note was changed since you read it; reload it and apply your change again".to_owned(),
                details: Some(serde_json::json!({ "currentEtag": current_hash })),
            },
            VaultError::NotUtf8 => AppError::Validation("the note is not valid UTF-8".to_owned()),
            VaultError::Io(e) => storage_error(e),
        }
    }
}

/// An I/O error of the notes volume: a full volume is a 507 naming it, anything else a 500.
pub fn storage_error(error: std::io::Error) -> AppError {
    if crate::error::is_out_of_space(&error) {
        tracing::warn!(%error, "the notes volume is full");
        AppError::InsufficientStorage(crate::error::NOTES_VOLUME_FULL.to_owned())
    } else {
        AppError::Internal(VaultError::Io(error).into())
    }
}

/// Runs blocking file-system work off the async threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, VaultError> + Send + 'static,
) -> Result<T, AppError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::Internal(e.into()))?
        .map_err(AppError::from)
}

pub fn millis(time: SystemTime) -> i64 {
    time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// What the index keeps of a note read from disk.
pub fn indexed(note: &Note) -> IndexedNote {
    let parsed = markdown::parse(&note.content, note.path.stem());
    IndexedNote {
        path: note.path.as_str().to_owned(),
        title: parsed.title,
        tags: parsed.tags,
        body: parsed.plain_text,
        content_hash: note.hash.clone(),
        size: note.size as i64,
        mtime_ms: millis(note.modified),
        links: parsed
            .links
            .into_iter()
            .map(|l| LinkRow {
                source_path: note.path.as_str().to_owned(),
                target: l.target,
                heading: l.heading,
                alias: l.alias,
                embed: l.embed,
            })
            .collect(),
    }
}

/// Brings one path of the index in line with the disk after its file changed: indexed if the file
/// exists, dropped if not.
///
/// The file is the note, so once it changed the answer is a success whatever the database does:
/// when the index cannot be updated (an outage, a full data volume) the path is queued and
/// [`resync::run`] re-indexes it within seconds of the database coming back. This therefore
/// returns `Ok` always; the `Result` keeps every caller's `?` unchanged.
pub async fn sync_path(db: &Database, vault: &Vault, user_id: &str, path: &NotePath) -> Result<(), AppError> {
    if let Err(error) = index_path(db, vault, user_id, path).await {
        tracing::warn!(user = user_id, %path, error = ?error,
            "the note changed but its index update failed; queued for re-indexing");
        resync::enqueue(vault, user_id, path);
    }
    Ok(())
}

/// [`sync_path`]'s work, failing when the index cannot be updated. Returns the hash indexed
/// (`None` when the note is gone and its row was dropped).
pub(crate) async fn index_path(
    db: &Database,
    vault: &Vault,
    user_id: &str,
    path: &NotePath,
) -> Result<Option<String>, AppError> {
    let (reader, target) = (vault.clone(), path.clone());
    // Parsing is CPU work proportional to the note: done on the blocking pool with the read.
    match blocking(move || reader.read(&target).map(|note| indexed(&note))).await {
        Ok(note) => {
            index::upsert(db, user_id, &note).await?;
            Ok(Some(note.content_hash))
        }
        Err(AppError::NotFound(_)) => {
            index::remove(db, user_id, path.as_str()).await?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// Gives a new user's empty vault the sample notes (see [`crate::vault::sample`]) and indexes
/// them. Returns the notes written.
pub async fn first_run(db: &Database, config: &Config, user_id: &str) -> Result<Vec<NotePath>, AppError> {
    let vault = vault(config, user_id);
    let writer = vault.clone();
    let today = time::OffsetDateTime::now_utc().date();
    let sample = config.sample_vault;
    let written = blocking(move || writer.init(today, sample)).await?;
    for path in &written {
        sync_path(db, &vault, user_id, path).await?;
    }
    Ok(written)
}

/// Every note path of a user (what link resolution needs); read once per request.
pub async fn paths(db: &Database, user_id: &str) -> Result<Vec<String>, AppError> {
    Ok(index::titles(db, user_id).await?.into_iter().map(|(p, _)| p).collect())
}

/// The first link of each note whose links resolve to `target`, resolved like Obsidian (by path,
/// then by unique file name). Only the links naming the target's file name and the notes with
/// that name are read: a link can resolve to no other note, so the answer is the one a resolver
/// over the whole vault gives, at a cost that follows the target's links, not the vault's size.
pub async fn links_to(db: &Database, user_id: &str, target: &str) -> Result<Vec<TitledLink>, AppError> {
    let key = markdown::note_name_key(target);
    let namesakes = index::notes_named(db, user_id, &key).await?;
    let resolver = markdown::LinkResolver::new(&namesakes);
    let mut links: Vec<TitledLink> = index::links_named(db, user_id, &key)
        .await?
        .into_iter()
        .filter(|l| resolver.resolve(&l.target).is_some_and(|p| p == target))
        .collect();
    // Rows come ordered by source note, so equal sources are neighbours.
    links.dedup_by(|a, b| a.source_path == b.source_path);
    Ok(links)
}

/// What a reconcile changed.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReconcileReport {
    pub added: usize,
    pub updated: usize,
    pub removed: usize,
    pub unchanged: usize,
}

impl ReconcileReport {
    pub fn add(&mut self, other: &ReconcileReport) {
        self.added += other.added;
        self.updated += other.updated;
        self.removed += other.removed;
        self.unchanged += other.unchanged;
    }
    pub fn changed(&self) -> usize {
        self.added + self.updated + self.removed
    }
}

/// Compares one user's vault with the index: size and mtime first, the hash only when they
/// differ, so the cost follows what changed.
pub async fn reconcile(db: &Database, config: &Config, user_id: &str) -> Result<ReconcileReport, AppError> {
    reconcile_with(db, config, user_id, &Progress::hidden("reindex", Unit::Notes)).await
}

/// [`reconcile`], counting each file looked at in `progress` (for `kryton reindex` and restore).
pub async fn reconcile_with(
    db: &Database,
    config: &Config,
    user_id: &str,
    progress: &Progress,
) -> Result<ReconcileReport, AppError> {
    let vault = vault(config, user_id);
    let lister = vault.clone();
    let files = blocking(move || lister.list_notes()).await?;
    progress.add_total(files.len() as u64);
    let known = index::file_states(db, user_id).await?;
    let known: std::collections::HashMap<&str, &index::FileState> =
        known.iter().map(|s| (s.path.as_str(), s)).collect();
    let mut report = ReconcileReport::default();
    let mut on_disk = std::collections::HashSet::new();
    for file in files {
        progress.inc(1);
        on_disk.insert(file.path.as_str().to_owned());
        let state = known.get(file.path.as_str());
        if let Some(state) = state
            && state.size == file.size as i64
            && state.mtime_ms == millis(file.modified)
        {
            report.unchanged += 1;
            continue;
        }
        let (reader, path) = (vault.clone(), file.path.clone());
        // Read and parse on the blocking pool: a boot or `kryton reindex` full of large notes never
        // holds an async worker (the HTTP listener, /healthz) for the length of a parse.
        let note = match blocking(move || reader.read(&path).map(|note| (indexed(&note), note.hash, note.size))).await {
            Ok(note) => note,
            Err(AppError::NotFound(_)) => continue,
            Err(AppError::Validation(reason)) => {
                tracing::warn!(user = user_id, path = %file.path, %reason, "skipping a file the index cannot hold");
                continue;
            }
            Err(e) => return Err(e),
        };
        let (entry, hash, size) = note;
        index::upsert(db, user_id, &entry).await?;
        match state {
            // Only the mtime moved (a touch, a restored tarball): recorded, nothing else changed.
            Some(s) if s.content_hash == hash && s.size == size as i64 => report.unchanged += 1,
            Some(_) => report.updated += 1,
            None => report.added += 1,
        }
    }
    for path in known.keys().filter(|p| !on_disk.contains(**p)) {
        index::remove(db, user_id, path).await?;
        report.removed += 1;
    }
    Ok(report)
}

/// Reconciles every user's vault (at boot, and `kryton reindex`).
pub async fn reconcile_all(db: &Database, config: &Config) -> Result<ReconcileReport, AppError> {
    reconcile_all_with(db, config, &Progress::hidden("reindex", Unit::Notes)).await
}

/// [`reconcile_all`], counting each file looked at in `progress`.
pub async fn reconcile_all_with(
    db: &Database,
    config: &Config,
    progress: &Progress,
) -> Result<ReconcileReport, AppError> {
    let mut total = ReconcileReport::default();
    for user_id in index::user_ids(db).await? {
        total.add(&reconcile_with(db, config, &user_id, progress).await?);
    }
    Ok(total)
}

/// Deletes trash entries older than `TRASH_RETENTION` in every vault; runs in the background.
pub async fn purge_trash(db: &Database, config: &Config) -> Result<usize, AppError> {
    let mut purged = 0;
    for user_id in index::user_ids(db).await? {
        let vault = vault(config, &user_id);
        let retention = config.trash_retention;
        purged += blocking(move || vault.purge_trash(retention, SystemTime::now()))
            .await?
            .len();
    }
    Ok(purged)
}
