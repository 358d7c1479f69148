//! Canvas documents: JSON Canvas 1.0 files (<https://jsoncanvas.org>) in the user's vault at
//! `Canvas/<name>.canvas`, where the original Kryton and Obsidian keep them. Every write is
//! validated (node types and their required fields, unique ids, edges between existing nodes) and
//! durable (atomic replace, fsynced).

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::config::Config;
use crate::error::AppError;
use crate::notes::{blocking, vault};
use crate::vault::{FilePath, FolderPath, VaultError};

/// Where canvases live in the vault.
pub const FOLDER: &str = "Canvas";
/// Their extension.
pub const SUFFIX: &str = ".canvas";

/// `Canvas/<name>.canvas` for a name given with or without the extension.
pub fn path_of(name: &str) -> Result<FilePath, AppError> {
    let name = name.strip_suffix(SUFFIX).unwrap_or(name);
    if name.is_empty() {
        return Err(AppError::Validation("Name is required".to_owned()));
    }
    if name.contains('/') {
        return Err(AppError::Validation("a canvas name must not contain '/'".to_owned()));
    }
    FilePath::parse(&format!("{FOLDER}/{name}{SUFFIX}")).map_err(|e| AppError::Validation(e.to_string()))
}

fn invalid(message: String) -> AppError {
    AppError::Validation(format!("not a valid JSON Canvas document: {message}"))
}

fn string_field<'a>(object: &'a Map<String, Value>, key: &str, what: &str) -> Result<&'a str, AppError> {
    object
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| invalid(format!("{what} needs a string `{key}`")))
}

/// Checks a document against JSON Canvas 1.0. Unknown extra fields are kept (the format allows
/// them); `nodes` and `edges` may be absent.
pub fn validate(doc: &Value) -> Result<(), AppError> {
    let object = doc
        .as_object()
        .ok_or_else(|| invalid("the top level must be an object".to_owned()))?;
    let list = |key: &str| -> Result<Vec<&Map<String, Value>>, AppError> {
        match object.get(key) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| {
                    i.as_object()
                        .ok_or_else(|| invalid(format!("every entry of `{key}` must be an object")))
                })
                .collect(),
            Some(_) => Err(invalid(format!("`{key}` must be an array"))),
        }
    };
    let mut ids = HashSet::new();
    for node in list("nodes")? {
        let id = string_field(node, "id", "a node")?;
        if !ids.insert(id) {
            return Err(invalid(format!("the id {id:?} is used twice")));
        }
        for key in ["x", "y", "width", "height"] {
            if !node.get(key).is_some_and(Value::is_number) {
                return Err(invalid(format!("node {id:?} needs a number `{key}`")));
            }
        }
        match string_field(node, "type", "a node")? {
            "text" => drop(string_field(node, "text", "a text node")?),
            "file" => drop(string_field(node, "file", "a file node")?),
            "link" => drop(string_field(node, "url", "a link node")?),
            "group" => {}
            other => return Err(invalid(format!("unknown node type {other:?}"))),
        }
    }
    let mut edge_ids = HashSet::new();
    for edge in list("edges")? {
        let id = string_field(edge, "id", "an edge")?;
        if ids.contains(id) || !edge_ids.insert(id) {
            return Err(invalid(format!("the id {id:?} is used twice")));
        }
        for key in ["fromNode", "toNode"] {
            let end = string_field(edge, key, "an edge")?;
            if !ids.contains(end) {
                return Err(invalid(format!("edge {id:?} points to a missing node")));
            }
        }
        for key in ["fromSide", "toSide"] {
            if let Some(side) = edge.get(key)
                && !matches!(side.as_str(), Some("top" | "right" | "bottom" | "left"))
            {
                return Err(invalid(format!(
                    "edge {id:?}: `{key}` must be top, right, bottom or left"
                )));
            }
        }
        for key in ["fromEnd", "toEnd"] {
            if let Some(end) = edge.get(key)
                && !matches!(end.as_str(), Some("none" | "arrow"))
            {
                return Err(invalid(format!("edge {id:?}: `{key}` must be none or arrow")));
            }
        }
    }
    Ok(())
}

/// The user's canvas names, without the extension.
pub async fn list(config: &Config, user_id: &str) -> Result<Vec<String>, AppError> {
    let vault = vault(config, user_id);
    let folder = FolderPath::parse(FOLDER).map_err(|e| AppError::Internal(e.into()))?;
    blocking(move || vault.file_names(&folder, SUFFIX)).await
}

/// One canvas document.
pub async fn read(config: &Config, user_id: &str, name: &str) -> Result<Value, AppError> {
    let path = path_of(name)?;
    let vault = vault(config, user_id);
    let bytes = blocking(move || {
        let file = vault.file(&path).map_err(|e| match e {
            VaultError::NotFound(_) => VaultError::NotFound("canvas"),
            e => e,
        })?;
        Ok(std::fs::read(file)?)
    })
    .await?;
    serde_json::from_slice(&bytes).map_err(|e| AppError::Internal(anyhow::anyhow!("a stored canvas is not JSON: {e}")))
}

/// Validates and writes a canvas; `create_new` refuses an existing one (409). Returns the file name.
pub async fn write(
    config: &Config,
    user_id: &str,
    name: &str,
    doc: &Value,
    create_new: bool,
) -> Result<String, AppError> {
    let path = path_of(name)?;
    validate(doc)?;
    let bytes = serde_json::to_vec_pretty(doc).map_err(|e| AppError::Internal(e.into()))?;
    let vault = vault(config, user_id);
    let file_name = path.file_name().to_owned();
    blocking(move || vault.write_file(&path, &bytes, create_new)).await?;
    Ok(file_name)
}

/// Moves a canvas to the trash.
pub async fn delete(config: &Config, user_id: &str, name: &str) -> Result<(), AppError> {
    let path = path_of(name)?;
    let vault = vault(config, user_id);
    blocking(move || vault.delete_file(&path)).await.map_err(|e| match e {
        AppError::NotFound(_) => AppError::NotFound("canvas not found".to_owned()),
        e => e,
    })?;
    Ok(())
}
