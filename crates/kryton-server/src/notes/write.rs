//! Changes to notes, shared by the REST handlers and the MCP tools: each writes the file first
//! (atomically, under the vault lock), then brings the index in line with the disk.

use serde::Serialize;

use super::{blocking, sync_path, vault};
use crate::config::Config;
use crate::db::Database;
use crate::error::AppError;
use crate::markdown;
use crate::vault::{FolderPath, Note, NotePath, TrashEntry, Vault, VaultError};

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

/// A note rewritten because it linked to a moved note.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rewritten {
    pub path: String,
    pub links: usize,
}

/// What a rename did to the notes linking to the moved ones.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Renamed {
    pub path: String,
    pub moved: usize,
    pub rewritten: Vec<Rewritten>,
    /// Notes whose links could not be rewritten because they changed meanwhile.
    pub links_left: Vec<String>,
}

/// Renames a note and rewrites the links that pointed to it in the user's other notes.
pub async fn rename(
    db: &Database,
    config: &Config,
    user_id: &str,
    from: &NotePath,
    to: &NotePath,
) -> Result<Renamed, AppError> {
    let vault = vault(config, user_id);
    // Who links here, decided before the move while the old path still resolves.
    let paths = super::paths(db, user_id).await?;
    let sources: Vec<String> = super::links_to(db, user_id, from.as_str(), &paths)
        .await?
        .into_iter()
        .map(|l| l.source_path)
        .collect();
    let (mover, (a, b)) = (vault.clone(), (from.clone(), to.clone()));
    blocking(move || mover.rename(&a, &b)).await?;
    sync_path(db, &vault, user_id, from).await?;
    sync_path(db, &vault, user_id, to).await?;
    let (rewritten, links_left) =
        rewrite_backlinks(db, &vault, user_id, sources, &[(from.clone(), to.clone())]).await?;
    Ok(Renamed {
        path: to.as_str().to_owned(),
        moved: 1,
        rewritten,
        links_left,
    })
}

/// Renames a folder with its notes, rewriting links into it.
pub async fn rename_folder(
    db: &Database,
    config: &Config,
    user_id: &str,
    from: &FolderPath,
    to: &FolderPath,
) -> Result<Renamed, AppError> {
    let vault = vault(config, user_id);
    // Notes that link into the folder, decided before the move.
    let paths = super::paths(db, user_id).await?;
    let mut sources = Vec::new();
    for path in paths.iter().filter(|p| from.contains(p)) {
        sources.extend(
            super::links_to(db, user_id, path, &paths)
                .await?
                .into_iter()
                .map(|l| l.source_path),
        );
    }
    sources.sort();
    sources.dedup();
    let (mover, (a, b)) = (vault.clone(), (from.clone(), to.clone()));
    let moves = blocking(move || mover.rename_folder(&a, &b)).await?;
    for (old, new) in &moves {
        sync_path(db, &vault, user_id, old).await?;
        sync_path(db, &vault, user_id, new).await?;
    }
    let (rewritten, links_left) = rewrite_backlinks(db, &vault, user_id, sources, &moves).await?;
    Ok(Renamed {
        path: to.as_str().to_owned(),
        moved: moves.len(),
        rewritten,
        links_left,
    })
}

/// Rewrites links in `sources` for each (old, new) move, with a compare-and-swap per note.
async fn rewrite_backlinks(
    db: &Database,
    vault: &Vault,
    user_id: &str,
    sources: Vec<String>,
    moves: &[(NotePath, NotePath)],
) -> Result<(Vec<Rewritten>, Vec<String>), AppError> {
    let mut rewritten = Vec::new();
    let mut left = Vec::new();
    for source in sources {
        // The source itself may have moved (a note linking to itself, or inside a renamed folder).
        let source = moves
            .iter()
            .find(|(old, _)| old.as_str() == source)
            .map_or(source, |(_, new)| new.as_str().to_owned());
        let Ok(path) = NotePath::parse(&source) else { continue };
        let (reader, target) = (vault.clone(), path.clone());
        let note = blocking(move || reader.read(&target)).await?;
        let mut text = note.content.clone();
        let mut count = 0;
        for (old, new) in moves {
            let (next, n) = markdown::rewrite_links(&text, old.as_str(), new.as_str());
            text = next;
            count += n;
        }
        if count == 0 {
            continue;
        }
        let (writer, target, hash) = (vault.clone(), path.clone(), note.hash.clone());
        match blocking(move || writer.update(&target, &text, Some(&hash))).await {
            Ok(_) => {
                sync_path(db, vault, user_id, &path).await?;
                rewritten.push(Rewritten {
                    path: path.as_str().to_owned(),
                    links: count,
                });
            }
            Err(AppError::PreconditionFailed { .. }) => left.push(path.as_str().to_owned()),
            Err(e) => return Err(e),
        }
    }
    Ok((rewritten, left))
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
