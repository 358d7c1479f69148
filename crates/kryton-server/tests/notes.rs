//! Notes through the real server on both backends: CRUD with ETags, links, tags, search,
//! history, trash, daily notes, path attacks, crash consistency, concurrency, scopes, isolation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

fn code(body: &Value) -> &str {
    body["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error envelope: {body}"))
}

/// A server with one signed-up user; returns (server, user id, session credential).
async fn with_user(backend: Backend) -> (Server, String, As) {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    let s = Server::start(env).await;
    let (id, token) = s.sign_up("ann@example.org", "ann password", None).await;
    (s, id, As::Bearer(token))
}

fn vault_dir(s: &Server, user: &str) -> PathBuf {
    s.env.data_dir().join("notes").join(user)
}

async fn create(s: &Server, who: &As, path: &str, content: &str) -> String {
    let (status, body) = s
        .request(
            "POST",
            "/api/notes",
            who,
            Some(json!({"path": path, "content": content})),
        )
        .await;
    assert_eq!(status, 201, "create {path}: {body}");
    body["etag"].as_str().unwrap().to_owned()
}

/// Create, read with an ETag, update with If-Match (stale -> 412, the newer content survives),
/// delete to the trash; a new user gets a welcome note.
async fn crud_with_etags(backend: Backend) {
    let (s, user, me) = with_user(backend).await;
    let (_, tree) = s.request("GET", "/api/notes", &me, None).await;
    assert!(
        tree.as_array().unwrap().iter().any(|n| n["path"] == "Welcome.md"),
        "new users get a welcome note: {tree}"
    );

    let etag = create(&s, &me, "Projects/Plan", "# The plan\nfirst").await;
    assert!(
        vault_dir(&s, &user).join("Projects/Plan.md").exists(),
        ".md is appended"
    );
    let response = s
        .client
        .get(s.env.url("/api/notes/Projects/Plan.md"))
        .bearer_auth(token(&me))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["etag"].to_str().unwrap(), format!("\"{etag}\""));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["title"], "The plan");
    assert_eq!(body["content"], "# The plan\nfirst");

    // Creating over an existing note only with the safe form: If-None-Match: * refuses (a plain
    // POST would overwrite, as the original's does; see tests/compat.rs).
    let response = s
        .client
        .post(s.env.url("/api/notes"))
        .bearer_auth(token(&me))
        .header("if-none-match", "*")
        .json(&json!({"path": "Projects/Plan", "content": "x"}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_eq!((status, code(&body)), (412, "PRECONDITION_FAILED"));

    let update = |content: &str, if_match: Option<&str>| {
        let mut request = s
            .client
            .put(s.env.url("/api/notes/Projects/Plan"))
            .bearer_auth(token(&me))
            .json(&json!({"content": content}));
        if let Some(tag) = if_match {
            request = request.header("if-match", format!("\"{tag}\""));
        }
        async move {
            let r = request.send().await.unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    let (status, second) = update("# The plan\nsecond", Some(&etag)).await;
    assert_eq!(status, 200, "{second}");
    let (status, stale) = update("# The plan\nstale write", Some(&etag)).await;
    assert_eq!((status, code(&stale)), (412, "PRECONDITION_FAILED"));
    assert_eq!(stale["details"]["currentEtag"], second["etag"]);
    let (_, now) = s.request("GET", "/api/notes/Projects/Plan", &me, None).await;
    assert_eq!(now["content"], "# The plan\nsecond", "the newer content survives");

    let (status, body) = s.request("DELETE", "/api/notes/Projects/Plan", &me, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.request("GET", "/api/notes/Projects/Plan", &me, None).await.0, 404);
    let (_, trash) = s.request("GET", "/api/trash", &me, None).await;
    assert_eq!(trash[0]["originalPath"], "Projects/Plan.md");
}
both_backends!(crud_with_etags);

fn token(who: &As) -> String {
    match who {
        As::Bearer(t) => t.clone(),
        _ => panic!("bearer only"),
    }
}

/// Links, backlinks, graph, tags, search; renaming rewrites links; deleted or moved notes are no
/// longer found at their old path.
async fn knowledge(backend: Backend) {
    let (s, _, me) = with_user(backend).await;
    create(
        &s,
        &me,
        "Ideas/Garden",
        "---\ntags: [botany, outdoors]\n---\n# Garden ideas\nTomatoes and basil.",
    )
    .await;
    create(
        &s,
        &me,
        "Journal",
        "Met about the [[Garden]] today. #life/daily\n```\n[[NotALink]] #notatag\n```",
    )
    .await;
    create(
        &s,
        &me,
        "Links",
        "[[Ideas/Garden|the garden]] and [[Missing note]] and ![[photo.png]]",
    )
    .await;

    let (_, back) = s.request("GET", "/api/backlinks/Ideas/Garden", &me, None).await;
    let sources: Vec<&str> = back
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["path"].as_str().unwrap())
        .collect();
    assert_eq!(sources, vec!["Journal.md", "Links.md"]);

    let (_, graph) = s.request("GET", "/api/graph", &me, None).await;
    let broken: Vec<&str> = graph["broken"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["target"].as_str().unwrap())
        .collect();
    assert_eq!(
        broken,
        vec!["Missing note"],
        "code blocks and attachments are not broken links"
    );
    let orphan = |id: &str| {
        graph["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["path"] == id)
            .unwrap()["orphan"]
            .clone()
    };
    assert_eq!(orphan("Ideas/Garden.md"), json!(false));

    let (_, tags) = s.request("GET", "/api/tags", &me, None).await;
    let tags: Vec<&str> = tags
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tag"].as_str().unwrap())
        .collect();
    assert!(
        tags.contains(&"botany") && tags.contains(&"life/daily") && !tags.contains(&"notatag"),
        "{tags:?}"
    );
    let (_, nested) = s.request("GET", "/api/tags/life/notes", &me, None).await;
    assert_eq!(nested[0]["path"], "Journal.md", "nested tags are found by their parent");

    let search = |q: &str| {
        let (path, s, me) = (format!("/api/search?q={}", urlencode(q)), &s, &me);
        async move { s.request("GET", &path, me, None).await }
    };
    let (_, found) = search("tomatoes").await;
    assert_eq!(found[0]["path"], "Ideas/Garden.md");
    assert!(found[0]["snippet"].as_str().unwrap().contains("<mark>Tomatoes</mark>"));
    assert_eq!(search("botany").await.1[0]["path"], "Ideas/Garden.md", "by tag");
    assert_eq!(search("garden ideas").await.1[0]["path"], "Ideas/Garden.md", "by title");
    assert_eq!(search("toma*").await.1.as_array().unwrap().len(), 1, "prefix");
    assert_eq!(search("\"and basil\"").await.1.as_array().unwrap().len(), 1, "phrase");
    for hostile in [
        "\"",
        "a AND",
        "*",
        "(",
        "NEAR(",
        "'; DROP TABLE notes; --",
        "ü",
        "a:b",
        "-x",
        "tomatoes!!!&|",
    ] {
        let (status, body) = search(hostile).await;
        assert_eq!(status, 200, "{hostile}: {body}");
    }
    assert_eq!(s.request("GET", "/api/search?q=a&limit=0", &me, None).await.0, 400);

    // Rename: links follow.
    let (status, renamed) = s
        .request(
            "POST",
            "/api/notes-rename/Ideas/Garden",
            &me,
            Some(json!({"newPath": "Outdoors/Vegetables"})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["rewritten"].as_array().unwrap().len(), 2);
    let (_, journal) = s.request("GET", "/api/notes/Journal", &me, None).await;
    assert!(
        journal["content"].as_str().unwrap().contains("[[Vegetables]]"),
        "{journal}"
    );
    let (_, links) = s.request("GET", "/api/notes/Links", &me, None).await;
    assert!(
        links["content"]
            .as_str()
            .unwrap()
            .contains("[[Outdoors/Vegetables|the garden]]"),
        "{links}"
    );
    assert_eq!(search("tomatoes").await.1[0]["path"], "Outdoors/Vegetables.md");
    let (_, back) = s.request("GET", "/api/backlinks/Outdoors/Vegetables", &me, None).await;
    assert_eq!(back.as_array().unwrap().len(), 2);

    s.request("DELETE", "/api/notes/Outdoors/Vegetables", &me, None).await;
    assert_eq!(
        search("tomatoes").await.1.as_array().unwrap().len(),
        0,
        "a deleted note is not found"
    );
}
both_backends!(knowledge);

fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// History restore, trash restore into an occupied path, daily note idempotence, templates.
async fn history_trash_daily(backend: Backend) {
    let (s, user, me) = with_user(backend).await;
    let mut etag = create(&s, &me, "Log", "v1").await;
    for v in ["v2", "v3"] {
        let r = s
            .client
            .put(s.env.url("/api/notes/Log"))
            .bearer_auth(token(&me))
            .header("if-match", &etag)
            .json(&json!({"content": v}))
            .send()
            .await
            .unwrap();
        etag = r.json::<Value>().await.unwrap()["etag"].as_str().unwrap().to_owned();
    }
    let (_, history) = s.request("GET", "/api/history/Log", &me, None).await;
    let versions = history["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2, "{history}");
    let oldest = versions.last().unwrap()["timestamp"].as_u64().unwrap();
    let (_, old) = s
        .request("GET", &format!("/api/history-version/Log?ts={oldest}"), &me, None)
        .await;
    assert_eq!(old["content"], "v1");
    let (status, _) = s
        .request("POST", &format!("/api/history-restore/Log?ts={oldest}"), &me, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.request("GET", "/api/notes/Log", &me, None).await.1["content"], "v1");
    assert_eq!(
        s.request("GET", "/api/history-version/Log?ts=nope", &me, None).await.0,
        400
    );

    // Trash restore into an occupied path picks a free name.
    s.request("DELETE", "/api/notes/Log", &me, None).await;
    create(&s, &me, "Log", "a new log").await;
    let (_, trash) = s.request("GET", "/api/trash", &me, None).await;
    let trash_path = trash[0]["path"].as_str().unwrap().to_owned();
    let (status, restored) = s
        .request("POST", &format!("/api/trash/restore/{trash_path}"), &me, None)
        .await;
    assert_eq!(status, 200, "{restored}");
    let restored_path = restored["path"].as_str().unwrap().to_owned();
    assert_ne!(restored_path, "Log.md");
    assert_eq!(
        s.request("GET", &format!("/api/notes/{restored_path}"), &me, None)
            .await
            .1["content"],
        "v1"
    );
    assert_eq!(
        s.request("GET", "/api/notes/Log", &me, None).await.1["content"],
        "a new log"
    );
    s.request("DELETE", "/api/notes/Log", &me, None).await;
    let (status, emptied) = s.request("DELETE", "/api/trash-empty", &me, None).await;
    assert_eq!((status, emptied["deleted"].as_u64()), (200, Some(1)));

    // Daily notes from a template, idempotent.
    // The sample vault brings a Daily template; this test writes its own.
    let (status, _) = s
        .request(
            "PUT",
            "/api/notes/Templates/Daily",
            &me,
            Some(json!({"content": "# {{date}}\n- [ ] plan"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, templates) = s.request("GET", "/api/templates", &me, None).await;
    assert_eq!(
        templates,
        json!([{"name": "Daily", "path": "Templates/Daily.md"}, {"name": "Meeting", "path": "Templates/Meeting.md"}])
    );
    let (status, first) = s
        .request("POST", "/api/daily", &me, Some(json!({"date": "2026-11-27"})))
        .await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["path"], "Daily/2026-11-27.md");
    assert!(first["content"].as_str().unwrap().starts_with("# 2026-11-27"));
    s.request(
        "PUT",
        "/api/notes/Daily/2026-11-27",
        &me,
        Some(json!({"content": "# 2026-11-27\nwritten"})),
    )
    .await;
    let (status, again) = s
        .request("POST", "/api/daily", &me, Some(json!({"date": "2026-11-27"})))
        .await;
    assert_eq!(
        (status, again["content"].as_str()),
        (200, Some("# 2026-11-27\nwritten")),
        "the second call changes nothing"
    );
    assert_eq!(
        s.request("POST", "/api/daily", &me, Some(json!({"date": "27/11/2026"})))
            .await
            .0,
        400
    );
    assert!(vault_dir(&s, &user).join("Daily/2026-11-27.md").exists());
}
both_backends!(history_trash_daily);

/// Every path attack gets a 400 and changes nothing on disk.
async fn path_attacks(backend: Backend) {
    let (s, user, me) = with_user(backend).await;
    create(&s, &me, "Safe", "untouched").await;
    let outside = s.env.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("secret.md"), "secret").unwrap();
    std::os::unix::fs::symlink(&outside, vault_dir(&s, &user).join("escape")).unwrap();
    let before = common::snapshot(&s.env.data_dir().join("notes"));
    let attacks = [
        "..%2F..%2Fetc%2Fpasswd",
        "a%2F..%2F..%2Fb",
        "%2Fetc%2Fpasswd",
        "a%5C..%5Cb",
        "a%00b",
        "a%0Ab",
        "CON",
        "folder%2Fnul.md",
        ".history%2FSafe.md",
        ".trash%2Fx",
        "a%2F%2Fb",
        "trailing.%2Fx",
        "escape%2Fsecret",
        &"x".repeat(300),
        &"ab%2F".repeat(200).to_string(),
    ];
    for attack in attacks {
        for (method, body) in [
            ("GET", None),
            ("PUT", Some(json!({"content": "pwned"}))),
            ("DELETE", None),
        ] {
            let (status, answer) = s.request(method, &format!("/api/notes/{attack}"), &me, body).await;
            assert_eq!(status, 400, "{method} {attack}: {answer}");
            assert_eq!(code(&answer), "VALIDATION_ERROR");
        }
        let (status, _) = s
            .request(
                "POST",
                "/api/notes",
                &me,
                Some(json!({"path": decode(attack), "content": "pwned"})),
            )
            .await;
        assert_eq!(status, 400, "POST {attack}");
    }
    let (status, _) = s
        .request(
            "POST",
            "/api/notes-rename/Safe",
            &me,
            Some(json!({"newPath": "../../evil"})),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        common::snapshot(&s.env.data_dir().join("notes")),
        before,
        "nothing changed on disk"
    );
    assert_eq!(std::fs::read_to_string(outside.join("secret.md")).unwrap(), "secret");
}
both_backends!(path_attacks);

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&text[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A file written while the server was down, and an index row deleted by hand, are both found by
/// the boot reconcile; `kryton reindex` on an untouched vault changes nothing.
async fn crash_consistency(backend: Backend) {
    let (mut s, user, me) = with_user(backend).await;
    create(&s, &me, "Indexed", "zebra crossing").await;
    s.stop().await;
    std::fs::write(
        vault_dir(&s, &user).join("Behind the back.md"),
        "written by another editor: quokka",
    )
    .unwrap();
    let db = s.env.db().await;
    match &db {
        common::Db::Pg(p) => drop(
            sqlx::query("DELETE FROM notes WHERE path = 'Indexed.md'")
                .execute(p)
                .await
                .unwrap(),
        ),
        common::Db::Lite(p) => drop(
            sqlx::query("DELETE FROM notes WHERE path = 'Indexed.md'")
                .execute(p)
                .await
                .unwrap(),
        ),
    }
    db.close().await;
    let s = Server::start(std::mem::replace(&mut s.env, TestEnv::new(backend).await)).await;
    let found = |q: &'static str| {
        let (path, s, me) = (format!("/api/search?q={q}"), &s, &me);
        async move { s.request("GET", &path, me, None).await }
    };
    assert_eq!(found("quokka").await.1[0]["path"], "Behind the back.md");
    assert_eq!(found("zebra").await.1[0]["path"], "Indexed.md");
    let run = s.env.run(&["reindex"]).await;
    run.assert_code(0);
    let report: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert_eq!(
        (
            report["added"].as_u64(),
            report["updated"].as_u64(),
            report["removed"].as_u64()
        ),
        (Some(0), Some(0), Some(0)),
        "{report}"
    );
    // The six notes of the first-run vault, Indexed and Behind the back.
    assert_eq!(report["unchanged"], 8, "{report}");
}
both_backends!(crash_consistency);

/// Two server processes over the same NOTES_DIR and PostgreSQL: concurrent read-modify-write
/// cycles with If-Match never lose an update.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_lost_updates_across_two_processes() {
    let (s, _, me) = with_user(Backend::Postgres).await;
    create(&s, &me, "Counter", "0").await;
    let mut second_env = TestEnv::new(Backend::Sqlite).await;
    // The second process shares the first one's database and data directory.
    second_env.set_env("POSTGRES_URL", &s.env.postgres_url().unwrap());
    second_env.set_env("DATA_DIR", &s.env.data_dir().display().to_string());
    let mut second = Server::start(second_env).await;
    let bases = [s.env.url(""), second.env.url("")];
    let mut workers = Vec::new();
    for worker in 0..4 {
        let base = bases[worker % 2].clone();
        let token = token(&me);
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut done = 0;
            while done < 10 {
                let r = client
                    .get(format!("{base}/api/notes/Counter"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                let etag = r.headers()["etag"].to_str().unwrap().to_owned();
                let n: u64 = r.json::<Value>().await.unwrap()["content"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let put = client
                    .put(format!("{base}/api/notes/Counter"))
                    .bearer_auth(&token)
                    .header("if-match", etag)
                    .json(&json!({"content": (n + 1).to_string()}))
                    .send()
                    .await
                    .unwrap();
                match put.status().as_u16() {
                    200 => done += 1,
                    412 => {}
                    other => panic!("unexpected {other}"),
                }
            }
        }));
    }
    for w in workers {
        w.await.unwrap();
    }
    let (_, counter) = s.request("GET", "/api/notes/Counter", &me, None).await;
    assert_eq!(counter["content"], "40", "every successful write counted exactly once");
    second.stop().await;
}

/// A read-only key reads everything and writes nothing; a read-write key writes.
async fn key_scopes(backend: Backend) {
    let (s, user, me) = with_user(backend).await;
    create(&s, &me, "Note", "hello #tag [[Welcome]]").await;
    let key = |scope: &str| {
        s.request(
            "POST",
            "/api/api-keys",
            &me,
            Some(json!({"name": scope, "scope": scope})),
        )
    };
    let read_only = As::Bearer(key("read-only").await.1["key"].as_str().unwrap().to_owned());
    let read_write = As::Bearer(key("read-write").await.1["key"].as_str().unwrap().to_owned());
    for path in [
        "/api/notes",
        "/api/notes/Note",
        "/api/search?q=hello",
        "/api/backlinks/Welcome",
        "/api/graph",
        "/api/tags",
        "/api/tags/tag/notes",
        "/api/history/Note",
        "/api/trash",
        "/api/templates",
    ] {
        assert_eq!(s.request("GET", path, &read_only, None).await.0, 200, "{path}");
    }
    let before = common::snapshot(&vault_dir(&s, &user));
    let writes: Vec<(&str, &str, Option<Value>)> = vec![
        ("POST", "/api/notes", Some(json!({"path": "New", "content": "x"}))),
        ("PUT", "/api/notes/Note", Some(json!({"content": "changed"}))),
        ("DELETE", "/api/notes/Note", None),
        ("POST", "/api/notes-rename/Note", Some(json!({"newPath": "Moved"}))),
        ("POST", "/api/folders", Some(json!({"path": "F"}))),
        ("DELETE", "/api/trash-empty", None),
        ("POST", "/api/daily", None),
        ("POST", "/api/history-restore/Note?ts=1", None),
    ];
    for (method, path, body) in &writes {
        let (status, answer) = s.request(method, path, &read_only, body.clone()).await;
        assert_eq!((status, code(&answer)), (403, "FORBIDDEN"), "{method} {path}");
    }
    assert_eq!(
        common::snapshot(&vault_dir(&s, &user)),
        before,
        "a read-only key changed nothing"
    );
    let (status, _) = s
        .request(
            "PUT",
            "/api/notes/Note",
            &read_write,
            Some(json!({"content": "changed by agent"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        s.request(
            "POST",
            "/api/notes",
            &read_write,
            Some(json!({"path": "From agent", "content": "x"}))
        )
        .await
        .0,
        201
    );
}
both_backends!(key_scopes);

/// One user's session or key never reads or changes another user's notes, even with the same path.
async fn isolation(backend: Backend) {
    let (s, alice_id, alice) = with_user(backend).await;
    let (_, bob) = s.sign_up("bob@example.org", "bob password", None).await;
    let bob = As::Bearer(bob);
    let bob_key = As::Bearer(
        s.request(
            "POST",
            "/api/api-keys",
            &bob,
            Some(json!({"name": "k", "scope": "read-write"})),
        )
        .await
        .1["key"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    create(&s, &alice, "Diary", "alice's secret unicorn").await;
    let alice_before = common::snapshot(&vault_dir(&s, &alice_id));
    for who in [&bob, &bob_key] {
        assert_eq!(s.request("GET", "/api/notes/Diary", who, None).await.0, 404);
        assert_eq!(
            s.request("GET", "/api/history/Diary", who, None).await.1["versions"],
            json!([])
        );
        let (_, found) = s.request("GET", "/api/search?q=unicorn", who, None).await;
        assert_eq!(found, json!([]));
        let (_, graph) = s.request("GET", "/api/graph", who, None).await;
        assert!(!graph.to_string().contains("Diary"));
        // Bob's own note at the same path is a different note.
        assert_eq!(
            s.request("PUT", "/api/notes/Diary", who, Some(json!({"content": "bob was here"})))
                .await
                .0,
            200
        );
        let (status, _) = s
            .request(
                "POST",
                "/api/notes-rename/Diary",
                who,
                Some(json!({"newPath": "Bob's diary"})),
            )
            .await;
        assert_eq!(status, 200);
        assert_eq!(s.request("DELETE", "/api/notes/Bob's diary", who, None).await.0, 200);
    }
    assert_eq!(
        common::snapshot(&vault_dir(&s, &alice_id)),
        alice_before,
        "alice's vault is untouched"
    );
    let (_, mine) = s.request("GET", "/api/notes/Diary", &alice, None).await;
    assert_eq!(mine["content"], "alice's secret unicorn");
    assert_eq!(
        s.request("GET", "/api/search?q=unicorn", &alice, None)
            .await
            .1
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
both_backends!(isolation);
