//! Daily notes and templates.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use crate::auth::CurrentUser;
use crate::error::{AppError, ErrorBody};
use crate::markdown;
use crate::notes::{self, blocking, millis, sync_path};
use crate::store::iso;

#[derive(OpenApi)]
#[openapi(paths(daily, templates, template))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/daily", post(daily))
        .route("/api/templates", get(templates))
        .route("/api/templates/{name}", get(template))
}

/// The body is optional: none means today's note from the default template.
#[derive(Deserialize, Default, ToSchema)]
pub struct DailyRequest {
    /// `YYYY-MM-DD`; today (UTC) when absent.
    date: Option<String>,
    /// A template's name under `Templates/`; `Templates/Daily.md` when absent and present.
    template: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyNote {
    pub path: String,
    pub title: String,
    pub content: String,
    pub modified_at: String,
    pub etag: String,
    /// True on the first call of the day (status 201), false after (200).
    pub created: bool,
}

/// `Daily/YYYY-MM-DD.md`, created from a template on first call; later calls return it untouched.
#[utoipa::path(post, path = "/api/daily", tag = "notes", request_body(content = Option<DailyRequest>),
    responses((status = 201, description = "Created", body = DailyNote), (status = 200, description = "Already there", body = DailyNote),
        (status = 400, body = ErrorBody)))]
async fn daily(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<DailyNote>), AppError> {
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
    let title = markdown::parse(&note.content, note.path.stem()).title;
    Ok((
        status,
        Json(DailyNote {
            path: note.path.as_str().to_owned(),
            title,
            modified_at: iso(millis(note.modified)),
            etag: note.hash,
            content: note.content,
            created,
        }),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct Template {
    /// Without `.md`: what `GET /api/templates/{name}` takes.
    pub name: String,
    /// The template's note path, e.g. `Templates/Meeting.md`.
    pub path: String,
}

/// The notes directly under `Templates/`.
#[utoipa::path(get, path = "/api/templates", tag = "notes", responses((status = 200, body = Vec<Template>)))]
async fn templates(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> Result<Json<Vec<Template>>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    let names = blocking(move || vault.templates()).await?;
    Ok(Json(
        names
            .into_iter()
            .map(|name| Template {
                path: format!("{}/{name}.md", crate::vault::fs::TEMPLATES_FOLDER),
                name,
            })
            .collect(),
    ))
}

#[derive(Serialize, ToSchema)]
pub struct TemplateContent {
    pub name: String,
    pub content: String,
}

#[utoipa::path(get, path = "/api/templates/{name}", tag = "notes",
    params(("name" = String, Path, description = "The template's name, with or without `.md`")),
    responses((status = 200, body = TemplateContent), (status = 404, body = ErrorBody)))]
async fn template(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(name): Path<String>,
) -> Result<Json<TemplateContent>, AppError> {
    let vault = notes::vault(&state.config, &me.user.id);
    let wanted = name.clone();
    let content = blocking(move || vault.template(&wanted)).await?;
    Ok(Json(TemplateContent { name, content }))
}
