//! Power loss (issue 20, item 5): the server's data directory lives on a loop-mounted ext4 image.
//! Right after the last acknowledged write the test copies the *block device* (with O_DIRECT, so
//! only what the kernel has sent to the device is copied, not what sits in the page cache), as a
//! power cut would leave the disk. The copy is checked with `e2fsck -y`, mounted, and a fresh
//! server booted on it must show every acknowledged change over HTTP.
//!
//! The image is mounted with `commit=600`, so ext4's periodic journal commit (5 s by default)
//! cannot rescue a change the server did not fsync: only the server's own fsyncs put anything on
//! the device before the copy. With the fsyncs of `write_atomic` disabled, this test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{As, Backend, Server, TestEnv};
use serde_json::{Value, json};

fn run(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(
        output.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// An ext4 image attached to a loop device and mounted; detached when dropped.
struct LoopFs {
    device: String,
    mount: PathBuf,
}

impl LoopFs {
    fn attach(image: &Path, mount: PathBuf) -> LoopFs {
        std::fs::create_dir_all(&mount).unwrap();
        let device = run("losetup", &["--find", "--show", image.to_str().unwrap()]);
        run(
            "mount",
            &["-t", "ext4", "-o", "commit=600", &device, mount.to_str().unwrap()],
        );
        LoopFs { device, mount }
    }

    /// Copies the block device as it is on the "disk": O_DIRECT reads skip the page cache.
    fn copy_device(&self, to: &Path) {
        run(
            "dd",
            &[
                &format!("if={}", self.device),
                &format!("of={}", to.display()),
                "bs=4M",
                "iflag=direct",
                "status=none",
            ],
        );
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.mount).status();
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

/// `e2fsck -fy`: 0 (clean) and 1 (errors corrected) are both a usable file system.
fn fsck(image: &Path) -> i32 {
    let status = Command::new("e2fsck")
        .args(["-f", "-y"])
        .arg(image)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap_or(-1);
    assert!(
        status == 0 || status == 1,
        "e2fsck could not repair the copy: exit {status}"
    );
    status
}

async fn acknowledged(s: &Server, me: &As, method: &str, route: &str, body: Option<Value>) -> Value {
    let (status, answer) = s.request(method, route, me, body).await;
    assert!((200..300).contains(&status), "{method} {route}: {status} {answer}");
    answer
}

async fn acknowledged_writes_survive_a_power_cut(backend: Backend) {
    let work = tempfile::tempdir().unwrap();
    let image = work.path().join("disk.img");
    run("truncate", &["-s", "96M", image.to_str().unwrap()]);
    run("mkfs.ext4", &["-q", "-F", "-m", "0", image.to_str().unwrap()]);
    let disk = LoopFs::attach(&image, work.path().join("disk"));
    let data = disk.mount.join("data");

    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    env.set_env("SAMPLE_VAULT", "off");
    env.set_env("DATA_DIR", data.to_str().unwrap());
    // To watch this test fail on a server whose fsyncs do nothing, run it with
    // KRYTON_TEST_SERVER_PRELOAD=/usr/lib/x86_64-linux-gnu/libeatmydata.so (Debian's eatmydata).
    if let Ok(preload) = std::env::var("KRYTON_TEST_SERVER_PRELOAD") {
        env.set_env("LD_PRELOAD", &preload);
    }
    let mut s = Server::start(env).await;
    // Everything below is answered 2xx and must be found after the power cut.
    let (_, token) = s.sign_up("ann@example.org", "ann password", None).await;
    let me = As::Bearer(token);
    let note = |path: &str, content: &str| json!({ "path": path, "content": content });
    acknowledged(&s, &me, "POST", "/api/notes", Some(note("Plan.md", "# Plan\nfirst"))).await;
    acknowledged(&s, &me, "POST", "/api/notes", Some(note("Ideas.md", "see [[Plan]]"))).await;
    acknowledged(&s, &me, "POST", "/api/notes", Some(note("Scratch.md", "to be deleted"))).await;
    acknowledged(
        &s,
        &me,
        "PUT",
        "/api/notes/Plan.md",
        Some(json!({ "content": "# Plan\nsecond" })),
    )
    .await;
    acknowledged(
        &s,
        &me,
        "POST",
        "/api/notes-rename/Plan.md",
        Some(json!({ "newPath": "Archive/Roadmap.md" })),
    )
    .await;
    acknowledged(&s, &me, "DELETE", "/api/notes/Scratch.md", None).await;
    let key = acknowledged(
        &s,
        &me,
        "POST",
        "/api/api-keys",
        Some(json!({ "name": "agent", "scope": "read-write" })),
    )
    .await;
    let key = As::Bearer(key["key"].as_str().unwrap().to_owned());
    acknowledged(
        &s,
        &key,
        "POST",
        "/api/notes",
        Some(note("Last.md", "written with the key")),
    )
    .await;

    // The power cut: the device as it is now, then the server dies without a chance to flush.
    let copy = work.path().join("after-power-cut.img");
    disk.copy_device(&copy);
    let mut child = s.child.take().unwrap();
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    drop(disk);

    let repaired = fsck(&copy);
    let disk = LoopFs::attach(&copy, work.path().join("copy"));
    let mut env = std::mem::replace(&mut s.env, TestEnv::new(backend).await);
    env.set_env("DATA_DIR", disk.mount.join("data").to_str().unwrap());
    let s = Server::start(env).await;
    let context = format!("{backend:?}, e2fsck exit {repaired}");

    let (status, body) = s.request("GET", "/api/notes/Archive/Roadmap.md", &me, None).await;
    assert_eq!(status, 200, "{context}: the renamed note: {body}");
    assert_eq!(body["content"], "# Plan\nsecond", "{context}");
    let (status, _) = s.request("GET", "/api/notes/Plan.md", &me, None).await;
    assert_eq!(status, 404, "{context}: the note is back at its old path");
    let (status, body) = s.request("GET", "/api/notes/Ideas.md", &me, None).await;
    assert_eq!(status, 200, "{context}");
    assert_eq!(
        body["content"], "see [[Roadmap]]",
        "{context}: the link rewrite was lost"
    );
    let (_, body) = s.request("GET", "/api/history/Archive/Roadmap.md", &me, None).await;
    assert!(
        !body["versions"].as_array().unwrap().is_empty(),
        "{context}: the history was lost: {body}"
    );
    let (status, _) = s.request("GET", "/api/notes/Scratch.md", &me, None).await;
    assert_eq!(status, 404, "{context}: the deleted note came back");
    let (_, trash) = s.request("GET", "/api/trash", &me, None).await;
    assert!(
        trash.to_string().contains("Scratch.md"),
        "{context}: not in the trash: {trash}"
    );
    // The account, its session and its key (in the database on the image, for SQLite).
    let (status, body) = s.request("GET", "/api/notes/Last.md", &key, None).await;
    assert_eq!(status, 200, "{context}: the key or its note was lost: {body}");
    drop(s);
    drop(disk);
}
both_backends!(acknowledged_writes_survive_a_power_cut);
