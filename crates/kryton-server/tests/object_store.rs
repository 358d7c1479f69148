//! Backups to Azure Blob storage (Azurite, Microsoft's emulator, on loopback) and to `file://`
//! URLs: round trips (backup to the store, list, retention, restore into a fresh installation of
//! the other backend, notes identical). S3 is in tests/s3.rs. gs:// has no emulator in the
//! registries this project installs from, so it is not tested here (see docs/backups.md).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use common::stores::Azurite;
use common::{As, Backend, Server, TestEnv};
use serde_json::json;

/// Every file under `dir`, relative path -> content.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                files.insert(rel, std::fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// A server with one account and a few notes (one linking another, one edited: history).
async fn source(backend: Backend) -> Server {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    let server = Server::start(env).await;
    let (_, token) = server.sign_up("ann@example.org", "ann's password", None).await;
    let me = As::Bearer(token);
    for (path, content) in [
        ("Kept", "kept in the cloud, see [[Other]] #backup"),
        ("Other", "the other note"),
        ("Folder/Deep", "deep inside"),
    ] {
        let (status, body) = server
            .request(
                "POST",
                "/api/notes",
                &me,
                Some(json!({"path": path, "content": content})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let (status, _) = server
        .request(
            "PUT",
            "/api/notes/Other",
            &me,
            Some(json!({"content": "the other note, edited"})),
        )
        .await;
    assert!(status == 200 || status == 204, "{status}");
    server
}

/// Signs in on the restored server and checks what the source had.
async fn check_restored(target: &Server) {
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
    let (_, note) = target.request("GET", "/api/notes/Other", &me, None).await;
    assert_eq!(note["content"], "the other note, edited");
    let (_, backlinks) = target.request("GET", "/api/backlinks/Other", &me, None).await;
    assert!(
        backlinks.to_string().contains("Kept"),
        "the index was rebuilt: {backlinks}"
    );
}

fn uploaded_url(stdout: &str) -> String {
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("uploaded to "))
        .unwrap_or_else(|| panic!("no upload line in {stdout}"))
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_to_azure_and_restore_from_it() {
    let azurite = Azurite::start();
    azurite.create_container("kryton");

    let mut source = source(Backend::Postgres).await;
    azurite.configure(&mut source.env);
    let mut urls = Vec::new();
    for _ in 0..3 {
        let run = source
            .env
            .run(&["backup", "--out", "az://kryton/nightly/", "--retention", "2"])
            .await;
        run.assert_code(0);
        urls.push(uploaded_url(&run.stdout()));
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    assert!(
        urls.iter().all(|u| u.starts_with("az://kryton/nightly/kryton-backup-")),
        "{urls:?}"
    );
    let mut blobs = azurite.blobs("kryton", "nightly/");
    blobs.sort();
    let expected: Vec<String> = urls[1..]
        .iter()
        .map(|u| u.trim_start_matches("az://kryton/").to_owned())
        .collect();
    assert_eq!(blobs, expected, "retention keeps the newest two");
    source.stop().await;

    let mut target = TestEnv::new(Backend::Sqlite).await;
    azurite.configure(&mut target);
    let run = target.run(&["restore", &urls[2]]).await;
    run.assert_code(0);
    let target = Server::start(target).await;
    assert_eq!(
        tree(&target.env.data_dir().join("notes")),
        tree(&source.env.data_dir().join("notes")),
        "the notes came back identical"
    );
    check_restored(&target).await;

    // A container that does not exist fails the backup clearly, and leaves no local copy.
    let run = source.env.run(&["backup", "--out", "az://missing/x/"]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("az://missing/x/"), "{}", run.stderr());
    let local: Vec<_> = std::fs::read_dir(source.env.data_dir().join("backups"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(local.is_empty(), "{local:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_to_a_file_url_and_restore_from_it() {
    let mut source = source(Backend::Sqlite).await;
    let dir = source.env.dir.path().join("archives");
    let url = format!("file://{}/", dir.display());
    let mut urls = Vec::new();
    for _ in 0..3 {
        let run = source.env.run(&["backup", "--out", &url, "--retention", "2"]).await;
        run.assert_code(0);
        urls.push(uploaded_url(&run.stdout()));
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    std::fs::write(dir.join("unrelated.txt"), "kept").unwrap();
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut expected: Vec<String> = urls[1..]
        .iter()
        .map(|u| u.rsplit('/').next().unwrap().to_owned())
        .collect();
    expected.push("unrelated.txt".to_owned());
    assert_eq!(names, expected, "retention keeps the newest two archives");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join(&expected[0])).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "archives hold password hashes");
    }
    source.stop().await;

    let target = TestEnv::new(Backend::Postgres).await;
    let run = target.run(&["restore", &urls[2]]).await;
    run.assert_code(0);
    let target = Server::start(target).await;
    assert_eq!(
        tree(&target.env.data_dir().join("notes")),
        tree(&source.env.data_dir().join("notes"))
    );
    check_restored(&target).await;

    // A relative file:// URL is refused before anything is written.
    let run = source.env.run(&["backup", "--out", "file://relative/dir/"]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("absolute path"), "{}", run.stderr());
}
