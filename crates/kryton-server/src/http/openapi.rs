//! The OpenAPI 3 document, generated from the handlers' `#[utoipa::path]` annotations and the
//! request/response types, served at `/api/docs.json` with a readable page at `/api/docs`.
//!
//! Each area file declares `pub struct Api` listing its handlers; [`document`] merges them. The
//! committed copy (`crates/kryton-server/openapi.json`, written by `kryton openapi`) is what the
//! web app's types and the MCP tools are generated from; tests fail when it is stale or when a
//! route is missing from it.

use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, SecurityRequirement};
use utoipa::{Modify, OpenApi};

use super::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kryton",
        description = "A self-hosted markdown knowledge base. Every error answers with `ErrorBody`. \
            Authenticate with the session cookie from sign-in, or `Authorization: Bearer kryton_<64 hex>` \
            (an API key; read-only keys can only read). `docs/api.md` lists what differs from the original Kryton.",
        license(name = "AGPL-3.0-only")
    ),
    paths(docs_json, docs_page),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Accounts and sessions (Better Auth's routes and shapes)"),
        (name = "account", description = "Account security: my sessions, two-factor (Better Auth's routes)"),
        (name = "notes", description = "The vault: notes, folders, daily notes, templates"),
        (name = "knowledge", description = "Search, backlinks, graph, tags"),
        (name = "history", description = "Kept versions and the trash"),
        (name = "api-keys", description = "Personal API keys (sessions only)"),
        (name = "admin", description = "Users, invites, registration (admins, sessions only)"),
        (name = "settings", description = "Per-user settings (string values)"),
        (name = "files", description = "Attachments and images"),
        (name = "canvas", description = "JSON Canvas documents"),
        (name = "sharing", description = "Shares between users, access requests, notes shared with me"),
        (name = "meta", description = "Health, version, this document")
    )
)]
struct Base;

/// Cookie and bearer authentication, required by every operation that does not opt out with
/// `security(())`.
struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::auth::SESSION_COOKIE,
                "Set by sign-in and sign-up",
            ))),
        );
        components.add_security_scheme(
            "apiKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A personal API key: `kryton_` + 64 hex characters"))
                    .build(),
            ),
        );
        doc.security = Some(vec![
            SecurityRequirement::new("session", Vec::<String>::new()),
            SecurityRequirement::new("apiKey", Vec::<String>::new()),
        ]);
    }
}

/// The whole document: every area's handlers and the types they use.
pub fn document() -> Document {
    let mut doc = Base::openapi();
    for part in [
        super::auth::Api::openapi(),
        super::account::Api::openapi(),
        super::notes::Api::openapi(),
        super::knowledge::Api::openapi(),
        super::history::Api::openapi(),
        super::daily::Api::openapi(),
        super::api_keys::Api::openapi(),
        super::admin::Api::openapi(),
        super::health::Api::openapi(),
        super::version::Api::openapi(),
        super::settings::Api::openapi(),
        super::files::Api::openapi(),
        super::canvas::Api::openapi(),
        super::shares::Api::openapi(),
    ] {
        doc.merge(part);
    }
    doc.info.version = crate::version::VERSION.to_owned();
    // Handlers in different files share names (`create`, `list`): the area makes the id unique,
    // e.g. `notes_create`, `api_keys_create`, for clients generated from the document.
    for item in doc.paths.paths.values_mut() {
        for operation in operations(item) {
            let area = operation
                .tags
                .as_ref()
                .and_then(|t| t.first())
                .map(|t| t.replace('-', "_"));
            if let (Some(area), Some(id)) = (area, operation.operation_id.as_mut()) {
                *id = format!("{area}_{id}");
            }
        }
    }
    doc
}

fn operations(item: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut utoipa::openapi::path::Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.options.as_mut(),
        item.head.as_mut(),
        item.patch.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

/// The document as committed: pretty JSON with a final newline.
pub fn document_json() -> Result<String, serde_json::Error> {
    document().to_pretty_json().map(|text| text + "\n")
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/docs.json", get(docs_json))
        .route("/api/docs", get(docs_page))
}

/// This document (OpenAPI 3.1). No sign-in needed.
#[utoipa::path(get, path = "/api/docs.json", tag = "meta", security(()),
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")))]
async fn docs_json() -> impl IntoResponse {
    Json(document())
}

/// A readable page of this document, self-contained (no external scripts). No sign-in needed.
#[utoipa::path(get, path = "/api/docs", tag = "meta", security(()),
    responses((status = 200, description = "HTML", content_type = "text/html")))]
async fn docs_page() -> impl IntoResponse {
    (
        [(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
        )],
        Html(DOCS_PAGE),
    )
}

const DOCS_PAGE: &str = include_str!("openapi_page.html");
