//! What the index knows across notes: search, backlinks, the graph, tags.

use std::collections::{BTreeMap, HashSet};

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use super::AppState;
use super::notes::note_path;
use crate::auth::CurrentUser;
use crate::error::AppError;
use crate::markdown::{self, LinkResolver};
use crate::notes;
use crate::store::notes::{self as index, SearchQuery};

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
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| AppError::Validation("limit must be a number from 1 to 100".to_owned()))?,
    };
    let raw = params.q.unwrap_or_default();
    if raw.chars().count() > 500 {
        return Err(AppError::Validation("q must be at most 500 characters".to_owned()));
    }
    let query = SearchQuery::parse(&raw);
    let words = query.words();
    let rows = index::search(&state.db, &me.user.id, &query, limit).await?;
    let results: Vec<Value> = rows
        .into_iter()
        .map(|r| json!({ "path": r.path, "title": r.title, "snippet": markdown::snippet(&r.body, &words), "score": r.rank }))
        .collect();
    Ok(Json(json!({ "query": raw, "results": results })))
}

/// Notes linking to this one (resolved like Obsidian: by path, then by unique file name).
async fn backlinks(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Value>, AppError> {
    let target = note_path(&raw)?;
    let titles = index::titles(&state.db, &me.user.id).await?;
    let paths: Vec<String> = titles.iter().map(|(p, _)| p.clone()).collect();
    let titles: BTreeMap<&str, &str> = titles.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    let results: Vec<Value> = notes::links_to(&state.db, &me.user.id, target.as_str(), &paths)
        .await?
        .into_iter()
        .map(|link| {
            let title = titles.get(link.source_path.as_str()).copied().unwrap_or_default();
            json!({ "path": link.source_path, "title": title, "alias": link.alias, "heading": link.heading, "embed": link.embed })
        })
        .collect();
    Ok(Json(json!({ "path": target.as_str(), "backlinks": results })))
}

/// Every note as a node, every resolved link as an edge; unresolved links listed as broken;
/// notes with no link in or out flagged as orphans.
async fn graph(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Value>, AppError> {
    let titles = index::titles(&state.db, &me.user.id).await?;
    let paths: Vec<&str> = titles.iter().map(|(p, _)| p.as_str()).collect();
    let resolver = LinkResolver::new(&paths);
    let mut edges = Vec::new();
    let mut broken = Vec::new();
    let mut connected = HashSet::new();
    for link in index::links(&state.db, &me.user.id).await? {
        match resolver.resolve(&link.target) {
            Some(target) => {
                connected.insert(link.source_path.clone());
                connected.insert((*target).to_owned());
                edges.push(json!({ "source": link.source_path, "target": target, "embed": link.embed }));
            }
            // An embedded picture or PDF is an attachment, not a missing note.
            None if link.embed
                && link
                    .target
                    .rsplit_once('.')
                    .is_some_and(|(_, ext)| !ext.eq_ignore_ascii_case("md")) => {}
            None => broken.push(json!({ "source": link.source_path, "target": link.target })),
        }
    }
    let nodes: Vec<Value> = titles
        .iter()
        .map(|(path, title)| json!({ "id": path, "title": title, "orphan": !connected.contains(path) }))
        .collect();
    Ok(Json(json!({ "nodes": nodes, "edges": edges, "broken": broken })))
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
