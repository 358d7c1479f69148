//! Kept versions of notes, and the trash.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::AppState;
use super::notes::note_path;
use crate::auth::CurrentUser;
use crate::error::{AppError, ErrorBody};
use crate::notes::{self, blocking, sync_path};
use crate::store::iso;
use crate::vault::{EntryKind, NotePath, TrashEntry};

#[derive(OpenApi)]
#[openapi(paths(list, version, restore, trash, restore_from_trash, delete_forever, empty_trash))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/history/{*path}", get(list))
        .route("/api/history-version/{*path}", get(version))
        .route("/api/history-restore/{*path}", post(restore))
        .route("/api/trash", get(trash))
        .route("/api/trash/restore/{*path}", post(restore_from_trash))
        .route("/api/trash/{*path}", delete(delete_forever))
        .route("/api/trash-empty", delete(empty_trash))
}

#[derive(Deserialize, IntoParams)]
pub struct At {
    /// A version's `timestamp` (epoch milliseconds).
    ts: Option<String>,
}

fn timestamp(at: &At) -> Result<u64, AppError> {
    at.ts
        .as_deref()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| AppError::Validation("ts must be a version's timestamp (epoch milliseconds)".to_owned()))
}

fn iso_ms(ms: u64) -> String {
    iso(i64::try_from(ms).unwrap_or(i64::MAX))
}

#[derive(Serialize, ToSchema)]
pub struct Version {
    /// Epoch milliseconds at which this version was replaced: the `ts` of the other routes.
    pub timestamp: u64,
    pub size: u64,
    /// The same instant, RFC 3339.
    pub date: String,
}

#[derive(Serialize, ToSchema)]
pub struct Versions {
    pub path: String,
    /// Newest first.
    pub versions: Vec<Version>,
}

#[utoipa::path(get, path = "/api/history/{path}", tag = "history",
    params(("path" = String, Path, description = "The note's path (slashes allowed)")),
    responses((status = 200, body = Versions), (status = 400, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Versions>, AppError> {
    let path = note_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let target = path.clone();
    let versions = blocking(move || vault.history(&target)).await?;
    Ok(Json(Versions {
        path: path.as_str().to_owned(),
        versions: versions
            .into_iter()
            .map(|v| Version {
                timestamp: v.timestamp,
                size: v.size,
                date: iso_ms(v.timestamp),
            })
            .collect(),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct VersionContent {
    pub path: String,
    pub content: String,
    pub timestamp: u64,
    pub date: String,
}

#[utoipa::path(get, path = "/api/history-version/{path}", tag = "history",
    params(("path" = String, Path, description = "The note's path (slashes allowed)"), At),
    responses((status = 200, body = VersionContent), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn version(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    Query(at): Query<At>,
) -> Result<Json<VersionContent>, AppError> {
    let path = note_path(&raw)?;
    let ts = timestamp(&at)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let target = path.clone();
    let content = blocking(move || vault.history_version(&target, ts)).await?;
    Ok(Json(VersionContent {
        path: path.as_str().to_owned(),
        content,
        timestamp: ts,
        date: iso_ms(ts),
    }))
}

#[derive(Serialize, ToSchema)]
pub struct VersionRestored {
    pub restored: bool,
    pub path: String,
    /// The note's new ETag.
    pub etag: String,
}

/// Writes a kept version back; the current content becomes a version too, so it can be undone.
#[utoipa::path(post, path = "/api/history-restore/{path}", tag = "history",
    params(("path" = String, Path, description = "The note's path (slashes allowed)"), At,
        ("If-Match" = Option<String>, Header, description = "The ETag the restore is based on")),
    responses((status = 200, body = VersionRestored), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn restore(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    Query(at): Query<At>,
    headers: HeaderMap,
) -> Result<Json<VersionRestored>, AppError> {
    let path = note_path(&raw)?;
    let ts = timestamp(&at)?;
    let expected = super::notes::if_match(&headers);
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path.clone());
    let etag = blocking(move || writer.restore_version(&target, ts, expected.as_deref())).await?;
    sync_path(&state.db, &vault, &me.user.id, &path).await?;
    Ok(Json(VersionRestored {
        restored: true,
        path: path.as_str().to_owned(),
        etag,
    }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrashItem {
    /// The item's id in the trash routes (its path inside the trash).
    pub path: String,
    /// Where it was deleted from.
    pub original_path: String,
    /// RFC 3339.
    pub trashed_at: String,
    pub kind: EntryKind,
}

impl From<TrashEntry> for TrashItem {
    fn from(entry: TrashEntry) -> Self {
        TrashItem {
            path: entry.trash_path,
            original_path: entry.original_path,
            trashed_at: iso_ms(entry.deleted_at),
            kind: entry.kind,
        }
    }
}

#[utoipa::path(get, path = "/api/trash", tag = "history", responses((status = 200, body = Vec<TrashItem>)))]
async fn trash(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Vec<TrashItem>>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    let entries = blocking(move || vault.trash()).await?;
    Ok(Json(entries.into_iter().map(TrashItem::from).collect()))
}

#[derive(Serialize, ToSchema)]
pub struct TrashRestored {
    pub message: String,
    /// Where the item is now.
    pub path: String,
    pub kind: EntryKind,
}

/// Back to the original path, or to a free name beside it when that path is taken.
#[utoipa::path(post, path = "/api/trash/restore/{path}", tag = "history",
    params(("path" = String, Path, description = "The trash item's `path` from `GET /api/trash`")),
    responses((status = 200, body = TrashRestored), (status = 404, body = ErrorBody)))]
async fn restore_from_trash(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(trash_path): Path<String>,
) -> Result<Json<TrashRestored>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    let restorer = vault.clone();
    let restored = blocking(move || restorer.restore_from_trash(&trash_path)).await?;
    for note in &restored.notes {
        sync_path(&state.db, &vault, &me.user.id, note).await?;
    }
    if restored.kind == EntryKind::File
        && let Ok(path) = NotePath::parse(&restored.path)
    {
        sync_path(&state.db, &vault, &me.user.id, &path).await?;
    }
    Ok(Json(TrashRestored {
        message: "Restored from trash".to_owned(),
        path: restored.path,
        kind: restored.kind,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct TrashDeleted {
    pub message: String,
    /// How many items went (emptying the trash).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deleted: Option<usize>,
}

#[utoipa::path(delete, path = "/api/trash/{path}", tag = "history",
    params(("path" = String, Path, description = "The trash item's `path` from `GET /api/trash`")),
    responses((status = 200, body = TrashDeleted), (status = 404, body = ErrorBody)))]
async fn delete_forever(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(trash_path): Path<String>,
) -> Result<Json<TrashDeleted>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    blocking(move || vault.delete_forever(&trash_path)).await?;
    Ok(Json(TrashDeleted {
        message: "Permanently deleted".to_owned(),
        deleted: Some(1),
    }))
}

#[utoipa::path(delete, path = "/api/trash-empty", tag = "history", responses((status = 200, body = TrashDeleted)))]
async fn empty_trash(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> Result<Json<TrashDeleted>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    let count = blocking(move || vault.empty_trash()).await?;
    Ok(Json(TrashDeleted {
        message: "Trash emptied".to_owned(),
        deleted: Some(count),
    }))
}
