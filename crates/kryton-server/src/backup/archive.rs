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
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use super::sql::{Dumped, Hashing};
use super::{BackupError, FORMAT, FORMAT_VERSION, MANIFEST, Manifest, Part, PartKind, TableEntry};

/// The largest manifest a restore will read into memory.
const MANIFEST_LIMIT: u64 = 256 << 20;

/// Writes the archive to `<out>.partial`, fsyncs it, then renames it to `out`: a failed backup
/// never leaves a file under the final name.
pub fn write(
    out: &Path,
    tables: Vec<Dumped>,
    notes_dir: &Path,
    mut manifest: Manifest,
) -> Result<Manifest, BackupError> {
    let file_name = out
        .file_name()
        .ok_or_else(|| BackupError::Failed(format!("{} is not a file name", out.display())))?;
    let partial = out.with_file_name(format!("{}.partial", file_name.to_string_lossy()));
    let result = write_partial(&partial, tables, notes_dir, &mut manifest);
    let result = result.and_then(|()| {
        std::fs::rename(&partial, out)?;
        if let Some(dir) = out.parent().filter(|d| !d.as_os_str().is_empty())
            && let Ok(dir) = File::open(dir)
        {
            // The rename itself must survive a crash.
            let _ = dir.sync_all();
        }
        Ok(())
    });
    if let Err(error) = result {
        let _ = std::fs::remove_file(&partial);
        return Err(error);
    }
    Ok(manifest)
}

fn write_partial(
    partial: &Path,
    tables: Vec<Dumped>,
    notes_dir: &Path,
    manifest: &mut Manifest,
) -> Result<(), BackupError> {
    let file =
        File::create(partial).map_err(|e| BackupError::Failed(format!("cannot create {}: {e}", partial.display())))?;
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
    }
    if notes_dir.is_dir() {
        add_tree(&mut tar, notes_dir, manifest)?;
    }
    let text = serde_json::to_vec_pretty(manifest).map_err(|e| BackupError::Failed(e.to_string()))?;
    let mut header = file_header(text.len() as u64, now);
    tar.append_data(&mut header, MANIFEST, text.as_slice())?;
    let gz = tar.into_inner()?;
    let writer = gz.finish()?;
    let file = writer.into_inner().map_err(|e| BackupError::from(e.into_error()))?;
    file.sync_all()?;
    Ok(())
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
fn add_tree<W: Write>(tar: &mut tar::Builder<W>, root: &Path, manifest: &mut Manifest) -> Result<(), BackupError> {
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
    manifest: Option<Vec<u8>>,
}

fn open(path: &Path) -> Result<tar::Archive<GzDecoder<BufReader<File>>>, BackupError> {
    let file = File::open(path).map_err(|e| BackupError::Failed(format!("cannot open {}: {e}", path.display())))?;
    Ok(tar::Archive::new(GzDecoder::new(BufReader::new(file))))
}

fn corrupt(error: std::io::Error) -> BackupError {
    BackupError::Corrupt(format!(
        "the archive cannot be read to its end ({error}): truncated or damaged"
    ))
}

/// Reads every entry, hashing it, and hands each one to `sink` (which may write it somewhere).
fn pass(
    path: &Path,
    mut sink: impl FnMut(&str, PartKind, u64, &mut dyn Read) -> Result<(), BackupError>,
) -> Result<Seen, BackupError> {
    let mut archive = open(path)?;
    let mut seen = Seen {
        order: Vec::new(),
        parts: BTreeMap::new(),
        manifest: None,
    };
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let name = check_name(&entry.path_bytes())?;
        let kind = match entry.header().entry_type() {
            tar::EntryType::Regular | tar::EntryType::Continuous => PartKind::File,
            tar::EntryType::Directory => PartKind::Dir,
            other => {
                return Err(BackupError::Corrupt(format!(
                    "entry {name} is a {other:?}, not a file or directory"
                )));
            }
        };
        if seen.parts.contains_key(&name) || (name == MANIFEST && seen.manifest.is_some()) {
            return Err(BackupError::Corrupt(format!("entry {name} appears twice")));
        }
        if name == MANIFEST {
            let mut text = Vec::new();
            (&mut entry)
                .take(MANIFEST_LIMIT)
                .read_to_end(&mut text)
                .map_err(corrupt)?;
            seen.manifest = Some(text);
            continue;
        }
        let mtime = entry.header().mtime().unwrap_or(0);
        let mut reader = Hashing::new(&mut entry);
        sink(&name, kind, mtime, &mut reader)?;
        // Whatever the sink did not read still counts.
        std::io::copy(&mut reader, &mut std::io::sink()).map_err(corrupt)?;
        let (_, size, sha256) = reader.finish();
        let sha256 = (kind == PartKind::File).then_some(sha256);
        seen.order.push(name.clone());
        seen.parts.insert(name, (kind, size, sha256));
    }
    // The gzip trailer (CRC and length) is checked only when the stream is read to its end.
    std::io::copy(&mut archive.into_inner(), &mut std::io::sink()).map_err(corrupt)?;
    Ok(seen)
}

/// Parses a manifest, refusing formats this binary does not know before reading the rest.
fn parse_manifest(text: &[u8]) -> Result<Manifest, BackupError> {
    let value: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| BackupError::Corrupt(format!("{MANIFEST} is not valid JSON ({e})")))?;
    if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
        return Err(BackupError::Corrupt(format!(
            "{MANIFEST} does not describe a kryton backup"
        )));
    }
    let version = value
        .get("formatVersion")
        .and_then(serde_json::Value::as_u64)
        .unwrap_or(0);
    if version != u64::from(FORMAT_VERSION) {
        return Err(BackupError::Corrupt(format!(
            "archive format version {version} is not known to this binary (it reads version {FORMAT_VERSION})"
        )));
    }
    serde_json::from_value(value).map_err(|e| BackupError::Corrupt(format!("{MANIFEST} is malformed ({e})")))
}

/// Checks what a pass saw against the manifest: every listed part present with its size and hash,
/// nothing unlisted, tables in the listed order.
fn check(seen: &Seen) -> Result<Manifest, BackupError> {
    let text = seen.manifest.as_deref().ok_or_else(|| {
        BackupError::Corrupt(format!(
            "the archive has no {MANIFEST}: truncated or not a kryton backup"
        ))
    })?;
    let manifest = parse_manifest(text)?;
    let mut listed: BTreeMap<&str, &Part> = BTreeMap::new();
    for part in &manifest.parts {
        check_name(part.path.as_bytes())?;
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
    Ok(manifest)
}

/// Pass one: reads the whole archive and checks it; writes nothing anywhere.
pub fn verify(path: &Path) -> Result<Manifest, BackupError> {
    let seen = pass(path, |_, _, _, _| Ok(()))?;
    check(&seen)
}

/// Pass two: extracts the table parts into anonymous files in `staging` and the notes tree under
/// `staging/notes`, checking everything against `expected` again (the file could have changed
/// since pass one). Returns the table files in load order.
pub fn extract(path: &Path, staging: &Path, expected: &Manifest) -> Result<Vec<(String, File)>, BackupError> {
    let mut tables: Vec<(String, File)> = Vec::new();
    let seen = pass(path, |name, kind, mtime, reader| {
        if let Some(table) = name.strip_prefix("db/").and_then(|n| n.strip_suffix(".jsonl")) {
            let mut file = tempfile::tempfile_in(staging)?;
            std::io::copy(reader, &mut file).map_err(corrupt)?;
            std::io::Seek::rewind(&mut file)?;
            tables.push((table.to_owned(), file));
            return Ok(());
        }
        // check_name has confined `name` to relative, `..`-free components under notes/.
        let target = staging.join(name);
        match kind {
            PartKind::Dir => std::fs::create_dir_all(&target)?,
            PartKind::File => {
                if let Some(parent) = target.parent() {
                    std::fs::create_dir_all(parent)?;
                }
                let mut out = BufWriter::new(File::create(&target)?);
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
    if serde_json::to_value(&manifest).ok() != serde_json::to_value(expected).ok() {
        return Err(BackupError::Corrupt(
            "the archive changed between verification and extraction".to_owned(),
        ));
    }
    Ok(tables)
}
