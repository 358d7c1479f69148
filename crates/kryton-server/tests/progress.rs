//! Progress of long commands: with stderr to a pipe (a container, CI) `backup`, `restore`,
//! `reindex` and `migrate` write structured progress lines at a bounded rate, counts only growing,
//! the final count right; on a terminal (exercised through util-linux `script`) they draw a bar
//! instead.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::process::Stdio;

use common::{Backend, Server, TestEnv};
use serde_json::Value;

/// The progress lines of one task from a JSON log: (message, done, total, timestamp).
fn progress_lines(stderr: &str, task: &str) -> Vec<(String, u64, u64, String)> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["task"] == task && (v["done"].is_u64() || v["message"] == "started"))
        .map(|v| {
            (
                v["message"].as_str().unwrap().to_owned(),
                v["done"].as_u64().unwrap_or(0),
                v["total"].as_u64().unwrap(),
                v["timestamp"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// One started line, progress lines with growing counts at least the interval apart, one finished
/// line; returns the final count and how many progress lines there were.
fn check_phase(stderr: &str, task: &str) -> (u64, usize) {
    let lines = progress_lines(stderr, task);
    assert!(lines.len() >= 2, "{task}: no progress lines in\n{stderr}");
    assert_eq!(lines[0].0, "started", "{task}: {lines:?}");
    assert_eq!(lines.last().unwrap().0, "finished", "{task}: {lines:?}");
    let middle = &lines[1..lines.len() - 1];
    assert!(middle.iter().all(|l| l.0 == "progress"), "{task}: {lines:?}");
    let mut last = 0;
    for (_, done, _, _) in &lines[1..] {
        assert!(*done >= last, "{task}: counts go down: {lines:?}");
        last = *done;
    }
    // Bounded rate: two progress lines are at least PROGRESS_INTERVAL (clamped to 100ms) apart.
    let times: Vec<time::OffsetDateTime> = middle
        .iter()
        .map(|l| time::OffsetDateTime::parse(&l.3, &time::format_description::well_known::Rfc3339).unwrap())
        .collect();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= time::Duration::milliseconds(95),
            "{task}: progress lines closer than the interval: {lines:?}"
        );
    }
    (last, middle.len())
}

/// A vault big enough that each phase takes a noticeable time: many notes and some incompressible
/// attachments, written straight into the user's directory.
fn fill(env: &TestEnv, user_id: &str, notes: usize) {
    use rand::RngCore;
    let vault = env.data_dir().join("notes").join(user_id);
    for i in 0..notes {
        std::fs::write(
            vault.join(format!("note-{i:05}.md")),
            format!("# Note {i}\n\nlinks to [[note-{:05}]] #bulk\n", (i + 1) % notes),
        )
        .unwrap();
    }
    let attachments = vault.join("attachments");
    std::fs::create_dir_all(&attachments).unwrap();
    let mut block = vec![0u8; 1 << 20];
    for i in 0..6 {
        let mut file = std::fs::File::create(attachments.join(format!("blob-{i}.bin"))).unwrap();
        for _ in 0..8 {
            rand::rng().fill_bytes(&mut block);
            file.write_all(&block).unwrap();
        }
    }
}

fn json_logs(env: &mut TestEnv) {
    env.set_env("LOG_FORMAT", "json");
    env.set_env("PROGRESS_INTERVAL", "100ms");
}

async fn progress_lines_on_a_pipe(backend: Backend) {
    const NOTES: usize = 1500;
    // migrate: one step per migration of a fresh database.
    let mut env = TestEnv::new(backend).await;
    json_logs(&mut env);
    let run = env.run(&["migrate"]).await;
    run.assert_code(0);
    let (migrated, _) = check_phase(&run.stderr(), "migrate");
    assert_eq!(migrated as usize, common::shipped_migrations(backend).len());
    let lines = progress_lines(&run.stderr(), "migrate");
    assert_eq!(
        lines[0].2 as usize, migrated as usize,
        "the total is announced at the start"
    );

    env.set_env("REGISTRATION_MODE", "open");
    let mut server = Server::start(env).await;
    let (user_id, _) = server.sign_up("p@example.org", "progress password", None).await;
    server.stop().await;
    fill(&server.env, &user_id, NOTES);

    // reindex: every note file looked at once.
    let run = server.env.run(&["reindex"]).await;
    run.assert_code(0);
    let (reindexed, _) = check_phase(&run.stderr(), "reindex");
    let report: Value = serde_json::from_str(run.stdout().trim()).unwrap();
    assert!(report["added"].as_u64().unwrap() >= NOTES as u64, "{report}");
    let looked_at = ["added", "updated", "unchanged"]
        .iter()
        .map(|k| report[k].as_u64().unwrap())
        .sum::<u64>();
    assert_eq!(reindexed, looked_at, "every note counted once: {report}");

    // backup: each table and file put in the archive.
    let archive = server.env.dir.path().join("p.tar.gz");
    let run = server.env.run(&["backup", "--out", archive.to_str().unwrap()]).await;
    run.assert_code(0);
    let (written, backup_lines) = check_phase(&run.stderr(), "backup");
    let manifest: Value = {
        let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(std::fs::File::open(&archive).unwrap()));
        let entry = tar
            .entries()
            .unwrap()
            .map(Result::unwrap)
            .find(|e| e.path().unwrap().to_str() == Some("manifest.json"))
            .unwrap();
        serde_json::from_reader(entry).unwrap()
    };
    let files = manifest["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["type"] == "file")
        .count();
    assert_eq!(written as usize, files, "tables and files, each counted once");
    assert!(
        backup_lines >= 1,
        "a backup of {NOTES} notes and 48 MiB shows progress before it ends"
    );

    // restore: verify, extract, reindex, migrate.
    let mut target = TestEnv::new(backend).await;
    json_logs(&mut target);
    let run = target.run(&["restore", archive.to_str().unwrap()]).await;
    run.assert_code(0);
    let stderr = run.stderr();
    let parts = manifest["parts"].as_array().unwrap().len() as u64;
    assert_eq!(check_phase(&stderr, "verify").0, parts);
    assert_eq!(check_phase(&stderr, "extract").0, parts);
    let extract = progress_lines(&stderr, "extract");
    assert_eq!(extract[0].2, parts, "the extraction knows its total from the manifest");
    assert_eq!(check_phase(&stderr, "reindex").0, reindexed, "the same notes, restored");
    check_phase(&stderr, "migrate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_lines_on_a_pipe_sqlite() {
    progress_lines_on_a_pipe(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn progress_lines_on_a_pipe_postgres() {
    progress_lines_on_a_pipe(Backend::Postgres).await;
}

/// On a terminal: a bar (drawn by indicatif), not log lines. util-linux `script` gives the process
/// a pseudo-terminal as stderr.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bar_on_a_terminal() {
    let mut env = TestEnv::new(Backend::Sqlite).await;
    env.set_env("REGISTRATION_MODE", "open");
    env.set_env("LOG_FORMAT", "json");
    let mut server = Server::start(env).await;
    let (user_id, _) = server.sign_up("t@example.org", "terminal password", None).await;
    server.stop().await;
    fill(&server.env, &user_id, 200);
    let archive = server.env.dir.path().join("t.tar.gz");
    let kryton = server.env.command(&["backup", "--out", archive.to_str().unwrap()]);
    let kryton = kryton.as_std();
    let mut cmd = tokio::process::Command::new("script");
    cmd.args(["-q", "-e", "-c"])
        .arg(format!("{} backup --out {}", common::KRYTON, archive.display()))
        .arg("/dev/null")
        .env_clear()
        .env("TERM", "xterm-256color")
        .stdin(Stdio::null());
    for (k, v) in kryton.get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let output = cmd.output().await.unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{text}");
    assert!(text.contains("backup written to"), "{text}");
    // The bar's last state: the task, the count and the unit.
    assert!(
        text.contains("backup") && text.contains(" files ("),
        "no bar in {text:?}"
    );
    assert!(
        !text.contains("\"message\":\"progress\"") && !text.contains("\"message\":\"finished\""),
        "log lines instead of a bar on a terminal: {text}"
    );
}
