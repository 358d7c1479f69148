//! Accounts and sessions, shaped like the original's Better Auth routes.

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;

use super::AppState;
use super::json::ApiJson;
use crate::auth::{self, Caller, Credential, SESSION_COOKIE, password};
use crate::config::RegistrationMode;
use crate::error::AppError;
use crate::store::{self, iso, sessions, settings, users};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/sign-up/email", post(sign_up))
        .route("/api/auth/sign-in/email", post(sign_in))
        .route("/api/auth/sign-out", post(sign_out))
        .route("/api/auth/get-session", get(get_session))
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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignUp {
    email: String,
    password: String,
    name: String,
    invite_code: Option<String>,
}

#[derive(Deserialize)]
struct SignIn {
    email: String,
    password: String,
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

async fn sign_up(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignUp>,
) -> Result<Response, AppError> {
    let email = normalise_email(&body.email)?;
    let ip = auth::client_ip(&headers, Some(peer), state.config.trust_proxy);
    check_auth_limits(&state, "sign-up", &email, &ip)?;
    let name = validate_name(&body.name)?;
    password::validate(&body.password)?;

    let first_account = users::count(&state.db).await? == 0;
    let mode = registration_mode(&state).await?;
    let invite_hash = match (first_account, mode) {
        (true, _) | (false, RegistrationMode::Open) => None,
        (false, RegistrationMode::Closed) => {
            return Err(AppError::Forbidden("registration is closed on this server".to_owned()));
        }
        (false, RegistrationMode::InviteOnly) => match body.invite_code.as_deref().map(str::trim) {
            Some(code) if !code.is_empty() => Some(store::sha256_hex(code)),
            _ => return Err(AppError::Forbidden("registration needs an invite code".to_owned())),
        },
    };
    let password_hash = password::hash(body.password).await?;
    let user = users::create(
        &state.db,
        users::NewUser {
            email: &email,
            name: &name,
            password_hash: &password_hash,
            invite_hash: invite_hash.as_deref(),
        },
    )
    .await
    .map_err(|e| match e {
        users::CreateError::EmailTaken => AppError::Conflict(e.to_string()),
        users::CreateError::BadInvite => AppError::Forbidden(e.to_string()),
        users::CreateError::Database(e) => e.into(),
    })?;
    tracing::info!(user = %user.id, role = %user.role, "account created");
    welcome(&state, &user.id).await;
    start_session(&state, &user, StatusCode::CREATED).await
}

/// A new vault starts with the sample notes. Failing to write them does not fail the sign-up.
async fn welcome(state: &AppState, user_id: &str) {
    if let Err(error) = crate::notes::first_run(&state.db, &state.config, user_id).await {
        tracing::warn!(user = user_id, %error, "could not write the sample vault");
    }
}

async fn sign_in(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<SignIn>,
) -> Result<Response, AppError> {
    let wrong = || AppError::Unauthorized("wrong email or password".to_owned());
    let email = normalise_email(&body.email).map_err(|_| wrong())?;
    let ip = auth::client_ip(&headers, Some(peer), state.config.trust_proxy);
    check_auth_limits(&state, "sign-in", &email, &ip)?;
    let user = users::by_email(&state.db, &email).await?;
    let stored = user
        .as_ref()
        .map_or_else(password::dummy_hash, |u| u.password_hash.clone());
    let matches = password::verify(body.password, stored).await;
    let user = user.filter(|_| matches).ok_or_else(wrong)?;
    if user.disabled {
        return Err(AppError::Forbidden("this account is disabled".to_owned()));
    }
    start_session(&state, &user, StatusCode::OK).await
}

async fn start_session(state: &AppState, user: &users::UserRow, status: StatusCode) -> Result<Response, AppError> {
    let ttl = state.config.session_ttl;
    let session = sessions::create(&state.db, &user.id, ttl.as_millis() as i64).await?;
    let cookie = format!(
        "{SESSION_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age={}{}",
        session.token,
        ttl.as_secs(),
        if state.config.secure_cookies { "; Secure" } else { "" }
    );
    let body = json!({
        "user": user.public(),
        "session": { "token": session.token, "expiresAt": iso(session.row.expires_at) },
    });
    let mut response = (status, Json(body)).into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// Revokes the session used for this request.
async fn sign_out(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Result<Response, AppError> {
    match caller {
        Caller::User(principal) => match &principal.credential {
            Credential::Session { id } => sessions::delete(&state.db, id).await?,
            Credential::ApiKey { .. } => {
                return Err(AppError::Forbidden(
                    "API keys cannot sign out; delete the key instead".to_owned(),
                ));
            }
        },
        Caller::Anonymous => return Err(AppError::Unauthorized("not signed in".to_owned())),
    }
    let mut response = Json(json!({ "success": true })).into_response();
    let expired = format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    if let Ok(value) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    Ok(response)
}

/// The current user and session, or `null` when not signed in (as Better Auth answers).
async fn get_session(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<Value>, AppError> {
    let Caller::User(principal) = caller else {
        return Ok(Json(Value::Null));
    };
    let session = match &principal.credential {
        Credential::Session { id } => json!({ "id": id, "kind": "session" }),
        Credential::ApiKey { id, scope } => json!({ "id": id, "kind": "api-key", "scope": scope }),
    };
    let _ = &state;
    Ok(Json(json!({ "user": principal.user.public(), "session": session })))
}
