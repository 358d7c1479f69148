//! Liveness and readiness, for probes and upgrade tooling.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};

use super::AppState;

/// Readiness gives up on a database that does not answer within this time.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// Alive: never touches the database, so a database outage does not restart every pod.
async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready: the database answers, and which schema version it has.
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    match tokio::time::timeout(READY_TIMEOUT, state.db.schema_version()).await {
        Ok(Ok(version)) => (
            StatusCode::OK,
            Json(json!({
                "status": "ok",
                "checks": { "database": { "ok": true, "backend": state.db.backend() } },
                "schema": { "version": version },
            })),
        ),
        Ok(Err(error)) => degraded(error.to_string()),
        Err(_) => degraded(format!("no answer within {}s", READY_TIMEOUT.as_secs())),
    }
}

fn degraded(message: String) -> (StatusCode, Json<Value>) {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({
            "status": "degraded",
            "checks": { "database": { "ok": false, "message": message } },
        })),
    )
}
