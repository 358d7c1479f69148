//! API keys: created and managed by a signed-in person, never by another key.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::json::ApiJson;
use crate::auth::SessionUser;
use crate::error::AppError;
use crate::store::api_keys::{self, Scope};
use crate::store::{now_ms, parse_iso};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/api-keys", get(list).post(create))
        .route("/api/api-keys/{id}", delete(remove))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewKey {
    name: String,
    scope: String,
    expires_at: Option<String>,
}

async fn create(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
    ApiJson(body): ApiJson<NewKey>,
) -> Result<(StatusCode, Json<Value>), AppError> {
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(AppError::Validation("name must be 1 to 100 characters".to_owned()));
    }
    let scope = Scope::parse(&body.scope)
        .ok_or_else(|| AppError::Validation("scope must be read-only or read-write".to_owned()))?;
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
    let mut body = serde_json::to_value(row.public()).map_err(|e| AppError::Internal(e.into()))?;
    if let Some(map) = body.as_object_mut() {
        // The only time the secret is ever shown.
        map.insert("key".to_owned(), Value::String(secret));
    }
    Ok((StatusCode::CREATED, Json(body)))
}

async fn list(State(state): State<AppState>, SessionUser(me): SessionUser) -> Result<Json<Value>, AppError> {
    let keys: Vec<_> = api_keys::list(&state.db, &me.user.id)
        .await?
        .iter()
        .map(|k| k.public())
        .collect();
    Ok(Json(json!(keys)))
}

async fn remove(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    if !api_keys::delete(&state.db, &me.user.id, &id).await? {
        return Err(AppError::NotFound("no such API key".to_owned()));
    }
    Ok(Json(json!({ "success": true })))
}
