//! Upgrades as a user lives them: the upgrade matrix (every historical schema version, with data
//! valid at that version, migrated to head by the current binary) and `kryton upgrade-check`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::PathBuf;
use std::time::Duration;

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

const FIXTURE_USER: &str = "f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1f1";
const FIXTURE_NOTE: &str = "# Fixture\nThe fixtureword lives here. #fixturetag";

fn history(backend: Backend) -> Vec<(String, String)> {
    common::shipped_migrations(backend)
}

fn fixture(version: usize) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/upgrade/{version:04}.sql"));
    std::fs::read_to_string(&path)
        .unwrap_or_else(|_| panic!("every migration needs a fixture: {} is missing", path.display()))
}

/// For every version k: a database built at k with data valid at k migrates to head, and the API
/// serves that data afterwards.
async fn upgrade_matrix(backend: Backend) {
    let files = history(backend);
    assert!(files.len() >= 3, "the history has several real migrations");
    for k in 1..=files.len() {
        let mut env = TestEnv::new(backend).await;
        for (name, text) in &files[..k] {
            env.write_migration(name, text);
        }
        env.run(&["migrate"]).await.assert_code(0);
        for (name, _) in &files[..k] {
            env.execute(fixture(common::migration_version(name) as usize)).await;
        }
        let vault = env.data_dir().join("notes").join(FIXTURE_USER);
        std::fs::create_dir_all(&vault).unwrap();
        std::fs::write(vault.join("Fixture.md"), FIXTURE_NOTE).unwrap();

        // The current binary, with its embedded migrations, takes over.
        let mut env = env;
        env.unset_env("KRYTON_MIGRATIONS_DIR");
        env.set_env("REGISTRATION_MODE", "open");
        let s = Server::start(env).await;
        let versions = s.env.ledger_versions().await;
        assert_eq!(versions, common::shipped_versions(backend), "k={k}: migrated to head");
        // The version of the database the fixtures were written for.
        let at = common::migration_version(&files[k - 1].0);
        assert_eq!(
            s.env
                .scalar("SELECT count(*) FROM kryton_meta WHERE key = 'fixture' AND value = 'v1'")
                .await,
            1
        );
        if k < 2 {
            continue;
        }
        let (status, signed_in) = s
            .request(
                "POST",
                "/api/auth/sign-in/email",
                &As::Nobody,
                Some(json!({"email": "fixture@example.org", "password": "fixture password"})),
            )
            .await;
        assert_eq!(status, 200, "k={k}: the fixture user signs in: {signed_in}");
        let key = As::Bearer(format!("kryton_{}", "f1".repeat(32)));
        let (status, me) = s.request("GET", "/api/auth/get-session", &key, None).await;
        assert_eq!(
            (status, me["user"]["id"].as_str()),
            (200, Some(FIXTURE_USER)),
            "k={k}: the fixture key works"
        );
        let (status, note) = s.request("GET", "/api/notes/Fixture", &key, None).await;
        assert_eq!((status, note["content"].as_str()), (200, Some(FIXTURE_NOTE)), "k={k}");
        let (_, found) = s.request("GET", "/api/search?q=fixtureword", &key, None).await;
        assert_eq!(found[0]["path"], "Fixture.md", "k={k}: the note is searchable");
        let (_, tagged) = s.request("GET", "/api/tags/fixturetag/notes", &key, None).await;
        assert_eq!(tagged[0]["path"], "Fixture.md", "k={k}");
        if at >= 5 {
            let (_, settings) = s.request("GET", "/api/settings", &key, None).await;
            assert_eq!(settings["theme"], "fixture-dark", "k={k}: the fixture setting survives");
        }
        if at >= 8 {
            let (_, shares) = s.request("GET", "/api/shares", &key, None).await;
            assert_eq!(
                shares[0]["path"], "Fixture.md",
                "k={k}: the fixture share survives: {shares}"
            );
            let (_, requests) = s.request("GET", "/api/access-requests", &key, None).await;
            assert_eq!(requests[0]["notePath"], "Other.md", "k={k}: {requests}");
        }
    }
}
both_backends!(upgrade_matrix);

/// The checklist before an upgrade, and the confirmation after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_check_before_and_after() {
    let backend = Backend::Postgres;
    let files = history(backend);
    let mut env = TestEnv::new(backend).await;
    // The running server is the previous release: one migration fewer than this binary.
    for (name, text) in &files[..files.len() - 1] {
        env.write_migration(name, text);
    }
    let mut old = Server::start(env).await;
    let url = old.env.url("");
    let mut checker = TestEnv::new(Backend::Sqlite).await;
    checker.set_env("BACKUP_DIR", &checker.dir.path().join("backups").display().to_string());

    let run = checker.run(&["upgrade-check", "--url", &url, "--json"]).await;
    run.assert_code(0);
    let report: Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(report["safe"], true, "{report}");
    assert_eq!(report["pending"].as_array().unwrap().len(), 1);
    assert_eq!(
        report["schemaVersion"],
        common::migration_version(&files[files.len() - 2].0)
    );
    assert!(report["verdict"].as_str().unwrap().starts_with("SAFE"));

    // A checking binary that would apply a contract migration wants a recent backup first.
    let dir = checker.dir.path().join("next-release");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in &files {
        std::fs::write(dir.join(name), text).unwrap();
    }
    std::fs::write(
        dir.join(format!(
            "{:04}_drop_invites.sql",
            common::migration_version(&files[files.len() - 1].0) + 1
        )),
        "-- kryton:compat=contract\nDROP TABLE invites;\n",
    )
    .unwrap();
    checker.set_env("KRYTON_MIGRATIONS_DIR", &dir.display().to_string());
    let run = checker.run(&["upgrade-check", "--url", &url]).await;
    run.assert_code(1);
    assert!(
        run.stdout().contains("NOT SAFE") && run.stdout().contains("contract"),
        "{}",
        run.stdout()
    );
    std::fs::create_dir_all(checker.dir.path().join("backups")).unwrap();
    std::fs::write(checker.dir.path().join("backups/kryton-backup-now.tar.gz"), b"x").unwrap();
    checker.run(&["upgrade-check", "--url", &url]).await.assert_code(0);
    checker.unset_env("KRYTON_MIGRATIONS_DIR");

    let run = checker
        .run(&["upgrade-check", "--url", &url, "--target-version", "99.0.0"])
        .await;
    run.assert_code(1);
    assert!(run.stdout().contains("not the target 99.0.0"), "{}", run.stdout());

    // After the upgrade: the same binary serving -> LIVE.
    old.stop().await;
    let mut env = std::mem::replace(&mut old.env, TestEnv::new(Backend::Sqlite).await);
    env.unset_env("KRYTON_MIGRATIONS_DIR");
    let new = Server::start(env).await;
    let run = checker.run(&["upgrade-check", "--url", &new.env.url("")]).await;
    run.assert_code(0);
    assert!(run.stdout().contains("LIVE"), "{}", run.stdout());

    // Nothing listening: not safe.
    let nobody = format!("http://127.0.0.1:{}", common::free_port());
    tokio::time::sleep(Duration::from_millis(10)).await;
    checker.run(&["upgrade-check", "--url", &nobody]).await.assert_code(1);
}
