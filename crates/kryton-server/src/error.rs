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
        response
    }
}

impl From<sqlx::Error> for AppError {
    fn from(e: sqlx::Error) -> Self {
        AppError::Internal(e.into())
    }
}
