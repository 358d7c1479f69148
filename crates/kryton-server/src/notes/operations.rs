//! The multi-step note operations, below every face (REST today, MCP next): the vault runs them
//! through its intent journal (`vault::fs::journal`), these functions feed it the notes to
//! rewrite from the index and bring the index in line afterwards.

use serde::Serialize;

use super::{blocking, links_to, paths, sync_path, vault};
use crate::config::Config;
use crate::db::Database;
use crate::error::AppError;
use crate::store;
use crate::vault::journal::{Intent, Outcome};
use crate::vault::{FolderPath, NotePath, Vault};

/// One rewritten note, as the rename routes answer it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema, schemars::JsonSchema)]
pub struct Rewritten {
    pub path: String,
    pub links: usize,
}

/// A finished rename or folder move.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Moved {
    pub path: String,
    pub moved: usize,
    pub rewritten: Vec<Rewritten>,
    /// Kept for the API's shape: links are rewritten under the vault lock, so none are left.
    pub links_left: Vec<String>,
}

fn moved(outcome: Outcome) -> Moved {
    Moved {
        path: outcome.path,
        moved: outcome.moved.len(),
        rewritten: outcome
            .rewritten
            .into_iter()
            .map(|(path, links)| Rewritten { path, links })
            .collect(),
        links_left: Vec::new(),
    }
}

/// Re-indexes what an operation touched (a crash before this is healed by boot's reconcile).
async fn sync_outcome(db: &Database, vault: &Vault, user_id: &str, outcome: &Outcome) -> Result<(), AppError> {
    let touched = outcome
        .moved
        .iter()
        .flat_map(|(old, new)| [old, new])
        .chain(outcome.rewritten.iter().map(|(p, _)| p));
    for path in touched {
        if let Ok(path) = NotePath::parse(path) {
            sync_path(db, vault, user_id, &path).await?;
        }
    }
    Ok(())
}

/// Renames a note and rewrites the links to it. A retry of a rename that already finished (the
/// client lost the answer to a crash) answers the finished result.
pub async fn rename_note(
    db: &Database,
    config: &Config,
    user_id: &str,
    from: &NotePath,
    to: &NotePath,
) -> Result<Moved, AppError> {
    let vault = vault(config, user_id);
    // Who links here, decided while the old path still resolves; frozen in the journal record.
    let sources: Vec<String> = links_to(db, user_id, from.as_str())
        .await?
        .into_iter()
        .map(|l| l.source_path)
        .collect();
    let (mover, a, b) = (vault.clone(), from.clone(), to.clone());
    let outcome = blocking(move || match mover.rename_note(&a, &b, &sources) {
        Err(crate::vault::VaultError::NotFound(what)) => {
            let (a, b) = (a.as_str(), b.as_str());
            let replay =
                mover.finished(|i| matches!(i, Intent::RenameNote { from, to, .. } if from == a && to == b))?;
            match replay {
                Some((_, outcome)) if mover.read(&NotePath::parse(b)?).is_ok() => Ok(outcome),
                _ => Err(crate::vault::VaultError::NotFound(what)),
            }
        }
        other => other,
    })
    .await?;
    // The files moved durably first; the shares follow in one transaction. A crash between the two
    // is caught up by boot (`sharing::repair_after_crash`) and by a retry of this request.
    store::shares::follow_move(
        db,
        user_id,
        &store::shares::Moved::Note {
            from: from.as_str(),
            to: to.as_str(),
        },
    )
    .await?;
    sync_outcome(db, &vault, user_id, &outcome).await?;
    Ok(moved(outcome))
}

/// Moves a folder with its notes and their history, and rewrites the links into it.
pub async fn rename_folder(
    db: &Database,
    config: &Config,
    user_id: &str,
    from: &FolderPath,
    to: &FolderPath,
) -> Result<Moved, AppError> {
    let vault = vault(config, user_id);
    let all = paths(db, user_id).await?;
    let mut sources = Vec::new();
    for path in all.iter().filter(|p| from.contains(p)) {
        sources.extend(links_to(db, user_id, path).await?.into_iter().map(|l| l.source_path));
    }
    sources.sort();
    sources.dedup();
    let (mover, a, b) = (vault.clone(), from.clone(), to.clone());
    let outcome = blocking(move || match mover.move_folder(&a, &b, &sources) {
        Err(crate::vault::VaultError::NotFound(what)) => {
            let (a, b) = (a.as_str(), b.as_str());
            let replay =
                mover.finished(|i| matches!(i, Intent::RenameFolder { from, to, .. } if from == a && to == b))?;
            match replay {
                Some((_, outcome)) if mover.root().join(b).is_dir() => Ok(outcome),
                _ => Err(crate::vault::VaultError::NotFound(what)),
            }
        }
        other => other,
    })
    .await?;
    store::shares::follow_move(
        db,
        user_id,
        &store::shares::Moved::Folder {
            from: from.as_str(),
            to: to.as_str(),
        },
    )
    .await?;
    sync_outcome(db, &vault, user_id, &outcome).await?;
    Ok(moved(outcome))
}

/// Boot's repair, before the listener opens and before the index is reconciled: in every vault
/// directory, finish an interrupted operation and remove temp files of interrupted writes; report
/// vault directories that belong to no user (never deleted: they may be someone's notes).
pub async fn recover_all(db: &Database, config: &Config) -> Result<(), AppError> {
    finish_user_deletions(db, config).await?;
    let users: std::collections::HashSet<String> = store::users::list(db).await?.into_iter().map(|u| u.id).collect();
    let root = config.notes_dir.clone();
    let dirs = blocking(move || {
        let mut dirs = Vec::new();
        for entry in std::fs::read_dir(&root)? {
            let entry = entry?;
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if !name.starts_with('.') && entry.file_type()?.is_dir() {
                dirs.push(name);
            }
        }
        Ok(dirs)
    })
    .await?;
    let mut any_rename = false;
    for dir in dirs {
        if !users.contains(&dir) {
            tracing::warn!(directory = %config.notes_dir.join(&dir).display(),
                "a vault directory belongs to no user; left untouched (move it away or restore its user)");
        }
        let vault = vault(config, &dir);
        let (recovery, renamed) = blocking(move || {
            let recovery = vault.recover()?;
            let renamed = vault
                .finished(|intent| matches!(intent, Intent::RenameNote { .. } | Intent::RenameFolder { .. }))?
                .is_some();
            Ok((recovery, renamed))
        })
        .await?;
        any_rename |= renamed;
        if let Some(operation) = &recovery.finished {
            tracing::warn!(user = %dir, %operation, "finished an operation interrupted by a crash");
        }
        if recovery.temp_files_removed > 0 {
            tracing::info!(user = %dir, removed = recovery.temp_files_removed, "removed temp files of interrupted writes");
        }
    }
    // With every vault's operations finished, shares left behind by a crash catch up with them
    // (only renames move shares: without one in any journal there is nothing to look at).
    let repaired = if any_rename {
        super::sharing::repair_after_crash(db, config).await?
    } else {
        0
    };
    if repaired > 0 {
        tracing::warn!(
            shares = repaired,
            "moved shares along with renames a crash had interrupted"
        );
    }
    Ok(())
}

/// A user deletion, recorded in `NOTES_DIR/.deleted/.pending-<id>.json` before the first step and
/// renamed to `.done-<id>.json` after the last.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserDeletion {
    user_id: String,
    /// Where the vault goes (`NOTES_DIR/.deleted/<id>-<epoch-ms>`), or `None` without a vault.
    moved_to: Option<std::path::PathBuf>,
}

/// User ids name files here: only the characters the server generates them from.
fn safe_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 64 && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn graveyard(config: &Config) -> std::path::PathBuf {
    config.notes_dir.join(".deleted")
}

/// Deletes an account (sessions and keys go with it) and moves its vault aside to
/// `NOTES_DIR/.deleted/<id>-<epoch-ms>`, so an accident can be undone by hand. The plan is
/// recorded first and each step can run again, so a crash leaves the deletion undone or, once
/// recorded, finished at the next boot. Returns where the vault went.
pub async fn delete_user(db: &Database, config: &Config, user_id: &str) -> Result<Option<String>, AppError> {
    if !safe_id(user_id) {
        return Err(AppError::Validation("not a user id".to_owned()));
    }
    let vault_dir = config.notes_dir.join(user_id);
    let moved_to = vault_dir
        .exists()
        .then(|| graveyard(config).join(format!("{user_id}-{}", store::now_ms())));
    let plan = UserDeletion {
        user_id: user_id.to_owned(),
        moved_to,
    };
    let pending = graveyard(config).join(format!(".pending-{user_id}.json"));
    let json = serde_json::to_vec_pretty(&plan).map_err(|e| AppError::Internal(e.into()))?;
    blocking(move || {
        let _crash = crate::crash::operation("delete-user");
        Ok(crate::vault::write_atomic(&pending, &json)?)
    })
    .await?;
    finish_user_deletion(db, config, plan).await
}

async fn finish_user_deletion(db: &Database, config: &Config, plan: UserDeletion) -> Result<Option<String>, AppError> {
    let dir = graveyard(config);
    let (pending, done) = (
        dir.join(format!(".pending-{}.json", plan.user_id)),
        dir.join(format!(".done-{}.json", plan.user_id)),
    );
    // The account goes first, in one transaction that also refuses to remove the last active
    // admin; a replay after a crash finds it gone and goes on with the vault.
    match store::users::apply_guarded(db, &plan.user_id, store::users::Change::Delete).await {
        Ok(_) | Err(store::users::GuardError::NotFound) => {}
        Err(store::users::GuardError::LastAdmin) => {
            let (record, parent) = (pending.clone(), dir.clone());
            blocking(move || {
                std::fs::remove_file(&record)?;
                Ok(crate::vault::fs::sync_dir(&parent)?)
            })
            .await?;
            return Err(AppError::Conflict(store::users::GuardError::LastAdmin.to_string()));
        }
        Err(store::users::GuardError::Database(e)) => return Err(e.into()),
    }
    let vault_dir = config.notes_dir.join(&plan.user_id);
    let moved_to = plan.moved_to.clone();
    blocking(move || {
        let _crash = crate::crash::operation("delete-user");
        if let Some(to) = &moved_to
            && vault_dir.exists()
            && !to.exists()
        {
            crate::vault::fs::rename_durable(&vault_dir, to)?;
        }
        Ok(crate::vault::fs::rename_durable(&pending, &done)?)
    })
    .await?;
    Ok(plan.moved_to.map(|p| p.display().to_string()))
}

/// A deletion of `user_id` that already finished: what a retried request answers.
pub fn finished_user_deletion(config: &Config, user_id: &str) -> Option<Option<String>> {
    if !safe_id(user_id) {
        return None;
    }
    let bytes = std::fs::read(graveyard(config).join(format!(".done-{user_id}.json"))).ok()?;
    let plan: UserDeletion = serde_json::from_slice(&bytes).ok()?;
    Some(plan.moved_to.map(|p| p.display().to_string()))
}

/// Boot: finishes user deletions a crash interrupted (the database is open, the port is not).
pub async fn finish_user_deletions(db: &Database, config: &Config) -> Result<(), AppError> {
    let dir = graveyard(config);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(|e| AppError::Internal(e.into()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !(name.starts_with(".pending-") && name.ends_with(".json")) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| AppError::Internal(e.into()))?;
        let plan: UserDeletion = serde_json::from_slice(&bytes).map_err(|e| AppError::Internal(e.into()))?;
        tracing::warn!(user = %plan.user_id, "finishing a user deletion interrupted by a crash");
        finish_user_deletion(db, config, plan).await?;
    }
    Ok(())
}
