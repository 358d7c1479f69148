//! Multi-step vault operations that always end whole, through an intent journal.
//!
//! A rename with link rewrites, a folder move, a move to the trash, a restore from it and a
//! deletion for good each take several renames and writes. Before the first of them, the whole
//! plan (an [`Intent`]: paths, the notes whose links to rewrite, the trash slot) is written
//! durably to `<root>/.kryton-journal.json`; then every step runs in a form that can run again
//! (a rename is skipped when it already happened, a link rewrite finds nothing left to rewrite);
//! then the record moves to the journal's short list of finished operations with its outcome.
//!
//! Whoever takes the vault lock next (a request, another replica, or boot before the listener
//! opens) first finishes a pending record, so a crash at any point leaves either the operation
//! not begun or, once the record is durable, the operation done. The list of finished operations
//! lets a retried request (the client saw its connection drop) answer with the finished result
//! instead of a 404.
//!
//! The journal is a file in the vault, not a database row: the steps are file-system steps under
//! the vault's own lock, the record must be readable when the database is not (boot before the
//! pool, `reindex`, a restore), and it travels with the vault in backups.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use super::{
    EntryKind, Result, TRASH_DIR, TRASH_INDEX, TrashEntry, TrashRecord, Vault, VaultError, VaultLock,
    conflict_if_in_the_way, exists, is_dir, is_file, is_note_name, now_ms, remove_dir_all_durable,
    remove_empty_parents, remove_file_durable, rename_durable, sync_dir, with_suffix, write_atomic,
};
use crate::markdown;
use crate::vault::path::{FilePath, FolderPath, NotePath, resolve_checked};

/// The journal file at the vault's root (hidden like every dot-entry).
pub const JOURNAL_FILE: &str = ".kryton-journal.json";
/// Finished operations kept for retried requests.
const FINISHED_KEPT: usize = 64;

/// One multi-step operation, planned completely before its first step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case", rename_all_fields = "camelCase")]
pub enum Intent {
    /// Move a note (and its history) and rewrite the links in `sources` that named it.
    RenameNote {
        from: String,
        to: String,
        sources: Vec<String>,
    },
    /// Move a folder, the history of each note in `moves`, and rewrite the links in `sources`.
    RenameFolder {
        from: String,
        to: String,
        moves: Vec<(String, String)>,
        sources: Vec<String>,
    },
    /// Move a note or folder at `path` into the trash as `slot`.
    Trash {
        path: String,
        kind: EntryKind,
        slot: String,
        deleted_at: u64,
        notes: Vec<String>,
    },
    /// Move the trash item `trashPath` back to `target`.
    RestoreFromTrash {
        trash_path: String,
        target: String,
        kind: EntryKind,
    },
    /// Delete the trash item `trashPath` for good.
    DeleteForever {
        trash_path: String,
        original_path: String,
        deleted_at: u64,
        kind: EntryKind,
    },
}

impl Intent {
    fn name(&self) -> &'static str {
        match self {
            Intent::RenameNote { .. } => "rename-note",
            Intent::RenameFolder { .. } => "rename-folder",
            Intent::Trash { .. } => "trash",
            Intent::RestoreFromTrash { .. } => "restore-from-trash",
            Intent::DeleteForever { .. } => "delete-forever",
        }
    }
}

/// What a finished operation did: enough to answer its request again and to update the index.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Where the item is now: the note or folder path, or the trash path.
    pub path: String,
    /// Notes that moved, as (old, new).
    pub moved: Vec<(String, String)>,
    /// Notes whose links were rewritten, with how many links each.
    pub rewritten: Vec<(String, usize)>,
    /// Notes that appeared (a restore) or went (a move to the trash).
    pub notes: Vec<String>,
    /// The trash item created or deleted.
    pub trash: Option<TrashEntry>,
    /// Whether the item restored from the trash is a note or a folder.
    pub kind: Option<EntryKind>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Finished {
    intent: Intent,
    finished_at: u64,
    outcome: Outcome,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Journal {
    version: u32,
    pending: Option<Intent>,
    #[serde(default)]
    finished: Vec<Finished>,
}

/// What boot found and repaired in one vault.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Recovery {
    /// The operation a crash had interrupted, now finished (or dropped when it could not be).
    pub finished: Option<String>,
    /// Temp files of interrupted writes, removed.
    pub temp_files_removed: usize,
}

impl Vault {
    fn journal_path(&self) -> std::path::PathBuf {
        self.root.join(JOURNAL_FILE)
    }

    fn load_journal(&self) -> Result<Journal> {
        match fs::read(self.journal_path()) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                // A journal we cannot read must stop writes rather than be silently dropped: the
                // operation it holds would be left half done.
                VaultError::Io(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("unreadable {JOURNAL_FILE}: {e}"),
                ))
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Journal::default()),
            Err(e) => Err(e.into()),
        }
    }

    fn save_journal(&self, journal: &Journal) -> Result<()> {
        let json = serde_json::to_vec_pretty(journal).map_err(io::Error::other)?;
        write_atomic(&self.journal_path(), &json)?;
        Ok(())
    }

    /// Takes the lock, then finishes whatever a crashed holder left pending.
    pub(super) fn lock_and_finish(&self) -> Result<VaultLock> {
        let lock = self.raw_lock()?;
        self.finish_pending()?;
        Ok(lock)
    }

    /// Finishes a pending operation; the lock is held. An operation that can no longer be
    /// finished (its item is gone) is dropped with a warning; an I/O error stays pending.
    fn finish_pending(&self) -> Result<Option<String>> {
        let journal = self.load_journal()?;
        let Some(intent) = journal.pending.clone() else {
            return Ok(None);
        };
        let name = intent.name().to_owned();
        tracing::warn!(vault = %self.root.display(), operation = %name, "finishing an operation interrupted by a crash");
        match self.run(&intent) {
            Ok(outcome) => self.record_finished(journal, intent, outcome)?,
            Err(VaultError::Io(e)) => return Err(VaultError::Io(e)),
            Err(error) => {
                tracing::warn!(vault = %self.root.display(), operation = %name, %error,
                    "an interrupted operation cannot be finished; dropping it");
                let mut journal = journal;
                journal.pending = None;
                self.save_journal(&journal)?;
            }
        }
        Ok(Some(name))
    }

    fn record_finished(&self, mut journal: Journal, intent: Intent, outcome: Outcome) -> Result<()> {
        journal.version = 1;
        journal.pending = None;
        journal.finished.push(Finished {
            intent,
            finished_at: now_ms(SystemTime::now()),
            outcome,
        });
        let excess = journal.finished.len().saturating_sub(FINISHED_KEPT);
        journal.finished.drain(..excess);
        self.save_journal(&journal)
    }

    /// Records `intent` durably, runs it, records it finished. The lock is held.
    fn execute(&self, intent: Intent) -> Result<Outcome> {
        let mut journal = self.load_journal()?;
        journal.version = 1;
        journal.pending = Some(intent.clone());
        self.save_journal(&journal)?;
        match self.run(&intent) {
            Ok(outcome) => {
                self.record_finished(journal, intent, outcome.clone())?;
                Ok(outcome)
            }
            // Left pending: the next holder of the lock (or boot) tries again.
            Err(VaultError::Io(e)) => Err(VaultError::Io(e)),
            Err(error) => {
                journal.pending = None;
                self.save_journal(&journal)?;
                Err(error)
            }
        }
    }

    /// The newest finished operation that `wanted` accepts, for answering a retried request.
    pub fn finished(&self, wanted: impl Fn(&Intent) -> bool) -> Result<Option<(Intent, Outcome)>> {
        let journal = self.load_journal()?;
        Ok(journal
            .finished
            .into_iter()
            .rev()
            .find(|f| wanted(&f.intent))
            .map(|f| (f.intent, f.outcome)))
    }

    /// Boot's repair of one vault, under its lock: finishes an interrupted operation and removes
    /// the temp files of interrupted writes.
    pub fn recover(&self) -> Result<Recovery> {
        let _lock = self.raw_lock()?;
        let finished = self.finish_pending()?;
        self.finish_emptying_trash()?;
        let temp_files_removed = sweep_temp_files(&self.root)?;
        Ok(Recovery {
            finished,
            temp_files_removed,
        })
    }

    // ---- the operations ----

    /// Renames a note, carries its history, and rewrites the links in `sources` (the notes that
    /// link to it, as the caller's index knows them; the list is frozen in the record).
    pub fn rename_note(&self, from: &NotePath, to: &NotePath, sources: &[String]) -> Result<Outcome> {
        let _crash = crate::crash::operation("rename-note");
        let _lock = self.lock_and_finish()?;
        let src = from.resolve(&self.root)?;
        if !is_file(&src)? {
            return Err(VaultError::NotFound("note"));
        }
        if exists(&to.resolve(&self.root)?)? {
            return Err(VaultError::AlreadyExists);
        }
        self.execute(Intent::RenameNote {
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
            sources: sources.to_vec(),
        })
    }

    /// Moves a folder with everything in it and the notes' history, and rewrites the links in
    /// `sources` that named a moved note.
    pub fn move_folder(&self, from: &FolderPath, to: &FolderPath, sources: &[String]) -> Result<Outcome> {
        if from.contains(to.as_str()) {
            return Err(VaultError::IntoItself);
        }
        let _crash = crate::crash::operation("rename-folder");
        let _lock = self.lock_and_finish()?;
        let src = from.resolve(&self.root)?;
        if !is_dir(&src)? {
            return Err(VaultError::NotFound("folder"));
        }
        if exists(&to.resolve(&self.root)?)? {
            return Err(VaultError::AlreadyExists);
        }
        let mut moves = Vec::new();
        for note in self.notes_under(&src, from.as_str())? {
            if let Some(new) = note.path.rebase(from, to) {
                moves.push((note.path.as_str().to_owned(), new.as_str().to_owned()));
            }
        }
        moves.sort();
        self.execute(Intent::RenameFolder {
            from: from.as_str().to_owned(),
            to: to.as_str().to_owned(),
            moves,
            sources: sources.to_vec(),
        })
    }

    /// Moves a note or folder into the trash under a free name.
    pub(super) fn trash_item(&self, path: &str, kind: EntryKind) -> Result<Outcome> {
        let _crash = crate::crash::operation("trash");
        let _lock = self.lock_and_finish()?;
        let source = match kind {
            EntryKind::File => {
                let file = self.trash_target(kind, path)?;
                if !is_file(&file)? {
                    return Err(VaultError::NotFound(if is_note_name(path) { "note" } else { "file" }));
                }
                file
            }
            EntryKind::Folder => {
                let dir = FolderPath::parse(path)?.resolve(&self.root)?;
                if !is_dir(&dir)? {
                    return Err(VaultError::NotFound("folder"));
                }
                dir
            }
        };
        let notes = match kind {
            EntryKind::File if is_note_name(path) => vec![path.to_owned()],
            EntryKind::File => Vec::new(),
            EntryKind::Folder => {
                let mut notes: Vec<String> = self
                    .notes_under(&source, path)?
                    .into_iter()
                    .map(|n| n.path.as_str().to_owned())
                    .collect();
                notes.sort();
                notes
            }
        };
        let slot = self.free_trash_slot(path, kind)?;
        self.execute(Intent::Trash {
            path: path.to_owned(),
            kind,
            slot,
            deleted_at: now_ms(SystemTime::now()),
            notes,
        })
    }

    /// Puts a trash item back at its original path, or at `Name (restored N)` beside it. A retry
    /// of a restore that already finished (the client lost the answer to a crash) answers the
    /// finished result.
    pub(super) fn restore_item(&self, trash_path: &str) -> Result<Outcome> {
        let _crash = crate::crash::operation("restore-from-trash");
        let _lock = self.lock_and_finish()?;
        let entry = match self.find_trash_entry(trash_path) {
            Err(VaultError::NotFound(what)) => {
                let wanted = trash_path.strip_suffix('/').unwrap_or(trash_path);
                let replay = self
                    .finished(|i| matches!(i, Intent::RestoreFromTrash { trash_path, .. } if trash_path == wanted))?;
                return match replay {
                    Some((Intent::RestoreFromTrash { target, kind, .. }, outcome))
                        if exists(&self.trash_target(kind, &target)?)? =>
                    {
                        Ok(outcome)
                    }
                    _ => Err(VaultError::NotFound(what)),
                };
            }
            other => other?,
        };
        let mut n = 0;
        let target = loop {
            let candidate = if n == 0 {
                entry.original_path.clone()
            } else {
                with_suffix(&entry.original_path, entry.kind, &format!(" (restored {n})"))
            };
            let resolved = self.trash_target(entry.kind, &candidate)?;
            if !exists(&resolved)? {
                break candidate;
            }
            n += 1;
        };
        self.execute(Intent::RestoreFromTrash {
            trash_path: entry.trash_path,
            target,
            kind: entry.kind,
        })
    }

    /// Where a trash item of `kind` goes back to: a note, an attachment or a folder.
    fn trash_target(&self, kind: EntryKind, target: &str) -> Result<std::path::PathBuf> {
        Ok(match kind {
            EntryKind::File if is_note_name(target) => NotePath::parse(target)?.resolve(&self.root)?,
            EntryKind::File => FilePath::parse(target)?.resolve(&self.root)?,
            EntryKind::Folder => FolderPath::parse(target)?.resolve(&self.root)?,
        })
    }

    /// Deletes one trash item for good.
    pub(super) fn delete_item_forever(&self, trash_path: &str) -> Result<Outcome> {
        let _crash = crate::crash::operation("delete-forever");
        let _lock = self.lock_and_finish()?;
        let entry = match self.find_trash_entry(trash_path) {
            // A retry of a deletion that finished (its answer lost to a crash) answers its result.
            Err(VaultError::NotFound(what)) => {
                let wanted = trash_path.strip_suffix('/').unwrap_or(trash_path);
                let replay =
                    self.finished(|i| matches!(i, Intent::DeleteForever { trash_path, .. } if trash_path == wanted))?;
                return match replay {
                    Some((_, outcome)) => Ok(outcome),
                    None => Err(VaultError::NotFound(what)),
                };
            }
            other => other?,
        };
        self.execute(Intent::DeleteForever {
            trash_path: entry.trash_path,
            original_path: entry.original_path,
            deleted_at: entry.deleted_at,
            kind: entry.kind,
        })
    }

    // ---- the steps, each safe to run again ----

    fn run(&self, intent: &Intent) -> Result<Outcome> {
        match intent {
            Intent::RenameNote { from, to, sources } => {
                let (from, to) = (NotePath::parse(from)?, NotePath::parse(to)?);
                let (src, dst) = (from.resolve(&self.root)?, to.resolve(&self.root)?);
                if is_file(&src)? && !exists(&dst)? {
                    rename_durable(&src, &dst).map_err(conflict_if_in_the_way)?;
                } else if !is_file(&dst)? {
                    return Err(VaultError::NotFound("note"));
                }
                self.move_history(&from, &to)?;
                let moves = vec![(from, to.clone())];
                let rewritten = self.rewrite_sources(sources, &moves)?;
                Ok(Outcome {
                    path: to.as_str().to_owned(),
                    moved: pairs(&moves),
                    rewritten,
                    ..Outcome::default()
                })
            }
            Intent::RenameFolder {
                from,
                to,
                moves,
                sources,
            } => {
                let (from, to) = (FolderPath::parse(from)?, FolderPath::parse(to)?);
                let (src, dst) = (from.resolve(&self.root)?, to.resolve(&self.root)?);
                if is_dir(&src)? && !exists(&dst)? {
                    rename_durable(&src, &dst).map_err(conflict_if_in_the_way)?;
                } else if !is_dir(&dst)? {
                    return Err(VaultError::NotFound("folder"));
                }
                let mut parsed = Vec::with_capacity(moves.len());
                for (old, new) in moves {
                    parsed.push((NotePath::parse(old)?, NotePath::parse(new)?));
                }
                for (old, new) in &parsed {
                    self.move_history(old, new)?;
                }
                let rewritten = self.rewrite_sources(sources, &parsed)?;
                Ok(Outcome {
                    path: to.as_str().to_owned(),
                    moved: pairs(&parsed),
                    rewritten,
                    ..Outcome::default()
                })
            }
            Intent::Trash {
                path,
                kind,
                slot,
                deleted_at,
                notes,
            } => {
                let source = self.trash_target(*kind, path)?;
                let target = resolve_checked(&self.root, &format!("{TRASH_DIR}/{slot}"))?;
                // The record first, so the item is never in the trash unrecorded.
                let mut index = self.load_trash_index()?;
                let record = TrashRecord {
                    original_path: path.clone(),
                    deleted_at: *deleted_at,
                    kind: *kind,
                };
                if !index.entries.contains_key(slot) {
                    index.entries.insert(slot.clone(), record);
                    index.version = 1;
                    let json = serde_json::to_vec_pretty(&index).map_err(io::Error::other)?;
                    write_atomic(&self.trash_root().join(TRASH_INDEX), &json)?;
                }
                if exists(&source)? && !exists(&target)? {
                    rename_durable(&source, &target)?;
                } else if !exists(&target)? {
                    return Err(VaultError::NotFound("note"));
                }
                Ok(Outcome {
                    path: slot.clone(),
                    notes: notes.clone(),
                    trash: Some(TrashEntry {
                        trash_path: slot.clone(),
                        original_path: path.clone(),
                        deleted_at: *deleted_at,
                        kind: *kind,
                    }),
                    ..Outcome::default()
                })
            }
            Intent::RestoreFromTrash {
                trash_path,
                target,
                kind,
            } => {
                let source = resolve_checked(&self.root, &format!("{TRASH_DIR}/{trash_path}"))?;
                let resolved = self.trash_target(*kind, target)?;
                if exists(&source)? && !exists(&resolved)? {
                    rename_durable(&source, &resolved).map_err(conflict_if_in_the_way)?;
                } else if !exists(&resolved)? {
                    return Err(VaultError::NotFound("trash entry"));
                }
                let mut index = self.load_trash_index()?;
                index.entries.remove(trash_path);
                self.save_trash_index(index)?;
                remove_empty_parents(&source, &self.trash_root())?;
                let notes = match kind {
                    EntryKind::File if is_note_name(target) => vec![target.clone()],
                    // An attachment brings no note back.
                    EntryKind::File => Vec::new(),
                    EntryKind::Folder => {
                        let mut notes: Vec<String> = self
                            .notes_under(&resolved, target)?
                            .into_iter()
                            .map(|n| n.path.as_str().to_owned())
                            .collect();
                        notes.sort();
                        notes
                    }
                };
                Ok(Outcome {
                    path: target.clone(),
                    notes,
                    kind: Some(*kind),
                    ..Outcome::default()
                })
            }
            Intent::DeleteForever {
                trash_path,
                original_path,
                deleted_at,
                kind,
            } => {
                let item = resolve_checked(&self.root, &format!("{TRASH_DIR}/{trash_path}"))?;
                if exists(&item)? {
                    match kind {
                        EntryKind::File => remove_file_durable(&item)?,
                        EntryKind::Folder => remove_dir_all_durable(&item)?,
                    }
                }
                remove_empty_parents(&item, &self.trash_root())?;
                let mut index = self.load_trash_index()?;
                index.entries.remove(trash_path);
                self.save_trash_index(index)?;
                Ok(Outcome {
                    path: trash_path.clone(),
                    trash: Some(TrashEntry {
                        trash_path: trash_path.clone(),
                        original_path: original_path.clone(),
                        deleted_at: *deleted_at,
                        kind: *kind,
                    }),
                    ..Outcome::default()
                })
            }
        }
    }

    /// Rewrites, in each source note, the links naming a moved note. A source that moved itself
    /// is read at its new path; one that is gone is skipped. Running it again finds nothing left
    /// to rewrite, so it is safe to repeat after a crash.
    fn rewrite_sources(&self, sources: &[String], moves: &[(NotePath, NotePath)]) -> Result<Vec<(String, usize)>> {
        let mut rewritten = Vec::new();
        let renamed: BTreeMap<&str, &NotePath> = moves.iter().map(|(old, new)| (old.as_str(), new)).collect();
        for source in sources {
            let path = match renamed.get(source.as_str()) {
                Some(new) => (*new).clone(),
                None => match NotePath::parse(source) {
                    Ok(path) => path,
                    Err(_) => continue,
                },
            };
            let note = match self.read(&path) {
                Ok(note) => note,
                Err(VaultError::NotFound(_) | VaultError::NotUtf8) => continue,
                Err(e) => return Err(e),
            };
            let mut text = note.content.clone();
            let mut count = 0;
            for (old, new) in moves {
                let (next, n) = markdown::rewrite_links(&text, old.as_str(), new.as_str());
                text = next;
                count += n;
            }
            if count == 0 {
                continue;
            }
            self.update_locked(&path, &text, None)?;
            rewritten.push((path.as_str().to_owned(), count));
        }
        Ok(rewritten)
    }

    /// A free trash slot for `original`: its own path, or a ` (N)` variant. Items never nest:
    /// below a trashed folder `a`, `a/b.md` becomes `a (2)/b.md`.
    fn free_trash_slot(&self, original: &str, kind: EntryKind) -> Result<String> {
        resolve_checked(&self.root, TRASH_DIR)?;
        let index = self.load_trash_index()?;
        let segments: Vec<&str> = original.split('/').collect();
        let clash = (1..segments.len()).find(|depth| index.entries.contains_key(&segments[..*depth].join("/")));
        let mut candidate = original.to_owned();
        let mut n = 1;
        while !self.trash_slot_free(&index, &candidate)? {
            n += 1;
            if n > 10_000 {
                return Err(VaultError::AlreadyExists);
            }
            let suffix = format!(" ({n})");
            candidate = match clash {
                Some(depth) => {
                    let mut parts: Vec<String> = segments.iter().map(|s| (*s).to_owned()).collect();
                    parts[depth - 1].push_str(&suffix);
                    parts.join("/")
                }
                None => with_suffix(original, kind, &suffix),
            };
        }
        Ok(candidate)
    }
}

fn pairs(moves: &[(NotePath, NotePath)]) -> Vec<(String, String)> {
    moves
        .iter()
        .map(|(old, new)| (old.as_str().to_owned(), new.as_str().to_owned()))
        .collect()
}

/// Whether a file name is one of [`super::write_atomic`]'s temp files.
fn is_temp_name(name: &str) -> bool {
    name.starts_with(".kryton-") && name.ends_with(".tmp")
}

/// Whether a temp file is held by a writer: an upload keeps an exclusive `flock` on its temp
/// file while it streams (see [`Vault::upload_temp`]). A file that is gone counts as in use (there
/// is nothing to remove).
fn in_use(path: &Path) -> bool {
    match fs::File::open(path) {
        Ok(file) => file.try_lock().is_err(),
        Err(_) => true,
    }
}

/// Removes every temp file left by an interrupted write, anywhere in the vault (history and
/// trash included). The lock is held, so no note write is in flight; uploads, which stream
/// without it, hold their temp file's own lock and are skipped.
fn sweep_temp_files(root: &Path) -> Result<usize> {
    if !is_dir(root)? {
        return Ok(0);
    }
    let mut removed = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let mut removed_here = false;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let file_type = entry.file_type()?;
            if file_type.is_dir() {
                stack.push(entry.path());
            } else if file_type.is_file()
                && entry.file_name().to_str().is_some_and(is_temp_name)
                && !in_use(&entry.path())
            {
                fs::remove_file(entry.path())?;
                removed += 1;
                removed_here = true;
            }
        }
        if removed_here {
            sync_dir(&dir)?;
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::path::NOTE_SUFFIX;

    #[test]
    fn temp_names_are_recognised() {
        assert!(is_temp_name(".kryton-12-0-5.tmp"));
        assert!(!is_temp_name(JOURNAL_FILE));
        assert!(!is_temp_name("kryton-1.tmp"));
        assert!(!is_temp_name(&format!(".kryton-1{NOTE_SUFFIX}")));
    }
}
