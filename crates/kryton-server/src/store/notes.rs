//! The notes index: titles, search text, links and tags of every note, per user.

use crate::db::Database;
use crate::markdown::{link_name_key, note_name_key};
use crate::on_db;

use super::now_ms;

/// A wiki-link as written in a note.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct LinkRow {
    pub source_path: String,
    pub target: String,
    pub heading: Option<String>,
    pub alias: Option<String>,
    pub embed: bool,
}

/// Everything the index keeps about one note.
#[derive(Clone, Debug)]
pub struct IndexedNote {
    pub path: String,
    pub title: String,
    pub tags: Vec<String>,
    pub body: String,
    pub content_hash: String,
    pub size: i64,
    pub mtime_ms: i64,
    pub links: Vec<LinkRow>,
}

/// What the reconcile compares with the disk.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FileState {
    pub path: String,
    pub content_hash: String,
    pub size: i64,
    pub mtime_ms: i64,
}

/// Replaces the index entry of one note (its row, links, tags and search text) in one transaction.
pub async fn upsert(db: &Database, user_id: &str, note: &IndexedNote) -> Result<(), sqlx::Error> {
    const UPSERT: &str = "INSERT INTO notes (user_id, path, title, tags, body, content_hash, size, mtime_ms, indexed_at, name_key) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
        ON CONFLICT (user_id, path) DO UPDATE SET title = excluded.title, tags = excluded.tags, body = excluded.body, \
        content_hash = excluded.content_hash, size = excluded.size, mtime_ms = excluded.mtime_ms, \
        indexed_at = excluded.indexed_at, name_key = excluded.name_key";
    const CLEAR_LINKS: &str = "DELETE FROM note_links WHERE user_id = $1 AND source_path = $2";
    const CLEAR_TAGS: &str = "DELETE FROM note_tags WHERE user_id = $1 AND path = $2";
    const LINK: &str = "INSERT INTO note_links (user_id, source_path, position, target, target_key, heading, alias, embed) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    const TAG: &str = "INSERT INTO note_tags (user_id, path, tag) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
    let tags = note.tags.join(" ");
    on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        sqlx::query(UPSERT)
            .bind(user_id).bind(&note.path).bind(&note.title).bind(&tags).bind(&note.body)
            .bind(&note.content_hash).bind(note.size).bind(note.mtime_ms).bind(now_ms())
            .bind(note_name_key(&note.path))
            .execute(&mut *tx).await?;
        sqlx::query(CLEAR_LINKS).bind(user_id).bind(&note.path).execute(&mut *tx).await?;
        sqlx::query(CLEAR_TAGS).bind(user_id).bind(&note.path).execute(&mut *tx).await?;
        for (position, link) in note.links.iter().enumerate() {
            sqlx::query(LINK)
                .bind(user_id).bind(&note.path).bind(position as i32).bind(&link.target)
                .bind(link_name_key(&link.target)).bind(&link.heading).bind(&link.alias).bind(link.embed)
                .execute(&mut *tx).await?;
        }
        for tag in &note.tags {
            sqlx::query(TAG).bind(user_id).bind(&note.path).bind(tag).execute(&mut *tx).await?;
        }
        if matches!(db, Database::Sqlite(_)) {
            // FTS5 is kept in step by hand: same rowid as the notes row.
            let rowid: i64 = sqlx::query_scalar("SELECT rowid FROM notes WHERE user_id = $1 AND path = $2")
                .bind(user_id).bind(&note.path).fetch_one(&mut *tx).await?;
            sqlx::query("DELETE FROM notes_fts WHERE rowid = $1").bind(rowid).execute(&mut *tx).await?;
            sqlx::query("INSERT INTO notes_fts (rowid, title, tags, body) VALUES ($1, $2, $3, $4)")
                .bind(rowid).bind(&note.title).bind(&tags).bind(&note.body)
                .execute(&mut *tx).await?;
        }
        tx.commit().await
    })
}

/// Drops a note from the index (links and tags go with it).
pub async fn remove(db: &Database, user_id: &str, path: &str) -> Result<(), sqlx::Error> {
    on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        if matches!(db, Database::Sqlite(_)) {
            sqlx::query("DELETE FROM notes_fts WHERE rowid IN (SELECT rowid FROM notes WHERE user_id = $1 AND path = $2)")
                .bind(user_id).bind(path).execute(&mut *tx).await?;
        }
        sqlx::query("DELETE FROM notes WHERE user_id = $1 AND path = $2").bind(user_id).bind(path).execute(&mut *tx).await?;
        tx.commit().await
    })
}

pub async fn file_states(db: &Database, user_id: &str) -> Result<Vec<FileState>, sqlx::Error> {
    const SQL: &str = "SELECT path, content_hash, size, mtime_ms FROM notes WHERE user_id = $1 ORDER BY path";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).fetch_all(pool).await)
}

/// (path, title) of every note of a user.
pub async fn titles(db: &Database, user_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    const SQL: &str = "SELECT path, title FROM notes WHERE user_id = $1 ORDER BY path";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).fetch_all(pool).await)
}

pub async fn links(db: &Database, user_id: &str) -> Result<Vec<LinkRow>, sqlx::Error> {
    const SQL: &str = "SELECT source_path, target, heading, alias, embed FROM note_links \
        WHERE user_id = $1 ORDER BY source_path, position";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).fetch_all(pool).await)
}

/// A link as written, with the title of the note it is written in.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct TitledLink {
    pub source_path: String,
    pub source_title: String,
    pub target: String,
    pub heading: Option<String>,
    pub alias: Option<String>,
    pub embed: bool,
}

/// Links whose target names `key` (see [`link_name_key`]): the candidate backlinks of every note
/// with that name, ordered by source note and position.
pub async fn links_named(db: &Database, user_id: &str, key: &str) -> Result<Vec<TitledLink>, sqlx::Error> {
    const SQL: &str = "SELECT l.source_path, n.title AS source_title, l.target, l.heading, l.alias, l.embed \
        FROM note_links l JOIN notes n ON n.user_id = l.user_id AND n.path = l.source_path \
        WHERE l.user_id = $1 AND l.target_key = $2 ORDER BY l.source_path, l.position";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).bind(key).fetch_all(pool).await)
}

/// Paths of the notes named `key` (see [`note_name_key`]): every note a link with that name could
/// resolve to. Rows not yet given a key ('', written by a release before 0007) are included;
/// the resolver drops the ones that do not match.
pub async fn notes_named(db: &Database, user_id: &str, key: &str) -> Result<Vec<String>, sqlx::Error> {
    const SQL: &str = "SELECT path FROM notes WHERE user_id = $1 AND name_key IN ($2, '') ORDER BY path";
    on_db!(db, pool => sqlx::query_scalar(SQL).bind(user_id).bind(key).fetch_all(pool).await)
}

pub async fn tag_counts(db: &Database, user_id: &str) -> Result<Vec<(String, i64)>, sqlx::Error> {
    const SQL: &str = "SELECT tag, count(*) FROM note_tags WHERE user_id = $1 GROUP BY tag ORDER BY tag";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).fetch_all(pool).await)
}

/// Notes carrying a tag or one nested under it (`a` finds `#a` and `#a/b`).
pub async fn notes_with_tag(db: &Database, user_id: &str, tag: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    const SQL: &str = "SELECT DISTINCT n.path, n.title FROM note_tags t JOIN notes n ON n.user_id = t.user_id AND n.path = t.path \
        WHERE t.user_id = $1 AND (t.tag = $2 OR substr(t.tag, 1, $3) = $4) ORDER BY n.path";
    let nested = format!("{tag}/");
    let len = nested.chars().count() as i32;
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).bind(tag).bind(len).bind(&nested).fetch_all(pool).await)
}

/// One search result before the snippet is cut.
#[derive(Debug, sqlx::FromRow)]
pub struct SearchRow {
    pub path: String,
    pub title: String,
    /// Space-separated, as indexed.
    pub tags: String,
    pub body: String,
    pub mtime_ms: i64,
    pub rank: f64,
}

/// A user's query, reduced to words and phrases that cannot break either search parser.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SearchQuery {
    /// Each term is one word or a quoted phrase; `prefix` when it ended in `*`.
    pub terms: Vec<(Vec<String>, bool)>,
}

impl SearchQuery {
    /// Keeps letters and digits only, so no operator or quote a user types reaches the parser.
    pub fn parse(input: &str) -> Self {
        let mut terms = Vec::new();
        for (index, chunk) in input.split('"').enumerate() {
            let quoted = index % 2 == 1;
            if quoted {
                let words = words(chunk);
                if !words.is_empty() {
                    terms.push((words, false));
                }
            } else {
                for raw in chunk.split_whitespace() {
                    let prefix = raw.ends_with('*');
                    for word in words(raw) {
                        terms.push((vec![word], prefix));
                    }
                }
            }
        }
        SearchQuery { terms }
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// All words, for highlighting.
    pub fn words(&self) -> Vec<String> {
        self.terms.iter().flat_map(|(w, _)| w.iter().cloned()).collect()
    }

    /// PostgreSQL `to_tsquery` syntax: `a:* & (b <-> c)`.
    pub fn to_tsquery(&self) -> String {
        self.terms
            .iter()
            .map(|(words, prefix)| {
                let joined = words.join(" <-> ");
                if *prefix {
                    format!("{joined}:*")
                } else if words.len() > 1 {
                    format!("({joined})")
                } else {
                    joined
                }
            })
            .collect::<Vec<_>>()
            .join(" & ")
    }

    /// SQLite FTS5 syntax: `"a"* AND "b c"`.
    pub fn to_fts5(&self) -> String {
        self.terms
            .iter()
            .map(|(words, prefix)| format!("\"{}\"{}", words.join(" "), if *prefix { "*" } else { "" }))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// The PostgreSQL search. The tsquery is an expression of the parameter (not a joined function),
/// so the planner can use the GIN index on `search` for the match; ranks are computed for the
/// matches only, and title, tags and body are read only for the page returned (the inner query
/// sorts narrow rows). Public so a test can `EXPLAIN` exactly this text.
pub const PG_SEARCH: &str = "SELECT n.path, n.title, n.tags, n.body, n.mtime_ms, page.rank \
    FROM (SELECT path, ts_rank_cd(search, to_tsquery('simple', $2))::float8 AS rank FROM notes \
          WHERE user_id = $1 AND search @@ to_tsquery('simple', $2) \
          ORDER BY rank DESC, path LIMIT $3 OFFSET $4) page \
    JOIN notes n ON n.user_id = $1 AND n.path = page.path \
    ORDER BY page.rank DESC, page.path";

pub async fn search(
    db: &Database,
    user_id: &str,
    query: &SearchQuery,
    limit: i64,
    offset: i64,
) -> Result<Vec<SearchRow>, sqlx::Error> {
    if query.is_empty() {
        return Ok(Vec::new());
    }
    match db {
        Database::Postgres(pool) => {
            sqlx::query_as(PG_SEARCH)
                .bind(user_id)
                .bind(query.to_tsquery())
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await
        }
        // CROSS JOIN keeps FTS5 as the outer loop: the match runs once, not once per note of the user.
        Database::Sqlite(pool) => {
            sqlx::query_as(
                "SELECT n.path, n.title, n.tags, n.body, n.mtime_ms, -bm25(notes_fts, 10.0, 5.0, 1.0) AS rank \
                 FROM notes_fts CROSS JOIN notes n ON n.rowid = notes_fts.rowid \
                 WHERE notes_fts MATCH $2 AND n.user_id = $1 ORDER BY rank DESC, n.path LIMIT $3 OFFSET $4",
            )
            .bind(user_id)
            .bind(query.to_fts5())
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await
        }
    }
}

/// (path, title, mtime in epoch ms) of a user's notes, most recently modified first.
pub async fn recent(
    db: &Database,
    user_id: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<(String, String, i64)>, sqlx::Error> {
    const SQL: &str = "SELECT path, title, mtime_ms FROM notes WHERE user_id = $1 \
        ORDER BY mtime_ms DESC, path LIMIT $2 OFFSET $3";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).bind(limit).bind(offset).fetch_all(pool).await)
}

/// Every user with notes in the index (for the boot reconcile).
pub async fn user_ids(db: &Database) -> Result<Vec<String>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar("SELECT id FROM users ORDER BY id").fetch_all(pool).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_queries_become_plain_words() {
        let q = SearchQuery::parse(r#"foo* "exact phrase" ' OR 1=1; -- & | ! ( ) : NEAR "#);
        assert_eq!(q.to_tsquery(), "foo:* & (exact <-> phrase) & or & 1 & 1 & near");
        assert_eq!(
            q.to_fts5(),
            "\"foo\"* AND \"exact phrase\" AND \"or\" AND \"1\" AND \"1\" AND \"near\""
        );
        assert!(SearchQuery::parse("*** ((( \"\"").is_empty());
    }

    #[test]
    fn link_and_note_keys_are_stems() {
        assert_eq!(link_name_key("Folder/My Note.md"), "my note");
        assert_eq!(link_name_key(" /Idea "), "idea");
        assert_eq!(link_name_key("Idea.MD"), "idea");
        assert_eq!(note_name_key("Folder/My Note.md"), "my note");
        assert_eq!(note_name_key("A/Idea.MD"), "idea");
    }
}
