//! `kryton backup --out s3://...` and `kryton restore s3://...` against a real S3-compatible server
//! on loopback (moto in server mode, installed into .venv by scripts/tools-install.sh).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{As, Backend, Server, TestEnv};
use serde_json::json;

/// moto's S3 server on a free loopback port; killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Moto {
    fn start() -> Self {
        let bin = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.venv/bin/moto_server");
        assert!(
            bin.exists(),
            "moto is required for this test: run scripts/tools-install.sh ({} is missing)",
            bin.display()
        );
        let port = common::free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < Duration::from_secs(30), "moto did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Moto { child, url }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3_env(env: &mut TestEnv, moto: &Moto) {
    env.set_env("S3_ENDPOINT", &moto.url);
    env.set_env("S3_REGION", "us-east-1");
    env.set_env("AWS_ACCESS_KEY_ID", "testing");
    env.set_env("AWS_SECRET_ACCESS_KEY", "testing-secret");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_to_s3_and_restore_from_it() {
    let moto = Moto::start();
    // moto needs the bucket to exist: create it with a signed request from our own client.
    let bucket_url = format!("{}/kryton-backups", moto.url);
    let created = reqwest::Client::new().put(&bucket_url).send().await.unwrap();
    assert!(
        created.status().is_success(),
        "creating the bucket: {}",
        created.status()
    );

    let mut env = TestEnv::new(Backend::Sqlite).await;
    env.set_env("REGISTRATION_MODE", "open");
    s3_env(&mut env, &moto);
    let mut source = Server::start(env).await;
    let (_, token) = source.sign_up("ann@example.org", "ann's password", None).await;
    let me = As::Bearer(token);
    let (status, _) = source
        .request(
            "POST",
            "/api/notes",
            &me,
            Some(json!({"path": "Kept", "content": "kept in the cloud"})),
        )
        .await;
    assert_eq!(status, 201);

    // Three backups with retention 2: the oldest is pruned.
    for _ in 0..3 {
        let run = source
            .env
            .run(&["backup", "--out", "s3://kryton-backups/nightly/", "--retention", "2"])
            .await;
        run.assert_code(0);
        assert!(
            run.stdout()
                .contains("uploaded to s3://kryton-backups/nightly/kryton-backup-"),
            "{}",
            run.stdout()
        );
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let listing = reqwest::get(format!("{bucket_url}?list-type=2&prefix=nightly/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let keys: Vec<&str> = listing
        .split("<Key>")
        .skip(1)
        .filter_map(|k| k.split("</Key>").next())
        .collect();
    assert_eq!(keys.len(), 2, "retention keeps two: {keys:?}");
    let backup_dir = source.env.data_dir().join("backups");
    let local: Vec<_> = std::fs::read_dir(&backup_dir).map(|d| d.collect()).unwrap_or_default();
    assert!(
        local.is_empty(),
        "the local copy is removed after the upload: {local:?}"
    );
    source.stop().await;

    // Restore the newest into a fresh PostgreSQL installation, straight from the store.
    let mut target = TestEnv::new(Backend::Postgres).await;
    s3_env(&mut target, &moto);
    let newest = keys.iter().max().unwrap();
    let run = target.run(&["restore", &format!("s3://kryton-backups/{newest}")]).await;
    run.assert_code(0);
    let target = Server::start(target).await;
    let (status, signed_in) = target
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": "ann@example.org", "password": "ann's password"})),
        )
        .await;
    assert_eq!(status, 200, "{signed_in}");
    let me = As::Bearer(signed_in["session"]["token"].as_str().unwrap().to_owned());
    let (_, note) = target.request("GET", "/api/notes/Kept", &me, None).await;
    assert_eq!(note["content"], "kept in the cloud");

    // Wrong credentials and a missing object fail clearly, without touching anything.
    let mut wrong = TestEnv::new(Backend::Sqlite).await;
    s3_env(&mut wrong, &moto);
    let run = wrong.run(&["restore", "s3://kryton-backups/nightly/nope.tar.gz"]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("nope.tar.gz"), "{}", run.stderr());
    assert!(!run.stderr().contains("testing-secret"), "the secret key never appears");
    wrong.unset_env("AWS_ACCESS_KEY_ID");
    let run = wrong.run(&["backup", "--out", "s3://kryton-backups/x/"]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("AWS_ACCESS_KEY_ID"), "{}", run.stderr());
}
