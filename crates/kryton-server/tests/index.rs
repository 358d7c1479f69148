//! The notes index answers from indexes, with the answers a whole-vault scan gives: backlinks on
//! a generated vault compared with a resolver over every note (before and after creates, deletes
//! and renames), and the PostgreSQL search plan using the GIN index on a realistic vault.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::{As, Backend, Db, Server, TestEnv};
use kryton::markdown::{self, LinkResolver};
use serde_json::{Value, json};

async fn with_user(backend: Backend) -> (Server, String, As) {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    env.set_env("SAMPLE_VAULT", "off");
    let s = Server::start(env).await;
    let (id, token) = s.sign_up("ann@example.org", "ann password", None).await;
    (s, id, As::Bearer(token))
}

fn vault_dir(s: &Server, user: &str) -> PathBuf {
    s.env.data_dir().join("notes").join(user)
}

/// Every note on disk (path relative to the vault, content), hidden entries skipped.
fn notes_on_disk(root: &Path) -> BTreeMap<String, String> {
    let mut notes = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".md") {
                let relative = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                notes.insert(relative, std::fs::read_to_string(&path).unwrap());
            }
        }
    }
    notes
}

/// A small deterministic generator (no seed file to keep): the same vault every run.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) % below as u64) as usize
    }
}

const FOLDERS: &[&str] = &["", "a/", "b/", "a/b/", "A/", "deep/a/b/"];
const NAMES: &[&str] = &[
    "Alpha", "alpha", "Beta", "Gamma", "Idea", "idea", "My Note", "Plan", "Zeta",
];

/// A link written the ways people write them: bare name, partial or full path, with `.md`, a
/// leading slash, other case, heading, alias, embed; sometimes to nothing.
fn random_link(rng: &mut Lcg, paths: &[String]) -> String {
    let base = if rng.next(8) == 0 {
        "Missing".to_owned()
    } else {
        let path = &paths[rng.next(paths.len())];
        let full = path.strip_suffix(".md").unwrap();
        let name = full.rsplit('/').next().unwrap();
        match rng.next(6) {
            0 => full.to_owned(),
            1 => format!("/{full}"),
            2 => format!("{name}.md"),
            3 => name.to_uppercase(),
            4 => full
                .rsplitn(3, '/')
                .take(2)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect::<Vec<_>>()
                .join("/"),
            _ => name.to_owned(),
        }
    };
    let heading = if rng.next(4) == 0 { "#Part" } else { "" };
    let alias = if rng.next(4) == 0 { "|shown" } else { "" };
    let embed = if rng.next(6) == 0 { "!" } else { "" };
    format!("{embed}[[{base}{heading}{alias}]]")
}

/// What `/api/backlinks` must answer for `target`: for each note (by path), its first link that a
/// resolver over every note of the vault resolves to `target`.
fn expected_backlinks(vault: &BTreeMap<String, String>, target: &str) -> Vec<Value> {
    let paths: Vec<&String> = vault.keys().collect();
    let resolver = LinkResolver::new(&paths);
    let mut out = Vec::new();
    for (path, content) in vault {
        let stem = path.rsplit('/').next().unwrap().trim_end_matches(".md");
        let parsed = markdown::parse(content, stem);
        if let Some(link) = parsed
            .links
            .iter()
            .find(|l| resolver.resolve(&l.target).is_some_and(|p| p.as_str() == target))
        {
            out.push(json!({
                "path": path, "title": parsed.title, "alias": link.alias,
                "heading": link.heading, "embed": link.embed,
            }));
        }
    }
    out
}

/// Compares every note's backlinks with the whole-vault answer, and with the graph's edges.
async fn compare_all(s: &Server, me: &As, root: &Path) -> usize {
    let vault = notes_on_disk(root);
    let (status, graph) = s.request("GET", "/api/graph", me, None).await;
    assert_eq!(status, 200, "{graph}");
    let mut compared = 0;
    for target in vault.keys() {
        let (status, got) = s.request("GET", &format!("/api/backlinks/{target}"), me, None).await;
        assert_eq!(status, 200, "backlinks of {target}: {got}");
        // Rows come in the database's collation order; compare in one order.
        let by_path = |v: &Value| v["path"].as_str().unwrap().to_owned();
        let mut got = got.as_array().unwrap().clone();
        got.sort_by_key(by_path);
        let expected = expected_backlinks(&vault, target);
        assert_eq!(got, expected, "backlinks of {target}");
        let mut from_graph: Vec<&str> = graph["edges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["toPath"] == target.as_str())
            .map(|e| e["fromPath"].as_str().unwrap())
            .collect();
        from_graph.sort_unstable();
        from_graph.dedup();
        let sources: Vec<&str> = expected.iter().map(|b| b["path"].as_str().unwrap()).collect();
        assert_eq!(from_graph, sources, "graph edges into {target}");
        compared += expected.len();
    }
    compared
}

/// A generated vault with namesakes in several folders, case variants and every way of writing a
/// link; backlinks must equal a whole-vault resolver's answer for every note, also after a create
/// that makes a unique name ambiguous, a delete that makes it unique again, and a rename.
async fn backlinks_match_a_whole_vault_resolver(backend: Backend) {
    let (s, user, me) = with_user(backend).await;
    let root = vault_dir(&s, &user);
    let mut rng = Lcg(13);
    let mut paths: Vec<String> = Vec::new();
    for folder in FOLDERS {
        for name in NAMES {
            if rng.next(3) > 0 {
                paths.push(format!("{folder}{name}.md"));
            }
        }
    }
    for path in &paths {
        let links: Vec<String> = (0..rng.next(6)).map(|_| random_link(&mut rng, &paths)).collect();
        let file = root.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, format!("# {path}\n\nSee {}.\n", links.join(" and "))).unwrap();
    }
    s.env.run(&["reindex"]).await.assert_code(0);
    let links = compare_all(&s, &me, &root).await;
    assert!(
        links > 40,
        "the generated vault should have many resolved links, got {links}"
    );

    // `Zeta` in a new folder: every bare [[Zeta]] becomes ambiguous (resolves to nothing).
    let zeta_before = expected_backlinks(&notes_on_disk(&root), "Zeta.md");
    let (status, body) = s
        .request(
            "POST",
            "/api/notes",
            &me,
            Some(json!({"path": "c/Zeta", "content": "[[Alpha]]"})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    compare_all(&s, &me, &root).await;
    let (status, _) = s.request("DELETE", "/api/notes/c/Zeta.md", &me, None).await;
    assert!((200..300).contains(&status), "delete answered {status}");
    compare_all(&s, &me, &root).await;
    assert_eq!(expected_backlinks(&notes_on_disk(&root), "Zeta.md"), zeta_before);

    // A rename rewrites the links to the note; what links where afterwards still matches.
    let moved = paths.iter().find(|p| !p.contains('/')).unwrap();
    let (status, body) = s
        .request(
            "POST",
            &format!("/api/notes-rename/{moved}"),
            &me,
            Some(json!({"newPath": "b/Renamed note.md"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    compare_all(&s, &me, &root).await;
}
both_backends!(backlinks_match_a_whole_vault_resolver);

/// On a realistic vault (several users, thousands of notes, analysed), `EXPLAIN` of the exact
/// search statement the server runs shows the GIN index on `search`, for a word that matches a
/// few notes and one that matches none; the server's answers over HTTP agree with the data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_search_uses_the_gin_index() {
    let (s, user, me) = with_user(Backend::Postgres).await;
    let (other, _) = s.sign_up("bob@example.org", "bob password", None).await;
    // 6,000 notes of plain vocabulary over two users; 3 notes of `user` mention a rare word.
    let fill = |owner: &str, from: i64, to: i64| {
        format!(
            "INSERT INTO notes (user_id, path, title, tags, body, content_hash, size, mtime_ms, indexed_at, name_key) \
             SELECT '{owner}', 'bulk/n' || g || '.md', 'Note ' || g, 'tag' || (g % 20), \
                    repeat('common words about gardens rivers and note ' || g || ' ', 20), 'h', 1, 1, 1, 'n' || g \
             FROM generate_series({from}, {to}) g"
        )
    };
    s.env.execute(fill(&user, 1, 4000)).await;
    s.env.execute(fill(&other, 1, 2000)).await;
    s.env
        .execute(format!(
            "UPDATE notes SET body = body || ' zanzibar' WHERE user_id = '{user}' AND path IN ('bulk/n7.md', 'bulk/n70.md', 'bulk/n700.md')"
        ))
        .await;
    s.env.execute("ANALYZE notes".to_owned()).await;

    let Db::Pg(pool) = s.env.db().await else {
        unreachable!("a PostgreSQL test")
    };
    for word in ["zanzibar", "nosuchwordanywhere"] {
        let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "EXPLAIN {}",
            kryton::store::notes::PG_SEARCH
        )))
        .bind(&user)
        .bind(word)
        .bind(1000_i64)
        .bind(0_i64)
        .fetch_all(&pool)
        .await
        .unwrap();
        let plan = plan.join("\n");
        assert!(
            plan.contains("notes_search"),
            "the search for {word} should use the GIN index notes_search:\n{plan}"
        );
        assert!(
            !plan.contains("Seq Scan on notes"),
            "the search for {word} should not scan the notes:\n{plan}"
        );
    }
    pool.close().await;

    let (status, hits) = s.request("GET", "/api/search?q=zanzibar", &me, None).await;
    assert_eq!(status, 200, "{hits}");
    let mut found: Vec<&str> = hits
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["path"].as_str().unwrap())
        .collect();
    found.sort_unstable();
    assert_eq!(found, vec!["bulk/n7.md", "bulk/n70.md", "bulk/n700.md"]);
    let (_, none) = s.request("GET", "/api/search?q=nosuchwordanywhere", &me, None).await;
    assert_eq!(none, json!([]));
    // Every match, a page at a time: pages are disjoint and cover all matches in rank order.
    let (_, all) = s.request("GET", "/api/search?q=gardens&limit=1000", &me, None).await;
    assert_eq!(all.as_array().unwrap().len(), 1000);
    let (_, first) = s.request("GET", "/api/search?q=gardens&limit=10", &me, None).await;
    let (_, second) = s
        .request("GET", "/api/search?q=gardens&limit=10&offset=10", &me, None)
        .await;
    let paths = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|h| h["path"].as_str().unwrap().to_owned())
            .collect()
    };
    let both: Vec<String> = paths(&first).into_iter().chain(paths(&second)).collect();
    assert_eq!(both, paths(&all)[..20].to_vec());
    let (status, bad) = s.request("GET", "/api/search?q=gardens&offset=-1", &me, None).await;
    assert_eq!(status, 400, "{bad}");
}
