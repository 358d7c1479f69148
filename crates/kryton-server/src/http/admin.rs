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
use crate::store::{invites, now_ms, parse_iso, sessions};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/users/{id}", put(update_user).delete(delete_user))
        .route("/api/admin/users/{id}/password", post(reset_password))
        .route("/api/admin/invites", get(list_invites).post(create_invite))
        .route("/api/admin/invites/{id}", delete(delete_invite))
        .route("/api/admin/registration", get(get_registration).put(put_registration))
}

async fn target(state: &AppState, id: &str) -> Result<UserRow, AppError> {
    users::by_id(&state.db, id)
        .await?
        .ok_or_else(|| AppError::NotFound("no such user".to_owned()))
}

/// Refuses a change that would leave no admin able to sign in.
async fn keep_an_admin(state: &AppState, target: &UserRow, stays_active_admin: bool) -> Result<(), AppError> {
    let is_active_admin = target.role() == Role::Admin && !target.disabled;
    if is_active_admin && !stays_active_admin && users::count_active_admins(&state.db).await? <= 1 {
        return Err(AppError::Conflict(
            "this is the last active admin; promote another admin first".to_owned(),
        ));
    }
    Ok(())
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
    let user = target(&state, &id).await?;
    let role = match change.role.as_deref() {
        Some(text) => Role::parse(text).ok_or_else(|| AppError::Validation("role must be admin or user".to_owned()))?,
        None => user.role(),
    };
    let disabled = change.disabled.unwrap_or(user.disabled);
    keep_an_admin(&state, &user, role == Role::Admin && !disabled).await?;
    users::set_role_and_disabled(&state.db, &id, role, disabled).await?;
    if role != user.role() || disabled != user.disabled {
        // Whatever the user could do before is re-decided at their next sign-in.
        sessions::delete_for_user(&state.db, &id).await?;
    }
    Ok(Json(json!(target(&state, &id).await?.public())))
}

#[derive(Deserialize)]
struct PasswordReset {
    password: String,
}

async fn reset_password(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasswordReset>,
) -> Result<Json<Value>, AppError> {
    target(&state, &id).await?;
    password::validate(&body.password)?;
    let hash = password::hash(body.password).await?;
    users::set_password(&state.db, &id, &hash).await?;
    sessions::delete_for_user(&state.db, &id).await?;
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
    let user = match target(&state, &id).await {
        Ok(user) => user,
        Err(AppError::NotFound(message)) => {
            return match crate::notes::finished_user_deletion(&state.config, &id) {
                Some(moved_to) => Ok(Json(json!({ "success": true, "vaultMovedTo": moved_to }))),
                None => Err(AppError::NotFound(message)),
            };
        }
        Err(e) => return Err(e),
    };
    keep_an_admin(&state, &user, false).await?;
    let moved_to = crate::notes::delete_user(&state.db, &state.config, &user.id).await?;
    tracing::info!(user = %user.id, "account deleted");
    Ok(Json(json!({ "success": true, "vaultMovedTo": moved_to })))
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
