//! Administration: users, invites and the registration mode. Sessions only; API keys never
//! reach these routes.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::auth::{Success, registration_mode, set_registration_mode};
use super::json::ApiJson;
use crate::auth::{AdminUser, password};
use crate::config::RegistrationMode;
use crate::error::{AppError, ErrorBody};
use crate::store::invites::Invite;
use crate::store::users::{self, Role, User, UserRow};
use crate::store::{invites, now_ms, parse_iso, sessions};

#[derive(OpenApi)]
#[openapi(paths(
    list_users,
    update_user,
    delete_user,
    reset_password,
    reset_password_alias,
    list_invites,
    create_invite,
    delete_invite,
    get_registration,
    put_registration,
    get_registration_alias,
    put_registration_alias
))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/users/{id}", put(update_user).delete(delete_user))
        .route("/api/admin/users/{id}/password", post(reset_password))
        .route("/api/admin/users/{id}/reset-password", post(reset_password_alias))
        .route("/api/admin/invites", get(list_invites).post(create_invite))
        .route("/api/admin/invites/{id}", delete(delete_invite))
        .route("/api/admin/registration", get(get_registration).put(put_registration))
        .route(
            "/api/admin/settings/registration",
            get(get_registration_alias).put(put_registration_alias),
        )
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

#[utoipa::path(get, path = "/api/admin/users", tag = "admin",
    responses((status = 200, body = Vec<User>), (status = 403, description = "Not an admin, or an API key", body = ErrorBody)))]
async fn list_users(State(state): State<AppState>, _: AdminUser) -> Result<Json<Vec<User>>, AppError> {
    Ok(Json(
        users::list(&state.db).await?.iter().map(UserRow::public).collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct UserChange {
    disabled: Option<bool>,
    /// `admin` or `user`.
    role: Option<String>,
}

/// Changes a user's role or disables them; their sessions end. The last active admin stays.
#[utoipa::path(put, path = "/api/admin/users/{id}", tag = "admin", request_body = UserChange,
    params(("id" = String, Path)),
    responses((status = 200, body = User), (status = 400, body = ErrorBody), (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The last active admin", body = ErrorBody)))]
async fn update_user(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
    ApiJson(change): ApiJson<UserChange>,
) -> Result<Json<User>, AppError> {
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
    Ok(Json(target(&state, &id).await?.public()))
}

/// `password` (ours) or `newPassword` (the original's).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordReset {
    password: Option<String>,
    new_password: Option<String>,
}

/// Sets a new password; the user's sessions end.
#[utoipa::path(post, path = "/api/admin/users/{id}/password", tag = "admin", request_body = PasswordReset,
    params(("id" = String, Path)),
    responses((status = 200, body = Success), (status = 400, body = ErrorBody), (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn reset_password(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PasswordReset>,
) -> Result<Json<Success>, AppError> {
    target(&state, &id).await?;
    let new = body
        .password
        .or(body.new_password)
        .ok_or_else(|| AppError::Validation("password is required".to_owned()))?;
    password::validate(&new)?;
    let hash = password::hash(new).await?;
    users::set_password(&state.db, &id, &hash).await?;
    sessions::delete_for_user(&state.db, &id).await?;
    Ok(Json(Success { success: true }))
}

/// The original's name for `POST /api/admin/users/{id}/password`.
#[utoipa::path(post, path = "/api/admin/users/{id}/reset-password", tag = "admin", request_body = PasswordReset,
    params(("id" = String, Path)),
    responses((status = 200, body = Success), (status = 400, body = ErrorBody), (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn reset_password_alias(
    state: State<AppState>,
    admin: AdminUser,
    id: Path<String>,
    body: ApiJson<PasswordReset>,
) -> Result<Json<Success>, AppError> {
    reset_password(state, admin, id, body).await
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDeleted {
    pub success: bool,
    /// Where the vault was moved (`NOTES_DIR/.deleted/...`), when there was one.
    pub vault_moved_to: Option<String>,
}

/// Deletes the account (sessions and keys go with it) and moves the vault aside to
/// `NOTES_DIR/.deleted/<userId>-<epoch-ms>`, so an accident can still be undone by hand.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserDeleted), (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The last active admin", body = ErrorBody)))]
async fn delete_user(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<UserDeleted>, AppError> {
    let user = target(&state, &id).await?;
    keep_an_admin(&state, &user, false).await?;
    users::delete(&state.db, &id).await?;
    let vault = state.config.notes_dir.join(&user.id);
    let mut moved_to = None;
    if vault.exists() {
        let graveyard = state.config.notes_dir.join(".deleted");
        let destination = graveyard.join(format!("{}-{}", user.id, now_ms()));
        std::fs::create_dir_all(&graveyard)
            .and_then(|()| std::fs::rename(&vault, &destination))
            .map_err(|e| AppError::Internal(anyhow::anyhow!("moving the vault of a deleted user aside: {e}")))?;
        moved_to = Some(destination.display().to_string());
    }
    tracing::info!(user = %user.id, "account deleted");
    Ok(Json(UserDeleted {
        success: true,
        vault_moved_to: moved_to,
    }))
}

/// The body is optional: none means an invite that never expires.
#[derive(Deserialize, Default, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewInvite {
    /// RFC 3339, in the future.
    expires_at: Option<String>,
}

#[utoipa::path(post, path = "/api/admin/invites", tag = "admin", request_body(content = Option<NewInvite>),
    responses((status = 201, body = Invite), (status = 400, body = ErrorBody), (status = 403, description = "Not an admin, or an API key", body = ErrorBody)))]
async fn create_invite(
    State(state): State<AppState>,
    AdminUser(me): AdminUser,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Invite>), AppError> {
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
    let (row, _code) = invites::create(&state.db, &me.user.id, expires_at).await?;
    Ok((StatusCode::CREATED, Json(row.public())))
}

/// Every invite; unused ones show their `code`.
#[utoipa::path(get, path = "/api/admin/invites", tag = "admin",
    responses((status = 200, body = Vec<Invite>), (status = 403, description = "Not an admin, or an API key", body = ErrorBody)))]
async fn list_invites(State(state): State<AppState>, _: AdminUser) -> Result<Json<Vec<Invite>>, AppError> {
    Ok(Json(
        invites::list(&state.db).await?.iter().map(|i| i.public()).collect(),
    ))
}

#[utoipa::path(delete, path = "/api/admin/invites/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Success), (status = 403, description = "Not an admin, or an API key", body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_invite(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Success>, AppError> {
    if !invites::delete(&state.db, &id).await? {
        return Err(AppError::NotFound("no such invite".to_owned()));
    }
    Ok(Json(Success { success: true }))
}

#[derive(Serialize, Deserialize, ToSchema)]
pub struct Registration {
    /// `open`, `invite-only` or `closed`.
    mode: String,
}

#[utoipa::path(get, path = "/api/admin/registration", tag = "admin",
    responses((status = 200, body = Registration), (status = 403, description = "Not an admin, or an API key", body = ErrorBody)))]
async fn get_registration(State(state): State<AppState>, _: AdminUser) -> Result<Json<Registration>, AppError> {
    Ok(Json(Registration {
        mode: registration_mode(&state).await?.as_str().to_owned(),
    }))
}

/// Stored in the database: it outlives restarts and overrides `REGISTRATION_MODE`.
#[utoipa::path(put, path = "/api/admin/registration", tag = "admin", request_body = Registration,
    responses((status = 200, body = Registration), (status = 400, body = ErrorBody), (status = 403, description = "Not an admin, or an API key", body = ErrorBody)))]
async fn put_registration(
    State(state): State<AppState>,
    _: AdminUser,
    ApiJson(body): ApiJson<Registration>,
) -> Result<Json<Registration>, AppError> {
    let mode = RegistrationMode::parse(&body.mode)
        .ok_or_else(|| AppError::Validation("mode must be open, invite-only or closed".to_owned()))?;
    set_registration_mode(&state, mode).await?;
    Ok(Json(Registration {
        mode: mode.as_str().to_owned(),
    }))
}

/// The original's name for `GET /api/admin/registration`.
#[utoipa::path(get, path = "/api/admin/settings/registration", tag = "admin",
    responses((status = 200, body = Registration), (status = 403, description = "Not an admin, or an API key", body = ErrorBody)))]
async fn get_registration_alias(state: State<AppState>, admin: AdminUser) -> Result<Json<Registration>, AppError> {
    get_registration(state, admin).await
}

/// The original's name for `PUT /api/admin/registration`.
#[utoipa::path(put, path = "/api/admin/settings/registration", tag = "admin", request_body = Registration,
    responses((status = 200, body = Registration), (status = 400, body = ErrorBody), (status = 403, description = "Not an admin, or an API key", body = ErrorBody)))]
async fn put_registration_alias(
    state: State<AppState>,
    admin: AdminUser,
    body: ApiJson<Registration>,
) -> Result<Json<Registration>, AppError> {
    put_registration(state, admin, body).await
}
