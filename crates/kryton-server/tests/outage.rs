//! Database outages during note writes (issue 14, item 7): an answer tells the truth. A write is
//! 2xx if and only if its file changed; when the file changed but the index update failed, the
//! path is re-indexed in the background within seconds of the database coming back (no restart).
//!
//! PostgreSQL is cut off for real: the server reaches it through a TCP relay owned by the test
//! (`common::relay`), which drops every connection and refuses new ones. To catch writes exactly
//! between "file written" and "index updated", the test holds a table lock on the index so their
//! index updates wait, then cuts the database. On SQLite the same window is a peer holding the
//! write lock past the busy timeout.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::relay::Relay;
use common::{As, Backend, Server, TestEnv};
use serde_json::json;
use sqlx::Connection;

/// A server on `backend`; on PostgreSQL it reaches its database through a relay.
async fn start(backend: Backend) -> (Server, Option<Relay>) {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    env.set_env("SAMPLE_VAULT", "off");
    // Writers retry as fast as refusals come back; the per-key limit is not what is tested here.
    env.set_env("API_KEY_RATE_LIMIT_MAX", "1000000");
    env.set_env("RATE_LIMIT_MAX", "1000000");
    let relay = match backend {
        Backend::Postgres => {
            let relay = Relay::start("127.0.0.1:5432".parse().unwrap()).await;
            let db = env.pg_database.clone().unwrap();
            env.set_env(
                "POSTGRES_URL",
                &format!("postgres://postgres@127.0.0.1:{}/{db}", relay.port()),
            );
            Some(relay)
        }
        Backend::Sqlite => None,
    };
    let server = Server::start(env).await;
    if let Some(relay) = &relay {
        assert!(relay.relayed() > 0, "the server did not connect through the relay");
    }
    (server, relay)
}

/// The note's file as it is on disk (`None` when there is none).
fn on_disk(s: &Server, user: &str, path: &str) -> Option<String> {
    std::fs::read_to_string(s.env.data_dir().join("notes").join(user).join(path)).ok()
}

async fn put(s: &Server, me: &As, path: &str, content: &str) -> Option<u16> {
    let As::Bearer(token) = me else { unreachable!() };
    let response = s
        .client
        .put(s.env.url(&format!("/api/notes/{path}")))
        .bearer_auth(token)
        .json(&json!({ "content": content }))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

/// Waits until search finds `word` in `path` and `Hub.md`'s backlinks list `path`.
async fn wait_indexed(s: &Server, me: &As, expected: &[(String, String)], within: Duration) {
    let started = Instant::now();
    loop {
        let mut missing = Vec::new();
        let (status, backlinks) = s.request("GET", "/api/backlinks/Hub.md", me, None).await;
        for (path, word) in expected {
            let (st, hits) = s.request("GET", &format!("/api/search?q={word}"), me, None).await;
            let found = st == 200
                && hits
                    .as_array()
                    .is_some_and(|h| h.iter().any(|hit| hit["path"] == path.as_str()));
            let linked = status == 200
                && backlinks
                    .as_array()
                    .is_some_and(|b| b.iter().any(|l| l["path"] == path.as_str()));
            if !found || !linked {
                missing.push(path.clone());
            }
        }
        if missing.is_empty() {
            return;
        }
        assert!(
            started.elapsed() < within,
            "not re-indexed within {within:?} of the recovery: {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A peer holding the index's write lock, so the server's index updates wait.
enum IndexLock {
    Postgres(sqlx::PgConnection),
    Sqlite(sqlx::SqliteConnection),
}

async fn lock_index(env: &TestEnv) -> IndexLock {
    match env.backend {
        Backend::Postgres => {
            let url = format!(
                "postgres://postgres@127.0.0.1:5432/{}",
                env.pg_database.as_ref().unwrap()
            );
            let mut conn = sqlx::PgConnection::connect(&url).await.unwrap();
            sqlx::raw_sql("BEGIN; LOCK TABLE notes IN EXCLUSIVE MODE")
                .execute(&mut conn)
                .await
                .unwrap();
            IndexLock::Postgres(conn)
        }
        Backend::Sqlite => {
            let options = sqlx::sqlite::SqliteConnectOptions::new().filename(env.sqlite_path());
            let mut conn = sqlx::SqliteConnection::connect_with(&options).await.unwrap();
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut conn).await.unwrap();
            IndexLock::Sqlite(conn)
        }
    }
}

async fn unlock_index(lock: IndexLock) {
    match lock {
        IndexLock::Postgres(mut c) => drop(sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap()),
        IndexLock::Sqlite(mut c) => drop(sqlx::raw_sql("ROLLBACK").execute(&mut c).await.unwrap()),
    }
}

/// Server sessions of the test database waiting for a lock.
async fn waiting_on_lock(env: &TestEnv) -> i64 {
    env.scalar(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
         AND wait_event_type = 'Lock' AND application_name LIKE 'kryton-server%'",
    )
    .await
}

/// Writes whose file changed while their index update failed are acknowledged (2xx), their files
/// hold the new text, and search and backlinks find them within seconds of the database's return.
async fn index_failure_after_the_write_is_acknowledged_and_healed(backend: Backend) {
    let (s, relay) = start(backend).await;
    let (user, token) = s.sign_up("ann@example.org", "ann password", None).await;
    let me = As::Bearer(token);
    assert_eq!(put(&s, &me, "Hub.md", "# Hub").await, Some(200));
    let lock = lock_index(&s.env).await;
    let writes: Vec<(String, String)> = (0..4)
        .map(|i| (format!("Out/Note {i}.md"), format!("outageword{i}")))
        .collect();
    let s = std::sync::Arc::new(s);
    let mut pending = Vec::new();
    for (path, word) in writes.clone() {
        let (s, me) = (s.clone(), me.clone());
        pending.push(tokio::spawn(async move {
            put(&s, &me, &path, &format!("# {word}\n{word} links to [[Hub]]")).await
        }));
    }
    if let Some(relay) = &relay {
        // Every write has its file on disk and waits on the index lock: now the database goes.
        let started = Instant::now();
        while waiting_on_lock(&s.env).await < writes.len() as i64 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the writes never reached the index"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        relay.cut();
    }
    for (task, (path, word)) in pending.into_iter().zip(&writes) {
        let status = task.await.unwrap();
        assert_eq!(
            status,
            Some(200),
            "{path}: the file changed, so the answer must be a success"
        );
        let file = on_disk(&s, &user, path).unwrap_or_default();
        assert!(file.contains(word.as_str()), "{path} holds {file:?}");
    }
    let (status, ready) = s.request("GET", "/readyz", &As::Nobody, None).await;
    assert!(
        ready["checks"]["index"]["pendingReindex"].as_u64().unwrap() >= 1,
        "{status}: nothing waits for re-indexing: {ready}"
    );
    unlock_index(lock).await;
    if let Some(relay) = &relay {
        // The database stays away a moment: the background retries fail and back off.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (status, _) = s
            .request("PUT", "/api/notes/Hub.md", &me, Some(json!({"content": "x"})))
            .await;
        assert_eq!(
            status, 503,
            "a write during the outage is refused before its file changes"
        );
        assert_eq!(on_disk(&s, &user, "Hub.md").as_deref(), Some("# Hub"));
        relay.restore();
    }
    wait_indexed(&s, &me, &writes, Duration::from_secs(30)).await;
    let (_, ready) = s.request("GET", "/readyz", &As::Nobody, None).await;
    assert_eq!(ready["checks"]["index"]["pendingReindex"], 0, "{ready}");
}
both_backends!(index_failure_after_the_write_is_acknowledged_and_healed);

/// Writers keep writing while PostgreSQL is cut off and restored again and again. For every
/// write: a 2xx means the file holds exactly its text; any other answer means the file still holds
/// the last acknowledged text (nothing changed, and no acknowledged note was overwritten by a
/// "failed" write). After the last recovery, every note's final text is found by search.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_through_repeated_postgres_outages_tell_the_truth() {
    let (s, relay) = start(Backend::Postgres).await;
    let relay = std::sync::Arc::new(relay.unwrap());
    let (user, token) = s.sign_up("ann@example.org", "ann password", None).await;
    let me = As::Bearer(token);
    assert_eq!(put(&s, &me, "Hub.md", "# Hub").await, Some(200));
    let s = std::sync::Arc::new(s);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let chaos = {
        let (relay, stop) = (relay.clone(), stop.clone());
        tokio::spawn(async move {
            let mut cuts = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(700)).await;
                relay.cut();
                cuts += 1;
                tokio::time::sleep(Duration::from_millis(900)).await;
                relay.restore();
            }
            cuts
        })
    };
    let mut writers = Vec::new();
    for w in 0..4 {
        let (s, me, user) = (s.clone(), me.clone(), user.clone());
        writers.push(tokio::spawn(async move {
            // Each writer owns its paths, so "the last acknowledged text" is well defined.
            let mut acknowledged: HashMap<String, String> = HashMap::new();
            let (mut ok, mut refused) = (0, 0);
            let started = Instant::now();
            let mut n = 0;
            while started.elapsed() < Duration::from_secs(10) {
                n += 1;
                let path = format!("W{w}/Note {}.md", n % 3);
                let word = format!("chaos{w}x{n}");
                let content = format!("{word} links to [[Hub]]");
                let status = put(&s, &me, &path, &content).await;
                let file = on_disk(&s, &user, &path);
                if status == Some(200) {
                    ok += 1;
                    assert_eq!(
                        file.as_deref(),
                        Some(content.as_str()),
                        "{path}: acknowledged, not on disk"
                    );
                    acknowledged.insert(path, word);
                } else {
                    refused += 1;
                    assert!(
                        matches!(status, None | Some(503)),
                        "{path}: an outage must answer 503, not {status:?}"
                    );
                    let before = acknowledged.get(&path).map(|w| format!("{w} links to [[Hub]]"));
                    assert_eq!(file, before, "{path}: a refused write ({status:?}) changed the file");
                }
            }
            (acknowledged, ok, refused)
        }));
    }
    let mut finals = Vec::new();
    let (mut ok, mut refused) = (0, 0);
    for writer in writers {
        let (acknowledged, o, r) = writer.await.unwrap();
        ok += o;
        refused += r;
        finals.extend(acknowledged);
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let cuts = chaos.await.unwrap();
    relay.restore();
    assert!(cuts >= 3, "only {cuts} outages");
    assert!(
        ok > 0 && refused > 0,
        "{ok} acknowledged and {refused} refused writes: no outage was met"
    );
    eprintln!("{cuts} outages, {ok} writes acknowledged, {refused} refused");
    wait_indexed(&s, &me, &finals, Duration::from_secs(30)).await;
}
