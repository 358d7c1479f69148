//! Canvas documents (JSON Canvas 1.0): `/api/canvas` and `/api/canvas/{name}`, shaped like the
//! original Kryton's routes. See [`crate::canvas`].

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::AppState;
use super::json::ApiJson;
use crate::auth::CurrentUser;
use crate::canvas;
use crate::error::AppError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/canvas", get(list).post(create))
        .route("/api/canvas/{name}", get(read).put(update).delete(remove))
}

/// `POST /api/canvas`'s body.
#[derive(Debug, Deserialize)]
pub struct NewCanvas {
    pub name: String,
    /// The document; an empty canvas when absent.
    pub content: Option<Value>,
}

/// What a write answers: the file name (`plan.canvas`) and a message.
#[derive(Debug, Serialize)]
pub struct CanvasWritten {
    pub name: String,
    pub message: &'static str,
}

/// What a delete answers.
#[derive(Debug, Serialize)]
pub struct CanvasDeleted {
    pub message: &'static str,
}

async fn list(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Vec<String>>, AppError> {
    Ok(Json(canvas::list(&state.config, &me.user.id).await?))
}

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
            message: "Canvas file created",
        }),
    ))
}

async fn read(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    Ok(Json(canvas::read(&state.config, &me.user.id, &name).await?))
}

async fn update(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(name): Path<String>,
    ApiJson(doc): ApiJson<Value>,
) -> Result<Json<CanvasWritten>, AppError> {
    let name = canvas::write(&state.config, &me.user.id, &name, &doc, false).await?;
    Ok(Json(CanvasWritten {
        name,
        message: "Canvas file updated",
    }))
}

async fn remove(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(name): Path<String>,
) -> Result<Json<CanvasDeleted>, AppError> {
    canvas::delete(&state.config, &me.user.id, &name).await?;
    Ok(Json(CanvasDeleted {
        message: "Canvas file deleted",
    }))
}
