//! Canvas documents (JSON Canvas 1.0): `/api/canvas` and `/api/canvas/{name}`, shaped like the
//! original Kryton's routes. See [`crate::canvas`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::json::ApiJson;
use crate::auth::CurrentUser;
use crate::canvas;
use crate::error::{AppError, ErrorBody};

#[derive(OpenApi)]
#[openapi(paths(list, create, read, update, remove))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/canvas", get(list).post(create))
        .route("/api/canvas/{name}", get(read).put(update).delete(remove))
}

/// `POST /api/canvas`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct NewCanvas {
    pub name: String,
    /// The document; an empty canvas when absent.
    #[schema(value_type = Option<Object>)]
    pub content: Option<Value>,
}

/// What a write answers: the file name (`plan.canvas`) and a message.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanvasWritten {
    pub name: String,
    pub message: String,
}

/// What a delete answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CanvasDeleted {
    pub message: String,
}

/// The caller's canvas files (`plan.canvas`).
#[utoipa::path(get, path = "/api/canvas", tag = "canvas", responses((status = 200, body = Vec<String>), (status = 401, body = ErrorBody)))]
async fn list(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Vec<String>>, AppError> {
    Ok(Json(canvas::list(&state.config, &me.user.id).await?))
}

/// Creates a canvas (JSON Canvas 1.0, validated).
#[utoipa::path(post, path = "/api/canvas", tag = "canvas", request_body = NewCanvas,
    responses((status = 201, body = CanvasWritten), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 409, body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    ApiJson(body): ApiJson<NewCanvas>,
) -> Result<(StatusCode, Json<CanvasWritten>), AppError> {
    let doc = body
        .content
        .unwrap_or_else(|| serde_json::json!({ "nodes": [], "edges": [] }));
    let name = canvas::write(&state.config, &me.user.id, &body.name, &doc, true)
        .await
        .map_err(|e| match e {
            AppError::Conflict(_) => AppError::Conflict("Canvas file already exists".to_owned()),
            e => e,
        })?;
    Ok((
        StatusCode::CREATED,
        Json(CanvasWritten {
            name,
            message: "Canvas file created".to_owned(),
        }),
    ))
}

/// One canvas document.
#[utoipa::path(get, path = "/api/canvas/{name}", tag = "canvas", params(("name" = String, Path)),
    responses((status = 200, description = "The JSON Canvas document", body = Object), (status = 404, body = ErrorBody)))]
async fn read(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(canvas::read(&state.config, &me.user.id, &name).await?))
}

/// Replaces a canvas document (validated).
#[utoipa::path(put, path = "/api/canvas/{name}", tag = "canvas", params(("name" = String, Path)), request_body(content = Object, description = "The JSON Canvas document"),
    responses((status = 200, body = CanvasWritten), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(name): Path<String>,
    ApiJson(doc): ApiJson<Value>,
) -> Result<Json<CanvasWritten>, AppError> {
    let name = canvas::write(&state.config, &me.user.id, &name, &doc, false).await?;
    Ok(Json(CanvasWritten {
        name,
        message: "Canvas file updated".to_owned(),
    }))
}

/// Moves a canvas to the trash.
#[utoipa::path(delete, path = "/api/canvas/{name}", tag = "canvas", params(("name" = String, Path)),
    responses((status = 200, body = CanvasDeleted), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(name): Path<String>,
) -> Result<Json<CanvasDeleted>, AppError> {
    canvas::delete(&state.config, &me.user.id, &name).await?;
    Ok(Json(CanvasDeleted {
        message: "Canvas file deleted".to_owned(),
    }))
}
