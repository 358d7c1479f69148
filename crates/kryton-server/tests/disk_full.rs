//! A full disk (issue 14, item 8): the server's data directory lives on a small tmpfs mounted by
//! the test (SQLite's database on it too), which the test then fills. Writes answer 507 naming the
//! volume and change nothing (no partial file, no new folder, no history entry); `/readyz` turns
//! degraded below `READY_MIN_FREE_BYTES` and when the volume is not writable; freeing space
//! brings everything back without a restart.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

/// A size-limited tmpfs, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size},mode=0700"), "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success(), "mounting a tmpfs needs root (CI runs as root)");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

fn free_bytes(dir: &Path) -> u64 {
    let s = rustix::fs::statvfs(dir).unwrap();
    s.f_bavail * s.f_frsize
}

/// Appends zeros to `file` until the volume has at most `leave` bytes free (0: until it is full).
fn fill(file: &Path, leave: u64) {
    let mut out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    let chunk = vec![0u8; 16 * 1024];
    let dir = file.parent().unwrap();
    loop {
        let free = free_bytes(dir);
        if leave > 0 && free <= leave {
            return;
        }
        let n = if leave > 0 {
            chunk.len().min((free - leave) as usize)
        } else {
            chunk.len()
        };
        match out.write_all(&chunk[..n.max(1)]) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::StorageFull => return,
            Err(e) => panic!("filling the volume: {e}"),
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            out.push(path);
        }
    }
    out.sort();
    out
}

async fn ready(s: &Server) -> (u16, Value) {
    s.request("GET", "/readyz", &As::Nobody, None).await
}

async fn full_volume_answers_507_and_changes_nothing(backend: Backend) {
    let volume = Tmpfs::mount("24m");
    let data = volume.path().join("data");
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    env.set_env("SAMPLE_VAULT", "off");
    env.set_env("DATA_DIR", data.to_str().unwrap());
    env.set_env("READY_MIN_FREE_BYTES", &(4 * 1024 * 1024).to_string());
    let s = Server::start(env).await;
    let (user, token) = s.sign_up("ann@example.org", "ann password", None).await;
    let me = As::Bearer(token);
    let vault = data.join("notes").join(&user);
    for content in ["first", "before"] {
        let (status, body) = s
            .request("PUT", "/api/notes/Keep.md", &me, Some(json!({ "content": content })))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = ready(&s).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["checks"]["notesVolume"]["writable"], true, "{body}");
    if backend == Backend::Sqlite {
        assert_eq!(body["checks"]["dataVolume"]["ok"], true, "{body}");
    }

    // Below the threshold but still writable: degraded, and writes still work.
    let filler = volume.path().join("filler");
    fill(&filler, 2 * 1024 * 1024);
    let (status, body) = ready(&s).await;
    assert_eq!(status, 503, "{body}");
    let notes = &body["checks"]["notesVolume"];
    assert_eq!(notes["ok"], false, "{body}");
    assert_eq!(notes["writable"], true, "{body}");
    assert!(notes["freeBytes"].as_u64().unwrap() < 4 * 1024 * 1024, "{body}");
    assert!(
        notes["message"].as_str().unwrap().contains("READY_MIN_FREE_BYTES"),
        "{body}"
    );

    // Full: every kind of write answers 507 naming the volume and changes nothing.
    fill(&filler, 0);
    let (status, body) = ready(&s).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["checks"]["notesVolume"]["writable"], false, "{body}");
    let before = walk(&vault);
    let history = s.request("GET", "/api/history/Keep.md", &me, None).await.1;
    let big = "x".repeat(256 * 1024);
    let attempts = [
        ("PUT", "/api/notes/Keep.md", json!({ "content": big })),
        (
            "POST",
            "/api/notes",
            json!({ "path": "New/Deep/Note.md", "content": big }),
        ),
        ("DELETE", "/api/notes/Keep.md", Value::Null),
        (
            "POST",
            "/api/notes-rename/Keep.md",
            json!({ "newPath": "Elsewhere/Kept.md" }),
        ),
    ];
    for (method, route, body) in attempts {
        let body = (!body.is_null()).then_some(body);
        let (status, answer) = s.request(method, route, &me, body).await;
        assert_eq!(status, 507, "{method} {route}: {answer}");
        assert_eq!(answer["code"], "INSUFFICIENT_STORAGE", "{answer}");
        assert!(answer["error"].as_str().unwrap().contains("NOTES_DIR"), "{answer}");
    }
    let upload = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(vec![7u8; 512 * 1024]).file_name("photo.png"),
    );
    let As::Bearer(bearer) = &me else { unreachable!() };
    let response = s
        .client
        .post(s.env.url("/api/files"))
        .bearer_auth(bearer)
        .multipart(upload)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 507, "{}", response.text().await.unwrap());
    let after: Vec<PathBuf> = walk(&vault)
        .into_iter()
        // An upload may leave its (empty) target folder; never a file.
        .filter(|p| !(p.ends_with("attachments") && p.is_dir()))
        .collect();
    assert_eq!(after, before, "a refused write left something behind");
    assert_eq!(std::fs::read_to_string(vault.join("Keep.md")).unwrap(), "before");
    assert_eq!(
        s.request("GET", "/api/history/Keep.md", &me, None).await.1,
        history,
        "a refused write changed the history"
    );
    // What the database itself does on a full volume (SQLite lives there): a success, or a 507
    // naming the data volume; never an opaque 500.
    let (status, answer) = s
        .request(
            "POST",
            "/api/api-keys",
            &me,
            Some(json!({ "name": "full", "scope": "read-only" })),
        )
        .await;
    assert!((200..300).contains(&status) || status == 507, "{status}: {answer}");
    if status == 507 {
        assert!(answer["error"].as_str().unwrap().contains("DATA_DIR"), "{answer}");
    }

    // Space again: ready, and the same write goes through, without a restart.
    std::fs::remove_file(&filler).unwrap();
    let (status, body) = ready(&s).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = s
        .request("PUT", "/api/notes/Keep.md", &me, Some(json!({ "content": "after" })))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(std::fs::read_to_string(vault.join("Keep.md")).unwrap(), "after");
    drop(s);
}
both_backends!(full_volume_answers_507_and_changes_nothing);
