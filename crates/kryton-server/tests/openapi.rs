//! The committed OpenAPI document (`openapi.json`) is what the web app and the MCP tools are
//! generated from: it must be current, and it must describe every route the router serves.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

const KRYTON: &str = env!("CARGO_BIN_EXE_kryton");
const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generated() -> String {
    let output = Command::new(KRYTON).arg("openapi").env_clear().output().unwrap();
    assert!(
        output.status.success(),
        "kryton openapi failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn committed() -> String {
    std::fs::read_to_string(crate_dir().join("openapi.json")).expect("crates/kryton-server/openapi.json is committed")
}

/// (method, path) of every operation in the document.
fn documented(doc: &Value) -> BTreeMap<String, BTreeSet<String>> {
    doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(path, item)| {
            let methods = item
                .as_object()
                .unwrap()
                .keys()
                .filter(|k| METHODS.contains(&k.as_str()))
                .cloned()
                .collect();
            (path.clone(), methods)
        })
        .collect()
}

/// The text from `open` (just after an opening parenthesis) to its matching `)`, skipping string
/// literals.
fn call_arguments(text: &str) -> &str {
    let (mut depth, mut in_string, mut escaped) = (1, false, false);
    for (i, c) in text.char_indices() {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => in_string = true,
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return &text[..i];
                }
            }
            _ => {}
        }
    }
    text
}

/// A route as registered in `src/http/*.rs`: its path template and the methods chained on it
/// (`None` for a service, which answers whatever it answers).
#[derive(Debug)]
struct Route {
    file: String,
    path: String,
    methods: Option<BTreeSet<String>>,
}

fn registered_routes() -> Vec<Route> {
    let mut routes = Vec::new();
    let dir = crate_dir().join("src/http");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    for file in files.into_iter().filter(|f| f.extension().is_some_and(|e| e == "rs")) {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (needle, is_service) in [(".route(", false), (".route_service(", true), (".nest_service(", true)] {
            for (at, _) in text.match_indices(needle) {
                let args = call_arguments(&text[at + needle.len()..]);
                let Some(path) = args.split('"').nth(1) else { continue };
                let methods = (!is_service).then(|| {
                    METHODS
                        .iter()
                        .filter(|m| {
                            args.match_indices(&format!("{m}("))
                                .any(|(i, _)| i == 0 || !args[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'))
                        })
                        .map(|m| (*m).to_owned())
                        .collect()
                });
                routes.push(Route {
                    file: name.clone(),
                    path: path.to_owned(),
                    methods,
                });
            }
        }
    }
    routes
}

/// `/api/notes/{*path}` is described as `/api/notes/{path}` (OpenAPI has no catch-all); a
/// catch-all covers any documented path under its prefix (`/api/tags/{tag}/notes`).
fn describes(doc_path: &str, route_path: &str) -> bool {
    match route_path.split_once("{*") {
        Some((prefix, _)) => doc_path.starts_with(prefix) && doc_path[prefix.len()..].starts_with('{'),
        None => doc_path == route_path,
    }
}

#[test]
fn the_committed_document_is_current() {
    let fresh = generated();
    let committed = committed();
    assert!(
        fresh == committed,
        "crates/kryton-server/openapi.json is stale: regenerate it with \
         `cargo run -p kryton-server -- openapi > crates/kryton-server/openapi.json`"
    );
    let doc: Value = serde_json::from_str(&fresh).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(doc["info"]["version"], env!("CARGO_PKG_VERSION"));
}

#[test]
fn every_route_is_described() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let documented = documented(&doc);
    let routes = registered_routes();
    assert!(routes.len() >= 40, "the route scan found the route table: {routes:?}");
    let mut missing = Vec::new();
    for route in &routes {
        let candidates: Vec<&BTreeSet<String>> = documented
            .iter()
            .filter(|(path, _)| describes(path, &route.path))
            .map(|(_, methods)| methods)
            .collect();
        match &route.methods {
            None if candidates.is_empty() => missing.push(format!("{} (service, in {})", route.path, route.file)),
            None => {}
            Some(methods) => {
                for method in methods {
                    if !candidates.iter().any(|m| m.contains(method)) {
                        missing.push(format!("{} {} (in {})", method.to_uppercase(), route.path, route.file));
                    }
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "routes without an OpenAPI description (add #[utoipa::path] and list the handler in the file's `Api`): {missing:#?}"
    );

    // And the document describes nothing that is not routed.
    let mut invented = Vec::new();
    for (path, methods) in &documented {
        for method in methods {
            let routed = routes
                .iter()
                .any(|r| describes(path, &r.path) && r.methods.as_ref().is_none_or(|m| m.contains(method)));
            if !routed {
                invented.push(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    assert!(invented.is_empty(), "documented but not routed: {invented:#?}");
}

#[test]
fn every_operation_answers_with_described_bodies() {
    let doc: Value = serde_json::from_str(&generated()).unwrap();
    let mut undescribed = Vec::new();
    let mut ids = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default().to_owned();
            if id.is_empty() || !ids.insert(id.clone()) {
                undescribed.push(format!("{method} {path}: operationId {id:?} is missing or not unique"));
            }
            let responses = op["responses"].as_object().unwrap();
            let success = responses.keys().any(|code| code.starts_with('2'));
            if !success {
                undescribed.push(format!("{method} {path}: no 2xx response"));
            }
            for (code, response) in responses {
                // Every error answers with the one envelope.
                if code.starts_with('4')
                    && response["content"]["application/json"]["schema"]["$ref"] != "#/components/schemas/ErrorBody"
                {
                    undescribed.push(format!("{method} {path} {code}: not ErrorBody"));
                }
            }
        }
    }
    assert!(undescribed.is_empty(), "{undescribed:#?}");
}
