//! Who is asking: sessions for people, API keys for scripts and agents.
//!
//! A middleware resolves every request to a [`Principal`] or to nobody, once; handlers then say
//! what they need with an extractor ([`CurrentUser`], [`SessionUser`], [`AdminUser`]).

mod extract;
pub mod password;
pub mod rate_limit;
pub mod totp;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub use extract::{AdminUser, CurrentUser, SessionUser};

use crate::config::TrustProxy;
use crate::error::AppError;
use crate::http::AppState;
use crate::store::api_keys::{self, KEY_PREFIX, Scope};
use crate::store::users::UserRow;
use crate::store::{now_ms, sessions, users};

/// The name of the session cookie; the original's clients look for a cookie ending in
/// `.session_token` (Better Auth's naming).
pub const SESSION_COOKIE: &str = "kryton.session_token";

/// How a request proved who it is.
#[derive(Clone, Debug)]
pub enum Credential {
    Session {
        id: String,
        created_at: i64,
        expires_at: i64,
    },
    ApiKey {
        id: String,
        scope: Scope,
    },
}

/// An authenticated user and the credential used.
#[derive(Clone, Debug)]
pub struct Principal {
    pub user: UserRow,
    pub credential: Credential,
}

impl Principal {
    pub fn is_api_key(&self) -> bool {
        matches!(self.credential, Credential::ApiKey { .. })
    }
}

/// What the middleware found; `Anonymous` requests reach only public routes.
#[derive(Clone, Debug)]
pub enum Caller {
    Anonymous,
    User(Arc<Principal>),
}

/// The client's address, for rate limits: the peer, or with TRUST_PROXY the address the trusted
/// proxies report. X-Forwarded-For is read from the RIGHT: each proxy appends the address it saw,
/// so only the entries our own proxies added can be believed; whatever a client wrote itself sits
/// further left and is never used.
pub fn client_ip(headers: &HeaderMap, peer: Option<SocketAddr>, trust: &TrustProxy) -> String {
    let peer_ip = peer.map(|p| p.ip());
    let fallback = || peer_ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    if *trust == TrustProxy::Off {
        return fallback();
    }
    // The chain as the nearest proxy saw it: forwarded entries in order, then the peer itself.
    let mut chain: Vec<Option<IpAddr>> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| entry.trim().parse::<IpAddr>().ok())
        .collect();
    chain.push(peer_ip);
    let chosen = match trust {
        TrustProxy::Off => None,
        // `hops` proxies: the client is the entry just left of the last `hops` hops.
        TrustProxy::Hops(hops) => {
            let index = chain.len().saturating_sub(hops + 1);
            // An unreadable entry where the client should be: the proxy right of it is what we know.
            chain[index..].iter().flatten().next().copied()
        }
        TrustProxy::Addresses(proxies) => {
            let mut client = None;
            for entry in chain.iter().rev() {
                match entry {
                    Some(ip) if proxies.iter().any(|net| net.contains(ip)) => client = Some(*ip),
                    Some(ip) => {
                        client = Some(*ip);
                        break;
                    }
                    None => break,
                }
            }
            client
        }
    };
    chosen.map_or_else(fallback, |ip| ip.to_string())
}

pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Resolves the caller, applies the global and per-key rate limits, and refuses writes made with
/// read-only keys. Runs for every route except the probes and MCP (which checks scopes per tool).
pub async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
    let caller = match identify(&state, request.headers(), peer).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    if let Caller::User(principal) = &caller
        && let Credential::ApiKey { scope, .. } = &principal.credential
    {
        let safe = matches!(*request.method(), Method::GET | Method::HEAD | Method::OPTIONS);
        if *scope == Scope::ReadOnly && !safe {
            return AppError::Forbidden("this API key is read-only".to_owned()).into_response();
        }
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

/// Who is calling, with the global (per IP) and per-API-key rate limits applied: the part of
/// authentication every face of the server shares.
pub async fn identify(state: &AppState, headers: &HeaderMap, peer: Option<SocketAddr>) -> Result<Caller, AppError> {
    let ip = client_ip(headers, peer, &state.config.trust_proxy);
    state
        .limits
        .global
        .check(&format!("ip:{ip}"))
        .map_err(AppError::RateLimited)?;
    let caller = resolve(state, headers).await?;
    if let Caller::User(principal) = &caller
        && let Credential::ApiKey { id, .. } = &principal.credential
    {
        state
            .limits
            .api_key
            .check(&format!("key:{id}"))
            .map_err(AppError::RateLimited)?;
    }
    Ok(caller)
}

/// A malformed or unknown credential in `Authorization` is a 401, never silently "anonymous": a
/// client that sent one expected it to work. A session cookie is different: browsers keep sending
/// stale cookies after a sign-out elsewhere, a restore or a reset, so a cookie that resolves to no
/// live session counts as no cookie (otherwise the user could not even reach the sign-in route).
async fn resolve(state: &AppState, headers: &HeaderMap) -> Result<Caller, AppError> {
    let (secret, from_cookie) = match (bearer(headers), session_cookie(headers)) {
        (Some(token), _) => (token.to_owned(), false),
        (None, Some(cookie)) => (cookie, true),
        (None, None) => {
            if headers.contains_key(header::AUTHORIZATION) {
                return Err(AppError::Unauthorized(
                    "malformed Authorization header; use `Bearer <token>`".into(),
                ));
            }
            return Ok(Caller::Anonymous);
        }
    };
    let unauthorized = || AppError::Unauthorized("invalid or expired credentials".to_owned());
    let well_formed = !secret.is_empty() && secret.len() <= 200 && secret.bytes().all(|b| b.is_ascii_graphic());
    if !well_formed {
        return if from_cookie {
            Ok(Caller::Anonymous)
        } else {
            Err(unauthorized())
        };
    }
    let db = &state.db;
    let principal = if !from_cookie && secret.starts_with(KEY_PREFIX) {
        let key = api_keys::by_secret(db, &secret).await?.ok_or_else(unauthorized)?;
        let user = users::by_id(db, &key.user_id).await?.ok_or_else(unauthorized)?;
        let now = now_ms();
        // Recording use costs a write; do it at most once a minute per key, off the request path.
        if key.last_used_at.is_none_or(|at| now - at > 60_000) {
            let (db, id) = (db.clone(), key.id.clone());
            tokio::spawn(async move {
                if let Err(error) = api_keys::touch(&db, &id, now).await {
                    tracing::debug!(%error, "could not record API key use");
                }
            });
        }
        Principal {
            credential: Credential::ApiKey {
                id: key.id.clone(),
                scope: key.scope(),
            },
            user,
        }
    } else {
        let found = match sessions::by_token(db, &secret).await? {
            Some(session) => users::by_id(db, &session.user_id).await?.map(|user| (session, user)),
            None => None,
        };
        let (session, user) = match found {
            Some(found) => found,
            None if from_cookie => {
                tracing::debug!("a stale session cookie was ignored");
                return Ok(Caller::Anonymous);
            }
            None => return Err(unauthorized()),
        };
        let ttl = state.config.session_ttl.as_millis() as i64;
        let now = now_ms();
        // Sliding expiry, refreshed at most every hour so busy sessions do not write on every
        // request; "last seen" (for the user's session list) at most once a minute, off the
        // request path.
        if now - session.refreshed_at > 3_600_000 {
            sessions::refresh(db, &session.id, ttl).await?;
        } else if session.last_seen_at.is_none_or(|at| now - at > 60_000) {
            let (db, id) = (db.clone(), session.id.clone());
            tokio::spawn(async move {
                if let Err(error) = sessions::touch(&db, &id, now).await {
                    tracing::debug!(%error, "could not record session use");
                }
            });
        }
        Principal {
            credential: Credential::Session {
                id: session.id.clone(),
                created_at: session.created_at,
                expires_at: session.expires_at,
            },
            user,
        }
    };
    if principal.user.disabled {
        return Err(AppError::Forbidden("this account is disabled".to_owned()));
    }
    Ok(Caller::User(Arc::new(principal)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip_for(xff: &str, trust: &TrustProxy) -> String {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", xff.parse().unwrap());
        client_ip(&headers, Some(([10, 0, 0, 1], 4000).into()), trust)
    }

    #[test]
    fn forwarded_for_is_read_from_the_right() {
        // A client that writes its own X-Forwarded-For cannot choose its address.
        assert_eq!(ip_for("6.6.6.6, 203.0.113.7", &TrustProxy::Hops(1)), "203.0.113.7");
        assert_eq!(
            ip_for("6.6.6.6, 203.0.113.7, 10.0.0.2", &TrustProxy::Hops(2)),
            "203.0.113.7"
        );
        assert_eq!(ip_for("203.0.113.7", &TrustProxy::Hops(5)), "203.0.113.7");
        assert_eq!(ip_for("6.6.6.6, 203.0.113.7", &TrustProxy::Off), "10.0.0.1");
        let proxies = TrustProxy::Addresses(vec!["10.0.0.0/8".parse().unwrap()]);
        assert_eq!(ip_for("6.6.6.6, 203.0.113.7, 10.9.9.9", &proxies), "203.0.113.7");
        assert_eq!(ip_for("garbage, 10.9.9.9", &proxies), "10.9.9.9");
    }
}
