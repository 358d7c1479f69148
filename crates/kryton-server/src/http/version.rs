//! `/api/version` (what the docs promise) and `/version` (what the original's code served).

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};

use super::AppState;
use crate::version::BuildInfo;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/version", get(version))
        .route("/version", get(version))
}

async fn version(State(state): State<AppState>) -> Json<BuildInfo> {
    Json((*state.build).clone())
}
