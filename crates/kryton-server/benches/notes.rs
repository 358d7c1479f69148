//! Notes benchmark: the real `kryton` server over HTTP on loopback, on SQLite and PostgreSQL.
//!
//! Per backend: start the server, sign up, then create N notes (1-3 KB, 3 wiki-links, 2-3 tags,
//! generated from a fixed seed) at concurrency 1 (first half) and 16 (second half), read them all
//! back by path, run 200 searches for words known to occur, 200 backlinks queries and 20 graph
//! queries. Each phase reports throughput, p50/p99 latency, errors and the server's RSS; the
//! server's peak RSS (`VmHWM`) closes each table. A baseline in the same run, `GET /healthz` at
//! concurrency 16, lets every p50 be read as a multiple of the server's no-work request cost.
//!
//! Any non-2xx answer or transport error aborts the run loudly; the whole run is bounded to
//! 8 minutes. Loopback only. Run: `cargo bench -p kryton-server --bench notes`
//! (`KRYTON_BENCH_NOTES` for N, `KRYTON_BENCH_BACKENDS=sqlite,postgres` to pick backends,
//! `KRYTON_BENCH_BASELINE=<another kryton binary>` to run it first on each backend, side by side).
//! The workload and how to read the output: docs/benchmarks.md.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

const KRYTON: &str = env!("CARGO_BIN_EXE_kryton");
const ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const SEED: u64 = 0x6b72_7974_6f6e;
/// The whole run, both backends; checked before every request.
const RUN_LIMIT: Duration = Duration::from_secs(8 * 60);
/// One request, body included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const MAX_NOTES: usize = 50_000;

/// The binary under test: this build, or `KRYTON_BENCH_BASELINE` while the baseline runs.
static BINARY: Mutex<Option<String>> = Mutex::new(None);

fn binary() -> String {
    BINARY.lock().unwrap().clone().unwrap_or_else(|| KRYTON.to_owned())
}

/// Server processes and databases to clean up if the watchdog has to end the run.
static CLEANUP: Mutex<Vec<(u32, Option<String>)>> = Mutex::new(Vec::new());

fn psql(sql: &str) -> bool {
    Command::new("psql")
        .args([ADMIN_URL, "-q", "-c", sql])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = s.write_all(b"GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut buf = [0u8; 16];
    matches!(s.read(&mut buf), Ok(n) if n >= 12 && &buf[..12] == b"HTTP/1.1 200")
}

/// A `kryton serve` process with its data directory and, on PostgreSQL, its own database; both
/// are removed on drop (also when the run aborts with a panic).
struct Server {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
    database: Option<String>,
}

impl Server {
    fn start(postgres: bool) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let database = postgres.then(|| format!("kryton_bench_notes_{}", std::process::id()));
        if let Some(db) = &database {
            assert!(
                psql(&format!("CREATE DATABASE {db}")),
                "psql: CREATE DATABASE {db} failed"
            );
        }
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("server.log")).unwrap();
        let mut cmd = Command::new(binary());
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
            .stderr(log);
        if let Some(db) = &database {
            cmd.env("POSTGRES_URL", format!("postgres://postgres@127.0.0.1:5432/{db}"));
        }
        let child = cmd.spawn().unwrap();
        CLEANUP.lock().unwrap().push((child.id(), database.clone()));
        let mut server = Server {
            child,
            port,
            dir,
            database,
        };
        let started = Instant::now();
        while !ready(port) {
            if let Some(status) = server.child.try_wait().unwrap() {
                panic!("kryton exited with {status} before it was ready:\n{}", server.log());
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "kryton not ready within 60s:\n{}",
                server.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A `VmXXX:` figure of the server process from /proc, in KiB.
    fn vm_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(db) = &self.database {
            psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
        }
        CLEANUP.lock().unwrap().retain(|(pid, _)| *pid != self.child.id());
    }
}

/// Ends the run if it outlives `RUN_LIMIT` by a minute (a hang the per-request checks cannot see).
fn watchdog(done: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let limit = RUN_LIMIT + Duration::from_secs(60);
        let started = Instant::now();
        while started.elapsed() < limit {
            if done.load(Ordering::Relaxed) {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        eprintln!("notes benchmark: ABORTED by the watchdog after {limit:?}");
        for (pid, db) in CLEANUP.lock().unwrap().iter() {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            if let Some(db) = db {
                psql(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"));
            }
        }
        std::process::exit(2);
    });
}

// ---------------------------------------------------------------------------------------------
// The corpus: deterministic notes from a seeded RNG.

struct Note {
    path: String,
    content: String,
}

struct Corpus {
    notes: Vec<Note>,
    /// Every word of the vocabulary that occurs in at least one note, with its note count.
    words: BTreeMap<String, usize>,
}

const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ren", "tu", "sa", "vel", "dor", "qui", "zan", "pe", "bri", "nox", "ul", "fa", "gre", "tho",
    "mar", "ix", "len", "ob", "sur", "cal", "dri", "ven", "po", "lis", "tar",
];
const TAGS: &[&str] = &[
    "project",
    "idea",
    "reading",
    "meeting",
    "todo",
    "draft",
    "review",
    "research",
    "personal",
    "work",
    "area/home",
    "area/garden",
    "area/code",
    "area/health",
    "status/open",
    "status/done",
    "topic/rust",
    "topic/sql",
    "topic/web",
    "topic/ops",
    "people",
    "travel",
    "finance",
    "log",
];

fn note_path(i: usize) -> String {
    format!("Bench/d{:02}/note-{i:05}.md", i % 20)
}

fn corpus(n: usize) -> Corpus {
    let mut rng = StdRng::seed_from_u64(SEED);
    let mut vocabulary: Vec<String> = Vec::new();
    while vocabulary.len() < 400 {
        let syllables = rng.random_range(2..=3);
        let word: String = (0..syllables)
            .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
            .collect();
        if !vocabulary.contains(&word) {
            vocabulary.push(word);
        }
    }
    // Skewed word frequencies (a few common words, a long tail), roughly like prose.
    let pick = |rng: &mut StdRng| -> usize {
        let u: f64 = rng.random();
        ((u * u * u) * vocabulary.len() as f64) as usize
    };
    let mut words: BTreeMap<String, usize> = BTreeMap::new();
    let mut notes = Vec::with_capacity(n);
    for i in 0..n {
        let target = rng.random_range(1024..=3000);
        let tag_count = rng.random_range(2..=3);
        let mut tags: Vec<&str> = Vec::new();
        while tags.len() < tag_count {
            let t = TAGS[rng.random_range(0..TAGS.len())];
            if !tags.contains(&t) {
                tags.push(t);
            }
        }
        let mut links = Vec::new();
        while links.len() < 3 && n > 1 {
            let j = rng.random_range(0..n);
            if j != i && !links.contains(&j) {
                links.push(j);
            }
        }
        let title_words = [pick(&mut rng), pick(&mut rng)];
        let mut used: Vec<usize> = title_words.to_vec();
        // Frontmatter tags, plus an inline tag when there is a third one.
        let mut content = format!(
            "---\ntags: [{}]\n---\n# Note {i:05} {} {}\n\n",
            tags[..2].join(", "),
            vocabulary[title_words[0]],
            vocabulary[title_words[1]]
        );
        let mut link_text: Vec<String> = links
            .iter()
            .enumerate()
            .map(|(k, &j)| match k {
                0 => format!("[[note-{j:05}]]"),
                1 => format!("[[note-{j:05}|see {j}]]"),
                _ => format!("[[{}#Details]]", note_path(j).trim_end_matches(".md")),
            })
            .collect();
        if let Some(t) = tags.get(2) {
            link_text.push(format!("#{t}"));
        }
        let mut since_break = 0;
        while content.len() < target {
            if !link_text.is_empty() && rng.random_range(0..40) == 0 {
                content.push_str(&link_text.remove(0));
                content.push(' ');
                continue;
            }
            let w = pick(&mut rng);
            used.push(w);
            content.push_str(&vocabulary[w]);
            since_break += 1;
            if since_break > rng.random_range(40..120) {
                content.push_str(".\n\n");
                if rng.random_range(0..6) == 0 {
                    content.push_str("## Details\n\n");
                }
                since_break = 0;
            } else {
                content.push(' ');
            }
        }
        if !link_text.is_empty() {
            // Whatever was not placed yet goes on a last line (the note may end slightly past 3000 bytes).
            content.push_str("\n\n");
            content.push_str(&link_text.join(" "));
        }
        content.push('\n');
        used.sort_unstable();
        used.dedup();
        for w in used {
            *words.entry(vocabulary[w].clone()).or_default() += 1;
        }
        notes.push(Note {
            path: note_path(i),
            content,
        });
    }
    Corpus { notes, words }
}

// ---------------------------------------------------------------------------------------------
// Load generation.

enum Req {
    Get(String),
    Post(String, Value),
}

struct Phase {
    name: String,
    concurrency: usize,
    latencies: Vec<Duration>,
    elapsed: Duration,
    bytes: u64,
    errors: usize,
    rss_kib: u64,
}

impl Phase {
    fn percentile(&self, p: f64) -> Duration {
        let mut v = self.latencies.clone();
        v.sort_unstable();
        // Nearest rank.
        let rank = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len());
        v[rank - 1]
    }
}

/// Sends every request with `concurrency` in flight, timing each from send to the last body byte.
/// A non-2xx answer or a transport error panics (the run aborts); so does passing the deadline.
async fn run_phase(
    client: &reqwest::Client,
    server: &Server,
    token: &str,
    name: &str,
    concurrency: usize,
    requests: Vec<Req>,
    deadline: Instant,
) -> Phase {
    let requests = Arc::new(requests);
    let next = Arc::new(AtomicUsize::new(0));
    let base = Arc::new(server.url(""));
    let token = Arc::new(token.to_owned());
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, requests, next, base, token) = (
            client.clone(),
            requests.clone(),
            next.clone(),
            base.clone(),
            token.clone(),
        );
        let name = name.to_owned();
        workers.spawn(async move {
            let mut latencies = Vec::new();
            let mut bytes = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = requests.get(i) else { break };
                assert!(
                    Instant::now() < deadline,
                    "notes benchmark ABORTED: over the {RUN_LIMIT:?} limit during {name}"
                );
                let (method, path) = match req {
                    Req::Get(p) => ("GET", p),
                    Req::Post(p, _) => ("POST", p),
                };
                let builder = match req {
                    Req::Get(p) => client.get(format!("{base}{p}")),
                    Req::Post(p, body) => client.post(format!("{base}{p}")).json(body),
                };
                let t = Instant::now();
                let response = builder
                    .bearer_auth(token.as_str())
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("notes benchmark ABORTED: {name}: {method} {path}: {e}"));
                let status = response.status();
                let body = response
                    .bytes()
                    .await
                    .unwrap_or_else(|e| panic!("notes benchmark ABORTED: {name}: {method} {path}: body: {e}"));
                latencies.push(t.elapsed());
                assert!(
                    status.is_success(),
                    "notes benchmark ABORTED: {name}: {method} {path} answered {status}: {}",
                    String::from_utf8_lossy(&body[..body.len().min(500)])
                );
                bytes += body.len() as u64;
            }
            (latencies, bytes)
        });
    }
    let mut latencies = Vec::new();
    let mut bytes = 0;
    while let Some(joined) = workers.join_next().await {
        match joined {
            Ok((l, b)) => {
                latencies.extend(l);
                bytes += b;
            }
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => panic!("notes benchmark ABORTED: worker failed: {e}"),
        }
    }
    let elapsed = started.elapsed();
    assert_eq!(latencies.len(), requests.len(), "every request was answered");
    Phase {
        name: name.to_owned(),
        concurrency,
        latencies,
        elapsed,
        bytes,
        errors: 0,
        rss_kib: server.vm_kib("VmRSS:"),
    }
}

async fn sign_up(client: &reqwest::Client, server: &Server) -> String {
    let response = client
        .post(server.url("/api/auth/sign-up/email"))
        .json(&json!({"email": "bench@example.org", "password": "a long bench password", "name": "Bench"}))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "sign-up: {body}");
    body["session"]["token"].as_str().unwrap().to_owned()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The whole workload against one backend; prints its table.
fn bench_backend(backend: &str, corpus: &Corpus, deadline: Instant) {
    let n = corpus.notes.len();
    let backend_started = Instant::now();
    let server = Server::start(backend == "postgres");
    let boot = backend_started.elapsed();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let phases = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(32)
            .build()
            .unwrap();
        let token = sign_up(&client, &server).await;
        let mut rng = StdRng::seed_from_u64(SEED ^ 1);
        let mut phases = Vec::new();

        let healthz = (0..n).map(|_| Req::Get("/healthz".to_owned())).collect();
        phases.push(run_phase(&client, &server, &token, "healthz (baseline)", 16, healthz, deadline).await);

        let create = |notes: &[Note]| -> Vec<Req> {
            notes
                .iter()
                .map(|note| {
                    Req::Post(
                        "/api/notes".to_owned(),
                        json!({"path": note.path, "content": note.content}),
                    )
                })
                .collect()
        };
        let (first, second) = corpus.notes.split_at(n / 2);
        phases.push(run_phase(&client, &server, &token, "create c1", 1, create(first), deadline).await);
        phases.push(run_phase(&client, &server, &token, "create c16", 16, create(second), deadline).await);

        let mut reads: Vec<Req> = corpus
            .notes
            .iter()
            .map(|note| Req::Get(format!("/api/notes/{}", note.path)))
            .collect();
        reads.shuffle(&mut rng);
        phases.push(run_phase(&client, &server, &token, "read by path", 16, reads, deadline).await);

        let known: Vec<&String> = corpus.words.keys().collect();
        let searches = (0..200)
            .map(|_| {
                let word = known[rng.random_range(0..known.len())];
                Req::Get(format!("/api/search?q={}", urlencode(word)))
            })
            .collect();
        phases.push(run_phase(&client, &server, &token, "search", 16, searches, deadline).await);

        let backlinks = (0..200)
            .map(|_| Req::Get(format!("/api/backlinks/{}", note_path(rng.random_range(0..n)))))
            .collect();
        phases.push(run_phase(&client, &server, &token, "backlinks", 16, backlinks, deadline).await);

        let graph = (0..20).map(|_| Req::Get("/api/graph".to_owned())).collect();
        phases.push(run_phase(&client, &server, &token, "graph", 4, graph, deadline).await);
        phases
    });
    let peak = server.vm_kib("VmHWM:");
    let total = backend_started.elapsed();
    drop(server);

    let baseline = phases[0].percentile(0.5).as_secs_f64();
    println!();
    println!(
        "== {backend}: {n} notes; boot to ready {:.2} s; whole backend {:.1} s",
        boot.as_secs_f64(),
        total.as_secs_f64()
    );
    println!(
        "{:<20} {:>6} {:>5} {:>9} {:>9} {:>9} {:>10} {:>7} {:>9} {:>8}",
        "phase", "reqs", "conc", "req/s", "p50 ms", "p99 ms", "p50 x hz", "errors", "resp KB", "RSS MB"
    );
    for p in &phases {
        let count = p.latencies.len();
        let p50 = p.percentile(0.5);
        println!(
            "{:<20} {:>6} {:>5} {:>9.0} {:>9.2} {:>9.2} {:>10.1} {:>7} {:>9.1} {:>8.1}",
            p.name,
            count,
            p.concurrency,
            count as f64 / p.elapsed.as_secs_f64(),
            ms(p50),
            ms(p.percentile(0.99)),
            p50.as_secs_f64() / baseline,
            p.errors,
            p.bytes as f64 / count.max(1) as f64 / 1024.0,
            p.rss_kib as f64 / 1024.0
        );
    }
    println!("peak RSS (VmHWM) {:.1} MB", peak as f64 / 1024.0);
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    // `cargo bench` passes `--bench` (and maybe a filter); this harness takes no arguments.
    let n: usize = std::env::var("KRYTON_BENCH_NOTES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000)
        .clamp(2, MAX_NOTES);
    let backends = std::env::var("KRYTON_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".to_owned());
    let started = Instant::now();
    let deadline = started + RUN_LIMIT;
    let done = Arc::new(AtomicBool::new(false));
    watchdog(done.clone());

    let corpus = corpus(n);
    let bytes: usize = corpus.notes.iter().map(|n| n.content.len()).sum();
    println!(
        "notes benchmark: {n} notes, {:.0} KB of markdown (mean {:.2} KB), {} distinct words, seed {SEED:#x}",
        bytes as f64 / 1024.0,
        bytes as f64 / n as f64 / 1024.0,
        corpus.words.len()
    );
    println!(
        "phases: healthz c16 x{n}; create c1 x{} + c16 x{}; read c16 x{n}; search c16 x200; backlinks c16 x200; graph c4 x20",
        n / 2,
        n - n / 2
    );

    let baseline = std::env::var("KRYTON_BENCH_BASELINE").ok();
    let runs: Vec<(&str, Option<String>)> = match &baseline {
        Some(path) => vec![("baseline", Some(path.clone())), ("this build", None)],
        None => vec![("this build", None)],
    };
    for backend in backends.split(',').map(str::trim).filter(|b| !b.is_empty()) {
        for (label, bin) in &runs {
            *BINARY.lock().unwrap() = bin.clone();
            println!("\n-- {label}: {}", bin.as_deref().unwrap_or(KRYTON));
            match backend {
                "sqlite" => bench_backend("sqlite", &corpus, deadline),
                "postgres" => {
                    let available = Command::new("pg_isready")
                        .args(["-q", "-h", "127.0.0.1"])
                        .status()
                        .is_ok_and(|s| s.success());
                    if available {
                        bench_backend("postgres", &corpus, deadline);
                    } else {
                        println!(
                            "\n== postgres: SKIPPED, no server on 127.0.0.1:5432 (scripts/ensure-postgres.sh starts one)"
                        );
                    }
                }
                other => panic!("unknown backend {other:?} in KRYTON_BENCH_BACKENDS (sqlite, postgres)"),
            }
        }
    }
    done.store(true, Ordering::Relaxed);
    println!("\ntotal {:.1} s", started.elapsed().as_secs_f64());
}
