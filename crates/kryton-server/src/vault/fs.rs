//! One user's vault on disk: the source of truth for notes, their history and the trash.
//!
//! Layout under the user's root (`NOTES_DIR/<userId>/`):
//! - `<path>.md` — the notes; `Daily/YYYY-MM-DD.md`; `Templates/*.md`.
//! - `.history/<notePath>/<epoch-ms>.md` — the previous version, kept before every overwrite
//!   (at most [`Vault::history_limit`] per note, oldest dropped first). History follows a note
//!   when it is renamed and stays in place when the note is deleted, so a note restored from the
//!   trash gets its history back.
//! - `.trash/<originalPath>` — deleted notes and folders; when that name is taken in the trash the
//!   last segment gets a ` (2)`, ` (3)`… suffix. `.trash/.index.json` records, per trash path, the
//!   original path, the deletion time (epoch ms) and the kind:
//!   `{"version":1,"entries":{"a/Plan (2).md":{"originalPath":"a/Plan.md","deletedAt":1700000000000,"kind":"file"}}}`.
//!   The index is written before the move, so a crash leaves at worst a record without a file
//!   (ignored and dropped on the next write). Files in `.trash` without a record (a crash, a
//!   restored tarball of the original Kryton, a hand-made move) are still listed, with their trash
//!   path as original path and their mtime as deletion time.
//! - `.kryton.lock` — the vault lock (see below).
//!
//! Every mutation takes an exclusive advisory lock (`flock` via [`File::lock`]) on
//! `<root>/.kryton.lock` for the whole check-and-write, so two server processes sharing one
//! `NOTES_DIR` (replicas on an RWX volume) never interleave a compare-and-swap. The lock is per
//! open file description, so two [`Vault`] values in one process exclude each other as well.
//! Reads take no lock: writes are atomic renames, so a reader sees the old or the new file whole.
//!
//! Calls block (file I/O and the lock); call them from `spawn_blocking` in async code.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::path::{FilePath, FolderPath, NOTE_SUFFIX, NotePath, PathError, resolve_checked};

/// The per-vault lock file, hidden from the tree like every dot-entry.
pub const LOCK_FILE: &str = ".kryton.lock";
/// Where previous versions live.
pub const HISTORY_DIR: &str = ".history";
/// Where deleted notes and folders live.
pub const TRASH_DIR: &str = ".trash";
/// Where an emptied trash waits for its removal (see [`Vault::empty_trash`]).
pub const EMPTIED_TRASH: &str = ".trash-emptied";
/// The trash records, inside [`TRASH_DIR`].
pub const TRASH_INDEX: &str = ".index.json";
/// Versions kept per note unless configured otherwise.
pub const DEFAULT_HISTORY_LIMIT: usize = 50;
/// The folder of daily notes.
pub const DAILY_FOLDER: &str = "Daily";
/// The folder of templates.
pub const TEMPLATES_FOLDER: &str = "Templates";
/// The template used for daily notes when present and no other is asked for.
pub const DAILY_TEMPLATE: &str = "Daily";
/// What went wrong with a vault operation. `Path` is a 400, `NotFound` a 404, `AlreadyExists` and
/// `IntoItself` a 409, `Conflict` a 412 (with the current ETag), `Io` a 500.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error(transparent)]
    Path(#[from] PathError),
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("a note or folder already exists at that path")]
    AlreadyExists,
    #[error("a folder cannot be moved into itself")]
    IntoItself,
    #[error("the note was changed since it was read")]
    Conflict { current_hash: String },
    #[error("the note is not valid UTF-8")]
    NotUtf8,
    #[error("vault storage error")]
    Io(#[from] io::Error),
}

pub type Result<T, E = VaultError> = std::result::Result<T, E>;

/// Hex SHA-256 of a note's bytes: the ETag, and the expected value of a compare-and-swap.
pub fn content_hash(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Replaces `path` with `bytes` atomically and durably: a temp file in the same directory,
/// written and fsynced, renamed over the target, then the directory fsynced. Missing parent
/// directories are created (and their parents fsynced). Readers see the old or the new content,
/// never a mix; after a crash the file is one of the two.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let created = create_dirs_tracked(dir)?;
    let tmp = dir.join(temp_name());
    let mut renamed = false;
    let result = (|| {
        let mut file = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        crate::crash::step("fsync of a temp file");
        drop(file);
        fs::rename(&tmp, path)?;
        renamed = true;
        crate::crash::step("rename of a temp file");
        sync_dir(dir)
    })();
    if result.is_err() && !renamed {
        // Nothing changed (a full volume, an I/O error): leave no partial file and no folder
        // that this write created.
        let _ = fs::remove_file(&tmp);
        remove_created_dirs(&created);
    }
    result
}

/// Removes, newest first, directories a failed write created (only while they are empty).
fn remove_created_dirs(created: &[PathBuf]) {
    for dir in created.iter().rev() {
        if fs::remove_dir(dir).is_err() {
            break;
        }
        if let Some(parent) = dir.parent() {
            let _ = sync_dir(parent);
        }
    }
}

/// A short hidden name, unique per process and call, so it never collides, never shows in the
/// tree and never exceeds the file-name limit however long the target's name is.
fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(".kryton-{}-{n}-{nanos}.tmp", std::process::id())
}

/// `create_dir_all`, fsyncing each new directory's parent so the new entries survive a crash.
pub fn create_dirs_durable(dir: &Path) -> io::Result<()> {
    create_dirs_tracked(dir).map(drop)
}

/// [`create_dirs_durable`], returning the directories it created, outermost first. On an error
/// the directories created so far are removed again.
fn create_dirs_tracked(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut missing = Vec::new();
    let mut current = dir;
    loop {
        match fs::metadata(current) {
            Ok(meta) if meta.is_dir() => break,
            Ok(_) => {
                return Err(io::Error::new(io::ErrorKind::NotADirectory, "a parent path is a file"));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                missing.push(current);
                match current.parent() {
                    Some(parent) => current = parent,
                    None => break,
                }
            }
            Err(e) => return Err(e),
        }
    }
    let mut created = Vec::new();
    for new_dir in missing.iter().rev() {
        let made = match fs::create_dir(new_dir) {
            Ok(()) => {
                created.push(new_dir.to_path_buf());
                Ok(())
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = made.and_then(|()| new_dir.parent().map_or(Ok(()), sync_dir)) {
            remove_created_dirs(&created);
            return Err(e);
        }
    }
    Ok(created)
}

/// Makes a directory's entries (files created, renamed or removed in it) durable. A failure is an
/// error: the change may not survive a power cut, so it must not be acknowledged.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()?;
    crate::crash::step("fsync of a directory");
    Ok(())
}

/// A rename made durable: both directories fsynced.
pub fn rename_durable(from: &Path, to: &Path) -> io::Result<()> {
    if let Some(parent) = to.parent() {
        create_dirs_durable(parent)?;
    }
    fs::rename(from, to)?;
    crate::crash::step("rename");
    if let Some(parent) = to.parent() {
        sync_dir(parent)?;
    }
    if let Some(parent) = from.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn now_ms(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Whether anything (file, folder or link) is at `path`, without following links.
fn exists(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(e),
    }
}

fn is_file(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.file_type().is_file()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(e),
    }
}

fn is_dir(path: &Path) -> io::Result<bool> {
    match fs::symlink_metadata(path) {
        Ok(meta) => Ok(meta.file_type().is_dir()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) if e.kind() == io::ErrorKind::NotADirectory => Ok(false),
        Err(e) => Err(e),
    }
}

/// Directory-creation failures because something is in the way are the caller's conflict, not
/// a server fault.
fn conflict_if_in_the_way(e: io::Error) -> VaultError {
    match e.kind() {
        io::ErrorKind::NotADirectory | io::ErrorKind::AlreadyExists => VaultError::AlreadyExists,
        _ => VaultError::Io(e),
    }
}

/// A note as read from disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub path: NotePath,
    pub content: String,
    /// [`content_hash`] of the content: the ETag.
    pub hash: String,
    pub size: u64,
    pub modified: SystemTime,
}

/// A note file found by [`Vault::list_notes`]: enough to decide whether the index is stale
/// (size and mtime first, the hash only when they differ).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteFile {
    pub path: NotePath,
    pub size: u64,
    pub modified: SystemTime,
}

/// Whether an entry is a note file or a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Folder,
    File,
}

/// One node of the tree: folders carry their children, files their title-free name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TreeNode {
    pub name: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: EntryKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(no_recursion)]
    pub children: Option<Vec<TreeNode>>,
}

/// One kept version of a note.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryVersion {
    /// Epoch milliseconds at which this version was replaced; the `ts` of the history routes.
    pub timestamp: u64,
    pub size: u64,
}

/// One item in the trash.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrashEntry {
    /// The item's path inside `.trash`: its id in the trash routes.
    pub trash_path: String,
    pub original_path: String,
    /// Epoch milliseconds.
    pub deleted_at: u64,
    pub kind: EntryKind,
}

/// Where a trash item came back to, and the notes that came with it (for the index).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Restored {
    pub path: String,
    pub kind: EntryKind,
    pub notes: Vec<NotePath>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct TrashIndex {
    version: u32,
    entries: BTreeMap<String, TrashRecord>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TrashRecord {
    original_path: String,
    deleted_at: u64,
    kind: EntryKind,
}

/// One user's vault.
#[derive(Clone, Debug)]
pub struct Vault {
    root: PathBuf,
    history_limit: usize,
}

/// Held while a mutation runs; closing the file releases the lock.
pub struct VaultLock {
    _file: File,
}

impl Vault {
    /// The vault rooted at `root` (`NOTES_DIR/<userId>`), keeping [`DEFAULT_HISTORY_LIMIT`]
    /// versions per note.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Vault {
            root: root.into(),
            history_limit: DEFAULT_HISTORY_LIMIT,
        }
    }

    /// Keeps at most `limit` versions per note (0 keeps none).
    pub fn with_history_limit(mut self, limit: usize) -> Self {
        self.history_limit = limit;
        self
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn history_limit(&self) -> usize {
        self.history_limit
    }

    /// Takes the vault's cross-process lock (blocking until it is free) and finishes any
    /// operation a crashed holder left half done (see [`journal`]).
    pub fn lock(&self) -> Result<VaultLock> {
        self.lock_and_finish()
    }

    fn raw_lock(&self) -> Result<VaultLock> {
        create_dirs_durable(&self.root)?;
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join(LOCK_FILE))?;
        file.lock()?;
        Ok(VaultLock { _file: file })
    }

    /// Creates the user's directory and, for a vault without notes, the sample vault of
    /// [`super::sample`] (with `today`'s daily note). Returns the notes written (none when the
    /// vault already had notes).
    pub fn init(&self, today: time::Date, sample: bool) -> Result<Vec<NotePath>> {
        let _lock = self.lock()?;
        if !self.list_notes()?.is_empty() {
            return Ok(Vec::new());
        }
        let mut written = Vec::new();
        let notes = if sample {
            super::sample::notes(today)
        } else {
            super::sample::welcome_only()
        };
        for (raw, content) in notes {
            let path = NotePath::parse(&raw)?;
            let file = path.resolve(&self.root)?;
            if exists(&file)? {
                continue;
            }
            write_atomic(&file, content.as_bytes())?;
            written.push(path);
        }
        Ok(written)
    }

    // ---- files that are not notes (attachments) ----

    /// A fresh hidden temporary file inside `folder` (created durably), where an upload is
    /// streamed before [`Vault::store_file`] gives it its name. Hidden names are never served.
    ///
    /// An upload streams for as long as its client sends, without the vault lock, so the file is
    /// created under the lock and returned holding an exclusive `flock` of its own: boot's sweep
    /// of temp files (under the vault lock) removes only temp files nobody holds, never one still
    /// being written by another replica. Keep the file open until [`Vault::store_file`] returns.
    pub fn upload_temp(&self, folder: &FolderPath) -> Result<(PathBuf, File)> {
        let _lock = self.lock()?;
        let dir = folder.resolve(&self.root)?;
        create_dirs_durable(&dir)?;
        let path = dir.join(temp_name());
        let file = OpenOptions::new().write(true).create_new(true).open(&path)?;
        if let Err(e) = file.try_lock() {
            let _ = fs::remove_file(&path);
            return Err(VaultError::Io(io::Error::other(e)));
        }
        Ok((path, file))
    }

    /// Moves a fully written and fsynced `temp` (from [`Vault::upload_temp`] in `folder`) to
    /// `folder/name`, or `name-2.ext`, `name-3.ext`… when that is taken, and fsyncs the directory.
    /// Returns the stored path. `name` must be a single valid segment.
    pub fn store_file(&self, folder: &FolderPath, name: &str, temp: &Path) -> Result<FilePath> {
        let _lock = self.lock()?;
        let mut n = 1;
        loop {
            let candidate = if n == 1 {
                format!("{}/{name}", folder.as_str())
            } else {
                with_suffix(
                    &format!("{}/{name}", folder.as_str()),
                    EntryKind::File,
                    &format!("-{n}"),
                )
            };
            let path = FilePath::parse(&candidate)?;
            let target = path.resolve(&self.root)?;
            if !exists(&target)? {
                rename_durable(temp, &target)?;
                return Ok(path);
            }
            n += 1;
            if n > 10_000 {
                return Err(VaultError::AlreadyExists);
            }
        }
    }

    /// The absolute path of an existing file that is not a note.
    pub fn file(&self, path: &FilePath) -> Result<PathBuf> {
        let file = path.resolve(&self.root)?;
        if !is_file(&file)? {
            return Err(VaultError::NotFound("file"));
        }
        Ok(file)
    }

    /// Every file of the vault that is not a note (outside dot-folders, no symlinks), sorted:
    /// what links to attachments resolve against.
    pub fn list_files(&self) -> Result<Vec<FilePath>> {
        let mut out = Vec::new();
        if !is_dir(&self.root)? {
            return Ok(out);
        }
        let mut stack = vec![(self.root.clone(), String::new())];
        while let Some((dir, rel)) = stack.pop() {
            for entry in fs::read_dir(&dir)? {
                let entry = entry?;
                let Ok(name) = entry.file_name().into_string() else {
                    continue;
                };
                if name.starts_with('.') {
                    continue;
                }
                let child_rel = if rel.is_empty() {
                    name.clone()
                } else {
                    format!("{rel}/{name}")
                };
                let file_type = entry.file_type()?;
                if file_type.is_dir() {
                    stack.push((entry.path(), child_rel));
                } else if file_type.is_file()
                    && let Ok(path) = FilePath::parse(&child_rel)
                {
                    out.push(path);
                }
            }
        }
        out.sort();
        Ok(out)
    }

    /// Writes a file that is not a note atomically and durably; with `create_new`, refuses
    /// (409) when something is already there.
    pub fn write_file(&self, path: &FilePath, bytes: &[u8], create_new: bool) -> Result<()> {
        let _lock = self.lock()?;
        let file = path.resolve(&self.root)?;
        if create_new && exists(&file)? {
            return Err(VaultError::AlreadyExists);
        }
        write_atomic(&file, bytes)?;
        Ok(())
    }

    /// The names of the regular files directly in `folder` ending in `suffix`, without it, sorted.
    pub fn file_names(&self, folder: &FolderPath, suffix: &str) -> Result<Vec<String>> {
        let dir = folder.resolve(&self.root)?;
        if !is_dir(&dir)? {
            return Ok(Vec::new());
        }
        let mut names = Vec::new();
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !name.starts_with('.')
                && entry.file_type()?.is_file()
                && let Some(stem) = name.strip_suffix(suffix)
            {
                names.push(stem.to_owned());
            }
        }
        names.sort_by(|a, b| alphabetical(a, b));
        Ok(names)
    }

    /// Moves a file that is not a note to the trash, like a note.
    pub fn delete_file(&self, path: &FilePath) -> Result<TrashEntry> {
        self.trash_item(path.as_str(), EntryKind::File)?
            .trash
            .ok_or(VaultError::NotFound("file"))
    }

    /// Reads a note with its ETag.
    pub fn read(&self, path: &NotePath) -> Result<Note> {
        let file = path.resolve(&self.root)?;
        if !is_file(&file)? {
            return Err(VaultError::NotFound("note"));
        }
        let bytes = match fs::read(&file) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(VaultError::NotFound("note"));
            }
            Err(e) => return Err(e.into()),
        };
        let meta = fs::metadata(&file)?;
        let hash = content_hash(&bytes);
        let content = String::from_utf8(bytes).map_err(|_| VaultError::NotUtf8)?;
        Ok(Note {
            path: path.clone(),
            size: content.len() as u64,
            content,
            hash,
            modified: meta.modified()?,
        })
    }

    /// Creates a note; fails with `AlreadyExists` if anything is at that path. Returns the ETag.
    pub fn create(&self, path: &NotePath, content: &str) -> Result<String> {
        let _lock = self.lock()?;
        self.create_locked(path, content)
    }

    /// Creates the note, or overwrites it when it exists (the old text goes to the history), under
    /// one lock so that two writers cannot both "create". Returns the ETag and whether it was new.
    pub fn upsert(&self, path: &NotePath, content: &str) -> Result<(String, bool)> {
        let _lock = self.lock()?;
        match self.update_locked(path, content, None) {
            Ok(hash) => Ok((hash, false)),
            Err(VaultError::NotFound(_)) => self.create_locked(path, content).map(|hash| (hash, true)),
            Err(e) => Err(e),
        }
    }

    fn create_locked(&self, path: &NotePath, content: &str) -> Result<String> {
        let file = path.resolve(&self.root)?;
        if exists(&file)? {
            return Err(VaultError::AlreadyExists);
        }
        write_atomic(&file, content.as_bytes()).map_err(conflict_if_in_the_way)?;
        Ok(content_hash(content.as_bytes()))
    }

    /// Overwrites an existing note. With `expected_hash` (the client's `If-Match`, quotes already
    /// stripped) this is a compare-and-swap: a different on-disk hash yields `Conflict` with the
    /// current hash and changes nothing. The previous version goes to the history first; writing
    /// identical content is a no-op. Returns the new ETag.
    pub fn update(&self, path: &NotePath, content: &str, expected_hash: Option<&str>) -> Result<String> {
        let _lock = self.lock()?;
        self.update_locked(path, content, expected_hash)
    }

    fn update_locked(&self, path: &NotePath, content: &str, expected_hash: Option<&str>) -> Result<String> {
        let file = path.resolve(&self.root)?;
        if !is_file(&file)? {
            return Err(VaultError::NotFound("note"));
        }
        let current = fs::read(&file)?;
        let current_hash = content_hash(&current);
        if let Some(expected) = expected_hash
            && expected != current_hash
        {
            return Err(VaultError::Conflict { current_hash });
        }
        if current == content.as_bytes() {
            return Ok(current_hash);
        }
        let version = self.save_version(path, &current)?;
        if let Err(e) = write_atomic(&file, content.as_bytes()) {
            // The note did not change (a full volume): its history must not either.
            if let Some(version) = &version {
                let _ = remove_file_durable(version);
                let _ = remove_empty_parents(version, &self.root.join(HISTORY_DIR));
            }
            return Err(e.into());
        }
        if version.is_some() {
            self.prune_history(&self.history_dir(path)?)?;
        }
        Ok(content_hash(content.as_bytes()))
    }

    /// Moves a note to the trash. Its history stays, ready for a restore.
    pub fn delete(&self, path: &NotePath) -> Result<TrashEntry> {
        self.trash_item(path.as_str(), EntryKind::File)?
            .trash
            .ok_or(VaultError::NotFound("note"))
    }

    /// Renames or moves a note (and its history); fails if anything is at the target.
    pub fn rename(&self, from: &NotePath, to: &NotePath) -> Result<()> {
        self.rename_note(from, to, &[]).map(|_| ())
    }

    /// Creates a folder (and its parents). Returns false when it already existed.
    pub fn create_folder(&self, path: &FolderPath) -> Result<bool> {
        let _lock = self.lock()?;
        let dir = path.resolve(&self.root)?;
        if is_dir(&dir)? {
            return Ok(false);
        }
        if exists(&dir)? {
            return Err(VaultError::AlreadyExists);
        }
        create_dirs_durable(&dir).map_err(conflict_if_in_the_way)?;
        Ok(true)
    }

    /// Renames or moves a folder with everything in it, and the notes' history. Returns each
    /// moved note's old and new path, for the index and for link rewriting.
    pub fn rename_folder(&self, from: &FolderPath, to: &FolderPath) -> Result<Vec<(NotePath, NotePath)>> {
        let outcome = self.move_folder(from, to, &[])?;
        outcome
            .moved
            .iter()
            .map(|(old, new)| Ok((NotePath::parse(old)?, NotePath::parse(new)?)))
            .collect()
    }

    /// Moves a folder and everything in it to the trash as one item. Returns the item and the
    /// notes it took along (to drop from the index).
    pub fn delete_folder(&self, path: &FolderPath) -> Result<(TrashEntry, Vec<NotePath>)> {
        let outcome = self.trash_item(path.as_str(), EntryKind::Folder)?;
        let notes = outcome
            .notes
            .iter()
            .map(|n| NotePath::parse(n))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let entry = outcome.trash.ok_or(VaultError::NotFound("folder"))?;
        Ok((entry, notes))
    }

    /// The tree for `GET /api/notes`: folders first, then notes, each alphabetical (ignoring
    /// case); dot-entries, symlinks, non-markdown files and names that are not valid paths
    /// (which could not be addressed anyway) are left out.
    pub fn tree(&self) -> Result<Vec<TreeNode>> {
        if !is_dir(&self.root)? {
            return Ok(Vec::new());
        }
        self.tree_of(&self.root, "")
    }

    fn tree_of(&self, dir: &Path, rel: &str) -> Result<Vec<TreeNode>> {
        let mut folders = Vec::new();
        let mut files = Vec::new();
        for (name, child_rel, kind) in visible_entries(dir, rel)? {
            match kind {
                EntryKind::Folder => {
                    let children = self.tree_of(&dir.join(&name), &child_rel)?;
                    folders.push(TreeNode {
                        name,
                        path: child_rel,
                        kind,
                        children: Some(children),
                    });
                }
                EntryKind::File => files.push(TreeNode {
                    name,
                    path: child_rel,
                    kind,
                    children: None,
                }),
            }
        }
        folders.sort_by(|a, b| alphabetical(&a.name, &b.name));
        files.sort_by(|a, b| alphabetical(&a.name, &b.name));
        folders.extend(files);
        Ok(folders)
    }

    /// Every note in the vault with size and mtime, sorted by path: the input of reconcile.
    pub fn list_notes(&self) -> Result<Vec<NoteFile>> {
        if !is_dir(&self.root)? {
            return Ok(Vec::new());
        }
        let mut notes = self.notes_under(&self.root, "")?;
        notes.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(notes)
    }

    fn notes_under(&self, dir: &Path, rel: &str) -> Result<Vec<NoteFile>> {
        let mut out = Vec::new();
        let mut stack = vec![(dir.to_path_buf(), rel.to_owned())];
        while let Some((dir, rel)) = stack.pop() {
            for (name, child_rel, kind) in visible_entries(&dir, &rel)? {
                let path = dir.join(&name);
                match kind {
                    EntryKind::Folder => stack.push((path, child_rel)),
                    EntryKind::File => {
                        let meta = fs::symlink_metadata(&path)?;
                        out.push(NoteFile {
                            path: NotePath::parse(&child_rel)?,
                            size: meta.len(),
                            modified: meta.modified()?,
                        });
                    }
                }
            }
        }
        Ok(out)
    }

    // ---- history ----

    fn history_dir(&self, path: &NotePath) -> Result<PathBuf> {
        Ok(resolve_checked(
            &self.root,
            &format!("{HISTORY_DIR}/{}", path.as_str()),
        )?)
    }

    /// Keeps `bytes` as a version of `path`; returns the version's file. The caller prunes the
    /// oldest beyond the limit once the note itself is written.
    fn save_version(&self, path: &NotePath, bytes: &[u8]) -> Result<Option<PathBuf>> {
        if self.history_limit == 0 {
            return Ok(None);
        }
        let dir = self.history_dir(path)?;
        let versions = self.versions_in(&dir)?;
        let mut timestamp = now_ms(SystemTime::now());
        if let Some(newest) = versions.first()
            && newest.timestamp >= timestamp
        {
            // Two saves in one millisecond (or a clock step back) must not overwrite a version.
            timestamp = newest.timestamp + 1;
        }
        let version = dir.join(format!("{timestamp}{NOTE_SUFFIX}"));
        write_atomic(&version, bytes)?;
        Ok(Some(version))
    }

    fn prune_history(&self, dir: &Path) -> Result<()> {
        let versions = self.versions_in(dir)?;
        let mut removed = false;
        for old in versions.iter().skip(self.history_limit) {
            fs::remove_file(dir.join(format!("{}{NOTE_SUFFIX}", old.timestamp)))?;
            removed = true;
        }
        if removed {
            sync_dir(dir)?;
        }
        Ok(())
    }

    /// Versions in a history directory, newest first.
    fn versions_in(&self, dir: &Path) -> Result<Vec<HistoryVersion>> {
        let entries = match fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut versions = Vec::new();
        for entry in entries {
            let entry = entry?;
            if !entry.file_type()?.is_file() {
                continue;
            }
            let name = entry.file_name();
            let Some(timestamp) = name
                .to_str()
                .and_then(|n| n.strip_suffix(NOTE_SUFFIX))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            versions.push(HistoryVersion {
                timestamp,
                size: entry.metadata()?.len(),
            });
        }
        versions.sort_by_key(|v| std::cmp::Reverse(v.timestamp));
        Ok(versions)
    }

    /// The kept versions of a note, newest first (empty when there are none).
    pub fn history(&self, path: &NotePath) -> Result<Vec<HistoryVersion>> {
        self.versions_in(&self.history_dir(path)?)
    }

    /// One kept version's content.
    pub fn history_version(&self, path: &NotePath, timestamp: u64) -> Result<String> {
        let file = self.history_dir(path)?.join(format!("{timestamp}{NOTE_SUFFIX}"));
        match fs::read(&file) {
            Ok(bytes) => String::from_utf8(bytes).map_err(|_| VaultError::NotUtf8),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(VaultError::NotFound("history version")),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes a kept version back as the note's new content (the current content becomes a
    /// version itself, so a restore can be undone). Recreates the note if it no longer exists.
    /// Returns the new ETag.
    pub fn restore_version(&self, path: &NotePath, timestamp: u64, expected_hash: Option<&str>) -> Result<String> {
        let _lock = self.lock()?;
        let content = self.history_version(path, timestamp)?;
        if is_file(&path.resolve(&self.root)?)? {
            self.update_locked(path, &content, expected_hash)
        } else {
            self.create_locked(path, &content)
        }
    }

    /// Carries a note's history to its new path (merging if the target has history already).
    fn move_history(&self, from: &NotePath, to: &NotePath) -> Result<()> {
        let src = self.history_dir(from)?;
        if !is_dir(&src)? {
            return Ok(());
        }
        let dst = self.history_dir(to)?;
        if !exists(&dst)? {
            rename_durable(&src, &dst)?;
        } else {
            for version in self.versions_in(&src)? {
                let name = format!("{}{NOTE_SUFFIX}", version.timestamp);
                if !exists(&dst.join(&name))? {
                    rename_durable(&src.join(&name), &dst.join(&name))?;
                }
            }
            remove_dir_all_durable(&src)?;
            self.prune_history(&dst)?;
        }
        remove_empty_parents(&src, &self.root.join(HISTORY_DIR))?;
        Ok(())
    }

    // ---- trash ----

    fn trash_root(&self) -> PathBuf {
        self.root.join(TRASH_DIR)
    }

    fn load_trash_index(&self) -> Result<TrashIndex> {
        let file = resolve_checked(&self.root, &format!("{TRASH_DIR}/{TRASH_INDEX}"))?;
        match fs::read(&file) {
            Ok(bytes) => Ok(serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                // A damaged index loses only names and times: the files are listed as orphans.
                tracing::warn!(error = %e, "unreadable trash index, listing trash without it");
                TrashIndex::default()
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(TrashIndex::default()),
            Err(e) => Err(e.into()),
        }
    }

    /// Writes the index back, dropping records whose item is gone.
    fn save_trash_index(&self, mut index: TrashIndex) -> Result<()> {
        let trash = self.trash_root();
        let mut kept = BTreeMap::new();
        for (key, record) in std::mem::take(&mut index.entries) {
            if exists(&trash.join(&key))? {
                kept.insert(key, record);
            }
        }
        index.entries = kept;
        index.version = 1;
        let json = serde_json::to_vec_pretty(&index).map_err(io::Error::other)?;
        let file = resolve_checked(&self.root, &format!("{TRASH_DIR}/{TRASH_INDEX}"))?;
        write_atomic(&file, &json)?;
        Ok(())
    }

    /// A trash path is free when nothing is there, no recorded item contains it and it contains
    /// no recorded item, so items never nest inside one another.
    fn trash_slot_free(&self, index: &TrashIndex, candidate: &str) -> Result<bool> {
        if exists(&self.trash_root().join(candidate))? {
            return Ok(false);
        }
        let nested = index.entries.keys().any(|key| {
            let inside = |a: &str, b: &str| {
                b.strip_prefix(a)
                    .is_some_and(|rest| rest.starts_with('/') || rest.is_empty())
            };
            inside(key, candidate) || inside(candidate, key)
        });
        Ok(!nested)
    }

    /// Everything in the trash, newest deletion first.
    pub fn trash(&self) -> Result<Vec<TrashEntry>> {
        let trash = self.trash_root();
        if !is_dir(&trash)? {
            return Ok(Vec::new());
        }
        let index = self.load_trash_index()?;
        let mut out = Vec::new();
        walk_trash(&trash, "", &index, &mut out)?;
        out.sort_by(|a, b| {
            b.deleted_at
                .cmp(&a.deleted_at)
                .then_with(|| a.trash_path.cmp(&b.trash_path))
        });
        Ok(out)
    }

    fn find_trash_entry(&self, trash_path: &str) -> Result<TrashEntry> {
        let wanted = trash_path.strip_suffix('/').unwrap_or(trash_path);
        self.trash()?
            .into_iter()
            .find(|e| {
                e.trash_path == wanted
                    || (e.kind == EntryKind::File && e.trash_path == format!("{wanted}{NOTE_SUFFIX}"))
            })
            .ok_or(VaultError::NotFound("trash entry"))
    }

    /// Puts a trash item back at its original path, or at `Name (restored N)` beside it when that
    /// path is taken. Returns where it went and the notes it brought back.
    pub fn restore_from_trash(&self, trash_path: &str) -> Result<Restored> {
        let outcome = self.restore_item(trash_path)?;
        Ok(Restored {
            kind: outcome.kind.unwrap_or(EntryKind::File),
            notes: outcome
                .notes
                .iter()
                .map(|n| NotePath::parse(n))
                .collect::<std::result::Result<Vec<_>, _>>()?,
            path: outcome.path,
        })
    }

    /// Deletes one trash item for good.
    pub fn delete_forever(&self, trash_path: &str) -> Result<TrashEntry> {
        self.delete_item_forever(trash_path)?
            .trash
            .ok_or(VaultError::NotFound("trash entry"))
    }

    fn remove_trash_item(&self, entry: &TrashEntry) -> Result<()> {
        let item = resolve_checked(&self.root, &format!("{TRASH_DIR}/{}", entry.trash_path))?;
        match entry.kind {
            EntryKind::File => remove_file_durable(&item)?,
            EntryKind::Folder => remove_dir_all_durable(&item)?,
        }
        remove_empty_parents(&item, &self.trash_root())?;
        Ok(())
    }

    /// Deletes everything in the trash. Returns how many items went.
    ///
    /// The whole trash is first renamed aside (one atomic, durable step) and only then removed, so
    /// a crash leaves either the full trash or none of it; a leftover is removed by the next
    /// emptying or at boot ([`Vault::recover`]).
    pub fn empty_trash(&self) -> Result<usize> {
        let _crash = crate::crash::operation("empty-trash");
        let _lock = self.lock()?;
        let count = self.trash()?.len();
        let trash = self.trash_root();
        resolve_checked(&self.root, TRASH_DIR)?;
        self.finish_emptying_trash()?;
        if is_dir(&trash)? {
            rename_durable(&trash, &self.root.join(EMPTIED_TRASH))?;
            self.finish_emptying_trash()?;
        }
        Ok(count)
    }

    /// Removes a trash that was renamed aside to be emptied. The lock is held.
    fn finish_emptying_trash(&self) -> Result<()> {
        let doomed = self.root.join(EMPTIED_TRASH);
        if is_dir(&doomed)? {
            remove_dir_all_durable(&doomed)?;
        }
        Ok(())
    }

    /// Deletes trash items deleted before `now - max_age` (the background purge, 30 days in
    /// production). Returns what went.
    pub fn purge_trash(&self, max_age: Duration, now: SystemTime) -> Result<Vec<TrashEntry>> {
        let _lock = self.lock()?;
        let cutoff = now_ms(now.checked_sub(max_age).unwrap_or(UNIX_EPOCH));
        let expired: Vec<TrashEntry> = self.trash()?.into_iter().filter(|e| e.deleted_at < cutoff).collect();
        if expired.is_empty() {
            return Ok(expired);
        }
        for entry in &expired {
            self.remove_trash_item(entry)?;
        }
        let mut index = self.load_trash_index()?;
        for entry in &expired {
            index.entries.remove(&entry.trash_path);
        }
        self.save_trash_index(index)?;
        Ok(expired)
    }

    // ---- daily notes and templates ----

    /// Template names (`Templates/<name>.md`, top level only), sorted.
    pub fn templates(&self) -> Result<Vec<String>> {
        let dir = FolderPath::parse(TEMPLATES_FOLDER)?.resolve(&self.root)?;
        if !is_dir(&dir)? {
            return Ok(Vec::new());
        }
        let mut names: Vec<String> = visible_entries(&dir, TEMPLATES_FOLDER)?
            .into_iter()
            .filter(|(_, _, kind)| *kind == EntryKind::File)
            .filter_map(|(name, _, _)| name.strip_suffix(NOTE_SUFFIX).map(str::to_owned))
            .collect();
        names.sort_by(|a, b| alphabetical(a, b));
        Ok(names)
    }

    /// One template's text, by name with or without `.md`.
    pub fn template(&self, name: &str) -> Result<String> {
        if name.contains('/') {
            return Err(VaultError::NotFound("template"));
        }
        let path = NotePath::parse(&format!("{TEMPLATES_FOLDER}/{name}"))?;
        match self.read(&path) {
            Ok(note) => Ok(note.content),
            Err(VaultError::NotFound(_)) => Err(VaultError::NotFound("template")),
            Err(e) => Err(e),
        }
    }

    /// Today's (or any day's) daily note, created on first call: from the named template, else
    /// from `Templates/Daily.md` when present, else a bare heading. Idempotent: later calls
    /// return the existing note untouched. Returns the note and whether it was created.
    pub fn daily(&self, date: time::Date, template: Option<&str>) -> Result<(Note, bool)> {
        let path = daily_note_path(date)?;
        let _lock = self.lock()?;
        if is_file(&path.resolve(&self.root)?)? {
            return Ok((self.read(&path)?, false));
        }
        let day = format_date(date);
        let text = match template {
            Some(name) => Some(self.template(name)?),
            None => match self.template(DAILY_TEMPLATE) {
                Ok(text) => Some(text),
                Err(VaultError::NotFound(_)) => None,
                Err(e) => return Err(e),
            },
        };
        let content = match text {
            Some(text) => render_template(&text, &day, &day),
            None => format!("# {day}\n\n"),
        };
        self.create_locked(&path, &content)?;
        Ok((self.read(&path)?, true))
    }
}

/// `YYYY-MM-DD`.
pub(crate) fn format_date(date: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// `Daily/YYYY-MM-DD.md`.
pub fn daily_note_path(date: time::Date) -> Result<NotePath> {
    Ok(NotePath::parse(&format!("{DAILY_FOLDER}/{}", format_date(date)))?)
}

/// Fills a template's `{{date}}` and `{{title}}` placeholders.
pub fn render_template(template: &str, date: &str, title: &str) -> String {
    template.replace("{{date}}", date).replace("{{title}}", title)
}

/// `a/Plan.md` + ` (2)` -> `a/Plan (2).md`, `x/photo.png` -> `x/photo (2).png`; folders and
/// files without an extension get the suffix at the end.
fn with_suffix(path: &str, kind: EntryKind, suffix: &str) -> String {
    match kind {
        EntryKind::File => {
            let (parent, name) = match path.rsplit_once('/') {
                Some((parent, name)) => (format!("{parent}/"), name),
                None => (String::new(), path),
            };
            match name.rsplit_once('.') {
                Some((stem, ext)) if !stem.is_empty() => format!("{parent}{stem}{suffix}.{ext}"),
                _ => format!("{path}{suffix}"),
            }
        }
        EntryKind::Folder => format!("{path}{suffix}"),
    }
}

/// Whether a vault-relative file name is a note (`.md`, exact lowercase suffix, as [`NotePath`]).
pub(super) fn is_note_name(path: &str) -> bool {
    path.ends_with(NOTE_SUFFIX)
}

/// Case-insensitive first, exact as the tie-break, so the order is total and stable.
fn alphabetical(a: &str, b: &str) -> std::cmp::Ordering {
    a.to_lowercase().cmp(&b.to_lowercase()).then_with(|| a.cmp(b))
}

/// The addressable entries of a directory: (name, relative path, kind). Skips dot-entries,
/// symlinks, non-UTF-8 names, files other than `.md`, and names that are not valid paths.
fn visible_entries(dir: &Path, rel: &str) -> Result<Vec<(String, String, EntryKind)>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let file_type = entry.file_type()?;
        if file_type.is_dir() {
            if FolderPath::parse(&child_rel).is_ok() {
                out.push((name, child_rel, EntryKind::Folder));
            }
        } else if file_type.is_file() && name.ends_with(NOTE_SUFFIX) && NotePath::parse(&child_rel).is_ok() {
            out.push((name, child_rel, EntryKind::File));
        }
    }
    Ok(out)
}

/// Lists trash items: recorded ones as recorded, unrecorded markdown files as their own
/// originals with their mtime as deletion time.
fn walk_trash(dir: &Path, rel: &str, index: &TrashIndex, out: &mut Vec<TrashEntry>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let child_rel = if rel.is_empty() {
            name.clone()
        } else {
            format!("{rel}/{name}")
        };
        let file_type = entry.file_type()?;
        if file_type.is_symlink() {
            continue;
        }
        if let Some(record) = index.entries.get(&child_rel) {
            let kind_matches = match record.kind {
                EntryKind::File => file_type.is_file(),
                EntryKind::Folder => file_type.is_dir(),
            };
            if kind_matches {
                out.push(TrashEntry {
                    trash_path: child_rel,
                    original_path: record.original_path.clone(),
                    deleted_at: record.deleted_at,
                    kind: record.kind,
                });
                continue;
            }
        }
        if file_type.is_dir() {
            if FolderPath::parse(&child_rel).is_ok() {
                walk_trash(&dir.join(&name), &child_rel, index, out)?;
            }
        } else if file_type.is_file() && name.ends_with(NOTE_SUFFIX) && NotePath::parse(&child_rel).is_ok() {
            out.push(TrashEntry {
                original_path: child_rel.clone(),
                trash_path: child_rel,
                deleted_at: now_ms(entry.metadata()?.modified()?),
                kind: EntryKind::File,
            });
        }
    }
    Ok(())
}

/// Removes directories left empty below `stop` (never `stop` itself), each removal fsynced into
/// its parent. A directory that is not empty simply stays.
fn remove_empty_parents(removed: &Path, stop: &Path) -> io::Result<()> {
    let mut current = removed.parent();
    while let Some(dir) = current {
        if dir == stop || !dir.starts_with(stop) || fs::remove_dir(dir).is_err() {
            break;
        }
        if let Some(parent) = dir.parent() {
            sync_dir(parent)?;
        }
        current = dir.parent();
    }
    Ok(())
}

/// Removes a file and fsyncs its directory, so the removal survives a power cut.
fn remove_file_durable(file: &Path) -> io::Result<()> {
    fs::remove_file(file)?;
    crate::crash::step("removal of a file");
    match file.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

/// Removes a directory tree and fsyncs its parent.
fn remove_dir_all_durable(dir: &Path) -> io::Result<()> {
    fs::remove_dir_all(dir)?;
    crate::crash::step("removal of a directory");
    match dir.parent() {
        Some(parent) => sync_dir(parent),
        None => Ok(()),
    }
}

pub mod journal;

#[cfg(test)]
mod tests;
