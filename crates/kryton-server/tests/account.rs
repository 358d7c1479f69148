//! Account security through the real server on both backends: sessions a user sees and ends,
//! password change, TOTP two-factor with real codes computed here, backup codes, an admin's
//! reset, brute-force limits on codes, and secrets kept out of logs and error bodies.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};
use totp_rs::{Algorithm, TOTP};

async fn server(backend: Backend, settings: &[(&str, &str)]) -> Server {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    for (k, v) in settings {
        env.set_env(k, v);
    }
    Server::start(env).await
}

/// Signs in with a chosen User-Agent; returns the whole answer.
async fn sign_in_as(s: &Server, email: &str, password: &str, agent: &str) -> (u16, Value) {
    let response = s
        .client
        .post(s.env.url("/api/auth/sign-in/email"))
        .header("user-agent", agent)
        .json(&json!({ "email": email, "password": password }))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

async fn sign_in(s: &Server, email: &str, password: &str) -> String {
    let (status, body) = sign_in_as(s, email, password, "test-client").await;
    assert_eq!(status, 200, "{body}");
    body["session"]["token"]
        .as_str()
        .unwrap_or_else(|| panic!("no session in {body}"))
        .to_owned()
}

async fn status_with(s: &Server, token: &str) -> u16 {
    s.request("GET", "/api/auth/get-session", &As::Bearer(token.to_owned()), None)
        .await
        .0
}

async fn new_key(s: &Server, session: &str) -> String {
    let (status, body) = s
        .request(
            "POST",
            "/api/api-keys",
            &As::Bearer(session.into()),
            Some(json!({"name": "k", "scope": "read-write"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["key"].as_str().unwrap().to_owned()
}

/// Sessions: listed with their device, address and times, the current one flagged; one revoked;
/// all others revoked; nobody else's reachable; last-seen written at most once a minute.
async fn sessions_list_and_revoke(backend: Backend) {
    let s = server(backend, &[]).await;
    s.sign_up("owner@example.org", "owner password", None).await;
    let (_, stranger) = s.sign_up("stranger@example.org", "stranger password", None).await;
    let (_, a) = sign_in_as(&s, "owner@example.org", "owner password", "Laptop Firefox").await;
    let (_, b) = sign_in_as(&s, "owner@example.org", "owner password", "Phone Safari").await;
    let (_, c) = sign_in_as(&s, "owner@example.org", "owner password", "Tablet Chrome").await;
    let token = |v: &Value| v["session"]["token"].as_str().unwrap().to_owned();
    let (a, b, c) = (token(&a), token(&b), token(&c));

    let (status, list) = s
        .request("GET", "/api/auth/list-sessions", &As::Cookie(a.clone()), None)
        .await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap().clone();
    // The sign-up session plus three sign-ins.
    assert_eq!(list.len(), 4, "{list:?}");
    let current: Vec<_> = list.iter().filter(|e| e["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["userAgent"], "Laptop Firefox");
    let agents: Vec<_> = list.iter().map(|e| e["userAgent"].as_str().unwrap_or("")).collect();
    assert!(
        agents.contains(&"Phone Safari") && agents.contains(&"Tablet Chrome"),
        "{agents:?}"
    );
    for entry in &list {
        assert_eq!(entry["ipAddress"], "127.0.0.1");
        assert!(entry["createdAt"].as_str().unwrap().ends_with('Z'));
        assert!(entry["lastSeenAt"].is_string() && entry["expiresAt"].is_string());
    }
    let text = serde_json::to_string(&list).unwrap();
    for secret in [&a, &b, &c] {
        assert!(!text.contains(secret.as_str()), "a session list never shows tokens");
    }
    let phone_id = list.iter().find(|e| e["userAgent"] == "Phone Safari").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Someone else cannot end my session, and learns nothing (404 like an unknown id).
    let (status, _) = s
        .request(
            "POST",
            "/api/auth/revoke-session",
            &As::Bearer(stranger.clone()),
            Some(json!({ "id": phone_id })),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(status_with(&s, &b).await, 200, "a refused revocation ends nothing");
    // API keys do not manage sessions.
    let key = new_key(&s, &a).await;
    for path in ["/api/auth/list-sessions", "/api/auth/revoke-other-sessions"] {
        let method = if path.ends_with("list-sessions") { "GET" } else { "POST" };
        let (status, _) = s.request(method, path, &As::Bearer(key.clone()), None).await;
        assert_eq!(status, 403, "{path} with an API key");
    }

    let (status, body) = s
        .request(
            "POST",
            "/api/auth/revoke-session",
            &As::Bearer(a.clone()),
            Some(json!({ "id": phone_id })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_with(&s, &b).await, 401, "the revoked session is dead");
    assert_eq!(status_with(&s, &a).await, 200);
    assert_eq!(status_with(&s, &c).await, 200);

    let (status, body) = s
        .request("POST", "/api/auth/revoke-other-sessions", &As::Bearer(a.clone()), None)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["revoked"], 2, "the sign-up session and the tablet");
    assert_eq!(status_with(&s, &c).await, 401);
    assert_eq!(status_with(&s, &a).await, 200, "this session stays");
    assert_eq!(status_with(&s, &stranger).await, 200, "other users are untouched");
    assert_eq!(status_with(&s, &key).await, 200, "API keys are not sessions: they stay");

    // Last seen: recorded on use, but not on every request.
    s.env
        .execute("UPDATE sessions SET last_seen_at = 1000, refreshed_at = created_at".to_owned())
        .await;
    status_with(&s, &a).await;
    let mut seen = 1000;
    for _ in 0..100 {
        seen = s.env.scalar("SELECT max(last_seen_at) FROM sessions").await;
        if seen > 1000 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen > 1000, "the use was recorded");
    for _ in 0..5 {
        status_with(&s, &a).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        s.env.scalar("SELECT max(last_seen_at) FROM sessions").await,
        seen,
        "uses within a minute write nothing"
    );
}
both_backends!(sessions_list_and_revoke);

/// Changing my password needs the current one, ends my other sessions, keeps this one and my keys.
async fn change_password_keeps_this_session_and_keys(backend: Backend) {
    let s = server(backend, &[]).await;
    let (_, here) = s.sign_up("me@example.org", "first password", None).await;
    let elsewhere = sign_in(&s, "me@example.org", "first password").await;
    let key = new_key(&s, &here).await;
    let me = As::Bearer(here.clone());
    let change = |current: &str| {
        let body = json!({ "currentPassword": current, "newPassword": "second password" });
        s.request("POST", "/api/auth/change-password", &me, Some(body))
    };
    let (status, _) = change("not my password").await;
    assert_eq!(status, 400);
    assert_eq!(status_with(&s, &elsewhere).await, 200);
    let (status, body) = change("first password").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(status_with(&s, &here).await, 200, "this session stays");
    assert_eq!(status_with(&s, &elsewhere).await, 401, "other sessions end");
    assert_eq!(status_with(&s, &key).await, 200, "API keys live on");
    let (status, _) = sign_in_as(&s, "me@example.org", "first password", "x").await;
    assert_eq!(status, 401);
    sign_in(&s, "me@example.org", "second password").await;
}
both_backends!(change_password_keeps_this_session_and_keys);

/// The authenticator app of the test: reads the otpauth URI the server showed.
fn authenticator(uri: &str) -> TOTP {
    let url = url::Url::parse(uri).unwrap();
    assert_eq!(url.scheme(), "otpauth");
    let secret = url
        .query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
        .expect("a secret in the URI");
    let bytes = totp_rs::Secret::Encoded(secret).to_bytes().unwrap();
    TOTP::new_unchecked(Algorithm::SHA1, 6, 0, 30, bytes, None, String::new())
}

fn secret_of(uri: &str) -> String {
    let url = url::Url::parse(uri).unwrap();
    url.query_pairs()
        .find(|(k, _)| k == "secret")
        .map(|(_, v)| v.into_owned())
        .unwrap()
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Enrols a second factor for the session's user: returns the authenticator, the backup codes
/// and the step whose code confirmed it.
async fn enrol(s: &Server, session: &str, password: &str) -> (TOTP, Vec<String>, u64) {
    let (status, setup) = s
        .request(
            "POST",
            "/api/auth/two-factor/enable",
            &As::Bearer(session.to_owned()),
            Some(json!({ "password": password })),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    let uri = setup["totpURI"].as_str().unwrap();
    let app = authenticator(uri);
    let codes: Vec<String> = setup["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let step = now_secs() / 30;
    let (status, body) = s
        .request(
            "POST",
            "/api/auth/two-factor/verify-totp",
            &As::Bearer(session.to_owned()),
            Some(json!({ "code": app.generate(step * 30) })),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    (app, codes, step)
}

/// Starts a sign-in that needs a second factor; returns the pending sign-in's token.
async fn first_step(s: &Server, email: &str, password: &str) -> String {
    let (status, body) = sign_in_as(s, email, password, "two-step").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["twoFactorRedirect"], true, "{body}");
    assert!(
        body.get("session").is_none() && body.get("user").is_none(),
        "no session before the code: {body}"
    );
    body["twoFactorToken"].as_str().unwrap().to_owned()
}

async fn answer(s: &Server, route: &str, token: &str, code: &str) -> (u16, Value) {
    s.request(
        "POST",
        &format!("/api/auth/two-factor/{route}"),
        &As::Nobody,
        Some(json!({ "code": code, "twoFactorToken": token })),
    )
    .await
}

/// TOTP from enrolment to disabling, with codes computed here as an authenticator app would.
async fn totp_enrolment_sign_in_backup_codes_and_disable(backend: Backend) {
    let s = server(backend, &[("AUTH_RATE_LIMIT_MAX", "1000")]).await;
    let (_, session) = s.sign_up("two@example.org", "my password", None).await;
    let key = new_key(&s, &session).await;
    let me = As::Bearer(session.clone());

    let (status, _) = s
        .request(
            "POST",
            "/api/auth/two-factor/enable",
            &me,
            Some(json!({ "password": "wrong password" })),
        )
        .await;
    assert_eq!(status, 400, "enabling needs the password");
    let (status, setup) = s
        .request(
            "POST",
            "/api/auth/two-factor/enable",
            &me,
            Some(json!({ "password": "my password" })),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    assert!(setup["qrCodeSvg"].as_str().unwrap().contains("<svg"));
    assert_eq!(setup["backupCodes"].as_array().unwrap().len(), 10);
    let uri = setup["totpURI"].as_str().unwrap();
    assert!(
        uri.starts_with("otpauth://totp/Kryton:") && uri.contains("issuer=Kryton"),
        "{uri}"
    );
    let (_, me_now) = s.request("GET", "/api/auth/get-session", &me, None).await;
    assert_eq!(
        me_now["user"]["twoFactorEnabled"], false,
        "not on before a code confirms it"
    );
    let (status, body) = sign_in_as(&s, "two@example.org", "my password", "x").await;
    assert!(
        status == 200 && body["session"]["token"].is_string(),
        "unconfirmed: no second step"
    );

    let (status, _) = s
        .request(
            "POST",
            "/api/auth/two-factor/verify-totp",
            &me,
            Some(json!({ "code": "000000" })),
        )
        .await;
    assert_eq!(status, 401, "a wrong code confirms nothing");
    // Enrol for real (a second enable replaces the unconfirmed secret).
    let (app, codes, step) = enrol(&s, &session, "my password").await;
    let (_, me_now) = s.request("GET", "/api/auth/get-session", &me, None).await;
    assert_eq!(me_now["user"]["twoFactorEnabled"], true);
    let (status, _) = s
        .request(
            "POST",
            "/api/auth/two-factor/enable",
            &me,
            Some(json!({ "password": "my password" })),
        )
        .await;
    assert_eq!(status, 409, "enabled twice");
    assert_eq!(status_with(&s, &key).await, 200, "API keys are not asked for a code");

    // Sign-in: password, then code. The pending token is not a session.
    let pending = first_step(&s, "two@example.org", "my password").await;
    assert_eq!(
        status_with(&s, &pending).await,
        401,
        "a pending sign-in is not a session"
    );
    let (status, _) = answer(&s, "verify-totp", &pending, &app.generate(step * 30)).await;
    assert_eq!(status, 401, "the code that confirmed enrolment cannot be used again");
    let (status, _) = answer(&s, "verify-totp", &pending, &app.generate((step + 5) * 30)).await;
    assert_eq!(status, 401, "a code from the future is refused");
    let (status, signed_in) = answer(&s, "verify-totp", &pending, &app.generate((step + 1) * 30)).await;
    assert_eq!(status, 200, "{signed_in}");
    let fresh = signed_in["session"]["token"].as_str().unwrap().to_owned();
    assert_eq!(status_with(&s, &fresh).await, 200);
    let (status, _) = answer(&s, "verify-totp", &pending, &app.generate((step + 1) * 30)).await;
    assert_eq!(status, 401, "a pending sign-in completes once");

    // Backup codes: each works once; the cookie works like the body token.
    let pending = first_step(&s, "two@example.org", "my password").await;
    let (status, body) = answer(&s, "verify-backup-code", &pending, &codes[0].to_uppercase()).await;
    assert_eq!(status, 200, "{body}");
    let pending = first_step(&s, "two@example.org", "my password").await;
    let (status, _) = answer(&s, "verify-backup-code", &pending, &codes[0]).await;
    assert_eq!(status, 401, "a backup code works once");
    let response = s
        .client
        .post(s.env.url("/api/auth/two-factor/verify-backup-code"))
        .header("cookie", format!("kryton.two_factor={pending}"))
        .json(&json!({ "code": codes[1] }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().get_all("set-cookie").iter().any(|c| {
        let c = c.to_str().unwrap();
        c.starts_with("kryton.session_token=")
    }));

    // Disabling needs the password and a code.
    let fresh_as = As::Bearer(fresh.clone());
    let disable = |password: &str, code: &str| {
        s.request(
            "POST",
            "/api/auth/two-factor/disable",
            &fresh_as,
            Some(json!({ "password": password, "code": code })),
        )
    };
    let (status, _) = disable("wrong password", &codes[2]).await;
    assert_eq!(status, 400);
    let (status, _) = disable("my password", "123456").await;
    assert_eq!(status, 401);
    let pending = first_step(&s, "two@example.org", "my password").await;
    assert!(!pending.is_empty(), "still on after refused attempts");
    let (status, body) = disable("my password", &codes[2]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = sign_in_as(&s, "two@example.org", "my password", "x").await;
    assert!(status == 200 && body["session"]["token"].is_string(), "{body}");
    assert_eq!(
        s.env.scalar("SELECT count(*) FROM two_factor_backup_codes").await,
        0,
        "the backup codes went with it"
    );
}
both_backends!(totp_enrolment_sign_in_backup_codes_and_disable);

/// An admin removes a user's second factor; nobody else can.
async fn admin_resets_a_second_factor(backend: Backend) {
    let s = server(backend, &[("AUTH_RATE_LIMIT_MAX", "1000")]).await;
    let (_, admin) = s.sign_up("admin@example.org", "admin password", None).await;
    let (user_id, user) = s.sign_up("user@example.org", "user password", None).await;
    enrol(&s, &user, "user password").await;
    first_step(&s, "user@example.org", "user password").await;
    let path = format!("/api/admin/users/{user_id}/reset-two-factor");
    let (status, _) = s.request("POST", &path, &As::Bearer(user.clone()), None).await;
    assert_eq!(status, 403, "not by the user themselves through the admin route");
    let admin_key = new_key(&s, &admin).await;
    let (status, _) = s.request("POST", &path, &As::Bearer(admin_key), None).await;
    assert_eq!(status, 403, "not with an API key");
    let (status, _) = s
        .request(
            "POST",
            "/api/admin/users/00000000000000000000000000000000/reset-two-factor",
            &As::Bearer(admin.clone()),
            None,
        )
        .await;
    assert_eq!(status, 404);
    first_step(&s, "user@example.org", "user password").await;
    let (status, body) = s.request("POST", &path, &As::Bearer(admin.clone()), None).await;
    assert_eq!(status, 200, "{body}");
    sign_in(&s, "user@example.org", "user password").await;
    assert_eq!(s.env.scalar("SELECT count(*) FROM two_factor").await, 0);
    assert_eq!(s.env.scalar("SELECT count(*) FROM two_factor_challenges").await, 0);
}
both_backends!(admin_resets_a_second_factor);

/// Guessing codes: a pending sign-in dies after five wrong codes, and the account's code budget
/// (AUTH_RATE_LIMIT_*, as for passwords) then refuses even the right code.
async fn code_guessing_is_limited(backend: Backend) {
    let s = server(backend, &[("AUTH_RATE_LIMIT_MAX", "10")]).await;
    let (_, session) = s.sign_up("target@example.org", "target password", None).await;
    let (app, _, step) = enrol(&s, &session, "target password").await; // 1 code attempt
    let pending = first_step(&s, "target@example.org", "target password").await;
    for guess in ["111111", "222222", "333333", "444444", "555555"] {
        let (status, body) = answer(&s, "verify-totp", &pending, guess).await; // 2..=6
        assert_eq!(status, 401, "{body}");
    }
    let (status, body) = answer(&s, "verify-totp", &pending, &app.generate((step + 1) * 30)).await;
    assert_eq!(status, 401, "five wrong codes end the pending sign-in: {body}");
    let pending = first_step(&s, "target@example.org", "target password").await;
    for guess in ["666666", "777777", "888888", "999999"] {
        let (status, _) = answer(&s, "verify-totp", &pending, guess).await; // 7..=10
        assert_eq!(status, 401);
    }
    let (status, body) = answer(&s, "verify-totp", &pending, &app.generate((step + 1) * 30)).await;
    assert_eq!(status, 429, "the account's code budget is spent: {body}");
    assert_eq!(body["code"], "RATE_LIMITED");
}
both_backends!(code_guessing_is_limited);

/// TOTP secrets, backup codes and pending sign-in tokens never reach the logs or error bodies;
/// backup codes are stored hashed.
async fn two_factor_secrets_stay_secret(backend: Backend) {
    let mut s = server(backend, &[("AUTH_RATE_LIMIT_MAX", "1000"), ("LOG_LEVEL", "debug")]).await;
    let (_, session) = s.sign_up("quiet@example.org", "quiet password", None).await;
    let (status, setup) = s
        .request(
            "POST",
            "/api/auth/two-factor/enable",
            &As::Bearer(session.clone()),
            Some(json!({ "password": "quiet password" })),
        )
        .await;
    assert_eq!(status, 200);
    let uri = setup["totpURI"].as_str().unwrap().to_owned();
    let secret = secret_of(&uri);
    let codes: Vec<String> = setup["backupCodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let app = authenticator(&uri);
    let step = now_secs() / 30;
    let mut bodies = String::new();
    let me = As::Bearer(session.clone());
    bodies += &s
        .request(
            "POST",
            "/api/auth/two-factor/verify-totp",
            &me,
            Some(json!({ "code": "12" })),
        )
        .await
        .1
        .to_string();
    let (status, _) = s
        .request(
            "POST",
            "/api/auth/two-factor/verify-totp",
            &me,
            Some(json!({ "code": app.generate(step * 30) })),
        )
        .await;
    assert_eq!(status, 200);
    let pending = first_step(&s, "quiet@example.org", "quiet password").await;
    for (route, code) in [
        ("verify-totp", "000000"),
        ("verify-backup-code", "dead-beef-dead-beef"),
        ("verify-totp", &app.generate(step * 30)),
    ] {
        bodies += &answer(&s, route, &pending, code).await.1.to_string();
    }
    let (status, _) = answer(&s, "verify-backup-code", &pending, &codes[3]).await;
    assert_eq!(status, 200);
    bodies += &answer(&s, "verify-backup-code", &pending, &codes[3])
        .await
        .1
        .to_string();
    bodies += &s
        .request(
            "POST",
            "/api/auth/two-factor/disable",
            &me,
            Some(json!({ "password": "quiet password", "code": codes[4] })),
        )
        .await
        .1
        .to_string();
    let stored = s
        .env
        .scalar("SELECT count(*) FROM two_factor_backup_codes WHERE code_hash LIKE '%-%'")
        .await;
    assert_eq!(stored, 0, "no backup code is stored as written");
    let logs = s.stop().await;
    assert!(
        logs.contains("two-factor authentication disabled"),
        "the logs were captured: {logs}"
    );
    let mut secrets = vec![secret.clone(), pending.clone(), session.clone()];
    secrets.extend(codes.iter().cloned());
    secrets.extend(codes.iter().map(|c| c.replace('-', "")));
    for needle in &secrets {
        assert!(!logs.contains(needle.as_str()), "a secret appeared in the logs");
        assert!(
            !bodies.contains(needle.as_str()),
            "a secret appeared in an error body: {bodies}"
        );
    }
}
both_backends!(two_factor_secrets_stay_secret);
