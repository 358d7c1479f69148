//! Accounts and sessions, shaped like the original's Better Auth routes.

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa::{OpenApi, ToSchema};

use super::AppState;
use super::json::ApiJson;
use crate::auth::{self, Caller, Credential, SESSION_COOKIE, SessionUser, password, totp};
use crate::config::RegistrationMode;
use crate::error::{AppError, ErrorBody};
use crate::store::users::User;
use crate::store::{self, iso, sessions, settings, two_factor, users};

#[derive(OpenApi)]
#[openapi(paths(sign_up, sign_in, sign_out, get_session, config, change_password))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/sign-up/email", post(sign_up))
        .route("/api/auth/sign-in/email", post(sign_in))
        .route("/api/auth/sign-out", post(sign_out))
        .route("/api/auth/get-session", get(get_session))
        .route("/api/auth/change-password", post(change_password))
        .route("/api/auth/config", get(config))
}

const REGISTRATION_MODE_KEY: &str = "registration_mode";

/// The mode in force: an admin's stored choice, else REGISTRATION_MODE.
pub async fn registration_mode(state: &AppState) -> Result<RegistrationMode, AppError> {
    let stored = settings::get(&state.db, REGISTRATION_MODE_KEY).await?;
    Ok(stored
        .as_deref()
        .and_then(RegistrationMode::parse)
        .unwrap_or(state.config.registration_mode))
}

pub async fn set_registration_mode(state: &AppState, mode: RegistrationMode) -> Result<(), AppError> {
    settings::set(&state.db, REGISTRATION_MODE_KEY, mode.as_str()).await?;
    Ok(())
}

/// Lower-cased and trimmed; a deliberately simple shape check (the address is an identifier here).
pub fn normalise_email(raw: &str) -> Result<String, AppError> {
    let email = raw.trim().to_lowercase();
    let valid = email.len() <= 254
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.')
        })
        && email.matches('@').count() == 1
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if valid {
        Ok(email)
    } else {
        Err(AppError::Validation("email is not a valid address".to_owned()))
    }
}

fn validate_name(name: &str) -> Result<String, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::Validation("name must be 1 to 100 characters".to_owned()));
    }
    Ok(name.to_owned())
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignUp {
    email: String,
    /// 8 to 72 characters.
    password: String,
    name: String,
    /// Needed when registration is `invite-only` (except for the very first account).
    invite_code: Option<String>,
}

#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    email: String,
    password: String,
}

/// The session just started. `token` is also in the `Set-Cookie` header; it is shown once.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewSession {
    pub token: String,
    pub expires_at: String,
}

/// The answer of sign-up and sign-in: Better Auth's `{redirect, token, user}`, plus `session`.
#[derive(Serialize, ToSchema)]
pub struct SignedIn {
    pub redirect: bool,
    pub token: String,
    pub user: User,
    pub session: NewSession,
}

/// What sign-in answers: a session, or the request for a second factor. Only the OpenAPI
/// document uses this type (the handler writes each shape itself, with its own cookie).
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum SignInAnswer {
    SignedIn(Box<SignedIn>),
    TwoFactorRequired(TwoFactorRequired),
}

/// Brute-force protection: attempts are counted per client and per account, separately for
/// sign-in and sign-up.
fn check_auth_limits(state: &AppState, action: &str, email: &str, ip: &str) -> Result<(), AppError> {
    state
        .limits
        .auth
        .check(&format!("{action}:ip:{ip}"))
        .map_err(AppError::RateLimited)?;
    state
        .limits
        .auth
        .check(&format!("{action}:account:{email}"))
        .map_err(AppError::RateLimited)
}

/// Creates an account and signs it in. The first account of a server becomes its admin and
/// needs no invite.
#[utoipa::path(post, path = "/api/auth/sign-up/email", tag = "auth", request_body = SignUp, security(()),
    responses((status = 200, body = SignedIn, headers(("Set-Cookie" = String))),
        (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody),
        (status = 429, body = ErrorBody)))]
async fn sign_up(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignUp>,
) -> Result<Response, AppError> {
    let email = normalise_email(&body.email)?;
    let ip = auth::client_ip(&headers, Some(peer), &state.config.trust_proxy);
    check_auth_limits(&state, "sign-up", &email, &ip)?;
    let name = validate_name(&body.name)?;
    password::validate(&body.password)?;

    let mode = registration_mode(&state).await?;
    let invite_hash = body
        .invite_code
        .as_deref()
        .map(str::trim)
        .filter(|code| !code.is_empty())
        .map(store::sha256_hex);
    // Refusals (closed, no or bad invite) are decided before the email is looked at and before
    // the password is hashed: the same quick answer whether or not the address is registered.
    users::precheck(&state.db, mode, invite_hash.as_deref())
        .await
        .map_err(create_error)?;
    let password_hash = password::hash(&state.hashing, body.password).await?;
    let user = users::create(
        &state.db,
        users::NewUser {
            email: &email,
            name: &name,
            password_hash: &password_hash,
            mode,
            invite_hash: invite_hash.as_deref(),
        },
    )
    .await
    .map_err(create_error)?;
    tracing::info!(user = %user.id, role = %user.role, "account created");
    welcome(&state, &user.id).await;
    start_session(&state, &user, session_origin(&headers, &state, peer)).await
}

fn create_error(e: users::CreateError) -> AppError {
    match e {
        users::CreateError::EmailTaken => AppError::Conflict(e.to_string()),
        users::CreateError::Closed | users::CreateError::InviteRequired | users::CreateError::BadInvite => {
            AppError::Forbidden(e.to_string())
        }
        users::CreateError::Database(e) => e.into(),
    }
}

/// A new vault starts with the sample notes. Failing to write them does not fail the sign-up.
async fn welcome(state: &AppState, user_id: &str) {
    if let Err(error) = crate::notes::first_run(&state.db, &state.config, user_id).await {
        tracing::warn!(user = user_id, %error, "could not write the sample vault");
    }
}

/// Signs in with email and password; a stale session cookie sent along is ignored.
#[utoipa::path(post, path = "/api/auth/sign-in/email", tag = "auth", request_body = SignIn, security(()),
    responses((status = 200, description = "Signed in, or (`twoFactorRedirect`) a TOTP code is needed next",
            body = SignInAnswer, headers(("Set-Cookie" = String))),
        (status = 401, description = "`INVALID_EMAIL_OR_PASSWORD`", body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, AppError> {
    let wrong = || AppError::InvalidCredentials;
    let email = normalise_email(&body.email).map_err(|_| wrong())?;
    let ip = auth::client_ip(&headers, Some(peer), &state.config.trust_proxy);
    check_auth_limits(&state, "sign-in", &email, &ip)?;
    let user = users::by_email(&state.db, &email).await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    let matches = password::verify(&state.hashing, body.password, stored).await?;
    let user = user.filter(|_| matches).ok_or_else(wrong)?;
    if user.disabled {
        return Err(AppError::Forbidden("this account is disabled".to_owned()));
    }
    if user.two_factor_enabled {
        // The password was right; no session until the second factor is given too.
        let token = two_factor::open_challenge(&state.db, &user.id, totp::CHALLENGE_TTL_MS).await?;
        let cookie = format!(
            "{}={token}; Path=/api/auth/two-factor; HttpOnly; SameSite=Lax; Max-Age={}{}",
            super::account::TWO_FACTOR_COOKIE,
            totp::CHALLENGE_TTL_MS / 1000,
            if state.config.secure_cookies { "; Secure" } else { "" }
        );
        let mut response = Json(TwoFactorRequired {
            two_factor_redirect: true,
            two_factor_token: token,
        })
        .into_response();
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            response.headers_mut().insert(header::SET_COOKIE, value);
        }
        return Ok(response);
    }
    start_session(&state, &user, session_origin(&headers, &state, peer)).await
}

/// The answer of a sign-in whose account has a second factor: Better Auth's `twoFactorRedirect`,
/// and the pending sign-in's token (also set as the `kryton.two_factor` cookie), valid five
/// minutes, to send with the code to `/api/auth/two-factor/verify-totp` or `verify-backup-code`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TwoFactorRequired {
    pub two_factor_redirect: bool,
    pub two_factor_token: String,
}

/// What a new session records about where it came from.
pub(super) fn session_origin(headers: &HeaderMap, state: &AppState, peer: SocketAddr) -> sessions::Origin {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().filter(|c| !c.is_control()).take(300).collect::<String>())
        .filter(|ua| !ua.is_empty());
    sessions::Origin {
        user_agent,
        ip_address: Some(auth::client_ip(headers, Some(peer), &state.config.trust_proxy)),
    }
}

/// Creates a session and answers with it (token in the body and in the cookie).
pub(super) async fn start_session(
    state: &AppState,
    user: &users::UserRow,
    origin: sessions::Origin,
) -> Result<Response, AppError> {
    let ttl = state.config.session_ttl;
    let session = sessions::create(&state.db, &user.id, ttl.as_millis() as i64, origin).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        session.token,
        ttl.as_secs(),
        if state.config.secure_cookies { "; Secure" } else { "" }
    );
    let body = SignedIn {
        redirect: false,
        token: session.token.clone(),
        user: user.public(),
        session: NewSession {
            token: session.token,
            expires_at: iso(session.row.expires_at),
        },
    };
    let mut response = (StatusCode::OK, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

#[derive(Serialize, ToSchema)]
pub struct Success {
    pub success: bool,
}

/// Revokes the session used for this request and clears the cookie.
#[utoipa::path(post, path = "/api/auth/sign-out", tag = "auth",
    responses((status = 200, body = Success), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn sign_out(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Result<Response, AppError> {
    match caller {
        Caller::User(principal) => match &principal.credential {
            Credential::Session { id, .. } => sessions::delete(&state.db, id).await?,
            Credential::ApiKey { .. } => {
                return Err(AppError::Forbidden(
                    "API keys cannot sign out; delete the key instead".to_owned(),
                ));
            }
        },
        Caller::Anonymous => return Err(AppError::Unauthorized("not signed in".to_owned())),
    }
    let mut response = Json(Success { success: true }).into_response();
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Better Auth's session object. For an API key: the key's id, `kind: "api-key"` and no token.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    pub id: String,
    /// The session token as sent with this request, by cookie or bearer (null for an API key).
    pub token: Option<String>,
    pub user_id: String,
    pub expires_at: Option<String>,
    pub created_at: Option<String>,
    pub updated_at: Option<String>,
    /// Always null here: `/api/auth/list-sessions` shows where each session signed in.
    pub ip_address: Option<String>,
    /// Always null here: `/api/auth/list-sessions` shows it.
    pub user_agent: Option<String>,
    /// `session` or `api-key`.
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<crate::store::api_keys::Scope>,
}

#[derive(Serialize, ToSchema)]
pub struct CurrentSession {
    pub session: SessionInfo,
    pub user: User,
}

/// The current user and session, or `null` when not signed in (as Better Auth answers).
#[utoipa::path(get, path = "/api/auth/get-session", tag = "auth",
    responses((status = 200, description = "The session, or `null` when not signed in", body = Option<CurrentSession>)))]
async fn get_session(Extension(caller): Extension<Caller>, headers: HeaderMap) -> Json<Option<CurrentSession>> {
    let Caller::User(principal) = caller else {
        return Json(None);
    };
    let user_id = principal.user.id.clone();
    let session = match &principal.credential {
        Credential::Session {
            id,
            created_at,
            expires_at,
        } => SessionInfo {
            id: id.clone(),
            token: auth::bearer(&headers)
                .map(str::to_owned)
                .or_else(|| auth::session_cookie(&headers)),
            user_id,
            expires_at: Some(iso(*expires_at)),
            created_at: Some(iso(*created_at)),
            updated_at: Some(iso(*created_at)),
            ip_address: None,
            user_agent: None,
            kind: "session".to_owned(),
            scope: None,
        },
        Credential::ApiKey { id, scope } => SessionInfo {
            id: id.clone(),
            token: None,
            user_id,
            expires_at: None,
            created_at: None,
            updated_at: None,
            ip_address: None,
            user_agent: None,
            kind: "api-key".to_owned(),
            scope: Some(*scope),
        },
    };
    Json(Some(CurrentSession {
        session,
        user: principal.user.public(),
    }))
}

/// What a sign-in page needs to know before anyone signs in.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthConfig {
    /// `open`, `invite-only` or `closed`.
    pub registration_mode: RegistrationMode,
    /// Whether sign-up needs an `inviteCode` now (never for the very first account).
    pub invite_required: bool,
    /// Whether sign-up can succeed at all now.
    pub registration_open: bool,
    /// No account exists yet: the next sign-up creates the admin.
    pub first_user: bool,
}

#[utoipa::path(get, path = "/api/auth/config", tag = "auth", security(()), responses((status = 200, body = AuthConfig)))]
async fn config(State(state): State<AppState>) -> Result<Json<AuthConfig>, AppError> {
    let mode = registration_mode(&state).await?;
    let first_user = users::count(&state.db).await? == 0;
    Ok(Json(AuthConfig {
        registration_mode: mode,
        invite_required: !first_user && mode == RegistrationMode::InviteOnly,
        registration_open: first_user || mode != RegistrationMode::Closed,
        first_user,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChangePassword {
    current_password: String,
    new_password: String,
    /// Accepted as Better Auth names it; other sessions are always ended (a password change is
    /// what a user does after a leak), this one is kept.
    #[allow(dead_code)]
    revoke_other_sessions: Option<bool>,
}

/// A signed-in person changes their own password: the current one is checked (with the same
/// per-account attempt limit as sign-in), every other session of theirs ends, this one stays.
/// API keys are independent credentials and are kept; they are listed and revoked separately.
#[utoipa::path(post, path = "/api/auth/change-password", tag = "auth", request_body = ChangePassword,
    responses((status = 200, body = PasswordChanged), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, description = "An API key", body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn change_password(
    State(state): State<AppState>,
    SessionUser(me): SessionUser,
    ApiJson(body): ApiJson<ChangePassword>,
) -> Result<Json<PasswordChanged>, AppError> {
    let Credential::Session { id: session_id, .. } = &me.credential else {
        return Err(AppError::Forbidden(
            "API keys cannot use this endpoint; sign in".to_owned(),
        ));
    };
    state
        .limits
        .auth
        .check(&format!("change-password:account:{}", me.user.id))
        .map_err(AppError::RateLimited)?;
    password::validate(&body.new_password)?;
    let stored = users::by_id(&state.db, &me.user.id)
        .await?
        .map(|u| u.password_hash)
        .ok_or_else(|| AppError::Unauthorized("invalid or expired credentials".to_owned()))?;
    if !password::verify(&state.hashing, body.current_password, Some(stored)).await? {
        return Err(AppError::Validation("the current password is wrong".to_owned()));
    }
    let hash = password::hash(&state.hashing, body.new_password).await?;
    users::set_password_and_revoke(&state.db, &me.user.id, &hash, Some(session_id), false).await?;
    tracing::info!(user = %me.user.id, "password changed; other sessions ended");
    Ok(Json(PasswordChanged {
        token: None,
        user: me.user.public(),
    }))
}

/// Better Auth's answer to a password change: no new token (this session stays).
#[derive(Serialize, ToSchema)]
pub struct PasswordChanged {
    pub token: Option<String>,
    pub user: User,
}
