//! Who may read or write which note of another user's vault: the one permission check every
//! route and tool asks ("may user U read/write path P of owner O"), and the views of a recipient
//! (search hits, graph nodes) built only from what their shares cover.
//!
//! Rules: the owner may do anything in their own vault; anyone else needs a share from an active
//! owner that covers the path (a note share: that exact path; a folder share: every note below the
//! folder, whenever it was created). `read` reads, `readwrite` also writes. Several shares covering
//! one path give the widest permission. Nothing is cached, so a revoked or narrowed share is in
//! force on the next request, on every replica.

use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

use super::blocking;
use crate::config::Config;
use crate::db::Database;
use crate::error::AppError;
use crate::markdown::{self, LinkResolver};
use crate::store::notes::{self as index, SearchQuery};
use crate::store::shares::{self, ShareRow};
use crate::vault::journal::Intent;
use crate::vault::{FolderPath, NotePath};

/// What a share lets its recipient do.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    Read,
    #[serde(rename = "readwrite")]
    ReadWrite,
}

impl Permission {
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::Read => "read",
            Permission::ReadWrite => "readwrite",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read" => Some(Permission::Read),
            "readwrite" => Some(Permission::ReadWrite),
            _ => None,
        }
    }
}

/// Whether `share` covers the note at `path`.
pub fn covers(share: &ShareRow, path: &str) -> bool {
    if share.is_folder {
        path.strip_prefix(share.path.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
    } else {
        share.path == path
    }
}

/// The widest permission any of `shares` gives on `path`.
pub fn permission_in(shares: &[ShareRow], path: &str) -> Option<Permission> {
    shares
        .iter()
        .filter(|s| covers(s, path))
        .filter_map(|s| Permission::parse(&s.permission))
        .max()
}

/// What `user` may do with the note at `path` in `owner`'s vault: `None` for nothing.
pub async fn permission(
    db: &Database,
    owner: &str,
    path: &NotePath,
    user: &str,
) -> Result<Option<Permission>, AppError> {
    if owner == user {
        return Ok(Some(Permission::ReadWrite));
    }
    let shares = shares::active_between(db, owner, user).await?;
    Ok(permission_in(&shares, path.as_str()))
}

/// Answers the question every shared route and tool asks; `Ok` with the permission held when
/// `user` may read (and, with `write`, write) the note. The refusal says nothing about whether
/// the note exists.
pub async fn authorize(
    db: &Database,
    owner: &str,
    path: &NotePath,
    user: &str,
    write: bool,
) -> Result<Permission, AppError> {
    match permission(db, owner, path, user).await? {
        None => Err(AppError::Forbidden("this note is not shared with you".to_owned())),
        Some(Permission::Read) if write => {
            Err(AppError::Forbidden("this note is shared with you read-only".to_owned()))
        }
        Some(held) => Ok(held),
    }
}

/// The notes one owner shares with a recipient: (path, title, permission), sorted by path.
pub async fn visible_notes(
    db: &Database,
    owner: &str,
    shares: &[ShareRow],
) -> Result<Vec<(String, String, Permission)>, AppError> {
    Ok(index::titles(db, owner)
        .await?
        .into_iter()
        .filter_map(|(path, title)| permission_in(shares, &path).map(|p| (path, title, p)))
        .collect())
}

/// The active shares made to `user`, grouped by owner.
pub async fn shares_by_owner(db: &Database, user: &str) -> Result<BTreeMap<String, Vec<ShareRow>>, AppError> {
    let mut grouped: BTreeMap<String, Vec<ShareRow>> = BTreeMap::new();
    for row in shares::active_with(db, user).await? {
        grouped
            .entry(row.share.owner_user_id.clone())
            .or_default()
            .push(row.share);
    }
    Ok(grouped)
}

/// A search hit in a note shared with the searcher.
#[derive(Debug, Clone)]
pub struct SharedHit {
    pub owner_user_id: String,
    pub path: String,
    pub title: String,
    pub snippet: String,
    pub tags: Vec<String>,
    pub mtime_ms: i64,
    pub score: f64,
}

/// Matches of `query` in the notes shared with `user`: each owner's index is searched and only
/// the rows a share covers are kept, so snippets come from shared notes alone.
pub async fn search(db: &Database, user: &str, query: &SearchQuery, limit: i64) -> Result<Vec<SharedHit>, AppError> {
    let words = query.words();
    let mut hits = Vec::new();
    for (owner, shares) in shares_by_owner(db, user).await? {
        // Ask the owner's index for more than the limit: rows outside the shares are dropped.
        for row in index::search(db, &owner, query, limit.saturating_mul(4).max(1000), 0).await? {
            if permission_in(&shares, &row.path).is_none() {
                continue;
            }
            hits.push(SharedHit {
                owner_user_id: owner.clone(),
                snippet: markdown::snippet(&row.body, &words),
                tags: row.tags.split_whitespace().map(str::to_owned).collect(),
                path: row.path,
                title: row.title,
                mtime_ms: row.mtime_ms,
                score: row.rank,
            });
        }
    }
    hits.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    Ok(hits)
}

/// A shared note in the recipient's graph.
#[derive(Debug, Clone)]
pub struct SharedNode {
    pub owner_user_id: String,
    pub path: String,
    pub title: String,
    pub orphan: bool,
}

/// A link between two notes of one owner that are both shared with the viewer.
#[derive(Debug, Clone)]
pub struct SharedEdge {
    pub owner_user_id: String,
    pub from_path: String,
    pub to_path: String,
    pub embed: bool,
}

/// The part of each owner's graph the viewer may see: the shared notes, and the links between
/// them. A link to or from a note outside the shares is left out, so neither its path nor its
/// title reaches the viewer.
pub async fn graph(db: &Database, user: &str) -> Result<(Vec<SharedNode>, Vec<SharedEdge>), AppError> {
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for (owner, shares) in shares_by_owner(db, user).await? {
        let all = index::titles(db, &owner).await?;
        let paths: Vec<&str> = all.iter().map(|(p, _)| p.as_str()).collect();
        let resolver = LinkResolver::new(&paths);
        let visible: HashSet<&str> = all
            .iter()
            .map(|(p, _)| p.as_str())
            .filter(|p| permission_in(&shares, p).is_some())
            .collect();
        let mut connected = HashSet::new();
        for link in index::links(db, &owner).await? {
            if !visible.contains(link.source_path.as_str()) {
                continue;
            }
            if let Some(target) = resolver.resolve(&link.target)
                && visible.contains(*target)
            {
                connected.insert(link.source_path.clone());
                connected.insert((*target).to_owned());
                edges.push(SharedEdge {
                    owner_user_id: owner.clone(),
                    to_path: (*target).to_owned(),
                    from_path: link.source_path,
                    embed: link.embed,
                });
            }
        }
        for (path, title) in all.iter().filter(|(p, _)| visible.contains(p.as_str())) {
            nodes.push(SharedNode {
                owner_user_id: owner.clone(),
                orphan: !connected.contains(path),
                path: path.clone(),
                title: title.clone(),
            });
        }
    }
    Ok((nodes, edges))
}

/// Boot's catch-up for a crash between a rename (durable in the vault's journal) and the update
/// of the shares that follow it: a share whose note or folder is gone follows the newest finished
/// rename of its path in the owner's journal. Returns how many shares moved.
pub async fn repair_after_crash(db: &Database, config: &Config) -> Result<usize, AppError> {
    let mut repaired = 0;
    for owner in shares::owners(db).await? {
        let vault = super::vault(config, &owner);
        for share in shares::of_owner(db, &owner).await? {
            let (reader, path, is_folder) = (vault.clone(), share.path.clone(), share.is_folder);
            let rename = blocking(move || {
                let present = if is_folder {
                    FolderPath::parse(&path)?.resolve(reader.root())?.is_dir()
                } else {
                    NotePath::parse(&path)?.resolve(reader.root())?.is_file()
                };
                if present {
                    return Ok(None);
                }
                reader.finished(|intent| match intent {
                    Intent::RenameNote { from, .. } => !is_folder && *from == path,
                    Intent::RenameFolder { from, .. } => path
                        .strip_prefix(from.as_str())
                        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/')),
                    _ => false,
                })
            })
            .await;
            let moved = match rename {
                Ok(Some((Intent::RenameNote { from, to, .. }, _))) => {
                    shares::follow_move(db, &owner, &shares::Moved::Note { from: &from, to: &to }).await?
                }
                Ok(Some((Intent::RenameFolder { from, to, .. }, _))) => {
                    shares::follow_move(db, &owner, &shares::Moved::Folder { from: &from, to: &to }).await?
                }
                Ok(_) => 0,
                // A share whose path no longer parses (an older rule) is left alone, never fatal.
                Err(AppError::Validation(_)) => 0,
                Err(e) => return Err(e),
            };
            repaired += moved;
        }
    }
    Ok(repaired)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn share(path: &str, is_folder: bool, permission: &str) -> ShareRow {
        ShareRow {
            id: "s".into(),
            owner_user_id: "o".into(),
            path: path.into(),
            is_folder,
            shared_with_user_id: "r".into(),
            permission: permission.into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn folder_shares_cover_what_is_below_and_nothing_beside() {
        let folder = share("Team", true, "read");
        assert!(covers(&folder, "Team/Plan.md"));
        assert!(covers(&folder, "Team/deep/er/Note.md"));
        assert!(!covers(&folder, "Team.md"));
        assert!(!covers(&folder, "Teammates/Secret.md"));
        assert!(!covers(&folder, "Other/Team/Plan.md"));
        let note = share("Team/Plan.md", false, "read");
        assert!(covers(&note, "Team/Plan.md"));
        assert!(!covers(&note, "Team/Plan.md.md"));
        assert!(!covers(&note, "Team/Plan"));
    }

    #[test]
    fn the_widest_permission_wins() {
        let shares = [share("Team", true, "read"), share("Team/Plan.md", false, "readwrite")];
        assert_eq!(permission_in(&shares, "Team/Plan.md"), Some(Permission::ReadWrite));
        assert_eq!(permission_in(&shares, "Team/Other.md"), Some(Permission::Read));
        assert_eq!(permission_in(&shares, "Private.md"), None);
    }
}
