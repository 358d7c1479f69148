//! API keys: created and managed by a signed-in person, never by another key.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::json::ApiJson;
use crate::auth::SessionUser;
use crate::error::{AppError, ErrorBody};
use crate::store::api_keys::{self, ApiKey, Scope};
use crate::store::{now_ms, parse_iso};

#[derive(OpenApi)]
#[openapi(paths(list, create, remove))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/api-keys", get(list).post(create))
        .route("/api/api-keys/{id}", delete(remove))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewKey {
    name: String,
    /// `read-only` or `read-write` (the default, as newer clients send only `name`).
    scope: Option<String>,
    /// RFC 3339, in the future; never expires when absent.
    expires_at: Option<String>,
}

/// A new key: the listed fields plus `key`, the secret, shown this once only.
#[derive(Serialize, ToSchema)]
pub struct CreatedKey {
    #[serde(flatten)]
    pub info: ApiKey,
    /// `kryton_` + 64 hex characters; send it as `Authorization: Bearer <key>`.
    pub key: String,
}

#[utoipa::path(post, path = "/api/api-keys", tag = "api-keys", request_body = NewKey,
    responses((status = 201, body = CreatedKey), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 409, description = "Too many keys", body = ErrorBody)))]
async fn create(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<CreatedKey>), AppError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Validation("name must be 1 to 100 characters".to_owned()));
    }
    let scope = match body.scope.as_deref() {
        None => Scope::ReadWrite,
        Some(text) => Scope::parse(text)
            .ok_or_else(|| AppError::Validation("scope must be read-only or read-write".to_owned()))?,
    };
    let expires_at = match body.expires_at.as_deref() {
        None => None,
        Some(text) => {
            let at =
                parse_iso(text).ok_or_else(|| AppError::Validation("expiresAt must be an RFC 3339 time".to_owned()))?;
            if at <= now_ms() {
                return Err(AppError::Validation("expiresAt must be in the future".to_owned()));
            }
            Some(at)
        }
    };
    let (row, secret) = api_keys::create(&state.db, &me.user.id, name, scope, expires_at)
        .await
        .map_err(|e| match e {
            api_keys::CreateError::TooMany => AppError::Conflict(e.to_string()),
            api_keys::CreateError::Database(e) => e.into(),
        })?;
    // The only time the secret is ever shown.
    Ok((
        StatusCode::CREATED,
        Json(CreatedKey {
            info: row.public(),
            key: secret,
        }),
    ))
}

#[utoipa::path(get, path = "/api/api-keys", tag = "api-keys",
    responses((status = 200, body = Vec<ApiKey>), (status = 403, body = ErrorBody)))]
async fn list(State(state): State<AppState>, SessionUser(me): SessionUser) -> Result<Json<Vec<ApiKey>>, AppError> {
    let keys = api_keys::list(&state.db, &me.user.id)
        .await?
        .iter()
        .map(|k| k.public())
        .collect();
    Ok(Json(keys))
}

/// Revokes a key at once.
#[utoipa::path(delete, path = "/api/api-keys/{id}", tag = "api-keys",
    params(("id" = String, Path)),
    responses((status = 204, description = "Revoked"), (status = 404, body = ErrorBody)))]
async fn remove(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    if !api_keys::delete(&state.db, &me.user.id, &id).await? {
        return Err(AppError::NotFound("no such API key".to_owned()));
    }
    Ok(StatusCode::NO_CONTENT)
}
