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

// Also degraded (503) when the notes volume (and, on SQLite, the data volume) is not writable or
// has less than `READY_MIN_FREE_BYTES` free; how many notes wait for re-indexing after a failed
// index update is reported (`checks.index.pendingReindex`), never a failure. (Plain comments: the
// OpenAPI text below is unchanged, see docs/durability.md.)
/// Ready: the database answers, and which schema version it has.
#[utoipa::path(get, path = "/readyz", tag = "meta", security(()),
    responses((status = 200, description = "`{status, checks, schema}`"), (status = 503, description = "The database does not answer")))]
async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let (database, schema) = match tokio::time::timeout(READY_TIMEOUT, state.db.schema_version()).await {
        Ok(Ok(version)) => (
            json!({ "ok": true, "backend": state.db.backend() }),
            Some(json!({ "version": version })),
        ),
        Ok(Err(error)) => (json!({ "ok": false, "message": error.to_string() }), None),
        Err(_) => (
            json!({ "ok": false, "message": format!("no answer within {}s", READY_TIMEOUT.as_secs()) }),
            None,
        ),
    };
    let mut volumes = vec![("notesVolume", "NOTES_DIR", state.config.notes_dir.clone())];
    if state.db.backend() == "sqlite" {
        volumes.push(("dataVolume", "DATA_DIR", state.config.data_dir.clone()));
    }
    let min_free = state.config.ready_min_free_bytes;
    let checked = tokio::task::spawn_blocking(move || {
        volumes
            .into_iter()
            .map(|(name, setting, dir)| (name, check_volume(setting, &dir, min_free)))
            .collect::<Vec<_>>()
    })
    .await
    .unwrap_or_default();
    let mut ready = schema.is_some();
    let mut checks = serde_json::Map::new();
    checks.insert("database".to_owned(), database);
    for (name, check) in checked {
        ready &= check.ok;
        checks.insert(name.to_owned(), json!(check));
    }
    checks.insert(
        "index".to_owned(),
        json!({ "ok": true, "pendingReindex": crate::notes::resync::len() }),
    );
    let mut body = json!({ "status": if ready { "ok" } else { "degraded" }, "checks": checks });
    if let Some(schema) = schema {
        body["schema"] = schema;
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body))
}

/// What readiness found on one volume.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeCheck {
    ok: bool,
    /// The setting naming the directory (paths are not shown to unauthenticated callers).
    volume: &'static str,
    writable: bool,
    free_bytes: u64,
    min_free_bytes: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
}

/// Free space from `statvfs` (what an unprivileged writer may use), and a real write: a small
/// probe file created, written and removed, so a read-only remount or a full volume shows.
fn check_volume(setting: &'static str, dir: &std::path::Path, min_free: u64) -> VolumeCheck {
    use std::io::Write;
    let free_bytes = rustix::fs::statvfs(dir)
        .map(|s| s.f_bavail.saturating_mul(s.f_frsize))
        .unwrap_or(0);
    let probe = dir.join(format!(".kryton-readyz-{}.probe", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&probe)
        .and_then(|mut file| file.write_all(b"ready"));
    let _ = std::fs::remove_file(&probe);
    let mut check = VolumeCheck {
        ok: true,
        volume: setting,
        writable: written.is_ok(),
        free_bytes,
        min_free_bytes: min_free,
        message: None,
    };
    if let Err(error) = written {
        check.ok = false;
        check.message = Some(format!("{setting} is not writable: {error}"));
    } else if free_bytes < min_free {
        check.ok = false;
        check.message = Some(format!(
            "{setting} has {free_bytes} bytes free, less than READY_MIN_FREE_BYTES ({min_free})"
        ));
    }
    check
}
