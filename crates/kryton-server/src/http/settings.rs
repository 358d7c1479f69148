//! Per-user settings: `GET /api/settings`, `PUT /api/settings/{key}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::json::ApiJson;
use crate::auth::CurrentUser;
use crate::error::{AppError, ErrorBody};
use crate::user_settings;

#[derive(OpenApi)]
#[openapi(paths(list, update))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/settings", get(list))
        .route("/api/settings/{key}", put(update))
}

/// `PUT /api/settings/{key}`'s body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SettingUpdate {
    pub value: String,
}

/// What a stored setting answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingUpdated {
    pub key: String,
    pub value: String,
    pub message: String,
}

/// Every setting of the caller, as one object of strings.
#[utoipa::path(get, path = "/api/settings", tag = "settings",
    responses((status = 200, description = "Every setting, key to string value", body = BTreeMap<String, String>), (status = 401, body = ErrorBody)))]
async fn list(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> Result<Json<BTreeMap<String, String>>, AppError> {
    Ok(Json(user_settings::all(&state.db, &me.user.id).await?))
}

/// Stores one setting (keys of `A-Za-z0-9_.-`, at most 100 characters; values at most 64 KiB).
#[utoipa::path(put, path = "/api/settings/{key}", tag = "settings", request_body = SettingUpdate,
    params(("key" = String, Path)), responses((status = 200, body = SettingUpdated), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn update(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(key): Path<String>,
    ApiJson(body): ApiJson<SettingUpdate>,
) -> Result<Json<SettingUpdated>, AppError> {
    user_settings::put(&state.db, &me.user.id, &key, &body.value).await?;
    Ok(Json(SettingUpdated {
        key,
        value: body.value,
        message: "Setting updated".to_owned(),
    }))
}
