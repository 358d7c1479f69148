//! Files and images: `POST /api/files` (multipart, field `file`), `GET /api/files/{path}`,
//! `DELETE /api/files/{path}` (to the trash). See [`crate::attachments`] for where they go.

use axum::extract::multipart::MultipartError;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::StreamExt;
use serde::Serialize;
use tower::ServiceExt;
use tower_http::services::ServeFile;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use crate::attachments;
use crate::auth::CurrentUser;
use crate::error::{AppError, ErrorBody};

#[derive(OpenApi)]
#[openapi(paths(upload, serve, remove))]
pub struct Api;

/// The multipart form of an upload.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Upload {
    /// The file; its name becomes the attachment's name.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

pub fn router() -> Router<AppState> {
    Router::new()
        // The upload counts its own bytes against MAX_UPLOAD_BYTES while streaming to disk.
        .route("/api/files", post(upload).layer(DefaultBodyLimit::disable()))
        .route("/api/files/{*path}", get(serve).delete(remove))
}

/// Where an upload was stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct Uploaded {
    /// Vault-relative path (`attachments/photo.png`), as notes link to it.
    pub path: String,
    /// Where it is served (`/api/files/attachments/photo.png`).
    pub url: String,
}

/// What a delete answers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Trashed {
    pub message: String,
    pub path: String,
    pub trash_path: String,
}

fn multipart_error(error: MultipartError) -> AppError {
    if error.status() == StatusCode::PAYLOAD_TOO_LARGE {
        AppError::PayloadTooLarge(error.body_text())
    } else {
        AppError::Validation(format!("invalid multipart body: {}", error.body_text()))
    }
}

/// Stores an attachment under `attachments/` (a taken name gets a `-2` suffix), at most
/// `MAX_UPLOAD_BYTES`.
#[utoipa::path(post, path = "/api/files", tag = "files", request_body(content = Upload, content_type = "multipart/form-data"),
    responses((status = 200, body = Uploaded), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 413, body = ErrorBody)))]
async fn upload(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    mut multipart: Multipart,
) -> Result<Json<Uploaded>, AppError> {
    while let Some(field) = multipart.next_field().await.map_err(multipart_error)? {
        if field.name() != Some("file") {
            continue;
        }
        let name = field
            .file_name()
            .map(str::to_owned)
            .filter(|n| !n.is_empty())
            .ok_or_else(|| AppError::Validation("the file field needs a file name".to_owned()))?;
        let chunks = field.map(|chunk| chunk.map_err(multipart_error));
        let stored = attachments::upload(&state.config, &me.user.id, &name, chunks).await?;
        return Ok(Json(Uploaded {
            url: attachments::url_of(&stored),
            path: stored.as_str().to_owned(),
        }));
    }
    Err(AppError::Validation(
        "No file provided (multipart field `file`)".to_owned(),
    ))
}

/// A strong validator from size and modification time (files are replaced, never edited in
/// place, so a new version has a new mtime); cheap for large files, unlike a content hash.
fn etag_of(meta: &std::fs::Metadata) -> String {
    let nanos = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{:x}\"", meta.len(), nanos)
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().trim_start_matches("W/"))
        .any(|v| v == "*" || v == etag)
}

/// Serves a file with its type, ETag, Last-Modified and range support; never as active content.
#[utoipa::path(get, path = "/api/files/{path}", tag = "files", params(("path" = String, Path, description = "`attachments/x.png`, or a bare file name")),
    responses((status = 200, description = "The file", content_type = "application/octet-stream"), (status = 206, description = "A range of it"),
        (status = 304, description = "Not modified"), (status = 404, body = ErrorBody)))]
async fn serve(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
    request: Request,
) -> Result<Response, AppError> {
    let (path, abs) = attachments::find(&state.config, &me.user.id, &raw).await?;
    let meta = tokio::fs::metadata(&abs)
        .await
        .map_err(|e| AppError::Internal(e.into()))?;
    let etag = etag_of(&meta);
    let mut response = if if_none_match(request.headers(), &etag) {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ServeFile::new(&abs)
            .oneshot(request)
            .await
            .map_err(|e| AppError::Internal(e.into()))?
            .into_response()
    };
    let name = path.file_name();
    let disposition = if attachments::is_active_content(name) {
        "attachment"
    } else {
        "inline"
    };
    let headers = response.headers_mut();
    let value = |text: String| HeaderValue::from_str(&text).map_err(|e| AppError::Internal(e.into()));
    headers.insert(header::ETAG, value(etag)?);
    headers.insert(
        header::CONTENT_DISPOSITION,
        value(format!(
            "{disposition}; filename*=UTF-8''{}",
            attachments::percent_encode(name)
        ))?,
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Opened directly, a file may show itself and its inline styles, and run nothing.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("private, no-cache"));
    Ok(response)
}

/// Moves a file to the trash.
#[utoipa::path(delete, path = "/api/files/{path}", tag = "files", params(("path" = String, Path)),
    responses((status = 200, body = Trashed), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Trashed>, AppError> {
    let entry = attachments::delete(&state.config, &me.user.id, &raw).await?;
    Ok(Json(Trashed {
        message: "File moved to trash".to_owned(),
        path: entry.original_path,
        trash_path: entry.trash_path,
    }))
}
