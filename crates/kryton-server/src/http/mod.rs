//! The HTTP surface: one file per area, the whole route table here.

mod account;
mod admin;
mod api_keys;
mod auth;
mod canvas;
mod daily;
mod files;
mod health;
mod history;
pub mod json;
mod knowledge;
mod mcp;
mod notes;
pub mod openapi;
mod security;
mod settings;
mod shares;
mod version;
mod web;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::any;

use crate::auth::rate_limit::Limits;
use crate::config::Config;
use crate::db::Database;
use crate::error::AppError;
use crate::version::BuildInfo;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Database,
    pub build: Arc<BuildInfo>,
    pub config: Arc<Config>,
    pub limits: Arc<Limits>,
    /// The bounded queue in front of password hashing.
    pub hashing: Arc<crate::auth::password::Hashing>,
}

pub fn router(state: AppState) -> Router {
    // Everything but the probes, the version and the API document goes through authentication and rate limits.
    let api = Router::new()
        .merge(auth::router())
        .merge(account::router())
        .merge(api_keys::router())
        .merge(admin::router())
        .merge(notes::router())
        .merge(knowledge::router())
        .merge(history::router())
        .merge(daily::router())
        .merge(settings::router())
        .merge(files::router())
        .merge(canvas::router())
        .merge(shares::router())
        // Unknown API paths stay JSON 404s; everything else outside /api is the web app.
        .route("/api", any(not_found))
        .route("/api/{*rest}", any(not_found))
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::authenticate))
        .layer(middleware::from_fn_with_state(state.clone(), security::cross_site));
    Router::new()
        .merge(health::router())
        .merge(version::router())
        .merge(openapi::router())
        .merge(mcp::router())
        .merge(api)
        .route_layer(middleware::from_fn(log_request))
        .fallback(web::serve)
        // Outermost, so that every answer (probes, errors, the web app) gets the headers.
        .layer(middleware::from_fn_with_state(state.clone(), security::headers))
        .with_state(state)
}

async fn not_found(request: Request) -> AppError {
    tracing::debug!(method = %request.method(), "request for an unknown route");
    AppError::NotFound(format!("no route for {} {}", request.method(), request.uri().path()))
}

/// One line per request, named by the route template; probes only at debug level.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    // Route templates, never concrete paths: a note's path is the user's business.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(String::new, |p| p.as_str().to_owned());
    let response = next.run(request).await.into_response();
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if matches!(route.as_str(), "/healthz" | "/readyz") {
        tracing::debug!(%method, %route, status, latency_ms, "request");
    } else {
        tracing::info!(%method, %route, status, latency_ms, "request");
    }
    response
}
