//! User-supplied note and folder paths, validated before they ever touch the disk.
//!
//! A path arrives from a URL wildcard (`/api/notes/{*path}`) or a JSON body. **Percent-decoding
//! must already have happened upstream** (axum's `Path` extractor does it): this module sees the
//! decoded text, so `%2e%2e` is never a way around the `..` check, and a literal `%` is just a
//! character of a file name.
//!
//! Rules (every violation is a [`PathError`], which maps to a 400 and touches nothing):
//! - not empty, at most [`MAX_PATH_BYTES`] bytes in total and [`MAX_SEGMENT_BYTES`] per segment
//!   (measured after `.md` is appended, because that is the name that lands on disk);
//! - relative: no leading `/`, no drive letters, no backslashes at all (so `..\x` and `C:\x`
//!   cannot sneak past on any platform);
//! - segments are separated by a single `/`: empty segments (`a//b`, a trailing `/`) are
//!   **rejected, not collapsed**, so one note has exactly one spelling (ETags, locks and index rows
//!   are keyed by that spelling). The one exception: [`FolderPath::parse`] forgives a single
//!   trailing `/`, which clients commonly send for folders;
//! - no `.` or `..` segment, and no segment starting with `.` at all: dot-entries (`.history`,
//!   `.trash`, the lock file, temp files) are internal and never addressable;
//! - no NUL or other control characters (C0, DEL, C1);
//! - no Windows-reserved device names (`CON`, `PRN`, `AUX`, `NUL`, `COM1`-`COM9`, `LPT1`-`LPT9`,
//!   any case, with or without an extension), and no segment ending in a dot or a space, so a vault
//!   can be copied to Windows or synced by another editor without surprises;
//! - `.md` is appended to note paths that do not already end in `.md` (exact, lowercase suffix).
//!
//! Unicode is accepted as is (no NFC normalisation).
//!
//! [`NotePath::resolve`] adds the on-disk check: no existing component below the user's root may be
//! a symlink, so a link planted in the vault by another tool can never lead outside it.

use std::fmt;
use std::path::{Path, PathBuf};

/// Longest accepted path, in bytes, including the `.md` suffix.
pub const MAX_PATH_BYTES: usize = 512;
/// Longest accepted segment, in bytes: the usual file-name limit of Linux file systems.
pub const MAX_SEGMENT_BYTES: usize = 255;
/// The suffix every note file carries.
pub const NOTE_SUFFIX: &str = ".md";

/// Why a path was refused. Messages name the rule, never echo the input.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path must be relative to the vault (no leading '/' or drive letter)")]
    Absolute,
    #[error("path must not contain backslashes")]
    Backslash,
    #[error("path must not contain NUL or control characters")]
    ControlCharacter,
    #[error("path must not contain empty segments ('//' or a trailing '/')")]
    EmptySegment,
    #[error("path must not contain '.' or '..' segments")]
    DotSegment,
    #[error("path segments must not start with '.' (hidden entries are internal)")]
    Hidden,
    #[error("path segments must not end with a dot or a space")]
    TrailingDotOrSpace,
    #[error("path contains a reserved device name (CON, PRN, AUX, NUL, COM1-9, LPT1-9)")]
    ReservedName,
    #[error("path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("a path segment is longer than {MAX_SEGMENT_BYTES} bytes")]
    SegmentTooLong,
    #[error("a file name must not end in .md (notes are created through /api/notes)")]
    NoteSuffix,
    #[error("path goes through a symbolic link")]
    Symlink,
    #[error("path could not be checked on disk")]
    Io(#[source] std::io::Error),
}

/// A validated note path relative to a user's vault, always ending in `.md`
/// (`Projects/Plan.md`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct NotePath(String);

/// A validated folder path relative to a user's vault (`Projects/2024`); no suffix added.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct FolderPath(String);

impl NotePath {
    /// Validates a decoded user-supplied path, appending `.md` when missing.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        check_raw(raw)?;
        // The segments as written first (`a/..` must fail as `..`, not as the hidden `...md`),
        // then as stored (the appended suffix counts towards the length limits).
        check_segments(raw)?;
        let full = if raw.ends_with(NOTE_SUFFIX) {
            raw.to_owned()
        } else {
            format!("{raw}{NOTE_SUFFIX}")
        };
        check_segments(&full)?;
        Ok(NotePath(full))
    }

    /// The path as stored and indexed (`Projects/Plan.md`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (`Plan.md`).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The file name without `.md` (`Plan`): the title of last resort and the wiki-link name.
    pub fn stem(&self) -> &str {
        let name = self.file_name();
        name.strip_suffix(NOTE_SUFFIX).unwrap_or(name)
    }

    /// The path without `.md` (`Projects/Plan`), as written in wiki-links.
    pub fn without_suffix(&self) -> &str {
        self.0.strip_suffix(NOTE_SUFFIX).unwrap_or(&self.0)
    }

    /// The containing folder, `None` at the vault root.
    pub fn parent(&self) -> Option<FolderPath> {
        self.0.rsplit_once('/').map(|(parent, _)| FolderPath(parent.to_owned()))
    }

    /// This note's path with its first segments replaced: `from` must be an ancestor folder.
    /// Used when a folder is renamed to carry the notes (and their history) along.
    pub fn rebase(&self, from: &FolderPath, to: &FolderPath) -> Option<NotePath> {
        let rest = self.0.strip_prefix(from.as_str())?.strip_prefix('/')?;
        NotePath::parse(&format!("{}/{rest}", to.as_str())).ok()
    }

    /// The absolute file path under `user_root`, refusing if any existing component below the
    /// root is a symlink.
    pub fn resolve(&self, user_root: &Path) -> Result<PathBuf, PathError> {
        resolve_checked(user_root, &self.0)
    }
}

impl FolderPath {
    /// Validates a decoded user-supplied folder path; a single trailing `/` is forgiven.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        let trimmed = raw.strip_suffix('/').unwrap_or(raw);
        check_raw(trimmed)?;
        check_segments(trimmed)?;
        Ok(FolderPath(trimmed.to_owned()))
    }

    /// The path as given (`Projects/2024`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment.
    pub fn name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// Whether `other` is this folder or lies beneath it.
    pub fn contains(&self, other: &str) -> bool {
        other == self.0
            || other
                .strip_prefix(self.0.as_str())
                .is_some_and(|rest| rest.starts_with('/'))
    }

    /// The absolute directory path under `user_root`, refusing symlinked components.
    pub fn resolve(&self, user_root: &Path) -> Result<PathBuf, PathError> {
        resolve_checked(user_root, &self.0)
    }
}

/// A validated path of a file that is not a note (an image, a PDF, a canvas) relative to a user's
/// vault (`attachments/diagram.png`). The same rules as notes, without a suffix appended; a
/// `.md` name is refused because notes have their own routes and index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct FilePath(String);

impl FilePath {
    /// Validates a decoded user-supplied file path.
    pub fn parse(raw: &str) -> Result<Self, PathError> {
        check_raw(raw)?;
        check_segments(raw)?;
        if raw.to_ascii_lowercase().ends_with(NOTE_SUFFIX) {
            return Err(PathError::NoteSuffix);
        }
        Ok(FilePath(raw.to_owned()))
    }

    /// The path as stored (`attachments/diagram.png`).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment (`diagram.png`).
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The absolute file path under `user_root`, refusing symlinked components.
    pub fn resolve(&self, user_root: &Path) -> Result<PathBuf, PathError> {
        resolve_checked(user_root, &self.0)
    }
}

impl fmt::Display for FilePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for NotePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for FolderPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for NotePath {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

/// Checks on the whole string, before it is split.
fn check_raw(raw: &str) -> Result<(), PathError> {
    if raw.is_empty() {
        return Err(PathError::Empty);
    }
    if raw.chars().any(char::is_control) {
        return Err(PathError::ControlCharacter);
    }
    if raw.contains('\\') {
        return Err(PathError::Backslash);
    }
    if raw.starts_with('/') || is_drive_prefix(raw) {
        return Err(PathError::Absolute);
    }
    // Before `.md` is appended, or `a/` would become the hidden name `a/.md`.
    if raw.split('/').any(str::is_empty) {
        return Err(PathError::EmptySegment);
    }
    Ok(())
}

/// `C:` and friends: absolute on Windows, and a colon-prefixed first segment is never a note.
fn is_drive_prefix(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Checks per segment and on the final length (the text as it will land on disk).
fn check_segments(full: &str) -> Result<(), PathError> {
    for segment in full.split('/') {
        check_segment(segment)?;
    }
    if full.len() > MAX_PATH_BYTES {
        return Err(PathError::TooLong);
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), PathError> {
    if segment.is_empty() {
        return Err(PathError::EmptySegment);
    }
    if segment == "." || segment == ".." {
        return Err(PathError::DotSegment);
    }
    if segment.starts_with('.') {
        return Err(PathError::Hidden);
    }
    if segment.ends_with('.') || segment.ends_with(' ') {
        return Err(PathError::TrailingDotOrSpace);
    }
    if is_reserved_name(segment) {
        return Err(PathError::ReservedName);
    }
    if segment.len() > MAX_SEGMENT_BYTES {
        return Err(PathError::SegmentTooLong);
    }
    Ok(())
}

/// Windows device names, matched on the part before the first dot (`con.txt.md` is reserved),
/// ignoring case and trailing spaces of that part.
fn is_reserved_name(segment: &str) -> bool {
    let base = segment.split('.').next().unwrap_or(segment).trim_end();
    let upper = base.to_ascii_uppercase();
    match upper.as_str() {
        "CON" | "PRN" | "AUX" | "NUL" => true,
        _ => {
            let bytes = upper.as_bytes();
            bytes.len() == 4
                && (upper.starts_with("COM") || upper.starts_with("LPT"))
                && (b'1'..=b'9').contains(&bytes[3])
        }
    }
}

/// Joins a validated relative path onto `root`, walking component by component with
/// `symlink_metadata` (which never follows links). Components that do not exist yet end the walk:
/// nothing below a missing directory can exist either.
///
/// There is an unavoidable window between this check and the caller's open; only the server and
/// the user's own tools write into a vault, so the check stops accidents and planted links, not a
/// concurrent local attacker.
pub(crate) fn resolve_checked(root: &Path, relative: &str) -> Result<PathBuf, PathError> {
    let mut path = root.to_path_buf();
    let mut exists = true;
    for segment in relative.split('/') {
        path.push(segment);
        if !exists {
            continue;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.file_type().is_symlink() => return Err(PathError::Symlink),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => exists = false,
            Err(e) if e.kind() == std::io::ErrorKind::NotADirectory => exists = false,
            Err(e) => return Err(PathError::Io(e)),
        }
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(raw: &str) -> Result<String, PathError> {
        NotePath::parse(raw).map(|p| p.as_str().to_owned())
    }

    #[test]
    fn appends_md_when_missing() {
        assert_eq!(note("Plan").unwrap(), "Plan.md");
        assert_eq!(note("Projects/Plan").unwrap(), "Projects/Plan.md");
        assert_eq!(note("Projects/Plan.md").unwrap(), "Projects/Plan.md");
        assert_eq!(note("notes.txt").unwrap(), "notes.txt.md");
        assert_eq!(note("Übersicht/Café 2024").unwrap(), "Übersicht/Café 2024.md");
    }

    #[test]
    fn accessors() {
        let p = NotePath::parse("a/b/Plan").unwrap();
        assert_eq!(p.file_name(), "Plan.md");
        assert_eq!(p.stem(), "Plan");
        assert_eq!(p.without_suffix(), "a/b/Plan");
        assert_eq!(p.parent().unwrap().as_str(), "a/b");
        assert!(NotePath::parse("Plan").unwrap().parent().is_none());
        assert_eq!(p.to_string(), "a/b/Plan.md");
        let from = FolderPath::parse("a").unwrap();
        let to = FolderPath::parse("z/y").unwrap();
        assert_eq!(p.rebase(&from, &to).unwrap().as_str(), "z/y/b/Plan.md");
        assert!(p.rebase(&FolderPath::parse("a/bb").unwrap(), &to).is_none());
        assert!(from.contains("a/b/Plan.md"));
        assert!(from.contains("a"));
        assert!(!from.contains("ab/c.md"));
        assert_eq!(serde_json::to_string(&p).unwrap(), "\"a/b/Plan.md\"");
    }

    #[test]
    fn rejects_empty_and_absolute() {
        assert!(matches!(note(""), Err(PathError::Empty)));
        assert!(matches!(note("/etc/passwd"), Err(PathError::Absolute)));
        assert!(matches!(note("//server/share"), Err(PathError::Absolute)));
        assert!(matches!(note("C:/Windows/x"), Err(PathError::Absolute)));
        assert!(matches!(note("c:x"), Err(PathError::Absolute)));
    }

    #[test]
    fn rejects_traversal() {
        for raw in ["..", "../x", "a/../../x", "a/..", "./a", "a/./b", "."] {
            assert!(matches!(note(raw), Err(PathError::DotSegment)), "{raw}");
        }
        assert!(matches!(FolderPath::parse("a/.."), Err(PathError::DotSegment)));
    }

    #[test]
    fn rejects_backslashes() {
        for raw in ["..\\x", "a\\b", "C:\\x", "\\\\server\\x"] {
            assert!(matches!(note(raw), Err(PathError::Backslash)), "{raw}");
        }
    }

    #[test]
    fn rejects_control_characters() {
        for raw in ["a\0b", "a\nb", "a\rb", "a\tb", "a\u{7f}", "a\u{85}b", "\u{1b}[31m"] {
            assert!(matches!(note(raw), Err(PathError::ControlCharacter)), "{raw:?}");
        }
    }

    #[test]
    fn rejects_empty_segments_instead_of_collapsing() {
        for raw in ["a//b", "a/", "a/b//"] {
            assert!(matches!(note(raw), Err(PathError::EmptySegment)), "{raw}");
        }
        assert_eq!(FolderPath::parse("a/b/").unwrap().as_str(), "a/b");
        assert!(matches!(FolderPath::parse("a//"), Err(PathError::EmptySegment)));
        assert!(matches!(FolderPath::parse("/"), Err(PathError::Empty)));
        assert!(matches!(FolderPath::parse(""), Err(PathError::Empty)));
    }

    #[test]
    fn rejects_hidden_segments() {
        for raw in [".history/a", ".trash/a.md", "a/.git/config", ".md", ".lock", "a/.x"] {
            assert!(matches!(note(raw), Err(PathError::Hidden)), "{raw}");
        }
        assert!(matches!(FolderPath::parse(".trash"), Err(PathError::Hidden)));
    }

    #[test]
    fn rejects_trailing_dots_and_spaces() {
        for raw in ["a./b", "a /b", "Note.", "Note ", "dir./x"] {
            assert!(matches!(note(raw), Err(PathError::TrailingDotOrSpace)), "{raw:?}");
        }
        assert!(note(" leading space ok").is_ok());
    }

    #[test]
    fn rejects_reserved_names() {
        for raw in [
            "CON",
            "con",
            "Con.md",
            "aux.txt",
            "a/NUL",
            "nul.tar.gz",
            "COM1",
            "com9.md",
            "LPT1",
            "lpt9/x",
            "PRN",
            "CON .md",
        ] {
            assert!(matches!(note(raw), Err(PathError::ReservedName)), "{raw}");
        }
        for raw in ["CONSOLE", "COM0", "COM10", "LPT", "auxiliary", "icon", "a/com1x"] {
            assert!(note(raw).is_ok(), "{raw}");
        }
        assert!(matches!(FolderPath::parse("x/Aux"), Err(PathError::ReservedName)));
    }

    #[test]
    fn enforces_length_limits() {
        let segment = "a".repeat(252);
        assert!(note(&segment).is_ok()); // 252 + ".md" = 255
        assert!(matches!(note(&"a".repeat(253)), Err(PathError::SegmentTooLong)));
        let long = ["b".repeat(200), "c".repeat(200), "d".repeat(109)].join("/");
        assert_eq!(long.len() + 3, 514);
        assert!(matches!(note(&long), Err(PathError::TooLong)));
        let fits = ["b".repeat(200), "c".repeat(200), "d".repeat(107)].join("/");
        assert_eq!(note(&fits).unwrap().len(), 512);
        // Multibyte characters count in bytes.
        assert!(matches!(note(&"é".repeat(127)), Err(PathError::SegmentTooLong)));
    }

    #[test]
    fn file_paths_follow_the_note_rules_without_a_suffix() {
        assert_eq!(
            FilePath::parse("attachments/a b.png").unwrap().as_str(),
            "attachments/a b.png"
        );
        assert_eq!(FilePath::parse("x.png").unwrap().file_name(), "x.png");
        assert!(matches!(FilePath::parse("../x.png"), Err(PathError::DotSegment)));
        assert!(matches!(FilePath::parse("a/.hidden.png"), Err(PathError::Hidden)));
        assert!(matches!(FilePath::parse("/etc/passwd"), Err(PathError::Absolute)));
        assert!(matches!(FilePath::parse("a\\b.png"), Err(PathError::Backslash)));
        assert!(matches!(FilePath::parse("Note.MD"), Err(PathError::NoteSuffix)));
        assert!(matches!(FilePath::parse("con.png"), Err(PathError::ReservedName)));
    }

    #[test]
    fn messages_do_not_echo_input() {
        let err = note("../../secret-token-123").unwrap_err();
        assert!(!err.to_string().contains("secret"));
        assert_eq!(err.to_string(), "path must not contain '.' or '..' segments");
    }

    #[test]
    fn percent_sequences_are_literal_characters() {
        // Decoding happens upstream; an encoded traversal here is a strange but harmless name.
        assert_eq!(note("%2e%2e/x").unwrap(), "%2e%2e/x.md");
    }

    #[test]
    fn resolve_joins_under_root() {
        let dir = tempfile::tempdir().unwrap();
        let p = NotePath::parse("a/b/c").unwrap();
        assert_eq!(p.resolve(dir.path()).unwrap(), dir.path().join("a/b/c.md"));
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/b/c.md"), "x").unwrap();
        assert_eq!(p.resolve(dir.path()).unwrap(), dir.path().join("a/b/c.md"));
    }

    #[cfg(unix)]
    #[test]
    fn resolve_refuses_symlinks_anywhere_below_root() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.md"), "s").unwrap();
        let root = dir.path();
        std::os::unix::fs::symlink(outside.path(), root.join("escape")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.md"), root.join("link.md")).unwrap();
        // A dangling link is still a link.
        std::os::unix::fs::symlink("/nonexistent/target", root.join("dangling.md")).unwrap();
        for raw in ["escape/secret", "escape/new", "link", "dangling"] {
            assert!(
                matches!(NotePath::parse(raw).unwrap().resolve(root), Err(PathError::Symlink)),
                "{raw}"
            );
        }
        assert!(matches!(
            FolderPath::parse("escape").unwrap().resolve(root),
            Err(PathError::Symlink)
        ));
    }

    #[test]
    fn resolve_through_a_file_is_not_a_symlink_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.md"), "x").unwrap();
        let p = NotePath::parse("a.md/b").unwrap();
        assert!(p.resolve(dir.path()).is_ok());
    }
}
