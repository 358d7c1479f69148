//! MCP at /api/mcp, driven by the OFFICIAL client SDKs, unmodified: the Python `mcp` package and
//! the TypeScript `@modelcontextprotocol/sdk` (installed by scripts/mcp-clients-install.sh, which
//! scripts/test.sh runs first). The real `kryton` binary serves on both backends; each client runs
//! as a process with a plan of steps (tests/mcp-py/driver.py, tests/mcp-ts/driver.mjs) and its
//! JSON report is asserted here. Missing clients FAIL these tests; nothing is skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use common::{As, Backend, KRYTON, Server, TestEnv};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

const READ_TOOLS: [&str; 18] = [
    "list_notes",
    "list_folders",
    "read_note",
    "search",
    "list_tags",
    "get_backlinks",
    "get_graph",
    "get_daily_note",
    "list_templates",
    "get_note_links",
    "notes_by_tag",
    "recent_notes",
    "get_history",
    "get_settings",
    "list_canvases",
    "read_canvas",
    "list_files",
    "read_file",
];
const WRITE_TOOLS: [&str; 14] = [
    "create_note",
    "update_note",
    "delete_note",
    "create_folder",
    "create_note_from_template",
    "edit_note",
    "append_to_note",
    "rename_note",
    "restore_version",
    "set_setting",
    "write_canvas",
    "delete_canvas",
    "upload_file",
    "delete_file",
];

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// The project's venv Python with the `mcp` SDK; missing is a failure with the fix in the message.
fn python() -> PathBuf {
    let python = repo_root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/mcp-clients-install.sh (scripts/test.sh does)",
        python.display()
    );
    python
}

fn ts_driver() -> PathBuf {
    let dir = repo_root().join("tests/mcp-ts");
    assert!(
        dir.join("node_modules/@modelcontextprotocol/sdk/package.json").exists(),
        "the TypeScript MCP SDK is missing in {}: run scripts/mcp-clients-install.sh (scripts/test.sh does)",
        dir.display()
    );
    dir.join("driver.mjs")
}

/// Runs a client driver with `plan` on stdin and returns its JSON report.
async fn drive(program: &Path, args: &[String], plan: &Value) -> Value {
    let mut child = tokio::process::Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(plan.to_string().as_bytes()).await.unwrap();
    drop(stdin);
    let output = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
        .await
        .expect("the MCP client did not finish in 120s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        output.status
    );
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("bad report ({e}): {stdout}\nstderr: {stderr}"))
}

async fn python_http(s: &Server, key: &str, mode: &str, plan: &Value) -> Value {
    let script = repo_root().join("tests/mcp-py/driver.py");
    let args = [
        script.display().to_string(),
        "http".into(),
        s.env.url("/api/mcp"),
        key.into(),
        mode.into(),
    ];
    drive(&python(), &args, plan).await
}

async fn python_stdio(s: &Server, key: &str, plan: &Value) -> Value {
    let script = repo_root().join("tests/mcp-py/driver.py");
    let args = [
        script.display().to_string(),
        "stdio".into(),
        KRYTON.into(),
        s.env.url(""),
        key.into(),
        "legacy".into(),
    ];
    drive(&python(), &args, plan).await
}

async fn typescript(s: &Server, key: &str, plan: &Value) -> Value {
    let args = [ts_driver().display().to_string(), s.env.url("/api/mcp"), key.into()];
    drive(Path::new("node"), &args, plan).await
}

fn steps(report: &Value) -> &Vec<Value> {
    assert!(report.get("connectError").is_none(), "could not connect: {report}");
    report["steps"].as_array().unwrap()
}

/// A successful tool call's structured content.
fn ok(step: &Value) -> &Value {
    assert_eq!(step["isError"], false, "expected success: {step}");
    assert!(step["structured"].is_object(), "no structured content: {step}");
    &step["structured"]
}

/// A failed tool call's message (a tool error, not a protocol error).
fn tool_error(step: &Value) -> String {
    assert_eq!(step["isError"], true, "expected a tool error: {step}");
    step["text"].as_str().unwrap().to_owned()
}

fn call(tool: &str, args: Value) -> Value {
    json!({"op": "call", "tool": tool, "args": args})
}

/// A server with Ann (admin, by session) and her read-write and read-only keys, and three notes.
struct World {
    s: Server,
    ann_id: String,
    ann: As,
    rw_key: String,
    ro_key: String,
}

async fn key(s: &Server, who: &As, scope: &str) -> String {
    let (status, created) = s
        .request(
            "POST",
            "/api/api-keys",
            who,
            Some(json!({"name": scope, "scope": scope})),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    created["key"].as_str().unwrap().to_owned()
}

async fn world(backend: Backend) -> World {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    // A bare vault (one welcome note), so the counts below are the test's own notes.
    env.set_env("SAMPLE_VAULT", "off");
    let s = Server::start(env).await;
    let (ann_id, token) = s.sign_up("ann@example.org", "ann password", None).await;
    let ann = As::Bearer(token);
    for (path, content) in [
        (
            "Projects/Plan.md",
            "# Plan\n\nSee [[Idea]] and [[Missing]].\n\n#project\n",
        ),
        ("Idea.md", "# Idea\n\nA bright idea about rockets. #project/alpha\n"),
        ("Templates/Meeting.md", "# {{title}}\n\nDate: {{date}}\n"),
    ] {
        let (status, body) = s
            .request(
                "POST",
                "/api/notes",
                &ann,
                Some(json!({"path": path, "content": content})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }
    let rw_key = key(&s, &ann, "read-write").await;
    let ro_key = key(&s, &ann, "read-only").await;
    World {
        s,
        ann_id,
        ann,
        rw_key,
        ro_key,
    }
}

fn vault(w: &World) -> PathBuf {
    w.s.env.data_dir().join("notes").join(&w.ann_id)
}

/// Every tool once (and a few twice), plus the resources; indexes matter: `$ref:N` points back.
fn full_plan() -> Value {
    json!([
        {"op": "list_tools"},                                                        // 0
        {"op": "list_resources"},                                                    // 1
        {"op": "list_resource_templates"},                                           // 2
        {"op": "read_resource", "uri": "kryton://notes"},                            // 3
        {"op": "read_resource", "uri": "kryton://note/Projects/Plan.md"},            // 4
        call("list_notes", json!({})),                                               // 5
        call("list_notes", json!({"limit": 1})),                                     // 6
        call("list_folders", json!({})),                                             // 7
        call("read_note", json!({"path": "Projects/Plan.md"})),                      // 8
        call("read_note", json!({"path": "Idea.md", "offset": 2, "maxChars": 4})),   // 9
        call("search", json!({"query": "rockets"})),                                 // 10
        call("list_tags", json!({})),                                                // 11
        call("get_backlinks", json!({"path": "Idea.md"})),                           // 12
        call("get_graph", json!({})),                                                // 13
        call("get_note_links", json!({"path": "Idea.md", "depth": 1})),              // 14
        call("notes_by_tag", json!({"tag": "#project"})),                            // 15
        call("recent_notes", json!({"limit": 2})),                                   // 16
        call("list_templates", json!({})),                                           // 17
        call("get_daily_note", json!({"date": "2026-01-02"})),                       // 18
        call("create_note", json!({"path": "Inbox/New.md", "content": "# New\n\nfirst line\n"})), // 19
        call("create_note", json!({"path": "Inbox/New.md", "content": "again"})),    // 20
        call("edit_note", json!({"path": "Inbox/New.md", "oldText": "first line", "newText": "edited line",
                                 "etag": "$ref:19/structured/etag"})),               // 21
        call("append_to_note", json!({"path": "Inbox/New.md", "text": "- appended"})), // 22
        call("update_note", json!({"path": "Inbox/New.md", "content": "# New\n\nreplaced\n",
                                   "etag": "$ref:22/structured/etag"})),             // 23
        call("get_history", json!({"path": "Inbox/New.md"})),                        // 24
        call("restore_version", json!({"path": "Inbox/New.md",
                                       "timestamp": "$ref:24/structured/versions/0/timestamp"})), // 25
        call("read_note", json!({"path": "Inbox/New.md"})),                          // 26
        call("create_folder", json!({"path": "Archive/2026"})),                      // 27
        call("create_note_from_template", json!({"templateName": "Meeting", "notePath": "Meetings/Standup.md"})), // 28
        call("rename_note", json!({"path": "Idea.md", "newPath": "Ideas/Rocket.md"})), // 29
        call("read_note", json!({"path": "Projects/Plan.md"})),                      // 30
        call("delete_note", json!({"path": "Meetings/Standup.md"})),                 // 31
        call("read_note", json!({"path": "Meetings/Standup.md"})),                   // 32
        call("read_note", json!({"path": "../../etc/passwd"})),                      // 33
        call("get_history", json!({"path": "Inbox/New.md",
                                   "timestamp": "$ref:24/structured/versions/0/timestamp"})), // 34
        call("edit_note", json!({"path": "Inbox/New.md", "oldText": "replaced", "newText": "x",
                                 "etag": "$ref:19/structured/etag"})),               // 35
        call("edit_note", json!({"path": "Inbox/New.md", "oldText": "not in the note", "newText": "x",
                                 "etag": "$ref:25/structured/etag"})),               // 36
        // Settings, canvases and files.
        call("get_settings", json!({})),                                             // 37
        call("set_setting", json!({"key": "theme", "value": "dark"})),               // 38
        call("set_setting", json!({"key": "bad key!", "value": "x"})),               // 39
        call("get_settings", json!({})),                                             // 40
        call("write_canvas", json!({"name": "Roadmap", "content": roadmap(), "createOnly": true})), // 41
        call("write_canvas", json!({"name": "Roadmap", "content": roadmap(), "createOnly": true})), // 42
        call("write_canvas", json!({"name": "Broken", "content": {"nodes": [], "edges": [
            {"id": "e", "fromNode": "a", "toNode": "b"}]}})),                        // 43
        call("list_canvases", json!({})),                                            // 44
        call("read_canvas", json!({"name": "Roadmap"})),                             // 45
        call("write_canvas", json!({"name": "Roadmap.canvas",
                                    "content": {"nodes": [], "edges": []}})),        // 46
        call("read_canvas", json!({"name": "../Secret"})),                           // 47
        call("upload_file", json!({"name": "hello.txt", "contentBase64": BASE64.encode(HELLO)})), // 48
        call("upload_file", json!({"name": "hello.txt", "contentBase64": BASE64.encode(HELLO)})), // 49
        call("upload_file", json!({"name": "pixel.png", "contentBase64": BASE64.encode(PIXEL)})), // 50
        call("upload_file", json!({"name": "../escape.txt", "contentBase64": "aGk="})), // 51
        call("upload_file", json!({"name": "x.bin", "contentBase64": "@@@@"})),      // 52
        call("list_files", json!({})),                                               // 53
        call("list_files", json!({"folder": "attachments", "limit": 2})),            // 54
        call("read_file", json!({"path": "hello.txt"})),                             // 55
        call("read_file", json!({"path": "attachments/pixel.png", "maxBytes": 4})),  // 56
        call("read_file", json!({"path": "attachments/pixel.png",
                                 "offset": "$ref:56/structured/nextOffset"})),       // 57
        call("read_file", json!({"path": "attachments/nope.png"})),                  // 58
        call("read_file", json!({"path": "Idea.md"})),                               // 59
        call("delete_file", json!({"path": "attachments/hello-2.txt"})),             // 60
        call("delete_canvas", json!({"name": "Roadmap"})),                           // 61
        call("read_canvas", json!({"name": "Roadmap"})),                             // 62
        call("read_file", json!({"path": "attachments/pixel.png", "maxBytes": 2_000_000})), // 63
        call("read_file", json!({"path": "attachments/pixel.png", "maxBytes": 0})),  // 64
    ])
}

const HELLO: &[u8] = b"hello, world\n";
/// Not text: the PNG signature and a few bytes, a NUL among them.
const PIXEL: &[u8] = &[
    0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0x0d, b'I', b'H', b'D', b'R',
];

/// A small JSON Canvas document: a text card linked to a note card.
fn roadmap() -> Value {
    json!({
        "nodes": [
            {"id": "a", "type": "text", "text": "Start here", "x": 0, "y": 0, "width": 200, "height": 80},
            {"id": "b", "type": "file", "file": "Idea.md", "x": 300, "y": 0, "width": 200, "height": 80}
        ],
        "edges": [{"id": "e", "fromNode": "a", "toNode": "b", "toEnd": "arrow"}]
    })
}

/// What every client must see for [`full_plan`], and what must be on disk afterwards.
fn check_full(w: &World, report: &Value) {
    let steps = steps(report);
    assert_eq!(steps.len(), 65, "{report}");
    for (i, step) in steps.iter().enumerate() {
        assert!(
            step.get("protocolError").is_none(),
            "step {i} was a protocol error: {step}"
        );
    }
    let server_name = report["serverInfo"]["name"].as_str().unwrap_or_default();
    assert_eq!(server_name, "kryton", "{report}");

    // Tools: every one, each with schemas, annotations and a description.
    let tools = steps[0]["tools"].as_array().unwrap();
    let names: BTreeSet<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let expected: BTreeSet<&str> = READ_TOOLS.iter().chain(WRITE_TOOLS.iter()).copied().collect();
    assert_eq!(names, expected);
    for tool in tools {
        let name = tool["name"].as_str().unwrap();
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{name} has an output schema");
        assert!(
            tool["description"].as_str().unwrap().len() > 30,
            "{name} says what it does"
        );
        let read_only = READ_TOOLS.contains(&name);
        assert_eq!(tool["annotations"]["readOnlyHint"], read_only, "{name}");
        if !read_only {
            assert!(tool["annotations"]["destructiveHint"].is_boolean(), "{name}");
            assert!(tool["annotations"]["idempotentHint"].is_boolean(), "{name}");
        }
    }
    // The original's argument names.
    let schema = |name: &str| tools.iter().find(|t| t["name"] == name).unwrap()["inputSchema"].clone();
    assert!(schema("create_note_from_template")["properties"]["templateName"].is_object());
    assert!(schema("create_note_from_template")["properties"]["notePath"].is_object());
    assert!(schema("search")["properties"]["query"].is_object());
    assert_eq!(schema("read_note")["required"], json!(["path"]));

    // Resources.
    let resources = steps[1]["resources"].as_array().unwrap();
    let uris: Vec<&str> = resources.iter().map(|r| r["uri"].as_str().unwrap()).collect();
    assert!(
        uris.contains(&"kryton://notes") && uris.contains(&"kryton://note/Projects/Plan.md"),
        "{uris:?}"
    );
    assert_eq!(steps[2]["resourceTemplates"][0]["uriTemplate"], "kryton://note/{path}");
    let tree = steps[3]["contents"][0]["text"].as_str().unwrap();
    assert!(tree.contains("Projects") && tree.contains("Idea.md"), "{tree}");
    assert!(steps[4]["contents"][0]["text"].as_str().unwrap().starts_with("# Plan"));

    // Reads.
    let list = ok(&steps[5]);
    assert_eq!(list["total"], 4, "three notes and the Welcome note");
    assert_eq!(list["notes"][0], json!({"path": "Idea.md", "title": "Idea"}));
    assert!(list.get("nextOffset").is_none_or(Value::is_null));
    let page = ok(&steps[6]);
    assert_eq!(
        (page["notes"].as_array().unwrap().len(), &page["nextOffset"]),
        (1, &json!(1))
    );
    let folders = ok(&steps[7]).to_string();
    assert!(
        folders.contains("Projects") && !folders.contains("Plan.md"),
        "{folders}"
    );
    let plan = ok(&steps[8]);
    assert_eq!(plan["title"], "Plan");
    assert_eq!(plan["tags"], json!(["project"]));
    assert_eq!(plan["truncated"], false);
    assert_eq!(plan["etag"].as_str().unwrap().len(), 64);
    let part = ok(&steps[9]);
    assert_eq!(
        (part["content"].as_str().unwrap(), part["truncated"].as_bool().unwrap()),
        ("Idea", true)
    );
    assert_eq!(part["nextOffset"], 6);
    assert_eq!(ok(&steps[10])["results"][0]["path"], "Idea.md");
    let tags = ok(&steps[11]).to_string();
    assert!(tags.contains("\"project\"") && tags.contains("project/alpha"), "{tags}");
    assert_eq!(ok(&steps[12])["backlinks"][0]["path"], "Projects/Plan.md");
    let graph = ok(&steps[13]);
    assert_eq!(graph["totalNodes"], 4);
    let edge = json!({"source": "Projects/Plan.md", "target": "Idea.md", "embed": false});
    assert!(graph["edges"].as_array().unwrap().contains(&edge), "{graph}");
    assert_eq!(graph["broken"][0]["target"], "Missing");
    let around = ok(&steps[14]);
    let near: Vec<&str> = around["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(near, ["Idea.md", "Projects/Plan.md"]);
    let tagged: Vec<&str> = ok(&steps[15])["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        tagged,
        ["Idea.md", "Projects/Plan.md"],
        "nested tags count for their parent"
    );
    assert_eq!(ok(&steps[16])["notes"].as_array().unwrap().len(), 2);
    assert_eq!(ok(&steps[17])["templates"], json!(["Meeting"]));
    assert_eq!(ok(&steps[18])["exists"], false);
    assert_eq!(
        ok(&steps[18])["path"],
        "Daily/2026-01-02.md",
        "the daily folder is 'Daily', as the web app writes it"
    );

    // Writes.
    assert_eq!(ok(&steps[19])["path"], "Inbox/New.md");
    assert!(tool_error(&steps[20]).contains("exists"), "{}", steps[20]);
    assert_eq!(ok(&steps[21])["replacements"], 1);
    ok(&steps[22]);
    ok(&steps[23]);
    let versions = ok(&steps[24])["versions"].as_array().unwrap().clone();
    assert!(versions.len() >= 3, "{versions:?}");
    ok(&steps[25]);
    let restored = ok(&steps[26])["content"].as_str().unwrap().to_owned();
    assert_eq!(
        restored, "# New\n\nedited line\n- appended",
        "the version before the update is back"
    );
    assert_eq!(ok(&steps[27])["created"], true);
    assert_eq!(ok(&steps[28])["path"], "Meetings/Standup.md");
    let renamed = ok(&steps[29]);
    assert_eq!(renamed["rewritten"][0]["path"], "Projects/Plan.md");
    assert!(
        ok(&steps[30])["content"].as_str().unwrap().contains("[[Rocket]]"),
        "{}",
        steps[30]
    );
    assert!(ok(&steps[31])["trashPath"].is_string());
    assert!(tool_error(&steps[32]).contains("not found"));
    assert!(!tool_error(&steps[33]).is_empty());
    assert_eq!(
        ok(&steps[34])["content"],
        "# New\n\nedited line\n- appended",
        "the newest kept version"
    );
    let stale = tool_error(&steps[35]);
    assert!(
        stale.contains("changed since you read it") && stale.contains("current etag"),
        "{stale}"
    );
    assert!(tool_error(&steps[36]).contains("not found in the note"));

    // Settings.
    assert!(ok(&steps[37])["settings"].is_object());
    assert_eq!(ok(&steps[38])["value"], "dark");
    assert!(tool_error(&steps[39]).contains("setting key"), "{}", steps[39]);
    assert_eq!(ok(&steps[40])["settings"]["theme"], "dark");

    // Canvases.
    assert_eq!(ok(&steps[41])["path"], "Canvas/Roadmap.canvas");
    assert!(tool_error(&steps[42]).contains("already exists"), "{}", steps[42]);
    assert!(tool_error(&steps[43]).contains("missing node"), "{}", steps[43]);
    assert_eq!(ok(&steps[44])["canvases"], json!(["Roadmap"]));
    let read = ok(&steps[45]);
    assert_eq!(read["content"], roadmap(), "the document comes back as written");
    assert_eq!(read["name"], "Roadmap");
    assert_eq!(ok(&steps[46])["name"], "Roadmap", "'.canvas' may be given");
    assert!(tool_error(&steps[47]).contains("'/'"), "{}", steps[47]);

    // Files.
    assert_eq!(
        ok(&steps[48]),
        &json!({"success": true, "path": "attachments/hello.txt",
                "url": "/api/files/attachments/hello.txt", "size": HELLO.len()})
    );
    assert_eq!(ok(&steps[49])["path"], "attachments/hello-2.txt", "never overwrites");
    assert_eq!(ok(&steps[50])["size"], PIXEL.len());
    assert!(!tool_error(&steps[51]).is_empty());
    assert!(tool_error(&steps[52]).contains("not valid base64"), "{}", steps[52]);
    let files = ok(&steps[53]);
    let paths: Vec<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["path"].as_str().unwrap())
        .collect();
    assert_eq!(
        paths,
        [
            "Canvas/Roadmap.canvas",
            "attachments/hello-2.txt",
            "attachments/hello.txt",
            "attachments/pixel.png"
        ],
        "every file that is not a note"
    );
    let png = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "pixel.png")
        .unwrap();
    assert_eq!(
        (png["size"].as_u64(), png["mediaType"].as_str()),
        (Some(PIXEL.len() as u64), Some("image/png"))
    );
    let page = ok(&steps[54]);
    assert_eq!(
        (
            page["files"].as_array().unwrap().len(),
            &page["total"],
            &page["nextOffset"]
        ),
        (2, &json!(3), &json!(2))
    );
    let hello = ok(&steps[55]);
    assert_eq!(
        hello["path"], "attachments/hello.txt",
        "a bare name is found in attachments/"
    );
    assert_eq!(
        (
            &hello["encoding"],
            hello["content"].as_str().unwrap().as_bytes(),
            &hello["truncated"]
        ),
        (&json!("utf-8"), HELLO, &json!(false))
    );
    assert_eq!(hello["mediaType"], "text/plain");
    let head = ok(&steps[56]);
    assert_eq!(
        (
            &head["encoding"],
            &head["length"],
            &head["truncated"],
            &head["nextOffset"]
        ),
        (&json!("base64"), &json!(4), &json!(true), &json!(4))
    );
    let tail = ok(&steps[57]);
    assert_eq!(tail["truncated"], false);
    let mut bytes = BASE64.decode(head["content"].as_str().unwrap()).unwrap();
    bytes.extend(BASE64.decode(tail["content"].as_str().unwrap()).unwrap());
    assert_eq!(bytes, PIXEL, "the two parts make the file");
    assert!(tool_error(&steps[58]).contains("not found"), "{}", steps[58]);
    assert!(tool_error(&steps[59]).contains(".md"), "{}", steps[59]);
    assert!(ok(&steps[60])["trashPath"].is_string());
    ok(&steps[61]);
    assert!(tool_error(&steps[62]).contains("not found"), "{}", steps[62]);
    assert!(tool_error(&steps[63]).contains("maxBytes"), "{}", steps[63]);
    let meta = ok(&steps[64]);
    assert_eq!(
        (&meta["size"], &meta["content"], &meta["truncated"]),
        (&json!(PIXEL.len()), &json!(""), &json!(true))
    );

    // On disk.
    let dir = vault(w);
    assert_eq!(
        std::fs::read_to_string(dir.join("Inbox/New.md")).unwrap(),
        "# New\n\nedited line\n- appended"
    );
    assert!(dir.join("Ideas/Rocket.md").is_file() && !dir.join("Idea.md").exists());
    assert!(dir.join("Archive/2026").is_dir());
    assert!(!dir.join("Meetings/Standup.md").exists());
    assert_eq!(std::fs::read(dir.join("attachments/hello.txt")).unwrap(), HELLO);
    assert_eq!(std::fs::read(dir.join("attachments/pixel.png")).unwrap(), PIXEL);
    assert!(!dir.join("attachments/hello-2.txt").exists() && !dir.join("Canvas/Roadmap.canvas").exists());
    assert!(!dir.join("escape.txt").exists() && !dir.join("attachments/x.bin").exists());
}

/// What the agent stored is what the REST API and the web app see.
async fn check_full_through_rest(w: &World) {
    let (status, settings) = w.s.request("GET", "/api/settings", &w.ann, None).await;
    assert_eq!((status, &settings["theme"]), (200, &json!("dark")), "{settings}");
    let response =
        w.s.client
            .get(w.s.env.url("/api/files/attachments/pixel.png"))
            .bearer_auth(&w.rw_key)
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), PIXEL);
}

/// The Python SDK over Streamable HTTP with the initialize handshake: every tool and resource.
async fn python_client_uses_every_tool(backend: Backend) {
    let mut w = world(backend).await;
    let report = python_http(&w.s, &w.rw_key, "legacy", &full_plan()).await;
    check_full(&w, &report);
    check_full_through_rest(&w).await;
    assert!(
        report["protocolVersion"].as_str().unwrap().starts_with("20"),
        "{report}"
    );
    w.s.stop().await;
}
both_backends!(python_client_uses_every_tool);

/// The Python SDK's default mode (server/discover, the 2026 protocol) works too.
async fn python_client_modern_protocol(backend: Backend) {
    let mut w = world(backend).await;
    let plan = json!([{"op": "list_tools"}, call("read_note", json!({"path": "Idea.md"}))]);
    let report = python_http(&w.s, &w.rw_key, "auto", &plan).await;
    let steps = steps(&report);
    assert_eq!(
        steps[0]["tools"].as_array().unwrap().len(),
        READ_TOOLS.len() + WRITE_TOOLS.len(),
        "{report}"
    );
    assert_eq!(ok(&steps[1])["title"], "Idea");
    w.s.stop().await;
}
both_backends!(python_client_modern_protocol);

/// The TypeScript SDK: the same plan, the same answers.
async fn typescript_client_uses_every_tool(backend: Backend) {
    let mut w = world(backend).await;
    let report = typescript(&w.s, &w.rw_key, &full_plan()).await;
    check_full(&w, &report);
    check_full_through_rest(&w).await;
    w.s.stop().await;
}
both_backends!(typescript_client_uses_every_tool);

/// A read-only key lists only read tools; write tools called anyway are tool errors, nothing written.
async fn read_only_key_reads_and_is_refused_writes(backend: Backend) {
    let mut w = world(backend).await;
    seed_workspace(&w.s, &w.ann, "light", "Board", "a.txt").await;
    let before = common::snapshot(&vault(&w));
    let mut plan = vec![
        json!({"op": "list_tools"}),
        call("read_note", json!({"path": "Idea.md"})),
        call("get_settings", json!({})),
        call("list_canvases", json!({})),
        call("read_canvas", json!({"name": "Board"})),
        call("list_files", json!({})),
        call("read_file", json!({"path": "a.txt"})),
    ];
    let reads = plan.len();
    let attempts = [
        call("create_note", json!({"path": "Nope.md", "content": "x"})),
        call("update_note", json!({"path": "Idea.md", "content": "overwritten"})),
        call("delete_note", json!({"path": "Idea.md"})),
        call(
            "edit_note",
            json!({"path": "Idea.md", "oldText": "Idea", "newText": "x", "etag": "$ref:1/structured/etag"}),
        ),
        call("append_to_note", json!({"path": "Idea.md", "text": "x"})),
        call("rename_note", json!({"path": "Idea.md", "newPath": "Other.md"})),
        call("create_folder", json!({"path": "Nope"})),
        call(
            "create_note_from_template",
            json!({"templateName": "Meeting", "notePath": "Nope.md"}),
        ),
        call("restore_version", json!({"path": "Idea.md", "timestamp": 1})),
        call("set_setting", json!({"key": "theme", "value": "dark"})),
        call("write_canvas", json!({"name": "Board", "content": {"nodes": []}})),
        call("delete_canvas", json!({"name": "Board"})),
        call("upload_file", json!({"name": "b.txt", "contentBase64": "aGk="})),
        call("delete_file", json!({"path": "attachments/a.txt"})),
    ];
    assert_eq!(attempts.len(), WRITE_TOOLS.len(), "every write tool is tried");
    plan.extend(attempts.iter().cloned());
    for client in ["python", "typescript"] {
        let report = match client {
            "python" => python_http(&w.s, &w.ro_key, "legacy", &json!(plan)).await,
            _ => typescript(&w.s, &w.ro_key, &json!(plan)).await,
        };
        let steps = steps(&report);
        let names: BTreeSet<&str> = steps[0]["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, READ_TOOLS.iter().copied().collect(), "{client}");
        assert_eq!(ok(&steps[1])["title"], "Idea");
        assert_eq!(ok(&steps[2])["settings"]["theme"], "light", "{client}");
        assert_eq!(ok(&steps[3])["canvases"], json!(["Board"]), "{client}");
        assert_eq!(ok(&steps[4])["content"]["nodes"][0]["text"], "seeded", "{client}");
        assert_eq!(ok(&steps[5])["total"], 2, "{client}: the canvas and the upload");
        assert_eq!(ok(&steps[6])["content"], "seeded file", "{client}");
        for (i, step) in steps[reads..].iter().enumerate() {
            assert!(
                step.get("protocolError").is_none(),
                "{client} {}: {step}",
                WRITE_TOOLS[i]
            );
            assert!(tool_error(step).contains("read-only"), "{client}: {step}");
        }
    }
    assert_eq!(common::snapshot(&vault(&w)), before, "nothing was written");
    let (_, settings) = w.s.request("GET", "/api/settings", &w.ann, None).await;
    assert_eq!(settings["theme"], "light", "no setting was changed");
    w.s.stop().await;
}

/// Through REST, as `who`: a setting `theme`, a canvas with one text card, an uploaded text file.
async fn seed_workspace(s: &Server, who: &As, theme: &str, canvas: &str, file: &str) {
    let (status, body) = s
        .request("PUT", "/api/settings/theme", who, Some(json!({"value": theme})))
        .await;
    assert_eq!(status, 200, "{body}");
    let card =
        json!({"nodes": [{"id": "n", "type": "text", "text": "seeded", "x": 0, "y": 0, "width": 10, "height": 10}]});
    let (status, body) = s
        .request(
            "POST",
            "/api/canvas",
            who,
            Some(json!({"name": canvas, "content": card})),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let As::Bearer(token) = who else { unreachable!() };
    let part = reqwest::multipart::Part::bytes(b"seeded file".to_vec()).file_name(file.to_owned());
    let response = s
        .client
        .post(s.env.url("/api/files"))
        .bearer_auth(token)
        .multipart(reqwest::multipart::Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
both_backends!(read_only_key_reads_and_is_refused_writes);

/// Another user's notes are out of reach by every route an agent has.
async fn another_users_notes_are_unreachable(backend: Backend) {
    let mut w = world(backend).await;
    let (bob_id, bob_token) = w.s.sign_up("bob@example.org", "bob password", None).await;
    let bob = As::Bearer(bob_token);
    let (status, _) =
        w.s.request(
            "POST",
            "/api/notes",
            &bob,
            Some(json!({"path": "Secret.md", "content": "# Secret\n\nzanzibar treasure\n"})),
        )
        .await;
    assert_eq!(status, 201);
    let bob_before = common::snapshot(&w.s.env.data_dir().join("notes").join(&bob_id));
    let plan = json!([
        call("read_note", json!({"path": "Secret.md"})),
        call("search", json!({"query": "zanzibar"})),
        call("list_notes", json!({})),
        call("read_note", json!({"path": format!("../{bob_id}/Secret.md")})),
        call("get_backlinks", json!({"path": "Secret.md"})),
        {"op": "read_resource", "uri": "kryton://note/Secret.md"},
        {"op": "read_resource", "uri": format!("kryton://note/..%2F{bob_id}%2FSecret.md")},
        call("delete_note", json!({"path": "Secret.md"})),
        call("update_note", json!({"path": format!("../{bob_id}/Secret.md"), "content": "pwned"})),
        call("rename_note", json!({"path": "Secret.md", "newPath": "Mine.md"})),
    ]);
    let report = python_http(&w.s, &w.rw_key, "legacy", &plan).await;
    let steps = steps(&report);
    assert!(tool_error(&steps[0]).contains("not found"));
    assert_eq!(ok(&steps[1])["results"], json!([]));
    assert!(!ok(&steps[2]).to_string().contains("Secret"));
    assert!(!tool_error(&steps[3]).contains("zanzibar"));
    assert_eq!(ok(&steps[4])["backlinks"], json!([]));
    assert!(
        steps[5]["protocolError"].as_str().unwrap().contains("not found"),
        "{}",
        steps[5]
    );
    assert!(steps[6].get("protocolError").is_some(), "{}", steps[6]);
    for step in &steps[7..] {
        assert!(!tool_error(step).is_empty());
    }
    assert_eq!(
        common::snapshot(&w.s.env.data_dir().join("notes").join(&bob_id)),
        bob_before
    );
    assert!(!report.to_string().contains("treasure"), "nothing of Bob's note leaks");
    w.s.stop().await;
}
both_backends!(another_users_notes_are_unreachable);

/// Another user's settings, canvases and files are out of reach too, with either client.
async fn another_users_settings_canvases_and_files_are_unreachable(backend: Backend) {
    let mut w = world(backend).await;
    let (bob_id, bob_token) = w.s.sign_up("bob@example.org", "bob password", None).await;
    let bob = As::Bearer(bob_token);
    seed_workspace(&w.s, &bob, "zanzibar-theme", "Secret", "secret.txt").await;
    let bob_dir = w.s.env.data_dir().join("notes").join(&bob_id);
    let bob_before = common::snapshot(&bob_dir);
    let escape = format!("../{bob_id}/attachments/secret.txt");
    let plan = json!([
        call("get_settings", json!({})),
        call("list_canvases", json!({})),
        call("read_canvas", json!({"name": "Secret"})),
        call("read_canvas", json!({"name": format!("../../{bob_id}/Canvas/Secret")})),
        call("list_files", json!({})),
        call("read_file", json!({"path": "secret.txt"})),
        call("read_file", json!({"path": "attachments/secret.txt"})),
        call("read_file", json!({"path": escape})),
        call(
            "write_canvas",
            json!({"name": format!("../{bob_id}/Canvas/Secret"), "content": {}})
        ),
        call("delete_canvas", json!({"name": "Secret"})),
        call("delete_file", json!({"path": "attachments/secret.txt"})),
        call("delete_file", json!({"path": escape})),
        call("upload_file", json!({"name": escape, "contentBase64": "aGk="})),
        call("set_setting", json!({"key": "theme", "value": "ann's own"})),
    ]);
    for client in ["python", "typescript"] {
        let report = match client {
            "python" => python_http(&w.s, &w.rw_key, "legacy", &plan).await,
            _ => typescript(&w.s, &w.rw_key, &plan).await,
        };
        let steps = steps(&report);
        assert!(
            ok(&steps[0])["settings"].get("theme").is_none_or(|t| t == "ann's own"),
            "{client}"
        );
        assert_eq!(ok(&steps[1])["canvases"], json!([]), "{client}");
        assert!(tool_error(&steps[2]).contains("not found"), "{client}");
        assert_eq!(ok(&steps[4])["total"], 0, "{client}");
        for i in [5, 6] {
            assert!(tool_error(&steps[i]).contains("not found"), "{client}: {}", steps[i]);
        }
        for (i, step) in steps.iter().enumerate().take(13).skip(7).chain([(3, &steps[3])]) {
            assert!(!tool_error(step).is_empty(), "{client} step {i}");
        }
        assert_eq!(ok(&steps[13])["value"], "ann's own");
        let text = report.to_string();
        assert!(
            !text.contains("zanzibar") && !text.contains("seeded"),
            "{client}: nothing of Bob's leaks: {text}"
        );
    }
    assert_eq!(common::snapshot(&bob_dir), bob_before, "Bob's vault is untouched");
    let (_, settings) = w.s.request("GET", "/api/settings", &bob, None).await;
    assert_eq!(settings["theme"], "zanzibar-theme", "Bob's setting is his");
    w.s.stop().await;
}
both_backends!(another_users_settings_canvases_and_files_are_unreachable);

/// upload_file takes files up to 4 MiB (or MAX_UPLOAD_BYTES when smaller); bigger ones are tool
/// errors naming the streamed REST upload, and nothing (not even a temporary file) is left.
async fn uploads_over_mcp_are_bounded(backend: Backend) {
    let mut env = TestEnv::new(backend).await;
    env.set_env("REGISTRATION_MODE", "open");
    env.set_env("SAMPLE_VAULT", "off");
    env.set_env("MAX_UPLOAD_BYTES", "1000");
    let mut s = Server::start(env).await;
    let (ann_id, token) = s.sign_up("ann@example.org", "ann password", None).await;
    let rw_key = key(&s, &As::Bearer(token), "read-write").await;
    let plan = json!([
        call(
            "upload_file",
            json!({"name": "small.bin", "contentBase64": BASE64.encode([7u8; 1000])})
        ),
        call(
            "upload_file",
            json!({"name": "big.bin", "contentBase64": BASE64.encode([7u8; 1001])})
        ),
        call("upload_file", json!({"name": "empty.txt", "contentBase64": ""})),
    ]);
    for client in ["python", "typescript"] {
        let report = match client {
            "python" => python_http(&s, &rw_key, "legacy", &plan).await,
            _ => typescript(&s, &rw_key, &plan).await,
        };
        let steps = steps(&report);
        assert_eq!(
            ok(&steps[0])["size"],
            1000,
            "{client}: MAX_UPLOAD_BYTES itself is allowed"
        );
        let refused = tool_error(&steps[1]);
        assert!(
            refused.contains("1000 bytes") && refused.contains("POST /api/files"),
            "{client}: {refused}"
        );
        assert_eq!(ok(&steps[2])["size"], 0, "{client}: an empty file is a file");
    }
    let mut names: Vec<String> = std::fs::read_dir(s.env.data_dir().join("notes").join(&ann_id).join("attachments"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["empty-2.txt", "empty.txt", "small-2.bin", "small.bin"],
        "no big.bin, no temporary file"
    );
    s.stop().await;

    // With the default MAX_UPLOAD_BYTES (25 MB), MCP's own cap of 4 MiB applies...
    let mut w = world(backend).await;
    let over = BASE64.encode(vec![7u8; 4 * 1024 * 1024 + 1]);
    let plan = json!([call("upload_file", json!({"name": "over.bin", "contentBase64": over}))]);
    let report = python_http(&w.s, &w.rw_key, "legacy", &plan).await;
    let refused = tool_error(&steps(&report)[0]);
    assert!(refused.contains("4194304 bytes"), "{refused}");
    // ...and a request body beyond 6 MiB is refused by the SDK while it is read.
    let huge = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "upload_file",
        "arguments": {"name": "huge.bin", "contentBase64": BASE64.encode(vec![7u8; 5 * 1024 * 1024])}}});
    let response =
        w.s.client
            .post(w.s.env.url("/api/mcp"))
            .bearer_auth(&w.rw_key)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-06-18")
            .json(&huge)
            .send()
            .await
            .unwrap();
    assert_eq!(response.status(), 413);
    assert!(!vault(&w).join("attachments").exists(), "nothing was stored");
    w.s.stop().await;
}
both_backends!(uploads_over_mcp_are_bounded);

/// edit_note never overwrites a concurrent human edit: a stale etag is a tool error naming the
/// current one, and the human's text stays.
async fn edit_note_refuses_a_stale_etag(backend: Backend) {
    let mut w = world(backend).await;
    let plan = json!([call("read_note", json!({"path": "Idea.md"}))]);
    let report = typescript(&w.s, &w.rw_key, &plan).await;
    let etag = ok(&steps(&report)[0])["etag"].as_str().unwrap().to_owned();
    // A human edits the note in the web app meanwhile.
    let (status, body) =
        w.s.request(
            "PUT",
            "/api/notes/Idea.md",
            &w.ann,
            Some(json!({"content": "# Idea\n\nA human rewrote this about rockets.\n"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let human_etag = body["etag"].as_str().unwrap().to_owned();
    let plan = json!([
        call(
            "edit_note",
            json!({"path": "Idea.md", "oldText": "rockets", "newText": "boats", "etag": etag})
        ),
        call(
            "edit_note",
            json!({"path": "Idea.md", "oldText": "rockets", "newText": "boats", "etag": human_etag})
        ),
    ]);
    let python = python_http(&w.s, &w.rw_key, "legacy", &plan).await;
    assert_eq!(
        ok(&steps(&python)[1])["replacements"],
        1,
        "with the current etag the edit goes through"
    );
    let stale = tool_error(&steps(&python)[0]);
    assert!(stale.contains(&human_etag), "the current etag is named: {stale}");
    for report in [python, typescript(&w.s, &w.rw_key, &json!([plan[0].clone()])).await] {
        let message = tool_error(&steps(&report)[0]);
        assert!(message.contains("changed since you read it"), "{message}");
        assert!(message.contains("current etag: "), "{message}");
    }
    let content = std::fs::read_to_string(vault(&w).join("Idea.md")).unwrap();
    assert_eq!(
        content,
        "# Idea\n\nA human rewrote this about rockets.\n".replace("rockets", "boats")
    );
    w.s.stop().await;
}
both_backends!(edit_note_refuses_a_stale_etag);

async fn post_mcp(s: &Server, auth: Option<&str>, origin: Option<&str>) -> (u16, String) {
    let mut request = s
        .client
        .post(s.env.url("/api/mcp"))
        .header("accept", "application/json, text/event-stream")
        .json(&json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}));
    if let Some(auth) = auth {
        request = request.header("authorization", auth);
    }
    if let Some(origin) = origin {
        request = request.header("origin", origin);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Missing, malformed, unknown and session credentials are 401 with a clear message; a disabled
/// user's key is 403; a foreign browser Origin is 403. The clients report the same.
async fn keys_are_required_and_checked(backend: Backend) {
    let mut w = world(backend).await;
    let session = match &w.ann {
        As::Bearer(token) => token.clone(),
        _ => unreachable!(),
    };
    let (status, body) = post_mcp(&w.s, None, None).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("API key required"), "{body}");
    for auth in [
        format!("Bearer {session}"),
        "Basic abc".to_owned(),
        format!("Bearer kryton_{}", "0".repeat(64)),
    ] {
        let (status, body) = post_mcp(&w.s, Some(&auth), None).await;
        assert_eq!(status, 401, "{auth}: {body}");
    }
    let good = format!("Bearer {}", w.rw_key);
    assert_eq!(post_mcp(&w.s, Some(&good), None).await.0, 200);
    assert_eq!(post_mcp(&w.s, Some(&good), Some("http://localhost:5173")).await.0, 200);
    let (status, body) = post_mcp(&w.s, Some(&good), Some("https://evil.example")).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("Origin"), "{body}");

    // The clients show the server's reason (a JSON-RPC error in the 401 body).
    let bad = python_http(&w.s, &format!("kryton_{}", "0".repeat(64)), "legacy", &json!([])).await;
    assert!(
        bad["connectError"].as_str().unwrap().contains("invalid or expired"),
        "{bad}"
    );
    let bad = typescript(&w.s, "nope", &json!([])).await;
    let message = bad["connectError"].as_str().unwrap();
    assert!(message.contains("401") && message.contains("API key required"), "{bad}");

    // Bob's key stops working when an admin disables him.
    let (bob_id, bob_token) = w.s.sign_up("bob@example.org", "bob password", None).await;
    let bob_key = key(&w.s, &As::Bearer(bob_token), "read-write").await;
    assert_eq!(post_mcp(&w.s, Some(&format!("Bearer {bob_key}")), None).await.0, 200);
    let (status, _) =
        w.s.request(
            "PUT",
            &format!("/api/admin/users/{bob_id}"),
            &w.ann,
            Some(json!({"disabled": true})),
        )
        .await;
    assert_eq!(status, 200);
    // Disabling an account revokes its API keys: the key is no credential any more.
    let (status, body) = post_mcp(&w.s, Some(&format!("Bearer {bob_key}")), None).await;
    assert_eq!(status, 401, "{body}");
    let report = python_http(&w.s, &bob_key, "legacy", &json!([])).await;
    assert!(report["connectError"].as_str().unwrap().contains("401"), "{report}");
    w.s.stop().await;
}
both_backends!(keys_are_required_and_checked);

/// `kryton mcp --url` bridges stdio to /api/mcp: the Python SDK launches it as a stdio server.
async fn stdio_bridge_serves_the_python_client(backend: Backend) {
    let mut w = world(backend).await;
    let plan = json!([
        {"op": "list_tools"},
        call("search", json!({"query": "rockets"})),
        call("append_to_note", json!({"path": "Log.md", "text": "- via stdio"})),
        call("read_note", json!({"path": "Nope.md"})),
    ]);
    let report = python_stdio(&w.s, &w.rw_key, &plan).await;
    let steps = steps(&report);
    assert_eq!(report["serverInfo"]["name"], "kryton", "{report}");
    assert_eq!(
        steps[0]["tools"].as_array().unwrap().len(),
        READ_TOOLS.len() + WRITE_TOOLS.len()
    );
    assert_eq!(ok(&steps[1])["results"][0]["path"], "Idea.md");
    ok(&steps[2]);
    assert!(tool_error(&steps[3]).contains("not found"));
    assert_eq!(
        std::fs::read_to_string(vault(&w).join("Log.md")).unwrap(),
        "- via stdio"
    );

    // A read-only key through the bridge: read tools only.
    let report = python_stdio(&w.s, &w.ro_key, &json!([{"op": "list_tools"}])).await;
    assert_eq!(report["steps"][0]["tools"].as_array().unwrap().len(), READ_TOOLS.len());
    // A bad key: the host sees the server's refusal.
    let report = python_stdio(&w.s, "kryton_bad", &json!([])).await;
    assert!(
        report["connectError"].as_str().unwrap().contains("invalid or expired"),
        "{report}"
    );
    w.s.stop().await;
}
both_backends!(stdio_bridge_serves_the_python_client);
