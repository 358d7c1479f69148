//! Changes to notes, shared by the REST handlers and the MCP tools: each writes the file first
//! (atomically, under the vault lock), then brings the index in line with the disk.

use serde::Serialize;

use super::{blocking, sync_path, vault};
use crate::config::Config;
use crate::db::Database;
use crate::error::AppError;
use crate::vault::{FolderPath, Note, NotePath, TrashEntry, VaultError};

/// Parses a user-supplied note path; a bad one is a validation error naming the rule.
pub fn note_path(raw: &str) -> Result<NotePath, AppError> {
    NotePath::parse(raw).map_err(|e| AppError::Validation(e.to_string()))
}

/// Parses a user-supplied folder path.
pub fn folder_path(raw: &str) -> Result<FolderPath, AppError> {
    FolderPath::parse(raw).map_err(|e| AppError::Validation(e.to_string()))
}

/// Reads one note from the user's vault.
pub async fn read(config: &Config, user_id: &str, path: &NotePath) -> Result<Note, AppError> {
    let (reader, target) = (vault(config, user_id), path.clone());
    blocking(move || reader.read(&target)).await
}

/// Creates a note; `Conflict` if something is already at that path. Returns the ETag.
pub async fn create(
    db: &Database,
    config: &Config,
    user_id: &str,
    path: &NotePath,
    content: String,
) -> Result<String, AppError> {
    let vault = vault(config, user_id);
    let (writer, target) = (vault.clone(), path.clone());
    let hash = blocking(move || writer.create(&target, &content)).await?;
    sync_path(db, &vault, user_id, path).await?;
    Ok(hash)
}

/// Replaces a note's content. With `expected` (an ETag), only if the note is still that version;
/// without it, creates the note when it is missing. Returns the new ETag.
pub async fn write(
    db: &Database,
    config: &Config,
    user_id: &str,
    path: &NotePath,
    content: String,
    expected: Option<String>,
) -> Result<String, AppError> {
    let vault = vault(config, user_id);
    let (writer, target) = (vault.clone(), path.clone());
    let hash = blocking(move || match writer.update(&target, &content, expected.as_deref()) {
        Err(VaultError::NotFound(_)) if expected.is_none() => writer.create(&target, &content),
        other => other,
    })
    .await?;
    sync_path(db, &vault, user_id, path).await?;
    Ok(hash)
}

/// Moves a note to the trash.
pub async fn delete(db: &Database, config: &Config, user_id: &str, path: &NotePath) -> Result<TrashEntry, AppError> {
    let vault = vault(config, user_id);
    let (writer, target) = (vault.clone(), path.clone());
    let trashed = blocking(move || writer.delete(&target)).await?;
    sync_path(db, &vault, user_id, path).await?;
    Ok(trashed)
}

/// What an exact-text edit did.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Edited {
    pub path: String,
    /// The new ETag: pass it to the next edit.
    pub etag: String,
    pub replacements: usize,
}

/// Replaces `old_text` with `new_text` in a note, only if the note is still at `etag`. The text
/// must occur exactly once unless `replace_all`; otherwise nothing is written and the error says
/// how many times it was found, so the caller can add context.
#[allow(clippy::too_many_arguments)]
pub async fn edit(
    db: &Database,
    config: &Config,
    user_id: &str,
    path: &NotePath,
    old_text: &str,
    new_text: &str,
    etag: &str,
    replace_all: bool,
) -> Result<Edited, AppError> {
    if old_text.is_empty() {
        return Err(AppError::Validation("oldText must not be empty".to_owned()));
    }
    let note = read(config, user_id, path).await?;
    if note.hash != etag {
        return Err(VaultError::Conflict {
            current_hash: note.hash,
        }
        .into());
    }
    let found = note.content.matches(old_text).count();
    if found == 0 {
        return Err(AppError::Validation(
            "oldText was not found in the note; read the note again and copy the exact text (whitespace included)"
                .to_owned(),
        ));
    }
    if found > 1 && !replace_all {
        return Err(AppError::Validation(format!(
            "oldText occurs {found} times; include more surrounding text so it is unique, or set replaceAll"
        )));
    }
    let content = if replace_all {
        note.content.replace(old_text, new_text)
    } else {
        note.content.replacen(old_text, new_text, 1)
    };
    let hash = write(db, config, user_id, path, content, Some(note.hash)).await?;
    Ok(Edited {
        path: path.as_str().to_owned(),
        etag: hash,
        replacements: found,
    })
}

/// Appends text at the end of a note (on a new line), optionally only if it is still at `etag`;
/// a missing note is created with the text. Returns the new ETag.
pub async fn append(
    db: &Database,
    config: &Config,
    user_id: &str,
    path: &NotePath,
    text: &str,
    etag: Option<String>,
) -> Result<String, AppError> {
    let vault = vault(config, user_id);
    let (writer, target, text) = (vault.clone(), path.clone(), text.to_owned());
    // Read and write under one compare-and-swap, retried when a concurrent writer got in between
    // (only when the caller did not pin a version).
    let hash = blocking(move || {
        for _ in 0..5 {
            let current = match writer.read(&target) {
                Ok(note) => note,
                Err(VaultError::NotFound(_)) if etag.is_none() => match writer.create(&target, &text) {
                    Err(VaultError::AlreadyExists) => continue,
                    other => return other,
                },
                Err(e) => return Err(e),
            };
            let expected = etag.clone().unwrap_or_else(|| current.hash.clone());
            let mut content = current.content;
            if !content.is_empty() && !content.ends_with('\n') {
                content.push('\n');
            }
            content.push_str(&text);
            match writer.update(&target, &content, Some(&expected)) {
                Err(VaultError::Conflict { .. }) if etag.is_none() => continue,
                other => return other,
            }
        }
        Err(VaultError::Conflict {
            current_hash: String::new(),
        })
    })
    .await?;
    sync_path(db, &vault, user_id, path).await?;
    Ok(hash)
}

/// What a rename did: the durable, journalled operations of [`super::operations`].
pub use super::operations::{Moved as Renamed, Rewritten};

/// Renames a note and rewrites the links that pointed to it in the user's other notes.
pub async fn rename(
    db: &Database,
    config: &Config,
    user_id: &str,
    from: &NotePath,
    to: &NotePath,
) -> Result<Renamed, AppError> {
    super::rename_note(db, config, user_id, from, to).await
}

/// Renames a folder with its notes, rewriting links into it.
pub async fn rename_folder(
    db: &Database,
    config: &Config,
    user_id: &str,
    from: &FolderPath,
    to: &FolderPath,
) -> Result<Renamed, AppError> {
    super::rename_folder(db, config, user_id, from, to).await
}

/// Creates a folder (and its parents); false when it already existed.
pub async fn create_folder(config: &Config, user_id: &str, path: &FolderPath) -> Result<bool, AppError> {
    let (writer, target) = (vault(config, user_id), path.clone());
    blocking(move || writer.create_folder(&target)).await
}

/// Writes a kept version back (the current content becomes a version too). Returns the ETag.
pub async fn restore_version(
    db: &Database,
    config: &Config,
    user_id: &str,
    path: &NotePath,
    timestamp: u64,
    expected: Option<String>,
) -> Result<String, AppError> {
    let vault = vault(config, user_id);
    let (writer, target) = (vault.clone(), path.clone());
    let etag = blocking(move || writer.restore_version(&target, timestamp, expected.as_deref())).await?;
    sync_path(db, &vault, user_id, path).await?;
    Ok(etag)
}

/// Creates a note from a template (`Templates/<name>.md`), filling `{{date}}` and `{{title}}`.
pub async fn create_from_template(
    db: &Database,
    config: &Config,
    user_id: &str,
    template: &str,
    path: &NotePath,
) -> Result<String, AppError> {
    let reader = vault(config, user_id);
    let name = template.to_owned();
    let text = blocking(move || reader.template(&name)).await?;
    let today = time::OffsetDateTime::now_utc().date();
    let day = format!("{:04}-{:02}-{:02}", today.year(), u8::from(today.month()), today.day());
    let content = crate::vault::fs::render_template(&text, &day, path.stem());
    create(db, config, user_id, path, content).await
}
