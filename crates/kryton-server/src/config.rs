//! Configuration: every setting is an environment variable and a flag, validated in one pass.
//!
//! Errors name the variable. The PostgreSQL password never leaves this module except inside the
//! connect options; everything that is logged uses [`DatabaseConfig::redacted`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use kryton_migrate::parse_duration;
use url::Url;

/// The raw settings as clap reads them from flags and environment variables.
#[derive(Args, Clone, Debug)]
pub struct Settings {
    /// PostgreSQL URL (postgres://user:pass@host:port/db). Unset: embedded SQLite in DATA_DIR.
    #[arg(long, env = "POSTGRES_URL", global = true, hide_env_values = true)]
    pub postgres_url: Option<String>,
    /// Where Kryton keeps its files (SQLite database, notes, backups).
    #[arg(long, env = "DATA_DIR", global = true, default_value = "./data")]
    pub data_dir: PathBuf,
    /// The users' vaults. Default: $DATA_DIR/notes.
    #[arg(long, env = "NOTES_DIR", global = true)]
    pub notes_dir: Option<PathBuf>,
    /// Where backups go, including the automatic one before a destructive migration. Default: $DATA_DIR/backups.
    #[arg(long, env = "BACKUP_DIR", global = true)]
    pub backup_dir: Option<PathBuf>,
    /// How many automatic pre-migration backups to keep.
    #[arg(long, env = "BACKUP_KEEP", global = true, default_value = "5")]
    pub backup_keep: String,
    /// `on` (default) or `off`: take a backup before a destructive (contract) migration.
    #[arg(long, env = "MIGRATION_BACKUP", global = true, default_value = "on")]
    pub migration_backup: String,
    #[arg(long, env = "HOST", global = true, default_value = "0.0.0.0")]
    pub host: String,
    #[arg(long, env = "PORT", global = true, default_value = "3001")]
    pub port: String,
    /// error, warn, info, debug, trace, or a tracing filter such as `kryton=debug,info`.
    #[arg(long, env = "LOG_LEVEL", global = true, default_value = "info")]
    pub log_level: String,
    /// `text` or `json`.
    #[arg(long, env = "LOG_FORMAT", global = true, default_value = "text")]
    pub log_format: String,
    /// How often long commands (backup, restore, reindex, migrate) log their progress when stderr
    /// is not a terminal (on a terminal they draw a progress bar). At least 100ms.
    #[arg(long, env = "PROGRESS_INTERVAL", global = true, default_value = "10s")]
    pub progress_interval: String,
    /// How long to wait for another process's migration before giving up (exit 13).
    #[arg(long, env = "MIGRATION_LOCK_WAIT", global = true, default_value = "15m")]
    pub migration_lock_wait: String,
    /// PostgreSQL lock_timeout inside each migration; on timeout it is rolled back and retried.
    #[arg(long, env = "MIGRATION_LOCK_TIMEOUT", global = true, default_value = "5s")]
    pub migration_lock_timeout: String,
    /// How long to keep retrying the first database connection before giving up (exit 3).
    #[arg(long, env = "DB_CONNECT_TIMEOUT", global = true, default_value = "30s")]
    pub db_connect_timeout: String,
    /// Maximum connections in the application pool.
    #[arg(long, env = "DB_POOL_MAX", global = true, default_value = "10")]
    pub db_pool_max: String,
    /// Where a fatal boot error is also written (when the file exists), for Kubernetes.
    #[arg(long, env = "TERMINATION_LOG", global = true, default_value = "/dev/termination-log")]
    pub termination_log: PathBuf,
    /// `open`, `invite-only` or `closed`: who may create an account. The first account is always
    /// allowed (it becomes the admin). An admin's change at run time is stored and wins.
    #[arg(long, env = "REGISTRATION_MODE", global = true, default_value = "invite-only")]
    pub registration_mode: String,
    /// The public URL users reach Kryton at; `https://...` makes session cookies `Secure`.
    #[arg(long, env = "APP_URL", global = true)]
    pub app_url: Option<String>,
    /// How long a session lives without being used (sliding expiry).
    #[arg(long, env = "SESSION_TTL", global = true, default_value = "720h")]
    pub session_ttl: String,
    /// Requests per client (IP address) per RATE_LIMIT_WINDOW, per replica.
    #[arg(long, env = "RATE_LIMIT_MAX", global = true, default_value = "1000")]
    pub rate_limit_max: String,
    #[arg(long, env = "RATE_LIMIT_WINDOW", global = true, default_value = "1m")]
    pub rate_limit_window: String,
    /// Sign-in and sign-up attempts per account and per client per AUTH_RATE_LIMIT_WINDOW.
    #[arg(long, env = "AUTH_RATE_LIMIT_MAX", global = true, default_value = "10")]
    pub auth_rate_limit_max: String,
    #[arg(long, env = "AUTH_RATE_LIMIT_WINDOW", global = true, default_value = "15m")]
    pub auth_rate_limit_window: String,
    /// Requests per API key per RATE_LIMIT_WINDOW, per replica.
    #[arg(long, env = "API_KEY_RATE_LIMIT_MAX", global = true, default_value = "600")]
    pub api_key_rate_limit_max: String,
    /// Look-ups of a user by email (`GET /api/users/search`) per user per RATE_LIMIT_WINDOW, per replica.
    #[arg(long, env = "USER_SEARCH_RATE_LIMIT_MAX", global = true, default_value = "30")]
    pub user_search_rate_limit_max: String,
    /// Behind reverse proxies: `false` (the peer is the client), `true` (one proxy), a number of
    /// proxy hops, or a comma-separated list of the proxies' addresses/CIDRs. The client is read
    /// from the RIGHT of X-Forwarded-For, skipping that many (or those) proxies; entries a client
    /// wrote itself, on the left, are never trusted.
    #[arg(long, env = "TRUST_PROXY", global = true, default_value = "false")]
    pub trust_proxy: String,
    /// Password hashes computed at once (each Argon2 run holds about 19 MiB). `auto`: one per CPU.
    #[arg(long, env = "HASH_CONCURRENCY", global = true, default_value = "auto")]
    pub hash_concurrency: String,
    /// How long a sign-in/sign-up waits for a hashing slot before it is answered 503 + Retry-After.
    #[arg(long, env = "HASH_QUEUE_WAIT", global = true, default_value = "5s")]
    pub hash_queue_wait: String,
    /// A client must send a request's headers within this time (also bounds an idle keep-alive
    /// connection's wait for its next request: see IDLE_TIMEOUT).
    #[arg(long, env = "HEADER_READ_TIMEOUT", global = true, default_value = "10s")]
    pub header_read_timeout: String,
    /// A request's body must arrive within this time (408 otherwise).
    #[arg(long, env = "BODY_READ_TIMEOUT", global = true, default_value = "60s")]
    pub body_read_timeout: String,
    /// An open connection with no request in flight is closed after this time.
    #[arg(long, env = "IDLE_TIMEOUT", global = true, default_value = "60s")]
    pub idle_timeout: String,
    /// Open client connections served at once. A few more are kept for the probes: past the limit
    /// a connection is answered only on /healthz and /readyz (others get 503).
    #[arg(long, env = "MAX_CONNECTIONS", global = true, default_value = "4096")]
    pub max_connections: String,
    /// Versions kept per note in its history.
    #[arg(long, env = "HISTORY_LIMIT", global = true, default_value = "50")]
    pub history_limit: String,
    /// How long deleted notes stay in the trash before the background purge removes them.
    #[arg(long, env = "TRASH_RETENTION", global = true, default_value = "720h")]
    pub trash_retention: String,
    /// Largest accepted file upload (`POST /api/files`), in bytes.
    #[arg(long, env = "MAX_UPLOAD_BYTES", global = true, default_value = "26214400")]
    pub max_upload_bytes: String,
    /// `/readyz` reports degraded when the notes volume (or, on SQLite, the data volume) has less
    /// free space than this, in bytes; 0 checks only that it is writable.
    #[arg(long, env = "READY_MIN_FREE_BYTES", global = true, default_value = "67108864")]
    pub ready_min_free_bytes: String,
    /// A new account's vault: `on` writes the sample notes and templates, `off` only a welcome note.
    #[arg(long, env = "SAMPLE_VAULT", global = true, default_value = "on")]
    pub sample_vault: String,
    /// Testing aid: read migrations from this directory instead of the embedded ones.
    #[arg(long, env = "KRYTON_MIGRATIONS_DIR", global = true, hide = true)]
    pub migrations_dir: Option<PathBuf>,
}

/// Who may create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum RegistrationMode {
    Open,
    InviteOnly,
    Closed,
}

impl RegistrationMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(RegistrationMode::Open),
            "invite-only" => Some(RegistrationMode::InviteOnly),
            "closed" => Some(RegistrationMode::Closed),
            _ => None,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            RegistrationMode::Open => "open",
            RegistrationMode::InviteOnly => "invite-only",
            RegistrationMode::Closed => "closed",
        }
    }
}

/// Which X-Forwarded-For entries come from proxies we trust.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TrustProxy {
    /// The TCP peer is the client.
    Off,
    /// This many proxies stand in front of the server (the peer is the nearest one).
    Hops(usize),
    /// The proxies' addresses: skipped from the right, the first other address is the client.
    Addresses(Vec<ipnet::IpNet>),
}

impl TrustProxy {
    fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Some(on) = parse_bool(text) {
            return Some(if on { TrustProxy::Hops(1) } else { TrustProxy::Off });
        }
        if let Ok(hops) = text.parse::<usize>() {
            return Some(if hops == 0 {
                TrustProxy::Off
            } else {
                TrustProxy::Hops(hops)
            });
        }
        text.split(',')
            .map(str::trim)
            .map(|item| {
                item.parse::<ipnet::IpNet>()
                    .ok()
                    .or_else(|| item.parse::<std::net::IpAddr>().ok().map(ipnet::IpNet::from))
            })
            .collect::<Option<Vec<_>>>()
            .filter(|list| !list.is_empty())
            .map(TrustProxy::Addresses)
    }
}

/// A fixed-window limit: at most `max` events per `window`.
#[derive(Clone, Copy, Debug)]
pub struct Limit {
    pub max: u32,
    pub window: Duration,
}

#[derive(Clone, Debug)]
pub enum DatabaseConfig {
    Postgres { url: String, redacted: String },
    Sqlite { path: PathBuf },
}

impl DatabaseConfig {
    /// A description safe for logs: no password.
    pub fn redacted(&self) -> String {
        match self {
            DatabaseConfig::Postgres { redacted, .. } => redacted.clone(),
            DatabaseConfig::Sqlite { path } => format!("sqlite:{}", path.display()),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Text,
    Json,
}

/// Validated configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub database: DatabaseConfig,
    pub data_dir: PathBuf,
    pub notes_dir: PathBuf,
    pub backup_dir: PathBuf,
    pub backup_keep: usize,
    pub migration_backup: bool,
    pub host: String,
    pub port: u16,
    pub log_level: String,
    pub log_format: LogFormat,
    pub progress_interval: Duration,
    pub migration_lock_wait: Duration,
    pub migration_lock_timeout: Duration,
    pub db_connect_timeout: Duration,
    pub db_pool_max: u32,
    pub termination_log: PathBuf,
    pub migrations_dir: Option<PathBuf>,
    pub registration_mode: RegistrationMode,
    pub secure_cookies: bool,
    /// APP_URL's origin (`scheme://host[:port]`), which browser requests must come from.
    pub app_origin: Option<String>,
    pub session_ttl: Duration,
    pub rate_limit: Limit,
    pub auth_rate_limit: Limit,
    pub api_key_rate_limit: Limit,
    pub user_search_rate_limit: Limit,
    pub trust_proxy: TrustProxy,
    pub hash_concurrency: usize,
    pub hash_queue_wait: Duration,
    pub header_read_timeout: Duration,
    pub body_read_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: usize,
    pub history_limit: usize,
    pub trash_retention: Duration,
    pub max_upload_bytes: u64,
    pub ready_min_free_bytes: u64,
    pub sample_vault: bool,
}

/// Every problem found, one per line, each naming its variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {}", .0.join("; "))]
pub struct ConfigError(pub Vec<String>);

impl Settings {
    /// Validates everything at once, so one boot shows every mistake.
    pub fn validate(&self) -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        let mut check = |name: &str, result: Result<(), String>| {
            if let Err(e) = result {
                errors.push(format!("{name}: {e}"));
            }
        };

        let mut database = DatabaseConfig::Sqlite {
            path: self.data_dir.join("kryton.db"),
        };
        if let Some(url) = self.postgres_url.as_deref().filter(|u| !u.trim().is_empty()) {
            match parse_postgres_url(url) {
                Ok((url, redacted)) => database = DatabaseConfig::Postgres { url, redacted },
                Err(e) => check("POSTGRES_URL", Err(e)),
            }
        }
        let mut duration = |name: &str, value: &str| {
            let parsed = parse_duration(value);
            let result = parsed.clone().map(drop);
            check(name, result);
            parsed.unwrap_or_default()
        };
        let migration_lock_wait = duration("MIGRATION_LOCK_WAIT", &self.migration_lock_wait);
        let progress_interval = duration("PROGRESS_INTERVAL", &self.progress_interval);
        let migration_lock_timeout = duration("MIGRATION_LOCK_TIMEOUT", &self.migration_lock_timeout);
        let db_connect_timeout = duration("DB_CONNECT_TIMEOUT", &self.db_connect_timeout);

        let session_ttl = duration("SESSION_TTL", &self.session_ttl);
        let trash_retention = duration("TRASH_RETENTION", &self.trash_retention);
        let rate_limit_window = duration("RATE_LIMIT_WINDOW", &self.rate_limit_window);
        let auth_rate_limit_window = duration("AUTH_RATE_LIMIT_WINDOW", &self.auth_rate_limit_window);
        let hash_queue_wait = duration("HASH_QUEUE_WAIT", &self.hash_queue_wait);
        let header_read_timeout = duration("HEADER_READ_TIMEOUT", &self.header_read_timeout);
        let body_read_timeout = duration("BODY_READ_TIMEOUT", &self.body_read_timeout);
        let idle_timeout = duration("IDLE_TIMEOUT", &self.idle_timeout);
        let mut count = |name: &str, value: &str| match value.trim().parse::<u32>() {
            Ok(n) if n > 0 => n,
            _ => {
                check(name, Err(format!("{value:?} is not a positive whole number")));
                1
            }
        };
        let rate_limit_max = count("RATE_LIMIT_MAX", &self.rate_limit_max);
        let history_limit = count("HISTORY_LIMIT", &self.history_limit) as usize;
        let auth_rate_limit_max = count("AUTH_RATE_LIMIT_MAX", &self.auth_rate_limit_max);
        let api_key_rate_limit_max = count("API_KEY_RATE_LIMIT_MAX", &self.api_key_rate_limit_max);
        let user_search_rate_limit_max = count("USER_SEARCH_RATE_LIMIT_MAX", &self.user_search_rate_limit_max);
        let max_connections = count("MAX_CONNECTIONS", &self.max_connections) as usize;
        let hash_concurrency = match self.hash_concurrency.trim() {
            "auto" => std::thread::available_parallelism().map_or(2, usize::from),
            other => count("HASH_CONCURRENCY", other) as usize,
        };
        let max_upload_bytes = match self.max_upload_bytes.trim().parse::<u64>() {
            Ok(n) if n > 0 => n,
            _ => {
                check(
                    "MAX_UPLOAD_BYTES",
                    Err(format!(
                        "{:?} is not a positive whole number of bytes",
                        self.max_upload_bytes
                    )),
                );
                1
            }
        };
        let ready_min_free_bytes = self.ready_min_free_bytes.trim().parse::<u64>().unwrap_or_else(|_| {
            check(
                "READY_MIN_FREE_BYTES",
                Err(format!(
                    "{:?} is not a whole number of bytes",
                    self.ready_min_free_bytes
                )),
            );
            0
        });
        let registration_mode = RegistrationMode::parse(self.registration_mode.trim()).unwrap_or_else(|| {
            check(
                "REGISTRATION_MODE",
                Err(format!(
                    "{:?} must be open, invite-only or closed",
                    self.registration_mode
                )),
            );
            RegistrationMode::InviteOnly
        });
        for (name, value) in [
            ("HEADER_READ_TIMEOUT", header_read_timeout),
            ("BODY_READ_TIMEOUT", body_read_timeout),
            ("IDLE_TIMEOUT", idle_timeout),
        ] {
            if value.is_zero() {
                check(name, Err("must be longer than 0s".to_owned()));
            }
        }
        let trust_proxy = TrustProxy::parse(&self.trust_proxy).unwrap_or_else(|| {
            check(
                "TRUST_PROXY",
                Err(format!(
                    "{:?} must be true, false, a number of proxy hops or a list of proxy addresses/CIDRs",
                    self.trust_proxy
                )),
            );
            TrustProxy::Off
        });
        let mut secure_cookies = false;
        let mut app_origin = None;
        if let Some(app_url) = self.app_url.as_deref().filter(|u| !u.trim().is_empty()) {
            match Url::parse(app_url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") => {
                    secure_cookies = u.scheme() == "https";
                    app_origin = Some(u.origin().ascii_serialization());
                }
                _ => check("APP_URL", Err(format!("{app_url:?} is not an http(s) URL"))),
            }
        }

        let port = self.port.trim().parse::<u16>();
        check(
            "PORT",
            port.clone()
                .map(drop)
                .map_err(|_| format!("{:?} is not a port number (0-65535)", self.port)),
        );
        let backup_keep = self.backup_keep.trim().parse::<usize>();
        check(
            "BACKUP_KEEP",
            backup_keep
                .clone()
                .map(drop)
                .map_err(|_| format!("{:?} is not a whole number", self.backup_keep)),
        );
        let db_pool_max = self.db_pool_max.trim().parse::<u32>().ok().filter(|n| *n > 0);
        check(
            "DB_POOL_MAX",
            db_pool_max
                .map(drop)
                .ok_or_else(|| format!("{:?} is not a positive whole number", self.db_pool_max)),
        );
        let migration_backup = match self.migration_backup.trim() {
            "on" | "true" | "1" => true,
            "off" | "false" | "0" => false,
            other => {
                check("MIGRATION_BACKUP", Err(format!("{other:?} must be on or off")));
                true
            }
        };
        let sample_vault = parse_bool(&self.sample_vault).unwrap_or_else(|| {
            check(
                "SAMPLE_VAULT",
                Err(format!("{:?} must be on or off", self.sample_vault)),
            );
            true
        });
        let log_format = match self.log_format.trim() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                check("LOG_FORMAT", Err(format!("{other:?} must be text or json")));
                LogFormat::Text
            }
        };
        check(
            "LOG_LEVEL",
            tracing_subscriber::EnvFilter::try_new(&self.log_level)
                .map(drop)
                .map_err(|e| format!("{:?} is not a log level or filter: {e}", self.log_level)),
        );
        check(
            "HOST",
            if self.host.trim().is_empty() {
                Err("must not be empty".to_owned())
            } else {
                Ok(())
            },
        );

        if !errors.is_empty() {
            return Err(ConfigError(errors));
        }
        let notes_dir = self.notes_dir.clone().unwrap_or_else(|| self.data_dir.join("notes"));
        let backup_dir = self.backup_dir.clone().unwrap_or_else(|| self.data_dir.join("backups"));
        Ok(Config {
            database,
            data_dir: self.data_dir.clone(),
            notes_dir,
            backup_dir,
            backup_keep: backup_keep.unwrap_or(5),
            migration_backup,
            host: self.host.trim().to_owned(),
            port: port.unwrap_or(3001),
            log_level: self.log_level.clone(),
            log_format,
            progress_interval,
            migration_lock_wait,
            migration_lock_timeout,
            db_connect_timeout,
            db_pool_max: db_pool_max.unwrap_or(10),
            termination_log: self.termination_log.clone(),
            migrations_dir: self.migrations_dir.clone(),
            registration_mode,
            secure_cookies,
            app_origin,
            session_ttl,
            rate_limit: Limit {
                max: rate_limit_max,
                window: rate_limit_window,
            },
            auth_rate_limit: Limit {
                max: auth_rate_limit_max,
                window: auth_rate_limit_window,
            },
            api_key_rate_limit: Limit {
                max: api_key_rate_limit_max,
                window: rate_limit_window,
            },
            user_search_rate_limit: Limit {
                max: user_search_rate_limit_max,
                window: rate_limit_window,
            },
            trust_proxy,
            hash_concurrency,
            hash_queue_wait,
            header_read_timeout,
            body_read_timeout,
            idle_timeout,
            max_connections,
            history_limit,
            trash_retention,
            max_upload_bytes,
            ready_min_free_bytes,
            sample_vault,
        })
    }
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim() {
        "on" | "true" | "1" | "yes" => Some(true),
        "off" | "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

/// Checks a PostgreSQL URL and returns (the URL to connect with, the URL with every credential
/// masked). The error never quotes the URL. Credential parameters the driver does not understand
/// (`sslpassword`, for encrypted client keys, which it does not support) are dropped from the
/// connect URL: the driver would otherwise log them, value included, as "unrecognized".
fn parse_postgres_url(url: &str) -> Result<(String, String), String> {
    let parsed = Url::parse(url)
        .map_err(|e| format!("not a valid URL ({e}); expected postgres://user:password@host:5432/database"))?;
    if !matches!(parsed.scheme(), "postgres" | "postgresql") {
        return Err(format!(
            "scheme {:?} is not supported; use postgres:// (unset POSTGRES_URL for the embedded SQLite)",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) && !parsed.query_pairs().any(|(k, _)| k == "host") {
        return Err("has no host; expected postgres://user:password@host:5432/database".to_owned());
    }
    let mut connect = parsed.clone();
    if parsed.query().is_some() {
        let kept: Vec<(String, String)> = parsed
            .query_pairs()
            .filter(|(key, _)| key == "password" || !key.to_ascii_lowercase().contains("password"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        connect.query_pairs_mut().clear().extend_pairs(kept);
    }
    Ok((connect.to_string(), redact_postgres_url(&parsed)))
}

/// The URL with every credential masked: the userinfo password and any query parameter that
/// carries one (`password=`, which libpq and sqlx accept, `sslpassword=`, ...).
fn redact_postgres_url(parsed: &Url) -> String {
    let mut redacted = parsed.clone();
    if parsed.password().is_some() {
        let _ = redacted.set_password(Some("***"));
    }
    if parsed.query().is_some() {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(key, value)| {
                let secret = key.to_ascii_lowercase().contains("password");
                (
                    key.into_owned(),
                    if secret { "***".to_owned() } else { value.into_owned() },
                )
            })
            .collect();
        redacted.query_pairs_mut().clear().extend_pairs(pairs);
    }
    redacted.to_string()
}

impl Config {
    /// Creates DATA_DIR and NOTES_DIR when missing and proves they are writable.
    pub fn prepare_directories(&self) -> Result<(), ConfigError> {
        let mut errors = Vec::new();
        let mut dirs = vec![("NOTES_DIR", &self.notes_dir)];
        if matches!(self.database, DatabaseConfig::Sqlite { .. }) {
            dirs.insert(0, ("DATA_DIR", &self.data_dir));
        }
        for (name, dir) in dirs {
            if let Err(e) = ensure_writable_dir(dir) {
                errors.push(format!("{name}: {} is not a writable directory ({e})", dir.display()));
            }
        }
        if let DatabaseConfig::Sqlite { path } = &self.database {
            // A database file from before umask was set, or copied in by hand: it holds password
            // and token hashes, so it is made owner-only too.
            for suffix in ["", "-wal", "-shm"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                make_private(std::path::Path::new(&file), 0o600);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(errors))
        }
    }
}

/// Sets owner-only permissions on an existing file or directory; a failure is only logged (the
/// file may belong to a read-only mount the operator secured otherwise).
fn make_private(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    match std::fs::metadata(path) {
        Ok(meta) if meta.permissions().mode() & 0o077 != 0 => {
            if let Err(error) = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)) {
                tracing::warn!(path = %path.display(), %error, "could not make the file private");
            }
        }
        _ => {}
    }
}

fn ensure_writable_dir(dir: &std::path::Path) -> std::io::Result<()> {
    crate::vault::fs::create_dirs_durable(dir)?;
    let probe = dir.join(format!(".kryton-write-probe-{}", std::process::id()));
    std::fs::write(&probe, b"")?;
    std::fs::remove_file(&probe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        settings: Settings,
    }

    fn settings(args: &[&str]) -> Settings {
        Cli::try_parse_from(std::iter::once("kryton").chain(args.iter().copied()))
            .unwrap()
            .settings
    }

    #[test]
    fn defaults_are_sqlite_in_data() {
        let config = settings(&["--postgres-url", ""]).validate().unwrap();
        assert!(matches!(config.database, DatabaseConfig::Sqlite { .. }));
        assert_eq!(config.port, 3001);
        assert_eq!(config.notes_dir, PathBuf::from("./data/notes"));
        assert_eq!(config.migration_lock_wait, Duration::from_secs(900));
    }

    #[test]
    fn every_bad_value_is_named_at_once_and_the_password_never_shown() {
        let err = settings(&[
            "--postgres-url",
            "mysql://root:hunter2@db/kryton",
            "--port",
            "99999",
            "--log-format",
            "xml",
            "--migration-lock-wait",
            "forever",
        ])
        .validate()
        .unwrap_err()
        .to_string();
        for name in ["POSTGRES_URL", "PORT", "LOG_FORMAT", "MIGRATION_LOCK_WAIT"] {
            assert!(err.contains(name), "{err}");
        }
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn postgres_url_is_redacted() {
        let config = settings(&["--postgres-url", "postgres://kryton:s3cret@db:5432/kryton"])
            .validate()
            .unwrap();
        let redacted = config.database.redacted();
        assert!(!redacted.contains("s3cret"));
        assert!(redacted.contains("***@db:5432/kryton"));
        assert!(settings(&["--postgres-url", "postgres://"]).validate().is_err());
        let config = settings(&[
            "--postgres-url",
            "postgres://kryton@db/kryton?sslmode=prefer&password=qu3ry-s3cret&sslpassword=k3y-s3cret",
        ])
        .validate()
        .unwrap();
        let redacted = config.database.redacted();
        assert!(!redacted.contains("s3cret"), "{redacted}");
        assert!(
            redacted.contains("sslmode=prefer") && redacted.contains("password=***"),
            "{redacted}"
        );
    }
}
