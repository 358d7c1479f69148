//! Crash points: the real binary is killed with SIGKILL (through `KRYTON_CRASH_AT`, see
//! src/crash.rs) at every rename, fsync and removal of a multi-step operation in turn, restarted,
//! and checked over HTTP: the note at exactly one place, every link rewritten and resolving, the
//! history with the note, and the retried request answering the finished result.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

struct Op {
    /// The crash-point operation name.
    name: &'static str,
    /// The route and body of the request.
    route: &'static str,
    body: Value,
    /// The `path` the answer names.
    path_after: &'static str,
    /// Where the note `Projects/Plan.md` is after the operation.
    note_after: &'static str,
    /// The link texts the two linking notes must hold after it.
    links_after: [&'static str; 2],
}

async fn setup(s: &Server, me: &As) {
    for (path, content) in [
        ("Projects/Plan.md", "# Plan\nfirst version"),
        ("Ideas.md", "see [[Plan]] for details"),
        ("Log.md", "worked on [[Projects/Plan|the plan]] today"),
    ] {
        let (status, body) = s
            .request(
                "POST",
                "/api/notes",
                me,
                Some(json!({"path": path, "content": content})),
            )
            .await;
        assert_eq!(status, 201, "{path}: {body}");
    }
    let (status, body) = s
        .request(
            "PUT",
            "/api/notes/Projects/Plan.md",
            me,
            Some(json!({"content": "# Plan\nsecond version"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

/// Sends the operation; `None` when the connection died (the server was killed).
async fn send(s: &Server, me: &As, op: &Op) -> Option<(u16, Value)> {
    let As::Bearer(token) = me else { unreachable!() };
    let response = s
        .client
        .post(s.env.url(op.route))
        .bearer_auth(token)
        .json(&op.body)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let text = response.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

async fn check_invariants(s: &Server, me: &As, op: &Op, context: &str) {
    let (status, body) = s
        .request("GET", &format!("/api/notes/{}", op.note_after), me, None)
        .await;
    assert_eq!(status, 200, "{context}: the note is not at its new path: {body}");
    assert_eq!(body["content"], "# Plan\nsecond version", "{context}");
    let (status, _) = s.request("GET", "/api/notes/Projects/Plan.md", me, None).await;
    assert_eq!(status, 404, "{context}: the note is still at its old path too");
    for (source, link) in ["Ideas.md", "Log.md"].into_iter().zip(op.links_after) {
        let (status, body) = s.request("GET", &format!("/api/notes/{source}"), me, None).await;
        assert_eq!(status, 200, "{context}");
        let content = body["content"].as_str().unwrap();
        assert!(
            content.contains(link),
            "{context}: {source} holds {content:?}, expected {link}"
        );
    }
    let (status, body) = s
        .request("GET", &format!("/api/backlinks/{}", op.note_after), me, None)
        .await;
    assert_eq!(status, 200, "{context}");
    let text = body.to_string();
    assert!(
        text.contains("Ideas.md") && text.contains("Log.md"),
        "{context}: backlinks of the moved note: {body}"
    );
    let (status, body) = s
        .request("GET", &format!("/api/history/{}", op.note_after), me, None)
        .await;
    assert_eq!(status, 200, "{context}");
    assert!(
        !body["versions"].as_array().unwrap().is_empty(),
        "{context}: the history did not follow the note: {body}"
    );
    let (_, body) = s.request("GET", "/api/history/Projects/Plan.md", me, None).await;
    assert!(
        body["versions"].as_array().is_none_or(|v| v.is_empty()),
        "{context}: history left behind at the old path: {body}"
    );
}

async fn crash_at_every_step(backend: Backend, op: Op) {
    let mut crashed = 0;
    for n in 1.. {
        assert!(n < 60, "{}: the operation never finished without a crash", op.name);
        let mut env = TestEnv::new(backend).await;
        env.set_env("REGISTRATION_MODE", "open");
        env.set_env("KRYTON_CRASH_AT", &format!("{}:{n}", op.name));
        let mut s = Server::start(env).await;
        let (_, token) = s.sign_up("ann@example.org", "ann password", None).await;
        let me = As::Bearer(token);
        setup(&s, &me).await;
        let context = format!("{} killed at step {n} ({backend:?})", op.name);
        if let Some((status, body)) = send(&s, &me, &op).await {
            // Past the last step: the operation ran to its end without meeting the crash point.
            assert_eq!(status, 200, "{context}: {body}");
            check_invariants(&s, &me, &op, &context).await;
            break;
        }
        let status = tokio::time::timeout(Duration::from_secs(30), s.child.take().unwrap().wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            status.signal(),
            Some(9),
            "{context}: the server was not killed by SIGKILL: {status:?}"
        );
        crashed += 1;
        let mut env = std::mem::replace(&mut s.env, TestEnv::new(backend).await);
        env.unset_env("KRYTON_CRASH_AT");
        let s = Server::start(env).await;
        // The client never got its answer: it retries, and gets the finished result.
        let (status, body) = send(&s, &me, &op).await.unwrap();
        assert_eq!(status, 200, "{context}: the retried request: {body}");
        assert_eq!(body["newPath"], op.path_after, "{context}: the retried request: {body}");
        check_invariants(&s, &me, &op, &context).await;
        let stray: Vec<_> = walk(&s.env.data_dir().join("notes"))
            .into_iter()
            .filter(|p| p.ends_with(".tmp"))
            .collect();
        assert!(stray.is_empty(), "{context}: temp files left after boot: {stray:?}");
    }
    assert!(crashed >= 4, "{}: only {crashed} crash points were met", op.name);
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push(path.display().to_string());
            }
        }
    }
    out
}

async fn rename_note_crash_points(backend: Backend) {
    crash_at_every_step(
        backend,
        Op {
            name: "rename-note",
            route: "/api/notes-rename/Projects/Plan.md",
            body: json!({"newPath": "Archive/Roadmap.md"}),
            path_after: "Archive/Roadmap.md",
            note_after: "Archive/Roadmap.md",
            links_after: ["[[Roadmap]]", "[[Archive/Roadmap|the plan]]"],
        },
    )
    .await;
}
both_backends!(rename_note_crash_points);

async fn rename_folder_crash_points(backend: Backend) {
    crash_at_every_step(
        backend,
        Op {
            name: "rename-folder",
            route: "/api/folders-rename/Projects",
            body: json!({"newPath": "Archive/Old projects"}),
            path_after: "Archive/Old projects",
            note_after: "Archive/Old projects/Plan.md",
            links_after: ["[[Plan]]", "[[Archive/Old projects/Plan|the plan]]"],
        },
    )
    .await;
}
both_backends!(rename_folder_crash_points);

/// A user deletion killed at each of its steps: after a restart the retried DELETE answers 200,
/// the account is gone (its session refused) and its vault is moved aside exactly once.
async fn delete_user_crash_points(backend: Backend) {
    let mut crashed = 0;
    for n in 1.. {
        assert!(n < 30, "delete-user never finished without a crash");
        let mut env = TestEnv::new(backend).await;
        env.set_env("REGISTRATION_MODE", "open");
        env.set_env("KRYTON_CRASH_AT", &format!("delete-user:{n}"));
        let mut s = Server::start(env).await;
        let (_, admin) = s.sign_up("admin@example.org", "admin password", None).await;
        let (bob, bob_token) = s.sign_up("bob@example.org", "bob password", None).await;
        let (admin, bob_session) = (As::Bearer(admin), As::Bearer(bob_token));
        let (status, _) = s
            .request(
                "POST",
                "/api/notes",
                &bob_session,
                Some(json!({"path": "Mine.md", "content": "bob's"})),
            )
            .await;
        assert_eq!(status, 201);
        let context = format!("delete-user killed at step {n} ({backend:?})");
        let As::Bearer(token) = &admin else { unreachable!() };
        let url = s.env.url(&format!("/api/admin/users/{bob}"));
        let first = s.client.delete(&url).bearer_auth(token).send().await;
        let s = if let Ok(response) = first {
            assert_eq!(response.status().as_u16(), 200, "{context}");
            s
        } else {
            let status = tokio::time::timeout(Duration::from_secs(30), s.child.take().unwrap().wait())
                .await
                .unwrap()
                .unwrap();
            assert_eq!(status.signal(), Some(9), "{context}: {status:?}");
            crashed += 1;
            let mut env = std::mem::replace(&mut s.env, TestEnv::new(backend).await);
            env.unset_env("KRYTON_CRASH_AT");
            let s = Server::start(env).await;
            let (status, body) = s
                .request("DELETE", &format!("/api/admin/users/{bob}"), &admin, None)
                .await;
            assert_eq!(status, 200, "{context}: the retried deletion: {body}");
            assert!(body["vaultMovedTo"].is_string(), "{context}: {body}");
            s
        };
        let (status, _) = s.request("GET", "/api/notes", &bob_session, None).await;
        assert_eq!(status, 401, "{context}: the deleted user's session still works");
        let notes = s.env.data_dir().join("notes");
        assert!(!notes.join(&bob).exists(), "{context}: the vault was not moved aside");
        let aside: Vec<_> = std::fs::read_dir(notes.join(".deleted"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with(&bob))
            .collect();
        assert_eq!(aside.len(), 1, "{context}: {aside:?}");
        assert!(
            notes.join(".deleted").join(&aside[0]).join("Mine.md").is_file(),
            "{context}"
        );
        if crashed < n {
            break;
        }
    }
    assert!(crashed >= 3, "delete-user: only {crashed} crash points were met");
}
both_backends!(delete_user_crash_points);

/// The trash operations killed at each of their steps.
#[derive(Clone, Copy, Debug)]
enum TrashOp {
    Restore,
    DeleteForever,
    Empty,
}

impl TrashOp {
    fn crash_name(self) -> &'static str {
        match self {
            TrashOp::Restore => "restore-from-trash",
            TrashOp::DeleteForever => "delete-forever",
            TrashOp::Empty => "empty-trash",
        }
    }

    fn request(self) -> (&'static str, &'static str) {
        match self {
            TrashOp::Restore => ("POST", "/api/trash/restore/Projects/Plan.md"),
            TrashOp::DeleteForever => ("DELETE", "/api/trash/Projects/Plan.md"),
            TrashOp::Empty => ("DELETE", "/api/trash-empty"),
        }
    }
}

/// A note with history, deleted to the trash, another trashed note, and a note that stays.
async fn trash_setup(s: &Server, me: &As) {
    setup(s, me).await;
    for path in ["Projects/Plan.md", "Log.md"] {
        let (status, body) = s.request("DELETE", &format!("/api/notes/{path}"), me, None).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
}

async fn send_trash(s: &Server, me: &As, op: TrashOp) -> Option<(u16, Value)> {
    let As::Bearer(token) = me else { unreachable!() };
    let (method, route) = op.request();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let response = s
        .client
        .request(method, s.env.url(route))
        .bearer_auth(token)
        .send()
        .await
        .ok()?;
    let status = response.status().as_u16();
    let text = response.text().await.ok()?;
    Some((status, serde_json::from_str(&text).unwrap_or(Value::String(text))))
}

async fn check_trash_invariants(s: &Server, me: &As, op: TrashOp, context: &str) {
    let (status, trash) = s.request("GET", "/api/trash", me, None).await;
    assert_eq!(status, 200, "{context}: {trash}");
    let listed: Vec<String> = trash
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["path"].as_str().unwrap().to_owned())
        .collect();
    let (note, _) = s.request("GET", "/api/notes/Projects/Plan.md", me, None).await;
    let (ideas, _) = s.request("GET", "/api/notes/Ideas.md", me, None).await;
    assert_eq!(ideas, 200, "{context}: a note outside the trash was touched");
    match op {
        TrashOp::Restore => {
            assert_eq!(note, 200, "{context}: the restored note is not back");
            assert_eq!(listed, ["Log.md"], "{context}: the trash after the restore");
            let (_, body) = s.request("GET", "/api/history/Projects/Plan.md", me, None).await;
            assert!(
                !body["versions"].as_array().unwrap().is_empty(),
                "{context}: the restored note lost its history: {body}"
            );
            let (_, hits) = s.request("GET", "/api/search?q=second", me, None).await;
            assert!(
                hits.to_string().contains("Projects/Plan.md"),
                "{context}: the restored note is not in the index: {hits}"
            );
        }
        TrashOp::DeleteForever => {
            assert_eq!(note, 404, "{context}");
            assert_eq!(listed, ["Log.md"], "{context}: the trash after the deletion");
        }
        TrashOp::Empty => {
            assert_eq!(note, 404, "{context}");
            assert!(listed.is_empty(), "{context}: the trash after emptying: {listed:?}");
        }
    }
    let vault_files = walk(&s.env.data_dir().join("notes"));
    let stray: Vec<_> = vault_files
        .iter()
        .filter(|p| p.ends_with(".tmp") || p.contains(".trash-emptied"))
        .collect();
    assert!(stray.is_empty(), "{context}: left after boot: {stray:?}");
    if !matches!(op, TrashOp::Restore) {
        assert!(
            !vault_files.iter().any(|p| p.contains(".trash/Projects/Plan.md")),
            "{context}: the deleted item is still on disk"
        );
    }
}

async fn trash_crash_points(backend: Backend, op: TrashOp, at_least: usize) {
    let mut crashed = 0;
    for n in 1.. {
        assert!(n < 60, "{op:?}: the operation never finished without a crash");
        let mut env = TestEnv::new(backend).await;
        env.set_env("REGISTRATION_MODE", "open");
        env.set_env("KRYTON_CRASH_AT", &format!("{}:{n}", op.crash_name()));
        let mut s = Server::start(env).await;
        let (_, token) = s.sign_up("ann@example.org", "ann password", None).await;
        let me = As::Bearer(token);
        trash_setup(&s, &me).await;
        let context = format!("{op:?} killed at step {n} ({backend:?})");
        if let Some((status, body)) = send_trash(&s, &me, op).await {
            assert_eq!(status, 200, "{context}: {body}");
            check_trash_invariants(&s, &me, op, &context).await;
            break;
        }
        let status = tokio::time::timeout(Duration::from_secs(30), s.child.take().unwrap().wait())
            .await
            .unwrap()
            .unwrap();
        assert_eq!(status.signal(), Some(9), "{context}: not killed by SIGKILL: {status:?}");
        crashed += 1;
        let mut env = std::mem::replace(&mut s.env, TestEnv::new(backend).await);
        env.unset_env("KRYTON_CRASH_AT");
        let s = Server::start(env).await;
        // The client never got its answer: it retries, and gets the finished result.
        let (status, body) = send_trash(&s, &me, op).await.unwrap();
        assert_eq!(status, 200, "{context}: the retried request: {body}");
        if let TrashOp::Restore = op {
            assert_eq!(body["path"], "Projects/Plan.md", "{context}: {body}");
        }
        check_trash_invariants(&s, &me, op, &context).await;
    }
    assert!(crashed >= at_least, "{op:?}: only {crashed} crash points were met");
}

async fn restore_from_trash_crash_points(backend: Backend) {
    trash_crash_points(backend, TrashOp::Restore, 6).await;
}
both_backends!(restore_from_trash_crash_points);

async fn delete_forever_crash_points(backend: Backend) {
    trash_crash_points(backend, TrashOp::DeleteForever, 6).await;
}
both_backends!(delete_forever_crash_points);

async fn empty_trash_crash_points(backend: Backend) {
    trash_crash_points(backend, TrashOp::Empty, 3).await;
}
both_backends!(empty_trash_crash_points);

/// Temp files of uploads (issue 10): one still streaming is left alone by a replica booting on the
/// same data (its sweep runs under the vault lock; the upload holds its temp file's own lock), and
/// one whose server was killed mid-body is removed at the next boot.
async fn upload_temp_files_are_swept_but_never_one_in_flight(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    let mut s = Server::start(env).await;
    let (user, token) = s.sign_up("ann@example.org", "ann password", None).await;
    let attachments = s.env.data_dir().join("notes").join(&user).join("attachments");
    let temp_files = || -> Vec<String> { walk(&attachments).into_iter().filter(|p| p.ends_with(".tmp")).collect() };
    let start_upload = |name: &'static str| {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(4);
        let body = reqwest::Body::wrap_stream(futures_util::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        }));
        let form = reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::stream(body).file_name(name));
        let request = s
            .client
            .post(s.env.url("/api/files"))
            .bearer_auth(&token)
            .multipart(form);
        (tx, tokio::spawn(request.send()))
    };
    let wait_for_temp = || async {
        for _ in 0..200 {
            if !temp_files().is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the upload never reached its temp file");
    };

    // 1. An upload in flight while a replica boots on the same data.
    let (tx, upload) = start_upload("live.bin");
    tx.send(Ok(vec![1u8; 300 * 1024])).await.unwrap();
    wait_for_temp().await;
    let replica_port = common::free_port();
    let mut replica = s.env.command(&["serve"]);
    replica.env("PORT", replica_port.to_string());
    let mut replica = replica.spawn().unwrap();
    let client = reqwest::Client::new();
    let started = std::time::Instant::now();
    loop {
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{replica_port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            break;
        }
        assert!(replica.try_wait().unwrap().is_none(), "the replica exited");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the replica never got ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    replica.start_kill().unwrap();
    replica.wait().await.unwrap();
    assert_eq!(
        temp_files().len(),
        1,
        "the replica's boot removed an upload still being written"
    );
    tx.send(Ok(vec![2u8; 300 * 1024])).await.unwrap();
    drop(tx);
    let response = upload.await.unwrap().unwrap();
    assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap());
    let stored = std::fs::read(attachments.join("live.bin")).unwrap();
    assert_eq!(stored.len(), 600 * 1024);

    // 2. The server killed mid-body: the temp file stays until the next boot removes it.
    let (tx, upload) = start_upload("killed.bin");
    tx.send(Ok(vec![3u8; 300 * 1024])).await.unwrap();
    wait_for_temp().await;
    let mut child = s.child.take().unwrap();
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    drop(tx);
    assert!(
        upload.await.unwrap().is_err(),
        "an upload to a killed server cannot succeed"
    );
    assert_eq!(temp_files().len(), 1, "the killed upload's temp file");
    let env = std::mem::replace(&mut s.env, TestEnv::new(backend).await);
    let s = Server::start(env).await;
    assert!(temp_files().is_empty(), "boot left {:?}", temp_files());
    let (status, _) = s
        .request(
            "GET",
            "/api/files/attachments/killed.bin",
            &As::Bearer(token.clone()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    assert!(attachments.join("live.bin").is_file());
}
both_backends!(upload_temp_files_are_swept_but_never_one_in_flight);
