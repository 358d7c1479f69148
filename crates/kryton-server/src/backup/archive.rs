//! The archive itself: a gzip-compressed tar, written and read as a stream (blocking I/O; callers
//! run it on a blocking thread).
//!
//! Entry order: `db/<table>.jsonl` (in load order), then `notes/...`, then `manifest.json` last:
//! a truncated archive therefore always lacks its manifest.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::bufread::GzDecoder;
use flate2::write::GzEncoder;

use super::sql::{Dumped, Hashing};
use super::{BackupError, FORMAT, FORMAT_VERSION, MANIFEST, Manifest, Part, PartKind, TableEntry};
use crate::progress::Progress;

/// Writes the archive to `<out>.partial`, fsyncs it, then renames it to `out`: a failed backup
/// never leaves a file under the final name. The partial file is private (0600: the archive holds
/// password hashes) and locked for as long as it is written, which is how a later backup tells a
/// partial file of a live writer from one left by a killed process (see [`sweep_orphans`]).
pub fn write(
    out: &Path,
    tables: Vec<Dumped>,
    notes_dir: &Path,
    mut manifest: Manifest,
    progress: &Progress,
) -> Result<Manifest, BackupError> {
    let file_name = out
        .file_name()
        .ok_or_else(|| BackupError::Failed(format!("{} is not a file name", out.display())))?;
    let partial = out.with_file_name(format!("{}.partial", file_name.to_string_lossy()));
    let dir = out
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    sweep_orphans(&dir, &partial);
    let file = create_locked(&partial)?;
    let result = write_partial(file, tables, notes_dir, &mut manifest, progress);
    let result = result.and_then(|locked| {
        std::fs::rename(&partial, out)?;
        // The rename itself must survive a crash.
        sync_dir(&dir)?;
        drop(locked); // held until the partial name is gone
        Ok(())
    });
    if let Err(error) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    Ok(manifest)
}

/// Creates (or takes over) `partial`, 0600, holding an exclusive lock on it. The lock is checked to
/// be on the file that still has that name: a sweeper may have removed an old one in between.
fn create_locked(partial: &Path) -> Result<File, BackupError> {
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let cannot = |e: std::io::Error| BackupError::Failed(format!("cannot create {}: {e}", partial.display()));
    for _ in 0..10 {
        let file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(partial)
            .map_err(cannot)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(BackupError::Failed(format!(
                    "another backup is writing {} right now",
                    partial.display()
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(cannot(e)),
        }
        let held = file.metadata().map_err(cannot)?;
        match std::fs::metadata(partial) {
            Ok(named) if named.dev() == held.dev() && named.ino() == held.ino() => {
                file.set_len(0).map_err(cannot)?;
                file.set_permissions(std::fs::Permissions::from_mode(0o600))
                    .map_err(cannot)?;
                return Ok(file);
            }
            // Removed (or replaced) between our open and our lock: try again on a fresh file.
            _ => continue,
        }
    }
    Err(BackupError::Failed(format!(
        "cannot take the lock on {}",
        partial.display()
    )))
}

/// Removes `.partial` archives left in `dir` by a backup that was killed: ours (`kryton-*.partial`,
/// and the one this backup is about to write). One that a live process is still writing is locked
/// and left alone. Best effort: a failure is logged, never fatal.
pub fn sweep_orphans(dir: &Path, own: &Path) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut removed = false;
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.ends_with(".partial") && (name.starts_with("kryton-") || path == own)) {
            continue;
        }
        let Ok(file) = File::open(&path) else { continue };
        if file.try_lock().is_err() {
            continue; // a live backup is writing it
        }
        let (Ok(held), Ok(named)) = (file.metadata(), std::fs::symlink_metadata(&path)) else {
            continue;
        };
        if !named.is_file() || held.dev() != named.dev() || held.ino() != named.ino() {
            continue;
        }
        match std::fs::remove_file(&path) {
            Ok(()) => {
                tracing::info!(path = %path.display(), "removed a partial backup left by an interrupted run");
                removed = true;
            }
            Err(error) => tracing::warn!(%error, path = %path.display(), "could not remove a stale partial backup"),
        }
    }
    if removed && let Err(error) = sync_dir(dir) {
        tracing::warn!(%error, "after removing stale partial backups");
    }
}

fn write_partial(
    file: File,
    tables: Vec<Dumped>,
    notes_dir: &Path,
    manifest: &mut Manifest,
    progress: &Progress,
) -> Result<File, BackupError> {
    let mut tar = tar::Builder::new(GzEncoder::new(BufWriter::new(file), Compression::default()));
    let now = time::OffsetDateTime::now_utc().unix_timestamp().max(0) as u64;
    for table in tables {
        let path = format!("db/{}.jsonl", table.name);
        let mut header = file_header(table.size, now);
        let mut reader = Hashing::new(BufReader::new(table.file).take(table.size));
        tar.append_data(&mut header, &path, &mut reader)?;
        let (_, size, sha256) = reader.finish();
        if size != table.size || sha256 != table.sha256 {
            return Err(BackupError::Failed(format!(
                "the spooled copy of table {} changed",
                table.name
            )));
        }
        manifest.tables.push(TableEntry {
            name: table.name,
            rows: table.rows,
        });
        manifest.parts.push(Part {
            path,
            kind: PartKind::File,
            size,
            sha256: Some(sha256),
        });
        progress.inc(1);
    }
    super::fault_point("backup:tables-written");
    if notes_dir.is_dir() {
        add_tree(&mut tar, notes_dir, manifest, progress)?;
    }
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Failed(e.to_string()))?;
    let mut header = file_header(text.len() as u64, now);
    tar.append_data(&mut header, MANIFEST, text.as_slice())?;
    let gz = tar.into_inner()?;
    let writer = gz.finish()?;
    let file = writer.into_inner().map_err(|e| BackupError::from(e.into_error()))?;
    file.sync_all()?;
    Ok(file)
}

fn file_header(size: u64, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(mtime);
    header
}

fn mtime_of(meta: &std::fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// The notes tree, file by file, in name order. Each file is read through the handle it was opened
/// with, for exactly the size that handle reports: the server replaces notes by renaming a new
/// file over the old, so an open handle keeps seeing one whole version.
fn add_tree<W: Write>(
    tar: &mut tar::Builder<W>,
    root: &Path,
    manifest: &mut Manifest,
    progress: &Progress,
) -> Result<(), BackupError> {
    let mut stack: Vec<(PathBuf, String)> = vec![(root.to_path_buf(), "notes".to_owned())];
    while let Some((dir, name)) = stack.pop() {
        let mut children: Vec<(String, PathBuf)> = Vec::new();
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let child = entry.file_name().into_string().map_err(|raw| {
                BackupError::Failed(format!(
                    "{} has a name that is not UTF-8 ({raw:?}); rename it and back up again",
                    dir.display()
                ))
            })?;
            children.push((child, entry.path()));
        }
        children.sort();
        // Reverse onto the stack so that directories are walked in name order.
        let mut subdirs = Vec::new();
        for (child, path) in children {
            let part = format!("{name}/{child}");
            let meta = match std::fs::symlink_metadata(&path) {
                Ok(meta) => meta,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e.into()),
            };
            if meta.is_dir() {
                let mut header = tar::Header::new_gnu();
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                header.set_mode(0o755);
                header.set_mtime(mtime_of(&meta));
                tar.append_data(&mut header, &part, std::io::empty())?;
                manifest.parts.push(Part {
                    path: part.clone(),
                    kind: PartKind::Dir,
                    size: 0,
                    sha256: None,
                });
                subdirs.push((path, part));
            } else if meta.is_file() {
                let file = match File::open(&path) {
                    Ok(file) => file,
                    // Deleted (or moved to the trash) since the directory was listed.
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(BackupError::Failed(format!("cannot read {}: {e}", path.display()))),
                };
                let meta = file.metadata()?;
                let size = meta.len();
                let mut header = file_header(size, mtime_of(&meta));
                let mut reader = Hashing::new(BufReader::new(file).take(size));
                tar.append_data(&mut header, &part, &mut reader)?;
                let (_, read, sha256) = reader.finish();
                if read != size {
                    return Err(BackupError::Failed(format!(
                        "{} shrank while it was being read ({read} of {size} bytes); back up again",
                        path.display()
                    )));
                }
                manifest.parts.push(Part {
                    path: part,
                    kind: PartKind::File,
                    size,
                    sha256: Some(sha256),
                });
                progress.inc(1);
            } else {
                tracing::warn!(path = %path.display(), "not a regular file or directory (a symlink?); left out of the backup");
            }
        }
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(())
}

/// An entry name that may appear in an archive: `manifest.json`, `db/<table>.jsonl` or a relative
/// path under `notes/`, with no empty, `.` or `..` component. Anything else is refused.
pub fn check_name(raw: &[u8]) -> Result<String, BackupError> {
    let refuse = |why: &str| BackupError::Corrupt(format!("entry {:?} {why}", String::from_utf8_lossy(raw)));
    let name = std::str::from_utf8(raw).map_err(|_| refuse("is not UTF-8"))?;
    let name = name.strip_suffix('/').unwrap_or(name);
    if name.starts_with('/') || name.contains('\0') || name.contains('\\') {
        return Err(refuse("is an absolute or unsafe path"));
    }
    let components: Vec<&str> = name.split('/').collect();
    if components.iter().any(|c| c.is_empty() || *c == "." || *c == "..") {
        return Err(refuse("escapes the archive (empty, `.` or `..` component)"));
    }
    match components.as_slice() {
        [MANIFEST] => {}
        ["db", file] => {
            let table = file
                .strip_suffix(".jsonl")
                .ok_or_else(|| refuse("is not a table part"))?;
            if !super::sql::is_identifier(table) {
                return Err(refuse("names a table that is not a plain identifier"));
            }
        }
        ["notes", ..] => {}
        _ => return Err(refuse("is not a part of a kryton backup")),
    }
    Ok(name.to_owned())
}

/// What one pass over the archive saw.
struct Seen {
    order: Vec<String>,
    parts: BTreeMap<String, (PartKind, u64, Option<String>)>,
    /// Lines (rows) of each table part, to compare with the manifest's counts.
    lines: BTreeMap<String, u64>,
    manifest: Option<Manifest>,
}

type Reader = tar::Archive<GzDecoder<BufReader<File>>>;

fn open(path: &Path) -> Result<Reader, BackupError> {
    let file = File::open(path).map_err(|e| BackupError::Failed(format!("cannot open {}: {e}", path.display())))?;
    // `bufread::GzDecoder` reads exactly ONE gzip member and leaves what follows it in the
    // `BufReader`, where `finish` looks for it.
    Ok(tar::Archive::new(GzDecoder::new(BufReader::new(file))))
}

fn corrupt(error: std::io::Error) -> BackupError {
    BackupError::Corrupt(format!(
        "the archive cannot be read to its end ({error}): truncated or damaged"
    ))
}

/// The manifest describes the entries before it: per entry a few fixed fields and its name
/// (JSON-escaped at most six bytes per byte), plus a fixed head. Anything larger cannot be a
/// manifest of this archive and is refused before a byte of it is read.
pub fn manifest_limit(entries: &[String]) -> u64 {
    const HEAD: u64 = 64 << 10;
    const PER_ENTRY: u64 = 512;
    entries
        .iter()
        .fold(HEAD, |sum, name| sum + PER_ENTRY + 6 * name.len() as u64)
}

/// Counts and hashes what passes through, and counts newlines (rows of a table part).
struct Lines<R> {
    inner: Hashing<R>,
    newlines: u64,
    last: Option<u8>,
}

impl<R: Read> Read for Lines<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.newlines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        if n > 0 {
            self.last = Some(buf[n - 1]);
        }
        Ok(n)
    }
}

/// Reads every entry, hashing it, and hands each one to `sink` (which may write it somewhere).
/// Strict: one gzip member, nothing after it, nothing but zero padding after the tar's end, the
/// manifest last and bounded by what it can describe.
fn pass(
    path: &Path,
    progress: &Progress,
    mut sink: impl FnMut(&str, PartKind, u64, &mut dyn Read) -> Result<(), BackupError>,
) -> Result<Seen, BackupError> {
    let mut archive = open(path)?;
    let mut seen = Seen {
        order: Vec::new(),
        parts: BTreeMap::new(),
        lines: BTreeMap::new(),
        manifest: None,
    };
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let name = check_name(&entry.path_bytes())?;
        if seen.manifest.is_some() {
            return Err(BackupError::Corrupt(format!(
                "entry {name} follows {MANIFEST}, which is always the last entry"
            )));
        }
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => PartKind::File,
            tar::EntryType::Directory => PartKind::Dir,
            other => {
                return Err(BackupError::Corrupt(format!(
                    "entry {name} is a {other:?}, not a file or directory"
                )));
            }
        };
        if seen.parts.contains_key(&name) {
            return Err(BackupError::Corrupt(format!("entry {name} appears twice")));
        }
        if name == MANIFEST {
            let limit = manifest_limit(&seen.order);
            let size = entry.header().size().map_err(corrupt)?;
            if size > limit {
                return Err(BackupError::Corrupt(format!(
                    "{MANIFEST} has {size} bytes, more than the {limit} a manifest of {} entries can need",
                    seen.order.len()
                )));
            }
            // Parsed as it is read (never held as text), and at most `limit` bytes of it.
            let reader = BufReader::new((&mut entry).take(limit));
            let manifest = parse_manifest(reader)?;
            std::io::copy(&mut entry, &mut std::io::sink()).map_err(corrupt)?;
            seen.manifest = Some(manifest);
            continue;
        }
        let mtime = entry.header().mtime().unwrap_or(0);
        let mut reader = Lines {
            inner: Hashing::new(&mut entry),
            newlines: 0,
            last: None,
        };
        sink(&name, kind, mtime, &mut reader)?;
        // Whatever the sink did not read still counts.
        std::io::copy(&mut reader, &mut std::io::sink()).map_err(corrupt)?;
        let (newlines, last) = (reader.newlines, reader.last);
        let (_, size, sha256) = reader.inner.finish();
        if let Some(table) = name.strip_prefix("db/").and_then(|n| n.strip_suffix(".jsonl")) {
            if last.is_some_and(|b| b != b'\n') {
                return Err(BackupError::Corrupt(format!("part {name} does not end with a newline")));
            }
            seen.lines.insert(table.to_owned(), newlines);
        }
        let sha256 = (kind == PartKind::File).then_some(sha256);
        seen.order.push(name.clone());
        seen.parts.insert(name, (kind, size, sha256));
        progress.inc(1);
    }
    finish(archive.into_inner())?;
    Ok(seen)
}

/// After the tar's end-of-archive marker: only zero padding may follow inside the gzip member
/// (read to its end, which checks its CRC and length), and nothing at all after the member.
fn finish(mut gz: GzDecoder<BufReader<File>>) -> Result<(), BackupError> {
    let mut buf = [0u8; 8192];
    loop {
        let n = gz.read(&mut buf).map_err(corrupt)?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Err(BackupError::Corrupt(
                "there is data after the end of the tar archive".to_owned(),
            ));
        }
    }
    let mut rest = gz.into_inner();
    let mut head = [0u8; 2];
    let n = rest.read(&mut head)?;
    if n == 0 {
        return Ok(());
    }
    if n == 2 && head == [0x1f, 0x8b] {
        return Err(BackupError::Corrupt(
            "the file holds a second gzip member after the archive".to_owned(),
        ));
    }
    Err(BackupError::Corrupt(
        "there is data after the end of the gzip stream".to_owned(),
    ))
}

/// Parses a manifest as a stream; unknown fields are refused (the format is ours and versioned).
fn parse_manifest(reader: impl Read) -> Result<Manifest, BackupError> {
    let manifest: Manifest = serde_json::from_reader(reader)
        .map_err(|e| BackupError::Corrupt(format!("{MANIFEST} is not a valid manifest ({e})")))?;
    if manifest.format != FORMAT {
        return Err(BackupError::Corrupt(format!(
            "{MANIFEST} does not describe a kryton backup"
        )));
    }
    if manifest.format_version != FORMAT_VERSION {
        return Err(BackupError::Corrupt(format!(
            "archive format version {} is not known to this binary (it reads version {FORMAT_VERSION})",
            manifest.format_version
        )));
    }
    Ok(manifest)
}

fn plain(text: &str, max: usize, allowed: impl Fn(char) -> bool) -> bool {
    !text.is_empty() && text.len() <= max && text.chars().all(allowed)
}

/// The manifest's own fields, and its tables and parts against what the archive holds.
fn check_fields(manifest: &Manifest, seen: &Seen) -> Result<(), BackupError> {
    let bad = |what: String| Err(BackupError::Corrupt(format!("{MANIFEST}: {what}")));
    if !matches!(manifest.backend.as_str(), "postgres" | "sqlite") {
        return bad(format!("backend {:?} is neither postgres nor sqlite", manifest.backend));
    }
    let version_ok = plain(&manifest.kryton_version, 64, |c| {
        c.is_ascii_alphanumeric() || ".-+".contains(c)
    }) && manifest.kryton_version.starts_with(|c: char| c.is_ascii_digit());
    if !version_ok {
        return bad(format!(
            "krytonVersion {:?} is not a release version",
            manifest.kryton_version
        ));
    }
    if !plain(&manifest.kryton_commit, 64, |c| {
        c.is_ascii_alphanumeric() || "-._+".contains(c)
    }) {
        return bad(format!("krytonCommit {:?} is not a commit id", manifest.kryton_commit));
    }
    if manifest.schema_version < 1 {
        return bad(format!(
            "schemaVersion {} is not a migration version",
            manifest.schema_version
        ));
    }
    let created = time::OffsetDateTime::parse(&manifest.created_at, &time::format_description::well_known::Rfc3339)
        .map_err(|_| {
            BackupError::Corrupt(format!(
                "{MANIFEST}: createdAt {:?} is not an RFC 3339 time",
                manifest.created_at
            ))
        })?;
    // A day of clock skew is tolerated; an archive from further in the future was not taken here.
    if created > time::OffsetDateTime::now_utc() + time::Duration::days(1) {
        return bad(format!("createdAt {} is in the future", manifest.created_at));
    }
    let mut names = std::collections::BTreeSet::new();
    for table in &manifest.tables {
        if !super::sql::is_identifier(&table.name) || !names.insert(table.name.as_str()) {
            return bad(format!("table {:?} is not a plain name or is listed twice", table.name));
        }
        let rows = seen.lines.get(&table.name).copied().unwrap_or(0);
        if rows != table.rows {
            return bad(format!(
                "table {} has {rows} rows in the archive; the manifest says {}",
                table.name, table.rows
            ));
        }
    }
    for part in &manifest.parts {
        let consistent = match part.kind {
            PartKind::File => part
                .sha256
                .as_deref()
                .is_some_and(|h| h.len() == 64 && h.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())),
            PartKind::Dir => part.size == 0 && part.sha256.is_none() && part.path.starts_with("notes/"),
        };
        if !consistent {
            return bad(format!("part {} is described inconsistently", part.path));
        }
    }
    Ok(())
}

/// Checks what a pass saw against the manifest: every listed part present with its size and hash,
/// nothing unlisted, tables in the listed order with the listed row counts, fields well-formed.
fn check(seen: &Seen) -> Result<Manifest, BackupError> {
    let manifest = seen.manifest.clone().ok_or_else(|| {
        BackupError::Corrupt(format!(
            "the archive has no {MANIFEST}: truncated or not a kryton backup"
        ))
    })?;
    let mut listed: BTreeMap<&str, &Part> = BTreeMap::new();
    for part in &manifest.parts {
        check_name(part.path.as_bytes())?;
        if part.path == MANIFEST {
            return Err(BackupError::Corrupt(format!("{MANIFEST} lists itself as a part")));
        }
        if listed.insert(part.path.as_str(), part).is_some() {
            return Err(BackupError::Corrupt(format!("{MANIFEST} lists {} twice", part.path)));
        }
    }
    for (name, part) in &listed {
        let Some((kind, size, sha256)) = seen.parts.get(*name) else {
            return Err(BackupError::Corrupt(format!(
                "part {name} is listed in the manifest but missing"
            )));
        };
        if *kind != part.kind {
            return Err(BackupError::Corrupt(format!(
                "part {name} is not the kind the manifest says"
            )));
        }
        if *size != part.size {
            return Err(BackupError::Corrupt(format!(
                "part {name} has {size} bytes; the manifest says {}",
                part.size
            )));
        }
        if *sha256 != part.sha256 {
            return Err(BackupError::Corrupt(format!(
                "part {name} does not match its SHA-256 in the manifest (damaged or altered)"
            )));
        }
    }
    if let Some(extra) = seen.parts.keys().find(|name| !listed.contains_key(name.as_str())) {
        return Err(BackupError::Corrupt(format!(
            "part {extra} is not listed in the manifest"
        )));
    }
    let tables_in_archive: Vec<&str> = seen
        .order
        .iter()
        .filter_map(|n| n.strip_prefix("db/").and_then(|n| n.strip_suffix(".jsonl")))
        .collect();
    let tables_listed: Vec<&str> = manifest.tables.iter().map(|t| t.name.as_str()).collect();
    if tables_in_archive != tables_listed {
        return Err(BackupError::Corrupt(
            "the table parts are not the ones (or not in the order) the manifest lists".to_owned(),
        ));
    }
    check_fields(&manifest, seen)?;
    Ok(manifest)
}

/// Pass one: reads the whole archive and checks it; writes nothing anywhere.
pub fn verify(path: &Path, progress: &Progress) -> Result<Manifest, BackupError> {
    let seen = pass(path, progress, |_, _, _, _| Ok(()))?;
    check(&seen)
}

/// Pass two: extracts the table parts into anonymous files in `staging` and the notes tree under
/// `staging/notes`, checking everything against `expected` again (the file could have changed
/// since pass one). Returns the table files in load order.
pub fn extract(
    path: &Path,
    staging: &Path,
    expected: &Manifest,
    progress: &Progress,
) -> Result<Vec<(String, File)>, BackupError> {
    let mut tables: Vec<(String, File)> = Vec::new();
    let seen = pass(path, progress, |name, kind, mtime, reader| {
        if let Some(table) = name.strip_prefix("db/").and_then(|n| n.strip_suffix(".jsonl")) {
            let mut file = tempfile::tempfile_in(staging)?;
            std::io::copy(reader, &mut file).map_err(corrupt)?;
            std::io::Seek::rewind(&mut file)?;
            tables.push((table.to_owned(), file));
            return Ok(());
        }
        // check_name has confined `name` to relative, `..`-free components under notes/, and
        // staging is a new directory: nothing in it can be a symlink.
        let target = staging.join(name);
        match kind {
            PartKind::Dir => private_dir_all(&target)?,
            PartKind::File => {
                if let Some(parent) = target.parent() {
                    private_dir_all(parent)?;
                }
                let mut out = BufWriter::new(private_file(&target)?);
                std::io::copy(reader, &mut out).map_err(corrupt)?;
                let file = out.into_inner().map_err(|e| BackupError::from(e.into_error()))?;
                // File times as they were (the index compares them); tar keeps whole seconds.
                file.set_modified(std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime))?;
                file.sync_all()?;
            }
        }
        Ok(())
    })?;
    let manifest = check(&seen)?;
    // Every file was fsynced as it was written; the directory entries too, before anything relies
    // on the staged tree.
    sync_tree(&staging.join("notes"))?;
    sync_dir(staging)?;
    if serde_json::to_value(&manifest).ok() != serde_json::to_value(expected).ok() {
        return Err(BackupError::Corrupt(
            "the archive changed between verification and extraction".to_owned(),
        ));
    }
    Ok(tables)
}

/// `create_dir_all` whose new directories are private to the server's user (0700), whatever the
/// umask.
pub fn private_dir_all(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        private_dir_all(parent)?;
    }
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e),
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    // The new entry must survive a crash as well as what is put in it.
    match dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        Some(parent) => sync_dir(parent),
        None => sync_dir(Path::new(".")),
    }
}

/// A new (or truncated) file readable and writable by the server's user only (0600), whatever the
/// umask.
pub fn private_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    Ok(file)
}

/// fsync of a directory: makes the entries created, renamed or removed in it durable. A failure
/// is an error, never ignored.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot fsync the directory {}: {e}", dir.display())))
}

/// fsync of every directory below `root` (included); a missing root is nothing to do.
fn sync_tree(root: &Path) -> std::io::Result<()> {
    if !root.is_dir() {
        return Ok(());
    }
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            if entry.file_type()?.is_dir() {
                stack.push(entry.path());
            }
        }
        sync_dir(&dir)?;
    }
    Ok(())
}
