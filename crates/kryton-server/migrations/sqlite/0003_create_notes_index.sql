-- kryton:compat=expand
-- The knowledge index. Notes live on disk (NOTES_DIR/<userId>/<path>); these tables can always be
-- rebuilt from the files (`kryton reindex`). Everything is keyed by (user_id, path), never by path
-- alone, so two users' `Welcome.md` never collide.
CREATE TABLE notes (
    user_id TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    title TEXT NOT NULL,
    tags TEXT NOT NULL DEFAULT '',
    body TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ms INTEGER NOT NULL,
    indexed_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, path)
);

-- Full-text search (FTS5); its rowid is the notes row's rowid, kept in step by the server.
CREATE VIRTUAL TABLE notes_fts USING fts5 (title, tags, body, tokenize = 'unicode61 remove_diacritics 2');

-- Wiki-links as written; resolution (by path, then by unique file name) happens when read, so a
-- link starts working the moment its target is created. target_key is the target's lower-cased
-- file stem, to find the candidate backlinks of a note quickly.
CREATE TABLE note_links (
    user_id TEXT NOT NULL,
    source_path TEXT NOT NULL,
    position INTEGER NOT NULL,
    target TEXT NOT NULL,
    target_key TEXT NOT NULL,
    heading TEXT,
    alias TEXT,
    embed INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, source_path, position),
    FOREIGN KEY (user_id, source_path) REFERENCES notes (user_id, path) ON DELETE CASCADE
);
CREATE INDEX note_links_target ON note_links (user_id, target_key);

CREATE TABLE note_tags (
    user_id TEXT NOT NULL,
    path TEXT NOT NULL,
    tag TEXT NOT NULL,
    PRIMARY KEY (user_id, path, tag),
    FOREIGN KEY (user_id, path) REFERENCES notes (user_id, path) ON DELETE CASCADE
);
CREATE INDEX note_tags_tag ON note_tags (user_id, tag);
