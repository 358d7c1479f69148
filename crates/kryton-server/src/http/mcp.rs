//! `/api/mcp`: the Model Context Protocol over Streamable HTTP (rmcp's server), stateless so any
//! replica can answer any request.
//!
//! In front of the SDK: API keys only (`Authorization: Bearer kryton_...`, like the original), the
//! same rate limits as the REST API, and the Origin check the MCP spec requires of HTTP servers
//! (against DNS rebinding): a request from a browser must come from APP_URL or from the server's
//! own origin. Scopes are enforced per tool (see `crate::mcp`), not per HTTP method, since every
//! MCP call is a POST.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use rmcp::transport::streamable_http_server::session::never::NeverSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use super::AppState;
use crate::auth::{self, Caller};
use crate::error::AppError;
use crate::mcp::KrytonMcp;
use crate::store::api_keys::KEY_PREFIX;

/// The MCP route; mounted outside the REST authentication layer (it authenticates itself).
pub fn router() -> Router<AppState> {
    Router::new().route("/api/mcp", any(serve))
}

/// The SDK's settings: stateless, JSON answers when nothing streams, Host left to the Origin
/// check below (deployments have any host name), and a body limit that fits `upload_file`'s
/// largest base64 file (the SDK refuses bigger bodies with 413 while reading them).
fn sdk_config() -> StreamableHttpServerConfig {
    StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(crate::mcp::REQUEST_BODY_BYTES)
        .with_legacy_session_mode(false)
        .with_json_response(true)
        .with_sse_keep_alive(None)
        .disable_allowed_hosts()
        .disable_allowed_origins()
}

async fn serve(State(state): State<AppState>, request: Request) -> Response {
    if let Err(error) = check_origin(&state, request.headers()) {
        return refusal(error);
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let principal = match authenticate(&state, request.headers(), peer).await {
        Ok(principal) => principal,
        Err(error) => return refusal(error),
    };
    let service = StreamableHttpService::new(
        {
            let (state, principal) = (state.clone(), principal.clone());
            move || Ok(KrytonMcp::new(state.clone(), principal.clone()))
        },
        Arc::new(NeverSessionManager::default()),
        sdk_config(),
    );
    service.handle(request).await.map(Body::new)
}

/// An API key and nothing else: sessions (cookies) are for the web app.
async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<Arc<auth::Principal>, AppError> {
    match auth::bearer(headers) {
        Some(token) if token.starts_with(KEY_PREFIX) => {}
        _ => {
            return Err(AppError::Unauthorized(
                "API key required for MCP access: send `Authorization: Bearer kryton_...` (create a key in Settings > API keys)"
                    .to_owned(),
            ));
        }
    }
    match auth::identify(state, headers, peer).await? {
        Caller::User(principal) if principal.is_api_key() => Ok(principal),
        _ => Err(AppError::Unauthorized("invalid or expired API key".to_owned())),
    }
}

/// A refused request keeps its HTTP status (401, 403, 429 with `Retry-After`) and answers with a
/// JSON-RPC error carrying the message, so MCP clients show the reason instead of a bare status.
fn refusal(error: AppError) -> Response {
    let unauthorized = matches!(error, AppError::Unauthorized(_));
    let message = error.to_string();
    let mut response = error.into_response();
    let status = response.status();
    let body = serde_json::json!({
        "jsonrpc": "2.0",
        "id": null,
        "error": { "code": -32001, "message": message, "data": { "status": status.as_u16() } },
    });
    *response.body_mut() = Body::from(body.to_string());
    response.headers_mut().remove(header::CONTENT_LENGTH);
    if unauthorized {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"kryton\""),
        );
    }
    response
}

/// No Origin (agents, CLIs, desktop hosts) passes. A browser's Origin must be APP_URL's or a
/// loopback one: a page on another site (or a DNS-rebound name pointing here) is refused.
fn check_origin(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let refuse =
        || AppError::Forbidden("requests from this Origin may not use /api/mcp (only APP_URL's origin may)".to_owned());
    let origin = origin.to_str().map_err(|_| refuse())?.trim().trim_end_matches('/');
    if state
        .config
        .app_origin
        .as_deref()
        .is_some_and(|allowed| allowed.eq_ignore_ascii_case(origin))
    {
        return Ok(());
    }
    let loopback = url::Url::parse(origin).ok().is_some_and(|u| {
        matches!(u.scheme(), "http" | "https")
            && match u.host() {
                Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
                Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
                Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
                None => false,
            }
    });
    if loopback { Ok(()) } else { Err(refuse()) }
}
