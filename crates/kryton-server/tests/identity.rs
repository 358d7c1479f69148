//! Accounts, sessions, API keys, admin and isolation, through the real server on both backends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

fn error_code(body: &Value) -> &str {
    body["code"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error envelope: {body}"))
}

async fn server(backend: Backend, settings: &[(&str, &str)]) -> Server {
    let mut env = TestEnv::new(backend).await;
    for (k, v) in settings {
        env.set_env(k, v);
    }
    Server::start(env).await
}

async fn new_key(s: &Server, session: &str, scope: &str) -> (String, String) {
    let (status, body) = s
        .request(
            "POST",
            "/api/api-keys",
            &As::Bearer(session.into()),
            Some(json!({"name": "k", "scope": scope})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    (
        body["id"].as_str().unwrap().to_owned(),
        body["key"].as_str().unwrap().to_owned(),
    )
}

/// Sign-up, sign-in, get-session and sign-out; the first account is admin, the second is not.
async fn account_round_trip(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open")]).await;
    let (admin_id, admin_session) = s.sign_up("Admin@Example.org ", "correct horse", None).await;
    let (status, me) = s
        .request("GET", "/api/auth/get-session", &As::Cookie(admin_session.clone()), None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(me["user"]["id"], admin_id.as_str());
    assert_eq!(me["user"]["email"], "admin@example.org", "emails are normalised");
    assert_eq!(me["user"]["role"], "admin");
    assert!(me["user"].get("passwordHash").is_none() && !me.to_string().contains("argon2"));

    let (_, second) = s.sign_up("second@example.org", "another pass", None).await;
    let (_, me2) = s
        .request("GET", "/api/auth/get-session", &As::Bearer(second.clone()), None)
        .await;
    assert_eq!(me2["user"]["role"], "user");

    let (status, body) = s
        .request(
            "POST",
            "/api/auth/sign-up/email",
            &As::Nobody,
            Some(json!({"email": "SECOND@example.org", "password": "whatever1", "name": "x"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, "CONFLICT"));

    let (status, signed_in) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": "second@example.org", "password": "another pass"})),
        )
        .await;
    assert_eq!(status, 200, "{signed_in}");
    let token = signed_in["session"]["token"].as_str().unwrap().to_owned();
    let (status, _) = s
        .request("POST", "/api/auth/sign-out", &As::Bearer(token.clone()), None)
        .await;
    assert_eq!(status, 200);
    let (status, body) = s
        .request("GET", "/api/auth/get-session", &As::Bearer(token), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (401, "UNAUTHORIZED"),
        "a signed-out session is revoked"
    );
    let (status, body) = s.request("GET", "/api/auth/get-session", &As::Nobody, None).await;
    assert_eq!((status, body), (200, Value::Null));
    // The other session of the same user is untouched.
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Bearer(second), None)
            .await
            .0,
        200
    );
}
both_backends!(account_round_trip);

/// Input validation: each bad sign-up gets a 400 and creates nothing.
async fn sign_up_validation(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open")]).await;
    for (body, why) in [
        (
            json!({"email": "not-an-email", "password": "longenough", "name": "x"}),
            "email",
        ),
        (
            json!({"email": "a@b.org", "password": "short", "name": "x"}),
            "password",
        ),
        (
            json!({"email": "a@b.org", "password": "x".repeat(73), "name": "x"}),
            "password",
        ),
        (
            json!({"email": "a@b.org", "password": "longenough", "name": ""}),
            "name",
        ),
        (json!({"email": "a@b.org", "password": "longenough"}), "name"),
    ] {
        let (status, answer) = s
            .request("POST", "/api/auth/sign-up/email", &As::Nobody, Some(body))
            .await;
        assert_eq!(
            (status, error_code(&answer)),
            (400, "VALIDATION_ERROR"),
            "{why}: {answer}"
        );
        assert!(answer["message"].as_str().unwrap().contains(why), "{answer}");
    }
    let raw = s
        .client
        .post(s.env.url("/api/auth/sign-up/email"))
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    let body: Value = raw.json().await.unwrap();
    assert_eq!(error_code(&body), "VALIDATION_ERROR");
    assert_eq!(s.env.scalar("SELECT count(*) FROM users").await, 0);
}
both_backends!(sign_up_validation);

/// Registration modes: invite-only (the default) with single-use, expiring codes; closed; open.
async fn registration_modes(backend: Backend) {
    let s = server(backend, &[]).await;
    let (_, admin) = s.sign_up("admin@example.org", "admin password", None).await;
    let admin = As::Bearer(admin);
    let attempt = |email: &str, invite: Option<&str>| {
        let mut body = json!({"email": email, "password": "password123", "name": "n"});
        if let Some(code) = invite {
            body["inviteCode"] = json!(code);
        }
        s.request("POST", "/api/auth/sign-up/email", &As::Nobody, Some(body))
    };
    let (status, body) = attempt("nocode@example.org", None).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "FORBIDDEN"),
        "invite-only is the default"
    );

    let (status, invite) = s.request("POST", "/api/admin/invites", &admin, None).await;
    assert_eq!(status, 201, "{invite}");
    let code = invite["code"].as_str().unwrap().to_owned();
    assert_eq!(attempt("invited@example.org", Some(&code)).await.0, 200);
    let (status, body) = attempt("again@example.org", Some(&code)).await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "FORBIDDEN"),
        "an invite is single-use"
    );
    assert_eq!(attempt("bogus@example.org", Some("not-a-code")).await.0, 403);

    let (_, expiring) = s.request("POST", "/api/admin/invites", &admin, None).await;
    // Its expiry passes (moved into the past in the database rather than waited for).
    s.env
        .execute(format!(
            "UPDATE invites SET expires_at = 1 WHERE id = '{}'",
            expiring["id"].as_str().unwrap()
        ))
        .await;
    let (status, _) = attempt("late@example.org", Some(expiring["code"].as_str().unwrap())).await;
    assert_eq!(status, 403, "an expired invite is refused");

    let (status, _) = s
        .request(
            "PUT",
            "/api/admin/registration",
            &admin,
            Some(json!({"mode": "closed"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, fresh) = s.request("POST", "/api/admin/invites", &admin, None).await;
    let (status, body) = attempt("closed@example.org", fresh["code"].as_str()).await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"));
    s.request("PUT", "/api/admin/registration", &admin, Some(json!({"mode": "open"})))
        .await;
    assert_eq!(attempt("open@example.org", None).await.0, 200);
    let (status, body) = s
        .request(
            "PUT",
            "/api/admin/registration",
            &admin,
            Some(json!({"mode": "sometimes"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (400, "VALIDATION_ERROR"));
    assert_eq!(s.env.scalar("SELECT count(*) FROM users").await, 3);
}
both_backends!(registration_modes);

/// Every bad credential gets the right status and envelope.
async fn bad_credentials(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open"), ("SESSION_TTL", "2h")]).await;
    let (_, session) = s.sign_up("a@example.org", "password one", None).await;
    let (_, victim) = s.sign_up("b@example.org", "password two", None).await;
    let sign_in = |email: &str, password: &str| {
        s.request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": email, "password": password})),
        )
    };
    let (status, wrong) = sign_in("a@example.org", "wrong password").await;
    assert_eq!((status, error_code(&wrong)), (401, "INVALID_EMAIL_OR_PASSWORD"));
    let (status, unknown) = sign_in("nobody@example.org", "wrong password").await;
    assert_eq!((status, error_code(&unknown)), (401, "INVALID_EMAIL_OR_PASSWORD"));
    assert_eq!(
        wrong, unknown,
        "an unknown email is indistinguishable from a wrong password"
    );

    for header in [
        "Bearer",
        "Bearer ",
        "Basic YTpi",
        "Bearer kryton_nothex",
        "Bearer x y",
        "garbage",
    ] {
        let (status, body) = s
            .request("GET", "/api/api-keys", &As::Header(header.into()), None)
            .await;
        assert_eq!((status, error_code(&body)), (401, "UNAUTHORIZED"), "{header:?}");
    }
    // An unknown session cookie counts as no cookie: the route then asks for a sign-in.
    let (status, body) = s
        .request("GET", "/api/api-keys", &As::Cookie("f".repeat(64)), None)
        .await;
    assert_eq!((status, error_code(&body)), (401, "UNAUTHORIZED"));

    let (key_id, key) = new_key(&s, &session, "read-write").await;
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Bearer(key.clone()), None)
            .await
            .0,
        200
    );
    // A key can neither manage keys nor reach admin routes, whatever its scope.
    for (method, path) in [
        ("GET", "/api/api-keys"),
        ("POST", "/api/api-keys"),
        ("DELETE", &*format!("/api/api-keys/{key_id}")),
        ("GET", "/api/admin/users"),
    ] {
        let (status, body) = s
            .request(
                method,
                path,
                &As::Bearer(key.clone()),
                Some(json!({"name": "x", "scope": "read-only"})),
            )
            .await;
        assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{method} {path}");
    }
    assert_eq!(
        s.env.scalar("SELECT count(*) FROM api_keys").await,
        1,
        "nothing was created or deleted"
    );

    // Revoked key.
    let (status, _) = s
        .request(
            "DELETE",
            &format!("/api/api-keys/{key_id}"),
            &As::Bearer(session.clone()),
            None,
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Bearer(key), None)
            .await
            .0,
        401
    );

    // Expired key: created valid, then its expiry passes (moved into the past in the database).
    let (status, body) = s
        .request(
            "POST",
            "/api/api-keys",
            &As::Bearer(session.clone()),
            Some(json!({"name": "brief", "scope": "read-only", "expiresAt": "2099-01-01T00:00:00Z"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let brief = body["key"].as_str().unwrap().to_owned();
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Bearer(brief.clone()), None)
            .await
            .0,
        200
    );
    s.env
        .execute(format!(
            "UPDATE api_keys SET expires_at = 1 WHERE id = '{}'",
            body["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Bearer(brief), None)
            .await
            .0,
        401
    );

    // SESSION_TTL decides when a new session ends.
    let (_, fresh) = sign_in("a@example.org", "password one").await;
    let ends = time::OffsetDateTime::parse(
        fresh["session"]["expiresAt"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let ttl = ends - time::OffsetDateTime::now_utc();
    assert!(
        ttl > time::Duration::minutes(119) && ttl <= time::Duration::minutes(120),
        "{ttl}"
    );

    // Expired session, the same way.
    s.env.execute("UPDATE sessions SET expires_at = 1".to_owned()).await;
    let (status, body) = s
        .request("GET", "/api/auth/get-session", &As::Bearer(session), None)
        .await;
    assert_eq!((status, error_code(&body)), (401, "UNAUTHORIZED"));
    let _ = victim;
}
both_backends!(bad_credentials);

/// Disabling a user or changing their role revokes their sessions; disabled users cannot sign in;
/// the last admin cannot remove themselves.
async fn admin_controls(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open")]).await;
    let (admin_id, admin) = s.sign_up("admin@example.org", "admin password", None).await;
    let admin = As::Bearer(admin);
    let (user_id, user_session) = s.sign_up("user@example.org", "user password", None).await;
    let (_, user_key) = new_key(&s, &user_session, "read-write").await;

    let (status, list) = s.request("GET", "/api/admin/users", &admin, None).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert!(!list.to_string().contains("argon2"));
    let (status, body) = s
        .request("GET", "/api/admin/users", &As::Bearer(user_session.clone()), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (403, "FORBIDDEN"),
        "non-admins are refused"
    );

    for change in [json!({"disabled": true}), json!({"role": "user"})] {
        let (status, body) = s
            .request("PUT", &format!("/api/admin/users/{admin_id}"), &admin, Some(change))
            .await;
        assert_eq!((status, error_code(&body)), (409, "CONFLICT"), "the last admin stays");
    }
    let (status, _) = s
        .request("DELETE", &format!("/api/admin/users/{admin_id}"), &admin, None)
        .await;
    assert_eq!(status, 409);

    let (status, body) = s
        .request(
            "PUT",
            &format!("/api/admin/users/{user_id}"),
            &admin,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Bearer(user_session), None)
            .await
            .0,
        401
    );
    // Disabling revokes the user's API keys too (they do not come back on re-enabling).
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Bearer(user_key.clone()), None)
            .await
            .0,
        401
    );
    let (status, body) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": "user@example.org", "password": "user password"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"));

    s.request(
        "PUT",
        &format!("/api/admin/users/{user_id}"),
        &admin,
        Some(json!({"disabled": false, "role": "admin"})),
    )
    .await;
    let (status, _) = s
        .request(
            "POST",
            &format!("/api/admin/users/{user_id}/password"),
            &admin,
            Some(json!({"password": "brand new pass"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": "user@example.org", "password": "brand new pass"})),
        )
        .await;
    assert_eq!(status, 200);
    // Two admins now: the first may step down.
    let (status, _) = s
        .request(
            "PUT",
            &format!("/api/admin/users/{admin_id}"),
            &admin,
            Some(json!({"role": "user"})),
        )
        .await;
    assert_eq!(status, 200);

    std::fs::create_dir_all(s.env.data_dir().join("notes").join(&user_id)).unwrap();
    std::fs::write(s.env.data_dir().join("notes").join(&user_id).join("a.md"), "# kept").unwrap();
    let (_, second_admin) = s
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": "user@example.org", "password": "brand new pass"})),
        )
        .await;
    let second_admin = As::Bearer(second_admin["session"]["token"].as_str().unwrap().into());
    let (status, body) = s
        .request("DELETE", &format!("/api/admin/users/{admin_id}"), &second_admin, None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(s.env.scalar("SELECT count(*) FROM users").await, 1);
    let (status, _) = s
        .request("DELETE", &format!("/api/admin/users/{user_id}"), &second_admin, None)
        .await;
    assert_eq!(status, 409, "the remaining admin cannot delete themselves");
}
both_backends!(admin_controls);

/// API keys: shown once, listed without the secret, at most 10, read-only keys refused on writes.
async fn api_keys(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open")]).await;
    let (_, session) = s.sign_up("a@example.org", "password one", None).await;
    let me = As::Bearer(session.clone());
    let (status, created) = s
        .request(
            "POST",
            "/api/api-keys",
            &me,
            Some(json!({"name": "agent", "scope": "read-only"})),
        )
        .await;
    assert_eq!(status, 201);
    let key = created["key"].as_str().unwrap().to_owned();
    assert!(key.starts_with("kryton_") && key.len() == 7 + 64 && key[7..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(created["keyPrefix"], &key[..15]);
    assert_eq!(created["scope"], "read-only");

    let (_, list) = s.request("GET", "/api/api-keys", &me, None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&key), "the secret is never listed");
    let stored: i64 = s
        .env
        .scalar("SELECT count(*) FROM api_keys WHERE key_prefix = key_hash")
        .await;
    assert_eq!(stored, 0);

    // Read-only: every non-GET is refused before it reaches a handler.
    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let (status, body) = s
            .request(method, "/api/auth/sign-out", &As::Bearer(key.clone()), None)
            .await;
        assert_eq!((status, error_code(&body)), (403, "FORBIDDEN"), "{method}");
        assert!(body["message"].as_str().unwrap().contains("read-only"));
    }
    for (body, field) in [
        (json!({"name": "x", "scope": "admin"}), "scope"),
        (json!({"name": "", "scope": "read-only"}), "name"),
        (
            json!({"name": "x", "scope": "read-only", "expiresAt": "tomorrow"}),
            "expiresAt",
        ),
        (
            json!({"name": "x", "scope": "read-only", "expiresAt": "2001-01-01T00:00:00Z"}),
            "expiresAt",
        ),
    ] {
        let (status, answer) = s.request("POST", "/api/api-keys", &me, Some(body)).await;
        assert_eq!(status, 400, "{answer}");
        assert!(answer["message"].as_str().unwrap().contains(field));
    }
    for i in 1..10 {
        let (status, _) = s
            .request(
                "POST",
                "/api/api-keys",
                &me,
                Some(json!({"name": format!("k{i}"), "scope": "read-write"})),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (status, body) = s
        .request(
            "POST",
            "/api/api-keys",
            &me,
            Some(json!({"name": "eleventh", "scope": "read-write"})),
        )
        .await;
    assert_eq!((status, error_code(&body)), (409, "CONFLICT"));
    assert_eq!(s.env.scalar("SELECT count(*) FROM api_keys").await, 10);

    // lastUsedAt is recorded (in the background) once a key is used.
    s.request("GET", "/api/auth/get-session", &As::Bearer(key), None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, list) = s.request("GET", "/api/api-keys", &me, None).await;
    assert!(list.as_array().unwrap().iter().any(|k| k["lastUsedAt"].is_string()));
}
both_backends!(api_keys);

/// Isolation: one user's session or key never reads or changes another user's data. Each row is a
/// route; later features add their routes to this table.
async fn isolation_table(backend: Backend) {
    let s = server(backend, &[("REGISTRATION_MODE", "open")]).await;
    let (alice_id, alice) = s.sign_up("alice@example.org", "alice password", None).await;
    let (bob_id, bob) = s.sign_up("bob@example.org", "bob password", None).await;
    let (alice_key_id, alice_key) = new_key(&s, &alice, "read-write").await;
    let (_, bob_key) = new_key(&s, &bob, "read-write").await;

    // (method, path, body, what bob may get with his session, with his key)
    let routes: Vec<(&str, String, Option<Value>, u16, u16)> = vec![
        ("GET", "/api/api-keys".into(), None, 200, 403),
        ("DELETE", format!("/api/api-keys/{alice_key_id}"), None, 404, 403),
        ("GET", "/api/auth/get-session".into(), None, 200, 200),
        ("GET", "/api/admin/users".into(), None, 403, 403),
        (
            "PUT",
            format!("/api/admin/users/{alice_id}"),
            Some(json!({"disabled": true})),
            403,
            403,
        ),
        ("DELETE", format!("/api/admin/users/{alice_id}"), None, 403, 403),
        (
            "POST",
            format!("/api/admin/users/{alice_id}/password"),
            Some(json!({"password": "taken over"})),
            403,
            403,
        ),
        (
            "POST",
            format!("/api/admin/users/{alice_id}/reset-password"),
            Some(json!({"newPassword": "taken over"})),
            403,
            403,
        ),
        (
            "PUT",
            "/api/admin/settings/registration".into(),
            Some(json!({"mode": "open"})),
            403,
            403,
        ),
        ("GET", "/api/admin/invites".into(), None, 403, 403),
        (
            "PUT",
            "/api/admin/registration".into(),
            Some(json!({"mode": "open"})),
            403,
            403,
        ),
    ];
    for (method, path, body, with_session, with_key) in &routes {
        for (who, expected) in [
            (As::Bearer(bob.clone()), with_session),
            (As::Bearer(bob_key.clone()), with_key),
        ] {
            let (status, answer) = s.request(method, path, &who, body.clone()).await;
            assert_eq!(status, *expected, "{method} {path} as {who:?}: {answer}");
            let text = answer.to_string();
            assert!(
                !text.contains("alice@example.org") && !text.contains(&alice_key_id),
                "{method} {path} leaked alice's data"
            );
            if status == 200 && *method == "GET" && path.contains("session") {
                assert_eq!(answer["user"]["id"], bob_id.as_str());
            }
        }
    }
    // Alice is untouched.
    assert_eq!(
        s.request("GET", "/api/auth/get-session", &As::Bearer(alice_key), None)
            .await
            .0,
        200
    );
    let (_, alice_keys) = s.request("GET", "/api/api-keys", &As::Bearer(alice), None).await;
    assert_eq!(alice_keys.as_array().unwrap().len(), 1);
    assert_eq!(
        s.env.scalar("SELECT count(*) FROM users WHERE disabled = FALSE").await,
        2
    );
}
both_backends!(isolation_table);

/// Brute force: the sign-in limiter answers 429 (with Retry-After) per account and per client.
async fn sign_in_rate_limits(backend: Backend) {
    let s = server(
        backend,
        &[
            ("REGISTRATION_MODE", "open"),
            ("AUTH_RATE_LIMIT_MAX", "5"),
            ("TRUST_PROXY", "true"),
        ],
    )
    .await;
    s.sign_up("target@example.org", "the password", None).await;
    let attempt = |email: &'static str, ip: String| {
        let request = s
            .client
            .post(s.env.url("/api/auth/sign-in/email"))
            .header("x-forwarded-for", ip)
            .json(&json!({"email": email, "password": "guess guess"}));
        async move { request.send().await.unwrap() }
    };
    // Per account: five clients guess the same account; the sixth guess is refused.
    for i in 0..5 {
        assert_eq!(attempt("target@example.org", format!("10.0.0.{i}")).await.status(), 401);
    }
    let refused = attempt("target@example.org", "10.0.0.99".into()).await;
    assert_eq!(refused.status(), 429);
    let retry: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), "RATE_LIMITED");
    // Even the right password is refused while the account is locked out.
    let right = s
        .client
        .post(s.env.url("/api/auth/sign-in/email"))
        .header("x-forwarded-for", "10.0.0.100")
        .json(&json!({"email": "target@example.org", "password": "the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(right.status(), 429);

    // Per client: one client guessing many accounts.
    for i in 0..5 {
        let email: &'static str = Box::leak(format!("spray{i}@example.org").into_boxed_str());
        assert_eq!(attempt(email, "10.9.9.9".into()).await.status(), 401);
    }
    assert_eq!(attempt("spray9@example.org", "10.9.9.9".into()).await.status(), 429);
}
both_backends!(sign_in_rate_limits);

/// The global per-client limit answers 429 with the envelope.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_rate_limit() {
    let s = server(Backend::Sqlite, &[("RATE_LIMIT_MAX", "20")]).await;
    let mut statuses = Vec::new();
    for _ in 0..25 {
        statuses.push(s.request("GET", "/api/auth/get-session", &As::Nobody, None).await.0);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 20);
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 5);
    assert_eq!(
        s.request("GET", "/healthz", &As::Nobody, None).await.0,
        200,
        "probes are never limited"
    );
}

/// No password, session token or API key ever appears in the logs or in error bodies.
async fn secrets_stay_secret(backend: Backend) {
    let mut s = server(backend, &[("REGISTRATION_MODE", "open"), ("LOG_LEVEL", "debug")]).await;
    let password = "Pa55word-that-is-secret";
    let (_, session) = s.sign_up("a@example.org", password, None).await;
    let (_, key) = new_key(&s, &session, "read-only").await;
    let mut bodies = String::new();
    for body in [
        json!({"email": "a@example.org", "password": "Wr0ng-secret-guess"}),
        json!({"email": "a@example.org", "password": password}),
    ] {
        bodies += &s
            .request("POST", "/api/auth/sign-in/email", &As::Nobody, Some(body))
            .await
            .1
            .to_string();
    }
    bodies += &s
        .request("POST", "/api/api-keys", &As::Bearer(key.clone()), None)
        .await
        .1
        .to_string();
    bodies += &s
        .request("GET", "/api/nope", &As::Bearer(format!("{key}x")), None)
        .await
        .1
        .to_string();
    let logs = s.stop().await;
    assert!(logs.contains("account created"), "the logs were captured: {logs}");
    for secret in [
        password,
        "Wr0ng-secret-guess",
        &session,
        &key,
        &key[7..],
        "Sup3rSecretPw",
    ] {
        assert!(!logs.contains(secret), "a secret appeared in the logs");
        assert!(!bodies.contains(secret), "a secret appeared in an error body");
    }
}
both_backends!(secrets_stay_secret);
