//! The database side of backups: reading every application table inside one snapshot as
//! dialect-neutral JSON lines, and loading such lines back into either backend.
//!
//! Tables are found by introspection (not a fixed list), so a table added by a later migration is
//! carried without touching this file. Left out: the migration ledger (the target writes its own),
//! SQLite's FTS5 table and its shadow tables (rebuilt from `notes` after a load), and PostgreSQL's
//! generated columns (`notes.search`).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Seek, Write};
use std::path::Path;

use futures_util::TryStreamExt;
use sha2::{Digest, Sha256};
use sqlx::{AssertSqlSafe, PgConnection, SqliteConnection};

use super::BackupError;

/// SQLite declares some booleans as INTEGER; the archive carries them as JSON booleans, as
/// PostgreSQL's BOOLEAN columns are. (A test checks this list against PostgreSQL's schema.)
pub const SQLITE_BOOLEAN_COLUMNS: &[(&str, &str)] = &[
    ("users", "disabled"),
    ("note_links", "embed"),
    ("shares", "is_folder"),
    ("two_factor", "enabled"),
];

/// Rows per INSERT on PostgreSQL (one `json_populate_recordset` call), and a byte cap per batch.
const BATCH_ROWS: usize = 500;
const BATCH_BYTES: usize = 4 << 20;

/// A borrowed connection of either backend.
pub enum Conn<'a> {
    Pg(&'a mut PgConnection),
    Lite(&'a mut SqliteConnection),
}

impl Conn<'_> {
    pub fn backend(&self) -> &'static str {
        match self {
            Conn::Pg(_) => "postgres",
            Conn::Lite(_) => "sqlite",
        }
    }

    async fn execute(&mut self, sql: String) -> Result<(), sqlx::Error> {
        match self {
            Conn::Pg(c) => sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **c).await.map(drop),
            Conn::Lite(c) => sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut **c).await.map(drop),
        }
    }

    async fn strings(&mut self, sql: String, bind: Option<&str>) -> Result<Vec<String>, sqlx::Error> {
        match self {
            Conn::Pg(c) => {
                let q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
                let q = match bind {
                    Some(b) => q.bind(b.to_owned()),
                    None => q,
                };
                q.fetch_all(&mut **c).await
            }
            Conn::Lite(c) => {
                let q = sqlx::query_scalar::<_, String>(AssertSqlSafe(sql));
                let q = match bind {
                    Some(b) => q.bind(b.to_owned()),
                    None => q,
                };
                q.fetch_all(&mut **c).await
            }
        }
    }
}

/// One column of a table, as the backup and the loader see it.
#[derive(Clone, Debug)]
pub struct Column {
    pub name: String,
    /// Lower-cased declared type (`boolean`, `bigint`, `timestamp with time zone`, `integer`, ...).
    pub kind: String,
    pub boolean: bool,
}

/// An application table: its columns (generated ones left out) and its primary key.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    pub columns: Vec<Column>,
    pub primary_key: Vec<String>,
    /// Tables this one references (foreign keys), for the load order.
    pub parents: BTreeSet<String>,
}

/// Only plain lower-case identifiers travel in an archive: they need no quoting rules of their own
/// and can never smuggle SQL.
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 63
}

fn quoted(name: &str) -> String {
    format!("\"{name}\"")
}

fn checked(name: &str, what: &str) -> Result<(), BackupError> {
    if is_identifier(name) {
        Ok(())
    } else {
        Err(BackupError::Failed(format!(
            "{what} {name:?} is not a plain lower-case identifier; this archive format cannot carry it"
        )))
    }
}

/// Tables that only index the notes on disk; rebuilt from the files after a restore.
pub const DERIVED_TABLES: &[&str] = &["notes", "note_links", "note_tags"];

/// The application tables in a load order that satisfies every foreign key (parents first).
pub async fn tables(conn: &mut Conn<'_>) -> Result<Vec<Table>, BackupError> {
    let mut found = Vec::new();
    match conn {
        Conn::Pg(c) => {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition \
                 ORDER BY 1",
            )
            .fetch_all(&mut **c)
            .await?;
            for name in names {
                checked(&name, "table")?;
                let columns: Vec<(String, String, String)> = sqlx::query_as(
                    "SELECT column_name::text, data_type::text, is_generated::text FROM information_schema.columns \
                     WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
                )
                .bind(&name)
                .fetch_all(&mut **c)
                .await?;
                let primary_key: Vec<String> = sqlx::query_scalar(
                    "SELECT a.attname::text FROM pg_index i \
                     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey) \
                     WHERE i.indrelid = (quote_ident(current_schema()) || '.' || quote_ident($1))::regclass \
                     AND i.indisprimary ORDER BY array_position(i.indkey::int2[], a.attnum)",
                )
                .bind(&name)
                .fetch_all(&mut **c)
                .await?;
                let parents: Vec<String> = sqlx::query_scalar(
                    "SELECT DISTINCT p.relname::text FROM pg_constraint k \
                     JOIN pg_class ch ON ch.oid = k.conrelid JOIN pg_class p ON p.oid = k.confrelid \
                     JOIN pg_namespace n ON n.oid = ch.relnamespace \
                     WHERE k.contype = 'f' AND n.nspname = current_schema() AND ch.relname = $1",
                )
                .bind(&name)
                .fetch_all(&mut **c)
                .await?;
                let mut cols = Vec::new();
                for (column, kind, generated) in columns {
                    checked(&column, "column")?;
                    if generated != "NEVER" {
                        continue;
                    }
                    let kind = kind.to_ascii_lowercase();
                    cols.push(Column {
                        boolean: kind == "boolean",
                        name: column,
                        kind,
                    });
                }
                found.push(Table {
                    name,
                    columns: cols,
                    primary_key,
                    parents: parents.into_iter().collect(),
                });
            }
        }
        Conn::Lite(c) => {
            let all: Vec<(String, Option<String>)> = sqlx::query_as(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                 ORDER BY name",
            )
            .fetch_all(&mut **c)
            .await?;
            let virtual_tables: Vec<String> = all
                .iter()
                .filter(|(_, sql)| {
                    sql.as_deref()
                        .is_some_and(|s| s.trim_start().to_ascii_uppercase().starts_with("CREATE VIRTUAL TABLE"))
                })
                .map(|(n, _)| n.clone())
                .collect();
            for (name, _) in &all {
                let shadow = virtual_tables
                    .iter()
                    .any(|v| name == v || name.starts_with(&format!("{v}_")));
                if shadow || name.starts_with("_kryton_") {
                    continue;
                }
                checked(name, "table")?;
                let columns: Vec<(String, String, i64, i64)> =
                    sqlx::query_as("SELECT name, type, pk, hidden FROM pragma_table_xinfo(?1) ORDER BY cid")
                        .bind(name)
                        .fetch_all(&mut **c)
                        .await?;
                let parents: Vec<String> =
                    sqlx::query_scalar("SELECT DISTINCT \"table\" FROM pragma_foreign_key_list(?1)")
                        .bind(name)
                        .fetch_all(&mut **c)
                        .await?;
                let mut pk: Vec<(i64, String)> = Vec::new();
                let mut cols = Vec::new();
                for (column, kind, pk_position, hidden) in columns {
                    checked(&column, "column")?;
                    if hidden != 0 {
                        continue;
                    }
                    if pk_position > 0 {
                        pk.push((pk_position, column.clone()));
                    }
                    let kind = kind.to_ascii_lowercase();
                    let boolean = kind.contains("bool")
                        || SQLITE_BOOLEAN_COLUMNS
                            .iter()
                            .any(|(t, col)| t == name && *col == column);
                    cols.push(Column {
                        name: column,
                        kind,
                        boolean,
                    });
                }
                pk.sort();
                found.push(Table {
                    name: name.clone(),
                    columns: cols,
                    primary_key: pk.into_iter().map(|(_, c)| c).collect(),
                    parents: parents.into_iter().collect(),
                });
            }
        }
    }
    Ok(load_order(found))
}

/// Parents before children; ties (and any cycle) in name order.
fn load_order(mut tables: Vec<Table>) -> Vec<Table> {
    tables.sort_by(|a, b| a.name.cmp(&b.name));
    let names: BTreeSet<String> = tables.iter().map(|t| t.name.clone()).collect();
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::new();
    while !tables.is_empty() {
        let ready = tables.iter().position(|t| {
            t.parents
                .iter()
                .all(|p| p == &t.name || placed.contains(p) || !names.contains(p))
        });
        let table = tables.remove(ready.unwrap_or(0));
        placed.insert(table.name.clone());
        ordered.push(table);
    }
    ordered
}

/// The schema version: the newest applied migration (0 when there is no ledger).
pub async fn schema_version(conn: &mut Conn<'_>) -> Result<i64, BackupError> {
    Ok(match conn {
        Conn::Pg(c) => {
            let exists: bool = sqlx::query_scalar("SELECT to_regclass('kryton.schema_migrations') IS NOT NULL")
                .fetch_one(&mut **c)
                .await?;
            if !exists {
                return Ok(0);
            }
            sqlx::query_scalar(
                "SELECT coalesce(max(version), 0)::bigint FROM kryton.schema_migrations WHERE status = 'applied'",
            )
            .fetch_one(&mut **c)
            .await?
        }
        Conn::Lite(c) => {
            let exists: i64 = sqlx::query_scalar(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = '_kryton_schema_migrations'",
            )
            .fetch_one(&mut **c)
            .await?;
            if exists == 0 {
                return Ok(0);
            }
            sqlx::query_scalar(
                "SELECT coalesce(max(version), 0) FROM _kryton_schema_migrations WHERE status = 'applied'",
            )
            .fetch_one(&mut **c)
            .await?
        }
    })
}

/// One table written to a spool file as JSON lines.
pub struct Dumped {
    pub name: String,
    pub rows: u64,
    pub size: u64,
    pub sha256: String,
    /// An anonymous temporary file, rewound: nothing is left behind if the process dies.
    pub file: File,
}

/// The whole database at one instant.
pub struct Snapshot {
    pub schema_version: i64,
    pub tables: Vec<Dumped>,
}

/// Reads every application table inside ONE snapshot: `REPEATABLE READ READ ONLY` on PostgreSQL,
/// one read transaction on SQLite. Rows stream to anonymous files in `spool_dir`; memory stays flat.
pub async fn snapshot(conn: &mut Conn<'_>, spool_dir: &Path) -> Result<Snapshot, BackupError> {
    let begin = match conn {
        Conn::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        Conn::Lite(_) => "BEGIN DEFERRED",
    };
    conn.execute(begin.to_owned()).await?;
    let result = snapshot_in_transaction(conn, spool_dir).await;
    if let Err(error) = conn.execute("ROLLBACK".to_owned()).await {
        tracing::debug!(%error, "ending the backup's read transaction");
    }
    result
}

async fn snapshot_in_transaction(conn: &mut Conn<'_>, spool_dir: &Path) -> Result<Snapshot, BackupError> {
    // The first read fixes the snapshot (SQLite's deferred transaction starts reading here).
    let schema_version = schema_version(conn).await?;
    let mut dumped = Vec::new();
    // The notes index is derived from the files: it is left out and rebuilt by the restore, so the
    // archive can never hold an index that disagrees with its own notes.
    for table in tables(conn)
        .await?
        .into_iter()
        .filter(|t| !DERIVED_TABLES.contains(&t.name.as_str()))
    {
        let select = select_json(conn, &table);
        let spool = tempfile::tempfile_in(spool_dir)
            .map_err(|e| BackupError::Failed(format!("cannot create a spool file in {}: {e}", spool_dir.display())))?;
        let mut out = Hashing::new(BufWriter::new(spool));
        let mut rows = 0u64;
        {
            let mut write = |line: String| -> std::io::Result<()> {
                out.write_all(line.as_bytes())?;
                out.write_all(b"\n")?;
                rows += 1;
                Ok(())
            };
            match conn {
                Conn::Pg(c) => {
                    let mut stream = sqlx::query_scalar::<_, String>(AssertSqlSafe(select)).fetch(&mut **c);
                    while let Some(line) = stream.try_next().await? {
                        write(line)?;
                    }
                }
                Conn::Lite(c) => {
                    let mut stream = sqlx::query_scalar::<_, String>(AssertSqlSafe(select)).fetch(&mut **c);
                    while let Some(line) = stream.try_next().await? {
                        write(line)?;
                    }
                }
            }
        }
        let (writer, size, sha256) = out.finish();
        let mut file = writer.into_inner().map_err(|e| BackupError::from(e.into_error()))?;
        file.rewind()?;
        dumped.push(Dumped {
            name: table.name,
            rows,
            size,
            sha256,
            file,
        });
    }
    Ok(Snapshot {
        schema_version,
        tables: dumped,
    })
}

/// One JSON object per row, keys in column order, rows in primary-key order.
fn select_json(conn: &Conn<'_>, table: &Table) -> String {
    let order = if table.primary_key.is_empty() {
        match conn {
            Conn::Pg(_) => String::new(),
            Conn::Lite(_) => " ORDER BY rowid".to_owned(),
        }
    } else {
        let keys: Vec<String> = table.primary_key.iter().map(|k| quoted(k)).collect();
        format!(" ORDER BY {}", keys.join(", "))
    };
    match conn {
        Conn::Pg(_) => {
            let columns: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    let q = quoted(&c.name);
                    match c.kind.as_str() {
                        "timestamp with time zone" => {
                            format!("to_char({q} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') AS {q}")
                        }
                        "timestamp without time zone" => {
                            format!("to_char({q}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS {q}")
                        }
                        _ => q,
                    }
                })
                .collect();
            format!(
                "SELECT row_to_json(x)::text FROM (SELECT {} FROM {}{order}) x",
                columns.join(", "),
                quoted(&table.name)
            )
        }
        Conn::Lite(_) => {
            let pairs: Vec<String> = table
                .columns
                .iter()
                .map(|c| {
                    let q = quoted(&c.name);
                    if c.boolean {
                        format!(
                            "'{}', CASE WHEN {q} IS NULL THEN NULL WHEN {q} THEN json('true') ELSE json('false') END",
                            c.name
                        )
                    } else {
                        format!("'{}', {q}", c.name)
                    }
                })
                .collect();
            format!(
                "SELECT json_object({}) FROM {}{order}",
                pairs.join(", "),
                quoted(&table.name)
            )
        }
    }
}

/// Drops every application table and the ledger: the target is then a fresh database. Used when
/// the target's schema is newer than the archive's (there are no down-migrations).
pub async fn drop_everything(conn: &mut Conn<'_>) -> Result<(), BackupError> {
    match conn {
        Conn::Pg(c) => {
            let names: Vec<String> = sqlx::query_scalar(
                "SELECT quote_ident(c.relname::text) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
                 WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') AND NOT c.relispartition",
            )
            .fetch_all(&mut **c)
            .await?;
            if !names.is_empty() {
                sqlx::raw_sql(AssertSqlSafe(format!(
                    "DROP TABLE IF EXISTS {} CASCADE",
                    names.join(", ")
                )))
                .execute(&mut **c)
                .await?;
            }
            sqlx::raw_sql("DROP SCHEMA IF EXISTS kryton CASCADE")
                .execute(&mut **c)
                .await?;
        }
        Conn::Lite(c) => {
            sqlx::raw_sql("PRAGMA foreign_keys = OFF").execute(&mut **c).await?;
            // Virtual tables first: dropping one drops its shadow tables.
            for virtual_only in [true, false] {
                let names: Vec<String> = sqlx::query_scalar(
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
                     AND (sql LIKE 'CREATE VIRTUAL TABLE%') = ?1",
                )
                .bind(virtual_only)
                .fetch_all(&mut **c)
                .await?;
                for name in names {
                    let name = name.replace('"', "\"\"");
                    sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE IF EXISTS \"{name}\"")))
                        .execute(&mut **c)
                        .await?;
                }
            }
            sqlx::raw_sql("PRAGMA foreign_keys = ON").execute(&mut **c).await?;
        }
    }
    Ok(())
}

/// Whether any account exists (the test for "non-empty target").
pub async fn has_users(conn: &mut Conn<'_>) -> Result<bool, BackupError> {
    let exists = match conn {
        Conn::Pg(c) => {
            sqlx::query_scalar::<_, bool>("SELECT to_regclass(quote_ident(current_schema()) || '.users') IS NOT NULL")
                .fetch_one(&mut **c)
                .await?
        }
        Conn::Lite(c) => {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'users'")
                .fetch_one(&mut **c)
                .await?
                > 0
        }
    };
    if !exists {
        return Ok(false);
    }
    let found = conn.strings("SELECT 'x' FROM users LIMIT 1".to_owned(), None).await?;
    Ok(!found.is_empty())
}

/// Counts per table of a finished load, for the summary line.
pub type Loaded = BTreeMap<String, u64>;

/// In ONE transaction: empties every application table of the target, loads every archived table
/// (in the archive's order, which puts parents first) and, on SQLite, rebuilds the search index.
pub async fn load(conn: &mut Conn<'_>, parts: Vec<(String, File)>) -> Result<Loaded, BackupError> {
    let target = tables(conn).await?;
    let begin = match conn {
        Conn::Pg(_) => "BEGIN",
        Conn::Lite(_) => "BEGIN IMMEDIATE",
    };
    conn.execute(begin.to_owned()).await?;
    let result = load_in_transaction(conn, &target, parts).await;
    match result {
        Ok(loaded) => {
            conn.execute("COMMIT".to_owned()).await?;
            Ok(loaded)
        }
        Err(error) => {
            if let Err(e) = conn.execute("ROLLBACK".to_owned()).await {
                tracing::debug!(error = %e, "rolling back a failed load");
            }
            Err(error)
        }
    }
}

async fn load_in_transaction(
    conn: &mut Conn<'_>,
    target: &[Table],
    parts: Vec<(String, File)>,
) -> Result<Loaded, BackupError> {
    for table in target.iter().rev() {
        conn.execute(format!("DELETE FROM {}", quoted(&table.name))).await?;
    }
    let fts = matches!(conn, Conn::Lite(_)) && sqlite_has_table(conn, "notes_fts").await?;
    if fts {
        conn.execute("DELETE FROM notes_fts".to_owned()).await?;
    }
    let mut loaded = Loaded::new();
    for (name, file) in parts {
        let table = target.iter().find(|t| t.name == name).ok_or_else(|| {
            BackupError::Failed(format!(
                "the archive has a table {name} that the schema built for it does not have"
            ))
        })?;
        let rows = load_table(conn, table, file).await?;
        loaded.insert(name, rows);
    }
    if fts && target.iter().any(|t| t.name == "notes") {
        // FTS5 rows share the notes row's rowid (see store::notes).
        conn.execute(
            "INSERT INTO notes_fts (rowid, title, tags, body) SELECT rowid, title, tags, body FROM notes".to_owned(),
        )
        .await?;
    }
    Ok(loaded)
}

async fn sqlite_has_table(conn: &mut Conn<'_>, name: &str) -> Result<bool, BackupError> {
    let found = conn
        .strings(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1".to_owned(),
            Some(name),
        )
        .await?;
    Ok(!found.is_empty())
}

async fn load_table(conn: &mut Conn<'_>, table: &Table, file: File) -> Result<u64, BackupError> {
    let part = format!("db/{}.jsonl", table.name);
    let mut columns: Option<Vec<String>> = None;
    let mut batch: Vec<serde_json::Map<String, serde_json::Value>> = Vec::new();
    let mut batch_bytes = 0usize;
    let mut rows = 0u64;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let mut index = 0usize;
    while next_line(&mut reader, &mut line, &part, index)? {
        index += 1;
        let index = index - 1;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let bad = |what: String| BackupError::Failed(format!("{part} line {}: {what}", index + 1));
        let mut object = match serde_json::from_slice::<serde_json::Value>(&line) {
            Ok(serde_json::Value::Object(object)) => object,
            Ok(_) => return Err(bad("not a JSON object".to_owned())),
            Err(e) => return Err(bad(e.to_string())),
        };
        let keys: Vec<String> = object.keys().cloned().collect();
        match &columns {
            None => {
                for key in &keys {
                    if !table.columns.iter().any(|c| &c.name == key) {
                        return Err(bad(format!("column {key} does not exist in table {}", table.name)));
                    }
                }
                columns = Some(keys);
            }
            Some(expected) if expected.len() != keys.len() || !keys.iter().all(|k| expected.contains(k)) => {
                return Err(bad("its columns differ from the first row's".to_owned()));
            }
            Some(_) => {}
        }
        for column in &table.columns {
            if let Some(value) = object.get_mut(&column.name) {
                if !fits(value, column) {
                    return Err(bad(format!(
                        "{}.{} is {value}, not a value of its type {}",
                        table.name, column.name, column.kind
                    )));
                }
                normalise(value, column);
            }
        }
        batch_bytes += line.len();
        batch.push(object);
        rows += 1;
        if batch.len() >= BATCH_ROWS || batch_bytes >= BATCH_BYTES {
            insert_batch(conn, table, columns.as_deref().unwrap_or_default(), &mut batch).await?;
            batch_bytes = 0;
        }
    }
    if !batch.is_empty() {
        insert_batch(conn, table, columns.as_deref().unwrap_or_default(), &mut batch).await?;
    }
    Ok(rows)
}

/// Whether a JSON value can go into `column` as it is declared (SQLite would store anything in
/// any column; PostgreSQL would refuse it later, mid-transaction).
fn fits(value: &serde_json::Value, column: &Column) -> bool {
    use serde_json::Value;
    let kind = column.kind.as_str();
    match value {
        Value::Null => true,
        _ if column.boolean => value.is_boolean() || matches!(value.as_i64(), Some(0 | 1)),
        Value::Bool(_) => false,
        Value::Number(n) if kind.contains("int") => n.is_i64(),
        Value::Number(_) => !(kind.contains("char") || kind.contains("text") || kind.contains("time")),
        Value::String(_) => {
            !(kind.contains("int") || kind.contains("real") || kind.contains("double") || kind.contains("numeric"))
        }
        Value::Array(_) | Value::Object(_) => kind.contains("json"),
    }
}

/// Booleans as the target wants them: JSON booleans for PostgreSQL BOOLEAN columns (an archive
/// from elsewhere may carry 0/1), 0/1 for SQLite.
fn normalise(value: &mut serde_json::Value, column: &Column) {
    if !column.boolean {
        return;
    }
    if let Some(n) = value.as_i64() {
        *value = serde_json::Value::Bool(n != 0);
    }
}

async fn insert_batch(
    conn: &mut Conn<'_>,
    table: &Table,
    columns: &[String],
    batch: &mut Vec<serde_json::Map<String, serde_json::Value>>,
) -> Result<(), BackupError> {
    let rows = std::mem::take(batch);
    if rows.is_empty() || columns.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = columns.iter().map(|c| quoted(c)).collect();
    let list = list.join(", ");
    let name = quoted(&table.name);
    match conn {
        Conn::Pg(c) => {
            let json = serde_json::to_string(&rows).map_err(|e| BackupError::Failed(e.to_string()))?;
            let sql = format!(
                "INSERT INTO {name} ({list}) SELECT {list} FROM json_populate_recordset(NULL::{name}, $1::json)"
            );
            sqlx::query(AssertSqlSafe(sql)).bind(json).execute(&mut **c).await?;
        }
        Conn::Lite(c) => {
            let marks: Vec<String> = (1..=columns.len()).map(|i| format!("?{i}")).collect();
            let sql = format!("INSERT INTO {name} ({list}) VALUES ({})", marks.join(", "));
            for row in rows {
                let mut query = sqlx::query(AssertSqlSafe(sql.clone()));
                for column in columns {
                    query = match row.get(column) {
                        None | Some(serde_json::Value::Null) => query.bind(None::<String>),
                        Some(serde_json::Value::Bool(b)) => query.bind(i64::from(*b)),
                        Some(serde_json::Value::Number(n)) => match n.as_i64() {
                            Some(i) => query.bind(i),
                            None => query.bind(n.as_f64()),
                        },
                        Some(serde_json::Value::String(s)) => query.bind(s.clone()),
                        Some(other) => query.bind(other.to_string()),
                    };
                }
                query.execute(&mut **c).await?;
            }
        }
    }
    Ok(())
}

/// A writer (or reader, see the archive module) that counts and hashes what passes through.
pub struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner value, the byte count and the hex SHA-256.
    pub fn finish(self) -> (W, u64, String) {
        (self.inner, self.count, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<R: std::io::Read> std::io::Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.count += n as u64;
        Ok(n)
    }
}

/// The longest row a restore reads (a row is one account, key, invite or setting; the notes
/// themselves travel as files).
pub const MAX_ROW_BYTES: u64 = 1 << 20;

/// One line of a table part into `buf` (without the newline), refusing one longer than
/// [`MAX_ROW_BYTES`] before reading more of it. `Ok(false)` at the end of the part.
fn next_line<R: BufRead>(reader: &mut R, buf: &mut Vec<u8>, part: &str, index: usize) -> Result<bool, BackupError> {
    buf.clear();
    let read = std::io::Read::take(&mut *reader, MAX_ROW_BYTES + 1).read_until(b'\n', buf)?;
    if read == 0 {
        return Ok(false);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
    } else if read as u64 > MAX_ROW_BYTES {
        return Err(BackupError::Corrupt(format!(
            "{part} line {}: a row longer than {MAX_ROW_BYTES} bytes",
            index + 1
        )));
    }
    Ok(true)
}

/// The checks every row passes before anything is written: one JSON object per line, plain
/// identifiers as keys, the same keys in every row of a table, and every id that becomes a path
/// (a user's id names their vault directory) shaped as the server makes them.
pub fn check_rows(tables: &mut [(String, File)]) -> Result<(), BackupError> {
    for (name, file) in tables.iter_mut() {
        let part = format!("db/{name}.jsonl");
        file.rewind()?;
        let mut reader = BufReader::new(&*file);
        let mut buf = Vec::new();
        let mut keys: Option<BTreeSet<String>> = None;
        let mut index = 0;
        while next_line(&mut reader, &mut buf, &part, index)? {
            let bad = |what: String| BackupError::Corrupt(format!("{part} line {}: {what}", index + 1));
            let object = match serde_json::from_slice::<serde_json::Value>(&buf) {
                Ok(serde_json::Value::Object(object)) => object,
                Ok(_) => return Err(bad("not a JSON object".to_owned())),
                Err(e) => return Err(bad(format!("not JSON ({e})"))),
            };
            let these: BTreeSet<String> = object.keys().cloned().collect();
            if let Some(key) = these.iter().find(|k| !is_identifier(k)) {
                return Err(bad(format!("column {key:?} is not a plain identifier")));
            }
            match &keys {
                None => keys = Some(these),
                Some(first) if *first != these => {
                    return Err(bad("its columns differ from the first row's".to_owned()));
                }
                Some(_) => {}
            }
            for (column, required) in [("id", name == "users"), ("user_id", false)] {
                if column == "id" && !required {
                    continue;
                }
                match object.get(column) {
                    None | Some(serde_json::Value::Null) if !required => {}
                    Some(serde_json::Value::String(id)) if crate::store::is_valid_id(id) => {}
                    Some(value) => {
                        return Err(bad(format!(
                            "{column} {value} is not a valid user id (32 lower-case hex digits): user ids name \
                             directories in NOTES_DIR"
                        )));
                    }
                    None => return Err(bad(format!("the row has no {column}"))),
                }
            }
            index += 1;
        }
        file.rewind()?;
    }
    Ok(())
}
