//! `kryton backup` / `kryton restore`, driven through the real binary against real PostgreSQL and
//! SQLite databases: round trips on each backend and across them, refusals of damaged archives
//! (before anything is written), of non-empty targets and of archives newer than the binary.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use common::{As, Backend, Db, Run, Server, TestEnv};
use serde_json::{Value, json};
use sqlx::{Column, Row};
use std::time::Duration;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// What a test installation holds, to compare after a restore.
struct Fixture {
    email: String,
    password: String,
    session: String,
    api_key: String,
}

/// Two accounts (one invited), an API key, a spare invite, and a vault written straight to disk:
/// notes in folders, history, trash with its index, a binary attachment, an empty folder.
async fn populate(server: &Server) -> Fixture {
    let (ann, session) = server.sign_up("ann@example.org", "ann's long password", None).await;
    let admin = As::Bearer(session.clone());
    let (status, invite) = server.request("POST", "/api/admin/invites", &admin, None).await;
    assert_eq!(status, 201, "{invite}");
    let (bob, _) = server
        .sign_up("bob@example.org", "bob's long password", invite["code"].as_str())
        .await;
    let (status, _) = server.request("POST", "/api/admin/invites", &admin, None).await;
    assert_eq!(status, 201);
    let (status, key) = server
        .request(
            "POST",
            "/api/api-keys",
            &admin,
            Some(json!({"name": "agent", "scope": "read-only"})),
        )
        .await;
    assert_eq!(status, 201, "{key}");

    let notes = server.env.data_dir().join("notes");
    let write = |user: &str, path: &str, bytes: &[u8]| {
        let full = notes.join(user).join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, bytes).unwrap();
    };
    write(&ann, "Welcome.md", b"# Welcome\n\nSee [[Projects/Plan]] #start\n");
    write(
        &ann,
        "Projects/Plan.md",
        "# Plan\n\nUnicode: \u{e9}t\u{e9} \u{1f680}\n".as_bytes(),
    );
    write(&ann, ".history/Welcome.md/1700000000000.md", b"# Welcome (old)\n");
    write(&ann, ".trash/1700000000001-Old.md", b"# Old\n");
    write(
        &ann,
        ".trash/.index.json",
        br#"[{"id":"1700000000001-Old.md","path":"Old.md"}]"#,
    );
    write(
        &ann,
        "attachments/ab/abcdef.png",
        &(0..=255u8).cycle().take(70_000).collect::<Vec<_>>(),
    );
    write(&ann, ".kryton.lock", b"");
    write(&bob, "Welcome.md", b"# Bob's welcome\n");
    let long = format!("{}/{}.md", "a".repeat(90), "b".repeat(90));
    write(&bob, &long, b"a path longer than an old tar header holds\n");
    std::fs::create_dir_all(notes.join(&ann).join("Empty folder")).unwrap();

    Fixture {
        email: "ann@example.org".to_owned(),
        password: "ann's long password".to_owned(),
        session,
        api_key: key["key"].as_str().unwrap().to_owned(),
    }
}

/// Every row of `table`, each column as text (booleans as 0/1), in primary-key order.
async fn rows(env: &TestEnv, table: &str) -> Vec<BTreeMap<String, String>> {
    let db = env.db().await;
    let sql = format!("SELECT * FROM {table} ORDER BY id");
    let result = match &db {
        Db::Pg(pool) => {
            let sql = format!("SELECT row_to_json(t)::text FROM ({sql}) t");
            let lines: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
                .fetch_all(pool)
                .await
                .unwrap();
            lines
                .iter()
                .map(|line| {
                    let Value::Object(map) = serde_json::from_str(line).unwrap() else {
                        panic!("not an object")
                    };
                    map.into_iter()
                        .map(|(k, v)| {
                            let text = match v {
                                Value::Bool(b) => i64::from(b).to_string(),
                                Value::String(s) => s,
                                other => other.to_string(),
                            };
                            (k, text)
                        })
                        .collect()
                })
                .collect()
        }
        Db::Lite(pool) => {
            let found = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(pool).await.unwrap();
            found
                .iter()
                .map(|row| {
                    row.columns()
                        .iter()
                        .map(|c| {
                            let name = c.name();
                            let text = match row.try_get::<Option<i64>, _>(name) {
                                Ok(Some(i)) => i.to_string(),
                                Ok(None) => "null".to_owned(),
                                Err(_) => row.try_get::<String, _>(name).unwrap(),
                            };
                            (name.to_owned(), text)
                        })
                        .collect()
                })
                .collect()
        }
    };
    db.close().await;
    result
}

const COMPARED_TABLES: [&str; 4] = ["users", "api_keys", "sessions", "invites"];

async fn all_rows(env: &TestEnv) -> BTreeMap<&'static str, Vec<BTreeMap<String, String>>> {
    let mut all = BTreeMap::new();
    for table in COMPARED_TABLES {
        all.insert(table, rows(env, table).await);
    }
    all
}

/// Relative path -> contents (`None` for a directory) of everything under `dir`.
fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(current) = stack.pop() {
        for entry in std::fs::read_dir(&current).unwrap() {
            let path = entry.unwrap().path();
            let relative = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                found.insert(relative, None);
                stack.push(path);
            } else {
                found.insert(relative, Some(std::fs::read(&path).unwrap()));
            }
        }
    }
    found
}

fn notes_dir(env: &TestEnv) -> PathBuf {
    env.data_dir().join("notes")
}

async fn open_env(backend: Backend) -> TestEnv {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "invite-only");
    env
}

/// A populated, running installation and a backup of it taken while it serves.
async fn source(backend: Backend) -> (Server, Fixture, PathBuf) {
    let server = Server::start(open_env(backend).await).await;
    let fixture = populate(&server).await;
    let archive = server.env.dir.path().join("out").join("backup.tar.gz");
    let run = server.env.run(&["backup", "--out", archive.to_str().unwrap()]).await;
    run.assert_code(0);
    assert!(run.stdout().contains("backup written to"), "{}", run.stdout());
    assert!(archive.exists());
    assert!(!archive.with_file_name("backup.tar.gz.partial").exists());
    (server, fixture, archive)
}

/// The restored installation serves the old data: the old password signs in, the old API key and
/// the old session still authenticate.
async fn check_serves(env: TestEnv, fixture: &Fixture) -> Server {
    let server = Server::start(env).await;
    let (status, body) = server
        .request(
            "POST",
            "/api/auth/sign-in/email",
            &As::Nobody,
            Some(json!({"email": fixture.email, "password": fixture.password})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for token in [&fixture.api_key, &fixture.session] {
        let (status, body) = server
            .request("GET", "/api/auth/get-session", &As::Bearer(token.clone()), None)
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["user"]["email"], fixture.email);
    }
    server
}

/// Restores `archive` into a fresh installation of `backend` and checks it against `expected`.
async fn restore_fresh(
    backend: Backend,
    archive: &Path,
    expected_rows: &BTreeMap<&'static str, Vec<BTreeMap<String, String>>>,
    expected_tree: &BTreeMap<String, Option<Vec<u8>>>,
) -> TestEnv {
    let env = open_env(backend).await;
    let run = env.run(&["restore", archive.to_str().unwrap()]).await;
    run.assert_code(0);
    assert!(run.stdout().contains("restored"), "{}", run.stdout());
    assert_eq!(&tree(&notes_dir(&env)), expected_tree, "notes differ after the restore");
    assert_eq!(&all_rows(&env).await, expected_rows, "rows differ after the restore");
    env
}

/// Backup -> fresh database and empty data directory -> restore: identical notes and rows.
async fn round_trip(backend: Backend) {
    let (mut server, fixture, archive) = source(backend).await;
    server.stop().await;
    let expected_rows = all_rows(&server.env).await;
    let expected_tree = tree(&notes_dir(&server.env));
    assert_eq!(expected_rows["users"].len(), 2);
    assert_eq!(expected_rows["invites"].len(), 2);
    assert!(expected_tree.contains_key("Empty folder") || expected_tree.keys().any(|k| k.ends_with("Empty folder")));

    // The manifest is the last entry and describes every other one.
    let entries = entry_names(&archive);
    assert_eq!(entries.last().map(String::as_str), Some("manifest.json"));
    let manifest = manifest_of(&archive);
    assert_eq!(manifest["formatVersion"], 1);
    assert_eq!(
        manifest["backend"],
        if backend == Backend::Postgres {
            "postgres"
        } else {
            "sqlite"
        }
    );
    assert_eq!(manifest["parts"].as_array().unwrap().len(), entries.len() - 1);
    assert!(
        !entries
            .iter()
            .any(|e| e.contains("notes_fts") || e.contains("schema_migrations"))
    );

    let env = restore_fresh(backend, &archive, &expected_rows, &expected_tree).await;
    let mut restored = check_serves(env, &fixture).await;
    restored.stop().await;
}
both_backends!(round_trip);

/// SQLite -> PostgreSQL -> SQLite: the archive is dialect-neutral.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn across_backends() {
    let (mut server, fixture, archive) = source(Backend::Sqlite).await;
    server.stop().await;
    let expected_rows = all_rows(&server.env).await;
    let expected_tree = tree(&notes_dir(&server.env));

    let pg = restore_fresh(Backend::Postgres, &archive, &expected_rows, &expected_tree).await;
    // Backed up before it serves: signing in would add sessions and touch the key.
    let second = pg.dir.path().join("from-postgres.tar.gz");
    pg.run(&["backup", "--out", second.to_str().unwrap()])
        .await
        .assert_code(0);
    assert_eq!(manifest_of(&second)["backend"], "postgres");
    let mut pg = check_serves(pg, &fixture).await;
    pg.stop().await;

    let lite = restore_fresh(Backend::Sqlite, &second, &expected_rows, &expected_tree).await;
    let mut lite = check_serves(lite, &fixture).await;
    lite.stop().await;
}

fn entry_names(archive: &Path) -> Vec<String> {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.entries()
        .unwrap()
        .map(|e| String::from_utf8_lossy(&e.unwrap().path_bytes()).into_owned())
        .collect()
}

fn manifest_of(archive: &Path) -> Value {
    let file = std::fs::File::open(archive).unwrap();
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path_bytes().as_ref() == b"manifest.json" {
            let mut text = String::new();
            entry.read_to_string(&mut text).unwrap();
            return serde_json::from_str(&text).unwrap();
        }
    }
    panic!("no manifest in {}", archive.display());
}

/// Copies an archive entry by entry, letting `edit` change or drop each (name, bytes), then appends
/// `extra` entries whose raw names are written as given (even unsafe ones).
fn rewrite(src: &Path, dst: &Path, mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>, extra: &[(&[u8], &[u8])]) {
    let file = std::fs::File::open(src).unwrap();
    let mut input = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let out = std::fs::File::create(dst).unwrap();
    let mut output = tar::Builder::new(flate2::write::GzEncoder::new(out, flate2::Compression::fast()));
    let mut manifest = None;
    for entry in input.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let mut header = entry.header().clone();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        let Some(data) = edit(&name, data) else { continue };
        if name == "manifest.json" {
            manifest = Some((header, data));
            continue;
        }
        header.set_size(data.len() as u64);
        output.append_data(&mut header, &name, data.as_slice()).unwrap();
    }
    for (raw, data) in extra {
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..raw.len()].copy_from_slice(raw);
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_entry_type(tar::EntryType::Regular);
        header.set_cksum();
        output.append(&header, *data).unwrap();
    }
    if let Some((mut header, data)) = manifest {
        header.set_size(data.len() as u64);
        output
            .append_data(&mut header, "manifest.json", data.as_slice())
            .unwrap();
    }
    output.into_inner().unwrap().finish().unwrap();
}

/// The manifest with `change` applied.
fn edit_manifest(data: Vec<u8>, change: impl FnOnce(&mut Value)) -> Vec<u8> {
    let mut manifest: Value = serde_json::from_slice(&data).unwrap();
    change(&mut manifest);
    serde_json::to_vec_pretty(&manifest).unwrap()
}

/// Nothing was written: no table in the target database, NOTES_DIR as it was, no staging left.
async fn assert_untouched(env: &TestEnv, before: &BTreeMap<String, Option<Vec<u8>>>) {
    assert!(!env.table_exists("users").await, "the target database was written to");
    assert!(
        !env.table_exists("kryton_meta").await,
        "the target database was written to"
    );
    assert_eq!(&tree(&notes_dir(env)), before, "NOTES_DIR was touched");
    assert!(!env.data_dir().join("notes.restoring").exists());
}

/// Damaged archives are refused before anything is written.
async fn corrupt_archives_are_refused(backend: Backend) {
    let (mut server, _, good) = source(backend).await;
    server.stop().await;
    let dir = server.env.dir.path().join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let manifest = manifest_of(&good);
    let note = manifest["parts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["path"].as_str().unwrap().ends_with("Welcome.md") && p["type"] == "file")
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_owned();

    let mut cases: Vec<(&str, PathBuf, &str)> = Vec::new();
    let path = |name: &str| dir.join(format!("{name}.tar.gz"));

    // One byte of one part flipped, inside a well-formed archive: only the hash can tell.
    rewrite(
        &good,
        &path("flipped-part"),
        |name, mut data| {
            if name == note {
                data[2] ^= 0x20;
            }
            Some(data)
        },
        &[],
    );
    cases.push(("flipped byte in a part", path("flipped-part"), "SHA-256"));
    // One byte of the compressed file flipped.
    let mut bytes = std::fs::read(&good).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0xff;
    std::fs::write(path("flipped-gzip"), &bytes).unwrap();
    cases.push(("flipped byte in the file", path("flipped-gzip"), "refusing the archive"));
    // Truncated.
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(path("truncated"), &bytes[..bytes.len() * 2 / 3]).unwrap();
    cases.push(("truncated file", path("truncated"), "refusing the archive"));
    // A part missing.
    rewrite(
        &good,
        &path("missing"),
        |name, data| (name != note).then_some(data),
        &[],
    );
    cases.push(("missing part", path("missing"), "missing"));
    // The manifest lists a wrong hash.
    rewrite(
        &good,
        &path("wrong-hash"),
        |name, data| {
            if name != "manifest.json" {
                return Some(data);
            }
            Some(edit_manifest(data, |m| {
                for part in m["parts"].as_array_mut().unwrap() {
                    if part["path"] == note.as_str() {
                        part["sha256"] = json!("0".repeat(64));
                    }
                }
            }))
        },
        &[],
    );
    cases.push(("manifest with a wrong hash", path("wrong-hash"), "SHA-256"));
    // An entry escaping the target, listed in the manifest so that only the name is wrong.
    rewrite(
        &good,
        &path("escape"),
        |name, data| {
            if name != "manifest.json" {
                return Some(data);
            }
            Some(edit_manifest(data, |m| {
                m["parts"].as_array_mut().unwrap().push(json!({
                    "path": "../evil", "type": "file", "size": 5,
                    "sha256": "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
                }));
            }))
        },
        &[(b"../evil", b"evil\n")],
    );
    cases.push(("entry named ../evil", path("escape"), ".."));
    // An entry the manifest does not list.
    rewrite(
        &good,
        &path("unlisted"),
        |_, data| Some(data),
        &[(b"notes/extra.md", b"extra\n")],
    );
    cases.push(("unlisted part", path("unlisted"), "not listed"));
    // No manifest at all.
    rewrite(
        &good,
        &path("no-manifest"),
        |name, data| (name != "manifest.json").then_some(data),
        &[],
    );
    cases.push(("no manifest", path("no-manifest"), "manifest.json"));
    // A format this binary does not know.
    rewrite(
        &good,
        &path("format"),
        |name, data| {
            if name != "manifest.json" {
                return Some(data);
            }
            Some(edit_manifest(data, |m| m["formatVersion"] = json!(7)))
        },
        &[],
    );
    cases.push(("unknown format version", path("format"), "format version 7"));

    let target = open_env(backend).await;
    std::fs::create_dir_all(notes_dir(&target).join("empty-subdir")).unwrap();
    let before = tree(&notes_dir(&target));
    for (what, archive, expected) in cases {
        let run = target.run(&["restore", "--force", archive.to_str().unwrap()]).await;
        assert_ne!(run.code(), 0, "{what}: accepted\n{}", run.stderr());
        assert!(
            run.stderr().contains(expected),
            "{what}: the message should mention {expected:?}:\n{}",
            run.stderr()
        );
        assert_untouched(&target, &before).await;
    }
    assert!(!target.dir.path().join("evil").exists());
    assert!(!target.data_dir().join("evil").exists());
}
both_backends!(corrupt_archives_are_refused);

/// A non-empty target is refused without --force; with it, tables are replaced and the old notes
/// are moved aside, not deleted. Running the restore again (as after an interruption) works.
async fn non_empty_target_needs_force(backend: Backend) {
    let (mut server, fixture, archive) = source(backend).await;
    let expected_rows = all_rows(&server.env).await;
    let expected_tree = tree(&notes_dir(&server.env));
    // Changes after the backup, which the restore must undo.
    let (status, invite) = server
        .request("POST", "/api/admin/invites", &As::Bearer(fixture.session.clone()), None)
        .await;
    assert_eq!(status, 201, "{invite}");
    server
        .sign_up("carol@example.org", "carol's long password", invite["code"].as_str())
        .await;
    server.stop().await;
    let extra = notes_dir(&server.env).join("late.md");
    std::fs::write(&extra, b"written after the backup\n").unwrap();
    let env = &server.env;

    let run = env.run(&["restore", archive.to_str().unwrap()]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("not empty"), "{}", run.stderr());
    assert!(run.stderr().contains("--force"), "{}", run.stderr());
    assert_eq!(
        rows(env, "users").await.len(),
        3,
        "a refused restore changed the database"
    );
    assert!(extra.exists());

    for _ in 0..2 {
        let run = env.run(&["restore", "--force", archive.to_str().unwrap()]).await;
        run.assert_code(0);
        assert_eq!(all_rows(env).await, expected_rows);
        assert_eq!(tree(&notes_dir(env)), expected_tree);
    }
    let aside: Vec<PathBuf> = std::fs::read_dir(env.data_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("notes.before-restore-")
        })
        .collect();
    assert!(!aside.is_empty(), "the old NOTES_DIR was not kept");
    assert!(aside.iter().any(|a| a.join("late.md").exists()));
    let mut restored = check_serves(server.env, &fixture).await;
    restored.stop().await;
}
both_backends!(non_empty_target_needs_force);

/// An archive from a newer schema than this binary's is refused, naming both versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn newer_schema_is_refused() {
    let (mut server, _, good) = source(Backend::Sqlite).await;
    server.stop().await;
    let status = server.env.run(&["migrate", "status", "--json"]).await;
    let head = serde_json::from_str::<Value>(&status.stdout()).unwrap()["binaryHead"]
        .as_i64()
        .unwrap();
    let newer = server.env.dir.path().join("newer.tar.gz");
    rewrite(
        &good,
        &newer,
        |name, data| {
            if name != "manifest.json" {
                return Some(data);
            }
            Some(edit_manifest(data, |m| m["schemaVersion"] = json!(head + 96)))
        },
        &[],
    );
    let target = open_env(Backend::Sqlite).await;
    std::fs::create_dir_all(target.data_dir()).unwrap();
    let run = target.run(&["restore", newer.to_str().unwrap()]).await;
    assert_ne!(run.code(), 0);
    let stderr = run.stderr();
    assert!(stderr.contains(&format!("{:04}", head + 96)), "{stderr}");
    assert!(stderr.contains(&format!("{head:04}")), "{stderr}");
    assert!(!target.table_exists("users").await);
}

/// A backup that cannot be written fails clearly and leaves no file behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_backup_leaves_nothing() {
    let server = Server::start(open_env(Backend::Sqlite).await).await;
    populate(&server).await;
    let blocker = server.env.dir.path().join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    let out = blocker.join("backup.tar.gz");
    let run = server.env.run(&["backup", "--out", out.to_str().unwrap()]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("backup failed"), "{}", run.stderr());
    assert_eq!(std::fs::read(&blocker).unwrap(), b"");

    // Without --out it goes to BACKUP_DIR.
    let run = server.env.run(&["backup"]).await;
    run.assert_code(0);
    let names: Vec<String> = std::fs::read_dir(server.env.data_dir().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("kryton-backup-") && names[0].ends_with(".tar.gz"));
}

/// SQLite declares booleans INTEGER; the archive's list of them matches PostgreSQL's BOOLEAN columns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_boolean_columns_match_postgres() {
    let env = TestEnv::new(Backend::Postgres).await;
    env.run(&["migrate"]).await.assert_code(0);
    let db = env.db().await;
    let Db::Pg(pool) = &db else { unreachable!() };
    let mut found: Vec<(String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND data_type = 'boolean' ORDER BY 1, 2",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    db.close().await;
    let mut listed: Vec<(String, String)> = kryton::backup::sql::SQLITE_BOOLEAN_COLUMNS
        .iter()
        .map(|(t, c)| ((*t).to_owned(), (*c).to_owned()))
        .collect();
    found.sort();
    listed.sort();
    assert_eq!(found, listed);
}

/// The rollback story: the automatic backup taken before a `contract` migration is this archive,
/// and the older release (here: the migrations without the contract one) restores it over the
/// upgraded database, whose newer schema is dropped and rebuilt at the archive's version.
async fn pre_migration_backup_restores_with_the_older_release(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    // The server's own schema first: restore reindexes the notes, which needs its tables.
    let shipped = env.write_shipped_migrations() as i64;
    let (table, drop_file) = (
        format!("{:04}_t.sql", shipped + 1),
        format!("{:04}_drop.sql", shipped + 2),
    );
    env.write_migration(
        &table,
        "-- kryton:compat=expand\nCREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL, flag BOOLEAN);\n",
    );
    env.run(&["migrate"]).await.assert_code(0);
    let db = env.db().await;
    let insert = "INSERT INTO t (id, v, flag) VALUES (1, 'one', TRUE), (2, 'two \u{1f680}', FALSE), (3, 'three', NULL)";
    match &db {
        Db::Pg(p) => drop(sqlx::query(insert).execute(p).await.unwrap()),
        Db::Lite(p) => drop(sqlx::query(insert).execute(p).await.unwrap()),
    }
    db.close().await;
    std::fs::create_dir_all(notes_dir(&env).join("u1")).unwrap();
    std::fs::write(notes_dir(&env).join("u1/n.md"), b"# n\n").unwrap();

    env.write_migration(&drop_file, "-- kryton:compat=contract\nDROP TABLE t;\n");
    env.run(&["migrate"]).await.assert_code(0);
    assert!(!env.table_exists("t").await);
    let backups: Vec<PathBuf> = std::fs::read_dir(env.data_dir().join("backups"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(backups.len(), 1, "{backups:?}");
    let manifest = manifest_of(&backups[0]);
    assert_eq!(manifest["schemaVersion"], shipped + 1);

    // The older release: only 0001.
    env.remove_migration(&drop_file);
    let run = env.run(&["restore", "--force", backups[0].to_str().unwrap()]).await;
    run.assert_code(0);
    assert_eq!(
        env.ledger_versions().await,
        common::shipped_versions(backend)
            .into_iter()
            .chain([shipped + 1])
            .collect::<Vec<_>>()
    );
    assert_eq!(env.scalar("SELECT count(*) FROM t").await, 3);
    assert_eq!(env.scalar("SELECT count(*) FROM t WHERE flag IS NULL").await, 1);
    assert_eq!(std::fs::read(notes_dir(&env).join("u1/n.md")).unwrap(), b"# n\n");
}
both_backends!(pre_migration_backup_restores_with_the_older_release);

/// A backup taken while 16 clients write notes restores into an installation whose index and files
/// agree exactly: every indexed note has its file with that content, and every file is indexed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_concurrent_writes_restores_consistently() {
    let mut env = TestEnv::new(Backend::Postgres).await;
    env.set_env("REGISTRATION_MODE", "open");
    env.set_env("RATE_LIMIT_MAX", "1000000");
    let source = Server::start(env).await;
    let (user, token) = source.sign_up("busy@example.org", "a busy password", None).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..16 {
        let (url, token, stop) = (source.env.url("/api/notes"), token.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut written = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && written < 200 {
                let body = json!({"path": format!("w{writer}/n{written}"), "content": format!("note {written} of writer {writer} #w{writer}")});
                let status = client.post(&url).bearer_auth(&token).json(&body).send().await.unwrap().status();
                assert_eq!(status, 201);
                written += 1;
            }
            written
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let archive = source.env.dir.path().join("busy.tar.gz");
    source
        .env
        .run(&["backup", "--out", archive.to_str().unwrap()])
        .await
        .assert_code(0);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    for w in writers {
        total += w.await.unwrap();
    }
    assert!(total > 16, "the writers were busy during the backup ({total} notes)");

    let target = TestEnv::new(Backend::Sqlite).await;
    target.run(&["restore", archive.to_str().unwrap()]).await.assert_code(0);
    let vault = notes_dir(&target).join(&user);
    let mut on_disk = BTreeMap::new();
    for (path, content) in tree(&vault) {
        if let Some(bytes) = content
            && path.ends_with(".md")
            && !path.starts_with('.')
        {
            on_disk.insert(path, sha256_hex(&bytes));
        }
    }
    let db = target.db().await;
    let Db::Lite(pool) = &db else { unreachable!() };
    let indexed: BTreeMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT path, content_hash FROM notes WHERE user_id = ?")
            .bind(&user)
            .fetch_all(pool)
            .await
            .unwrap()
            .into_iter()
            .collect();
    db.close().await;
    assert!(on_disk.len() > 1, "the archive carried notes");
    assert_eq!(indexed, on_disk, "index and files agree after the restore");
}

/// Copies an archive letting `edit` change or drop each part and `change` edit the manifest, then
/// recomputes every listed part's size and SHA-256 and every table's row count, as a forger would.
fn forge(
    src: &Path,
    dst: &Path,
    mut edit: impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>>,
    change: impl FnOnce(&mut Value),
) {
    let mut sums: BTreeMap<String, (usize, String, usize)> = BTreeMap::new();
    let mut edited = |name: &str, data: Vec<u8>| {
        if name == "manifest.json" {
            return Some(data);
        }
        let data = edit(name, data)?;
        let lines = data.iter().filter(|b| **b == b'\n').count();
        sums.insert(name.to_owned(), (data.len(), sha256_hex(&data), lines));
        Some(data)
    };
    let tmp = dst.with_extension("tmp");
    rewrite(src, &tmp, &mut edited, &[]);
    let mut change = Some(change);
    rewrite(
        &tmp,
        dst,
        |name, data| {
            if name != "manifest.json" {
                return Some(data);
            }
            Some(edit_manifest(data, |m| {
                for part in m["parts"].as_array_mut().unwrap() {
                    if let Some((size, sha, _)) = sums.get(part["path"].as_str().unwrap())
                        && part["type"] == "file"
                    {
                        part["size"] = json!(size);
                        part["sha256"] = json!(sha);
                    }
                }
                for table in m["tables"].as_array_mut().unwrap() {
                    let part = format!("db/{}.jsonl", table["name"].as_str().unwrap());
                    if let Some((_, _, lines)) = sums.get(&part) {
                        table["rows"] = json!(lines);
                    }
                }
                if let Some(change) = change.take() {
                    change(m);
                }
            }))
        },
        &[],
    );
    std::fs::remove_file(tmp).unwrap();
}

/// Replaces every occurrence of `from` by `to` in every table part.
fn replace_in_rows(from: &str, to: &str) -> impl FnMut(&str, Vec<u8>) -> Option<Vec<u8>> {
    let (from, to) = (from.to_owned(), to.to_owned());
    move |name: &str, data: Vec<u8>| {
        if name.starts_with("db/") {
            Some(String::from_utf8(data).unwrap().replace(&from, &to).into_bytes())
        } else {
            Some(data)
        }
    }
}

/// The restore marker and the staging directory are not left behind by a refused archive.
fn assert_no_restore_left(env: &TestEnv) {
    assert!(!env.data_dir().join("notes.restore-in-progress").exists());
    assert!(!env.data_dir().join("notes.restoring").exists());
}

/// A user id becomes a directory name (NOTES_DIR/<id>): an archive whose user ids are paths (with
/// every hash recomputed) is refused with a clear message, and nothing is written.
async fn hostile_user_ids_are_refused(backend: Backend) {
    let (mut server, _, good) = source(backend).await;
    server.stop().await;
    let ann = rows(&server.env, "users").await[0]["id"].clone();
    let dir = server.env.dir.path().join("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let target = open_env(backend).await;
    std::fs::create_dir_all(notes_dir(&target)).unwrap();
    let before = tree(&notes_dir(&target));
    for (n, hostile) in ["../../x", "/some/dir", "a/../../b", "."].into_iter().enumerate() {
        let forged = dir.join(format!("id-{n}.tar.gz"));
        let replacement = serde_json::to_string(hostile).unwrap();
        let replacement = &replacement[1..replacement.len() - 1];
        forge(&good, &forged, replace_in_rows(&ann, replacement), |_| {});
        let run = target.run(&["restore", "--force", forged.to_str().unwrap()]).await;
        assert_ne!(run.code(), 0, "{hostile}: accepted\n{}", run.stderr());
        assert!(
            run.stderr().contains("not a valid user id"),
            "{hostile}:\n{}",
            run.stderr()
        );
        assert_untouched(&target, &before).await;
        assert_no_restore_left(&target);
    }
    assert!(!target.dir.path().join("x").exists());
    // The live rule applies on the command line too.
    let run = target.run(&["reindex", "--user", "../../x"]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("not a user id"), "{}", run.stderr());
}
both_backends!(hostile_user_ids_are_refused);

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data).read_to_end(&mut out).unwrap();
    out
}

/// Archives whose hashes are all correct but whose contents are forged, damaged around the tar or
/// gzip stream, or whose manifest fields lie: each is refused before anything is created in the
/// target (no schema, no notes, no marker).
async fn forged_archives_are_refused_before_anything(backend: Backend) {
    let (mut server, _, good) = source(backend).await;
    server.stop().await;
    let users = rows(&server.env, "users").await;
    let (ann_email, bob_email) = (users[0]["email"].clone(), users[1]["email"].clone());
    let dir = server.env.dir.path().join("forged");
    std::fs::create_dir_all(&dir).unwrap();
    let path = |name: &str| dir.join(format!("{name}.tar.gz"));
    let mut cases: Vec<(&str, PathBuf, &str)> = Vec::new();

    forge(
        &good,
        &path("dup-email"),
        replace_in_rows(&bob_email, &ann_email),
        |_| {},
    );
    cases.push(("two users with one email", path("dup-email"), "do not fit the schema"));
    forge(
        &good,
        &path("type"),
        |name, data| {
            if name != "db/users.jsonl" {
                return Some(data);
            }
            let text = String::from_utf8(data).unwrap();
            let mut out = String::new();
            for line in text.lines() {
                let mut row: Value = serde_json::from_str(line).unwrap();
                row["created_at"] = json!("yesterday");
                out.push_str(&format!("{row}\n"));
            }
            Some(out.into_bytes())
        },
        |_| {},
    );
    cases.push(("text in an integer column", path("type"), "not a value of its type"));
    forge(
        &good,
        &path("column"),
        |name, data| {
            if name != "db/users.jsonl" {
                return Some(data);
            }
            let text = String::from_utf8(data).unwrap();
            let mut out = String::new();
            for line in text.lines() {
                let mut row: Value = serde_json::from_str(line).unwrap();
                row["is_root"] = json!(true);
                out.push_str(&format!("{row}\n"));
            }
            Some(out.into_bytes())
        },
        |_| {},
    );
    cases.push(("unknown column", path("column"), "is_root"));
    forge(
        &good,
        &path("rows"),
        |_, d| Some(d),
        |m| {
            let tables = m["tables"].as_array_mut().unwrap();
            let users = tables.iter_mut().find(|t| t["name"] == "users").unwrap();
            users["rows"] = json!(users["rows"].as_u64().unwrap() + 1);
        },
    );
    cases.push(("edited row count", path("rows"), "rows in the archive"));
    forge(
        &good,
        &path("created"),
        |_, d| Some(d),
        |m| m["createdAt"] = json!("last tuesday"),
    );
    cases.push(("edited createdAt", path("created"), "createdAt"));
    forge(
        &good,
        &path("future"),
        |_, d| Some(d),
        |m| m["createdAt"] = json!("2999-01-01T00:00:00Z"),
    );
    cases.push(("createdAt in the future", path("future"), "in the future"));
    forge(
        &good,
        &path("version"),
        |_, d| Some(d),
        |m| m["krytonVersion"] = json!("evil; rm -rf /"),
    );
    cases.push(("edited krytonVersion", path("version"), "krytonVersion"));
    forge(
        &good,
        &path("field"),
        |_, d| Some(d),
        |m| m["signedBy"] = json!("nobody"),
    );
    cases.push(("unknown manifest field", path("field"), "signedBy"));

    let bytes = std::fs::read(&good).unwrap();
    let mut trailing = bytes.clone();
    trailing.extend_from_slice(b"trailing garbage");
    std::fs::write(path("trailing"), &trailing).unwrap();
    cases.push((
        "data after the gzip stream",
        path("trailing"),
        "after the end of the gzip stream",
    ));
    let mut second = bytes.clone();
    second.extend_from_slice(&gzip(b"a second member"));
    std::fs::write(path("second"), &second).unwrap();
    cases.push(("a second gzip member", path("second"), "second gzip member"));
    let mut tar = gunzip(&bytes);
    tar.extend_from_slice(b"smuggled after the tar's end");
    std::fs::write(path("after-tar"), gzip(&tar)).unwrap();
    cases.push((
        "data after the tar's end",
        path("after-tar"),
        "after the end of the tar archive",
    ));
    // An entry after the manifest (the manifest is always last).
    let mut tar = gunzip(&bytes);
    let end = tar.len() - tar.iter().rev().take_while(|b| **b == 0).count();
    tar.truncate(end.div_ceil(512) * 512);
    let mut builder = tar::Builder::new(tar);
    let mut header = tar::Header::new_gnu();
    header.set_size(4);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    builder.append_data(&mut header, "notes/late.md", &b"late"[..]).unwrap();
    std::fs::write(path("after-manifest"), gzip(&builder.into_inner().unwrap())).unwrap();
    cases.push((
        "entry after the manifest",
        path("after-manifest"),
        "follows manifest.json",
    ));

    let target = open_env(backend).await;
    std::fs::create_dir_all(notes_dir(&target).join("empty-subdir")).unwrap();
    let before = tree(&notes_dir(&target));
    for (what, archive, expected) in cases {
        let run = target.run(&["restore", "--force", archive.to_str().unwrap()]).await;
        assert_ne!(run.code(), 0, "{what}: accepted\n{}", run.stderr());
        assert!(
            run.stderr().contains(expected),
            "{what}: the message should mention {expected:?}:\n{}",
            run.stderr()
        );
        assert_untouched(&target, &before).await;
        assert_no_restore_left(&target);
    }
}
both_backends!(forged_archives_are_refused_before_anything);

/// The peak resident memory of a process, from /proc (kB).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A small archive whose manifest.json decompresses to 254 MB is refused at once, and the restore's
/// peak memory stays small (it was 5.7 GB). The process is stopped at its exit point by the
/// fault-injection hook, so that its peak RSS can be read from /proc before it goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_manifest_is_refused_in_bounded_memory() {
    let (mut server, _, good) = source(Backend::Sqlite).await;
    server.stop().await;
    let bomb = server.env.dir.path().join("bomb.tar.gz");
    let size: u64 = 254 << 20;
    {
        let file = std::fs::File::create(&bomb).unwrap();
        let mut input = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(&good).unwrap()));
        let mut output = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::best()));
        for entry in input.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let mut header = entry.header().clone();
            if name == "manifest.json" {
                // Valid JSON: an object followed by 254 MB of whitespace.
                header.set_size(size);
                let body = std::io::Read::chain(&b"{}"[..], std::io::repeat(b' ').take(size - 2));
                output.append_data(&mut header, "manifest.json", body).unwrap();
            } else {
                output.append_data(&mut header, &name, &mut entry).unwrap();
            }
        }
        output.into_inner().unwrap().finish().unwrap();
    }
    assert!(std::fs::metadata(&bomb).unwrap().len() < 2 << 20);

    let mut target = open_env(Backend::Sqlite).await;
    target.set_env("KRYTON_FAULT_POINT", "exit");
    target.set_env("KRYTON_FAULT_SIGNAL", "STOP");
    let mut child = target.spawn(&["restore", bomb.to_str().unwrap()]);
    let pid = child.id().unwrap();
    let started = std::time::Instant::now();
    loop {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        let state = stat.rsplit(") ").next().unwrap().chars().next().unwrap();
        if state == 'T' {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the restore never reached its exit"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let peak = peak_rss_kb(pid);
    child.start_kill().unwrap();
    let run = common::finish(child).await;
    assert!(run.stderr().contains("manifest.json has"), "{}", run.stderr());
    assert!(peak < 100 * 1024, "peak RSS {peak} kB");
    assert!(!target.sqlite_path().exists(), "the refused restore created a database");
}

/// Backup archives hold password hashes: 0600 files in a 0700 directory, whatever the umask.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_are_private_whatever_the_umask() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start(open_env(Backend::Sqlite).await).await;
    populate(&server).await;
    let out = server.env.dir.path().join("new-dir").join("b.tar.gz");
    for args in [vec!["backup"], vec!["backup", "--out", out.to_str().unwrap()]] {
        let std_cmd = server.env.command(&args);
        let std_cmd = std_cmd.as_std();
        let mut cmd = tokio::process::Command::new("sh");
        cmd.arg("-c")
            .arg("umask 000; exec \"$0\" \"$@\"")
            .arg(std_cmd.get_program())
            .args(std_cmd.get_args());
        cmd.env_clear();
        for (k, v) in std_cmd.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let output = cmd.output().await.unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    }
    let backups = server.env.data_dir().join("backups");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&backups), 0o700);
    assert_eq!(mode(out.parent().unwrap()), 0o700);
    assert_eq!(mode(&out), 0o600);
    for entry in std::fs::read_dir(&backups).unwrap() {
        assert_eq!(mode(&entry.unwrap().path()), 0o600);
    }
}

/// A backup killed while writing leaves `<name>.partial`; the next backup (and boot) removes such
/// orphans, but never a partial file a live process still holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_partial_backups_are_removed_but_not_live_ones() {
    let server = Server::start(open_env(Backend::Sqlite).await).await;
    populate(&server).await;
    let backups = server.env.data_dir().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let killed = backups.join("kryton-pre-migration-20260101T000000Z-before-0004.tar.gz");
    let run = {
        let mut cmd = server.env.command(&["backup", "--out", killed.to_str().unwrap()]);
        cmd.env("KRYTON_FAULT_POINT", "backup:tables-written");
        Run(cmd.output().await.unwrap())
    };
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(run.0.status.signal(), Some(9), "{}", run.stderr());
    let orphan = backups.join("kryton-pre-migration-20260101T000000Z-before-0004.tar.gz.partial");
    assert!(orphan.exists(), "the kill left its partial file");
    // A partial file that a live writer holds (this test process takes its lock).
    let live = backups.join("kryton-backup-20260101T000001Z.tar.gz.partial");
    let held = std::fs::File::create(&live).unwrap();
    held.lock().unwrap();

    server.env.run(&["backup"]).await.assert_code(0);
    assert!(!orphan.exists(), "the orphan was not removed");
    assert!(live.exists(), "a live writer's partial file was removed");
    drop(held);
}

/// Whether the notes index describes exactly the `.md` files of every vault.
async fn index_matches_files(env: &TestEnv) {
    let mut on_disk = std::collections::BTreeSet::new();
    for user in std::fs::read_dir(notes_dir(env)).unwrap() {
        let user = user.unwrap();
        let id = user.file_name().to_string_lossy().into_owned();
        for (path, content) in tree(&user.path()) {
            if content.is_some() && path.ends_with(".md") && !path.split('/').any(|c| c.starts_with('.')) {
                on_disk.insert(format!("{id}/{path}"));
            }
        }
    }
    let db = env.db().await;
    let sql = "SELECT user_id || '/' || path FROM notes";
    let indexed: std::collections::BTreeSet<String> = match &db {
        Db::Pg(p) => sqlx::query_scalar(sql)
            .fetch_all(p)
            .await
            .unwrap()
            .into_iter()
            .collect(),
        Db::Lite(p) => sqlx::query_scalar(sql)
            .fetch_all(p)
            .await
            .unwrap()
            .into_iter()
            .collect(),
    };
    db.close().await;
    assert_eq!(indexed, on_disk, "index and files disagree");
}

/// A restore killed (SIGKILL) at each step leaves a marker: serve and migrate refuse to start,
/// naming `kryton restore --force FILE`, and that command makes the result whole (rows, notes,
/// index), while the notes from before the restore are kept aside.
async fn killed_restore_is_finished_by_the_named_command(backend: Backend) {
    use std::os::unix::process::ExitStatusExt;
    let (mut server, fixture, archive) = source(backend).await;
    let expected_rows = all_rows(&server.env).await;
    let expected_tree = tree(&notes_dir(&server.env));
    server.stop().await;
    std::fs::write(notes_dir(&server.env).join("late.md"), b"written after the backup\n").unwrap();
    let env = &server.env;
    let archive = archive.to_str().unwrap();
    let command = format!("kryton restore --force {archive}");
    for point in [
        "marker-written",
        "schema-built",
        "rows-loaded",
        "notes-moved-aside",
        "notes-in-place",
        "migrated",
        "reindexed",
    ] {
        let mut cmd = env.command(&["restore", "--force", archive]);
        cmd.env("KRYTON_FAULT_POINT", format!("restore:{point}"));
        let killed = Run(cmd.output().await.unwrap());
        assert_eq!(
            killed.0.status.signal(),
            Some(9),
            "{point}: not killed\n{}",
            killed.stderr()
        );
        assert!(
            env.data_dir().join("notes.restore-in-progress").exists(),
            "{point}: no marker"
        );

        for args in [vec!["migrate"], vec!["serve"]] {
            let run = tokio::time::timeout(Duration::from_secs(60), env.run(&args))
                .await
                .unwrap_or_else(|_| panic!("{point}: {args:?} started on a half-restored target"));
            assert_ne!(run.code(), 0, "{point}: {args:?} started");
            assert!(
                run.stderr().contains(&command),
                "{point}: {args:?} should name {command:?}:\n{}",
                run.stderr()
            );
            assert!(!env.port_is_open());
        }

        env.run(&["restore", "--force", archive]).await.assert_code(0);
        assert!(!env.data_dir().join("notes.restore-in-progress").exists(), "{point}");
        assert_eq!(all_rows(env).await, expected_rows, "{point}: rows");
        assert_eq!(tree(&notes_dir(env)), expected_tree, "{point}: notes");
        index_matches_files(env).await;
        let kept = std::fs::read_dir(env.data_dir())
            .unwrap()
            .map(|e| e.unwrap().path())
            .any(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("notes.before-restore-")
                    && p.join("late.md").exists()
            });
        assert!(kept, "{point}: the notes from before the restore were lost");
    }
    let mut restored = check_serves(server.env, &fixture).await;
    restored.stop().await;
}
both_backends!(killed_restore_is_finished_by_the_named_command);
