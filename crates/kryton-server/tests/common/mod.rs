//! Test harness: a throwaway database per test (PostgreSQL or SQLite) and the real `kryton`
//! binary started as an OS process.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod relay;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use sqlx::{PgPool, SqlitePool};
use tempfile::TempDir;
use tokio::process::{Child, Command};

pub mod stores;

pub const KRYTON: &str = env!("CARGO_BIN_EXE_kryton");

/// The server every test database is created on. CI starts it; a missing server fails loudly.
pub fn admin_url() -> String {
    std::env::var("KRYTON_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

/// Generates one test per backend from an `async fn(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::common::Backend::Postgres).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::common::Backend::Sqlite).await
            }
        }
    };
}

pub struct TestEnv {
    pub backend: Backend,
    pub dir: TempDir,
    pub pg_database: Option<String>,
    pub port: u16,
    extra_env: Vec<(String, String)>,
}

/// The migration files the binary embeds, in order, as (file name, text).
pub fn shipped_migrations(backend: Backend) -> Vec<(String, String)> {
    let dialect = if backend == Backend::Postgres {
        "postgres"
    } else {
        "sqlite"
    };
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .map(|p| {
            (
                p.file_name().unwrap().to_string_lossy().into_owned(),
                std::fs::read_to_string(&p).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

/// The version numbers of the shipped migrations, in order (`0008_x.sql` is 8).
pub fn shipped_versions(backend: Backend) -> Vec<i64> {
    shipped_migrations(backend)
        .iter()
        .map(|(name, _)| migration_version(name))
        .collect()
}

/// The version a migration file name carries (`0008_create_shares.sql` -> 8).
pub fn migration_version(name: &str) -> i64 {
    name.split('_')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not a migration file name: {name}"))
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..12).map(|_| char::from(b'a' + rng.random_range(0..26u8))).collect()
}

impl TestEnv {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let pg_database = match backend {
            Backend::Postgres => {
                let name = format!("kryton_test_{}", random_suffix());
                let admin = PgPool::connect(&admin_url()).await.unwrap_or_else(|e| {
                    panic!(
                        "PostgreSQL is required for these tests and is not reachable at {}: {e}",
                        admin_url()
                    )
                });
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&admin)
                    .await
                    .unwrap();
                admin.close().await;
                Some(name)
            }
            Backend::Sqlite => None,
        };
        TestEnv {
            backend,
            dir,
            pg_database,
            port: free_port(),
            extra_env: Vec::new(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn sqlite_path(&self) -> PathBuf {
        self.data_dir().join("kryton.db")
    }

    /// The URL the server is given (a password is included to prove it never leaks: trust auth ignores it).
    pub fn postgres_url(&self) -> Option<String> {
        self.pg_database
            .as_ref()
            .map(|db| format!("postgres://postgres:Sup3rSecretPw@127.0.0.1:5432/{db}"))
    }

    pub fn set_env(&mut self, key: &str, value: &str) {
        self.extra_env.retain(|(k, _)| k != key);
        self.extra_env.push((key.to_owned(), value.to_owned()));
    }

    pub fn unset_env(&mut self, key: &str) {
        self.extra_env.retain(|(k, _)| k != key);
    }

    pub fn migrations_dir(&self) -> PathBuf {
        self.dir.path().join("migrations")
    }

    /// Adds a migration file and points the server at the directory.
    pub fn write_migration(&mut self, name: &str, sql: &str) {
        std::fs::create_dir_all(self.migrations_dir()).unwrap();
        std::fs::write(self.migrations_dir().join(name), sql).unwrap();
        let dir = self.migrations_dir().display().to_string();
        self.set_env("KRYTON_MIGRATIONS_DIR", &dir);
    }

    /// Copies the migrations the binary ships, so that a server on a custom migration directory
    /// still has its own schema; returns the highest version among them (test migrations number
    /// after it; branches allocate numbers ahead, so the shipped versions may have gaps).
    pub fn write_shipped_migrations(&mut self) -> usize {
        let files = shipped_migrations(self.backend);
        for (name, text) in &files {
            self.write_migration(name, text);
        }
        shipped_versions(self.backend).last().copied().unwrap_or(0) as usize
    }

    pub fn remove_migration(&self, name: &str) {
        std::fs::remove_file(self.migrations_dir().join(name)).unwrap();
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(KRYTON);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATA_DIR", self.data_dir())
            .env("HOST", "127.0.0.1")
            .env("PORT", self.port.to_string())
            .env("LOG_LEVEL", "info")
            .env("DB_CONNECT_TIMEOUT", "10s")
            .env("TERMINATION_LOG", self.dir.path().join("termination-log"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(url) = self.postgres_url() {
            cmd.env("POSTGRES_URL", url);
        }
        for (k, v) in &self.extra_env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs `kryton ARGS` to completion (at most two minutes).
    pub async fn run(&self, args: &[&str]) -> Run {
        let child = self.command(args).spawn().unwrap();
        let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("kryton did not finish within 2 minutes")
            .unwrap();
        Run(output)
    }

    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args).spawn().unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// Waits until `/readyz` answers 200, failing if the process exits first.
    pub async fn wait_ready(&self, child: &mut Child, timeout: Duration) {
        let started = Instant::now();
        let client = reqwest::Client::new();
        loop {
            if let Some(status) = child.try_wait().unwrap() {
                let mut stderr = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = e.read_to_string(&mut stderr).await;
                }
                panic!("kryton exited with {status} before it was ready:\n{stderr}");
            }
            if let Ok(r) = client.get(self.url("/readyz")).send().await
                && r.status() == 200
            {
                return;
            }
            assert!(started.elapsed() < timeout, "kryton not ready within {timeout:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn port_is_open(&self) -> bool {
        std::net::TcpStream::connect_timeout(&([127, 0, 0, 1], self.port).into(), Duration::from_millis(200)).is_ok()
    }

    pub async fn db(&self) -> Db {
        match self.backend {
            Backend::Postgres => Db::Pg(PgPool::connect(&self.postgres_url().unwrap()).await.unwrap()),
            Backend::Sqlite => Db::Lite(
                SqlitePool::connect_with(
                    sqlx::sqlite::SqliteConnectOptions::new()
                        .filename(self.sqlite_path())
                        .create_if_missing(true),
                )
                .await
                .unwrap(),
            ),
        }
    }

    /// (version, checksum, applied_at) of every ledger row.
    pub async fn ledger(&self) -> Vec<(i64, String, String)> {
        let db = self.db().await;
        let rows = match &db {
            Db::Pg(p) => sqlx::query_as(
                "SELECT version, checksum, applied_at::text FROM kryton.schema_migrations ORDER BY version",
            )
            .fetch_all(p)
            .await
            .unwrap_or_default(),
            Db::Lite(p) => {
                sqlx::query_as("SELECT version, checksum, applied_at FROM _kryton_schema_migrations ORDER BY version")
                    .fetch_all(p)
                    .await
                    .unwrap_or_default()
            }
        };
        db.close().await;
        rows
    }

    pub async fn ledger_versions(&self) -> Vec<i64> {
        self.ledger().await.into_iter().map(|r| r.0).collect()
    }

    pub async fn table_exists(&self, table: &str) -> bool {
        let db = self.db().await;
        let n = match &db {
            Db::Pg(p) => {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM information_schema.tables WHERE table_name = $1")
                    .bind(table)
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
            Db::Lite(p) => {
                sqlx::query_scalar::<_, i64>("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?")
                    .bind(table)
                    .fetch_one(p)
                    .await
                    .unwrap()
            }
        };
        db.close().await;
        n > 0
    }

    /// Runs SQL against this test's database (fixtures, or moving a clock-dependent row in time).
    pub async fn execute(&self, sql: String) {
        let db = self.db().await;
        match &db {
            Db::Pg(p) => drop(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(p).await.unwrap()),
            Db::Lite(p) => drop(sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(p).await.unwrap()),
        }
        db.close().await;
    }

    pub async fn scalar(&self, sql: &'static str) -> i64 {
        let db = self.db().await;
        let n = match &db {
            Db::Pg(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.unwrap(),
            Db::Lite(p) => sqlx::query_scalar::<_, i64>(sql).fetch_one(p).await.unwrap(),
        };
        db.close().await;
        n
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        if let Some(db) = &self.pg_database {
            let _ = std::process::Command::new("psql")
                .args([
                    &admin_url(),
                    "-q",
                    "-c",
                    &format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

pub enum Db {
    Pg(PgPool),
    Lite(SqlitePool),
}

impl Db {
    pub async fn close(&self) {
        match self {
            Db::Pg(p) => p.close().await,
            Db::Lite(p) => p.close().await,
        }
    }
}

/// A finished process.
pub struct Run(pub Output);

impl Run {
    pub fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    #[track_caller]
    pub fn assert_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code(),
            expected,
            "exit code\n--- stdout:\n{}\n--- stderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

/// Reads whatever the child wrote to stderr after it exited.
pub async fn finish(child: Child) -> Run {
    Run(tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap()
        .unwrap())
}

/// A running `kryton serve` and an HTTP client for it.
pub struct Server {
    pub env: TestEnv,
    pub child: Option<Child>,
    pub client: reqwest::Client,
    /// Everything the server wrote, read continuously: a pipe nobody drains fills up after 64 KiB
    /// of logs, and the server would then block on its next log line.
    logs: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    drains: Vec<tokio::task::JoinHandle<()>>,
}

fn drain(
    pipe: Option<impl tokio::io::AsyncRead + Unpin + Send + 'static>,
    into: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
) -> Option<tokio::task::JoinHandle<()>> {
    use tokio::io::AsyncReadExt;
    let mut pipe = pipe?;
    Some(tokio::spawn(async move {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = pipe.read(&mut chunk).await {
            if n == 0 {
                break;
            }
            into.lock().unwrap().extend_from_slice(&chunk[..n]);
        }
    }))
}

/// How a test request authenticates.
#[derive(Clone, Debug)]
pub enum As {
    Nobody,
    Bearer(String),
    Cookie(String),
    Header(String),
}

impl Server {
    pub async fn start(env: TestEnv) -> Self {
        let mut child = env.spawn(&["serve"]);
        env.wait_ready(&mut child, Duration::from_secs(30)).await;
        let logs = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let drains = [
            drain(child.stderr.take(), logs.clone()),
            drain(child.stdout.take(), logs.clone()),
        ]
        .into_iter()
        .flatten()
        .collect();
        // A request that hangs fails its test instead of hanging the suite.
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap();
        Server {
            env,
            child: Some(child),
            client,
            logs,
            drains,
        }
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        who: &As,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut request = self.client.request(method, self.env.url(path));
        request = match who {
            As::Nobody => request,
            As::Bearer(token) => request.bearer_auth(token),
            As::Cookie(token) => request.header("cookie", format!("kryton.session_token={token}")),
            As::Header(value) => request.header("authorization", value),
        };
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
        )
    }

    /// Signs up (first account becomes admin) and returns (user id, session token).
    pub async fn sign_up(&self, email: &str, password: &str, invite: Option<&str>) -> (String, String) {
        let mut body = serde_json::json!({ "email": email, "password": password, "name": email });
        if let Some(code) = invite {
            body["inviteCode"] = serde_json::Value::String(code.to_owned());
        }
        let (status, json) = self
            .request("POST", "/api/auth/sign-up/email", &As::Nobody, Some(body))
            .await;
        assert_eq!(status, 200, "sign-up of {email}: {json}");
        (
            json["user"]["id"].as_str().unwrap().to_owned(),
            json["session"]["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Stops the server and returns everything it logged.
    pub async fn stop(&mut self) -> String {
        let mut child = self.child.take().unwrap();
        child.start_kill().unwrap();
        tokio::time::timeout(Duration::from_secs(30), child.wait())
            .await
            .unwrap()
            .unwrap();
        for drain in self.drains.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(10), drain).await;
        }
        String::from_utf8_lossy(&self.logs.lock().unwrap()).into_owned()
    }
}

/// Every file under a directory with its bytes (the vault's lock file left out), for before/after
/// comparisons: a refused request must leave this unchanged.
pub fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if !path.ends_with(".kryton.lock") {
                files.insert(
                    path.strip_prefix(dir).unwrap().display().to_string(),
                    std::fs::read(&path).unwrap(),
                );
            }
        }
    }
    files
}
