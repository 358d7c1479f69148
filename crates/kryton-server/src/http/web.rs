//! The web app: the built single-page app (web/dist, embedded by rust-embed) served at `/`.
//!
//! - a file that exists is served with its precompressed `.br`/`.gz` twin when the client accepts
//!   it (made at build time by web/scripts/compress.mjs, so nothing is compressed per request);
//! - hashed files under `/assets/` are immutable for a year, everything else is revalidated;
//! - any other GET that is not under `/api` answers the app's `index.html` (deep links such as
//!   `/notes/Projects/Alpha.md` reload into the app), with a strict Content-Security-Policy.
//!
//! Unknown `/api/...` routes never reach this: they stay JSON 404s (see `http::router`).

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::AppError;

#[derive(RustEmbed)]
#[folder = "$KRYTON_WEB_DIST"]
#[exclude = ".build-stamp"]
#[exclude = "*.gz"]
#[exclude = "*.br"]
struct Assets;

/// The precompressed twins, kept apart so a listing of `Assets` is the app's real files.
#[derive(RustEmbed)]
#[folder = "$KRYTON_WEB_DIST"]
#[include = "*.gz"]
#[include = "*.br"]
struct Compressed;

/// No inline scripts, no eval, nothing from elsewhere. Styles allow inline attributes because the
/// editor (CodeMirror) and the graph set element styles; scripts stay strict. The graph's layout
/// runs in a worker made from a blob URL (graphology-layout-forceatlas2).
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; worker-src 'self' blob:; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

pub async fn serve(request: Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return AppError::NotFound(format!("no route for {} {}", request.method(), request.uri().path()))
            .into_response();
    }
    let path = request.uri().path().trim_start_matches('/');
    let headers = request.headers();
    if !path.is_empty() && path != "index.html" {
        if let Some(response) = asset(path, headers) {
            return response;
        }
        // A missing hashed asset is a real 404, not the app (a stale page asking for old chunks).
        if path.starts_with("assets/") {
            return (StatusCode::NOT_FOUND, "no such asset").into_response();
        }
    }
    index(headers)
}

fn asset(path: &str, headers: &HeaderMap) -> Option<Response> {
    let file = Assets::get(path)?;
    let mime = file.metadata.mimetype().to_owned();
    let etag = format!("\"{}\"", hex::encode(file.metadata.sha256_hash()));
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        return Some(
            Response::builder()
                .status(StatusCode::NOT_MODIFIED)
                .header(header::ETAG, etag)
                .header(header::CACHE_CONTROL, cache)
                .body(Body::empty())
                .unwrap_or_default(),
        );
    }
    let (body, encoding) = match pick_encoding(path, headers) {
        Some((bytes, enc)) => (bytes, Some(enc)),
        None => (file.data.into_owned(), None),
    };
    let mut builder = Response::builder()
        .header(header::CONTENT_TYPE, mime)
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, etag)
        .header(header::VARY, "Accept-Encoding")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(enc) = encoding {
        builder = builder.header(header::CONTENT_ENCODING, enc);
    }
    Some(builder.body(Body::from(body)).unwrap_or_default())
}

/// The smallest precompressed form the client accepts: brotli, then gzip.
fn pick_encoding(path: &str, headers: &HeaderMap) -> Option<(Vec<u8>, &'static str)> {
    let accept = headers.get(header::ACCEPT_ENCODING)?.to_str().ok()?;
    let accepts = |name: &str| {
        accept.split(',').any(|part| {
            let mut pieces = part.split(';');
            let coding = pieces.next().unwrap_or("").trim();
            let refused = pieces.any(|p| p.trim().replace(' ', "") == "q=0");
            coding.eq_ignore_ascii_case(name) && !refused
        })
    };
    for (coding, ext) in [("br", "br"), ("gzip", "gz")] {
        if accepts(coding)
            && let Some(file) = Compressed::get(&format!("{path}.{ext}"))
        {
            return Some((file.data.into_owned(), coding));
        }
    }
    None
}

fn index(headers: &HeaderMap) -> Response {
    let Some(mut response) = asset("index.html", headers) else {
        return AppError::NotFound("the web app is not part of this build".to_owned()).into_response();
    };
    let h = response.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    response
}
