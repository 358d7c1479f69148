//! The one error type of the HTTP API, mapped to statuses in one place.
//!
//! Every error leaves as `{"error": "<message>", "code", "message", "details"?}`: the original
//! Kryton's web client shows `error` as text, its auth client reads `code` and `message`, so one
//! flat body serves both.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    Validation(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    PreconditionFailed { message: String, details: Option<Value> },
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("too many requests; retry in {}s", .0.as_secs().max(1))]
    RateLimited(Duration),
    #[error("{0}")]
    Unavailable(String),
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

impl AppError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            AppError::Validation(_) => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            AppError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "UNAUTHORIZED"),
            AppError::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            AppError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            AppError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            AppError::PreconditionFailed { .. } => (StatusCode::PRECONDITION_FAILED, "PRECONDITION_FAILED"),
            AppError::PayloadTooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE"),
            AppError::RateLimited(_) => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            AppError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            AppError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        }
    }
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
        if let AppError::RateLimited(retry) = &self
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
