//! The original Kryton's HTTP contract (`shared/design/kryton-api-compat.md`), route by route:
//! status codes and the field names and types its clients read, on both backends, through the
//! real binary. Our extra fields (`etag`, `size`, ...) are allowed; missing or mistyped original
//! fields are not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{As, Backend, Server, TestEnv};
use reqwest::header;
use serde_json::{Value, json};

/// The JSON type a field must have.
#[derive(Clone, Copy, Debug)]
enum Ty {
    Str,
    Num,
    Bool,
    Arr,
    Obj,
    /// A string or null (e.g. `expiresAt`).
    StrOrNull,
    Null,
}

fn has_type(value: &Value, ty: Ty) -> bool {
    match ty {
        Ty::Str => value.is_string(),
        Ty::Num => value.is_number(),
        Ty::Bool => value.is_boolean(),
        Ty::Arr => value.is_array(),
        Ty::Obj => value.is_object(),
        Ty::StrOrNull => value.is_string() || value.is_null(),
        Ty::Null => value.is_null(),
    }
}

/// Every listed field is present with its type.
#[track_caller]
fn assert_shape(value: &Value, fields: &[(&str, Ty)]) {
    assert!(value.is_object(), "expected an object, got {value}");
    for (name, ty) in fields {
        let field = value
            .get(*name)
            .unwrap_or_else(|| panic!("missing field `{name}` in {value}"));
        assert!(has_type(field, *ty), "field `{name}` should be {ty:?} in {value}");
    }
}

/// A top-level array whose items all have the shape; returns the items.
#[track_caller]
fn assert_array_of<'a>(value: &'a Value, fields: &[(&str, Ty)]) -> &'a Vec<Value> {
    let items = value
        .as_array()
        .unwrap_or_else(|| panic!("expected a top-level array, got {value}"));
    for item in items {
        assert_shape(item, fields);
    }
    items
}

/// The one error envelope: `error` a string (the web client shows it), `code`, `message`.
#[track_caller]
fn assert_error(status: u16, body: &Value, expected_status: u16, code: &str) {
    assert_eq!(status, expected_status, "{body}");
    assert_shape(body, &[("error", Ty::Str), ("code", Ty::Str), ("message", Ty::Str)]);
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["error"], body["message"]);
}

const USER_FIELDS: [(&str, Ty); 10] = [
    ("id", Ty::Str),
    ("email", Ty::Str),
    ("name", Ty::Str),
    ("role", Ty::Str),
    ("disabled", Ty::Bool),
    ("emailVerified", Ty::Bool),
    ("image", Ty::Null),
    ("twoFactorEnabled", Ty::Bool),
    ("createdAt", Ty::Str),
    ("updatedAt", Ty::Str),
];

async fn server(backend: Backend, mode: &str) -> Server {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", mode);
    Server::start(env).await
}

/// A request with a raw `Cookie` header (and optional body); returns status, headers and JSON.
async fn with_cookie(
    s: &Server,
    method: &str,
    path: &str,
    cookie: &str,
    body: Option<Value>,
) -> (u16, header::HeaderMap, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = s.client.request(method, s.env.url(path)).header(header::COOKIE, cookie);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    (
        status,
        headers,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Sign-up, sign-in, sessions, the auth config and the auth error bodies.
async fn auth_routes(backend: Backend) {
    let s = server(backend, "invite-only").await;

    let (status, config) = s.request("GET", "/api/auth/config", &As::Nobody, None).await;
    assert_eq!(status, 200);
    assert_shape(
        &config,
        &[
            ("registrationMode", Ty::Str),
            ("inviteRequired", Ty::Bool),
            ("firstUser", Ty::Bool),
        ],
    );
    assert_eq!(config["registrationMode"], "invite-only");
    assert_eq!(
        (config["inviteRequired"].clone(), config["firstUser"].clone()),
        (json!(false), json!(true))
    );

    // Sign-up: 200 with token, user and our session; the cookie is `*.session_token`.
    let body = json!({"email": "ada@example.org", "password": "correct horse", "name": "Ada"});
    let response = s
        .client
        .post(s.env.url("/api/auth/sign-up/email"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers()[header::SET_COOKIE].to_str().unwrap().to_owned();
    let signed_up: Value = response.json().await.unwrap();
    assert_shape(
        &signed_up,
        &[("token", Ty::Str), ("user", Ty::Obj), ("session", Ty::Obj)],
    );
    assert_shape(&signed_up["user"], &USER_FIELDS);
    let (name, rest) = cookie.split_once('=').unwrap();
    assert!(name.ends_with(".session_token"), "cookie name: {cookie}");
    assert!(rest.starts_with(signed_up["token"].as_str().unwrap()));
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"));
    let admin = As::Cookie(signed_up["token"].as_str().unwrap().to_owned());

    let (_, config) = s.request("GET", "/api/auth/config", &As::Nobody, None).await;
    assert_eq!(
        (config["inviteRequired"].clone(), config["firstUser"].clone()),
        (json!(true), json!(false))
    );

    // Sign-in: {redirect:false, token, user}.
    let credentials = json!({"email": "ada@example.org", "password": "correct horse"});
    let (status, signed_in) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(credentials.clone()),
        )
        .await;
    assert_eq!(status, 200, "{signed_in}");
    assert_shape(
        &signed_in,
        &[("redirect", Ty::Bool), ("token", Ty::Str), ("user", Ty::Obj)],
    );
    assert_eq!(signed_in["redirect"], false);
    assert_shape(&signed_in["user"], &USER_FIELDS);

    // Wrong password and unknown email: the same 401.
    for email in ["ada@example.org", "nobody@example.org"] {
        let (status, body) = s
            .request(
                "POST",
                "/api/auth/sign-in/email",
                &As::Nobody,
                Some(json!({"email": email, "password": "wrong password"})),
            )
            .await;
        assert_error(status, &body, 401, "INVALID_EMAIL_OR_PASSWORD");
        assert_eq!(body["error"], "Invalid email or password");
    }

    // get-session: {session{...}, user{...}}, or null.
    let token = signed_in["token"].as_str().unwrap().to_owned();
    let (status, session) = s
        .request("GET", "/api/auth/get-session", &As::Cookie(token.clone()), None)
        .await;
    assert_eq!(status, 200);
    assert_shape(&session, &[("session", Ty::Obj), ("user", Ty::Obj)]);
    assert_shape(
        &session["session"],
        &[
            ("id", Ty::Str),
            ("token", Ty::Str),
            ("userId", Ty::Str),
            ("expiresAt", Ty::Str),
            ("createdAt", Ty::Str),
            ("updatedAt", Ty::Str),
            ("ipAddress", Ty::StrOrNull),
            ("userAgent", Ty::StrOrNull),
        ],
    );
    assert_eq!(session["session"]["token"], token.as_str());
    assert_eq!(session["session"]["userId"], signed_up["user"]["id"]);
    assert_shape(&session["user"], &USER_FIELDS);
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Nobody, None).await,
        (200, Value::Null)
    );

    // Sign-out: {success:true}; the cookie is cleared.
    let (status, _, out) = with_cookie(
        &s,
        "POST",
        "/api/auth/sign-out",
        &format!("kryton.session_token={token}"),
        None,
    )
    .await;
    assert_eq!((status, out), (200, json!({"success": true})));

    // A revoked (stale), an unknown and a malformed cookie count as no cookie.
    for stale in [
        format!("kryton.session_token={token}"),
        format!("kryton.session_token={}", "ab".repeat(32)),
        "kryton.session_token=%%%\"{}".to_owned(),
        format!("kryton.session_token={}", "x".repeat(500)),
        "kryton.session_token=".to_owned(),
    ] {
        let (status, _, body) = with_cookie(&s, "GET", "/api/auth/get-session", &stale, None).await;
        assert_eq!((status, body), (200, Value::Null), "get-session with {stale:?}");
        let (status, _, body) =
            with_cookie(&s, "POST", "/api/auth/sign-in/email", &stale, Some(credentials.clone())).await;
        assert_eq!(status, 200, "sign-in with {stale:?}: {body}");
        let (status, _, body) = with_cookie(&s, "GET", "/api/notes", &stale, None).await;
        assert_error(status, &body, 401, "UNAUTHORIZED");
    }
    // Sign-up with a stale cookie works too (an invite from the admin).
    let (_, invite) = s.request("POST", "/api/admin/invites", &admin, None).await;
    let (status, _, body) = with_cookie(
        &s,
        "POST",
        "/api/auth/sign-up/email",
        &format!("kryton.session_token={token}"),
        Some(json!({"email": "bob@example.org", "password": "another pass", "name": "Bob", "inviteCode": invite["code"]})),
    )
    .await;
    assert_eq!(status, 200, "sign-up with a stale cookie: {body}");

    // Bad credentials presented explicitly in Authorization are still refused.
    for header_value in [
        format!("Bearer {token}"),
        "Bearer kryton_0123".to_owned(),
        "Basic abc".to_owned(),
    ] {
        let (status, body) = s
            .request("GET", "/api/auth/get-session", &As::Header(header_value.clone()), None)
            .await;
        assert_error(status, &body, 401, "UNAUTHORIZED");
    }

    // Auth errors: the sign-up refusals carry the envelope too.
    let (status, body) = s
        .request(
            "POST",
            "/api/auth/sign-up/email",
            &As::Nobody,
            Some(json!({"email": "eve@example.org", "password": "long enough", "name": "Eve"})),
        )
        .await;
    assert_error(status, &body, 403, "FORBIDDEN");
    let (status, body) = s
        .request(
            "POST",
            "/api/auth/sign-up/email",
            &As::Nobody,
            Some(json!({"email": 1})),
        )
        .await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");
}
both_backends!(auth_routes);

async fn note_history_count(s: &Server, who: &As, path: &str) -> usize {
    let (status, body) = s.request("GET", &format!("/api/history/{path}"), who, None).await;
    assert_eq!(status, 200, "{body}");
    body["versions"].as_array().unwrap().len()
}

/// Notes and folders: the tree, CRUD, upsert on create, `If-None-Match: *`, renames.
async fn note_routes(backend: Backend) {
    let s = server(backend, "open").await;
    let (_, token) = s.sign_up("ada@example.org", "correct horse", None).await;
    let me = As::Bearer(token.clone());

    // Create: 201 {path, message}.
    let (status, created) = s
        .request(
            "POST",
            "/api/notes",
            &me,
            Some(json!({"path": "Projects/Alpha.md", "content": "# Alpha\nv1"})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    assert_shape(&created, &[("path", Ty::Str), ("message", Ty::Str)]);
    assert_eq!(created["path"], "Projects/Alpha.md");

    // Create again: an upsert (the original's behaviour); the old text goes to the history.
    let (status, again) = s
        .request(
            "POST",
            "/api/notes",
            &me,
            Some(json!({"path": "Projects/Alpha.md", "content": "# Alpha\nv2"})),
        )
        .await;
    assert_eq!(status, 201, "{again}");
    assert_shape(&again, &[("path", Ty::Str), ("message", Ty::Str)]);
    assert_eq!(note_history_count(&s, &me, "Projects/Alpha.md").await, 1);
    let (_, note) = s.request("GET", "/api/notes/Projects/Alpha.md", &me, None).await;
    assert_eq!(note["content"], "# Alpha\nv2");

    // If-None-Match: * creates only: 412 when it exists, and nothing changes.
    let create_only = |path: &str, content: &str| {
        s.client
            .post(s.env.url("/api/notes"))
            .bearer_auth(&token)
            .header(header::IF_NONE_MATCH, "*")
            .json(&json!({"path": path, "content": content}))
            .send()
    };
    let response = create_only("Projects/Alpha.md", "clobbered").await.unwrap();
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    assert_error(status, &body, 412, "PRECONDITION_FAILED");
    let (_, note) = s.request("GET", "/api/notes/Projects/Alpha.md", &me, None).await;
    assert_eq!(note["content"], "# Alpha\nv2");
    assert_eq!(note_history_count(&s, &me, "Projects/Alpha.md").await, 1);
    let response = create_only("Projects/Beta.md", "# Beta").await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    assert!(response.headers().contains_key(header::ETAG));

    // Read: {path, title, content, modifiedAt} plus ours.
    let (status, note) = s.request("GET", "/api/notes/Projects/Alpha.md", &me, None).await;
    assert_eq!(status, 200);
    assert_shape(
        &note,
        &[
            ("path", Ty::Str),
            ("title", Ty::Str),
            ("content", Ty::Str),
            ("modifiedAt", Ty::Str),
            ("etag", Ty::Str),
            ("size", Ty::Num),
            ("tags", Ty::Arr),
            ("links", Ty::Arr),
        ],
    );
    assert_eq!(note["title"], "Alpha");
    // The original's client encodes the whole path as one segment.
    let (status, encoded) = s.request("GET", "/api/notes/Projects%2FAlpha.md", &me, None).await;
    assert_eq!((status, &encoded["path"]), (200, &json!("Projects/Alpha.md")));

    // Update: 200 {path, message}.
    let (status, updated) = s
        .request(
            "PUT",
            "/api/notes/Projects/Alpha.md",
            &me,
            Some(json!({"content": "# Alpha\nv3"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_shape(&updated, &[("path", Ty::Str), ("message", Ty::Str)]);

    // The tree: [{name, path, type, children?}].
    let (status, tree) = s.request("GET", "/api/notes", &me, None).await;
    assert_eq!(status, 200);
    let top = assert_array_of(&tree, &[("name", Ty::Str), ("path", Ty::Str), ("type", Ty::Str)]);
    let projects = top.iter().find(|n| n["name"] == "Projects").unwrap();
    assert_eq!(projects["type"], "folder");
    let children = assert_array_of(
        &projects["children"],
        &[("name", Ty::Str), ("path", Ty::Str), ("type", Ty::Str)],
    );
    assert!(
        children
            .iter()
            .any(|c| c["path"] == "Projects/Alpha.md" && c["type"] == "file")
    );

    // Rename: {oldPath, newPath, message}.
    let (status, renamed) = s
        .request(
            "POST",
            "/api/notes-rename/Projects/Beta.md",
            &me,
            Some(json!({"newPath": "Projects/Gamma.md"})),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_shape(
        &renamed,
        &[("oldPath", Ty::Str), ("newPath", Ty::Str), ("message", Ty::Str)],
    );
    assert_eq!(
        (renamed["oldPath"].as_str(), renamed["newPath"].as_str()),
        (Some("Projects/Beta.md"), Some("Projects/Gamma.md"))
    );

    // Folders: {path} or {name} -> 201 {path, message}; rename; delete.
    for body in [json!({"path": "Archive"}), json!({"name": "Inbox"})] {
        let (status, folder) = s.request("POST", "/api/folders", &me, Some(body.clone())).await;
        assert_eq!(status, 201, "{body}: {folder}");
        assert_shape(&folder, &[("path", Ty::Str), ("message", Ty::Str)]);
    }
    let (status, body) = s.request("POST", "/api/folders", &me, Some(json!({}))).await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");
    let (status, moved) = s
        .request(
            "POST",
            "/api/folders-rename/Archive",
            &me,
            Some(json!({"newPath": "Old"})),
        )
        .await;
    assert_eq!(status, 200, "{moved}");
    assert_shape(
        &moved,
        &[("oldPath", Ty::Str), ("newPath", Ty::Str), ("message", Ty::Str)],
    );
    let (status, deleted) = s.request("DELETE", "/api/folders/Old", &me, None).await;
    assert_eq!(status, 200);
    assert_shape(&deleted, &[("message", Ty::Str)]);

    // Delete: 200 {message}.
    let (status, deleted) = s.request("DELETE", "/api/notes/Projects/Gamma.md", &me, None).await;
    assert_eq!(status, 200);
    assert_shape(&deleted, &[("message", Ty::Str)]);

    // App-route errors: `error` is a string.
    let (status, body) = s.request("GET", "/api/notes/Nope.md", &me, None).await;
    assert_error(status, &body, 404, "NOT_FOUND");
    let (status, body) = s.request("GET", "/api/notes/..%2Fescape.md", &me, None).await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");
    let (status, body) = s.request("GET", "/api/notes", &As::Nobody, None).await;
    assert_error(status, &body, 401, "UNAUTHORIZED");
    let response = s
        .client
        .post(s.env.url("/api/notes"))
        .bearer_auth(&token)
        .header(header::CONTENT_TYPE, "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    assert_error(status, &response.json().await.unwrap(), 400, "VALIDATION_ERROR");
}
both_backends!(note_routes);

/// Search, backlinks, graph and tags: top-level arrays and the original's field names.
async fn knowledge_routes(backend: Backend) {
    let s = server(backend, "open").await;
    let (_, token) = s.sign_up("ada@example.org", "correct horse", None).await;
    let me = As::Bearer(token);
    for (path, content) in [
        ("Hub.md", "# Hub\nSee [[Projects/Alpha]] and [[Missing]]. #topic/rust"),
        ("Projects/Alpha.md", "# Alpha\nThe zebra project. #topic"),
    ] {
        let (status, _) = s
            .request(
                "POST",
                "/api/notes",
                &me,
                Some(json!({"path": path, "content": content})),
            )
            .await;
        assert_eq!(status, 201);
    }

    let (status, hits) = s.request("GET", "/api/search?q=zebra", &me, None).await;
    assert_eq!(status, 200);
    let hits = assert_array_of(
        &hits,
        &[
            ("path", Ty::Str),
            ("title", Ty::Str),
            ("snippet", Ty::Str),
            ("tags", Ty::Arr),
            ("modifiedAt", Ty::Str),
        ],
    );
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0]["path"], "Projects/Alpha.md");
    assert_eq!(hits[0]["tags"], json!(["topic"]));
    for empty in ["/api/search", "/api/search?q=", "/api/search?q=%20"] {
        let (status, body) = s.request("GET", empty, &me, None).await;
        assert_error(status, &body, 400, "VALIDATION_ERROR");
    }

    let (status, backlinks) = s.request("GET", "/api/backlinks/Projects/Alpha.md", &me, None).await;
    assert_eq!(status, 200);
    let backlinks = assert_array_of(&backlinks, &[("path", Ty::Str), ("title", Ty::Str)]);
    assert_eq!(backlinks.len(), 1);
    assert_eq!(
        (backlinks[0]["path"].as_str(), backlinks[0]["title"].as_str()),
        (Some("Hub.md"), Some("Hub"))
    );
    let (_, none) = s.request("GET", "/api/backlinks/Hub.md", &me, None).await;
    assert_eq!(none, json!([]));

    let (status, graph) = s.request("GET", "/api/graph", &me, None).await;
    assert_eq!(status, 200);
    let nodes = assert_array_of(
        &graph["nodes"],
        &[("id", Ty::Str), ("path", Ty::Str), ("title", Ty::Str)],
    );
    assert!(
        nodes
            .iter()
            .any(|n| n["id"] == "Projects/Alpha" && n["path"] == "Projects/Alpha.md")
    );
    let all_edges = assert_array_of(
        &graph["edges"],
        &[
            ("fromNoteId", Ty::Str),
            ("toNoteId", Ty::Str),
            ("fromPath", Ty::Str),
            ("toPath", Ty::Str),
        ],
    );
    // (The welcome note every new vault gets has edges of its own.)
    let edges: Vec<&Value> = all_edges.iter().filter(|e| e["fromPath"] == "Hub.md").collect();
    assert_eq!(edges.len(), 1, "the broken link is no edge: {graph}");
    assert_eq!(
        (
            &edges[0]["fromNoteId"],
            &edges[0]["toNoteId"],
            &edges[0]["fromPath"],
            &edges[0]["toPath"]
        ),
        (
            &json!("Hub"),
            &json!("Projects/Alpha"),
            &json!("Hub.md"),
            &json!("Projects/Alpha.md")
        )
    );
    // Every edge's ids are node ids (the original's client joins them).
    for edge in all_edges {
        assert!(nodes.iter().any(|n| n["id"] == edge["fromNoteId"]));
        assert!(nodes.iter().any(|n| n["id"] == edge["toNoteId"]));
    }

    let (status, tags) = s.request("GET", "/api/tags", &me, None).await;
    assert_eq!(status, 200);
    let tags = assert_array_of(&tags, &[("tag", Ty::Str), ("count", Ty::Num)]);
    assert!(tags.iter().any(|t| t["tag"] == "topic" && t["count"] == 1));

    let (status, tagged) = s.request("GET", "/api/tags/topic/notes", &me, None).await;
    assert_eq!(status, 200);
    let tagged = assert_array_of(&tagged, &[("path", Ty::Str), ("notePath", Ty::Str), ("title", Ty::Str)]);
    assert_eq!(tagged.len(), 2, "a tag finds its nested tags' notes");
    assert!(tagged.iter().all(|t| t["path"] == t["notePath"]));
    let (status, nested) = s.request("GET", "/api/tags/topic%2Frust/notes", &me, None).await;
    assert_eq!((status, nested.as_array().map(Vec::len)), (200, Some(1)));
}
both_backends!(knowledge_routes);

/// History, trash, daily notes and templates.
async fn history_trash_daily_templates(backend: Backend) {
    let s = server(backend, "open").await;
    let (_, token) = s.sign_up("ada@example.org", "correct horse", None).await;
    let me = As::Bearer(token);
    for (path, content) in [
        ("Templates/Meeting.md", "# Meeting {{date}}"),
        ("Templates/Daily.md", "# {{title}}\n## Tasks"),
        ("Note.md", "v1"),
    ] {
        s.request(
            "POST",
            "/api/notes",
            &me,
            Some(json!({"path": path, "content": content})),
        )
        .await;
    }
    s.request("PUT", "/api/notes/Note.md", &me, Some(json!({"content": "v2"})))
        .await;

    let (status, templates) = s.request("GET", "/api/templates", &me, None).await;
    assert_eq!(status, 200);
    let templates = assert_array_of(&templates, &[("name", Ty::Str), ("path", Ty::Str)]);
    assert!(
        templates
            .iter()
            .any(|t| t["name"] == "Meeting" && t["path"] == "Templates/Meeting.md"),
        "{templates:?}"
    );
    let (status, template) = s.request("GET", "/api/templates/Meeting", &me, None).await;
    assert_eq!(status, 200);
    assert_shape(&template, &[("name", Ty::Str), ("content", Ty::Str)]);
    let (status, body) = s.request("GET", "/api/templates/Nope", &me, None).await;
    assert_error(status, &body, 404, "NOT_FOUND");

    // Daily: 201 on creation, 200 after, {path, content, title, modifiedAt}; no body needed.
    let daily_fields = [
        ("path", Ty::Str),
        ("content", Ty::Str),
        ("title", Ty::Str),
        ("modifiedAt", Ty::Str),
    ];
    // Today's note is part of the first-run vault: the original's 200 for an existing one.
    let (status, today) = s.request("POST", "/api/daily", &me, None).await;
    assert_eq!(status, 200, "{today}");
    assert_shape(&today, &daily_fields);
    let other_day = Some(json!({ "date": "2030-01-02" }));
    let (status, daily) = s.request("POST", "/api/daily", &me, other_day.clone()).await;
    assert_eq!(status, 201, "{daily}");
    assert_shape(&daily, &daily_fields);
    assert!(daily["content"].as_str().unwrap().contains("## Tasks"));
    let (status, again) = s.request("POST", "/api/daily", &me, other_day).await;
    assert_eq!(status, 200);
    assert_shape(&again, &daily_fields);
    assert_eq!(again["path"], daily["path"]);

    // History: {versions: [{timestamp, size, date}]}, a version, a restore.
    let (status, history) = s.request("GET", "/api/history/Note.md", &me, None).await;
    assert_eq!(status, 200);
    let versions = assert_array_of(
        &history["versions"],
        &[("timestamp", Ty::Num), ("size", Ty::Num), ("date", Ty::Str)],
    );
    assert_eq!(versions.len(), 1);
    let ts = versions[0]["timestamp"].as_u64().unwrap();
    let (status, version) = s
        .request("GET", &format!("/api/history-version/Note.md?ts={ts}"), &me, None)
        .await;
    assert_eq!(status, 200);
    assert_shape(
        &version,
        &[("content", Ty::Str), ("timestamp", Ty::Num), ("date", Ty::Str)],
    );
    assert_eq!(version["content"], "v1");
    let (status, restored) = s
        .request("POST", &format!("/api/history-restore/Note.md?ts={ts}"), &me, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(restored["restored"], true);
    let (_, note) = s.request("GET", "/api/notes/Note.md", &me, None).await;
    assert_eq!(note["content"], "v1");
    let (status, body) = s.request("GET", "/api/history-version/Note.md", &me, None).await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");

    // Trash: [{path, originalPath, trashedAt}]; `path` is the id the client sends back.
    s.request("DELETE", "/api/notes/Note.md", &me, None).await;
    s.request("DELETE", "/api/notes/Templates/Meeting.md", &me, None).await;
    let (status, trash) = s.request("GET", "/api/trash", &me, None).await;
    assert_eq!(status, 200);
    let items = assert_array_of(
        &trash,
        &[("path", Ty::Str), ("originalPath", Ty::Str), ("trashedAt", Ty::Str)],
    );
    assert_eq!(items.len(), 2);
    let note_item = items.iter().find(|i| i["originalPath"] == "Note.md").unwrap();
    let id = note_item["path"].as_str().unwrap();
    let (status, back) = s
        .request("POST", &format!("/api/trash/restore/{}", urlencode(id)), &me, None)
        .await;
    assert_eq!(status, 200, "{back}");
    assert_shape(&back, &[("message", Ty::Str), ("path", Ty::Str)]);
    assert_eq!(back["path"], "Note.md");
    assert_eq!(s.request("GET", "/api/notes/Note.md", &me, None).await.0, 200);

    s.request("DELETE", "/api/notes/Note.md", &me, None).await;
    let (_, trash) = s.request("GET", "/api/trash", &me, None).await;
    let id = trash
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["originalPath"] == "Note.md")
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, gone) = s
        .request("DELETE", &format!("/api/trash/{}", urlencode(&id)), &me, None)
        .await;
    assert_eq!(status, 200, "{gone}");
    assert_shape(&gone, &[("message", Ty::Str)]);
    // A retry (its answer lost) gets the finished result, as durability promises; the original
    // answered 404 here, which no client of it relies on. An id that never was is still a 404.
    let (status, again) = s
        .request("DELETE", &format!("/api/trash/{}", urlencode(&id)), &me, None)
        .await;
    assert_eq!(status, 200, "{again}");
    let (status, body) = s.request("DELETE", "/api/trash/never-there.md", &me, None).await;
    assert_error(status, &body, 404, "NOT_FOUND");
    let (status, emptied) = s.request("DELETE", "/api/trash-empty", &me, None).await;
    assert_eq!(status, 200);
    assert_shape(&emptied, &[("message", Ty::Str)]);
    assert_eq!(s.request("GET", "/api/trash", &me, None).await.1, json!([]));
}
both_backends!(history_trash_daily_templates);

/// The original's client encodes a path as one URL segment (`encodeURIComponent`).
fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// API keys, admin routes and their aliases, health, version and the API document.
async fn keys_admin_and_meta(backend: Backend) {
    let s = server(backend, "invite-only").await;
    let (admin_id, admin_token) = s.sign_up("ada@example.org", "correct horse", None).await;
    let admin = As::Cookie(admin_token);

    // API keys: scope defaults to read-write; the list; delete answers 204 with no body.
    let (status, key) = s
        .request("POST", "/api/api-keys", &admin, Some(json!({"name": "agent"})))
        .await;
    assert_eq!(status, 201, "{key}");
    assert_shape(
        &key,
        &[
            ("id", Ty::Str),
            ("name", Ty::Str),
            ("keyPrefix", Ty::Str),
            ("scope", Ty::Str),
            ("expiresAt", Ty::StrOrNull),
            ("createdAt", Ty::Str),
            ("key", Ty::Str),
        ],
    );
    assert_eq!(key["scope"], "read-write");
    let secret = key["key"].as_str().unwrap().to_owned();
    let (status, _) = s
        .request(
            "POST",
            "/api/notes",
            &As::Bearer(secret.clone()),
            Some(json!({"path": "ByKey.md", "content": "x"})),
        )
        .await;
    assert_eq!(status, 201, "a default key can write");
    let (status, body) = s
        .request(
            "POST",
            "/api/api-keys",
            &admin,
            Some(json!({"name": "x", "scope": "everything"})),
        )
        .await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");
    let (status, list) = s.request("GET", "/api/api-keys", &admin, None).await;
    assert_eq!(status, 200);
    let keys = assert_array_of(
        &list,
        &[
            ("id", Ty::Str),
            ("name", Ty::Str),
            ("keyPrefix", Ty::Str),
            ("scope", Ty::Str),
            ("expiresAt", Ty::StrOrNull),
            ("lastUsedAt", Ty::StrOrNull),
            ("createdAt", Ty::Str),
        ],
    );
    assert!(keys.iter().all(|k| k.get("key").is_none()), "secrets are never listed");
    let response = s
        .client
        .delete(s.env.url(&format!("/api/api-keys/{}", key["id"].as_str().unwrap())))
        .header(
            header::COOKIE,
            format!(
                "kryton.session_token={}",
                match &admin {
                    As::Cookie(t) => t,
                    _ => unreachable!(),
                }
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    let (status, body) = s.request("GET", "/api/notes", &As::Bearer(secret), None).await;
    assert_error(status, &body, 401, "UNAUTHORIZED");
    let (status, body) = s.request("DELETE", "/api/api-keys/nope", &admin, None).await;
    assert_error(status, &body, 404, "NOT_FOUND");

    // Invites: unused ones show their code (with the original's createdById); used ones do not.
    let (status, invite) = s.request("POST", "/api/admin/invites", &admin, None).await;
    assert_eq!(status, 201);
    let code = invite["code"].as_str().unwrap().to_owned();
    let (status, invites) = s.request("GET", "/api/admin/invites", &admin, None).await;
    assert_eq!(status, 200);
    let listed = assert_array_of(
        &invites,
        &[
            ("id", Ty::Str),
            ("code", Ty::StrOrNull),
            ("createdById", Ty::StrOrNull),
            ("usedById", Ty::StrOrNull),
            ("createdAt", Ty::Str),
        ],
    );
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["code"], code.as_str());
    assert_eq!(listed[0]["createdById"], admin_id.as_str());
    let (user_id, _) = s.sign_up("bob@example.org", "bob password", Some(&code)).await;
    let (_, invites) = s.request("GET", "/api/admin/invites", &admin, None).await;
    assert_eq!(
        invites[0]["code"],
        Value::Null,
        "a used invite's code is gone: {invites}"
    );
    assert_eq!(invites[0]["usedById"], user_id.as_str());
    let (status, deleted) = s
        .request(
            "DELETE",
            &format!("/api/admin/invites/{}", invite["id"].as_str().unwrap()),
            &admin,
            None,
        )
        .await;
    assert_eq!((status, deleted), (200, json!({"success": true})));

    // Users: list, update.
    let (status, users) = s.request("GET", "/api/admin/users", &admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(assert_array_of(&users, &USER_FIELDS).len(), 2);
    let (status, user) = s
        .request(
            "PUT",
            &format!("/api/admin/users/{user_id}"),
            &admin,
            Some(json!({"disabled": false})),
        )
        .await;
    assert_eq!(status, 200);
    assert_shape(&user, &USER_FIELDS);

    // reset-password, the original's name, with its {newPassword}.
    let (status, reset) = s
        .request(
            "POST",
            &format!("/api/admin/users/{user_id}/reset-password"),
            &admin,
            Some(json!({"newPassword": "brand new pass"})),
        )
        .await;
    assert_eq!((status, reset), (200, json!({"success": true})));
    let (status, _) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": "bob@example.org", "password": "brand new pass"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, body) = s
        .request(
            "POST",
            &format!("/api/admin/users/{user_id}/reset-password"),
            &admin,
            Some(json!({})),
        )
        .await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");

    // Registration, under the original's path too.
    for path in ["/api/admin/settings/registration", "/api/admin/registration"] {
        let (status, mode) = s.request("GET", path, &admin, None).await;
        assert_eq!((status, mode), (200, json!({"mode": "invite-only"})), "{path}");
    }
    let (status, mode) = s
        .request(
            "PUT",
            "/api/admin/settings/registration",
            &admin,
            Some(json!({"mode": "closed"})),
        )
        .await;
    assert_eq!((status, mode), (200, json!({"mode": "closed"})));
    let (_, config) = s.request("GET", "/api/auth/config", &As::Nobody, None).await;
    assert_eq!(config["registrationMode"], "closed");
    let (status, body) = s
        .request(
            "PUT",
            "/api/admin/settings/registration",
            &admin,
            Some(json!({"mode": "sometimes"})),
        )
        .await;
    assert_error(status, &body, 400, "VALIDATION_ERROR");
    let (_, bob) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": "bob@example.org", "password": "brand new pass"})),
        )
        .await;
    let (status, body) = s
        .request(
            "GET",
            "/api/admin/settings/registration",
            &As::Cookie(bob["token"].as_str().unwrap().to_owned()),
            None,
        )
        .await;
    assert_error(status, &body, 403, "FORBIDDEN");

    // Health and version, signed out.
    for path in ["/api/health", "/health"] {
        let (status, health) = s.request("GET", path, &As::Nobody, None).await;
        assert_eq!(status, 200, "{path}");
        assert_shape(
            &health,
            &[
                ("status", Ty::Str),
                ("version", Ty::Str),
                ("commit", Ty::Str),
                ("majorVersion", Ty::Num),
            ],
        );
        assert_eq!(health["status"], "ok");
    }
    let (status, version) = s.request("GET", "/api/version", &As::Nobody, None).await;
    assert_eq!(status, 200);
    assert_shape(
        &version,
        &[
            ("version", Ty::Str),
            ("commit", Ty::Str),
            ("major", Ty::Num),
            ("majorVersion", Ty::Num),
        ],
    );
    assert_eq!(version["major"], version["majorVersion"]);
    assert_eq!(version["version"], env!("CARGO_PKG_VERSION"));

    // The API document and its page, signed out; the page loads nothing from elsewhere.
    let (status, doc) = s.request("GET", "/api/docs.json", &As::Nobody, None).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let committed: Value =
        serde_json::from_str(&std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json")).unwrap())
            .unwrap();
    assert_eq!(doc, committed, "the server serves the committed document");
    let response = s.client.get(s.env.url("/api/docs")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let page = response.text().await.unwrap();
    assert!(page.contains("/api/docs.json"));
    assert!(
        !page.contains("src=\"http") && !page.contains("href=\"http"),
        "no external assets"
    );
}
both_backends!(keys_admin_and_meta);
