//! No note can stall the server (issue 19, item 1), through the real binary on both backends:
//! notes built to make a markdown scanner quadratic are written in parallel while `/healthz` is
//! polled, then written straight into the vault and picked up by the boot reconcile and by
//! `kryton reindex`. Before the fix one 300 KB line of `[` took 16 s to index on the async
//! workers, so `/healthz` waited for it; the 1.5 MB notes here would have taken hours.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

/// How long `/healthz` may take while the notes are indexed: a hang guard, not a benchmark
/// (an idle server answers in about a millisecond).
const HEALTHZ_GUARD: Duration = Duration::from_secs(3);

/// The pathological notes, each about 1.5 MB (under the 2 MB body limit).
fn pathological() -> Vec<(&'static str, String)> {
    const SIZE: usize = 1_500_000;
    let mut runs = String::new();
    let mut k = 1;
    while runs.len() < SIZE {
        runs.push_str(&"`".repeat(k % 1000 + 1));
        runs.push_str(" [[x]] ");
        k += 1;
    }
    vec![
        ("Brackets", "[".repeat(SIZE)),
        ("Embeds", "![[".repeat(SIZE / 3)),
        ("MarkdownLinks", "[a](".repeat(SIZE / 4)),
        ("Backticks", runs),
        ("Hashes", "#".repeat(SIZE)),
    ]
}

async fn healthz_answers_while_pathological_notes_are_indexed(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    // Only the welcome note besides the test's own, so the graph counts are the test's.
    env.set_env("SAMPLE_VAULT", "off");
    let s = Server::start(env).await;
    let (user, token) = s.sign_up("ann@example.org", "ann password", None).await;

    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(300))
        .build()
        .unwrap();
    let mut writes = Vec::new();
    for (name, content) in pathological() {
        let request = client
            .post(s.env.url("/api/notes"))
            .bearer_auth(&token)
            .json(&json!({ "path": name, "content": content }));
        writes.push(tokio::spawn(async move {
            request.send().await.map(|r| r.status().as_u16())
        }));
    }

    // Poll /healthz until every write has answered; count the answers given while some were
    // still being indexed, so the test cannot pass without overlapping them.
    let probe = reqwest::Client::builder().timeout(HEALTHZ_GUARD).build().unwrap();
    let mut answered_while_busy = 0;
    let mut slowest = Duration::ZERO;
    while writes.iter().any(|w| !w.is_finished()) {
        let started = Instant::now();
        let response = probe.get(s.env.url("/healthz")).send().await;
        let took = started.elapsed();
        let response = response.unwrap_or_else(|e| panic!("/healthz did not answer within {HEALTHZ_GUARD:?}: {e}"));
        assert_eq!(response.status(), 200);
        slowest = slowest.max(took);
        if writes.iter().any(|w| !w.is_finished()) {
            answered_while_busy += 1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        answered_while_busy >= 1,
        "the writes finished before /healthz was asked"
    );
    assert!(slowest < HEALTHZ_GUARD, "slowest /healthz: {slowest:?}");
    for write in writes {
        assert_eq!(write.await.unwrap().unwrap(), 201);
    }

    // The notes are indexed with the same answers as for any note: no link or tag in the
    // brackets and hashes; in the backticks, the `[[x]]` between runs that pair up into code.
    let me = As::Bearer(token.clone());
    for (name, _) in pathological() {
        let (status, body) = s.request("GET", &format!("/api/notes/{name}"), &me, None).await;
        assert_eq!(status, 200, "{name}");
        let links = body["links"].as_array().map_or(0, Vec::len);
        let tags = body["tags"].as_array().map_or(0, Vec::len);
        match name {
            "Backticks" => assert!(links > 0 && tags == 0, "{name}: {links} links, {tags} tags"),
            _ => assert_eq!((links, tags), (0, 0), "{name}"),
        }
    }
    let (status, graph) = s.request("GET", "/api/graph", &me, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        graph["nodes"].as_array().map(Vec::len),
        Some(pathological().len() + 1),
        "{graph}"
    );

    // The same notes written behind the server's back: the boot reconcile parses them before
    // the port opens (Server::start waits 30 s for readiness), then `kryton reindex` again.
    let mut s = s;
    s.stop().await;
    let vault = s.env.data_dir().join("notes").join(&user);
    for (name, content) in pathological() {
        std::fs::write(vault.join(format!("Disk{name}.md")), &content).unwrap();
    }
    let s = Server::start(s.env).await;
    let me = As::Bearer(token);
    let (status, graph) = s.request("GET", "/api/graph", &me, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        graph["nodes"].as_array().map(Vec::len),
        Some(2 * pathological().len() + 1)
    );
    let (status, body) = s.request("GET", "/api/notes/DiskBrackets", &me, None).await;
    assert_eq!((status, &body["title"]), (200, &Value::from("DiskBrackets")));

    for (name, content) in pathological() {
        std::fs::write(vault.join(format!("Reindex{name}.md")), &content).unwrap();
    }
    let reindex = s.env.run(&["reindex"]).await;
    reindex.assert_code(0);
    let (status, graph) = s.request("GET", "/api/graph", &me, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        graph["nodes"].as_array().map(Vec::len),
        Some(3 * pathological().len() + 1)
    );
}
both_backends!(healthz_answers_while_pathological_notes_are_indexed);
