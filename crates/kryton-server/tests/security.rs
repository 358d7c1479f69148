//! Attacks and races against the real binary: registration and admin races, key-count races,
//! account enumeration, credential revocation, cross-site requests, headers, file modes, secrets
//! in logs, slow clients, sign-in floods and a killed migrator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, Instant};

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

/// A server whose per-client sign-in limit does not get in the way of a race.
async fn server(backend: Backend, settings: &[(&str, &str)]) -> Server {
    let mut env = TestEnv::new(backend).await;
    env.set_env("AUTH_RATE_LIMIT_MAX", "100000");
    env.set_env("RATE_LIMIT_MAX", "100000");
    for (k, v) in settings {
        env.set_env(k, v);
    }
    Server::start(env).await
}

fn sign_up_body(email: &str, invite: Option<&str>) -> Value {
    let mut body = json!({ "email": email, "password": "correct horse", "name": "racer" });
    if let Some(code) = invite {
        body["inviteCode"] = json!(code);
    }
    body
}

/// Fires `n` sign-ups at once and returns their statuses.
async fn sign_up_race(s: &Server, round: usize, n: usize, invite: Option<&str>) -> Vec<u16> {
    let requests = (0..n).map(|i| {
        s.request(
            "POST",
            "/api/auth/sign-up/email",
            &As::Nobody,
            Some(sign_up_body(&format!("racer{round}-{i}@example.org"), invite)),
        )
    });
    futures_join_all(requests)
        .await
        .into_iter()
        .map(|(status, _)| status)
        .collect()
}

/// `join_all` without another dependency: every future polled concurrently on this task.
async fn futures_join_all<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut set = Vec::new();
    for f in futures {
        set.push(Box::pin(f));
    }
    let mut outputs: Vec<Option<F::Output>> = set.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (i, f) in set.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => outputs[i] = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().map(Option::unwrap).collect()
}

fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|s| **s == status).count()
}

/// 14.1: on a fresh server in invite-only or closed mode, N simultaneous sign-ups make exactly one
/// account (the admin); with one invite code, N simultaneous sign-ups consume it exactly once.
async fn registration_races(backend: Backend) {
    for (mode, n) in [("invite-only", 16), ("closed", 24)] {
        let s = server(backend, &[("REGISTRATION_MODE", mode)]).await;
        let statuses = sign_up_race(&s, 0, n, None).await;
        assert_eq!(count(&statuses, 200), 1, "{mode}: one first account, got {statuses:?}");
        assert_eq!(
            count(&statuses, 403),
            n - 1,
            "{mode}: the rest refused, got {statuses:?}"
        );
        assert_eq!(s.env.scalar("SELECT count(*) FROM users").await, 1);
        assert_eq!(s.env.scalar("SELECT count(*) FROM users WHERE role = 'admin'").await, 1);
    }
    let s = server(backend, &[("REGISTRATION_MODE", "invite-only")]).await;
    let (_, admin) = s.sign_up("admin@example.org", "correct horse", None).await;
    for round in 1..=4 {
        let (status, invite) = s
            .request("POST", "/api/admin/invites", &As::Bearer(admin.clone()), None)
            .await;
        assert_eq!(status, 201, "{invite}");
        let code = invite["code"].as_str().unwrap().to_owned();
        let statuses = sign_up_race(&s, round, 16, Some(&code)).await;
        assert_eq!(
            count(&statuses, 200),
            1,
            "round {round}: one use of the invite, got {statuses:?}"
        );
        assert_eq!(count(&statuses, 403), 15, "round {round}: {statuses:?}");
    }
    assert_eq!(s.env.scalar("SELECT count(*) FROM users").await, 5);
    assert_eq!(s.env.scalar("SELECT count(*) FROM users WHERE role = 'admin'").await, 1);
}
both_backends!(registration_races);

async fn sign_in(s: &Server, email: &str, password: &str) -> String {
    let (status, body) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({ "email": email, "password": password })),
        )
        .await;
    assert_eq!(status, 200, "sign-in of {email}: {body}");
    body["session"]["token"].as_str().unwrap().to_owned()
}

/// 14.2: two admins disabling each other at the same moment: exactly one wins, round after round,
/// and an active admin always remains.
async fn last_admin_race(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open")]).await;
    let (a_id, mut a) = s.sign_up("a@example.org", "correct horse", None).await;
    let (b_id, _) = s.sign_up("b@example.org", "correct horse", None).await;
    let (status, _) = s
        .request(
            "PUT",
            &format!("/api/admin/users/{b_id}"),
            &As::Bearer(a.clone()),
            Some(json!({ "role": "admin" })),
        )
        .await;
    assert_eq!(status, 200);
    let mut b = sign_in(&s, "b@example.org", "correct horse").await;
    for round in 0..12 {
        let s = &s;
        let disable = |by: &String, target: &str| {
            let (who, path) = (As::Bearer(by.clone()), format!("/api/admin/users/{target}"));
            async move { s.request("PUT", &path, &who, Some(json!({ "disabled": true }))).await }
        };
        let (ra, rb) = tokio::join!(disable(&a, &b_id), disable(&b, &a_id));
        let statuses = [ra.0, rb.0];
        assert_eq!(
            count(&statuses, 200),
            1,
            "round {round}: exactly one wins: {ra:?} {rb:?}"
        );
        assert!(
            statuses.iter().all(|s| matches!(s, 200 | 409 | 401 | 403)),
            "round {round}: {ra:?} {rb:?}"
        );
        assert_eq!(
            s.env
                .scalar("SELECT count(*) FROM users WHERE role = 'admin' AND disabled = FALSE")
                .await,
            1,
            "round {round}: one active admin remains"
        );
        // The survivor re-enables the other, who signs in again.
        let (survivor, loser_id, loser_email) = if ra.0 == 200 {
            (a.clone(), a_id.clone(), "b@example.org")
        } else {
            (b.clone(), b_id.clone(), "a@example.org")
        };
        let loser_target = if loser_id == a_id { &b_id } else { &a_id };
        let (status, body) = s
            .request(
                "PUT",
                &format!("/api/admin/users/{loser_target}"),
                &As::Bearer(survivor.clone()),
                Some(json!({ "disabled": false })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let token = sign_in(s, loser_email, "correct horse").await;
        if loser_email == "a@example.org" {
            a = token;
        } else {
            b = token;
        }
    }
}
both_backends!(last_admin_race);

/// 14.3: 14 simultaneous key creations: 10 made, 4 refused with 409, never "database is locked".
async fn api_key_creation_race(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open")]).await;
    let (_, session) = s.sign_up("keys@example.org", "correct horse", None).await;
    for round in 0..3 {
        let s = &s;
        let requests = (0..14).map(|i| {
            let who = As::Bearer(session.clone());
            async move {
                s.request(
                    "POST",
                    "/api/api-keys",
                    &who,
                    Some(json!({ "name": format!("k{round}-{i}"), "scope": "read-only" })),
                )
                .await
            }
        });
        let results = futures_join_all(requests).await;
        let statuses: Vec<u16> = results.iter().map(|r| r.0).collect();
        assert_eq!(count(&statuses, 201), 10, "round {round}: {results:?}");
        assert_eq!(count(&statuses, 409), 4, "round {round}: {results:?}");
        assert_eq!(s.env.scalar("SELECT count(*) FROM api_keys").await, 10);
        let (_, keys) = s
            .request("GET", "/api/api-keys", &As::Bearer(session.clone()), None)
            .await;
        for key in keys.as_array().unwrap() {
            let id = key["id"].as_str().unwrap();
            let (status, _) = s
                .request(
                    "DELETE",
                    &format!("/api/api-keys/{id}"),
                    &As::Bearer(session.clone()),
                    None,
                )
                .await;
            assert_eq!(status, 204);
        }
    }
}
both_backends!(api_key_creation_race);

/// 19.6: a refused sign-up answers the same whether or not the email is registered.
async fn sign_up_does_not_enumerate(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "invite-only")]).await;
    let (_, admin) = s.sign_up("known@example.org", "correct horse", None).await;
    let attempt = |email: &'static str, invite: Option<&'static str>| {
        s.request(
            "POST",
            "/api/auth/sign-up/email",
            &As::Nobody,
            Some(sign_up_body(email, invite)),
        )
    };
    for invite in [Some("bogus-invite-code"), None] {
        let known = attempt("known@example.org", invite).await;
        let unknown = attempt("stranger@example.org", invite).await;
        assert_eq!(known.0, 403, "{invite:?}: {known:?}");
        assert_eq!(known, unknown, "{invite:?}: the answer must not depend on the email");
    }
    let (status, _) = s
        .request(
            "PUT",
            "/api/admin/registration",
            &As::Bearer(admin),
            Some(json!({ "mode": "closed" })),
        )
        .await;
    assert_eq!(status, 200);
    let known = attempt("known@example.org", Some("whatever")).await;
    let unknown = attempt("stranger@example.org", Some("whatever")).await;
    assert_eq!(known.0, 403);
    assert_eq!(known, unknown);
    assert_eq!(s.env.scalar("SELECT count(*) FROM users").await, 1);
}
both_backends!(sign_up_does_not_enumerate);

async fn status_with(s: &Server, token: &str) -> u16 {
    s.request("GET", "/api/auth/get-session", &As::Bearer(token.to_owned()), None)
        .await
        .0
}

async fn make_key(s: &Server, session: &str) -> (String, String) {
    let (status, body) = s
        .request(
            "POST",
            "/api/api-keys",
            &As::Bearer(session.to_owned()),
            Some(json!({ "name": "script", "scope": "read-write" })),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["key"].as_str().unwrap().to_owned(),
    )
}

/// 19.7: an admin's password reset and disabling revoke sessions AND keys; admins list and revoke
/// any user's keys; a user's own password change ends their other sessions and keeps this one.
async fn revocation(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open")]).await;
    let (_, admin) = s.sign_up("admin@example.org", "correct horse", None).await;
    let (user_id, session) = s.sign_up("user@example.org", "first password", None).await;
    let admin_as = As::Bearer(admin.clone());

    // Admin reset: the session and the key both stop working.
    let (_, key) = make_key(&s, &session).await;
    assert_eq!(status_with(&s, &key).await, 200);
    let (status, _) = s
        .request(
            "POST",
            &format!("/api/admin/users/{user_id}/password"),
            &admin_as,
            Some(json!({ "password": "second password" })),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(status_with(&s, &session).await, 401, "session survives a reset");
    assert_eq!(status_with(&s, &key).await, 401, "API key survives a reset");

    // Disabling: keys are revoked and stay revoked after re-enabling.
    let session = sign_in(&s, "user@example.org", "second password").await;
    let (_, key) = make_key(&s, &session).await;
    for disabled in [true, false] {
        let (status, _) = s
            .request(
                "PUT",
                &format!("/api/admin/users/{user_id}"),
                &admin_as,
                Some(json!({ "disabled": disabled })),
            )
            .await;
        assert_eq!(status, 200);
    }
    assert_eq!(status_with(&s, &key).await, 401, "API key survives disabling");
    assert_eq!(status_with(&s, &session).await, 401);

    // Admin key management.
    let session = sign_in(&s, "user@example.org", "second password").await;
    let (key_id, key) = make_key(&s, &session).await;
    let (_, other_key) = make_key(&s, &session).await;
    let (status, listed) = s
        .request("GET", &format!("/api/admin/users/{user_id}/api-keys"), &admin_as, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert!(!listed.to_string().contains(&key), "a listing never shows a secret");
    let (status, _) = s
        .request(
            "DELETE",
            &format!("/api/admin/users/{user_id}/api-keys/{key_id}"),
            &admin_as,
            None,
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(status_with(&s, &key).await, 401);
    assert_eq!(status_with(&s, &other_key).await, 200);
    let (status, _) = s
        .request(
            "GET",
            &format!("/api/admin/users/{user_id}/api-keys"),
            &As::Bearer(session.clone()),
            None,
        )
        .await;
    assert_eq!(status, 403, "a non-admin cannot list another's keys");
    let (status, _) = s
        .request("GET", "/api/admin/users/nobody/api-keys", &admin_as, None)
        .await;
    assert_eq!(status, 404);

    // Own password change.
    let other_session = sign_in(&s, "user@example.org", "second password").await;
    let change = |current: &str| {
        let (s, who) = (&s, As::Cookie(session.clone()));
        let body = json!({ "currentPassword": current, "newPassword": "third password", "revokeOtherSessions": true });
        async move { s.request("POST", "/api/auth/change-password", &who, Some(body)).await }
    };
    let (status, body) = change("wrong password").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        status_with(&s, &other_session).await,
        200,
        "a refused change ends nothing"
    );
    let (status, body) = change("second password").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["user"]["id"], user_id.as_str());
    assert_eq!(status_with(&s, &session).await, 200, "this session stays");
    assert_eq!(status_with(&s, &other_session).await, 401, "other sessions end");
    let (status, _) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({ "email": "user@example.org", "password": "second password" })),
        )
        .await;
    assert_eq!(status, 401, "the old password is gone");
    sign_in(&s, "user@example.org", "third password").await;
    let (status, _) = s
        .request(
            "POST",
            "/api/auth/change-password",
            &As::Bearer(other_key),
            Some(json!({ "currentPassword": "third password", "newPassword": "fourth password" })),
        )
        .await;
    assert_eq!(status, 403, "an API key cannot change the password");
}
both_backends!(revocation);

/// A raw request, to control Origin, Sec-Fetch-Site, Content-Type and the body exactly.
async fn raw(
    s: &Server,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = s.client.request(method, s.env.url(path));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    if let Some(body) = body {
        request = request.body(body.to_owned());
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (status, headers, response.text().await.unwrap())
}

/// 19.8: cookie-authenticated writes from another origin, and bodies a cross-site page can send
/// without a preflight (text/plain JSON, empty forms), are refused and change nothing; the same
/// requests with a bearer token, or from the app's own origin, go through. HTTP-layer only: the
/// backend does not matter, SQLite is used.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_are_refused() {
    let s = server(
        Backend::Sqlite,
        &[("REGISTRATION_MODE", "open"), ("SAMPLE_VAULT", "off")],
    )
    .await;
    let (_, admin) = s.sign_up("admin@example.org", "correct horse", None).await;
    let cookie = format!("kryton.session_token={admin}");
    let own_origin = format!("http://127.0.0.1:{}", s.env.port);
    let daily = "/api/daily";
    let invites = "/api/admin/invites";

    // Cross-site by Origin or by Sec-Fetch-Site, with a proper JSON body: 403.
    for headers in [
        vec![
            ("cookie", cookie.as_str()),
            ("origin", "https://evil.example"),
            ("content-type", "application/json"),
        ],
        vec![
            ("cookie", cookie.as_str()),
            ("origin", "null"),
            ("content-type", "application/json"),
        ],
        vec![
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "cross-site"),
            ("content-type", "application/json"),
        ],
        vec![
            ("cookie", cookie.as_str()),
            ("sec-fetch-site", "same-site"),
            ("content-type", "application/json"),
        ],
    ] {
        for path in [daily, invites, "/api/auth/sign-out"] {
            let (status, _, body) = raw(&s, "POST", path, &headers, Some("{}")).await;
            assert_eq!(status, 403, "{path} {headers:?}: {body}");
            assert!(body.contains("cross-site"), "{body}");
        }
    }
    // Bodies any page can send without a preflight: text/plain JSON, an empty form, no type.
    for (content_type, body) in [
        (Some("text/plain;charset=UTF-8"), "{}"),
        (Some("application/x-www-form-urlencoded"), ""),
        (Some("multipart/form-data; boundary=x"), "--x--"),
        (None, "{}"),
    ] {
        let mut headers = vec![("cookie", cookie.as_str())];
        if let Some(ct) = content_type {
            headers.push(("content-type", ct));
        }
        for path in [
            daily,
            invites,
            "/api/auth/sign-out",
            "/api/history-restore/a.md",
            "/api/trash/restore/a.md",
        ] {
            let (status, _, text) = raw(&s, "POST", path, &headers, Some(body)).await;
            assert_eq!(status, 415, "{path} {content_type:?}: {text}");
        }
    }
    assert_eq!(
        s.env.scalar("SELECT count(*) FROM invites").await,
        0,
        "no invite was made"
    );
    assert_eq!(
        s.env.scalar("SELECT count(*) FROM notes").await,
        1,
        "only the welcome note"
    );
    assert_eq!(status_with(&s, &admin).await, 200, "the session was not signed out");

    // The same writes from the app's own origin, or with a bearer token, work.
    let (status, _, body) = raw(
        &s,
        "POST",
        invites,
        &[
            ("cookie", &cookie),
            ("origin", &own_origin),
            ("content-type", "application/json"),
        ],
        Some("{}"),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (status, _, body) = raw(
        &s,
        "POST",
        invites,
        &[("cookie", &cookie), ("sec-fetch-site", "same-origin")],
        None,
    )
    .await;
    assert_eq!(status, 201, "an empty same-origin POST: {body}");
    let bearer = format!("Bearer {admin}");
    let (status, _, body) = raw(
        &s,
        "POST",
        invites,
        &[
            ("authorization", &bearer),
            ("origin", "https://evil.example"),
            ("content-type", "text/plain"),
        ],
        Some("{}"),
    )
    .await;
    assert_eq!(status, 201, "bearer requests are not browser-forgeable: {body}");
    assert_eq!(s.env.scalar("SELECT count(*) FROM invites").await, 3);
}

/// 19.8 with APP_URL: the origin to match is APP_URL's, not whatever Host the request names.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_check_uses_app_url() {
    let s = server(
        Backend::Sqlite,
        &[("REGISTRATION_MODE", "open"), ("APP_URL", "https://notes.example.org/")],
    )
    .await;
    let (_, admin) = s.sign_up("admin@example.org", "correct horse", None).await;
    let cookie = format!("kryton.session_token={admin}");
    let own_origin = format!("http://127.0.0.1:{}", s.env.port);
    let server = &s;
    let post = |origin: String| {
        let cookie = cookie.clone();
        async move {
            raw(
                server,
                "POST",
                "/api/admin/invites",
                &[
                    ("cookie", &cookie),
                    ("origin", &origin),
                    ("content-type", "application/json"),
                ],
                Some("{}"),
            )
            .await
            .0
        }
    };
    assert_eq!(
        post(own_origin).await,
        403,
        "the Host is not the app's origin when APP_URL is set"
    );
    assert_eq!(post("https://notes.example.org".to_owned()).await, 201);
    // HSTS, since APP_URL is https.
    let (_, headers, _) = raw(&s, "GET", "/healthz", &[], None).await;
    assert_eq!(headers["strict-transport-security"], "max-age=31536000");
}

/// 19.9: nosniff and no referrer everywhere; no-store on answers carrying tokens, keys and invite
/// codes; no HSTS over plain http.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn security_headers() {
    let s = server(Backend::Sqlite, &[("REGISTRATION_MODE", "open")]).await;
    let sign_up = json!({ "email": "a@example.org", "password": "correct horse", "name": "a" }).to_string();
    let (status, headers, body) = raw(
        &s,
        "POST",
        "/api/auth/sign-up/email",
        &[("content-type", "application/json")],
        Some(&sign_up),
    )
    .await;
    assert_eq!(status, 200);
    let token = serde_json::from_str::<Value>(&body).unwrap()["session"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(headers["cache-control"], "no-store", "a session token");
    let bearer = format!("Bearer {token}");
    let json_type = ("content-type", "application/json");
    for (method, path, body) in [
        ("POST", "/api/api-keys", Some(r#"{"name":"k","scope":"read-only"}"#)),
        ("POST", "/api/admin/invites", None),
        ("GET", "/healthz", None),
        ("GET", "/api/no-such-route", None),
        ("GET", "/no-such-page", None),
    ] {
        let (_, headers, _) = raw(&s, method, path, &[("authorization", &bearer), json_type], body).await;
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        // The web app's page keeps same-origin referrers for its own links; the API sends none.
        let referrer = headers["referrer-policy"].to_str().unwrap();
        assert!(
            referrer == "no-referrer" || (referrer == "same-origin" && !path.starts_with("/api")),
            "{path}: {referrer}"
        );
        if path.starts_with("/api") || path == "/healthz" {
            assert_eq!(headers["cache-control"], "no-store", "{path}");
        }
        assert!(
            headers.get("strict-transport-security").is_none(),
            "{path}: no HSTS over http"
        );
    }
}

/// 19.10: whatever the umask, the SQLite files and the vaults are private to the server's user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let mut env = TestEnv::new(Backend::Sqlite).await;
    env.set_env("REGISTRATION_MODE", "open");
    // A permissive umask, inherited by the server: it must not matter.
    let previous = rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o000));
    let s = Server::start(env).await;
    rustix::process::umask(previous);
    let (user_id, session) = s.sign_up("a@example.org", "correct horse", None).await;
    let (status, body) = s
        .request(
            "POST",
            "/api/notes",
            &As::Bearer(session),
            Some(json!({ "path": "folder/private.md", "content": "secret" })),
        )
        .await;
    assert!(status == 201 || status == 200, "{body}");
    let mode = |p: std::path::PathBuf| std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
    let data = s.env.data_dir();
    assert_eq!(mode(data.clone()), 0o700, "DATA_DIR");
    for file in ["kryton.db", "kryton.db-wal", "kryton.db-shm"] {
        assert_eq!(mode(data.join(file)), 0o600, "{file}");
    }
    let vault = data.join("notes").join(&user_id);
    assert_eq!(mode(data.join("notes")), 0o700, "NOTES_DIR");
    assert_eq!(mode(vault.clone()), 0o700, "the vault");
    assert_eq!(mode(vault.join("folder")), 0o700, "a folder");
    assert_eq!(mode(vault.join("folder/private.md")), 0o600, "a note");
}

/// 19.5: a password in POSTGRES_URL, in the userinfo or as `?password=`/`sslpassword=`, never
/// reaches the logs of `serve` or `migrate`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_secrets_are_never_logged() {
    let mut env = TestEnv::new(Backend::Postgres).await;
    let db = env.pg_database.clone().unwrap();
    env.set_env(
        "POSTGRES_URL",
        &format!(
            "postgres://postgres:Us3rinfoSecret@127.0.0.1:5432/{db}?sslmode=disable&password=Qu3rySecret&sslpassword=Ssl3Secret"
        ),
    );
    env.set_env("LOG_LEVEL", "debug");
    let migrate = env.run(&["migrate"]).await;
    migrate.assert_code(0);
    let status = env.run(&["migrate", "status"]).await;
    let mut s = Server::start(env).await;
    let logs = s.stop().await;
    let all = format!(
        "{}{}{}{}{logs}",
        migrate.stdout(),
        migrate.stderr(),
        status.stdout(),
        status.stderr()
    );
    assert!(
        all.contains("127.0.0.1:5432"),
        "the database is named in the logs: {all}"
    );
    for secret in ["Us3rinfoSecret", "Qu3rySecret", "Ssl3Secret"] {
        assert!(!all.contains(secret), "{secret} was logged:\n{all}");
    }
}

/// Opens `n` TCP connections that never send a byte.
fn idle_clients(port: u16, n: usize) -> Vec<std::net::TcpStream> {
    (0..n)
        .filter_map(|_| std::net::TcpStream::connect(("127.0.0.1", port)).ok())
        .collect()
}

/// True once the server has closed the connection (read gives EOF or an error).
fn closed_by_server(stream: &mut std::net::TcpStream, within: Duration) -> bool {
    use std::io::Read;
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

/// 14.5: 1,000 idle clients on a server started with the common soft limit of 1,024 file
/// descriptors: /healthz still answers; a client trickling its headers and an idle keep-alive
/// connection are disconnected by the timeouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_clients_do_not_starve_the_server() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let mut env = TestEnv::new(Backend::Sqlite).await;
    env.set_env("HEADER_READ_TIMEOUT", "2s");
    env.set_env("IDLE_TIMEOUT", "3s");
    // The server inherits a soft limit of 1,024 descriptors; this test then needs more for itself.
    let original = getrlimit(Resource::Nofile);
    let hard = original.maximum;
    assert!(
        hard.is_none_or(|h| h >= 4096),
        "this test needs a hard fd limit of at least 4096"
    );
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: Some(1024),
            maximum: hard,
        },
    )
    .unwrap();
    let s = Server::start(env).await;
    setrlimit(
        Resource::Nofile,
        Rlimit {
            current: hard.map(|h| h.min(8192)),
            maximum: hard,
        },
    )
    .unwrap();

    let port = s.env.port;
    let idle = tokio::task::spawn_blocking(move || idle_clients(port, 1000))
        .await
        .unwrap();
    assert!(idle.len() >= 990, "opened only {} idle connections", idle.len());
    for _ in 0..5 {
        let response = s
            .client
            .get(s.env.url("/healthz"))
            .timeout(Duration::from_secs(10))
            .send()
            .await;
        assert!(
            response.as_ref().is_ok_and(|r| r.status() == 200),
            "/healthz did not answer with 1,000 idle clients: {response:?}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // A slow-loris client: one byte a second never completes its headers.
    let slow = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        let started = Instant::now();
        for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if stream.write_all(&[*byte]).is_err() {
                return started.elapsed();
            }
            std::thread::sleep(Duration::from_millis(500));
            if started.elapsed() > Duration::from_secs(30) {
                break;
            }
        }
        started.elapsed()
    });
    // An idle keep-alive connection after one request.
    let keep_alive = tokio::task::spawn_blocking(move || {
        use std::io::Write;
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let started = Instant::now();
        (
            closed_by_server(&mut stream, Duration::from_secs(20)),
            started.elapsed(),
        )
    });
    let slow_for = slow.await.unwrap();
    assert!(
        slow_for < Duration::from_secs(20),
        "a trickling client stayed connected for {slow_for:?}"
    );
    let (closed, after) = keep_alive.await.unwrap();
    assert!(closed, "an idle keep-alive connection was never closed");
    assert!(after >= Duration::from_secs(2), "closed too early: {after:?}");
    // The idle crowd was disconnected too.
    let mut crowd = idle;
    let sample = crowd
        .iter_mut()
        .take(20)
        .filter_map(|c| closed_by_server(c, Duration::from_secs(10)).then_some(()))
        .count();
    assert_eq!(sample, 20, "idle connections that never sent a byte are closed");
    drop(crowd);
    setrlimit(Resource::Nofile, original).unwrap();
}

fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// 14.6: a flood of sign-ins keeps memory flat (hashing is bounded), a full queue answers 503
/// with Retry-After, and behind a proxy the spoofable left of X-Forwarded-For does not dodge the
/// per-client limit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_flood_is_bounded() {
    let s = server(
        Backend::Sqlite,
        &[
            ("REGISTRATION_MODE", "open"),
            ("HASH_CONCURRENCY", "2"),
            ("HASH_QUEUE_WAIT", "2m"),
        ],
    )
    .await;
    s.sign_up("victim@example.org", "correct horse", None).await;
    let pid = s.child.as_ref().unwrap().id().unwrap();
    let before = peak_rss_kib(pid);
    let attempts = (0..40).map(|i| {
        s.request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({ "email": if i % 2 == 0 { "victim@example.org".to_owned() } else { format!("nobody{i}@example.org") }, "password": "wrong password" })),
        )
    });
    let statuses: Vec<u16> = futures_join_all(attempts).await.into_iter().map(|r| r.0).collect();
    assert_eq!(count(&statuses, 401), 40, "{statuses:?}");
    let grew_mib = (peak_rss_kib(pid).saturating_sub(before)) / 1024;
    // Two hashing slots hold about 2 x 19 MiB; 40 unbounded hashes held about 750 MiB.
    assert!(
        grew_mib < 150,
        "peak memory grew by {grew_mib} MiB under a sign-in flood"
    );

    let s = server(
        Backend::Sqlite,
        &[
            ("REGISTRATION_MODE", "open"),
            ("HASH_CONCURRENCY", "1"),
            ("HASH_QUEUE_WAIT", "10ms"),
        ],
    )
    .await;
    let attempts = (0..12).map(|i| {
        let url = s.env.url("/api/auth/sign-in/email");
        let client = s.client.clone();
        async move {
            let r = client
                .post(url)
                .json(&json!({ "email": format!("n{i}@example.org"), "password": "wrong password" }))
                .send()
                .await
                .unwrap();
            (r.status().as_u16(), r.headers().get("retry-after").cloned())
        }
    });
    let results = futures_join_all(attempts).await;
    let busy: Vec<_> = results.iter().filter(|r| r.0 == 503).collect();
    assert!(!busy.is_empty(), "a full hashing queue never answered 503: {results:?}");
    assert!(
        busy.iter().all(|r| r.1.is_some()),
        "503 without Retry-After: {results:?}"
    );
    assert!(results.iter().all(|r| matches!(r.0, 401 | 503)), "{results:?}");
}

/// 14.6: with TRUST_PROXY, the client is read from the right of X-Forwarded-For: a client that
/// writes its own entries on the left is still counted under the address the proxy appended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_for_cannot_dodge_the_limit() {
    let mut env = TestEnv::new(Backend::Sqlite).await;
    env.set_env("TRUST_PROXY", "true");
    env.set_env("AUTH_RATE_LIMIT_MAX", "5");
    let s = Server::start(env).await;
    let mut statuses = Vec::new();
    for i in 0..12 {
        let r = s
            .client
            .post(s.env.url("/api/auth/sign-in/email"))
            .header("x-forwarded-for", format!("6.6.6.{i}, 203.0.113.7"))
            .json(&json!({ "email": format!("n{i}@example.org"), "password": "wrong password" }))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
    }
    assert_eq!(count(&statuses, 401), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 7, "{statuses:?}");
    // Another client behind the same proxy is counted separately.
    let r = s
        .client
        .post(s.env.url("/api/auth/sign-in/email"))
        .header("x-forwarded-for", "203.0.113.8")
        .json(&json!({ "email": "x@example.org", "password": "wrong password" }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
}

/// 14.9: a migrator killed during a long statement releases the migration lock within seconds,
/// not when the statement would have ended.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_migrator_releases_the_lock() {
    let mut env = TestEnv::new(Backend::Postgres).await;
    let shipped = env.write_shipped_migrations();
    env.write_migration(
        &format!("{:04}_slow.sql", shipped + 1),
        "-- kryton:compat=expand\nCREATE TABLE slow (id INTEGER);\nSELECT pg_sleep(60);\n",
    );
    let db = env.pg_database.clone().unwrap();
    let admin = sqlx::PgPool::connect(&common::admin_url()).await.unwrap();
    let sleeping = |admin: sqlx::PgPool, db: String| async move {
        sqlx::query_scalar::<_, i64>(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND query LIKE '%pg_sleep(60)%' AND pid <> pg_backend_pid()",
        )
        .bind(db)
        .fetch_one(&admin)
        .await
        .unwrap()
    };
    let mut child = env.spawn(&["migrate"]);
    let started = Instant::now();
    while sleeping(admin.clone(), db.clone()).await == 0 {
        assert!(child.try_wait().unwrap().is_none(), "the migrator exited early");
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the slow migration never started"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let killed = Instant::now();
    while sleeping(admin.clone(), db.clone()).await > 0 {
        assert!(
            killed.elapsed() < Duration::from_secs(20),
            "the dead migrator's session still runs (and holds the lock) after 20s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let locks: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database WHERE d.datname = $1 AND l.locktype = 'advisory'",
    )
    .bind(&db)
    .fetch_one(&admin)
    .await
    .unwrap();
    assert_eq!(locks, 0, "the migration lock is released");
    admin.close().await;
}
