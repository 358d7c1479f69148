//! Account security: the sessions a user can see and end, and TOTP two-factor (enable, confirm,
//! sign-in with a code or a backup code, disable, new backup codes, an admin's reset). Route
//! names are Better Auth's, as the original's web client calls them.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::auth::{Success, session_origin, start_session};
use super::json::ApiJson;
use crate::auth::totp;
use crate::auth::{self, AdminUser, Caller, Credential, SessionUser, password};
use crate::error::{AppError, ErrorBody};
use crate::store::{iso, sessions, sha256_hex, two_factor, users};

/// The cookie that carries a pending sign-in (password accepted, code awaited) to the
/// two-factor routes; never a session.
pub const TWO_FACTOR_COOKIE: &str = "kryton.two_factor";

#[derive(OpenApi)]
#[openapi(paths(
    list_sessions,
    revoke_session,
    revoke_other_sessions,
    enable,
    verify_totp,
    verify_backup_code,
    disable,
    generate_backup_codes,
    admin_reset
))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/list-sessions", get(list_sessions))
        .route("/api/auth/revoke-session", post(revoke_session))
        .route("/api/auth/revoke-other-sessions", post(revoke_other_sessions))
        .route("/api/auth/two-factor/enable", post(enable))
        .route("/api/auth/two-factor/verify-totp", post(verify_totp))
        .route("/api/auth/two-factor/verify-backup-code", post(verify_backup_code))
        .route("/api/auth/two-factor/disable", post(disable))
        .route(
            "/api/auth/two-factor/generate-backup-codes",
            post(generate_backup_codes),
        )
        .route("/api/admin/users/{id}/reset-two-factor", post(admin_reset))
}

fn current_session_id(me: &auth::Principal) -> Result<&str, AppError> {
    match &me.credential {
        Credential::Session { id, .. } => Ok(id),
        Credential::ApiKey { .. } => Err(AppError::Forbidden(
            "API keys cannot use this endpoint; sign in".to_owned(),
        )),
    }
}

/// One of my sessions, as the security page lists it. Tokens are never shown (only their hash is kept).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionEntry {
    pub id: String,
    /// The `User-Agent` the session signed in with.
    pub user_agent: Option<String>,
    /// The client address at sign-in.
    pub ip_address: Option<String>,
    pub created_at: String,
    /// The last request made with it (recorded at most once a minute).
    pub last_seen_at: String,
    pub expires_at: String,
    /// The session this request was made with.
    pub current: bool,
}

/// My live sessions, the most recently used first.
#[utoipa::path(get, path = "/api/auth/list-sessions", tag = "account",
    responses((status = 200, body = Vec<SessionEntry>), (status = 401, body = ErrorBody),
        (status = 403, description = "An API key", body = ErrorBody)))]
async fn list_sessions(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
) -> Result<Json<Vec<SessionEntry>>, AppError> {
    let current = current_session_id(&me)?;
    let rows = sessions::list_for_user(&state.db, &me.user.id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|row| SessionEntry {
                current: row.id == current,
                last_seen_at: iso(row.last_seen_at.unwrap_or(row.created_at)),
                created_at: iso(row.created_at),
                expires_at: iso(row.expires_at),
                user_agent: row.user_agent,
                ip_address: row.ip_address,
                id: row.id,
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct RevokeSession {
    /// The `id` from the session list.
    id: String,
}

/// Ends one of my sessions (this one included: that is a sign-out).
#[utoipa::path(post, path = "/api/auth/revoke-session", tag = "account", request_body = RevokeSession,
    responses((status = 200, body = Success), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 404, description = "No such session of mine", body = ErrorBody)))]
async fn revoke_session(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
    ApiJson(body): ApiJson<RevokeSession>,
) -> Result<Json<Success>, AppError> {
    current_session_id(&me)?;
    if !sessions::delete_owned(&state.db, &me.user.id, body.id.trim()).await? {
        return Err(AppError::NotFound("no such session".to_owned()));
    }
    tracing::info!(user = %me.user.id, "a session was revoked by its owner");
    Ok(Json(Success { success: true }))
}

#[derive(Serialize, ToSchema)]
pub struct Revoked {
    pub success: bool,
    /// How many sessions ended.
    pub revoked: u64,
}

/// Ends every session of mine except the one making this request.
#[utoipa::path(post, path = "/api/auth/revoke-other-sessions", tag = "account",
    responses((status = 200, body = Revoked), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn revoke_other_sessions(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
) -> Result<Json<Revoked>, AppError> {
    let current = current_session_id(&me)?;
    let revoked = sessions::delete_others(&state.db, &me.user.id, current).await?;
    tracing::info!(user = %me.user.id, revoked, "other sessions revoked by their owner");
    Ok(Json(Revoked { success: true, revoked }))
}

/// Counts one attempt at a second-factor code, per account and per client, in the same budget
/// as passwords (AUTH_RATE_LIMIT_*).
fn check_code_limits(state: &AppState, user_id: &str, ip: &str) -> Result<(), AppError> {
    state
        .limits
        .auth
        .check(&format!("two-factor:account:{user_id}"))
        .map_err(AppError::RateLimited)?;
    state
        .limits
        .auth
        .check(&format!("two-factor:ip:{ip}"))
        .map_err(AppError::RateLimited)
}

/// Checks the user's password (per-account attempt limit as for sign-in).
async fn check_password(state: &AppState, user_id: &str, given: String) -> Result<(), AppError> {
    state
        .limits
        .auth
        .check(&format!("password:account:{user_id}"))
        .map_err(AppError::RateLimited)?;
    let stored = users::by_id(&state.db, user_id)
        .await?
        .map(|u| u.password_hash)
        .ok_or_else(|| AppError::Unauthorized("invalid or expired credentials".to_owned()))?;
    if !password::verify(&state.hashing, given, Some(stored)).await? {
        return Err(AppError::Validation("the password is wrong".to_owned()));
    }
    Ok(())
}

fn now_seconds() -> u64 {
    u64::try_from(crate::store::now_ms() / 1000).unwrap_or(0)
}

/// Whether `code` is the user's current TOTP code, used for the first time (recorded if so).
async fn accept_totp(state: &AppState, row: &two_factor::TwoFactorRow, code: &str) -> Result<bool, AppError> {
    let Some(step) = totp::matching_step(&row.secret, code, now_seconds()) else {
        return Ok(false);
    };
    Ok(two_factor::accept_step(&state.db, &row.user_id, step).await?)
}

fn wrong_code() -> AppError {
    AppError::Unauthorized("the code is wrong or was already used".to_owned())
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordOnly {
    password: String,
}

/// What enabling shows once: the secret as a URI and a QR code, and the backup codes.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorSetup {
    /// `otpauth://totp/...`, for authenticator apps (holds the secret: shown only here).
    #[serde(rename = "totpURI")]
    pub totp_uri: String,
    /// The same URI as a QR code, an SVG document.
    pub qr_code_svg: String,
    /// Ten single-use codes for when the authenticator is lost. Shown only now.
    pub backup_codes: Vec<String>,
}

/// Starts enrolment: checks the password, makes a new secret and ten backup codes. The second
/// factor is on only after `verify-totp` with a code from the authenticator.
#[utoipa::path(post, path = "/api/auth/two-factor/enable", tag = "account", request_body = PasswordOnly,
    responses((status = 200, body = TwoFactorSetup), (status = 400, description = "Wrong password", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 409, description = "Already enabled", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn enable(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
    ApiJson(body): ApiJson<PasswordOnly>,
) -> Result<Json<TwoFactorSetup>, AppError> {
    current_session_id(&me)?;
    check_password(&state, &me.user.id, body.password).await?;
    let secret = totp::new_secret();
    let uri = totp::otpauth_uri(&secret, &me.user.email)
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("could not encode the TOTP secret")))?;
    let qr = totp::qr_svg(&uri).ok_or_else(|| AppError::Internal(anyhow::anyhow!("could not draw the QR code")))?;
    let codes = totp::new_backup_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| sha256_hex(&totp::normalise_backup_code(c)))
        .collect();
    if !two_factor::begin(&state.db, &me.user.id, &secret, &hashes).await? {
        return Err(AppError::Conflict(
            "two-factor authentication is already enabled; disable it first".to_owned(),
        ));
    }
    tracing::info!(user = %me.user.id, "two-factor enrolment started");
    Ok(Json(TwoFactorSetup {
        totp_uri: uri,
        qr_code_svg: qr,
        backup_codes: codes,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CodeAnswer {
    /// A six-digit TOTP code, or a backup code for `verify-backup-code`.
    code: String,
    /// The pending sign-in's token from the sign-in answer; the `kryton.two_factor` cookie does
    /// the same for browsers.
    two_factor_token: Option<String>,
}

/// The pending sign-in of this request: the token in the body, else the cookie.
async fn pending_challenge(
    state: &AppState,
    headers: &HeaderMap,
    body_token: Option<&str>,
) -> Result<Option<two_factor::Challenge>, AppError> {
    let token = body_token
        .map(str::to_owned)
        .or_else(|| cookie(headers, TWO_FACTOR_COOKIE));
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 200) else {
        return Ok(None);
    };
    Ok(two_factor::challenge(&state.db, &token).await?)
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_owned())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CodeKind {
    Totp,
    Backup,
}

/// Completes a pending sign-in with a code: a session is created only now.
async fn finish_sign_in(
    state: &AppState,
    headers: &HeaderMap,
    peer: SocketAddr,
    challenge: two_factor::Challenge,
    code: &str,
    kind: CodeKind,
) -> Result<Response, AppError> {
    let ip = auth::client_ip(headers, Some(peer), &state.config.trust_proxy);
    check_code_limits(state, &challenge.user_id, &ip)?;
    let user = users::by_id(&state.db, &challenge.user_id)
        .await?
        .ok_or_else(|| AppError::Unauthorized("sign in again".to_owned()))?;
    if user.disabled {
        return Err(AppError::Forbidden("this account is disabled".to_owned()));
    }
    let row = two_factor::get(&state.db, &user.id).await?.filter(|r| r.enabled);
    let accepted = match (kind, &row) {
        (_, None) => false,
        (CodeKind::Totp, Some(row)) => accept_totp(state, row, code).await?,
        (CodeKind::Backup, Some(_)) => {
            two_factor::use_backup_code(&state.db, &user.id, &totp::normalise_backup_code(code)).await?
        }
    };
    if !accepted {
        two_factor::fail_challenge(&state.db, &challenge.id, totp::CHALLENGE_FAILURES).await?;
        tracing::info!(user = %user.id, "a wrong second-factor code was given at sign-in");
        return Err(wrong_code());
    }
    if !two_factor::close_challenge(&state.db, &challenge.id).await? {
        return Err(AppError::Unauthorized("sign in again".to_owned()));
    }
    tracing::info!(user = %user.id, "signed in with a second factor");
    let mut response = start_session(state, &user, session_origin(headers, state, peer)).await?;
    clear_challenge_cookie(&mut response);
    Ok(response)
}

fn clear_challenge_cookie(response: &mut Response) {
    let expired = format!("{TWO_FACTOR_COOKIE}=; Path=/api/auth/two-factor; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
}

/// A TOTP code, for one of two things: with a pending sign-in (token or cookie), completes it and
/// answers like sign-in; signed in with a session, confirms enrolment and turns the second factor
/// on. A code is accepted once.
#[utoipa::path(post, path = "/api/auth/two-factor/verify-totp", tag = "account", request_body = CodeAnswer, security(()),
    responses((status = 200, description = "Signed in (`SignedIn`), or enrolment confirmed (`Success`)", body = super::auth::SignedIn),
        (status = 401, description = "Wrong or reused code, or no pending sign-in", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn verify_totp(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CodeAnswer>,
) -> Result<Response, AppError> {
    if let Some(challenge) = pending_challenge(&state, &headers, body.two_factor_token.as_deref()).await? {
        return finish_sign_in(&state, &headers, peer, challenge, &body.code, CodeKind::Totp).await;
    }
    let Caller::User(me) = caller else {
        return Err(AppError::Unauthorized(
            "no pending sign-in; sign in with your password again".to_owned(),
        ));
    };
    current_session_id(&me)?;
    let ip = auth::client_ip(&headers, Some(peer), &state.config.trust_proxy);
    check_code_limits(&state, &me.user.id, &ip)?;
    let row = two_factor::get(&state.db, &me.user.id)
        .await?
        .ok_or_else(|| AppError::Validation("two-factor enrolment was not started; call enable first".to_owned()))?;
    let was_enabled = row.enabled;
    if !accept_totp(&state, &row, &body.code).await? {
        return Err(wrong_code());
    }
    if !was_enabled {
        tracing::info!(user = %me.user.id, "two-factor authentication enabled");
    }
    Ok(Json(Success { success: true }).into_response())
}

/// A backup code instead of a TOTP code, to complete a pending sign-in. Each code works once.
#[utoipa::path(post, path = "/api/auth/two-factor/verify-backup-code", tag = "account", request_body = CodeAnswer, security(()),
    responses((status = 200, body = super::auth::SignedIn),
        (status = 401, description = "Wrong or used code, or no pending sign-in", body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn verify_backup_code(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CodeAnswer>,
) -> Result<Response, AppError> {
    let challenge = pending_challenge(&state, &headers, body.two_factor_token.as_deref())
        .await?
        .ok_or_else(|| AppError::Unauthorized("no pending sign-in; sign in with your password again".to_owned()))?;
    finish_sign_in(&state, &headers, peer, challenge, &body.code, CodeKind::Backup).await
}

#[derive(Deserialize, ToSchema)]
pub struct DisableTwoFactor {
    password: String,
    /// A current TOTP code or an unused backup code.
    code: String,
}

/// Turns the second factor off: the password and a code (TOTP or backup) are both required.
#[utoipa::path(post, path = "/api/auth/two-factor/disable", tag = "account", request_body = DisableTwoFactor,
    responses((status = 200, body = Success), (status = 400, description = "Wrong password, or not enabled", body = ErrorBody),
        (status = 401, description = "Wrong code", body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn disable(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    SessionUser(me): SessionUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<DisableTwoFactor>,
) -> Result<Json<Success>, AppError> {
    current_session_id(&me)?;
    let ip = auth::client_ip(&headers, Some(peer), &state.config.trust_proxy);
    check_code_limits(&state, &me.user.id, &ip)?;
    check_password(&state, &me.user.id, body.password).await?;
    let row = two_factor::get(&state.db, &me.user.id)
        .await?
        .filter(|r| r.enabled)
        .ok_or_else(|| AppError::Validation("two-factor authentication is not enabled".to_owned()))?;
    let accepted = accept_totp(&state, &row, &body.code).await?
        || two_factor::use_backup_code(&state.db, &me.user.id, &totp::normalise_backup_code(&body.code)).await?;
    if !accepted {
        return Err(wrong_code());
    }
    two_factor::remove(&state.db, &me.user.id).await?;
    tracing::info!(user = %me.user.id, "two-factor authentication disabled");
    Ok(Json(Success { success: true }))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupCodes {
    pub status: bool,
    /// Ten new single-use codes; the old ones stop working. Shown only now.
    pub backup_codes: Vec<String>,
}

/// Replaces my backup codes (the password is required); the second factor must be on.
#[utoipa::path(post, path = "/api/auth/two-factor/generate-backup-codes", tag = "account", request_body = PasswordOnly,
    responses((status = 200, body = BackupCodes), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn generate_backup_codes(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
    ApiJson(body): ApiJson<PasswordOnly>,
) -> Result<Json<BackupCodes>, AppError> {
    current_session_id(&me)?;
    check_password(&state, &me.user.id, body.password).await?;
    let codes = totp::new_backup_codes();
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| sha256_hex(&totp::normalise_backup_code(c)))
        .collect();
    if !two_factor::regenerate_codes(&state.db, &me.user.id, &hashes).await? {
        return Err(AppError::Validation(
            "two-factor authentication is not enabled".to_owned(),
        ));
    }
    tracing::info!(user = %me.user.id, "backup codes replaced");
    Ok(Json(BackupCodes {
        status: true,
        backup_codes: codes,
    }))
}

/// An admin removes a user's second factor (a lost phone and lost backup codes): the user then
/// signs in with the password alone and may enrol again.
#[utoipa::path(post, path = "/api/admin/users/{id}/reset-two-factor", tag = "admin",
    params(("id" = String, Path, description = "The user's id")),
    responses((status = 200, body = Success), (status = 403, description = "Not an admin, or an API key", body = ErrorBody),
        (status = 404, description = "No such user", body = ErrorBody)))]
async fn admin_reset(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
) -> Result<Json<Success>, AppError> {
    if users::by_id(&state.db, &id).await?.is_none() {
        return Err(AppError::NotFound("no such user".to_owned()));
    }
    let removed = two_factor::remove(&state.db, &id).await?;
    tracing::info!(admin = %admin.user.id, user = %id, removed, "second factor reset by an admin");
    Ok(Json(Success { success: true }))
}
