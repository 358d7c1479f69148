//! Sharing between users through the real server on both backends: the isolation matrix (every
//! sharing-relevant route x owner, read-write and read recipients, an unrelated user, a revoked
//! recipient, read-only keys, a disabled account), path tricks inside shared paths, shares that
//! follow renames (also across a crash), access requests, the user lookup, writes through a share
//! from two processes, backup and restore, and user deletion.
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

fn token(who: &As) -> String {
    match who {
        As::Bearer(t) => t.clone(),
        other => panic!("not a bearer credential: {other:?}"),
    }
}

fn vault_dir(s: &Server, user: &str) -> PathBuf {
    s.env.data_dir().join("notes").join(user)
}

/// A signed-up user: id and session credential.
struct Who {
    id: String,
    email: String,
    session: As,
}

async fn user(s: &Server, name: &str) -> Who {
    let email = format!("{name}@example.org");
    let (id, token) = s.sign_up(&email, &format!("{name} password 123"), None).await;
    Who {
        id,
        email,
        session: As::Bearer(token),
    }
}

async fn key(s: &Server, who: &As, scope: &str) -> As {
    let (status, body) = s
        .request(
            "POST",
            "/api/api-keys",
            who,
            Some(json!({"name": scope, "scope": scope})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    As::Bearer(body["key"].as_str().unwrap().to_owned())
}

async fn create(s: &Server, who: &As, path: &str, content: &str) {
    let (status, body) = s
        .request(
            "POST",
            "/api/notes",
            who,
            Some(json!({"path": path, "content": content})),
        )
        .await;
    assert_eq!(status, 201, "create {path}: {body}");
}

async fn share(s: &Server, owner: &As, path: &str, folder: bool, with: &str, permission: &str) -> (u16, Value) {
    s.request(
        "POST",
        "/api/shares",
        owner,
        Some(json!({"path": path, "isFolder": folder, "sharedWithUserId": with, "permission": permission})),
    )
    .await
}

/// `PUT` with an optional `If-Match`; returns (status, body, new ETag).
async fn put(s: &Server, url: &str, who: &As, content: &str, etag: Option<&str>) -> (u16, Value) {
    let mut request = s
        .client
        .put(s.env.url(url))
        .bearer_auth(token(who))
        .json(&json!({ "content": content }));
    if let Some(etag) = etag {
        request = request.header("if-match", format!("\"{etag}\""));
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// A GET written by hand on a socket, so the path reaches the server exactly as written.
async fn raw_get(s: &Server, path: &str, who: &As) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", s.env.port)).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
        token(who)
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.unwrap();
    let status = answer.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, answer)
}

/// The installation every matrix test starts from. The first account is an admin that only
/// administers; `ann` owns the notes.
struct World {
    s: Server,
    admin: Who,
    ann: Who,
    bob: Who,
    cat: Who,
    dan: Who,
    eve: Who,
    fay: Who,
}

impl World {
    fn shared(&self, path: &str) -> String {
        format!("/api/notes/shared/{}/{path}", self.ann.id)
    }
}

async fn world(backend: Backend) -> World {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    env.set_env("SAMPLE_VAULT", "off");
    env.set_env("USER_SEARCH_RATE_LIMIT_MAX", "12");
    let s = Server::start(env).await;
    let admin = user(&s, "admin").await;
    let ann = user(&s, "ann").await;
    let bob = user(&s, "bob").await;
    let cat = user(&s, "cat").await;
    let dan = user(&s, "dan").await;
    let eve = user(&s, "eve").await;
    let fay = user(&s, "fay").await;
    let a = &ann.session;
    create(
        &s,
        a,
        "Team/Plan",
        "# Plan\nshared zebra plan [[Team/Other]] [[Secret]]",
    )
    .await;
    create(&s, a, "Team/Other", "# Other\nanother zebra note").await;
    create(
        &s,
        a,
        "Secret",
        "# Secret\nprivate zebra secretword links to [[Team/Plan]]",
    )
    .await;
    create(&s, a, "Teammates/Hidden", "# Hidden\nzebra beside the folder").await;
    create(&s, a, "Solo", "# Solo\nsolo zebra note").await;
    for (who, permission) in [(&bob, "readwrite"), (&cat, "read"), (&eve, "readwrite"), (&fay, "read")] {
        let (status, body) = share(&s, a, "Team", true, &who.id, permission).await;
        assert_eq!(status, 201, "{body}");
        assert_eq!(body["ownerUserId"], ann.id);
        assert_eq!(body["path"], "Team");
        assert_eq!(body["isFolder"], true);
        assert_eq!(body["permission"], permission);
        assert!(body["id"].as_str().is_some() && body["createdAt"].as_str().is_some());
    }
    let (status, _) = share(&s, a, "Solo", false, &cat.id, "read").await;
    assert_eq!(status, 201);
    World {
        s,
        admin,
        ann,
        bob,
        cat,
        dan,
        eve,
        fay,
    }
}

async fn revoke_eve_and_disable_fay(w: &World) {
    let (_, mine) = w.s.request("GET", "/api/shares", &w.ann.session, None).await;
    let eve_share = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["sharedWithUserId"] == w.eve.id)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        w.s.request("GET", &w.shared("Team/Plan.md"), &w.eve.session, None)
            .await
            .0,
        200,
        "eve reads before the revocation"
    );
    let (status, body) =
        w.s.request("DELETE", &format!("/api/shares/{eve_share}"), &w.ann.session, None)
            .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) =
        w.s.request(
            "PUT",
            &format!("/api/admin/users/{}", w.fay.id),
            &w.admin.session,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200);
}

/// The matrix: who may read and write what, through every route that could reach a shared note.
async fn isolation_matrix(backend: Backend) {
    let w = world(backend).await;
    let s = &w.s;
    let bob_ro = key(s, &w.bob.session, "read-only").await;
    let bob_rw = key(s, &w.bob.session, "read-write").await;
    let cat_ro = key(s, &w.cat.session, "read-only").await;
    revoke_eve_and_disable_fay(&w).await;
    let ann_vault = vault_dir(s, &w.ann.id);

    // Reads of a note inside the shared folder, and of notes outside it.
    let readers: Vec<(&str, &As, u16)> = vec![
        ("owner", &w.ann.session, 200),
        ("readwrite recipient", &w.bob.session, 200),
        ("read recipient", &w.cat.session, 200),
        ("read-only key of the readwrite recipient", &bob_ro, 200),
        ("read-write key of the readwrite recipient", &bob_rw, 200),
        ("read-only key of the read recipient", &cat_ro, 200),
        ("unrelated user", &w.dan.session, 403),
        ("revoked recipient", &w.eve.session, 403),
        ("disabled recipient", &w.fay.session, 401),
    ];
    for (who, cred, expected) in &readers {
        let (status, body) = s.request("GET", &w.shared("Team/Plan.md"), cred, None).await;
        assert_eq!(status, *expected, "{who} reads Team/Plan.md: {body}");
        if status == 200 {
            assert!(body["content"].as_str().unwrap().contains("shared zebra plan"));
            assert_eq!(body["ownerUserId"], w.ann.id);
            assert_eq!(body["isShared"], true);
        } else {
            assert!(!body.to_string().contains("zebra"), "{who}: {body}");
        }
        // Outside the share: the private note, a note beside the folder, the note shared with cat only.
        for outside in ["Secret.md", "Teammates/Hidden.md", "Team.md", "Solo.md"] {
            let (status, body) = s.request("GET", &w.shared(outside), cred, None).await;
            let allowed = *who == "owner"
                || (outside == "Solo.md" && who.contains("read recipient") && !who.contains("readwrite"));
            let expected_here = match (*expected, allowed) {
                (401, _) => 401,
                (_, true) if outside == "Team.md" => 404,
                (_, true) => 200,
                _ => 403,
            };
            assert_eq!(status, expected_here, "{who} reads {outside}: {body}");
            if expected_here != 200 {
                assert!(!body.to_string().contains("zebra"), "{who} {outside}: {body}");
            }
        }
        // A missing note inside the shared folder: 404 for those the folder is shared with, and
        // the same 403 as an existing one for everyone else (existence is not revealed).
        let (status, _) = s.request("GET", &w.shared("Team/Nothing.md"), cred, None).await;
        let missing = if *expected == 200 { 404 } else { *expected };
        assert_eq!(status, missing, "{who} reads a missing note in the folder");
    }

    // Writes with If-Match through the share.
    let (_, plan) = s.request("GET", &w.shared("Team/Plan.md"), &w.bob.session, None).await;
    let etag = plan["etag"].as_str().unwrap().to_owned();
    let before = common::snapshot(&ann_vault);
    let refused: Vec<(&str, &As, u16)> = vec![
        ("read recipient", &w.cat.session, 403),
        ("read-only key of the readwrite recipient", &bob_ro, 403),
        ("read-only key of the read recipient", &cat_ro, 403),
        ("unrelated user", &w.dan.session, 403),
        ("revoked recipient", &w.eve.session, 403),
        ("disabled recipient", &w.fay.session, 401),
    ];
    for (who, cred, expected) in &refused {
        for path in ["Team/Plan.md", "Secret.md", "Team/New.md"] {
            let (status, body) = put(s, &w.shared(path), cred, "pwned", Some(&etag)).await;
            assert_eq!(status, *expected, "{who} writes {path}: {body}");
            let (status, _) = put(s, &w.shared(path), cred, "pwned", None).await;
            assert_eq!(status, *expected, "{who} writes {path} without If-Match");
        }
        let (status, _) = s.request("DELETE", &w.shared("Team/Plan.md"), cred, None).await;
        assert!(
            status == 403 || status == 401,
            "{who} deletes through the share: {status}"
        );
    }
    // The readwrite recipient may not write outside the share either, nor delete inside it.
    let (status, _) = put(s, &w.shared("Secret.md"), &w.bob.session, "pwned", None).await;
    assert_eq!(status, 403);
    let (status, _) = s
        .request("DELETE", &w.shared("Team/Plan.md"), &w.bob.session, None)
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        common::snapshot(&ann_vault),
        before,
        "no refused write changed the owner's vault"
    );

    // The readwrite recipient writes with If-Match: the owner's file and history change.
    let (status, body) = put(
        s,
        &w.shared("Team/Plan.md"),
        &w.bob.session,
        "# Plan\nbob's zebra edit",
        Some(&etag),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new_etag = body["etag"].as_str().unwrap().to_owned();
    assert_eq!(
        std::fs::read_to_string(ann_vault.join("Team/Plan.md")).unwrap(),
        "# Plan\nbob's zebra edit"
    );
    let (_, history) = s
        .request("GET", "/api/history/Team/Plan.md", &w.ann.session, None)
        .await;
    assert_eq!(
        history["versions"].as_array().unwrap().len(),
        1,
        "the old text went to the owner's history"
    );
    // A stale If-Match is refused and the newer text stays.
    let (status, body) = put(s, &w.shared("Team/Plan.md"), &bob_rw, "stale", Some(&etag)).await;
    assert_eq!((status, code(&body)), (412, "PRECONDITION_FAILED"));
    assert_eq!(body["details"]["currentEtag"], new_etag);
    let (status, _) = put(
        s,
        &w.shared("Team/Plan.md"),
        &bob_rw,
        "# Plan\nby bob's key zebra [[Team/Other]]",
        Some(&new_etag),
    )
    .await;
    assert_eq!(status, 200, "a read-write key acts for its user on shared notes");
    // A new note inside the shared folder is created in the owner's vault.
    let (status, body) = put(s, &w.shared("Team/New.md"), &w.bob.session, "made by bob zebra", None).await;
    assert_eq!((status, body["created"].clone()), (200, json!(true)), "{body}");
    assert!(ann_vault.join("Team/New.md").is_file());
    assert!(!vault_dir(s, &w.bob.id).join("Team/New.md").exists());
    // The owner's own routes see it (the index followed the write).
    let (_, found) = s.request("GET", "/api/search?q=made", &w.ann.session, None).await;
    assert_eq!(found[0]["path"], "Team/New.md", "{found}");

    // Path tricks inside the shared path never leave it. Dot segments are sent raw (a URL parser
    // would resolve them before sending).
    for raw in [
        "Team/../Secret.md",
        "Team/./Plan.md",
        "Team/%2E%2E/Secret.md",
        "Team/%2e%2e/%2e%2e/x/Secret.md",
    ] {
        let (status, body) = raw_get(s, &w.shared(raw), &w.bob.session).await;
        assert_eq!(status, 400, "raw GET {raw}: {body}");
        assert!(!body.contains("secretword"));
    }
    for trick in [
        "Team/..%2FSecret.md",
        "Team%2F..%2FSecret.md",
        "Team//Plan.md",
        "Team%5C..%5CSecret.md",
        "%2FTeam%2FPlan.md",
        "Team/.history%2FTeam%2FPlan.md%2F1.md",
        "Team%00/Plan.md",
    ] {
        for cred in [&w.bob.session, &w.cat.session] {
            let (status, body) = s.request("GET", &w.shared(trick), cred, None).await;
            assert_eq!(status, 400, "GET {trick}: {body}");
            assert!(!body.to_string().contains("secretword"));
            let (status, _) = put(s, &w.shared(trick), cred, "pwned", None).await;
            assert_eq!(status, 400, "PUT {trick}");
        }
    }
    // An encoded separator spells the same note, and stays inside the share.
    let (status, body) = s
        .request("GET", &w.shared("Team%2FOther.md"), &w.cat.session, None)
        .await;
    assert_eq!(status, 200, "{body}");
    // Tricks on the owner segment: not a user id, so it is the caller's own (missing) note.
    for trick in [
        format!("..%2F{}", w.ann.id),
        w.ann.id.to_uppercase(),
        format!("{}%2F..", w.ann.id),
    ] {
        let (status, body) = s
            .request(
                "GET",
                &format!("/api/notes/shared/{trick}/Secret.md"),
                &w.bob.session,
                None,
            )
            .await;
        assert!(status == 400 || status == 404, "owner {trick}: {status} {body}");
        assert!(!body.to_string().contains("secretword"));
    }
    assert!(
        std::fs::read_to_string(ann_vault.join("Secret.md"))
            .unwrap()
            .contains("secretword")
    );

    // Search: shared notes are found and marked; nothing outside the share, not even in snippets.
    for (who, cred, sees) in [
        (
            "bob",
            &w.bob.session,
            vec!["Team/Other.md", "Team/Plan.md", "Team/New.md"],
        ),
        (
            "bob's read-only key",
            &bob_ro,
            vec!["Team/Other.md", "Team/Plan.md", "Team/New.md"],
        ),
        (
            "cat",
            &w.cat.session,
            vec!["Team/Other.md", "Team/Plan.md", "Team/New.md", "Solo.md"],
        ),
        ("dan", &w.dan.session, vec![]),
        ("eve", &w.eve.session, vec![]),
    ] {
        let (status, found) = s.request("GET", "/api/search?q=zebra", cred, None).await;
        assert_eq!(status, 200);
        let mut paths: Vec<&str> = found
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["path"].as_str().unwrap())
            .collect();
        paths.sort();
        let mut expected = sees.clone();
        expected.sort();
        assert_eq!(paths, expected, "{who} searches zebra: {found}");
        for hit in found.as_array().unwrap() {
            assert_eq!(hit["isShared"], true, "{hit}");
            assert_eq!(hit["ownerUserId"], w.ann.id);
        }
        let text = found.to_string();
        assert!(
            !text.contains("secretword") && !text.contains("Hidden") && !text.contains("beside"),
            "{who}: {text}"
        );
        let (_, secret) = s.request("GET", "/api/search?q=secretword", cred, None).await;
        assert_eq!(secret, json!([]), "{who} searches a word of the private note");
    }

    // Graph: the shared notes and the links between them; the private note neither as a node nor
    // through an edge.
    for (who, cred, nodes) in [
        ("bob", &w.bob.session, 3),
        ("cat", &w.cat.session, 4),
        ("dan", &w.dan.session, 0),
        ("eve", &w.eve.session, 0),
    ] {
        let (status, graph) = s.request("GET", "/api/graph", cred, None).await;
        assert_eq!(status, 200);
        let shared: Vec<&Value> = graph["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["isShared"] == true)
            .collect();
        assert_eq!(shared.len(), nodes, "{who}: {graph}");
        for node in &shared {
            assert_eq!(node["ownerUserId"], w.ann.id);
            assert_eq!(node["shared"], true);
            assert!(node["id"].as_str().unwrap().starts_with(&format!("{}:", w.ann.id)));
        }
        let text = graph.to_string();
        assert!(!text.contains("Secret") && !text.contains("Hidden"), "{who}: {text}");
        if nodes > 0 {
            assert!(
                graph["edges"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|e| e["fromPath"] == "Team/Plan.md" && e["toPath"] == "Team/Other.md"),
                "{who}: the link between two shared notes is an edge: {graph}"
            );
        }
    }

    // Backlinks, history and trash are the caller's own: the owner's private note that links to
    // a shared one is never named to a recipient.
    let (_, own_backlinks) = s
        .request("GET", "/api/backlinks/Team/Plan.md", &w.ann.session, None)
        .await;
    assert!(
        own_backlinks.to_string().contains("Secret.md"),
        "the owner sees the backlink: {own_backlinks}"
    );
    for cred in [&w.bob.session, &w.cat.session, &bob_ro, &w.dan.session] {
        let (_, backlinks) = s.request("GET", "/api/backlinks/Team/Plan.md", cred, None).await;
        assert!(!backlinks.to_string().contains("Secret"), "{backlinks}");
        let (_, history) = s.request("GET", "/api/history/Team/Plan.md", cred, None).await;
        assert!(history["versions"].as_array().is_none_or(|v| v.is_empty()), "{history}");
        let (status, _) = s
            .request("GET", "/api/history-version/Team/Plan.md?ts=1", cred, None)
            .await;
        assert_eq!(status, 404);
    }
    let (status, _) = s
        .request("DELETE", "/api/notes/Team/Other.md", &w.ann.session, None)
        .await;
    assert_eq!(status, 200);
    for cred in [&w.bob.session, &w.cat.session] {
        let (_, trash) = s.request("GET", "/api/trash", cred, None).await;
        assert_eq!(trash, json!([]), "the owner's trash is not the recipient's");
        let (status, _) = s.request("GET", &w.shared("Team/Other.md"), cred, None).await;
        assert_eq!(status, 404, "a trashed shared note is gone for the recipient");
        let (status, _) = s.request("POST", "/api/trash/restore/Team/Other.md", cred, None).await;
        assert_eq!(status, 404);
    }
    // A recipient's own routes act on their own vault: a rename there cannot move the owner's note.
    let (status, _) = s
        .request(
            "POST",
            "/api/notes-rename/Team/Plan.md",
            &w.bob.session,
            Some(json!({"newPath": "Stolen"})),
        )
        .await;
    assert_eq!(status, 404);
    assert!(ann_vault.join("Team/Plan.md").is_file());

    // What each side lists.
    let (_, with_bob) = s.request("GET", "/api/shares/with-me", &w.bob.session, None).await;
    assert_eq!(with_bob.as_array().unwrap().len(), 1, "{with_bob}");
    assert_eq!(with_bob[0]["ownerName"], w.ann.email);
    assert_eq!(with_bob[0]["path"], "Team");
    assert_eq!(with_bob[0]["permission"], "readwrite");
    let listed: Vec<&str> = with_bob[0]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(listed, vec!["Team/New.md", "Team/Plan.md"]);
    for cred in [&w.dan.session, &w.eve.session] {
        assert_eq!(s.request("GET", "/api/shares/with-me", cred, None).await.1, json!([]));
        assert_eq!(s.request("GET", "/api/shares", cred, None).await.1, json!([]));
    }
    let (_, bob_shares) = s.request("GET", "/api/shares", &w.bob.session, None).await;
    assert_eq!(bob_shares, json!([]), "bob made no shares; ann's are not listed to him");

    // Only the owner manages a share (someone else's answers 404, like a missing one).
    let (_, mine) = s.request("GET", "/api/shares", &w.ann.session, None).await;
    assert_eq!(mine.as_array().unwrap().len(), 4, "{mine}");
    let bob_share = mine
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["sharedWithUserId"] == w.bob.id)
        .unwrap();
    assert_eq!(bob_share["sharedWithEmail"], w.bob.email);
    let bob_share = bob_share["id"].as_str().unwrap().to_owned();
    for cred in [&w.bob.session, &w.dan.session, &bob_rw] {
        let (status, _) = s
            .request(
                "PUT",
                &format!("/api/shares/{bob_share}"),
                cred,
                Some(json!({"permission": "readwrite"})),
            )
            .await;
        assert_eq!(status, 404);
        assert_eq!(
            s.request("DELETE", &format!("/api/shares/{bob_share}"), cred, None)
                .await
                .0,
            404
        );
    }
    // Narrowing to read is in force on the next request.
    let (_, now) = s.request("GET", &w.shared("Team/Plan.md"), &w.bob.session, None).await;
    let etag = now["etag"].as_str().unwrap().to_owned();
    let (status, body) = s
        .request(
            "PUT",
            &format!("/api/shares/{bob_share}"),
            &w.ann.session,
            Some(json!({"permission": "read"})),
        )
        .await;
    assert_eq!((status, body["permission"].clone()), (200, json!("read")));
    assert_eq!(
        put(s, &w.shared("Team/Plan.md"), &w.bob.session, "x", Some(&etag))
            .await
            .0,
        403
    );
    let (status, _) = s
        .request(
            "PUT",
            &format!("/api/shares/{bob_share}"),
            &w.ann.session,
            Some(json!({"permission": "owner"})),
        )
        .await;
    assert_eq!(status, 400);

    // A disabled owner's shares serve nothing until the account is enabled again.
    let (status, _) = s
        .request(
            "PUT",
            &format!("/api/admin/users/{}", w.ann.id),
            &w.admin.session,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        s.request("GET", &w.shared("Team/Plan.md"), &w.bob.session, None)
            .await
            .0,
        403
    );
    assert_eq!(
        s.request("GET", "/api/shares/with-me", &w.bob.session, None).await.1,
        json!([])
    );
    let (_, found) = s.request("GET", "/api/search?q=zebra", &w.cat.session, None).await;
    assert_eq!(found, json!([]));
    s.request(
        "PUT",
        &format!("/api/admin/users/{}", w.ann.id),
        &w.admin.session,
        Some(json!({"disabled": false})),
    )
    .await;
    assert_eq!(
        s.request("GET", &w.shared("Team/Plan.md"), &w.bob.session, None)
            .await
            .0,
        200
    );
}
both_backends!(isolation_matrix);

/// Creating shares: clear 4xx answers for every bad request, and nothing is stored by them.
async fn share_requests_are_checked(backend: Backend) {
    let w = world(backend).await;
    let s = &w.s;
    let a = &w.ann.session;
    revoke_eve_and_disable_fay(&w).await;
    let cases: Vec<(Value, u16, &str)> = vec![
        (
            json!({"path": "Secret", "isFolder": false, "sharedWithUserId": w.ann.id, "permission": "read"}),
            400,
            "yourself",
        ),
        (
            json!({"path": "Secret", "isFolder": false, "sharedWithUserId": "0123456789abcdef0123456789abcdef", "permission": "read"}),
            404,
            "unknown user",
        ),
        (
            json!({"path": "Secret", "isFolder": false, "sharedWithUserId": w.fay.id, "permission": "read"}),
            400,
            "disabled user",
        ),
        (
            json!({"path": "Team", "isFolder": true, "sharedWithUserId": w.bob.id, "permission": "read"}),
            409,
            "twice",
        ),
        (
            json!({"path": "Secret", "isFolder": false, "sharedWithUserId": w.dan.id, "permission": "admin"}),
            400,
            "bad permission",
        ),
        (
            json!({"path": "Missing", "isFolder": false, "sharedWithUserId": w.dan.id, "permission": "read"}),
            404,
            "missing note",
        ),
        (
            json!({"path": "Nowhere", "isFolder": true, "sharedWithUserId": w.dan.id, "permission": "read"}),
            404,
            "missing folder",
        ),
        (
            json!({"path": "../x", "isFolder": false, "sharedWithUserId": w.dan.id, "permission": "read"}),
            400,
            "path attack",
        ),
        (
            json!({"path": ".history", "isFolder": true, "sharedWithUserId": w.dan.id, "permission": "read"}),
            400,
            "hidden folder",
        ),
        (
            json!({"isFolder": false, "sharedWithUserId": w.dan.id, "permission": "read"}),
            400,
            "no path",
        ),
    ];
    let (_, before) = s.request("GET", "/api/shares", a, None).await;
    for (body, expected, what) in cases {
        let (status, answer) = s.request("POST", "/api/shares", a, Some(body)).await;
        assert_eq!(status, expected, "{what}: {answer}");
        assert!(
            answer["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {answer}"
        );
    }
    assert_eq!(s.request("GET", "/api/shares", a, None).await.1, before);
    // A read-only key cannot share; a read-write key can.
    let ro = key(s, a, "read-only").await;
    assert_eq!(share(s, &ro, "Secret", false, &w.dan.id, "read").await.0, 403);
    let rw = key(s, a, "read-write").await;
    assert_eq!(share(s, &rw, "Secret", false, &w.dan.id, "read").await.0, 201);
    assert_eq!(
        s.request("GET", &w.shared("Secret.md"), &w.dan.session, None).await.0,
        200
    );
}
both_backends!(share_requests_are_checked);

/// Shares follow their notes through renames and folder moves; the old path is no longer shared.
async fn shares_follow_renames(backend: Backend) {
    let w = world(backend).await;
    let s = &w.s;
    let a = &w.ann.session;
    let (status, body) = s
        .request(
            "POST",
            "/api/notes-rename/Solo.md",
            a,
            Some(json!({"newPath": "Archive/Solo moved"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.request("GET", &w.shared("Archive/Solo moved.md"), &w.cat.session, None)
            .await
            .0,
        200
    );
    assert_eq!(
        s.request("GET", &w.shared("Solo.md"), &w.cat.session, None).await.0,
        403
    );
    // A new note at the old path is not shared.
    create(s, a, "Solo", "a new note at the old path").await;
    assert_eq!(
        s.request("GET", &w.shared("Solo.md"), &w.cat.session, None).await.0,
        403
    );

    let (status, body) = s
        .request(
            "POST",
            "/api/folders-rename/Team",
            a,
            Some(json!({"newPath": "Crew/Team"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.request("GET", &w.shared("Crew/Team/Plan.md"), &w.bob.session, None)
            .await
            .0,
        200
    );
    assert_eq!(
        s.request("GET", &w.shared("Team/Plan.md"), &w.bob.session, None)
            .await
            .0,
        403
    );
    let (_, mine) = s.request("GET", "/api/shares", a, None).await;
    let mut paths: Vec<&str> = mine
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["path"].as_str().unwrap())
        .collect();
    paths.sort();
    paths.dedup();
    assert_eq!(paths, vec!["Archive/Solo moved.md", "Crew/Team"]);
    // A note share inside a moved folder moves with it.
    let (status, _) = share(s, a, "Crew/Team/Other", false, &w.dan.id, "read").await;
    assert_eq!(status, 201);
    let (status, _) = s
        .request("POST", "/api/folders-rename/Crew", a, Some(json!({"newPath": "Band"})))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        s.request("GET", &w.shared("Band/Team/Other.md"), &w.dan.session, None)
            .await
            .0,
        200
    );
    assert_eq!(
        s.request("GET", &w.shared("Band/Team/Plan.md"), &w.dan.session, None)
            .await
            .0,
        403
    );
    assert_eq!(
        s.request("GET", &w.shared("Band/Team/Plan.md"), &w.bob.session, None)
            .await
            .0,
        200
    );
}
both_backends!(shares_follow_renames);

/// A crash after a rename reached the disk but before its shares moved: the next boot finds the
/// finished rename in the vault's journal and moves the shares along.
async fn shares_catch_up_after_a_crash(backend: Backend) {
    let w = world(backend).await;
    let (status, _) =
        w.s.request(
            "POST",
            "/api/notes-rename/Solo.md",
            &w.ann.session,
            Some(json!({"newPath": "Moved"})),
        )
        .await;
    assert_eq!(status, 200);
    let World { mut s, ann, cat, .. } = w;
    s.stop().await;
    // The database as the crash left it: the share still names the old path.
    s.env
        .execute("UPDATE shares SET path = 'Solo.md' WHERE path = 'Moved.md'".to_owned())
        .await;
    let env = std::mem::replace(&mut s.env, TestEnv::new(backend).await);
    let s = Server::start(env).await;
    let (status, body) = s
        .request(
            "GET",
            &format!("/api/notes/shared/{}/Moved.md", ann.id),
            &cat.session,
            None,
        )
        .await;
    assert_eq!(status, 200, "the share followed the rename at boot: {body}");
}
both_backends!(shares_catch_up_after_a_crash);

/// Access requests: ask, list, deny, ask again, approve (a share), and nobody else can answer.
async fn access_requests(backend: Backend) {
    let w = world(backend).await;
    let s = &w.s;
    let ask = |who: &As, owner: &str, path: &str| {
        let body = json!({"ownerUserId": owner, "notePath": path});
        let who = who.clone();
        async move { s.request("POST", "/api/access-requests", &who, Some(body)).await }
    };
    let (status, request) = ask(&w.dan.session, &w.ann.id, "Secret").await;
    assert_eq!(status, 201, "{request}");
    assert_eq!(request["status"], "pending");
    assert_eq!(request["notePath"], "Secret.md");
    assert_eq!(request["requesterUserId"], w.dan.id);
    let id = request["id"].as_str().unwrap().to_owned();
    let (status, again) = ask(&w.dan.session, &w.ann.id, "Secret.md").await;
    assert_eq!((status, again["id"].clone()), (200, json!(id)));
    // A request for a note that does not exist looks the same: nothing about the vault leaks.
    let (status, _) = ask(&w.dan.session, &w.ann.id, "Does not exist").await;
    assert_eq!(status, 201);
    assert_eq!(ask(&w.dan.session, &w.dan.id, "Mine").await.0, 400, "asking yourself");
    assert_eq!(
        ask(&w.dan.session, "0123456789abcdef0123456789abcdef", "X").await.0,
        404
    );
    assert_eq!(ask(&w.dan.session, &w.ann.id, "../../etc/passwd").await.0, 400);

    let (_, to_ann) = s.request("GET", "/api/access-requests", &w.ann.session, None).await;
    assert_eq!(to_ann.as_array().unwrap().len(), 2, "{to_ann}");
    assert_eq!(to_ann[0]["requesterEmail"], w.dan.email);
    assert_eq!(to_ann[0]["requester"]["email"], w.dan.email);
    assert_eq!(
        s.request("GET", "/api/access-requests", &w.bob.session, None).await.1,
        json!([])
    );
    let (_, mine) = s
        .request("GET", "/api/access-requests/mine", &w.dan.session, None)
        .await;
    assert_eq!(mine.as_array().unwrap().len(), 2);
    assert_eq!(
        s.request("GET", "/api/access-requests/mine", &w.bob.session, None)
            .await
            .1,
        json!([])
    );

    let answer = |who: &As, body: Value| {
        let (who, url) = (who.clone(), format!("/api/access-requests/{id}"));
        async move { s.request("PUT", &url, &who, Some(body)).await }
    };
    // Only the owner answers; the requester cannot approve their own request.
    for cred in [&w.dan.session, &w.bob.session] {
        assert_eq!(
            answer(cred, json!({"action": "approve", "permission": "readwrite"}))
                .await
                .0,
            404
        );
    }
    assert_eq!(
        answer(&w.ann.session, json!({"action": "approve"})).await.0,
        400,
        "permission required"
    );
    assert_eq!(answer(&w.ann.session, json!({"action": "maybe"})).await.0, 400);
    let (status, denied) = answer(&w.ann.session, json!({"action": "deny"})).await;
    assert_eq!((status, denied["status"].clone()), (200, json!("denied")));
    assert_eq!(
        s.request("GET", &w.shared("Secret.md"), &w.dan.session, None).await.0,
        403
    );
    let (status, reopened) = ask(&w.dan.session, &w.ann.id, "Secret").await;
    assert_eq!((status, reopened["status"].clone()), (200, json!("pending")));
    let (status, approved) = answer(&w.ann.session, json!({"action": "approve", "permission": "read"})).await;
    assert_eq!(
        (status, approved["status"].clone()),
        (200, json!("approved")),
        "{approved}"
    );
    let (status, body) = s.request("GET", &w.shared("Secret.md"), &w.dan.session, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(put(s, &w.shared("Secret.md"), &w.dan.session, "x", None).await.0, 403);
    let (_, with_dan) = s.request("GET", "/api/shares/with-me", &w.dan.session, None).await;
    assert_eq!(with_dan[0]["path"], "Secret.md");
    // A read-only key cannot ask.
    let ro = key(s, &w.dan.session, "read-only").await;
    assert_eq!(ask(&ro, &w.ann.id, "Solo").await.0, 403);
}
both_backends!(access_requests);

/// The user lookup finds one active user by exact email, nothing else, and is rate-limited.
async fn user_lookup(backend: Backend) {
    let w = world(backend).await;
    let s = &w.s;
    revoke_eve_and_disable_fay(&w).await;
    let me = &w.dan.session;
    let find = |email: &str| {
        let url = format!("/api/users/search?email={email}");
        async move { s.request("GET", &url, me, None).await }
    };
    let (status, body) = find("bob%40example.org").await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"id": w.bob.id, "name": w.bob.email, "email": w.bob.email}));
    assert_eq!(find("BOB%40Example.ORG").await.1["id"], w.bob.id);
    for (query, expected) in [
        ("bob", 404),
        ("bob%40", 404),
        ("%25%40example.org", 404),
        ("*", 404),
        ("fay%40example.org", 404),
        ("nobody%40example.org", 404),
    ] {
        let (status, body) = find(query).await;
        assert_eq!(status, expected, "{query}: {body}");
    }
    assert_eq!(s.request("GET", "/api/users/search", me, None).await.0, 400);
    assert_eq!(s.request("GET", "/api/users/search?email=", me, None).await.0, 400);
    assert_eq!(
        s.request("GET", "/api/users/search?email=x", &As::Nobody, None).await.0,
        401
    );
    // Twelve look-ups per window: eight above, then four more, then refused.
    for _ in 0..4 {
        assert_eq!(find("cat%40example.org").await.0, 200);
    }
    let (status, body) = find("cat%40example.org").await;
    assert_eq!((status, code(&body)), (429, "RATE_LIMITED"));
    // Counted per user: another user is not held up.
    assert_eq!(
        s.request("GET", "/api/users/search?email=dan%40example.org", &w.bob.session, None)
            .await
            .0,
        200
    );
}
both_backends!(user_lookup);

/// Deleting a user removes the shares they made and the shares made to them, and their requests.
async fn deleting_a_user_removes_their_shares(backend: Backend) {
    let w = world(backend).await;
    let s = &w.s;
    create(s, &w.bob.session, "Bob's", "bob's note").await;
    assert_eq!(share(s, &w.bob.session, "Bob's", false, &w.ann.id, "read").await.0, 201);
    let (status, _) = s
        .request(
            "POST",
            "/api/access-requests",
            &w.bob.session,
            Some(json!({"ownerUserId": w.ann.id, "notePath": "Secret"})),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(s.env.scalar("SELECT count(*) FROM shares").await, 6);
    let (status, body) = s
        .request(
            "DELETE",
            &format!("/api/admin/users/{}", w.bob.id),
            &w.admin.session,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.env.scalar("SELECT count(*) FROM shares").await,
        4,
        "only bob's shares went, both ways"
    );
    assert_eq!(s.env.scalar("SELECT count(*) FROM access_requests").await, 0);
    let (_, mine) = s.request("GET", "/api/shares", &w.ann.session, None).await;
    assert!(!mine.to_string().contains(&w.bob.id), "{mine}");
    assert_eq!(
        s.request("GET", "/api/shares/with-me", &w.ann.session, None).await.1,
        json!([])
    );
    // And the owner's deletion takes every share of theirs with it.
    let (status, _) = s
        .request(
            "DELETE",
            &format!("/api/admin/users/{}", w.ann.id),
            &w.admin.session,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(s.env.scalar("SELECT count(*) FROM shares").await, 0);
    assert_eq!(
        s.request("GET", "/api/shares/with-me", &w.cat.session, None).await.1,
        json!([])
    );
}
both_backends!(deleting_a_user_removes_their_shares);

/// A backup carries shares and access requests; the restored installation serves them.
async fn backup_and_restore_keep_shares(backend: Backend) {
    let w = world(backend).await;
    let (status, _) =
        w.s.request(
            "POST",
            "/api/access-requests",
            &w.dan.session,
            Some(json!({"ownerUserId": w.ann.id, "notePath": "Secret"})),
        )
        .await;
    assert_eq!(status, 201);
    let (_, shares_before) = w.s.request("GET", "/api/shares", &w.ann.session, None).await;
    let archive = w.s.env.dir.path().join("backup.tar.gz");
    w.s.env
        .run(&["backup", "--out", archive.to_str().unwrap()])
        .await
        .assert_code(0);
    let World {
        mut s,
        ann,
        bob,
        cat,
        dan,
        ..
    } = w;
    s.stop().await;
    let mut fresh = TestEnv::new(backend).await;
    fresh.set_env("REGISTRATION_MODE", "open");
    fresh.run(&["restore", archive.to_str().unwrap()]).await.assert_code(0);
    let restored = Server::start(fresh).await;
    assert_eq!(
        restored.request("GET", "/api/shares", &ann.session, None).await.1,
        shares_before
    );
    let (status, body) = restored
        .request(
            "GET",
            &format!("/api/notes/shared/{}/Team/Plan.md", ann.id),
            &bob.session,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = restored
        .request(
            "GET",
            &format!("/api/notes/shared/{}/Solo.md", ann.id),
            &cat.session,
            None,
        )
        .await;
    assert_eq!(status, 200);
    let (_, requests) = restored
        .request("GET", "/api/access-requests/mine", &dan.session, None)
        .await;
    assert_eq!(requests.as_array().unwrap().len(), 1, "{requests}");
    let (_, found) = restored.request("GET", "/api/search?q=zebra", &bob.session, None).await;
    assert!(
        found.to_string().contains("Team/Plan.md"),
        "the restored index serves shared search: {found}"
    );
}
both_backends!(backup_and_restore_keep_shares);

/// The owner (own route) and a readwrite recipient (shared route) update one note with If-Match
/// from two server processes over the same database and vault: every successful write counts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_and_recipient_lose_no_update_across_two_processes() {
    let w = world(Backend::Postgres).await;
    create(&w.s, &w.ann.session, "Team/Counter", "0").await;
    let mut second_env = TestEnv::new(Backend::Sqlite).await;
    second_env.set_env("POSTGRES_URL", &w.s.env.postgres_url().unwrap());
    second_env.set_env("DATA_DIR", &w.s.env.data_dir().display().to_string());
    let mut second = Server::start(second_env).await;
    let bases = [w.s.env.url(""), second.env.url("")];
    let routes = [
        ("/api/notes/Team/Counter.md".to_owned(), token(&w.ann.session)),
        (
            format!("/api/notes/shared/{}/Team/Counter.md", w.ann.id),
            token(&w.bob.session),
        ),
    ];
    let mut workers = Vec::new();
    for worker in 0..4 {
        let base = bases[worker % 2].clone();
        let (route, token) = routes[worker / 2].clone();
        workers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let (mut done, mut conflicts) = (0, 0);
            while done < 10 {
                let r = client
                    .get(format!("{base}{route}"))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let etag = r.headers()["etag"].to_str().unwrap().to_owned();
                let n: u64 = r.json::<Value>().await.unwrap()["content"]
                    .as_str()
                    .unwrap()
                    .parse()
                    .unwrap();
                let put = client
                    .put(format!("{base}{route}"))
                    .bearer_auth(&token)
                    .header("if-match", etag)
                    .json(&json!({"content": (n + 1).to_string()}))
                    .send()
                    .await
                    .unwrap();
                match put.status().as_u16() {
                    200 => done += 1,
                    412 => conflicts += 1,
                    other => panic!("unexpected {other}"),
                }
            }
            conflicts
        }));
    }
    let mut conflicts = 0;
    for w in workers {
        conflicts += w.await.unwrap();
    }
    let (_, counter) =
        w.s.request("GET", "/api/notes/Team/Counter.md", &w.ann.session, None)
            .await;
    assert_eq!(
        counter["content"], "40",
        "every successful write counted exactly once ({conflicts} refused)"
    );
    // Every one of the 40 writes kept the previous text in the owner's history (up to its limit).
    let (_, history) =
        w.s.request("GET", "/api/history/Team/Counter.md", &w.ann.session, None)
            .await;
    assert_eq!(history["versions"].as_array().unwrap().len(), 40);
    second.stop().await;
}
