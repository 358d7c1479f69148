//! The `kryton` command line: subcommands over the library.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use kryton_migrate::{MigrateError, Resolution, Status, exit_code};

use crate::boot::{self, BootError, Shutdown};
use crate::config::{Config, LogFormat, Settings};
use crate::version::BuildInfo;
use crate::{db, migrations, telemetry};

#[derive(Parser, Debug)]
#[command(
    name = "kryton",
    version,
    about = "Kryton: a self-hosted markdown knowledge base server"
)]
pub struct Cli {
    #[command(flatten)]
    pub settings: Settings,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Bring the schema forward, then serve HTTP (the default).
    Serve,
    /// Bring the schema forward and exit (the out-of-band path), or inspect it.
    Migrate(MigrateArgs),
    /// Bring the notes index in line with the files in NOTES_DIR (after editing them by hand or
    /// restoring a tarball); reports what it fixed. Runs the migrations first.
    Reindex {
        /// Only this user's vault.
        #[arg(long)]
        user: Option<String>,
    },
    /// The pre-upgrade checklist: run the NEW release's binary against the running server. Exits 0
    /// when the upgrade is safe (or, after it, when this release is live), 1 otherwise.
    UpgradeCheck {
        /// The running server, e.g. https://notes.example.org
        #[arg(long)]
        url: String,
        /// The release you intend to deploy; refuses when this binary is a different one.
        #[arg(long)]
        target_version: Option<String>,
        /// A backup in BACKUP_DIR younger than this counts as recent.
        #[arg(long, default_value = "24h")]
        backup_max_age: String,
        #[arg(long)]
        json: bool,
    },
    /// Serve MCP over stdio for desktop agents, forwarding to a Kryton server's /api/mcp with the
    /// API key in KRYTON_TOKEN (e.g. in Claude Desktop: `"command": "kryton", "args": ["mcp",
    /// "--url", "https://notes.example.org"]`).
    Mcp {
        /// The Kryton server, e.g. https://notes.example.org (or its full /api/mcp URL).
        #[arg(long, env = "KRYTON_URL")]
        url: String,
    },
    /// Write one archive of the database and the notes (safe while the server is serving).
    Backup {
        /// Default: $BACKUP_DIR/kryton-backup-<UTC timestamp>.tar.gz. A URL uploads the archive
        /// instead of keeping it: `s3://bucket/prefix/` (S3 or compatible: S3_ENDPOINT, S3_REGION,
        /// AWS_* credentials or the instance's role), `gs://bucket/prefix/` (GOOGLE_*),
        /// `az://container/prefix/` (AZURE_*), `file:///dir/`. A key not ending in `/` is used as is.
        #[arg(long)]
        out: Option<String>,
        /// With a URL target: keep only the newest N archives under the prefix.
        #[arg(long, env = "BACKUP_RETENTION")]
        retention: Option<usize>,
    },
    /// Verify an archive, then restore it into an empty installation (either backend).
    Restore {
        /// A local archive, or an archive's URL (`s3://`, `gs://`, `az://`, `file://`) to download
        /// it first.
        file: String,
        /// Replace a non-empty target: its tables are emptied, NOTES_DIR is moved aside.
        #[arg(long)]
        force: bool,
    },
    /// Print the version and the commit this binary was built from.
    Version,
    /// Print the OpenAPI document of the HTTP API (what `/api/docs.json` serves). Regenerate the
    /// committed copy with `kryton openapi > crates/kryton-server/openapi.json`.
    Openapi,
    /// Probe a running server's /healthz; exit 0 when it answers 200 (for container health checks).
    Healthcheck {
        /// Default: http://127.0.0.1:$PORT/healthz
        #[arg(long)]
        url: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct MigrateArgs {
    /// Apply a pending migration older than the newest applied one (after reviewing it).
    #[arg(long)]
    pub allow_out_of_order: bool,
    #[command(subcommand)]
    pub action: Option<MigrateAction>,
}

#[derive(Subcommand, Debug)]
pub enum MigrateAction {
    /// Applied, pending and unknown-to-this-binary migrations, with compat classes.
    Status {
        #[arg(long)]
        json: bool,
    },
    /// What `kryton migrate` would do and whether it is safe; writes nothing.
    Plan {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        allow_out_of_order: bool,
    },
    /// Settle an interrupted no-transaction migration.
    Resolve {
        version: i64,
        /// Its statements all took effect: record it as applied.
        #[arg(long, conflicts_with = "rolled_back", required_unless_present = "rolled_back")]
        applied: bool,
        /// Its effects were undone: forget it so the next run applies it again.
        #[arg(long)]
        rolled_back: bool,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Everything Kryton creates (the SQLite database and its journal, vault folders and notes,
    // backups) holds private data: owner-only whatever umask the process was started with. Set
    // before any thread exists, since the mask is process-wide.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("kryton: cannot start the async runtime: {e}");
            return ExitCode::from(exit_code::OTHER as u8);
        }
    };
    let code = runtime.block_on(run(cli));
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}

async fn run(cli: Cli) -> i32 {
    match cli.command {
        Some(Command::Version) => {
            let info = BuildInfo::current();
            println!("kryton {} (commit {})", info.version, info.commit);
            return exit_code::OK;
        }
        Some(Command::Healthcheck { url }) => return healthcheck(url, &cli.settings.port),
        Some(Command::Openapi) => {
            return match crate::http::openapi::document_json() {
                Ok(text) => {
                    print!("{text}");
                    exit_code::OK
                }
                Err(e) => {
                    eprintln!("kryton: cannot write the OpenAPI document: {e}");
                    exit_code::OTHER
                }
            };
        }
        // A client of a server: needs none of the server's configuration, and stdout is the protocol.
        Some(Command::Mcp { url }) => {
            return match crate::mcp::bridge::run(&url, std::env::var("KRYTON_TOKEN").ok()).await {
                Ok(()) => exit_code::OK,
                Err(e) => {
                    eprintln!("kryton mcp: {e}");
                    exit_code::OTHER
                }
            };
        }
        _ => {}
    }
    let config = match cli.settings.validate() {
        Ok(config) => config,
        Err(e) => {
            telemetry::init("info", LogFormat::Text);
            return fatal(&cli.settings.termination_log, &BootError::Config(e));
        }
    };
    telemetry::init(&config.log_level, config.log_format);
    crate::progress::configure(config.progress_interval);
    let result = match cli.command {
        None | Some(Command::Serve) => boot::run(config.clone(), boot::shutdown_signal()).await,
        Some(Command::Migrate(args)) => migrate_command(&config, args).await,
        Some(Command::Reindex { user }) => reindex_command(&config, user).await,
        Some(Command::UpgradeCheck {
            url,
            target_version,
            backup_max_age,
            json,
        }) => match upgrade_check_command(&config, &url, target_version.as_deref(), &backup_max_age, json).await {
            Ok(safe) => return if safe { exit_code::OK } else { exit_code::OTHER },
            Err(e) => Err(e),
        },
        Some(Command::Backup { out, retention }) => {
            crate::backup::command::backup(&config, out, retention).await.map(drop)
        }
        Some(Command::Restore { file, force }) => crate::backup::command::restore(&config, &file, force).await,
        Some(Command::Version | Command::Healthcheck { .. } | Command::Openapi | Command::Mcp { .. }) => Ok(()),
    };
    let code = match result {
        Ok(()) => exit_code::OK,
        Err(e) => fatal(&config.termination_log, &e),
    };
    // Tests stop the process here to read its peak memory (inert without KRYTON_FAULT_POINT).
    crate::backup::fault_point("exit");
    code
}

/// One clear line, in the log and (on Kubernetes) in the container's termination message.
fn fatal(termination_log: &std::path::Path, error: &BootError) -> i32 {
    let code = error.exit_code();
    tracing::error!(exit_code = code, "{error}");
    if termination_log.exists() {
        let _ = std::fs::write(termination_log, format!("{error}\n"));
    }
    code
}

/// Prints the checklist; `Ok(true)` when the upgrade is safe or already live.
async fn upgrade_check_command(
    config: &Config,
    url: &str,
    target_version: Option<&str>,
    backup_max_age: &str,
    json: bool,
) -> Result<bool, BootError> {
    let max_age = kryton_migrate::parse_duration(backup_max_age)
        .map_err(|e| BootError::Config(crate::config::ConfigError(vec![format!("--backup-max-age: {e}")])))?;
    let set = migrations::for_config(config).map_err(MigrateError::from)?;
    let check = crate::upgrade_check::run(url, target_version, &set, &config.backup_dir, max_age).await;
    if json {
        println!("{}", serde_json::to_string_pretty(&check).unwrap_or_default());
    } else {
        check.print();
    }
    Ok(check.safe)
}

async fn reindex_command(config: &Config, user: Option<String>) -> Result<(), BootError> {
    let mut shutdown: Shutdown = boot::shutdown_signal();
    crate::backup::pending::refuse_if_pending(config).map_err(BootError::Other)?;
    if let Some(id) = &user
        && !crate::store::is_valid_id(id)
    {
        return Err(BootError::Other(format!(
            "--user {id:?} is not a user id (32 lower-case hex digits)"
        )));
    }
    config.prepare_directories()?;
    boot::migrate(config, false, &mut shutdown).await?;
    let db = crate::db::Database::open(config)
        .await
        .map_err(|e| BootError::Other(e.to_string()))?;
    let progress = crate::progress::Progress::start("reindex", crate::progress::Unit::Notes, 0);
    let report = match &user {
        Some(id) => crate::notes::reconcile_with(&db, config, id, &progress).await,
        None => crate::notes::reconcile_all_with(&db, config, &progress).await,
    };
    progress.finish();
    db.close().await;
    let report = report.map_err(|e| BootError::Other(format!("reindex failed: {e}")))?;
    println!("{}", serde_json::to_string(&report).unwrap_or_default());
    Ok(())
}

async fn migrate_command(config: &Config, args: MigrateArgs) -> Result<(), BootError> {
    let mut shutdown: Shutdown = boot::shutdown_signal();
    match args.action {
        None => {
            crate::backup::pending::refuse_if_pending(config).map_err(BootError::Other)?;
            crate::backup::sweep_partials(config);
            config.prepare_directories()?;
            boot::migrate(config, args.allow_out_of_order, &mut shutdown)
                .await
                .map(drop)
        }
        Some(MigrateAction::Status { json }) => {
            let set = migrations::for_config(config).map_err(MigrateError::from)?;
            let status = match db::connect_read_only(config).await? {
                Some(mut conn) => {
                    let status = kryton_migrate::status(&mut conn, &set).await;
                    conn.close().await;
                    status?
                }
                None => kryton_migrate::status_of(&set, &[]),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&status).unwrap_or_default());
            } else {
                print_status(&status);
            }
            Ok(())
        }
        Some(MigrateAction::Plan {
            json,
            allow_out_of_order,
        }) => {
            let set = migrations::for_config(config).map_err(MigrateError::from)?;
            let allow_out_of_order = allow_out_of_order || args.allow_out_of_order;
            let plan = match db::connect_read_only(config).await? {
                Some(mut conn) => {
                    let plan = kryton_migrate::plan(&mut conn, &set, allow_out_of_order).await;
                    conn.close().await;
                    plan?
                }
                None => kryton_migrate::plan_of(&set, &[], allow_out_of_order),
            };
            if json {
                println!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
            } else {
                print_status(&plan.status);
                println!("plan: {}", plan.summary);
            }
            if plan.exit_code == exit_code::OK {
                Ok(())
            } else {
                std::process::exit(plan.exit_code)
            }
        }
        Some(MigrateAction::Resolve {
            version,
            applied,
            rolled_back: _,
        }) => {
            let set = migrations::for_config(config).map_err(MigrateError::from)?;
            let conn = db::connect_for_migration(config).await?;
            let resolution = if applied {
                Resolution::Applied
            } else {
                Resolution::RolledBack
            };
            let options = migrations::options(config, false);
            kryton_migrate::resolve(conn, &set, version, resolution, &options).await?;
            println!(
                "migration {version:04} resolved as {}",
                if applied { "applied" } else { "rolled back" }
            );
            Ok(())
        }
    }
}

fn print_status(status: &Status) {
    println!(
        "backend {}: database at {:04}, this binary carries up to {:04}",
        status.backend.as_str(),
        status.database_version,
        status.binary_head
    );
    for m in &status.migrations {
        let checksum = match m.checksum_matches {
            Some(false) => "  CHECKSUM MISMATCH",
            _ => "",
        };
        println!(
            "  {:04}  {:<32} {:<8} {:<8} {}{}",
            m.version,
            m.slug,
            m.compat.as_str(),
            m.state,
            m.applied_at.as_deref().unwrap_or(""),
            checksum
        );
    }
}

/// A dependency-free HTTP probe, so images need no curl.
fn healthcheck(url: Option<String>, port: &str) -> i32 {
    let url = url.unwrap_or_else(|| format!("http://127.0.0.1:{}/healthz", port.trim()));
    let parsed = match url::Url::parse(&url) {
        Ok(u) if u.scheme() == "http" => u,
        _ => {
            eprintln!("kryton healthcheck: {url} is not an http:// URL");
            return exit_code::CONFIG;
        }
    };
    let host = parsed.host_str().unwrap_or("127.0.0.1").to_owned();
    let port = parsed.port_or_known_default().unwrap_or(80);
    let probe = || -> std::io::Result<String> {
        let addr = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))?
            .next()
            .ok_or_else(|| std::io::Error::other("no address"))?;
        let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(3))?;
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        write!(
            stream,
            "GET {} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n",
            parsed.path()
        )?;
        let mut response = String::new();
        stream.take(4096).read_to_string(&mut response)?;
        Ok(response)
    };
    match probe() {
        Ok(response) if response.starts_with("HTTP/1.1 200") => exit_code::OK,
        Ok(response) => {
            eprintln!(
                "kryton healthcheck: {url} answered {}",
                response.lines().next().unwrap_or("")
            );
            exit_code::OTHER
        }
        Err(e) => {
            eprintln!("kryton healthcheck: {url}: {e}");
            exit_code::OTHER
        }
    }
}
