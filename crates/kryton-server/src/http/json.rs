//! A JSON body extractor whose rejections use the API's error envelope, not axum's plain text.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::AppError;

pub struct ApiJson<T>(pub T);

/// A body that may be absent: nothing (or only whitespace) gives `T::default()`.
pub fn optional_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(body).map_err(|_| AppError::Validation("the body is not valid JSON".to_owned()))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(AppError::Validation(match rejection {
                JsonRejection::MissingJsonContentType(_) => {
                    "expected a JSON body (Content-Type: application/json)".into()
                }
                JsonRejection::JsonSyntaxError(_) => "the body is not valid JSON".into(),
                JsonRejection::JsonDataError(e) => format!("invalid request body: {}", e.body_text()),
                other => other.body_text(),
            })),
        }
    }
}
