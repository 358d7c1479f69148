//! Migration files: names, header directives, canonical text and checksums.

use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::lint::non_additive_statements;

/// Which SQL dialect a set of files is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Postgres,
    Sqlite,
}

impl Dialect {
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::Sqlite => "sqlite",
        }
    }
}

/// Whether the release before a migration keeps working after it ran.
///
/// Stored in the ledger, so that an older binary which lacks the file can still judge it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    /// Additive: the previous release keeps working against the new schema.
    Expand,
    /// Drops, renames, type changes...: the previous release may break.
    Contract,
}

impl Compat {
    pub fn as_str(self) -> &'static str {
        match self {
            Compat::Expand => "expand",
            Compat::Contract => "contract",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "expand" => Some(Compat::Expand),
            "contract" => Some(Compat::Contract),
            _ => None,
        }
    }
}

/// A problem with the migration files themselves (found at build or boot, before any database work).
#[derive(Debug, thiserror::Error)]
#[error("migration file {file}: {message}")]
pub struct SourceError {
    pub file: String,
    pub message: String,
}

fn source_error(file: &str, message: impl Into<String>) -> SourceError {
    SourceError {
        file: file.to_owned(),
        message: message.into(),
    }
}

/// One migration file, parsed.
#[derive(Clone, Debug)]
pub struct Migration {
    pub version: i64,
    pub slug: String,
    pub file_name: String,
    pub compat: Compat,
    /// `-- kryton:no-transaction`: statements run one by one, outside a transaction.
    pub no_transaction: bool,
    pub lock_timeout: Option<Duration>,
    pub statement_timeout: Option<Duration>,
    /// Canonical text: UTF-8, no BOM, LF line endings.
    pub sql: String,
    /// Hex SHA-256 of the canonical text.
    pub checksum: String,
}

/// The marker that separates statements of a no-transaction file.
const STATEMENT_MARKER: &str = "-- kryton:statement";

impl Migration {
    /// Parses `NNNN_slug.sql` and its header directives.
    pub fn parse(file_name: &str, text: &str) -> Result<Self, SourceError> {
        let (version, slug) = parse_file_name(file_name)?;
        let sql = canonical_text(text);
        let checksum = checksum(&sql);
        let mut compat = None;
        let mut no_transaction = false;
        let mut lock_timeout = None;
        let mut statement_timeout = None;
        for line in sql.lines() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let Some(comment) = line.strip_prefix("--") else {
                break;
            };
            let Some(directive) = comment.trim().strip_prefix("kryton:") else {
                continue;
            };
            let (key, value) = match directive.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (directive.trim(), None),
            };
            match (key, value) {
                ("compat", Some(v)) => {
                    compat = Some(Compat::parse(v).ok_or_else(|| {
                        source_error(file_name, format!("compat must be expand or contract, not {v:?}"))
                    })?)
                }
                ("no-transaction", None) => no_transaction = true,
                ("lock-timeout", Some(v)) => lock_timeout = Some(parse_directive_duration(file_name, v)?),
                ("statement-timeout", Some(v)) => statement_timeout = Some(parse_directive_duration(file_name, v)?),
                ("statement", None) => break,
                _ => {
                    return Err(source_error(file_name, format!("unknown directive kryton:{directive}")));
                }
            }
        }
        let compat =
            compat.ok_or_else(|| source_error(file_name, "missing `-- kryton:compat=expand|contract` header"))?;
        if compat == Compat::Expand
            && let Some(statement) = non_additive_statements(&sql).into_iter().next()
        {
            return Err(source_error(
                file_name,
                format!(
                    "marked compat=expand but contains a non-additive statement ({statement}); \
                         mark it compat=contract or make it additive"
                ),
            ));
        }
        Ok(Migration {
            version,
            slug,
            file_name: file_name.to_owned(),
            compat,
            no_transaction,
            lock_timeout,
            statement_timeout,
            sql,
            checksum,
        })
    }

    /// The statements of a no-transaction file, split at `-- kryton:statement` markers.
    pub fn statements(&self) -> Vec<&str> {
        self.sql
            .split(STATEMENT_MARKER)
            .map(str::trim)
            .filter(|chunk| !chunk.lines().all(|l| l.trim().is_empty() || l.trim().starts_with("--")))
            .collect()
    }
}

fn parse_file_name(file_name: &str) -> Result<(i64, String), SourceError> {
    let stem = file_name
        .strip_suffix(".sql")
        .ok_or_else(|| source_error(file_name, "name must end in .sql"))?;
    let (digits, slug) = stem
        .split_once('_')
        .ok_or_else(|| source_error(file_name, "name must look like NNNN_slug.sql"))?;
    if digits.len() < 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(source_error(
            file_name,
            "version must be at least four digits (zero-padded)",
        ));
    }
    if slug.is_empty()
        || !slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    {
        return Err(source_error(
            file_name,
            "slug must be lowercase letters, digits and underscores",
        ));
    }
    let version = digits
        .parse::<i64>()
        .map_err(|_| source_error(file_name, "version does not fit in 64 bits"))?;
    if version == 0 {
        return Err(source_error(file_name, "versions start at 0001"));
    }
    Ok((version, slug.to_owned()))
}

fn parse_directive_duration(file: &str, value: &str) -> Result<Duration, SourceError> {
    parse_duration(value).map_err(|message| source_error(file, message))
}

/// Parses `500ms`, `5s`, `2m`, `1h` or `0`.
pub fn parse_duration(value: &str) -> Result<Duration, String> {
    let value = value.trim();
    if value == "0" {
        return Ok(Duration::ZERO);
    }
    let split = value.find(|c: char| !c.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{value:?} is not a duration like 500ms, 5s, 2m or 1h"))?;
    let millis = match unit {
        "ms" => number,
        "s" => number.saturating_mul(1_000),
        "m" => number.saturating_mul(60_000),
        "h" => number.saturating_mul(3_600_000),
        _ => {
            return Err(format!("{value:?} is not a duration like 500ms, 5s, 2m or 1h"));
        }
    };
    Ok(Duration::from_millis(millis))
}

/// UTF-8 without BOM, LF line endings: a CRLF checkout hashes the same as an LF one.
pub fn canonical_text(text: &str) -> String {
    text.strip_prefix('\u{feff}').unwrap_or(text).replace("\r\n", "\n")
}

pub fn checksum(canonical: &str) -> String {
    hex::encode(Sha256::digest(canonical.as_bytes()))
}

/// All migrations of one dialect, in version order.
#[derive(Clone, Debug)]
pub struct MigrationSet {
    pub dialect: Dialect,
    pub migrations: Vec<Migration>,
}

impl MigrationSet {
    /// Builds a set from `(file name, text)` pairs, e.g. files embedded at compile time.
    pub fn from_files<'a>(
        dialect: Dialect,
        files: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Self, SourceError> {
        let mut migrations = files
            .into_iter()
            .map(|(name, text)| Migration::parse(name, text))
            .collect::<Result<Vec<_>, _>>()?;
        migrations.sort_by_key(|m| m.version);
        for pair in migrations.windows(2) {
            if pair[0].version == pair[1].version {
                return Err(source_error(
                    &pair[1].file_name,
                    format!("version {} is also used by {}", pair[1].version, pair[0].file_name),
                ));
            }
        }
        Ok(MigrationSet { dialect, migrations })
    }

    /// Reads every `*.sql` file of a directory (used by tests and by `KRYTON_MIGRATIONS_DIR`).
    pub fn from_dir(dialect: Dialect, dir: &Path) -> Result<Self, SourceError> {
        let dir_error = |e: std::io::Error| source_error(&dir.display().to_string(), e.to_string());
        let mut files = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(dir_error)? {
            let path = entry.map_err(dir_error)?.path();
            if path.extension().is_some_and(|e| e == "sql") {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let text = std::fs::read_to_string(&path).map_err(dir_error)?;
                files.push((name, text));
            }
        }
        Self::from_files(dialect, files.iter().map(|(n, t)| (n.as_str(), t.as_str())))
    }

    /// The highest version this set knows, 0 when empty.
    pub fn head(&self) -> i64 {
        self.migrations.last().map_or(0, |m| m.version)
    }

    pub fn get(&self, version: i64) -> Option<&Migration> {
        self.migrations.iter().find(|m| m.version == version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crlf_and_bom_hash_the_same_as_lf() {
        let lf = Migration::parse("0001_a.sql", "-- kryton:compat=expand\nCREATE TABLE a (id INT);\n").unwrap();
        let crlf = Migration::parse(
            "0001_a.sql",
            "\u{feff}-- kryton:compat=expand\r\nCREATE TABLE a (id INT);\r\n",
        )
        .unwrap();
        assert_eq!(lf.checksum, crlf.checksum);
        let edited = Migration::parse("0001_a.sql", "-- kryton:compat=expand\nCREATE TABLE a (id BIGINT);\n").unwrap();
        assert_ne!(lf.checksum, edited.checksum);
    }

    #[test]
    fn directives_are_read() {
        let m = Migration::parse(
            "0042_index_notes.sql",
            "-- kryton:compat=expand\n-- kryton:no-transaction\n-- kryton:lock-timeout=2s\n\
             -- kryton:statement-timeout=0\nCREATE INDEX CONCURRENTLY i ON t (a);\n\
             -- kryton:statement\nCREATE INDEX CONCURRENTLY j ON t (b);\n",
        )
        .unwrap();
        assert_eq!(m.version, 42);
        assert_eq!(m.slug, "index_notes");
        assert!(m.no_transaction);
        assert_eq!(m.lock_timeout, Some(Duration::from_secs(2)));
        assert_eq!(m.statement_timeout, Some(Duration::ZERO));
        assert_eq!(m.statements().len(), 2);
    }

    #[test]
    fn bad_files_are_rejected_with_the_file_named() {
        for (name, text, expected) in [
            ("0001_a.sql", "CREATE TABLE a (id INT);", "missing"),
            ("0001_a.sql", "-- kryton:compat=maybe\nSELECT 1;", "expand or contract"),
            (
                "0001_a.sql",
                "-- kryton:compat=expand\n-- kryton:frobnicate\nSELECT 1;",
                "unknown directive",
            ),
            ("1_a.sql", "-- kryton:compat=expand\nSELECT 1;", "four digits"),
            ("0001-a.sql", "-- kryton:compat=expand\nSELECT 1;", "NNNN_slug"),
            ("0001_A.sql", "-- kryton:compat=expand\nSELECT 1;", "lowercase"),
            (
                "0001_a.sql",
                "-- kryton:compat=expand\n-- kryton:lock-timeout=soon\nSELECT 1;",
                "duration",
            ),
            (
                "0001_a.sql",
                "-- kryton:compat=expand\nALTER TABLE a DROP COLUMN b;",
                "non-additive",
            ),
        ] {
            let err = Migration::parse(name, text).unwrap_err();
            assert_eq!(err.file, name);
            assert!(err.message.contains(expected), "{name}: {err}");
        }
    }

    #[test]
    fn duplicate_versions_are_rejected() {
        let err = MigrationSet::from_files(
            Dialect::Sqlite,
            [
                ("0001_a.sql", "-- kryton:compat=expand\nSELECT 1;"),
                ("0001_b.sql", "-- kryton:compat=expand\nSELECT 1;"),
            ],
        )
        .unwrap_err();
        assert!(err.message.contains("also used"));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert!(parse_duration("5").is_err());
        assert!(parse_duration("-5s").is_err());
    }
}
