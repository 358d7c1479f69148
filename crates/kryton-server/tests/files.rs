//! Per-user settings, files and images, and the first-run vault, through the real server on both
//! backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

async fn server(backend: Backend, env_vars: &[(&str, &str)]) -> Server {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    for (k, v) in env_vars {
        env.set_env(k, v);
    }
    Server::start(env).await
}

async fn user(s: &Server, email: &str) -> (String, As) {
    let (id, token) = s.sign_up(email, "a long password", None).await;
    (id, As::Bearer(token))
}

fn token(who: &As) -> &str {
    match who {
        As::Bearer(t) => t,
        _ => unreachable!(),
    }
}

fn vault_dir(s: &Server, user: &str) -> PathBuf {
    s.env.data_dir().join("notes").join(user)
}

/// Every entry (hidden ones included) under the user's attachments folder.
fn attachment_entries(s: &Server, user: &str) -> Vec<String> {
    let dir = vault_dir(s, user).join("attachments");
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries.map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    names
}

async fn upload(s: &Server, who: &As, name: &str, bytes: Vec<u8>) -> (u16, Value) {
    let part = reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned());
    let form = reqwest::multipart::Form::new().part("file", part);
    let response = s
        .client
        .post(s.env.url("/api/files"))
        .bearer_auth(token(who))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

async fn get(s: &Server, who: &As, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
    let mut request = s.client.get(s.env.url(path)).bearer_auth(token(who));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.send().await.unwrap()
}

/// Settings: string values per user, size-limited keys and values, isolated between users.
async fn settings(backend: Backend) {
    let s = server(backend, &[]).await;
    let (_, ann) = user(&s, "ann@example.org").await;
    let (_, bob) = user(&s, "bob@example.org").await;
    assert_eq!(s.request("GET", "/api/settings", &ann, None).await, (200, json!({})));
    let (status, body) = s
        .request("PUT", "/api/settings/theme", &ann, Some(json!({"value": "dark"})))
        .await;
    assert_eq!(
        (status, body),
        (
            200,
            json!({"key": "theme", "value": "dark", "message": "Setting updated"})
        )
    );
    s.request("PUT", "/api/settings/theme", &ann, Some(json!({"value": "light"})))
        .await;
    s.request(
        "PUT",
        "/api/settings/starred",
        &ann,
        Some(json!({"value": "[\"Welcome.md\"]"})),
    )
    .await;
    assert_eq!(
        s.request("GET", "/api/settings", &ann, None).await,
        (200, json!({"theme": "light", "starred": "[\"Welcome.md\"]"}))
    );
    assert_eq!(
        s.request("GET", "/api/settings", &bob, None).await,
        (200, json!({})),
        "another user sees none of them"
    );

    let bad: Vec<(String, Value)> = vec![
        ("/api/settings/bad%20key".to_owned(), json!({"value": "x"})),
        (format!("/api/settings/{}", "k".repeat(101)), json!({"value": "x"})),
        (
            "/api/settings/theme".to_owned(),
            json!({"value": "x".repeat(64 * 1024 + 1)}),
        ),
        ("/api/settings/theme".to_owned(), json!({"value": 3})),
        ("/api/settings/theme".to_owned(), json!({})),
    ];
    for (path, body) in bad {
        let (status, answer) = s.request("PUT", &path, &ann, Some(body)).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{path}"
        );
        assert!(answer["error"].is_string());
    }
    assert_eq!(
        s.request("GET", "/api/settings", &ann, None).await.1["theme"],
        "light",
        "refused writes change nothing"
    );
    // At most 200 keys; existing keys can still change.
    for i in 0..198 {
        let (status, _) = s
            .request("PUT", &format!("/api/settings/k{i}"), &ann, Some(json!({"value": "v"})))
            .await;
        assert_eq!(status, 200);
    }
    let (status, _) = s
        .request("PUT", "/api/settings/one-too-many", &ann, Some(json!({"value": "v"})))
        .await;
    assert_eq!(status, 400);
    let (status, _) = s
        .request("PUT", "/api/settings/theme", &ann, Some(json!({"value": "blue"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        s.request("GET", "/api/settings", &ann, None)
            .await
            .1
            .as_object()
            .unwrap()
            .len(),
        200
    );
}
both_backends!(settings);

/// A new user's vault: the sample notes, linked in the graph and backlinks, two templates.
async fn first_run_vault(backend: Backend) {
    let s = server(backend, &[]).await;
    let (_, ann) = user(&s, "ann@example.org").await;
    let today = time::OffsetDateTime::now_utc().date();
    let daily = format!(
        "Daily/{:04}-{:02}-{:02}.md",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    for path in [
        "Welcome.md",
        "Projects/First project.md",
        "Ideas/Small notes.md",
        daily.as_str(),
    ] {
        let (status, note) = s.request("GET", &format!("/api/notes/{path}"), &ann, None).await;
        assert_eq!(status, 200, "{path}: {note}");
    }
    assert_eq!(
        s.request("GET", "/api/templates", &ann, None).await.1,
        json!([{"name": "Daily", "path": "Templates/Daily.md"}, {"name": "Meeting", "path": "Templates/Meeting.md"}])
    );
    let (_, graph) = s.request("GET", "/api/graph", &ann, None).await;
    let edges = graph["edges"].to_string();
    for (from, to) in [
        ("Welcome.md", "Projects/First project.md"),
        ("Projects/First project.md", "Ideas/Small notes.md"),
        (daily.as_str(), "Welcome.md"),
    ] {
        assert!(
            edges.contains(&format!("\"fromPath\":\"{from}\"")) && edges.contains(&format!("\"toPath\":\"{to}\"")),
            "{from} -> {to} in {edges}"
        );
    }
    assert_eq!(graph["broken"], json!([]), "every sample link resolves");
    let (_, back) = s
        .request("GET", "/api/backlinks/Projects/First project", &ann, None)
        .await;
    let back = back.to_string();
    assert!(
        back.contains("Welcome.md") && back.contains("Ideas/Small notes.md"),
        "{back}"
    );
    // The daily note exists already: asking for today's answers it without creating.
    let (status, _) = s.request("POST", "/api/daily", &ann, None).await;
    assert_eq!(status, 200);
    // Templates are per user and case-correct on disk.
    let (bob_id, _) = user(&s, "bob@example.org").await;
    assert!(vault_dir(&s, &bob_id).join("Templates/Meeting.md").is_file());
    assert!(vault_dir(&s, &bob_id).join("Daily").is_dir());
}
both_backends!(first_run_vault);

const PNG: &[u8] = b"\x89PNG\r\n\x1a\n0123456789abcdefghijklmnopqrstuvwxyz";

/// Upload, serve with type, ETag and ranges; SVG as a download; names refused as for notes;
/// another user sees nothing; delete to the trash and back.
async fn upload_and_serve(backend: Backend) {
    let s = server(backend, &[]).await;
    let (ann_id, ann) = user(&s, "ann@example.org").await;
    let (_, bob) = user(&s, "bob@example.org").await;

    let (status, stored) = upload(&s, &ann, "photo.png", PNG.to_vec()).await;
    assert_eq!(status, 200, "{stored}");
    assert_eq!(
        stored,
        json!({"path": "attachments/photo.png", "url": "/api/files/attachments/photo.png"})
    );
    assert_eq!(
        std::fs::read(vault_dir(&s, &ann_id).join("attachments/photo.png")).unwrap(),
        PNG
    );
    let (_, again) = upload(&s, &ann, "photo.png", b"other".to_vec()).await;
    assert_eq!(
        again["path"], "attachments/photo-2.png",
        "a taken name is never overwritten"
    );
    let (_, spaced) = upload(&s, &ann, "my scan.pdf", b"%PDF-1.4".to_vec()).await;
    assert_eq!(spaced["url"], "/api/files/attachments/my%20scan.pdf");

    let response = get(&s, &ann, "/api/files/attachments/photo.png", &[]).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "image/png");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("inline"));
    assert_eq!(headers["accept-ranges"], "bytes");
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert_eq!(response.bytes().await.unwrap().as_ref(), PNG);
    let cached = get(
        &s,
        &ann,
        "/api/files/attachments/photo.png",
        &[("if-none-match", &etag)],
    )
    .await;
    assert_eq!(cached.status(), 304);
    let ranged = get(&s, &ann, "/api/files/attachments/photo.png", &[("range", "bytes=8-17")]).await;
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], format!("bytes 8-17/{}", PNG.len()));
    assert_eq!(ranged.bytes().await.unwrap().as_ref(), &PNG[8..18]);
    // `![[photo.png]]` as the original web client requests it: by bare name.
    let by_name = get(&s, &ann, "/api/files/photo.png", &[]).await;
    assert_eq!(by_name.status(), 200);
    assert_eq!(by_name.bytes().await.unwrap().as_ref(), PNG);

    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>".to_vec();
    let (_, stored_svg) = upload(&s, &ann, "draw.svg", svg).await;
    let served = get(&s, &ann, stored_svg["url"].as_str().unwrap(), &[]).await;
    assert!(
        served.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    assert!(
        served.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("sandbox")
    );

    // Path attacks and bad names: 400, nothing written.
    let before = attachment_entries(&s, &ann_id);
    for name in [
        "../evil.png",
        "..",
        ".hidden.png",
        "a\\b.png",
        "con.png",
        "note.md",
        "x/../../y.png",
    ] {
        let (status, answer) = upload(&s, &ann, name, b"x".to_vec()).await;
        assert_eq!(status, 400, "{name}: {answer}");
        assert!(answer["error"].is_string());
    }
    assert_eq!(attachment_entries(&s, &ann_id), before);
    assert!(!vault_dir(&s, &ann_id).join("evil.png").exists());
    for path in [
        "/api/files/..%2F..%2Fetc%2Fpasswd",
        "/api/files/.trash/x.png",
        "/api/files/.kryton.lock",
    ] {
        let status = get(&s, &ann, path, &[]).await.status().as_u16();
        assert!(status == 400 || status == 404, "{path}: {status}");
    }
    let form = reqwest::multipart::Form::new().text("other", "x");
    let response = s
        .client
        .post(s.env.url("/api/files"))
        .bearer_auth(token(&ann))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400, "no file field");

    // Isolation.
    assert_eq!(
        get(&s, &bob, "/api/files/attachments/photo.png", &[]).await.status(),
        404
    );
    let (status, _) = s
        .request("DELETE", "/api/files/attachments/photo.png", &bob, None)
        .await;
    assert_eq!(status, 404);

    // Trash and back.
    let (status, trashed) = s
        .request("DELETE", "/api/files/attachments/photo.png", &ann, None)
        .await;
    assert_eq!(status, 200, "{trashed}");
    assert_eq!(
        get(&s, &ann, "/api/files/attachments/photo.png", &[]).await.status(),
        404
    );
    let (_, trash) = s.request("GET", "/api/trash", &ann, None).await;
    assert!(trash.to_string().contains("attachments/photo.png"), "{trash}");
    let trash_path = trashed["trashPath"].as_str().unwrap().to_owned();
    let (status, restored) = s
        .request("POST", &format!("/api/trash/restore/{trash_path}"), &ann, None)
        .await;
    assert_eq!(status, 200, "{restored}");
    let back = get(&s, &ann, "/api/files/attachments/photo.png", &[]).await;
    assert_eq!(back.bytes().await.unwrap().as_ref(), PNG);
}
both_backends!(upload_and_serve);

/// Over MAX_UPLOAD_BYTES: 413, and nothing (not even a temporary file) is left on disk.
async fn upload_limit(backend: Backend) {
    let s = server(backend, &[("MAX_UPLOAD_BYTES", "1048576")]).await;
    let (ann_id, ann) = user(&s, "ann@example.org").await;
    let (status, ok) = upload(&s, &ann, "fits.bin", vec![7u8; 1024 * 1024]).await;
    assert_eq!(status, 200, "{ok}");
    let before = attachment_entries(&s, &ann_id);
    let (status, answer) = upload(&s, &ann, "big.bin", vec![7u8; 1024 * 1024 + 200 * 1024]).await;
    assert_eq!(
        (status, answer["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE")),
        "{answer}"
    );
    assert_eq!(attachment_entries(&s, &ann_id), before, "nothing left behind");
}
both_backends!(upload_limit);

fn rss_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap()
        .parse()
        .unwrap()
}

/// A 300 MB upload streams to disk: the server's peak memory grows by far less than the file.
async fn large_upload_keeps_memory_flat(backend: Backend) {
    const SIZE: usize = 300 * 1024 * 1024;
    const CHUNK: usize = 1024 * 1024;
    let s = server(backend, &[("MAX_UPLOAD_BYTES", "400000000")]).await;
    let (ann_id, ann) = user(&s, "ann@example.org").await;
    let pid = s.child.as_ref().unwrap().id().unwrap();
    // Warm the upload path once so its one-time allocations are in the baseline.
    upload(&s, &ann, "warm.bin", vec![1u8; CHUNK]).await;
    let baseline = rss_kib(pid, "VmHWM:");
    let chunks =
        futures_util::stream::iter((0..SIZE / CHUNK).map(|i| Ok::<_, std::io::Error>(vec![(i % 251) as u8; CHUNK])));
    let part = reqwest::multipart::Part::stream_with_length(reqwest::Body::wrap_stream(chunks), SIZE as u64)
        .file_name("big.bin");
    let response = s
        .client
        .post(s.env.url("/api/files"))
        .bearer_auth(token(&ann))
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .timeout(std::time::Duration::from_secs(300))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let peak = rss_kib(pid, "VmHWM:");
    let file = vault_dir(&s, &ann_id).join("attachments/big.bin");
    assert_eq!(std::fs::metadata(&file).unwrap().len(), SIZE as u64);
    let grew_mib = (peak.saturating_sub(baseline)) / 1024;
    assert!(grew_mib < 64, "peak RSS grew by {grew_mib} MiB for a 300 MiB upload");
    std::fs::remove_file(file).unwrap();
}
both_backends!(large_upload_keeps_memory_flat);

/// Canvas documents: create, list, read, update, delete (to the trash), validation, isolation.
async fn canvas_crud(backend: Backend) {
    let s = server(backend, &[]).await;
    let (ann_id, ann) = user(&s, "ann@example.org").await;
    let (_, bob) = user(&s, "bob@example.org").await;
    assert_eq!(s.request("GET", "/api/canvas", &ann, None).await, (200, json!([])));
    let (status, made) = s
        .request("POST", "/api/canvas", &ann, Some(json!({"name": "plan"})))
        .await;
    assert_eq!(
        (status, made),
        (201, json!({"name": "plan.canvas", "message": "Canvas file created"}))
    );
    assert_eq!(
        s.request("GET", "/api/canvas/plan", &ann, None).await,
        (200, json!({"nodes": [], "edges": []}))
    );
    let (status, _) = s
        .request("POST", "/api/canvas", &ann, Some(json!({"name": "plan"})))
        .await;
    assert_eq!(status, 409);
    let doc = json!({
        "nodes": [
            {"id": "a", "type": "text", "text": "Hello", "x": 0, "y": 0, "width": 200, "height": 100},
            {"id": "b", "type": "file", "file": "Welcome.md", "x": 300, "y": 0, "width": 200, "height": 100, "color": "2"},
            {"id": "g", "type": "group", "x": -10, "y": -10, "width": 600, "height": 200, "label": "G"}
        ],
        "edges": [{"id": "e", "fromNode": "a", "toNode": "b", "fromSide": "right", "toEnd": "arrow"}]
    });
    let (status, updated) = s.request("PUT", "/api/canvas/plan", &ann, Some(doc.clone())).await;
    assert_eq!(
        (status, updated["message"].as_str()),
        (200, Some("Canvas file updated"))
    );
    assert_eq!(s.request("GET", "/api/canvas/plan.canvas", &ann, None).await.1, doc);
    let on_disk: Value =
        serde_json::from_slice(&std::fs::read(vault_dir(&s, &ann_id).join("Canvas/plan.canvas")).unwrap()).unwrap();
    assert_eq!(on_disk, doc);
    assert_eq!(s.request("GET", "/api/canvas", &ann, None).await.1, json!(["plan"]));

    let bad = [
        json!([]),
        json!({"nodes": {}}),
        json!({"nodes": [{"id": "a", "type": "text", "x": 0, "y": 0, "width": 1, "height": 1}]}),
        json!({"nodes": [{"id": "a", "type": "blob", "x": 0, "y": 0, "width": 1, "height": 1}]}),
        json!({"nodes": [{"id": "a", "type": "group", "x": "0", "y": 0, "width": 1, "height": 1}]}),
        json!({"nodes": [
            {"id": "a", "type": "group", "x": 0, "y": 0, "width": 1, "height": 1},
            {"id": "a", "type": "group", "x": 0, "y": 0, "width": 1, "height": 1}]}),
        json!({"nodes": [], "edges": [{"id": "e", "fromNode": "x", "toNode": "y"}]}),
        json!({"nodes": [{"id": "a", "type": "group", "x": 0, "y": 0, "width": 1, "height": 1}],
               "edges": [{"id": "e", "fromNode": "a", "toNode": "a", "toSide": "middle"}]}),
    ];
    for doc in bad {
        let (status, answer) = s.request("PUT", "/api/canvas/plan", &ann, Some(doc.clone())).await;
        assert_eq!(
            (status, answer["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{doc}"
        );
    }
    assert_eq!(
        on_disk,
        {
            let (_, now) = s.request("GET", "/api/canvas/plan", &ann, None).await;
            now
        },
        "refused writes change nothing"
    );
    for name in ["..", ".hidden", "con"] {
        let (status, _) = s
            .request("POST", "/api/canvas", &ann, Some(json!({"name": name})))
            .await;
        assert_eq!(status, 400, "{name}");
    }
    assert_eq!(s.request("GET", "/api/canvas/plan", &bob, None).await.0, 404);
    assert_eq!(s.request("GET", "/api/canvas", &bob, None).await.1, json!([]));

    let (status, gone) = s.request("DELETE", "/api/canvas/plan", &ann, None).await;
    assert_eq!((status, gone), (200, json!({"message": "Canvas file deleted"})));
    assert_eq!(s.request("GET", "/api/canvas/plan", &ann, None).await.0, 404);
    assert_eq!(s.request("DELETE", "/api/canvas/plan", &ann, None).await.0, 404);
    let (_, trash) = s.request("GET", "/api/trash", &ann, None).await;
    assert!(trash.to_string().contains("Canvas/plan.canvas"), "{trash}");
}
both_backends!(canvas_crud);

/// A backup taken while serving carries attachments and settings; a restore into a fresh
/// installation serves them again.
async fn backup_and_restore(backend: Backend) {
    let mut s = server(backend, &[]).await;
    let (_, ann) = user(&s, "ann@example.org").await;
    let (status, _) = upload(&s, &ann, "photo.png", PNG.to_vec()).await;
    assert_eq!(status, 200);
    s.request("PUT", "/api/settings/theme", &ann, Some(json!({"value": "dark"})))
        .await;
    let archive = s.env.dir.path().join("out").join("backup.tar.gz");
    s.env
        .run(&["backup", "--out", archive.to_str().unwrap()])
        .await
        .assert_code(0);
    s.stop().await;

    let mut fresh = TestEnv::new(backend).await;
    fresh.set_env("REGISTRATION_MODE", "open");
    fresh.run(&["restore", archive.to_str().unwrap()]).await.assert_code(0);
    let restored = Server::start(fresh).await;
    let (status, signed_in) = restored
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": "ann@example.org", "password": "a long password"})),
        )
        .await;
    assert_eq!(status, 200, "{signed_in}");
    let ann = As::Bearer(signed_in["session"]["token"].as_str().unwrap().to_owned());
    assert_eq!(
        restored.request("GET", "/api/settings", &ann, None).await.1,
        json!({"theme": "dark"})
    );
    let file = get(&restored, &ann, "/api/files/attachments/photo.png", &[]).await;
    assert_eq!(file.status(), 200);
    assert_eq!(file.bytes().await.unwrap().as_ref(), PNG);
}
both_backends!(backup_and_restore);
