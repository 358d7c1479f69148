//! Protections every answer and every browser request gets: security headers on the whole router
//! (the web app served from `/` included), and the cross-site request check for requests a
//! browser could send with the user's session cookie.

use axum::extract::{Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use crate::error::AppError;

/// Security headers, set unless a handler chose its own: `nosniff`, no referrer, `no-store` (an
/// answer may carry a session token, an API key or an invite code; nothing here is worth caching
/// in a shared cache), HSTS when APP_URL is https, and a deny-all CSP on `/api` answers (JSON is
/// never a document; the web app's pages set their own policy).
pub async fn headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    let mut default = |name: HeaderName, value: &'static str| {
        if !headers.contains_key(&name) {
            headers.insert(name, HeaderValue::from_static(value));
        }
    };
    default(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    default(header::REFERRER_POLICY, "no-referrer");
    default(header::CACHE_CONTROL, "no-store");
    if state.config.secure_cookies {
        default(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    if is_api {
        default(
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        );
    }
    response
}

/// True for a request that carries an `Authorization: Bearer` credential: a browser never adds
/// one by itself, so such a request cannot be forged by another site.
fn has_bearer(headers: &HeaderMap) -> bool {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .is_some_and(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
}

/// Refuses a state-changing request that a browser may have sent from another site with the
/// session cookie (or to sign someone in to the attacker's account):
/// - `Origin`, when present, must be the server's own (APP_URL's origin, else the `Host` it was
///   reached at); without it, `Sec-Fetch-Site` must be `same-origin` or `none`;
/// - a body must be JSON: `text/plain` and form bodies, which any page can send without a CORS
///   preflight, are refused; so is `multipart/form-data` unless the browser proved the request
///   is same-origin, and a body with no content type at all.
///
/// Requests with `Authorization: Bearer` are not browser-forgeable and pass untouched.
pub fn check_cross_site(request: &Request, app_origin: Option<&str>) -> Result<(), AppError> {
    if matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let headers = request.headers();
    if has_bearer(headers) {
        return Ok(());
    }
    let text = |name: HeaderName| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let cross_site = || {
        AppError::Forbidden(
            "cross-site request refused: this request did not come from the Kryton app's own origin".to_owned(),
        )
    };
    let mut proven_same_origin = false;
    if let Some(origin) = text(header::ORIGIN) {
        let same = match app_origin {
            Some(expected) => origin.eq_ignore_ascii_case(expected),
            None => {
                let host = text(header::HOST).unwrap_or_default();
                url::Url::parse(origin).ok().is_some_and(|o| {
                    let authority = match o.port() {
                        Some(port) => format!("{}:{port}", o.host_str().unwrap_or_default()),
                        None => o.host_str().unwrap_or_default().to_owned(),
                    };
                    !host.is_empty() && authority.eq_ignore_ascii_case(host)
                })
            }
        };
        if !same {
            return Err(cross_site());
        }
        proven_same_origin = true;
    } else if let Some(site) = text(HeaderName::from_static("sec-fetch-site")) {
        if !matches!(site, "same-origin" | "none") {
            return Err(cross_site());
        }
        proven_same_origin = true;
    }

    let media_type =
        text(header::CONTENT_TYPE).map(|value| value.split(';').next().unwrap_or_default().trim().to_ascii_lowercase());
    let wrong_type = |what: &str| {
        AppError::UnsupportedMediaType(format!(
            "{what} is not accepted here; send JSON with Content-Type: application/json"
        ))
    };
    match media_type.as_deref() {
        Some("text/plain") => Err(wrong_type("a text/plain body")),
        Some("application/x-www-form-urlencoded") => Err(wrong_type("a form body")),
        Some("multipart/form-data") if !proven_same_origin => Err(wrong_type("a multipart form body")),
        Some(_) => Ok(()),
        None => {
            let has_body = headers.contains_key(header::TRANSFER_ENCODING)
                || text(header::CONTENT_LENGTH).is_some_and(|n| n != "0");
            if has_body {
                Err(wrong_type("a body without a Content-Type"))
            } else {
                Ok(())
            }
        }
    }
}

/// The cross-site check as a layer.
pub async fn cross_site(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Err(error) = check_cross_site(&request, state.config.app_origin.as_deref()) {
        tracing::info!(method = %request.method(), "cross-site or non-JSON browser request refused");
        return error.into_response();
    }
    next.run(request).await
}
