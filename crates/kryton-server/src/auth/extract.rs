//! "Who may call this handler" in one line: `CurrentUser`, `SessionUser` or `AdminUser`.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::{Caller, Principal};
use crate::error::AppError;
use crate::store::users::Role;

fn caller(parts: &Parts) -> Result<Arc<Principal>, AppError> {
    match parts.extensions.get::<Caller>() {
        Some(Caller::User(principal)) => Ok(principal.clone()),
        _ => Err(AppError::Unauthorized("sign in or send an API key".to_owned())),
    }
}

/// Any signed-in user, by session or API key (read-only keys are already limited to reads).
pub struct CurrentUser(pub Arc<Principal>);

/// A signed-in person: API keys are refused (keys cannot manage keys or sessions).
pub struct SessionUser(pub Arc<Principal>);

/// An admin, signed in with a session: API keys never reach admin routes.
pub struct AdminUser(pub Arc<Principal>);

impl<S: Send + Sync> FromRequestParts<S> for CurrentUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        caller(parts).map(CurrentUser)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for SessionUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        let principal = caller(parts)?;
        if principal.is_api_key() {
            return Err(AppError::Forbidden(
                "API keys cannot use this endpoint; sign in".to_owned(),
            ));
        }
        Ok(SessionUser(principal))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AdminUser {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let SessionUser(principal) = SessionUser::from_request_parts(parts, state).await?;
        if principal.user.role() != Role::Admin {
            return Err(AppError::Forbidden("admins only".to_owned()));
        }
        Ok(AdminUser(principal))
    }
}
