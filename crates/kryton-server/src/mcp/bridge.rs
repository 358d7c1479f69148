//! `kryton mcp --url URL`: a stdio MCP server for desktop hosts that only speak stdio, forwarding
//! each JSON-RPC message to a Kryton server's `/api/mcp` with the API key from `KRYTON_TOKEN`.
//!
//! A transport shim only: messages pass through unchanged (the protocol is the server's, served
//! by rmcp). Requests run concurrently; answers are written to stdout one JSON message per line, as
//! the stdio transport requires. Diagnostics go to stderr, never to stdout.

use std::sync::Arc;

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Mutex, mpsc};

/// Why the bridge could not start.
#[derive(Debug, thiserror::Error)]
pub enum BridgeError {
    #[error("{0}")]
    Config(String),
    #[error("stdio failed: {0}")]
    Io(#[from] std::io::Error),
}

struct Upstream {
    client: reqwest::Client,
    endpoint: String,
    token: String,
    /// The version negotiated by `initialize`, sent on every later request.
    protocol_version: Mutex<Option<String>>,
}

/// The endpoint for a server URL: `https://notes.example.org` -> `.../api/mcp` (a URL already
/// ending in `/api/mcp` is kept).
pub fn endpoint(url: &str) -> Result<String, BridgeError> {
    let trimmed = url.trim().trim_end_matches('/');
    let parsed = url::Url::parse(trimmed).map_err(|e| BridgeError::Config(format!("--url {url:?}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(BridgeError::Config(format!("--url {url:?} must be an http(s) URL")));
    }
    Ok(if trimmed.ends_with("/api/mcp") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}/api/mcp")
    })
}

/// Runs until stdin closes.
pub async fn run(url: &str, token: Option<String>) -> Result<(), BridgeError> {
    let token = token
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| BridgeError::Config("set KRYTON_TOKEN to an API key (kryton_...)".to_owned()))?;
    let client = reqwest::Client::builder()
        .user_agent(concat!("kryton-mcp-bridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| BridgeError::Config(format!("cannot build the HTTP client: {e}")))?;
    let upstream = Arc::new(Upstream {
        client,
        endpoint: endpoint(url)?,
        token,
        protocol_version: Mutex::new(None),
    });
    let (out_tx, mut out_rx) = mpsc::channel::<String>(64);
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        while let Some(line) = out_rx.recv().await {
            if stdout.write_all(line.as_bytes()).await.is_err() || stdout.write_all(b"\n").await.is_err() {
                break;
            }
            let _ = stdout.flush().await;
        }
    });
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut tasks = tokio::task::JoinSet::new();
    while let Some(line) = lines.next_line().await? {
        if line.trim().is_empty() {
            continue;
        }
        let message: Value = match serde_json::from_str(&line) {
            Ok(message) => message,
            Err(e) => {
                let error = json!({"jsonrpc": "2.0", "id": null, "error": {"code": -32700, "message": format!("parse error: {e}")}});
                let _ = out_tx.send(error.to_string()).await;
                continue;
            }
        };
        let (upstream, out) = (upstream.clone(), out_tx.clone());
        // `initialize` must finish before anything else goes out, so the version header is known.
        let is_initialize = message.get("method").and_then(Value::as_str) == Some("initialize");
        let task = async move {
            for reply in forward(&upstream, &message).await {
                if out.send(reply.to_string()).await.is_err() {
                    break;
                }
            }
        };
        if is_initialize {
            task.await;
        } else {
            tasks.spawn(task);
        }
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    drop(out_tx);
    let _ = writer.await;
    Ok(())
}

/// Sends one message; returns what the host should see (answers, or an error for a request).
async fn forward(upstream: &Upstream, message: &Value) -> Vec<Value> {
    let id = message.get("id").cloned();
    let is_request = id.is_some() && message.get("method").is_some();
    let fail = |text: String| -> Vec<Value> {
        eprintln!("kryton mcp: {text}");
        match (&id, is_request) {
            (Some(id), true) => vec![json!({"jsonrpc": "2.0", "id": id, "error": {"code": -32603, "message": text}})],
            _ => Vec::new(),
        }
    };
    let mut request = upstream
        .client
        .post(&upstream.endpoint)
        .bearer_auth(&upstream.token)
        .header(reqwest::header::ACCEPT, "application/json, text/event-stream")
        .json(message);
    if let Some(version) = upstream.protocol_version.lock().await.as_deref() {
        request = request.header("mcp-protocol-version", version);
    }
    let response = match request.send().await {
        Ok(response) => response,
        Err(e) => return fail(format!("cannot reach {}: {e}", upstream.endpoint)),
    };
    let status = response.status();
    let is_sse = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/event-stream"));
    let body = match response.text().await {
        Ok(body) => body,
        Err(e) => return fail(format!("reading the answer failed: {e}")),
    };
    let mut replies: Vec<Value> = if is_sse {
        sse_messages(&body)
    } else {
        serde_json::from_str::<Value>(&body)
            .map(|v| vec![v])
            .unwrap_or_default()
    };
    // A JSON-RPC answer in an error status is still the answer; anything else becomes one.
    replies.retain(|v| v.get("jsonrpc").is_some());
    // A refusal before the server read the request carries `id: null`: it answers this request.
    for reply in &mut replies {
        if reply.get("id").is_some_and(Value::is_null)
            && let (Some(id), true) = (&id, is_request)
        {
            reply["id"] = id.clone();
        }
    }
    if !status.is_success() && replies.is_empty() {
        let detail = serde_json::from_str::<Value>(&body)
            .ok()
            .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_owned))
            .unwrap_or(body);
        return fail(format!("the server answered {status}: {}", detail.trim()));
    }
    for reply in &replies {
        if let Some(version) = reply.pointer("/result/protocolVersion").and_then(Value::as_str) {
            *upstream.protocol_version.lock().await = Some(version.to_owned());
        }
    }
    replies
}

/// The JSON messages in a Server-Sent Events body (`data:` lines; an event may span several).
fn sse_messages(body: &str) -> Vec<Value> {
    let mut messages = Vec::new();
    for event in body.replace("\r\n", "\n").split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(|d| d.strip_prefix(' ').unwrap_or(d))
            .collect();
        if data.is_empty() {
            continue;
        }
        if let Ok(value) = serde_json::from_str::<Value>(&data.join("\n")) {
            messages.push(value);
        }
    }
    messages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_end_in_api_mcp() {
        assert_eq!(
            endpoint("https://n.example.org/").unwrap(),
            "https://n.example.org/api/mcp"
        );
        assert_eq!(
            endpoint("http://127.0.0.1:3000/api/mcp").unwrap(),
            "http://127.0.0.1:3000/api/mcp"
        );
        assert!(endpoint("ftp://x").is_err());
        assert!(endpoint("not a url").is_err());
    }

    #[test]
    fn sse_bodies_yield_their_json_messages() {
        let body =
            "id: 1\nretry: 100\ndata: \n\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\n\n";
        let messages = sse_messages(body);
        assert_eq!(messages, vec![json!({"jsonrpc": "2.0", "id": 1, "result": {}})]);
    }
}
