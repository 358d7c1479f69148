//! What the index knows across notes: search, backlinks, the graph, tags.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::notes::note_path;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::markdown;
use crate::notes;
use crate::store::notes as index;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/search", get(search))
        .route("/api/backlinks/{*path}", get(backlinks))
        .route("/api/graph", get(graph))
        .route("/api/tags", get(tags))
        .route("/api/tags/{*tag_and_notes}", get(notes_with_tag))
}

#[derive(Deserialize)]
struct SearchParams {
    q: Option<String>,
    limit: Option<String>,
}

/// Ranked matches over title, tags and content, each with a highlighted snippet. Any query
/// string is safe: it is reduced to words and quoted phrases (`word*` for a prefix).
async fn search(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Query(params): Query<SearchParams>,
) -> Result<Json<Value>, AppError> {
    let limit = match params.limit.as_deref() {
        None => 20,
        Some(text) => text
            .parse::<i64>()
            .map_err(|_| AppError::Validation("limit must be a number from 1 to 100".to_owned()))?,
    };
    let raw = params.q.unwrap_or_default();
    let results = notes::query::search(&state.db, &me.user.id, &raw, limit).await?;
    Ok(Json(json!({ "query": raw, "results": results })))
}

/// Notes linking to this one (resolved like Obsidian: by path, then by unique file name).
async fn backlinks(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let target = note_path(&raw)?;
    let results = notes::query::backlinks(&state.db, &me.user.id, &target).await?;
    Ok(Json(json!({ "path": target.as_str(), "backlinks": results })))
}

/// Every note as a node, every resolved link as an edge; unresolved links listed as broken;
/// notes with no link in or out flagged as orphans.
async fn graph(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Value>, AppError> {
    Ok(Json(json!(notes::query::graph(&state.db, &me.user.id).await?)))
}

async fn tags(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Value>, AppError> {
    let tags: Vec<Value> = index::tag_counts(&state.db, &me.user.id)
        .await?
        .into_iter()
        .map(|(tag, count)| json!({ "tag": tag, "count": count }))
        .collect();
    Ok(Json(json!(tags)))
}

/// `GET /api/tags/{tag}/notes`; nested tags keep their slashes (`/api/tags/project/alpha/notes`).
async fn notes_with_tag(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(rest): Path<String>,
) -> Result<Json<Value>, AppError> {
    let tag = rest
        .strip_suffix("/notes")
        .ok_or_else(|| AppError::NotFound("expected /api/tags/{tag}/notes".to_owned()))?;
    let tag = markdown::normalize_tag(tag.trim_start_matches('#'))
        .ok_or_else(|| AppError::Validation("not a valid tag".to_owned()))?;
    let notes: Vec<Value> = index::notes_with_tag(&state.db, &me.user.id, &tag)
        .await?
        .into_iter()
        .map(|(path, title)| json!({ "path": path, "title": title }))
        .collect();
    Ok(Json(json!({ "tag": tag, "notes": notes })))
}
