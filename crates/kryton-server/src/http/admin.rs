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
use crate::store::api_keys::ApiKey;
use crate::store::invites::Invite;
use crate::store::users::{self, Role, User, UserRow};
use crate::store::{api_keys, invites, now_ms, parse_iso};

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
    put_registration_alias,
    list_user_keys,
    revoke_user_key
))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/admin/users", get(list_users))
        .route("/api/admin/users/{id}", put(update_user).delete(delete_user))
        .route("/api/admin/users/{id}/password", post(reset_password))
        .route("/api/admin/users/{id}/api-keys", get(list_user_keys))
        .route("/api/admin/users/{id}/api-keys/{key_id}", delete(revoke_user_key))
        .route("/api/admin/users/{id}/reset-password", post(reset_password_alias))
        .route("/api/admin/invites", get(list_invites).post(create_invite))
        .route("/api/admin/invites/{id}", delete(delete_invite))
        .route("/api/admin/registration", get(get_registration).put(put_registration))
        .route(
            "/api/admin/settings/registration",
            get(get_registration_alias).put(put_registration_alias),
        )
}

fn guard_error(e: users::GuardError) -> AppError {
    match e {
        users::GuardError::NotFound => AppError::NotFound(e.to_string()),
        users::GuardError::LastAdmin => AppError::Conflict(e.to_string()),
        users::GuardError::Database(e) => e.into(),
    }
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
    Ok(Json(user.public()))
}

/// `password` (ours) or `newPassword` (the original's).
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PasswordReset {
    password: Option<String>,
    new_password: Option<String>,
}

/// Sets a new password and revokes every session and API key of the account: whoever knew the
/// old password may have signed in or made keys with it.
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
    if users::by_id(&state.db, &id).await?.is_none() {
        return Err(AppError::NotFound("no such user".to_owned()));
    }
    let new = body
        .password
        .or(body.new_password)
        .ok_or_else(|| AppError::Validation("password is required".to_owned()))?;
    password::validate(&new)?;
    let hash = password::hash(&state.hashing, new).await?;
    if !users::set_password_and_revoke(&state.db, &id, &hash, None, true).await? {
        return Err(AppError::NotFound("no such user".to_owned()));
    }
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
/// `NOTES_DIR/.deleted/<userId>-<epoch-ms>`, so an accident can still be undone by hand. A retry
/// of a deletion that finished answers its result again.
#[utoipa::path(delete, path = "/api/admin/users/{id}", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = UserDeleted), (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, body = ErrorBody), (status = 409, description = "The last active admin", body = ErrorBody)))]
async fn delete_user(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<UserDeleted>, AppError> {
    let Some(user) = users::by_id(&state.db, &id).await? else {
        return match crate::notes::finished_user_deletion(&state.config, &id) {
            Some(moved_to) => Ok(Json(UserDeleted {
                success: true,
                vault_moved_to: moved_to,
            })),
            None => Err(AppError::NotFound("user not found".to_owned())),
        };
    };
    let moved_to = crate::notes::delete_user(&state.db, &state.config, &user.id).await?;
    tracing::info!(user = %user.id, "account deleted");
    Ok(Json(UserDeleted {
        success: true,
        vault_moved_to: moved_to,
    }))
}

/// Any user's API keys, as that user would list them (never the secrets).
#[utoipa::path(get, path = "/api/admin/users/{id}/api-keys", tag = "admin", params(("id" = String, Path)),
    responses((status = 200, body = Vec<ApiKey>), (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn list_user_keys(
    State(state): State<AppState>,
    _: AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<ApiKey>>, AppError> {
    if users::by_id(&state.db, &id).await?.is_none() {
        return Err(AppError::NotFound("no such user".to_owned()));
    }
    Ok(Json(
        api_keys::list(&state.db, &id)
            .await?
            .iter()
            .map(|k| k.public())
            .collect(),
    ))
}

/// Revokes one of a user's API keys.
#[utoipa::path(delete, path = "/api/admin/users/{id}/api-keys/{key_id}", tag = "admin",
    params(("id" = String, Path), ("key_id" = String, Path)),
    responses((status = 200, body = Success), (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
async fn revoke_user_key(
    State(state): State<AppState>,
    _: AdminUser,
    Path((id, key_id)): Path<(String, String)>,
) -> Result<Json<Success>, AppError> {
    if !api_keys::delete(&state.db, &id, &key_id).await? {
        return Err(AppError::NotFound("no such API key".to_owned()));
    }
    tracing::info!(user = %id, key = %key_id, "API key revoked by an admin");
    Ok(Json(Success { success: true }))
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
