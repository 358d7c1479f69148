//! `kryton-operator`: runs the controller, with /healthz, /readyz and /metrics.
//! `kryton-operator render FILE` prints the objects a `Kryton` manifest turns into (for the chart
//! parity check and for review), without a cluster.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use axum::http::StatusCode;
use axum::routing::get;
use clap::{Parser, Subcommand};
use kryton_operator::controller::{self, Context, HttpVersionProbe, Metrics};
use kryton_operator::{builders, crd::Kryton, values};

#[derive(Parser)]
#[command(name = "kryton-operator", version, about = "Kubernetes operator for Kryton")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address of /metrics.
    #[arg(long, env = "METRICS_ADDR", default_value = "0.0.0.0:8080")]
    metrics_addr: SocketAddr,
    /// Address of /healthz and /readyz.
    #[arg(long, env = "HEALTH_ADDR", default_value = "0.0.0.0:8081")]
    health_addr: SocketAddr,
    /// text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text")]
    log_format: String,
}

#[derive(Subcommand)]
enum Command {
    /// Run the controller (the default).
    Run,
    /// Print, as YAML, the objects the operator would apply for the Kryton in FILE.
    Render {
        file: std::path::PathBuf,
        /// Also print the backup CronJob and a VolumeSnapshot for slot 2026-01-01T00:00:00Z.
        #[arg(long)]
        all: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Some(Command::Render { file, all }) => render(&file, all),
        Some(Command::Run) | None => run(cli).await,
    }
}

fn render(file: &std::path::Path, all: bool) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let mut k: Kryton = serde_yaml::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
    if k.metadata.namespace.is_none() {
        k.metadata.namespace = Some("default".to_string());
    }
    let report = values::read(&k.spec.values)?;
    let s = &report.settings;
    let mut docs = Vec::new();
    if let Some(pvc) = builders::data_pvc(&k, s) {
        docs.push(serde_yaml::to_string(&pvc)?);
    }
    docs.push(serde_yaml::to_string(&builders::service(&k, s))?);
    docs.push(serde_yaml::to_string(&builders::deployment(&k, s))?);
    if all {
        if let Some(cj) = builders::backup_cronjob(&k, s) {
            docs.push(serde_yaml::to_string(&cj)?);
        }
        let slot: k8s_openapi::jiff::Timestamp = "2026-01-01T00:00:00Z".parse()?;
        if let Some(snap) = builders::volume_snapshot(&k, s, &slot) {
            docs.push(serde_yaml::to_string(&snap)?);
        }
    }
    for ignored in &report.ignored {
        eprintln!("not applied by the operator: spec.values.{ignored}");
    }
    print!("---\n{}", docs.join("---\n"));
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,kube=warn"));
    if cli.log_format == "json" {
        tracing_subscriber::fmt().json().with_env_filter(filter).init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    let client = kube::Client::try_default()
        .await
        .context("connecting to the Kubernetes API")?;
    let metrics = Arc::new(Metrics::default());
    let ctx = Arc::new(Context::new(
        client.clone(),
        Arc::new(HttpVersionProbe {
            timeout: Duration::from_secs(3),
        }),
        metrics.clone(),
    ));

    let m = metrics.clone();
    let metrics_app = Router::new().route("/metrics", get(move || async move { m.render() }));
    let r = metrics.clone();
    let health_app = Router::new().route("/healthz", get(|| async { "ok" })).route(
        "/readyz",
        get(move || async move {
            if r.ready.load(Ordering::Relaxed) {
                (StatusCode::OK, "ok")
            } else {
                (StatusCode::SERVICE_UNAVAILABLE, "the Kryton cache is not synced yet")
            }
        }),
    );
    let metrics_listener = tokio::net::TcpListener::bind(cli.metrics_addr)
        .await
        .context("binding the metrics address")?;
    let health_listener = tokio::net::TcpListener::bind(cli.health_addr)
        .await
        .context("binding the health address")?;
    tokio::spawn(async move { axum::serve(metrics_listener, metrics_app).await });
    tokio::spawn(async move { axum::serve(health_listener, health_app).await });

    tracing::info!(metrics = %cli.metrics_addr, health = %cli.health_addr, "kryton-operator starting");
    controller::run(client, ctx).await;
    tracing::info!("kryton-operator stopped");
    Ok(())
}
