//! Daily notes and templates.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::notes::{self, blocking, sync_path};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/daily", post(daily))
        .route("/api/templates", get(templates))
        .route("/api/templates/{name}", get(template))
}

#[derive(Deserialize, Default)]
struct DailyRequest {
    /// `YYYY-MM-DD`; today (UTC) when absent.
    date: Option<String>,
    template: Option<String>,
}

/// `Daily/YYYY-MM-DD.md`, created from a template on first call; later calls return it untouched.
async fn daily(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let request: DailyRequest = super::json::optional_json(&body)?;
    let date = match request.date.as_deref() {
        None => time::OffsetDateTime::now_utc().date(),
        Some(text) => time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| AppError::Validation("date must be YYYY-MM-DD".to_owned()))?,
    };
    let vault = notes::vault(&state.config, &me.user.id);
    let maker = vault.clone();
    let template = request.template;
    let (note, created) = blocking(move || maker.daily(date, template.as_deref())).await?;
    sync_path(&state.db, &vault, &me.user.id, &note.path).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((
        status,
        Json(json!({ "path": note.path.as_str(), "content": note.content, "etag": note.hash, "created": created })),
    ))
}

async fn templates(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Value>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    Ok(Json(json!(blocking(move || vault.templates()).await?)))
}

async fn template(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(name): Path<String>,
) -> Result<Json<Value>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    let wanted = name.clone();
    let content = blocking(move || vault.template(&wanted)).await?;
    Ok(Json(json!({ "name": name, "content": content })))
}
