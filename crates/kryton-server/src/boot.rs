//! The boot sequence of `kryton serve`: validate, connect, migrate, open the pool, listen, serve.
//!
//! Nothing listens until the schema is current: a load balancer never sees a half-migrated server.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use kryton_migrate::{MigrateError, Report, exit_code};
use tokio::net::TcpListener;

use crate::auth::password::Hashing;
use crate::auth::rate_limit::Limits;
use crate::config::{Config, ConfigError};
use crate::db::{self, Database, Unreachable};
use crate::http::{self, AppState};
use crate::listener;
use crate::migrations;
use crate::notes;
use crate::version::BuildInfo;

/// A shutdown request (SIGTERM/SIGINT in production, anything in tests).
pub type Shutdown = Pin<Box<dyn Future<Output = ()> + Send>>;

#[derive(Debug, thiserror::Error)]
pub enum BootError {
    #[error("{0}; fix the variable(s) named and restart")]
    Config(#[from] ConfigError),
    #[error("{0}; check POSTGRES_URL and that the database server is up, or raise DB_CONNECT_TIMEOUT")]
    Unreachable(#[from] Unreachable),
    #[error("{0}")]
    Migrate(#[from] MigrateError),
    #[error("interrupted by a shutdown signal while migrating; the running migration was rolled back")]
    Interrupted,
    #[error("cannot listen on {addr}: {source}; another process may be using the port (set PORT or HOST)")]
    Bind { addr: String, source: std::io::Error },
    #[error("{0}")]
    Other(String),
}

impl BootError {
    pub fn exit_code(&self) -> i32 {
        match self {
            BootError::Config(_) => exit_code::CONFIG,
            BootError::Unreachable(_) => exit_code::DATABASE_UNREACHABLE,
            BootError::Migrate(e) => e.exit_code(),
            BootError::Interrupted => exit_code::INTERRUPTED,
            BootError::Bind { .. } | BootError::Other(_) => exit_code::OTHER,
        }
    }
}

/// Runs the migration algorithm on a dedicated connection; a shutdown signal cancels it, which
/// drops the connection and so rolls back the running migration.
pub async fn migrate(config: &Config, allow_out_of_order: bool, shutdown: &mut Shutdown) -> Result<Report, BootError> {
    let set = migrations::for_config(config).map_err(MigrateError::from)?;
    tracing::info!(database = %config.database.redacted(), binary_head = set.head(), "connecting to the database");
    let conn = tokio::select! {
        conn = db::connect_for_migration(config) => conn?,
        () = &mut *shutdown => return Err(BootError::Interrupted),
    };
    let options = migrations::options(config, allow_out_of_order);
    let report = tokio::select! {
        report = kryton_migrate::migrate(conn, &set, &options) => report?,
        () = &mut *shutdown => return Err(BootError::Interrupted),
    };
    if report.applied.is_empty() && !report.compatibility_mode {
        tracing::info!(version = set.head(), "schema is up to date");
    } else if !report.applied.is_empty() {
        tracing::info!(count = report.applied.len(), version = set.head(), "schema migrated");
    }
    Ok(report)
}

/// Everything up to (not including) listening.
pub async fn prepare(config: Config, shutdown: &mut Shutdown) -> Result<AppState, BootError> {
    // Never serve a half-restored database and NOTES_DIR.
    crate::backup::pending::refuse_if_pending(&config).map_err(BootError::Other)?;
    crate::backup::sweep_partials(&config);
    config.prepare_directories()?;
    migrate(&config, false, shutdown).await?;
    let db = Database::open(&config).await.map_err(|e| {
        BootError::Unreachable(Unreachable {
            target: config.database.redacted(),
            waited: 0,
            last_error: e.to_string(),
        })
    })?;
    // Finish what a crash interrupted (journaled vault operations, temp files) before anything
    // reads the vault, then reconcile the index with the repaired files.
    notes::recover_all(&db, &config)
        .await
        .map_err(|e| BootError::Other(format!("repairing NOTES_DIR after a crash failed: {e}")))?;
    // The files are the truth: bring the index in line with anything changed while we were down.
    let report = notes::reconcile_all(&db, &config)
        .await
        .map_err(|e| BootError::Other(format!("reconciling the notes index with NOTES_DIR failed: {e}")))?;
    if report.changed() > 0 {
        tracing::info!(
            added = report.added,
            updated = report.updated,
            removed = report.removed,
            "notes index reconciled with the disk"
        );
    }
    let limits = Arc::new(Limits::from_config(&config));
    let hashing = Arc::new(Hashing::new(config.hash_concurrency, config.hash_queue_wait));
    Ok(AppState {
        db,
        hashing,
        build: Arc::new(BuildInfo::current()),
        config: Arc::new(config),
        limits,
    })
}

/// Migrates, then serves on a listener the caller bound (tests pass `127.0.0.1:0`).
pub async fn serve(config: Config, listener: TcpListener, mut shutdown: Shutdown) -> Result<(), BootError> {
    let state = prepare(config, &mut shutdown).await?;
    serve_prepared(state, listener, shutdown).await
}

/// Migrates, then binds `HOST:PORT` and serves: the port is closed until the schema is current.
pub async fn run(config: Config, mut shutdown: Shutdown) -> Result<(), BootError> {
    let addr = format!("{}:{}", config.host, config.port);
    let state = prepare(config, &mut shutdown).await?;
    let listener = match TcpListener::bind(&addr).await {
        Ok(listener) => listener,
        Err(source) => {
            state.db.close().await;
            return Err(BootError::Bind { addr, source });
        }
    };
    serve_prepared(state, listener, shutdown).await
}

async fn serve_prepared(state: AppState, listener: TcpListener, shutdown: Shutdown) -> Result<(), BootError> {
    let addr: Option<SocketAddr> = listener.local_addr().ok();
    if let Some(addr) = addr {
        tracing::info!(%addr, url = %format!("http://{addr}"), "listening");
    }
    let db = state.db.clone();
    let maintenance = tokio::spawn(maintenance(state.db.clone(), state.config.clone()));
    let resync = tokio::spawn(notes::resync::run(state.db.clone()));
    let limits = listener::Limits::from_config(&state.config);
    let body_timeout = tower_http::timeout::RequestBodyTimeoutLayer::new(state.config.body_read_timeout);
    let app = http::router(state).layer(body_timeout);
    listener::serve(listener, app, limits, shutdown).await;
    tracing::info!("stopped accepting requests; closing the database pool");
    maintenance.abort();
    resync.abort();
    db.close().await;
    Ok(())
}

/// Hourly housekeeping: trash entries past TRASH_RETENTION, expired sessions and pending sign-ins.
async fn maintenance(db: Database, config: Arc<Config>) {
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tick.tick().await;
        match notes::purge_trash(&db, &config).await {
            Ok(0) => {}
            Ok(purged) => tracing::info!(purged, "old trash entries deleted"),
            Err(error) => tracing::warn!(%error, "trash purge failed"),
        }
        if let Err(error) = crate::store::sessions::purge_expired(&db).await {
            tracing::warn!(%error, "expired session purge failed");
        }
        if let Err(error) = crate::store::two_factor::purge_expired(&db).await {
            tracing::warn!(%error, "expired two-factor challenge purge failed");
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
pub fn shutdown_signal() -> Shutdown {
    Box::pin(async {
        let ctrl_c = async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
        };
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            () = ctrl_c => tracing::info!("SIGINT received; shutting down"),
            () = terminate => tracing::info!("SIGTERM received; shutting down"),
        }
    })
}
