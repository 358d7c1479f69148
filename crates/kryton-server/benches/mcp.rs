//! MCP overhead benchmark: 16 concurrent agents calling `search` and `read_note` over MCP
//! (`POST /api/mcp`, JSON-RPC `tools/call`, as the SDK clients send it) against the same calls over
//! REST (`GET /api/search`, `GET /api/notes/{path}`), in the same run, on the real `kryton` server.
//!
//! Per backend: start the server (release build), sign up, create a read-write API key and 300
//! notes, then run REST, MCP, REST, MCP rounds of 16 workers (alternating so drift in the shared
//! machine hits both sides alike). Every request uses the API key. Reports throughput, p50 and p99
//! for each side and MCP/REST as ratios. Any non-2xx or tool error aborts the run.
//!
//! Run: `cargo bench -p kryton-server --bench mcp` (`KRYTON_BENCH_BACKENDS=sqlite,postgres`,
//! `KRYTON_BENCH_MCP_SECONDS` per round, default 5). Loopback only; bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const KRYTON: &str = env!("CARGO_BIN_EXE_kryton");
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const AGENTS: usize = 16;
const NOTES: usize = 300;
const WORDS: [&str; 8] = [
    "rocket", "garden", "harbor", "violin", "glacier", "lantern", "meadow", "copper",
];

fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args([ADMIN_URL, "-q", "-c", sql])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

struct Server {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
    database: Option<String>,
}

impl Server {
    fn start(postgres: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database = postgres.then(|| format!("kryton_bench_mcp_{}", std::process::id()));
        if let Some(db) = &database {
            assert!(psql(&format!("CREATE DATABASE {db}")), "CREATE DATABASE {db} failed");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut cmd = Command::new(KRYTON);
        cmd.arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", dir.path().join("data"))
            .env("HOST", "127.0.0.1")
            .env("PORT", port.to_string())
            .env("LOG_LEVEL", "warn")
            .env("REGISTRATION_MODE", "open")
            .env("RATE_LIMIT_MAX", "100000000")
            .env("API_KEY_RATE_LIMIT_MAX", "100000000")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(db) = &database {
            cmd.env("POSTGRES_URL", format!("postgres://postgres@127.0.0.1:5432/{db}"));
        }
        let child = cmd.spawn().unwrap();
        Server {
            child,
            port,
            _dir: dir,
            database,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(db) = &self.database {
            psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Face {
    Rest,
    Mcp,
}

struct Round {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn call(client: &reqwest::Client, server: &Server, key: &str, face: Face, i: usize) {
    let word = WORDS[i % WORDS.len()];
    let path = format!("Bench/Note {:03}.md", i % NOTES);
    let response = match (face, i % 2) {
        (Face::Rest, 0) => {
            client
                .get(server.url("/api/search"))
                .query(&[("q", word)])
                .bearer_auth(key)
                .send()
                .await
        }
        (Face::Rest, _) => {
            client
                .get(server.url(&format!("/api/notes/{}", path.replace(' ', "%20"))))
                .bearer_auth(key)
                .send()
                .await
        }
        (Face::Mcp, n) => {
            let (tool, args) = if n == 0 {
                ("search", json!({"query": word}))
            } else {
                ("read_note", json!({"path": path}))
            };
            client
                .post(server.url("/api/mcp"))
                .bearer_auth(key)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-06-18")
                .json(&json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                              "params": {"name": tool, "arguments": args}}))
                .send()
                .await
        }
    }
    .expect("request failed");
    let status = response.status();
    let body: Value = response.json().await.expect("not JSON");
    assert!(status.is_success(), "{status}: {body}");
    if face == Face::Mcp {
        assert!(
            body["result"]["structuredContent"].is_object() && body["result"]["isError"] != true,
            "MCP call failed: {body}"
        );
    }
}

async fn round(server: Arc<Server>, key: Arc<String>, face: Face, seconds: u64) -> Round {
    let started = Instant::now();
    let deadline = started + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for agent in 0..AGENTS {
        let (server, key) = (server.clone(), key.clone());
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap();
            let mut latencies = Vec::new();
            let mut i = agent * 7919;
            while Instant::now() < deadline {
                let t = Instant::now();
                call(&client, &server, &key, face, i).await;
                latencies.push(t.elapsed());
                i += 1;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await.unwrap());
    }
    Round {
        requests: latencies.len(),
        elapsed: started.elapsed(),
        latencies,
    }
}

async fn bench(postgres: bool, seconds: u64) {
    let server = Server::start(postgres);
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client
        .get(server.url("/readyz"))
        .send()
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        assert!(started.elapsed() < Duration::from_secs(60), "kryton not ready in 60s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let signed: Value = client
        .post(server.url("/api/auth/sign-up/email"))
        .json(&json!({"email": "bench@example.org", "password": "bench password", "name": "bench"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let session = signed["session"]["token"].as_str().unwrap().to_owned();
    let created: Value = client
        .post(server.url("/api/api-keys"))
        .bearer_auth(&session)
        .json(&json!({"name": "bench", "scope": "read-write"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    for i in 0..NOTES {
        let body: String = (0..40)
            .map(|j| format!("{} ", WORDS[(i * 3 + j) % WORDS.len()]))
            .collect();
        let content = format!("# Note {i:03}\n\n{body}\n\nSee [[Note {:03}]].\n", (i + 1) % NOTES);
        let status = client
            .post(server.url("/api/notes"))
            .bearer_auth(&session)
            .json(&json!({"path": format!("Bench/Note {i:03}.md"), "content": content}))
            .send()
            .await
            .unwrap()
            .status();
        assert!(status.is_success(), "creating note {i}: {status}");
    }
    let (server, key) = (Arc::new(server), Arc::new(key));
    // Warm-up, not counted.
    round(server.clone(), key.clone(), Face::Rest, 1).await;
    round(server.clone(), key.clone(), Face::Mcp, 1).await;
    let mut rest = Vec::new();
    let mut mcp = Vec::new();
    for _ in 0..2 {
        rest.push(round(server.clone(), key.clone(), Face::Rest, seconds).await);
        mcp.push(round(server.clone(), key.clone(), Face::Mcp, seconds).await);
    }
    let summarise = |rounds: &[Round]| {
        let requests: usize = rounds.iter().map(|r| r.requests).sum();
        let elapsed: f64 = rounds.iter().map(|r| r.elapsed.as_secs_f64()).sum();
        let mut all: Vec<Duration> = rounds.iter().flat_map(|r| r.latencies.iter().copied()).collect();
        all.sort();
        (
            requests as f64 / elapsed,
            percentile(&all, 0.50),
            percentile(&all, 0.99),
            requests,
        )
    };
    let (rest_rps, rest_p50, rest_p99, rest_n) = summarise(&rest);
    let (mcp_rps, mcp_p50, mcp_p99, mcp_n) = summarise(&mcp);
    let backend = if postgres { "postgres" } else { "sqlite" };
    println!("\n== {backend}: {AGENTS} agents, search + read_note alternating, {NOTES} notes ==");
    println!(
        "{:<6} {:>10} {:>10} {:>10} {:>10}",
        "face", "requests", "req/s", "p50 ms", "p99 ms"
    );
    for (face, rps, p50, p99, n) in [
        ("REST", rest_rps, rest_p50, rest_p99, rest_n),
        ("MCP", mcp_rps, mcp_p50, mcp_p99, mcp_n),
    ] {
        println!(
            "{face:<6} {n:>10} {rps:>10.0} {:>10.2} {:>10.2}",
            p50.as_secs_f64() * 1000.0,
            p99.as_secs_f64() * 1000.0
        );
    }
    println!(
        "MCP/REST: throughput x{:.2}, p50 x{:.2}, p99 x{:.2}",
        mcp_rps / rest_rps,
        mcp_p50.as_secs_f64() / rest_p50.as_secs_f64(),
        mcp_p99.as_secs_f64() / rest_p99.as_secs_f64()
    );
}

fn main() {
    let backends = std::env::var("KRYTON_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let seconds: u64 = std::env::var("KRYTON_BENCH_MCP_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
        .clamp(1, 60);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for backend in backends.split(',').map(str::trim) {
        match backend {
            "sqlite" => runtime.block_on(bench(false, seconds)),
            "postgres" if psql("SELECT 1") => runtime.block_on(bench(true, seconds)),
            "postgres" => println!("\n== postgres: NOT RUN (no PostgreSQL at {ADMIN_URL}) =="),
            other => panic!("unknown backend {other}"),
        }
    }
}
