//! Kept versions of notes, and the trash.

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::notes::note_path;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::notes::{self, blocking, sync_path};
use crate::vault::{EntryKind, NotePath};

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

#[derive(Deserialize)]
struct At {
    ts: Option<String>,
}

fn timestamp(at: &At) -> Result<u64, AppError> {
    at.ts
        .as_deref()
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| AppError::Validation("ts must be a version's timestamp (epoch milliseconds)".to_owned()))
}

async fn list(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let path = note_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let target = path.clone();
    let versions = blocking(move || vault.history(&target)).await?;
    Ok(Json(json!({ "path": path.as_str(), "versions": versions })))
}

async fn version(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    Query(at): Query<At>,
) -> Result<Json<Value>, AppError> {
    let path = note_path(&raw)?;
    let ts = timestamp(&at)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let target = path.clone();
    let content = blocking(move || vault.history_version(&target, ts)).await?;
    Ok(Json(json!({ "path": path.as_str(), "ts": ts, "content": content })))
}

/// Writes a kept version back; the current content becomes a version too, so it can be undone.
async fn restore(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    Query(at): Query<At>,
    headers: HeaderMap,
) -> Result<Json<Value>, AppError> {
    let path = note_path(&raw)?;
    let ts = timestamp(&at)?;
    let expected = super::notes::if_match(&headers);
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path.clone());
    let etag = blocking(move || writer.restore_version(&target, ts, expected.as_deref())).await?;
    sync_path(&state.db, &vault, &me.user.id, &path).await?;
    Ok(Json(json!({ "path": path.as_str(), "etag": etag })))
}

async fn trash(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Value>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    Ok(Json(json!(blocking(move || vault.trash()).await?)))
}

/// Back to the original path, or to a free name beside it when that path is taken.
async fn restore_from_trash(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(trash_path): Path<String>,
) -> Result<Json<Value>, AppError> {
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
    Ok(Json(json!(restored)))
}

async fn delete_forever(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(trash_path): Path<String>,
) -> Result<Json<Value>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    let deleted = blocking(move || vault.delete_forever(&trash_path)).await?;
    Ok(Json(json!({ "deleted": deleted })))
}

async fn empty_trash(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Value>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    let count = blocking(move || vault.empty_trash()).await?;
    Ok(Json(json!({ "deleted": count })))
}
