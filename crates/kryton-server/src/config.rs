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
    /// Trust the first address of X-Forwarded-For as the client (only behind a reverse proxy).
    #[arg(long, env = "TRUST_PROXY", global = true, default_value = "false")]
    pub trust_proxy: String,
    /// Versions kept per note in its history.
    #[arg(long, env = "HISTORY_LIMIT", global = true, default_value = "50")]
    pub history_limit: String,
    /// How long deleted notes stay in the trash before the background purge removes them.
    #[arg(long, env = "TRASH_RETENTION", global = true, default_value = "720h")]
    pub trash_retention: String,
    /// Testing aid: read migrations from this directory instead of the embedded ones.
    #[arg(long, env = "KRYTON_MIGRATIONS_DIR", global = true, hide = true)]
    pub migrations_dir: Option<PathBuf>,
}

/// Who may create an account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
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
    pub migration_lock_wait: Duration,
    pub migration_lock_timeout: Duration,
    pub db_connect_timeout: Duration,
    pub db_pool_max: u32,
    pub termination_log: PathBuf,
    pub migrations_dir: Option<PathBuf>,
    pub registration_mode: RegistrationMode,
    pub secure_cookies: bool,
    /// The origin of APP_URL (`https://notes.example.org`): browsers on it may call /api/mcp.
    pub app_origin: Option<String>,
    pub session_ttl: Duration,
    pub rate_limit: Limit,
    pub auth_rate_limit: Limit,
    pub api_key_rate_limit: Limit,
    pub trust_proxy: bool,
    pub history_limit: usize,
    pub trash_retention: Duration,
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
                Ok(redacted) => {
                    database = DatabaseConfig::Postgres {
                        url: url.to_owned(),
                        redacted,
                    }
                }
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
        let migration_lock_timeout = duration("MIGRATION_LOCK_TIMEOUT", &self.migration_lock_timeout);
        let db_connect_timeout = duration("DB_CONNECT_TIMEOUT", &self.db_connect_timeout);

        let session_ttl = duration("SESSION_TTL", &self.session_ttl);
        let trash_retention = duration("TRASH_RETENTION", &self.trash_retention);
        let rate_limit_window = duration("RATE_LIMIT_WINDOW", &self.rate_limit_window);
        let auth_rate_limit_window = duration("AUTH_RATE_LIMIT_WINDOW", &self.auth_rate_limit_window);
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
        let trust_proxy = parse_bool(&self.trust_proxy).unwrap_or_else(|| {
            check(
                "TRUST_PROXY",
                Err(format!("{:?} must be true or false", self.trust_proxy)),
            );
            false
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
            trust_proxy,
            history_limit,
            trash_retention,
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

/// Checks a PostgreSQL URL and returns it with the password masked. The error never quotes the URL.
fn parse_postgres_url(url: &str) -> Result<String, String> {
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
    let mut redacted = parsed.clone();
    if parsed.password().is_some() {
        let _ = redacted.set_password(Some("***"));
    }
    Ok(redacted.to_string())
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
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError(errors))
        }
    }
}

fn ensure_writable_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
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
    }
}
