-- kryton:compat=expand
-- Backlinks from an index: each note's lower-cased file stem (`Folder/My Note.md` -> `my note`), the
-- same key note_links.target_key holds for a link, so the notes a link may resolve to are found by
-- an index lookup instead of loading every path of the vault. '' until the note is next indexed;
-- readers treat '' as "could be anything", so the previous release keeps working.
ALTER TABLE notes ADD COLUMN name_key TEXT NOT NULL DEFAULT '';
CREATE INDEX notes_name_key ON notes (user_id, name_key);
-- The index is derived from the files: marking every row stale makes the next boot's reconcile
-- re-read each note once, which fills name_key and recomputes target_key by the same rule.
UPDATE notes SET mtime_ms = -1;
