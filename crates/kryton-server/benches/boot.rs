//! Boot benchmark: time from process start to the first 200 from `/readyz`, with nothing pending
//! and with the whole migration history pending, on SQLite and PostgreSQL.
//!
//! Figures are reported as medians and as ratios to a baseline measured in the same run: the time
//! to start `kryton version` (process start-up with no database work). Loopback only; every loop is
//! bounded. Run: `cargo bench -p kryton-server --bench boot` (KRYTON_BENCH_RUNS to change the count).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KRYTON: &str = env!("CARGO_BIN_EXE_kryton");
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

fn psql(sql: &str) {
    let ok = Command::new("psql")
        .args([ADMIN_URL, "-q", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success(), "psql failed: {sql}");
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn ready(port: u16) -> bool {
    use std::io::{Read, Write};
    let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && &buf[..12] == b"HTTP/1.1 200")
}

/// Starts `kryton serve` and returns the time until `/readyz` answered 200.
fn boot(data_dir: &std::path::Path, postgres_url: Option<&str>) -> Duration {
    let port = free_port();
    let mut cmd = Command::new(KRYTON);
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATA_DIR", data_dir)
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(url) = postgres_url {
        cmd.env("POSTGRES_URL", url);
    }
    let started = Instant::now();
    let mut child = cmd.spawn().unwrap();
    while !ready(port) {
        assert!(started.elapsed() < Duration::from_secs(60), "no readiness within 60s");
        std::thread::sleep(Duration::from_millis(2));
    }
    let elapsed = started.elapsed();
    child.kill().unwrap();
    child.wait().unwrap();
    elapsed
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let runs: usize = std::env::var("KRYTON_BENCH_RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(9);
    let baseline = median(
        (0..runs)
            .map(|_| {
                let started = Instant::now();
                Command::new(KRYTON)
                    .arg("version")
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                started.elapsed()
            })
            .collect(),
    );
    println!(
        "boot benchmark, {runs} runs each, median; baseline `kryton version` = {:.1} ms",
        ms(baseline)
    );
    println!("{:<38} {:>10} {:>12}", "case", "median ms", "x baseline");

    let report = |name: &str, samples: Vec<Duration>| {
        let m = median(samples);
        println!(
            "{name:<38} {:>10.1} {:>12.1}",
            ms(m),
            m.as_secs_f64() / baseline.as_secs_f64()
        );
    };

    // SQLite, everything pending: a fresh data directory each run.
    report(
        "sqlite, full history pending",
        (0..runs)
            .map(|_| boot(tempfile::tempdir().unwrap().path(), None))
            .collect(),
    );
    let dir = tempfile::tempdir().unwrap();
    boot(dir.path(), None);
    report(
        "sqlite, nothing pending",
        (0..runs).map(|_| boot(dir.path(), None)).collect(),
    );

    let pg_available = Command::new("pg_isready")
        .args(["-q", "-h", "127.0.0.1"])
        .status()
        .is_ok_and(|s| s.success());
    if !pg_available {
        println!("postgres: SKIPPED, no server on 127.0.0.1:5432 (scripts/ensure-postgres.sh starts one)");
        return;
    }
    let mut pending = Vec::new();
    for i in 0..runs {
        let db = format!("kryton_bench_{}_{i}", std::process::id());
        psql(&format!("CREATE DATABASE {db}"));
        let dir = tempfile::tempdir().unwrap();
        pending.push(boot(
            dir.path(),
            Some(&format!("postgres://postgres@127.0.0.1:5432/{db}")),
        ));
        psql(&format!("DROP DATABASE {db} WITH (FORCE)"));
    }
    report("postgres, full history pending", pending);
    let db = format!("kryton_bench_{}", std::process::id());
    psql(&format!("CREATE DATABASE {db}"));
    let url = format!("postgres://postgres@127.0.0.1:5432/{db}");
    let dir = tempfile::tempdir().unwrap();
    boot(dir.path(), Some(&url));
    report(
        "postgres, nothing pending",
        (0..runs).map(|_| boot(dir.path(), Some(&url))).collect(),
    );
    psql(&format!("DROP DATABASE {db} WITH (FORCE)"));
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
