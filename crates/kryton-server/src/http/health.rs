//! Liveness and readiness, for probes and upgrade tooling.

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::{OpenApi, ToSchema};

use super::AppState;

#[derive(OpenApi)]
#[openapi(paths(healthz, readyz, health, health_bare))]
pub struct Api;

/// Readiness gives up on a database that does not answer within this time.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/api/health", get(health))
        .route("/health", get(health_bare))
}

#[derive(Serialize, ToSchema)]
pub struct Alive {
    /// `ok`.
    pub status: &'static str,
}

/// Alive: never touches the database, so a database outage does not restart every pod.
#[utoipa::path(get, path = "/healthz", tag = "meta", security(()), responses((status = 200, body = Alive)))]
async fn healthz() -> Json<Alive> {
    Json(Alive { status: "ok" })
}

/// The original's health answer: alive, and which release.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    pub version: &'static str,
    pub commit: String,
    pub major_version: u64,
}

/// Alive (no database check, like `/healthz`), with the release. Newer clients probe it before
/// signing in.
#[utoipa::path(get, path = "/api/health", tag = "meta", security(()), responses((status = 200, body = Health)))]
async fn health(State(state): State<AppState>) -> Json<Health> {
    Json(Health {
        status: "ok",
        version: state.build.version,
        commit: state.build.commit.clone(),
        major_version: state.build.major,
    })
}

/// The same as `/api/health`.
#[utoipa::path(get, path = "/health", tag = "meta", security(()), responses((status = 200, body = Health)))]
async fn health_bare(state: State<AppState>) -> Json<Health> {
    health(state).await
}

/// Ready: the database answers, and which schema version it has.
#[utoipa::path(get, path = "/readyz", tag = "meta", security(()),
    responses((status = 200, description = "`{status, checks, schema}`"), (status = 503, description = "The database does not answer")))]
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
