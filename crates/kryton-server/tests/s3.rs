//! `kryton backup --out s3://...` and `kryton restore s3://...` against a real S3-compatible server
//! on loopback (moto in server mode, installed into .venv by scripts/tools-install.sh), including a
//! large archive whose upload and download must keep the process's memory flat.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::time::{Duration, Instant};

use common::stores::Moto;
use common::{As, Backend, Server, TestEnv};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_to_s3_and_restore_from_it() {
    let moto = Moto::start();
    moto.create_bucket("kryton-backups").await;

    let mut env = TestEnv::new(Backend::Sqlite).await;
    env.set_env("REGISTRATION_MODE", "open");
    moto.configure(&mut env);
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

    // Three backups with retention 2: the oldest is pruned; an archive of another name under the
    // prefix, and one in a sub-"directory", are none of retention's business.
    let stranger = reqwest::Client::new()
        .put(format!("{}/kryton-backups/nightly/notes.txt", moto.url))
        .body("not an archive")
        .send()
        .await
        .unwrap();
    assert!(stranger.status().is_success());
    let nested = reqwest::Client::new()
        .put(format!(
            "{}/kryton-backups/nightly/old/kryton-backup-20000101T000000Z.tar.gz",
            moto.url
        ))
        .body("older, elsewhere")
        .send()
        .await
        .unwrap();
    assert!(nested.status().is_success());
    let mut uploaded = Vec::new();
    for _ in 0..3 {
        let run = source
            .env
            .run(&["backup", "--out", "s3://kryton-backups/nightly/", "--retention", "2"])
            .await;
        run.assert_code(0);
        let line = run
            .stdout()
            .lines()
            .find(|l| l.starts_with("uploaded to s3://kryton-backups/nightly/kryton-backup-"))
            .unwrap_or_else(|| panic!("{}", run.stdout()))
            .to_owned();
        let key = line
            .trim_start_matches("uploaded to s3://kryton-backups/")
            .split(' ')
            .next()
            .unwrap()
            .to_owned();
        uploaded.push(key);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let mut keys = moto.keys("kryton-backups", "nightly/").await;
    keys.sort();
    let mut expected = vec![
        "nightly/notes.txt".to_owned(),
        "nightly/old/kryton-backup-20000101T000000Z.tar.gz".to_owned(),
        uploaded[1].clone(),
        uploaded[2].clone(),
    ];
    expected.sort();
    assert_eq!(
        keys, expected,
        "retention keeps the newest two archives and nothing else is touched"
    );
    let backup_dir = source.env.data_dir().join("backups");
    let local: Vec<_> = std::fs::read_dir(&backup_dir).map(|d| d.collect()).unwrap_or_default();
    assert!(
        local.is_empty(),
        "the local copy is removed after the upload: {local:?}"
    );

    // An exact key (not ending in /) is used as is.
    source
        .env
        .run(&["backup", "--out", "s3://kryton-backups/exact/today.tar.gz"])
        .await
        .assert_code(0);
    assert_eq!(
        moto.keys("kryton-backups", "exact/").await,
        vec!["exact/today.tar.gz".to_owned()]
    );
    source.stop().await;

    // Restore the newest into a fresh PostgreSQL installation, straight from the store.
    let mut target = TestEnv::new(Backend::Postgres).await;
    moto.configure(&mut target);
    let run = target
        .run(&["restore", &format!("s3://kryton-backups/{}", uploaded[2])])
        .await;
    run.assert_code(0);
    assert!(run.stdout().contains("restored"), "{}", run.stdout());
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
    let downloads: Vec<_> = std::fs::read_dir(target.env.data_dir().join("backups"))
        .map(|d| d.collect())
        .unwrap_or_default();
    assert!(downloads.is_empty(), "the downloaded copy is removed: {downloads:?}");

    // A missing object, half a key pair, a missing bucket and an unknown scheme fail clearly,
    // without touching anything.
    let mut wrong = TestEnv::new(Backend::Sqlite).await;
    moto.configure(&mut wrong);
    let run = wrong.run(&["restore", "s3://kryton-backups/nightly/nope.tar.gz"]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("nope.tar.gz"), "{}", run.stderr());
    assert!(!run.stderr().contains("testing-secret"), "the secret key never appears");
    assert!(!wrong.sqlite_path().exists(), "a failed download created a database");
    let run = wrong.run(&["restore", "ftp://host/x.tar.gz"]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("ftp:// is not supported"), "{}", run.stderr());
    wrong.unset_env("AWS_ACCESS_KEY_ID");
    let run = wrong.run(&["backup", "--out", "s3://kryton-backups/x/"]).await;
    assert_ne!(run.code(), 0);
    assert!(run.stderr().contains("AWS_ACCESS_KEY_ID"), "{}", run.stderr());
    assert!(!run.stderr().contains("testing-secret"), "the secret key never appears");
}

/// Peak and current resident memory of a process, from /proc (kB).
fn rss_kb(pid: u32, field: &str) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs `kryton ARGS` until its exit point, where the fault-injection hook stops it, sampling its
/// RSS from /proc every 50 ms meanwhile; returns (peak RSS kB as the kernel counted it, the
/// largest sample, stdout and stderr).
async fn run_measured(env: &TestEnv, args: &[&str]) -> (u64, u64, common::Run) {
    let mut env_stop = env.command(args);
    env_stop
        .env("KRYTON_FAULT_POINT", "exit")
        .env("KRYTON_FAULT_SIGNAL", "STOP");
    let mut child = env_stop.spawn().unwrap();
    let pid = child.id().unwrap();
    // Drain the pipes while it runs, so that a chatty process never blocks on them.
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let stdout = tokio::spawn(async move {
        let mut s = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut out, &mut s).await.unwrap();
        s
    });
    let stderr = tokio::spawn(async move {
        let mut s = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut err, &mut s).await.unwrap();
        s
    });
    let started = Instant::now();
    let mut sampled = 0;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let err = String::from_utf8_lossy(&stderr.await.unwrap()).into_owned();
            panic!("kryton {args:?} exited ({status}) before its exit point:\n{err}");
        }
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        if stat.rsplit(") ").next().unwrap().starts_with('T') {
            break;
        }
        sampled = sampled.max(rss_kb(pid, "VmRSS:").unwrap_or(0));
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "kryton {args:?} did not finish within 15 minutes"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let peak = rss_kb(pid, "VmHWM:").unwrap();
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    let output = std::process::Output {
        status,
        stdout: stdout.await.unwrap(),
        stderr: stderr.await.unwrap(),
    };
    (peak, sampled, common::Run(output))
}

/// Writes `mb` MiB of random (incompressible) attachments into a user's vault.
fn fill_vault(env: &TestEnv, user_id: &str, mb: usize) {
    use rand::RngCore;
    let dir = env.data_dir().join("notes").join(user_id).join("attachments");
    std::fs::create_dir_all(&dir).unwrap();
    let mut rng = rand::rng();
    let mut block = vec![0u8; 1 << 20];
    // 8 MiB files, the last one shorter.
    for (index, start) in (0..mb).step_by(8).enumerate() {
        let mut file = std::fs::File::create(dir.join(format!("blob-{index:03}.bin"))).unwrap();
        for _ in start..(start + 8).min(mb) {
            rng.fill_bytes(&mut block);
            file.write_all(&block).unwrap();
        }
    }
}

/// Backup to S3 and restore from it with an archive of `KRYTON_TEST_ARCHIVE_MB` (300 by default)
/// of incompressible attachments: the archive is streamed in parts both ways, so the process's
/// peak memory is the same as with a 16 MiB archive, give or take a few parts, and far below the
/// archive's size. The restored attachments are compared byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_archive_round_trip_in_flat_memory() {
    let mb: usize = std::env::var("KRYTON_TEST_ARCHIVE_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let moto = Moto::start();
    moto.create_bucket("big").await;

    let mut peaks = Vec::new();
    for (size, name) in [(16, "small"), (mb, "large")] {
        let started = Instant::now();
        let mut env = TestEnv::new(Backend::Sqlite).await;
        env.set_env("REGISTRATION_MODE", "open");
        moto.configure(&mut env);
        let mut server = Server::start(env).await;
        let (user_id, _) = server.sign_up("big@example.org", "big password", None).await;
        server.stop().await;
        fill_vault(&server.env, &user_id, size);

        let out = format!("s3://big/{name}.tar.gz");
        let (backup_peak, backup_sampled, run) = run_measured(&server.env, &["backup", "--out", &out]).await;
        assert!(run.stdout().contains(&format!("uploaded to {out}")), "{}", run.stdout());
        let object = moto.keys("big", name).await;
        assert_eq!(object, vec![format!("{name}.tar.gz")]);

        let mut target = TestEnv::new(Backend::Sqlite).await;
        moto.configure(&mut target);
        let (restore_peak, restore_sampled, run) = run_measured(&target, &["restore", &out]).await;
        assert!(run.stdout().contains("restored"), "{}\n{}", run.stdout(), run.stderr());
        let source_dir = server.env.data_dir().join("notes").join(&user_id).join("attachments");
        let target_dir = target.data_dir().join("notes").join(&user_id).join("attachments");
        let mut names: Vec<_> = std::fs::read_dir(&source_dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names.len(), size.div_ceil(8));
        for file in names {
            let (a, b) = (source_dir.join(&file), target_dir.join(&file));
            assert_eq!(
                std::fs::metadata(&a).unwrap().len(),
                std::fs::metadata(&b).unwrap().len()
            );
            assert!(
                std::fs::read(&a).unwrap() == std::fs::read(&b).unwrap(),
                "{file:?} differs"
            );
        }
        eprintln!(
            "{name} ({size} MiB): backup peak RSS {backup_peak} kB (largest sample {backup_sampled} kB), \
             restore peak RSS {restore_peak} kB (largest sample {restore_sampled} kB), {:.1} s",
            started.elapsed().as_secs_f64()
        );
        peaks.push((backup_peak, restore_peak));
    }
    let ((small_backup, small_restore), (large_backup, large_restore)) = (peaks[0], peaks[1]);
    let archive_kb = (mb as u64) << 10;
    // Flat: at most a few 8 MiB parts more than with the small archive, and well under the size
    // of the archive itself (300 MiB by default).
    for (what, small, large) in [
        ("backup", small_backup, large_backup),
        ("restore", small_restore, large_restore),
    ] {
        assert!(
            large < small + 48 * 1024,
            "{what}: peak RSS {large} kB with {mb} MiB vs {small} kB with 16 MiB: memory grows with the archive"
        );
        assert!(
            large < archive_kb / 2 || mb < 200,
            "{what}: peak RSS {large} kB for a {mb} MiB archive"
        );
    }
}
