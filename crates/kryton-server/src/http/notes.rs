//! The vault over HTTP: the tree, note CRUD with ETags, rename with link rewriting, folders.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::json::ApiJson;
use crate::auth::CurrentUser;
use crate::error::{AppError, ErrorBody};
use crate::markdown;
use crate::notes::Rewritten;
use crate::notes::{self, blocking, millis, sync_path};
use crate::store::iso;
use crate::vault::{FolderPath, NotePath, TreeNode};

#[derive(OpenApi)]
#[openapi(paths(
    tree,
    read,
    create,
    update,
    remove,
    rename,
    create_folder,
    delete_folder,
    rename_folder
))]
pub struct Api;

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

/// `If-None-Match: *`: "only if nothing is there yet".
fn if_none_match_any(headers: &HeaderMap) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "*")
}

fn with_etag(mut response: Response, hash: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(&format!("\"{hash}\"")) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// The whole vault as a tree: folders first, then notes, each level alphabetical.
#[utoipa::path(get, path = "/api/notes", tag = "notes",
    responses((status = 200, body = Vec<TreeNode>), (status = 401, body = ErrorBody)))]
async fn tree(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Vec<TreeNode>>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    Ok(Json(blocking(move || vault.tree()).await?))
}

/// A note as read: the original's fields plus our `etag`, `size`, `tags` and `links`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteBody {
    pub path: String,
    pub title: String,
    pub content: String,
    /// The same value as the `ETag` header, without quotes.
    pub etag: String,
    pub size: u64,
    /// RFC 3339.
    pub modified_at: String,
    pub tags: Vec<String>,
    pub links: Vec<markdown::WikiLink>,
}

/// The answer of a write: the original's `path` and `message`, plus the new `etag`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteWritten {
    pub path: String,
    pub message: String,
    pub etag: String,
    /// True when the write created the note.
    pub created: bool,
}

#[utoipa::path(get, path = "/api/notes/{path}", tag = "notes",
    params(("path" = String, Path, description = "The note's path, e.g. `Projects/Alpha.md` (slashes allowed)")),
    responses((status = 200, body = NoteBody, headers(("ETag" = String))), (status = 404, body = ErrorBody)))]
pub(super) async fn read(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Response, AppError> {
    let path = note_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let (note, parsed) = blocking(move || {
        vault.read(&path).map(|note| {
            let parsed = markdown::parse(&note.content, note.path.stem());
            (note, parsed)
        })
    })
    .await?;
    let body = NoteBody {
        path: note.path.as_str().to_owned(),
        title: parsed.title,
        content: note.content,
        etag: note.hash.clone(),
        size: note.size,
        modified_at: iso(millis(note.modified)),
        tags: parsed.tags,
        links: parsed.links,
    };
    Ok(with_etag(Json(body).into_response(), &note.hash))
}

#[derive(Deserialize, ToSchema)]
pub struct NewNote {
    path: String,
    #[serde(default)]
    content: String,
}

/// Creates a note, or overwrites it when it exists (as the original does; the old text goes to
/// the history). With `If-None-Match: *` only creates: 412 when the note exists.
#[utoipa::path(post, path = "/api/notes", tag = "notes", request_body = NewNote,
    params(("If-None-Match" = Option<String>, Header, description = "`*`: create only, 412 when the note exists")),
    responses((status = 201, body = NoteWritten, headers(("ETag" = String))),
        (status = 400, body = ErrorBody), (status = 412, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NewNote>,
) -> Result<Response, AppError> {
    let path = note_path(&body.path)?;
    let create_only = if_none_match_any(&headers);
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path.clone());
    let (hash, created) = blocking(move || {
        if create_only {
            writer.create(&target, &body.content).map(|hash| (hash, true))
        } else {
            writer.upsert(&target, &body.content)
        }
    })
    .await
    .map_err(|e| match e {
        AppError::Conflict(_) if create_only => AppError::PreconditionFailed {
            message: "a note already exists at this path (If-None-Match: *)".to_owned(),
            details: None,
        },
        other => other,
    })?;
    sync_path(&state.db, &vault, &me.user.id, &path).await?;
    let message = if created { "Note created" } else { "Note saved" };
    let body = NoteWritten {
        path: path.as_str().to_owned(),
        message: message.to_owned(),
        etag: hash.clone(),
        created,
    };
    Ok(with_etag((StatusCode::CREATED, Json(body)).into_response(), &hash))
}

#[derive(Deserialize, ToSchema)]
pub struct NoteContent {
    pub content: String,
}

/// Replaces a note's content. With `If-Match`, only if the note is still that version (412
/// otherwise, and the newer content stays). Without it, creates the note when missing.
#[utoipa::path(put, path = "/api/notes/{path}", tag = "notes", request_body = NoteContent,
    params(("path" = String, Path, description = "The note's path (slashes allowed)"),
        ("If-Match" = Option<String>, Header, description = "The ETag this change is based on")),
    responses((status = 200, body = NoteWritten, headers(("ETag" = String))),
        (status = 400, body = ErrorBody), (status = 404, body = ErrorBody), (status = 412, body = ErrorBody)))]
pub(super) async fn update(
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
    let (hash, created) = blocking(move || match expected {
        Some(expected) => writer
            .update(&target, &body.content, Some(&expected))
            .map(|hash| (hash, false)),
        None => writer.upsert(&target, &body.content),
    })
    .await?;
    sync_path(&state.db, &vault, &me.user.id, &path).await?;
    let message = if created { "Note created" } else { "Note saved" };
    let body = NoteWritten {
        path: path.as_str().to_owned(),
        message: message.to_owned(),
        etag: hash.clone(),
        created,
    };
    Ok(with_etag(Json(body).into_response(), &hash))
}

/// Where a deleted note or folder went in the trash.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub message: String,
    /// The trash item's id, for `POST /api/trash/restore/{path}`.
    pub trash_path: String,
    /// Notes that went with a folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notes: Option<usize>,
}

/// Moves a note to the trash.
#[utoipa::path(delete, path = "/api/notes/{path}", tag = "notes",
    params(("path" = String, Path, description = "The note's path (slashes allowed)")),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
pub(super) async fn remove(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Deleted>, AppError> {
    let path = note_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path.clone());
    let trashed = blocking(move || writer.delete(&target)).await?;
    sync_path(&state.db, &vault, &me.user.id, &path).await?;
    Ok(Json(Deleted {
        message: "Note moved to trash".to_owned(),
        trash_path: trashed.trash_path,
        notes: None,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Move {
    new_path: String,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Renamed {
    pub old_path: String,
    pub new_path: String,
    pub message: String,
    /// Notes whose links to the moved notes were rewritten.
    pub rewritten: Vec<Rewritten>,
    /// Notes whose links could not be rewritten because they changed meanwhile.
    pub links_left: Vec<String>,
    /// How many notes moved (folder renames).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub moved: Option<usize>,
}

/// Renames a note and rewrites the links that pointed to it in the user's other notes. Links it
/// could not rewrite (the other note changed meanwhile) are listed in `linksLeft`.
#[utoipa::path(post, path = "/api/notes-rename/{path}", tag = "notes", request_body = Move,
    params(("path" = String, Path, description = "The note's current path (slashes allowed)")),
    responses((status = 200, body = Renamed), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rename(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<Move>,
) -> Result<Json<Renamed>, AppError> {
    let from = note_path(&raw)?;
    let to = note_path(&body.new_path)?;
    let done = notes::rename_note(&state.db, &state.config, &me.user.id, &from, &to).await?;
    Ok(Json(Renamed {
        old_path: from.as_str().to_owned(),
        new_path: done.path,
        message: "Note renamed".to_owned(),
        rewritten: done.rewritten,
        links_left: done.links_left,
        moved: None,
    }))
}

/// `{path}` (ours and the original's) or `{name}` (the original's older client).
#[derive(Deserialize, ToSchema)]
pub struct NewFolder {
    path: Option<String>,
    name: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct FolderCreated {
    pub path: String,
    pub message: String,
    /// False when the folder was already there (then the status is 200).
    pub created: bool,
}

#[utoipa::path(post, path = "/api/folders", tag = "notes", request_body = NewFolder,
    responses((status = 201, body = FolderCreated), (status = 200, description = "Already there", body = FolderCreated),
        (status = 400, body = ErrorBody)))]
async fn create_folder(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(body): ApiJson<NewFolder>,
) -> Result<(StatusCode, Json<FolderCreated>), AppError> {
    let raw = body
        .path
        .or(body.name)
        .ok_or_else(|| AppError::Validation("path is required".to_owned()))?;
    let path = folder_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault, path.clone());
    let created = blocking(move || writer.create_folder(&target)).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    let message = if created {
        "Folder created"
    } else {
        "Folder already exists"
    };
    Ok((
        status,
        Json(FolderCreated {
            path: path.as_str().to_owned(),
            message: message.to_owned(),
            created,
        }),
    ))
}

/// Moves a folder and everything in it to the trash (the original refused a non-empty folder).
#[utoipa::path(delete, path = "/api/folders/{path}", tag = "notes",
    params(("path" = String, Path, description = "The folder's path (slashes allowed)")),
    responses((status = 200, body = Deleted), (status = 404, body = ErrorBody)))]
async fn delete_folder(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Deleted>, AppError> {
    let path = folder_path(&raw)?;
    let vault = notes::vault(&state.config, &me.user.id);
    let (writer, target) = (vault.clone(), path);
    let (trashed, notes_inside) = blocking(move || writer.delete_folder(&target)).await?;
    for note in &notes_inside {
        sync_path(&state.db, &vault, &me.user.id, note).await?;
    }
    Ok(Json(Deleted {
        message: "Folder moved to trash".to_owned(),
        trash_path: trashed.trash_path,
        notes: Some(notes_inside.len()),
    }))
}

/// Moves a folder; links into it from other notes are rewritten.
#[utoipa::path(post, path = "/api/folders-rename/{path}", tag = "notes", request_body = Move,
    params(("path" = String, Path, description = "The folder's current path (slashes allowed)")),
    responses((status = 200, body = Renamed), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn rename_folder(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    ApiJson(body): ApiJson<Move>,
) -> Result<Json<Renamed>, AppError> {
    let from = folder_path(&raw)?;
    let to = folder_path(&body.new_path)?;
    let done = notes::rename_folder(&state.db, &state.config, &me.user.id, &from, &to).await?;
    Ok(Json(Renamed {
        old_path: from.as_str().to_owned(),
        new_path: done.path,
        message: "Folder renamed".to_owned(),
        rewritten: done.rewritten,
        links_left: done.links_left,
        moved: Some(done.moved),
    }))
}
