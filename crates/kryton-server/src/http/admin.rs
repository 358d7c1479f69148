//! Administration: users, invites and the registration mode. Sessions only; API keys never
//! reach these routes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::auth::{registration_mode, set_registration_mode};
use super::json::ApiJson;
use crate::auth::{AdminUser, password};
use crate::config::RegistrationMode;
use crate::error::AppError;
use crate::store::users::{self, Role, UserRow};
use crate::store::{api_keys, invites, now_ms, parse_iso};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/users/{id}", put(update_user).delete(delete_user))
        .route("/api/admin/users/{id}/password", post(reset_password))
        .route("/api/admin/users/{id}/api-keys", get(list_user_keys))
        .route("/api/admin/users/{id}/api-keys/{key_id}", delete(revoke_user_key))
        .route("/api/admin/invites", get(list_invites).post(create_invite))
        .route("/api/admin/invites/{id}", delete(delete_invite))
        .route("/api/admin/registration", get(get_registration).put(put_registration))
}

fn guard_error(e: users::GuardError) -> AppError {
    match e {
        users::GuardError::NotFound => AppError::NotFound(e.to_string()),
        users::GuardError::LastAdmin => AppError::Conflict(e.to_string()),
        users::GuardError::Database(e) => e.into(),
    }
}

async fn list_users(State(state): State<AppState>, _: AdminUser) -> Result<Json<Value>, AppError> {
    let users: Vec<_> = users::list(&state.db).await?.iter().map(UserRow::public).collect();
    Ok(Json(json!(users)))
}

#[derive(Deserialize)]
struct UserChange {
    disabled: Option<bool>,
    role: Option<String>,
}

async fn update_user(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<Value>, AppError> {
    let role = match change.role.as_deref() {
        Some(text) => {
            Some(Role::parse(text).ok_or_else(|| AppError::Validation("role must be admin or user".to_owned()))?)
        }
        None => None,
    };
    let change = users::Change::Update {
        role,
        disabled: change.disabled,
    };
    let user = users::apply_guarded(&state.db, &id, change)
        .await
        .map_err(guard_error)?;
    Ok(Json(json!(user.public())))
}

#[derive(Deserialize)]
struct PasswordReset {
    password: String,
}

/// Sets a new password and revokes every session and API key of the account: whoever knew the
/// old password may have signed in or made keys with it.
async fn reset_password(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasswordReset>,
) -> Result<Json<Value>, AppError> {
    if users::by_id(&state.db, &id).await?.is_none() {
        return Err(AppError::NotFound("no such user".to_owned()));
    }
    password::validate(&body.password)?;
    let hash = password::hash(&state.hashing, body.password).await?;
    if !users::set_password_and_revoke(&state.db, &id, &hash, None, true).await? {
        return Err(AppError::NotFound("no such user".to_owned()));
    }
    Ok(Json(json!({ "success": true })))
}

/// Deletes the account (sessions and keys go with it) and moves the vault aside to
/// `NOTES_DIR/.deleted/<userId>-<epoch-ms>`, so an accident can still be undone by hand. A retry
/// of a deletion that finished answers its result again.
async fn delete_user(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    let Some(user) = users::by_id(&state.db, &id).await? else {
        return match crate::notes::finished_user_deletion(&state.config, &id) {
            Some(moved_to) => Ok(Json(json!({ "success": true, "vaultMovedTo": moved_to }))),
            None => Err(AppError::NotFound("user not found".to_owned())),
        };
    };
    let moved_to = crate::notes::delete_user(&state.db, &state.config, &user.id).await?;
    tracing::info!(user = %user.id, "account deleted");
    Ok(Json(json!({ "success": true, "vaultMovedTo": moved_to })))
}

/// Any user's API keys, as that user would list them (never the secrets).
async fn list_user_keys(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    if users::by_id(&state.db, &id).await?.is_none() {
        return Err(AppError::NotFound("no such user".to_owned()));
    }
    let keys: Vec<_> = api_keys::list(&state.db, &id)
        .await?
        .iter()
        .map(|k| k.public())
        .collect();
    Ok(Json(json!(keys)))
}

/// Revokes one of a user's API keys.
async fn revoke_user_key(
    State(state): State<AppState>,
    _: AdminUser,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Json<Value>, AppError> {
    if !api_keys::delete(&state.db, &id, &key_id).await? {
        return Err(AppError::NotFound("no such API key".to_owned()));
    }
    tracing::info!(user = %id, key = %key_id, "API key revoked by an admin");
    Ok(Json(json!({ "success": true })))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct NewInvite {
    expires_at: Option<String>,
}

async fn create_invite(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), AppError> {
    // The body is optional: no body means an invite that never expires.
    let body: NewInvite = super::json::optional_json(&body)?;
    let expires_at = match body.expires_at {
        None => None,
        Some(text) => Some(
            parse_iso(&text)
                .filter(|at| *at > now_ms())
                .ok_or_else(|| AppError::Validation("expiresAt must be a future RFC 3339 time".to_owned()))?,
        ),
    };
    let (row, code) = invites::create(&state.db, &me.user.id, expires_at).await?;
    let mut body = serde_json::to_value(row.public()).map_err(|e| AppError::Internal(e.into()))?;
    if let Some(map) = body.as_object_mut() {
        map.insert("code".to_owned(), Value::String(code));
    }
    Ok((StatusCode::CREATED, Json(body)))
}

async fn list_invites(State(state): State<AppState>, _: AdminUser) -> Result<Json<Value>, AppError> {
    let list: Vec<_> = invites::list(&state.db).await?.iter().map(|i| i.public()).collect();
    Ok(Json(json!(list)))
}

async fn delete_invite(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Value>, AppError> {
    if !invites::delete(&state.db, &id).await? {
        return Err(AppError::NotFound("no such invite".to_owned()));
    }
    Ok(Json(json!({ "success": true })))
}

async fn get_registration(State(state): State<AppState>, _: AdminUser) -> Result<Json<Value>, AppError> {
    Ok(Json(json!({ "mode": registration_mode(&state).await? })))
}

#[derive(Deserialize)]
struct Registration {
    mode: String,
}

async fn put_registration(
    State(state): State<AppState>,
    _: AdminUser,
    ApiJson(body): ApiJson<Registration>,
) -> Result<Json<Value>, AppError> {
    let mode = RegistrationMode::parse(&body.mode)
        .ok_or_else(|| AppError::Validation("mode must be open, invite-only or closed".to_owned()))?;
    set_registration_mode(&state, mode).await?;
    Ok(Json(json!({ "mode": mode })))
}
