//! `/api/version` (what the docs promise) and `/version` (what the original's code served).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use super::AppState;
use crate::version::BuildInfo;

#[derive(OpenApi)]
#[openapi(paths(version, version_bare))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/version", get(version))
        .route("/version", get(version_bare))
}

/// The release and the commit this server was built from. No sign-in needed.
#[utoipa::path(get, path = "/api/version", tag = "meta", security(()), responses((status = 200, body = BuildInfo)))]
async fn version(State(state): State<AppState>) -> Json<BuildInfo> {
    Json((*state.build).clone())
}

/// The same as `/api/version`.
#[utoipa::path(get, path = "/version", tag = "meta", security(()), responses((status = 200, body = BuildInfo)))]
async fn version_bare(state: State<AppState>) -> Json<BuildInfo> {
    version(state).await
}
