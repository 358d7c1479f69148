use std::sync::Arc;
use std::thread;

use super::*;

fn vault() -> (tempfile::TempDir, Vault) {
    let dir = tempfile::tempdir().unwrap();
    let vault = Vault::new(dir.path().join("user-1"));
    (dir, vault)
}

fn np(raw: &str) -> NotePath {
    NotePath::parse(raw).unwrap()
}

fn fp(raw: &str) -> FolderPath {
    FolderPath::parse(raw).unwrap()
}

/// Every file under `dir`, relative, sorted: to prove an operation touched nothing.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries {
            let entry = entry.unwrap();
            let path = entry.path();
            let ft = entry.file_type().unwrap();
            let rel = path.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
            if ft.is_dir() {
                out.push((format!("{rel}/"), Vec::new()));
                stack.push(path);
            } else if ft.is_file() {
                out.push((rel, fs::read(&path).unwrap()));
            } else {
                out.push((format!("{rel}@"), Vec::new()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn content_hash_is_hex_sha256() {
    assert_eq!(
        content_hash(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn write_atomic_creates_parents_replaces_and_leaves_no_temp_files() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("a/b/c.md");
    write_atomic(&target, b"one").unwrap();
    write_atomic(&target, b"two").unwrap();
    assert_eq!(fs::read(&target).unwrap(), b"two");
    let names: Vec<_> = fs::read_dir(dir.path().join("a/b"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["c.md"]);
}

#[test]
fn write_atomic_fails_cleanly_when_a_parent_is_a_file() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("file"), "x").unwrap();
    let err = write_atomic(&dir.path().join("file/c.md"), b"x").unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::NotADirectory);
}

#[test]
fn create_read_update_round_trip() {
    let (_dir, v) = vault();
    let p = np("Projects/Plan");
    let h1 = v.create(&p, "# Plan\n").unwrap();
    assert_eq!(h1, content_hash(b"# Plan\n"));
    let note = v.read(&p).unwrap();
    assert_eq!(note.content, "# Plan\n");
    assert_eq!(note.hash, h1);
    assert_eq!(note.size, 7);
    assert_eq!(note.path.as_str(), "Projects/Plan.md");
    assert!(v.root().join("Projects/Plan.md").is_file());

    let h2 = v.update(&p, "# Plan v2\n", Some(&h1)).unwrap();
    assert_eq!(v.read(&p).unwrap().content, "# Plan v2\n");
    assert_ne!(h1, h2);
    // Unconditional update.
    v.update(&p, "# Plan v3\n", None).unwrap();
    assert_eq!(v.history(&p).unwrap().len(), 2);
}

#[test]
fn create_refuses_existing_and_missing_reads_are_not_found() {
    let (_dir, v) = vault();
    let p = np("a");
    v.create(&p, "1").unwrap();
    assert!(matches!(v.create(&p, "2"), Err(VaultError::AlreadyExists)));
    assert_eq!(v.read(&p).unwrap().content, "1");
    assert!(matches!(v.read(&np("missing")), Err(VaultError::NotFound("note"))));
    assert!(matches!(
        v.update(&np("missing"), "x", None),
        Err(VaultError::NotFound("note"))
    ));
    // A folder is not a note.
    v.create_folder(&fp("dir.md")).unwrap();
    assert!(matches!(v.read(&np("dir")), Err(VaultError::NotFound(_))));
    // Creating below a note is a conflict, not a server error.
    assert!(matches!(
        v.create(&np("a.md/child"), "x"),
        Err(VaultError::AlreadyExists)
    ));
}

#[test]
fn read_rejects_non_utf8() {
    let (_dir, v) = vault();
    fs::create_dir_all(v.root()).unwrap();
    fs::write(v.root().join("bin.md"), [0xff, 0xfe]).unwrap();
    assert!(matches!(v.read(&np("bin")), Err(VaultError::NotUtf8)));
}

#[test]
fn stale_update_is_a_conflict_and_changes_nothing() {
    let (_dir, v) = vault();
    let p = np("n");
    let h1 = v.create(&p, "base").unwrap();
    let h2 = v.update(&p, "theirs", Some(&h1)).unwrap();
    let before = snapshot(v.root());
    match v.update(&p, "mine", Some(&h1)) {
        Err(VaultError::Conflict { current_hash }) => assert_eq!(current_hash, h2),
        other => panic!("expected conflict, got {other:?}"),
    }
    assert_eq!(snapshot(v.root()), before);
    assert_eq!(v.read(&p).unwrap().content, "theirs");
}

#[test]
fn identical_update_keeps_no_version() {
    let (_dir, v) = vault();
    let p = np("n");
    let h = v.create(&p, "same").unwrap();
    assert_eq!(v.update(&p, "same", Some(&h)).unwrap(), h);
    assert!(v.history(&p).unwrap().is_empty());
}

#[test]
fn concurrent_compare_and_swap_never_loses_an_update() {
    // Each thread opens its own Vault (its own lock file descriptor), as a second process would.
    let dir = tempfile::tempdir().unwrap();
    let root = Arc::new(dir.path().join("u"));
    let p = np("counter");
    Vault::new(root.as_ref()).create(&p, "0").unwrap();
    let threads = 4;
    let per_thread = 15;
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let root = Arc::clone(&root);
            let p = p.clone();
            thread::spawn(move || {
                let v = Vault::new(root.as_ref()).with_history_limit(1000);
                let mut conflicts = 0;
                for _ in 0..per_thread {
                    loop {
                        let note = v.read(&p).unwrap();
                        let n: u64 = note.content.parse().unwrap();
                        match v.update(&p, &(n + 1).to_string(), Some(&note.hash)) {
                            Ok(_) => break,
                            Err(VaultError::Conflict { .. }) => conflicts += 1,
                            Err(e) => panic!("{e:?}"),
                        }
                    }
                }
                conflicts
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let v = Vault::new(root.as_ref());
    assert_eq!(v.read(&p).unwrap().content, (threads * per_thread).to_string());
    // Every overwrite kept its predecessor.
    let kept = Vault::new(root.as_ref()).with_history_limit(1000).history(&p).unwrap();
    assert_eq!(kept.len(), threads * per_thread);
}

/// Set for the child processes of the cross-process test: the vault root to work on.
const WORKER_ROOT: &str = "KRYTON_TEST_CAS_WORKER_ROOT";
const WORKER_INCREMENTS: u64 = 20;

/// Read-increment-write with `If-Match`, retrying on conflict: the client every replica runs.
fn increment(v: &Vault, p: &NotePath) {
    loop {
        let note = v.read(p).unwrap();
        let n: u64 = note.content.parse().unwrap();
        match v.update(p, &(n + 1).to_string(), Some(&note.hash)) {
            Ok(_) => return,
            Err(VaultError::Conflict { .. }) => continue,
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[test]
#[ignore = "helper process of cross_process_compare_and_swap_never_loses_an_update"]
fn cas_worker_process() {
    let Ok(root) = std::env::var(WORKER_ROOT) else {
        return;
    };
    let v = Vault::new(root).with_history_limit(1000);
    for _ in 0..WORKER_INCREMENTS {
        increment(&v, &np("counter"));
    }
}

#[test]
fn cross_process_compare_and_swap_never_loses_an_update() {
    // Real processes (this test binary, re-run as the helper above) sharing one vault, as two
    // server replicas share one NOTES_DIR.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("u");
    Vault::new(&root).create(&np("counter"), "0").unwrap();
    let exe = std::env::current_exe().unwrap();
    let workers = 3;
    let children: Vec<_> = (0..workers)
        .map(|_| {
            std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "vault::fs::tests::cas_worker_process",
                    "--ignored",
                    "--test-threads=1",
                ])
                .env(WORKER_ROOT, &root)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut child in children {
        assert!(child.wait().unwrap().success());
    }
    let v = Vault::new(&root);
    assert_eq!(
        v.read(&np("counter")).unwrap().content,
        (workers * WORKER_INCREMENTS).to_string()
    );
}

#[test]
fn history_keeps_previous_versions_up_to_the_limit() {
    let (_dir, v) = vault();
    let v = v.with_history_limit(3);
    let p = np("h");
    v.create(&p, "v0").unwrap();
    for i in 1..=5 {
        v.update(&p, &format!("v{i}"), None).unwrap();
    }
    let versions = v.history(&p).unwrap();
    assert_eq!(versions.len(), 3);
    assert!(versions.windows(2).all(|w| w[0].timestamp > w[1].timestamp));
    let contents: Vec<String> = versions
        .iter()
        .map(|ver| v.history_version(&p, ver.timestamp).unwrap())
        .collect();
    assert_eq!(contents, ["v4", "v3", "v2"]);
    assert_eq!(versions[0].size, 2);
    assert!(v.root().join(".history/h.md").is_dir());
    assert!(matches!(
        v.history_version(&p, 1),
        Err(VaultError::NotFound("history version"))
    ));
    assert!(v.history(&np("never")).unwrap().is_empty());
}

#[test]
fn history_limit_zero_keeps_nothing() {
    let (_dir, v) = vault();
    let v = v.with_history_limit(0);
    let p = np("h");
    v.create(&p, "a").unwrap();
    v.update(&p, "b", None).unwrap();
    assert!(v.history(&p).unwrap().is_empty());
}

#[test]
fn restore_version_writes_it_back_as_a_new_version() {
    let (_dir, v) = vault();
    let p = np("r");
    v.create(&p, "first").unwrap();
    let h = v.update(&p, "second", None).unwrap();
    let ts = v.history(&p).unwrap()[0].timestamp;
    // A stale If-Match is refused.
    assert!(matches!(
        v.restore_version(&p, ts, Some("stale")),
        Err(VaultError::Conflict { .. })
    ));
    v.restore_version(&p, ts, Some(&h)).unwrap();
    assert_eq!(v.read(&p).unwrap().content, "first");
    let versions = v.history(&p).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(v.history_version(&p, versions[0].timestamp).unwrap(), "second");
}

#[test]
fn rename_moves_note_and_history_and_refuses_existing_target() {
    let (_dir, v) = vault();
    let a = np("a");
    v.create(&a, "1").unwrap();
    v.update(&a, "2", None).unwrap();
    v.create(&np("taken"), "t").unwrap();
    assert!(matches!(v.rename(&a, &np("taken")), Err(VaultError::AlreadyExists)));
    let b = np("deep/er/b");
    v.rename(&a, &b).unwrap();
    assert!(matches!(v.read(&a), Err(VaultError::NotFound(_))));
    assert_eq!(v.read(&b).unwrap().content, "2");
    assert_eq!(v.history(&b).unwrap().len(), 1);
    assert!(v.history(&a).unwrap().is_empty());
    assert!(matches!(
        v.rename(&np("missing"), &np("x")),
        Err(VaultError::NotFound("note"))
    ));
}

#[test]
fn rename_merges_history_into_an_old_history_at_the_target() {
    let (_dir, v) = vault();
    let a = np("a");
    let b = np("b");
    v.create(&b, "b1").unwrap();
    v.update(&b, "b2", None).unwrap();
    v.delete(&b).unwrap(); // history of b stays
    v.create(&a, "a1").unwrap();
    v.update(&a, "a2", None).unwrap();
    v.rename(&a, &b).unwrap();
    assert_eq!(v.history(&b).unwrap().len(), 2);
    assert!(!v.root().join(".history/a.md").exists());
}

#[test]
fn folders_create_rename_delete() {
    let (_dir, v) = vault();
    assert!(v.create_folder(&fp("Projects/2024")).unwrap());
    assert!(!v.create_folder(&fp("Projects/2024")).unwrap());
    v.create(&np("Projects/2024/Q1"), "q1").unwrap();
    v.update(&np("Projects/2024/Q1"), "q1 v2", None).unwrap();
    v.create(&np("Projects/Top"), "top").unwrap();

    assert!(matches!(
        v.rename_folder(&fp("Projects"), &fp("Projects/Inner")),
        Err(VaultError::IntoItself)
    ));
    assert!(matches!(
        v.rename_folder(&fp("Projects"), &fp("Projects")),
        Err(VaultError::IntoItself)
    ));
    assert!(matches!(
        v.rename_folder(&fp("Nope"), &fp("Other")),
        Err(VaultError::NotFound("folder"))
    ));
    v.create_folder(&fp("Busy")).unwrap();
    assert!(matches!(
        v.rename_folder(&fp("Projects"), &fp("Busy")),
        Err(VaultError::AlreadyExists)
    ));

    let mut moved = v.rename_folder(&fp("Projects"), &fp("Work/Projects")).unwrap();
    moved.sort();
    assert_eq!(
        moved,
        vec![
            (np("Projects/2024/Q1"), np("Work/Projects/2024/Q1")),
            (np("Projects/Top"), np("Work/Projects/Top")),
        ]
    );
    assert_eq!(v.read(&np("Work/Projects/2024/Q1")).unwrap().content, "q1 v2");
    assert_eq!(v.history(&np("Work/Projects/2024/Q1")).unwrap().len(), 1);
    assert!(!v.root().join(".history/Projects").exists());

    let (entry, mut notes) = v.delete_folder(&fp("Work")).unwrap();
    notes.sort();
    assert_eq!(entry.kind, EntryKind::Folder);
    assert_eq!(entry.original_path, "Work");
    assert_eq!(notes, vec![np("Work/Projects/2024/Q1"), np("Work/Projects/Top")]);
    assert!(!v.root().join("Work").exists());
    assert!(v.root().join(".trash/Work/Projects/Top.md").is_file());
    assert!(matches!(
        v.delete_folder(&fp("Work")),
        Err(VaultError::NotFound("folder"))
    ));
    assert!(matches!(v.create_folder(&fp("Busy")), Ok(false)));
    v.create(&np("file"), "x").unwrap();
    assert!(matches!(
        v.create_folder(&fp("file.md")),
        Err(VaultError::AlreadyExists)
    ));
}

#[test]
fn tree_orders_folders_first_and_hides_internal_entries() {
    let (_dir, v) = vault();
    v.create(&np("b note"), "").unwrap();
    v.create(&np("A note"), "").unwrap();
    v.create(&np("zeta/inner"), "").unwrap();
    v.create_folder(&fp("Alpha")).unwrap();
    v.update(&np("b note"), "changed", None).unwrap(); // creates .history
    v.delete(&np("A note")).unwrap(); // creates .trash
    v.create(&np("A note"), "again").unwrap();
    fs::write(v.root().join("image.png"), "png").unwrap();
    fs::write(v.root().join(".hidden.md"), "h").unwrap();
    fs::create_dir_all(v.root().join(".obsidian")).unwrap();
    fs::create_dir_all(v.root().join("CON")).unwrap(); // not addressable: left out
    #[cfg(unix)]
    std::os::unix::fs::symlink("/etc", v.root().join("etc")).unwrap();

    let tree = v.tree().unwrap();
    let top: Vec<(&str, EntryKind)> = tree.iter().map(|n| (n.name.as_str(), n.kind)).collect();
    assert_eq!(
        top,
        [
            ("Alpha", EntryKind::Folder),
            ("zeta", EntryKind::Folder),
            ("A note.md", EntryKind::File),
            ("b note.md", EntryKind::File),
        ]
    );
    let zeta = &tree[1];
    assert_eq!(zeta.path, "zeta");
    let children = zeta.children.as_ref().unwrap();
    assert_eq!(children[0].path, "zeta/inner.md");
    assert!(children[0].children.is_none());
    assert_eq!(tree[0].children.as_deref(), Some(&[][..]));

    let json = serde_json::to_value(&tree[2]).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"name": "A note.md", "path": "A note.md", "type": "file"})
    );

    let listed: Vec<String> = v
        .list_notes()
        .unwrap()
        .into_iter()
        .map(|n| n.path.to_string())
        .collect();
    assert_eq!(listed, ["A note.md", "b note.md", "zeta/inner.md"]);
}

#[test]
fn tree_of_a_missing_vault_is_empty() {
    let (_dir, v) = vault();
    assert!(v.tree().unwrap().is_empty());
    assert!(v.list_notes().unwrap().is_empty());
    assert!(v.trash().unwrap().is_empty());
}

#[test]
fn delete_moves_to_trash_with_suffix_when_taken() {
    let (_dir, v) = vault();
    let p = np("dir/Plan");
    v.create(&p, "one").unwrap();
    let first = v.delete(&p).unwrap();
    assert_eq!(first.trash_path, "dir/Plan.md");
    assert_eq!(first.original_path, "dir/Plan.md");
    v.create(&p, "two").unwrap();
    let second = v.delete(&p).unwrap();
    assert_eq!(second.trash_path, "dir/Plan (2).md");
    v.create(&p, "three").unwrap();
    assert_eq!(v.delete(&p).unwrap().trash_path, "dir/Plan (3).md");
    assert!(matches!(v.delete(&p), Err(VaultError::NotFound("note"))));

    let trash = v.trash().unwrap();
    assert_eq!(trash.len(), 3);
    assert!(trash.iter().all(|e| e.original_path == "dir/Plan.md"));
    assert!(trash.windows(2).all(|w| w[0].deleted_at >= w[1].deleted_at));
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(v.root().join(".trash/.index.json")).unwrap()).unwrap();
    assert_eq!(index["version"], 1);
    assert_eq!(index["entries"]["dir/Plan (2).md"]["originalPath"], "dir/Plan.md");
    assert_eq!(index["entries"]["dir/Plan (2).md"]["kind"], "file");
}

#[test]
fn trashed_items_never_nest() {
    let (_dir, v) = vault();
    v.create(&np("a/b"), "inside").unwrap();
    v.delete_folder(&fp("a")).unwrap(); // .trash/a (folder item)
    v.create(&np("a/b"), "again").unwrap();
    let entry = v.delete(&np("a/b")).unwrap();
    // `.trash/a/b.md` would land inside the trashed folder `a`.
    assert_eq!(entry.trash_path, "a (2)/b.md");
    assert_eq!(entry.original_path, "a/b.md");
    v.create(&np("a/c"), "c").unwrap();
    v.delete_folder(&fp("a")).unwrap();
    let mut trash: Vec<String> = v.trash().unwrap().into_iter().map(|e| e.trash_path).collect();
    trash.sort();
    assert_eq!(trash, ["a", "a (2)/b.md", "a (3)"]);
    let restored = v.restore_from_trash("a (2)/b.md").unwrap();
    assert_eq!(restored.path, "a/b.md");
}

#[test]
fn restore_to_original_or_free_name() {
    let (_dir, v) = vault();
    let p = np("Note");
    v.create(&p, "old").unwrap();
    let entry = v.delete(&p).unwrap();
    v.create(&p, "new").unwrap();
    let restored = v.restore_from_trash(&entry.trash_path).unwrap();
    assert_eq!(restored.path, "Note (restored 1).md");
    assert_eq!(restored.notes, vec![np("Note (restored 1)")]);
    assert_eq!(v.read(&np("Note (restored 1)")).unwrap().content, "old");
    assert_eq!(v.read(&p).unwrap().content, "new");
    assert!(v.trash().unwrap().is_empty());

    // Restore by id without `.md`, to the original path.
    let entry = v.delete(&p).unwrap();
    assert_eq!(entry.trash_path, "Note.md");
    let restored = v.restore_from_trash("Note").unwrap();
    assert_eq!(restored.path, "Note.md");
    assert!(matches!(
        v.restore_from_trash("Note"),
        Err(VaultError::NotFound("trash entry"))
    ));
}

#[test]
fn restore_folder_brings_its_notes_back() {
    let (_dir, v) = vault();
    v.create(&np("F/x"), "x").unwrap();
    v.create(&np("F/sub/y"), "y").unwrap();
    v.delete_folder(&fp("F")).unwrap();
    v.create_folder(&fp("F")).unwrap();
    let restored = v.restore_from_trash("F/").unwrap();
    assert_eq!(restored.path, "F (restored 1)");
    assert_eq!(restored.kind, EntryKind::Folder);
    assert_eq!(restored.notes, vec![np("F (restored 1)/sub/y"), np("F (restored 1)/x")]);
    // Empty trash directories are cleaned up.
    assert!(v.trash().unwrap().is_empty());
}

#[test]
fn restored_note_gets_its_history_back() {
    let (_dir, v) = vault();
    let p = np("kept");
    v.create(&p, "1").unwrap();
    v.update(&p, "2", None).unwrap();
    let e = v.delete(&p).unwrap();
    v.restore_from_trash(&e.trash_path).unwrap();
    assert_eq!(v.history(&p).unwrap().len(), 1);
}

#[test]
fn delete_forever_empty_and_purge() {
    let (_dir, v) = vault();
    for name in ["a", "b", "c"] {
        v.create(&np(name), name).unwrap();
        v.delete(&np(name)).unwrap();
    }
    let gone = v.delete_forever("a.md").unwrap();
    assert_eq!(gone.original_path, "a.md");
    assert!(!v.root().join(".trash/a.md").exists());
    // A retry (the answer was lost) gets the finished result from the journal, not a 404.
    assert_eq!(v.delete_forever("a.md").unwrap().original_path, "a.md");
    assert!(matches!(
        v.delete_forever("never-there.md"),
        Err(VaultError::NotFound("trash entry"))
    ));
    assert_eq!(v.trash().unwrap().len(), 2);

    // Nothing is older than a day yet.
    let now = SystemTime::now();
    assert!(v.purge_trash(Duration::from_secs(86_400), now).unwrap().is_empty());
    // Thirty-one days later both go.
    let later = now + Duration::from_secs(31 * 86_400);
    let purged = v.purge_trash(Duration::from_secs(30 * 86_400), later).unwrap();
    assert_eq!(purged.len(), 2);
    assert!(v.trash().unwrap().is_empty());

    v.create(&np("d"), "d").unwrap();
    v.delete(&np("d")).unwrap();
    v.create_folder(&fp("F")).unwrap();
    v.delete_folder(&fp("F")).unwrap();
    assert_eq!(v.empty_trash().unwrap(), 2);
    assert!(v.trash().unwrap().is_empty());
    assert!(!v.root().join(".trash").exists());
}

#[test]
fn purge_keeps_recent_items() {
    let (_dir, v) = vault();
    v.create(&np("old"), "o").unwrap();
    let old = v.delete(&np("old")).unwrap();
    // Backdate the record as if it had been deleted 40 days ago.
    let mut index = v.load_trash_index().unwrap();
    if let Some(r) = index.entries.get_mut(&old.trash_path) {
        r.deleted_at -= 40 * 86_400_000;
    }
    v.save_trash_index(index).unwrap();
    v.create(&np("new"), "n").unwrap();
    v.delete(&np("new")).unwrap();
    let purged = v
        .purge_trash(Duration::from_secs(30 * 86_400), SystemTime::now())
        .unwrap();
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0].original_path, "old.md");
    let left: Vec<_> = v.trash().unwrap().into_iter().map(|e| e.trash_path).collect();
    assert_eq!(left, ["new.md"]);
}

#[test]
fn unrecorded_trash_files_are_listed_and_restorable() {
    let (_dir, v) = vault();
    fs::create_dir_all(v.root().join(".trash/old")).unwrap();
    fs::write(v.root().join(".trash/old/Legacy.md"), "from a tarball").unwrap();
    fs::write(v.root().join(".trash/notes.txt"), "ignored").unwrap();
    let trash = v.trash().unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!(trash[0].trash_path, "old/Legacy.md");
    assert_eq!(trash[0].original_path, "old/Legacy.md");
    assert!(trash[0].deleted_at > 0);
    let restored = v.restore_from_trash("old/Legacy").unwrap();
    assert_eq!(restored.path, "old/Legacy.md");
    assert_eq!(v.read(&np("old/Legacy")).unwrap().content, "from a tarball");
}

#[test]
fn damaged_trash_index_degrades_to_orphans() {
    let (_dir, v) = vault();
    v.create(&np("x"), "x").unwrap();
    v.delete(&np("x")).unwrap();
    fs::write(v.root().join(".trash/.index.json"), "{not json").unwrap();
    let trash = v.trash().unwrap();
    assert_eq!(trash.len(), 1);
    assert_eq!(trash[0].original_path, "x.md");
}

#[cfg(unix)]
#[test]
fn symlinks_are_never_followed() {
    let (_dir, v) = vault();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret.md"), "secret").unwrap();
    fs::create_dir_all(v.root()).unwrap();
    std::os::unix::fs::symlink(outside.path(), v.root().join("out")).unwrap();
    let before = snapshot(outside.path());
    assert!(matches!(
        v.read(&np("out/secret")),
        Err(VaultError::Path(PathError::Symlink))
    ));
    assert!(matches!(
        v.create(&np("out/new"), "x"),
        Err(VaultError::Path(PathError::Symlink))
    ));
    assert!(matches!(
        v.delete_folder(&fp("out")),
        Err(VaultError::Path(PathError::Symlink))
    ));
    assert!(matches!(
        v.rename(&np("out/secret"), &np("mine")),
        Err(VaultError::Path(PathError::Symlink))
    ));
    // A symlinked history directory is refused too.
    v.create(&np("n"), "1").unwrap();
    std::os::unix::fs::symlink(outside.path(), v.root().join(".history")).unwrap();
    assert!(matches!(
        v.update(&np("n"), "2", None),
        Err(VaultError::Path(PathError::Symlink))
    ));
    assert_eq!(v.read(&np("n")).unwrap().content, "1");
    assert_eq!(snapshot(outside.path()), before);
}

#[test]
fn daily_notes_are_idempotent_and_use_templates() {
    let (_dir, v) = vault();
    let date = time::macros::date!(2024 - 03 - 07);
    assert_eq!(daily_note_path(date).unwrap().as_str(), "Daily/2024-03-07.md");
    let (note, created) = v.daily(date, None).unwrap();
    assert!(created);
    assert_eq!(note.content, "# 2024-03-07\n\n");
    v.update(&note.path, "edited", None).unwrap();
    let (again, created) = v.daily(date, None).unwrap();
    assert!(!created);
    assert_eq!(again.content, "edited");

    v.create(&np("Templates/Daily"), "# {{date}}\n## Log\n").unwrap();
    v.create(&np("Templates/Meeting"), "# {{title}} meeting\n").unwrap();
    let (note, _) = v.daily(time::macros::date!(2024 - 03 - 08), None).unwrap();
    assert_eq!(note.content, "# 2024-03-08\n## Log\n");
    let (note, _) = v.daily(time::macros::date!(2024 - 03 - 09), Some("Meeting")).unwrap();
    assert_eq!(note.content, "# 2024-03-09 meeting\n");
    assert!(matches!(
        v.daily(time::macros::date!(2024 - 03 - 10), Some("Nope")),
        Err(VaultError::NotFound("template"))
    ));
}

#[test]
fn templates_list_and_read() {
    let (_dir, v) = vault();
    assert!(v.templates().unwrap().is_empty());
    v.create(&np("Templates/b"), "B").unwrap();
    v.create(&np("Templates/A"), "A").unwrap();
    v.create(&np("Templates/sub/nested"), "N").unwrap();
    assert_eq!(v.templates().unwrap(), ["A", "b"]);
    assert_eq!(v.template("A").unwrap(), "A");
    assert_eq!(v.template("b.md").unwrap(), "B");
    assert!(matches!(v.template("sub/nested"), Err(VaultError::NotFound(_))));
    assert!(matches!(v.template("missing"), Err(VaultError::NotFound("template"))));
    assert!(matches!(v.template(".."), Err(VaultError::Path(_))));
}

#[test]
fn init_writes_the_sample_vault_once() {
    let (_dir, v) = vault();
    let today = time::macros::date!(2026 - 12 - 03);
    let written: Vec<String> = v
        .init(today, true)
        .unwrap()
        .iter()
        .map(|p| p.as_str().to_owned())
        .collect();
    assert_eq!(written.len(), 6, "{written:?}");
    assert!(v.read(&np("Welcome")).unwrap().content.contains("[[First project]]"));
    assert!(
        v.read(&np("Daily/2026-12-03"))
            .unwrap()
            .content
            .starts_with("# 2026-12-03")
    );
    assert_eq!(v.templates().unwrap(), ["Daily", "Meeting"]);
    assert!(v.init(today, true).unwrap().is_empty(), "written once");
    for path in written {
        v.delete(&np(&path)).unwrap();
    }
    v.create(&np("mine"), "x").unwrap();
    assert!(
        v.init(today, true).unwrap().is_empty(),
        "a vault with notes gets no samples"
    );
}

#[test]
fn files_are_stored_under_free_names_listed_and_trashed() {
    let (_dir, v) = vault();
    let folder = FolderPath::parse("attachments").unwrap();
    let store = |bytes: &[u8]| {
        let (temp, _lock) = v.upload_temp(&folder).unwrap();
        std::fs::write(&temp, bytes).unwrap();
        v.store_file(&folder, "photo.png", &temp).unwrap()
    };
    assert_eq!(store(b"one").as_str(), "attachments/photo.png");
    assert_eq!(store(b"two").as_str(), "attachments/photo-2.png");
    assert_eq!(v.tree().unwrap().len(), 1, "only the folder shows in the note tree");
    let files: Vec<String> = v.list_files().unwrap().iter().map(|p| p.as_str().to_owned()).collect();
    assert_eq!(files, ["attachments/photo-2.png", "attachments/photo.png"]);
    let first = crate::vault::FilePath::parse("attachments/photo.png").unwrap();
    let entry = v.delete_file(&first).unwrap();
    assert!(matches!(v.file(&first), Err(VaultError::NotFound("file"))));
    assert_eq!(v.trash().unwrap()[0].original_path, "attachments/photo.png");
    let restored = v.restore_from_trash(&entry.trash_path).unwrap();
    assert_eq!(restored.path, "attachments/photo.png");
    assert!(restored.notes.is_empty());
    assert_eq!(std::fs::read(v.file(&first).unwrap()).unwrap(), b"one");
    // Restoring onto a taken name keeps the extension.
    let entry = v.delete_file(&first).unwrap();
    let (temp, _lock) = v.upload_temp(&folder).unwrap();
    std::fs::write(&temp, b"three").unwrap();
    v.store_file(&folder, "photo.png", &temp).unwrap();
    assert_eq!(
        v.restore_from_trash(&entry.trash_path).unwrap().path,
        "attachments/photo (restored 1).png"
    );
}

#[test]
fn lock_file_is_created_and_hidden() {
    let (_dir, v) = vault();
    v.create(&np("x"), "x").unwrap();
    assert!(v.root().join(LOCK_FILE).is_file());
    assert_eq!(v.tree().unwrap().len(), 1);
}
