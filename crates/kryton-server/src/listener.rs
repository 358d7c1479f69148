//! The HTTP listener: the accept loop, with the limits `axum::serve` does not offer.
//!
//! - A header-read timeout (HEADER_READ_TIMEOUT): a client that trickles its request line and
//!   headers is disconnected.
//! - A body-read timeout (BODY_READ_TIMEOUT, a layer on the router): 408 for a body that stalls.
//! - An idle timeout (IDLE_TIMEOUT): a connection with no request in flight is closed, so idle
//!   keep-alive sockets cannot pile up.
//! - A connection limit (MAX_CONNECTIONS) with headroom for the probes: past the limit, up to
//!   [`PROBE_HEADROOM`] more connections are served, but only on `/healthz` and `/readyz` (other
//!   routes answer 503 with `Retry-After`) and with a short idle timeout; past that, a new
//!   connection is closed at once. The process's soft file-descriptor limit is raised to its hard
//!   limit at boot, and the connection limit is lowered to fit under it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use axum::response::IntoResponse;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

use crate::boot::Shutdown;
use crate::config::Config;
use crate::error::AppError;

/// Connections kept beyond MAX_CONNECTIONS for health probes.
pub const PROBE_HEADROOM: usize = 64;
/// File descriptors kept for the database pool, note files, logs and backups.
const FD_RESERVE: u64 = 256;
/// How long an over-the-limit (probe) connection may stay open without a request.
const PROBE_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// After a graceful close was asked of an idle connection, how long it may take to go.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// The listener's settings, from [`Config`].
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    /// Raises the soft RLIMIT_NOFILE to the hard limit, then fits the connection limit under it.
    pub fn from_config(config: &Config) -> Self {
        let mut max_connections = config.max_connections;
        if let Some(fds) = raise_fd_limit() {
            let fits = fds.saturating_sub(FD_RESERVE + PROBE_HEADROOM as u64) as usize;
            if fits < max_connections {
                tracing::warn!(
                    max_connections,
                    file_descriptors = fds,
                    using = fits,
                    "MAX_CONNECTIONS does not fit under the file-descriptor limit; lowered"
                );
                max_connections = fits.max(1);
            }
        }
        Limits {
            header_read_timeout: config.header_read_timeout,
            idle_timeout: config.idle_timeout,
            max_connections,
        }
    }
}

/// The soft file-descriptor limit after raising it as far as the hard limit allows.
fn raise_fd_limit() -> Option<u64> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    let current = limit.current?;
    if let Some(maximum) = limit.maximum
        && maximum > current
    {
        limit.current = Some(maximum);
        if setrlimit(Resource::Nofile, limit).is_ok() {
            return Some(maximum);
        }
    }
    Some(current)
}

/// Serves `app` on `listener` until `shutdown`, then lets in-flight requests finish.
pub async fn serve(listener: TcpListener, app: Router, limits: Limits, shutdown: Shutdown) {
    let regular = Arc::new(Semaphore::new(limits.max_connections));
    let headroom = Arc::new(Semaphore::new(PROBE_HEADROOM));
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut shutdown = shutdown;
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(error) => {
                // Out of file descriptors or a connection reset before accept: wait, do not spin.
                tracing::warn!(%error, "accepting a connection failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let (permit, probes_only) = if let Ok(permit) = regular.clone().try_acquire_owned() {
            (permit, false)
        } else if let Ok(permit) = headroom.clone().try_acquire_owned() {
            (permit, true)
        } else {
            tracing::debug!(%peer, "connection refused: MAX_CONNECTIONS and the probe headroom are in use");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let app = app.clone();
        let stop = stop_rx.clone();
        connections.spawn(async move {
            serve_connection(stream, peer, app, limits, probes_only, stop).await;
            drop(permit);
        });
    }
    tracing::info!(
        open = connections.len(),
        "shutdown: closing idle connections, finishing requests"
    );
    let _ = stop_tx.send(true);
    while connections.join_next().await.is_some() {}
}

/// Milliseconds since `origin`, for the last-activity clock shared with the service.
fn millis_since(origin: Instant) -> i64 {
    origin.elapsed().as_millis() as i64
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    app: Router,
    limits: Limits,
    probes_only: bool,
    mut stop: watch::Receiver<bool>,
) {
    let origin = Instant::now();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let last_active = Arc::new(AtomicI64::new(0));
    let service = {
        let (in_flight, last_active) = (in_flight.clone(), last_active.clone());
        hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut app = app.clone();
            let (in_flight, last_active) = (in_flight.clone(), last_active.clone());
            in_flight.fetch_add(1, Ordering::SeqCst);
            async move {
                let path = request.uri().path();
                let response = if probes_only && !matches!(path, "/healthz" | "/readyz") {
                    AppError::Overloaded(Duration::from_secs(1)).into_response()
                } else {
                    match tower::Service::call(&mut app, request.map(axum::body::Body::new)).await {
                        Ok(response) => response,
                        Err(never) => match never {},
                    }
                };
                last_active.store(millis_since(origin), Ordering::SeqCst);
                in_flight.fetch_sub(1, Ordering::SeqCst);
                Ok::<_, Infallible>(response)
            }
        })
    };
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(!probes_only);
    builder.http2().timer(TokioTimer::new());
    let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let idle_limit = if probes_only {
        PROBE_IDLE_TIMEOUT
    } else {
        limits.idle_timeout
    };
    let idle_limit_ms = idle_limit.as_millis() as i64;
    let mut tick = tokio::time::interval(Duration::from_millis(500).min(idle_limit / 2));
    let mut closing_since: Option<Instant> = None;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended with an error");
                }
                return;
            }
            _ = stop.changed(), if closing_since.is_none() => {
                connection.as_mut().graceful_shutdown();
                closing_since = Some(Instant::now());
            }
            _ = tick.tick() => {
                let idle = in_flight.load(Ordering::SeqCst) == 0
                    && millis_since(origin) - last_active.load(Ordering::SeqCst) >= idle_limit_ms;
                match closing_since {
                    None if idle => {
                        connection.as_mut().graceful_shutdown();
                        closing_since = Some(Instant::now());
                    }
                    // A client that ignores the close (or is still trickling headers): drop it.
                    Some(since) if idle && since.elapsed() >= CLOSE_GRACE => return,
                    _ => {}
                }
            }
        }
    }
}
