//! Per-user settings: `GET /api/settings`, `PUT /api/settings/{key}`.

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use super::AppState;
use super::json::ApiJson;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::user_settings;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/settings", get(list))
        .route("/api/settings/{key}", put(update))
}

/// `PUT /api/settings/{key}`'s body.
#[derive(Debug, Deserialize)]
pub struct SettingUpdate {
    pub value: String,
}

/// What a stored setting answers.
#[derive(Debug, Serialize)]
pub struct SettingUpdated {
    pub key: String,
    pub value: String,
    pub message: &'static str,
}

/// Every setting of the caller, as one object of strings.
async fn list(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
) -> Result<Json<BTreeMap<String, String>>, AppError> {
    Ok(Json(user_settings::all(&state.db, &me.user.id).await?))
}

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
        message: "Setting updated",
    }))
}
