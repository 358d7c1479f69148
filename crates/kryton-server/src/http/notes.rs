//! The vault over HTTP: the tree, note CRUD with ETags, rename with link rewriting, folders.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::json::ApiJson;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::markdown;
use crate::notes::{self, blocking, millis, sync_path};
use crate::store::iso;
use crate::store::notes as index;
use crate::vault::{FolderPath, NotePath};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/notes", get(tree).post(create))
        .route("/api/notes/{*path}", get(read).put(update).delete(remove))
        .route("/api/notes-rename/{*path}", post(rename))
        .route("/api/folders", post(create_folder))
        .route("/api/folders/{*path}", axum::routing::delete(delete_folder))
        .route("/api/folders-rename/{*path}", post(rename_folder))
}

pub fn note_path(raw: &str) -> Result<NotePath, AppError> {
    NotePath::parse(raw).map_err(|e| AppError::Validation(e.to_string()))
}

fn folder_path(raw: &str) -> Result<FolderPath, AppError> {
    FolderPath::parse(raw).map_err(|e| AppError::Validation(e.to_string()))
}

/// `If-Match: "<hash>"` (quotes and a weak prefix tolerated); `*` means "any version".
pub fn if_match(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::IF_MATCH)?.to_str().ok()?.trim();
    let value = value.strip_prefix("W/").unwrap_or(value).trim_matches('"');
    (value != "*").then(|| value.to_owned())
}

fn with_etag(mut response: Response, hash: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

async fn tree(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Value>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    Ok(Json(json!(blocking(move || vault.tree()).await?)))
}

async fn read(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let path = note_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let note = blocking(move || vault.read(&path)).await?;
    let parsed = markdown::parse(&note.content, note.path.stem());
    let body = json!({
        "path": note.path.as_str(),
        "title": parsed.title,
        "content": note.content,
        "etag": note.hash,
        "size": note.size,
        "modifiedAt": iso(millis(note.modified)),
        "tags": parsed.tags,
        "links": parsed.links,
    });
    Ok(with_etag(Json(body).into_response(), &note.hash))
}

#[derive(Deserialize)]
struct NewNote {
    path: String,
    #[serde(default)]
    content: String,
}

async fn create(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(body): ApiJson<NewNote>,
) -> Result<Response, AppError> {
    let path = note_path(&body.path)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path.clone());
    let hash = blocking(move || writer.create(&target, &body.content)).await?;
    sync_path(&state.db, &vault, &me.user.id, &path).await?;
    let response = (
        StatusCode::CREATED,
        Json(json!({ "path": path.as_str(), "etag": hash })),
    )
        .into_response();
    Ok(with_etag(response, &hash))
}

#[derive(Deserialize)]
struct NoteContent {
    content: String,
}

/// Replaces a note's content. With `If-Match`, only if the note is still that version (412
/// otherwise, and the newer content stays). Without it, creates the note when missing.
async fn update(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NoteContent>,
) -> Result<Response, AppError> {
    let path = note_path(&raw)?;
    let expected = if_match(&headers);
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path.clone());
    let hash = blocking(
        move || match writer.update(&target, &body.content, expected.as_deref()) {
            Err(crate::vault::VaultError::NotFound(_)) if expected.is_none() => writer.create(&target, &body.content),
            other => other,
        },
    )
    .await?;
    sync_path(&state.db, &vault, &me.user.id, &path).await?;
    Ok(with_etag(
        Json(json!({ "path": path.as_str(), "etag": hash })).into_response(),
        &hash,
    ))
}

/// Moves a note to the trash.
async fn remove(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let path = note_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path.clone());
    let trashed = blocking(move || writer.delete(&target)).await?;
    sync_path(&state.db, &vault, &me.user.id, &path).await?;
    Ok(Json(json!({ "trash": trashed })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Move {
    new_path: String,
}

/// Renames a note and rewrites the links that pointed to it in the user's other notes. Links it
/// could not rewrite (the other note changed meanwhile) are listed in `linksLeft`.
async fn rename(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<Move>,
) -> Result<Json<Value>, AppError> {
    let from = note_path(&raw)?;
    let to = note_path(&body.new_path)?;
    let done = notes::write::rename(&state.db, &state.config, &me.user.id, &from, &to).await?;
    Ok(Json(
        json!({ "path": done.path, "rewritten": done.rewritten, "linksLeft": done.links_left }),
    ))
}

#[derive(Deserialize)]
struct NewFolder {
    path: String,
}

async fn create_folder(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(body): ApiJson<NewFolder>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let path = folder_path(&body.path)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault, path.clone());
    let created = blocking(move || writer.create_folder(&target)).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(json!({ "path": path.as_str(), "created": created }))))
}

async fn delete_folder(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let path = folder_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path);
    let (trashed, notes_inside) = blocking(move || writer.delete_folder(&target)).await?;
    for note in &notes_inside {
        index::remove(&state.db, &me.user.id, note.as_str()).await?;
    }
    Ok(Json(json!({ "trash": trashed, "notes": notes_inside.len() })))
}

async fn rename_folder(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<Move>,
) -> Result<Json<Value>, AppError> {
    let from = folder_path(&raw)?;
    let to = folder_path(&body.new_path)?;
    let done = notes::write::rename_folder(&state.db, &state.config, &me.user.id, &from, &to).await?;
    Ok(Json(
        json!({ "path": done.path, "moved": done.moved, "rewritten": done.rewritten, "linksLeft": done.links_left }),
    ))
}
