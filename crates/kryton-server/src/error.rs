//! The one error type of the HTTP API, mapped to statuses in one place.
//!
//! Every error leaves as `{"error": "<message>", "code", "message", "details"?}`: the original
//! Kryton's web client shows `error` as text, its auth client reads `code` and `message`, so one
//! flat body serves both.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthorized(String),
    /// Sign-in with an unknown email or a wrong password (one answer for both).
    #[error("Invalid email or password")]
    InvalidCredentials,
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{message}")]
    PreconditionFailed { message: String, details: Option<Value> },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many requests; retry in {}s", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error("{0}")]
    Unavailable(String),
    /// The database does not answer (an outage, a dropped connection, a busy lock held too long).
    #[error("the database is not reachable right now; retry shortly")]
    DatabaseUnavailable,
    /// A volume is full (ENOSPC, EDQUOT): the message names it; nothing was changed.
    #[error("{0}")]
    InsufficientStorage(String),
    /// Too much work queued (password hashing): come back after the duration.
    #[error("the server is busy; retry in {}s", .0.as_secs().max(1))]
    Overloaded(Duration),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::Validation(_) => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            AppError::InvalidCredentials => (StatusCode::UNAUTHORIZED, "INVALID_EMAIL_OR_PASSWORD"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            AppError::UnsupportedMediaType(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "UNSUPPORTED_MEDIA_TYPE"),
            AppError::PreconditionFailed { .. } => (StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED"),
            AppError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            AppError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            AppError::DatabaseUnavailable => (StatusCode::SERVICE_UNAVAILABLE, "DATABASE_UNAVAILABLE"),
            AppError::InsufficientStorage(_) => (StatusCode::INSUFFICIENT_STORAGE, "INSUFFICIENT_STORAGE"),
            AppError::Overloaded(_) => (StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }
}

/// The error body of every route, as the OpenAPI document describes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The human message (the original's web client shows it as text).
    pub error: String,
    /// The machine code, e.g. `VALIDATION_ERROR`, `INVALID_EMAIL_OR_PASSWORD`.
    pub code: String,
    /// The same human message, for clients that read Better Auth's `message`.
    pub message: String,
    /// More about the error where useful, e.g. `{"currentEtag": ...}` on a 412.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
}

/// The JSON error envelope.
pub fn envelope(code: &str, message: &str, details: Option<Value>) -> Value {
    let mut error = json!({ "error": message, "code": code, "message": message });
    if let (Some(details), Some(map)) = (details, error.as_object_mut()) {
        map.insert("details".to_owned(), details);
    }
    error
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        if let AppError::Internal(source) = &self {
            // The cause goes to the log only; clients get a stable, secret-free message.
            tracing::error!(error = %format!("{source:#}"), "request failed");
        }
        let details = match &self {
            AppError::PreconditionFailed { details, .. } => details.clone(),
            _ => None,
        };
        let mut response = (status, Json(envelope(code, &self.to_string(), details))).into_response();
        if let AppError::RateLimited(retry) | AppError::Overloaded(retry) = &self
            && let Ok(value) = HeaderValue::from_str(&retry.as_secs().max(1).to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if let AppError::DatabaseUnavailable = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("2"));
        }
        response
    }
}

/// The message of a full notes volume.
pub const NOTES_VOLUME_FULL: &str = "no space left on the notes volume (NOTES_DIR); nothing was changed";

/// Whether an I/O error means "the volume is full" (ENOSPC) or "over quota" (EDQUOT).
pub fn is_out_of_space(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
    )
}

impl From<sqlx::Error> for AppError {
    /// Outages and full disks get their own answers (503 with `Retry-After`, 507 naming the
    /// volume); everything else is an internal error.
    fn from(e: sqlx::Error) -> Self {
        use sqlx::error::DatabaseError as _;
        match &e {
            // `Protocol`: a connection cut mid-handshake (a proxy or load balancer in front of the
            // database accepts and closes) reads as garbage, not as an I/O error.
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::Protocol(_)
            | sqlx::Error::WorkerCrashed => {
                tracing::warn!(error = %e, "the database is not reachable");
                AppError::DatabaseUnavailable
            }
            sqlx::Error::Database(db) => {
                if let Some(lite) = db.try_downcast_ref::<sqlx::sqlite::SqliteError>() {
                    // Primary result codes: SQLITE_BUSY 5, SQLITE_FULL 13.
                    let code = lite.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(0) & 0xff;
                    match code {
                        13 => {
                            return AppError::InsufficientStorage(
                                "no space left on the data volume (DATA_DIR) for the database; nothing was changed"
                                    .to_owned(),
                            );
                        }
                        5 => {
                            tracing::warn!(error = %e, "the database stayed locked past the busy timeout");
                            return AppError::DatabaseUnavailable;
                        }
                        _ => {}
                    }
                }
                match db.code().as_deref() {
                    // disk_full, and the insufficient-resources class in general.
                    Some(code) if code.starts_with("53") => AppError::InsufficientStorage(
                        "the database server is out of disk space or resources; nothing was changed".to_owned(),
                    ),
                    // Connection exceptions and an operator shutting the server down.
                    Some(code) if code.starts_with("08") || code.starts_with("57P") => {
                        tracing::warn!(error = %e, "the database is not reachable");
                        AppError::DatabaseUnavailable
                    }
                    _ => AppError::Internal(e.into()),
                }
            }
            _ => AppError::Internal(e.into()),
        }
    }
}
