//! The boot path as a process: the port stays closed until the schema is current, failures exit
//! with one clear line and a documented code, probes behave, secrets stay out of the logs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{Backend, TestEnv, finish};
use serde_json::Value;

async fn get_json(env: &TestEnv, path: &str) -> (u16, Value) {
    let response = reqwest::get(env.url(path)).await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// The ops endpoints answer with the shapes of the original Kryton.
async fn ops_endpoints(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut child = env.spawn(&[]);
    env.wait_ready(&mut child, Duration::from_secs(30)).await;

    assert_eq!(
        get_json(&env, "/healthz").await,
        (200, serde_json::json!({"status": "ok"}))
    );
    let (status, ready) = get_json(&env, "/readyz").await;
    assert_eq!(status, 200);
    assert_eq!(ready["status"], "ok");
    assert_eq!(ready["checks"]["database"]["ok"], true);
    assert!(ready["schema"]["version"].as_i64().unwrap() >= 1);

    let (status, version) = get_json(&env, "/api/version").await;
    assert_eq!(status, 200);
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(
        version["major"].as_u64().unwrap().to_string(),
        env!("CARGO_PKG_VERSION_MAJOR")
    );
    let commit = version["commit"].as_str().unwrap().to_owned();
    assert!(!commit.is_empty());
    assert_eq!(get_json(&env, "/version").await, (200, version));
    let printed = env.run(&["version"]).await;
    assert!(printed.stdout().contains(&commit), "{}", printed.stdout());

    let (status, missing) = get_json(&env, "/api/no-such-thing").await;
    assert_eq!(status, 404);
    assert_eq!(missing["code"], "NOT_FOUND");
    assert!(missing["message"].as_str().is_some());

    env.run(&["healthcheck"]).await.assert_code(0);
    child.start_kill().unwrap();
    let run = finish(child).await;
    assert!(
        !run.stderr().contains("route=/healthz"),
        "probes are not logged at info level"
    );
    assert!(
        !run.stderr().contains("Sup3rSecretPw"),
        "the database password leaked into the logs"
    );
    env.run(&["healthcheck"]).await.assert_code(1);
}
both_backends!(ops_endpoints);

/// SIGTERM: the server stops accepting, finishes, closes the pool and exits 0.
async fn graceful_shutdown(backend: Backend) {
    let env = TestEnv::new(backend).await;
    let mut child = env.spawn(&["serve"]);
    env.wait_ready(&mut child, Duration::from_secs(30)).await;
    let pid = child.id().unwrap().to_string();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let run = finish(child).await;
    run.assert_code(0);
    assert!(run.stderr().contains("SIGTERM"), "{}", run.stderr());
    assert!(!env.port_is_open());
}
both_backends!(graceful_shutdown);

fn slow_migration(backend: Backend) -> &'static str {
    match backend {
        Backend::Postgres => "-- kryton:compat=expand\nCREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(3);\n",
        Backend::Sqlite => {
            "-- kryton:compat=expand\nCREATE TABLE slow (id INTEGER);\n\
             WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 5000000) \
             INSERT INTO slow SELECT x FROM c;\n"
        }
    }
}

/// The port stays closed while migrations run, and opens once they are done.
async fn port_closed_while_migrating(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    let shipped = env.write_shipped_migrations() as i64;
    env.write_migration(&format!("{:04}_slow.sql", shipped + 1), slow_migration(backend));
    let started = Instant::now();
    let mut child = env.spawn(&["serve"]);
    let mut saw_closed = 0;
    while !env.port_is_open() {
        assert!(child.try_wait().unwrap().is_none(), "kryton exited");
        assert!(started.elapsed() < Duration::from_secs(60), "never listened");
        saw_closed += 1;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // The moment the port opens, the migration has already committed.
    assert_eq!(
        env.ledger_versions().await,
        common::shipped_versions(backend)
            .into_iter()
            .chain([shipped + 1])
            .collect::<Vec<_>>(),
        "the port opened before the migration finished"
    );
    assert!(
        saw_closed >= 5,
        "the migration was too quick to observe ({saw_closed} polls)"
    );
    env.wait_ready(&mut child, Duration::from_secs(30)).await;
}
both_backends!(port_closed_while_migrating);

/// A failed migration exits non-zero and the port was never opened.
async fn failed_migration_never_listens(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.write_migration("0001_bad.sql", "-- kryton:compat=expand\nCREATE TABLE broken (;\n");
    let mut child = env.spawn(&["serve"]);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(!env.port_is_open(), "the port opened although the migration failed");
        assert!(started.elapsed() < Duration::from_secs(30));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = finish(child).await;
    run.assert_code(10);
    let last = run.stderr().lines().last().unwrap_or_default().to_owned();
    assert!(
        last.contains("0001_bad.sql") && last.contains("failed"),
        "one clear line: {last}"
    );
    let termination = std::fs::read_to_string(env.dir.path().join("termination-log"));
    assert!(
        termination.is_err(),
        "the termination log is only written when it exists"
    );

    // On Kubernetes the file exists, and the same line lands there.
    std::fs::write(env.dir.path().join("termination-log"), "").unwrap();
    env.run(&["serve"]).await.assert_code(10);
    let termination = std::fs::read_to_string(env.dir.path().join("termination-log")).unwrap();
    assert!(termination.contains("0001_bad.sql"), "{termination}");
}
both_backends!(failed_migration_never_listens);

/// SIGTERM during a transactional migration rolls it back and exits 16 promptly.
async fn sigterm_during_migration(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.write_migration("0001_slow.sql", slow_migration(backend));
    let child = env.spawn(&["serve"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let pid = child.id().unwrap().to_string();
    let started = Instant::now();
    std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    let run = finish(child).await;
    run.assert_code(16);
    assert!(started.elapsed() < Duration::from_secs(10));
    // PostgreSQL rolls back when the session ends; wait for the server to notice.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !env.table_exists("slow").await,
        "the interrupted migration must be rolled back"
    );
    assert!(env.ledger_versions().await.is_empty());
}
both_backends!(sigterm_during_migration);

/// `/readyz` follows the database: 503 while it is gone, 200 when it is back; `/healthz` stays 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database() {
    let env = TestEnv::new(Backend::Postgres).await;
    let mut child = env.spawn(&[]);
    env.wait_ready(&mut child, Duration::from_secs(30)).await;
    let db = env.pg_database.clone().unwrap();
    let admin = sqlx::PgPool::connect(&common::admin_url()).await.unwrap();
    let sql = |s: String| sqlx::raw_sql(sqlx::AssertSqlSafe(s));
    sql(format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS false"))
        .execute(&admin)
        .await
        .unwrap();
    sql(format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}'"
    ))
    .execute(&admin)
    .await
    .unwrap();
    let (status, body) = get_json(&env, "/readyz").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["database"]["ok"], false);
    assert!(
        body["checks"]["database"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(!body.to_string().contains("Sup3rSecretPw"));
    assert_eq!(get_json(&env, "/healthz").await.0, 200);

    sql(format!("ALTER DATABASE {db} WITH ALLOW_CONNECTIONS true"))
        .execute(&admin)
        .await
        .unwrap();
    let started = Instant::now();
    loop {
        if get_json(&env, "/readyz").await.0 == 200 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "readiness did not come back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(get_json(&env, "/healthz").await.0, 200);
}

/// Bad configuration exits 2 and names the variable; the password is never echoed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_configuration_is_named() {
    let mut env = TestEnv::new(Backend::Sqlite).await;
    env.set_env("POSTGRES_URL", "postgres//kryton:hunter2@db/kryton");
    let run = env.run(&["serve"]).await;
    run.assert_code(2);
    assert!(run.stderr().contains("POSTGRES_URL"), "{}", run.stderr());
    assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());

    env.set_env("POSTGRES_URL", "mysql://kryton:hunter2@db/kryton");
    let run = env.run(&["migrate"]).await;
    run.assert_code(2);
    assert!(
        run.stderr().contains("POSTGRES_URL") && run.stderr().contains("mysql"),
        "{}",
        run.stderr()
    );

    let mut env = TestEnv::new(Backend::Sqlite).await;
    let file = env.dir.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    env.set_env("NOTES_DIR", &file.join("notes").display().to_string());
    let run = env.run(&["serve"]).await;
    run.assert_code(2);
    assert!(run.stderr().contains("NOTES_DIR"), "{}", run.stderr());
    assert!(
        !env.sqlite_path().exists(),
        "nothing is created when the configuration is invalid"
    );

    let mut env = TestEnv::new(Backend::Sqlite).await;
    env.set_env("PORT", "http");
    env.set_env("LOG_FORMAT", "yaml");
    let run = env.run(&["serve"]).await;
    run.assert_code(2);
    assert!(
        run.stderr().contains("PORT") && run.stderr().contains("LOG_FORMAT"),
        "{}",
        run.stderr()
    );
}

/// An unreachable database: each attempt is logged, then exit 3 after DB_CONNECT_TIMEOUT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_database_exits_3() {
    let mut env = TestEnv::new(Backend::Sqlite).await;
    let closed_port = common::free_port();
    env.set_env(
        "POSTGRES_URL",
        &format!("postgres://kryton:hunter2@127.0.0.1:{closed_port}/kryton"),
    );
    env.set_env("DB_CONNECT_TIMEOUT", "2s");
    let started = Instant::now();
    let run = env.run(&["serve"]).await;
    run.assert_code(3);
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(
        run.stderr().contains("not reachable yet"),
        "each failed attempt is logged"
    );
    assert!(run.stderr().contains("DB_CONNECT_TIMEOUT"), "{}", run.stderr());
    assert!(!run.stderr().contains("hunter2"), "{}", run.stderr());
    assert!(!env.port_is_open());
}

/// A port already in use: exit 1 with a message saying so (after migrating, before serving).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn port_in_use_is_reported() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let _taken = std::net::TcpListener::bind(("127.0.0.1", env.port)).unwrap();
    let run = env.run(&["serve"]).await;
    run.assert_code(1);
    assert!(
        run.stderr().contains("cannot listen") && run.stderr().contains(&env.port.to_string()),
        "{}",
        run.stderr()
    );
}

/// The library's `serve` takes a listener the caller bound, so in-process tests need no free port.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_serves_on_a_given_listener() {
    let env = TestEnv::new(Backend::Sqlite).await;
    let settings = <kryton::cli::Cli as clap::Parser>::try_parse_from([
        "kryton",
        "--data-dir",
        &env.data_dir().display().to_string(),
        "--postgres-url",
        "",
    ])
    .unwrap()
    .settings;
    let config = settings.validate().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kryton::serve(
        config,
        listener,
        Box::pin(async move {
            let _ = stopped.await;
        }),
    ));
    let body: Value = reqwest::get(format!("http://{addr}/readyz"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(body["status"], "ok");
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
}
