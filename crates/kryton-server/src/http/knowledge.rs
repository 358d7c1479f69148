//! What the index knows across notes: search, backlinks, the graph, tags.

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};

use super::AppState;
use super::notes::note_path;
use crate::auth::CurrentUser;
use crate::error::{AppError, ErrorBody};
use crate::notes::query::{self, Backlink, SearchHit, TagCount};
use crate::notes::sharing;
use crate::store::iso;
use crate::store::notes::SearchQuery;

#[derive(OpenApi)]
#[openapi(paths(search, backlinks, graph, tags, notes_with_tag))]
pub struct Api;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/search", get(search))
        .route("/api/backlinks/{*path}", get(backlinks))
        .route("/api/graph", get(graph))
        .route("/api/tags", get(tags))
        .route("/api/tags/{*tag_and_notes}", get(notes_with_tag))
}

/// Matches at most this many notes unless `limit` says fewer.
const SEARCH_MAX: i64 = 1000;

#[derive(Deserialize, IntoParams)]
pub struct SearchParams {
    /// Words, `"quoted phrases"`, `prefix*`; required.
    q: Option<String>,
    /// 1 to 1000; default 1000 (every match, in practice).
    limit: Option<String>,
    /// Matches to skip, for the next page; default 0.
    offset: Option<String>,
}

/// Ranked matches over title, tags and content, each with a highlighted snippet. Any query
/// string is safe: it is reduced to words and quoted phrases (`word*` for a prefix).
#[utoipa::path(get, path = "/api/search", tag = "knowledge", params(SearchParams),
    responses((status = 200, body = Vec<SearchHit>), (status = 400, body = ErrorBody)))]
async fn search(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Query(params): Query<SearchParams>,
) -> Result<Json<Vec<SearchHit>>, AppError> {
    let limit = match params.limit.as_deref() {
        None => SEARCH_MAX,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=SEARCH_MAX).contains(n))
            .ok_or_else(|| AppError::Validation(format!("limit must be a number from 1 to {SEARCH_MAX}")))?,
    };
    let offset = match params.offset.as_deref() {
        None => 0,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 0)
            .ok_or_else(|| AppError::Validation("offset must be a number from 0".to_owned()))?,
    };
    let raw = params.q.unwrap_or_default();
    if raw.trim().is_empty() {
        return Err(AppError::Validation("q is required".to_owned()));
    }
    if raw.chars().count() > 500 {
        return Err(AppError::Validation("q must be at most 500 characters".to_owned()));
    }
    let mut results = query::search_page(&state.db, &me.user.id, &raw, limit, offset).await?;
    // Then matches in notes shared with the caller, as the original lists them: after one's own,
    // on the page where one's own run out.
    let room = limit - results.len() as i64;
    if room > 0 {
        let shared = sharing::search(&state.db, &me.user.id, &SearchQuery::parse(&raw), room).await?;
        results.extend(shared.into_iter().map(|hit| SearchHit {
            path: hit.path,
            title: hit.title,
            snippet: hit.snippet,
            tags: hit.tags,
            modified_at: iso(hit.mtime_ms),
            score: hit.score,
            is_shared: Some(true),
            owner_user_id: Some(hit.owner_user_id),
        }));
    }
    Ok(Json(results))
}

/// Notes linking to this one (resolved like Obsidian: by path, then by unique file name), one
/// entry per link.
#[utoipa::path(get, path = "/api/backlinks/{path}", tag = "knowledge",
    params(("path" = String, Path, description = "The note's path (slashes allowed)")),
    responses((status = 200, body = Vec<Backlink>), (status = 400, body = ErrorBody)))]
async fn backlinks(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(raw): Path<String>,
) -> Result<Json<Vec<Backlink>>, AppError> {
    let target = note_path(&raw)?;
    Ok(Json(query::backlinks(&state.db, &me.user.id, &target).await?))
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    /// The path without `.md` (the original's node id).
    pub id: String,
    pub path: String,
    pub title: String,
    /// No link in or out.
    pub orphan: bool,
    /// Present (true) on a note another user shares with the caller (the original's `shared`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shared: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_shared: Option<bool>,
    /// The owner of a shared note; its `id` is `<ownerUserId>:<path without .md>`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphEdge {
    pub from_note_id: String,
    pub to_note_id: String,
    pub from_path: String,
    pub to_path: String,
    pub embed: bool,
}

/// A link whose target is no note.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokenLink {
    pub from_path: String,
    /// As written.
    pub target: String,
}

#[derive(Serialize, ToSchema)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub broken: Vec<BrokenLink>,
}

fn node_id(path: &str) -> String {
    path.strip_suffix(".md").unwrap_or(path).to_owned()
}

/// Every note as a node, every resolved link as an edge; unresolved links listed as broken;
/// notes with no link in or out flagged as orphans.
#[utoipa::path(get, path = "/api/graph", tag = "knowledge", responses((status = 200, body = Graph)))]
async fn graph(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Graph>, AppError> {
    let graph = query::graph(&state.db, &me.user.id).await?;
    let mut taken: HashSet<String> = graph.nodes.iter().map(|n| n.id.clone()).collect();
    let mut nodes: Vec<GraphNode> = graph
        .nodes
        .into_iter()
        .map(|n| GraphNode {
            id: node_id(&n.id),
            path: n.id,
            title: n.title,
            orphan: n.orphan,
            shared: None,
            is_shared: None,
            owner_user_id: None,
        })
        .collect();
    let mut edges: Vec<GraphEdge> = graph
        .edges
        .into_iter()
        .map(|e| GraphEdge {
            from_note_id: node_id(&e.source),
            to_note_id: node_id(&e.target),
            from_path: e.source,
            to_path: e.target,
            embed: e.embed,
        })
        .collect();
    let broken = graph
        .broken
        .into_iter()
        .map(|b| BrokenLink {
            from_path: b.source,
            target: b.target,
        })
        .collect();
    // Notes shared with the caller and the links among them. As in the original, a shared note
    // whose path is taken (by one's own note or an earlier owner's) is left out, so paths stay
    // unique keys; links to a left-out note are left out with it.
    let (shared_nodes, shared_edges) = sharing::graph(&state.db, &me.user.id).await?;
    let mut shown: HashSet<(String, String)> = HashSet::new();
    for node in shared_nodes {
        if !taken.insert(node.path.clone()) {
            continue;
        }
        shown.insert((node.owner_user_id.clone(), node.path.clone()));
        nodes.push(GraphNode {
            id: format!("{}:{}", node.owner_user_id, node_id(&node.path)),
            path: node.path,
            title: node.title,
            orphan: node.orphan,
            shared: Some(true),
            is_shared: Some(true),
            owner_user_id: Some(node.owner_user_id),
        });
    }
    for edge in shared_edges {
        let owner = &edge.owner_user_id;
        if shown.contains(&(owner.clone(), edge.from_path.clone()))
            && shown.contains(&(owner.clone(), edge.to_path.clone()))
        {
            edges.push(GraphEdge {
                from_note_id: format!("{owner}:{}", node_id(&edge.from_path)),
                to_note_id: format!("{owner}:{}", node_id(&edge.to_path)),
                from_path: edge.from_path,
                to_path: edge.to_path,
                embed: edge.embed,
            });
        }
    }
    Ok(Json(Graph { nodes, edges, broken }))
}

#[utoipa::path(get, path = "/api/tags", tag = "knowledge", responses((status = 200, body = Vec<TagCount>)))]
async fn tags(State(state): State<AppState>, CurrentUser(me): CurrentUser) -> Result<Json<Vec<TagCount>>, AppError> {
    Ok(Json(query::tags(&state.db, &me.user.id).await?))
}

/// A note carrying a tag: `path` (newer clients) and `notePath` (older ones) are the same.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaggedNote {
    pub path: String,
    pub note_path: String,
    pub title: String,
}

/// `GET /api/tags/{tag}/notes`; nested tags keep their slashes (`/api/tags/project/alpha/notes`)
/// and a tag finds the notes of its nested tags too.
#[utoipa::path(get, path = "/api/tags/{tag}/notes", tag = "knowledge",
    params(("tag" = String, Path, description = "The tag, without `#`; nested tags keep their slashes")),
    responses((status = 200, body = Vec<TaggedNote>), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn notes_with_tag(
    State(state): State<AppState>,
    CurrentUser(me): CurrentUser,
    Path(rest): Path<String>,
) -> Result<Json<Vec<TaggedNote>>, AppError> {
    let tag = rest
        .strip_suffix("/notes")
        .ok_or_else(|| AppError::NotFound("expected /api/tags/{tag}/notes".to_owned()))?;
    let (_, notes) = query::notes_with_tag(&state.db, &me.user.id, tag).await?;
    let notes = notes
        .into_iter()
        .map(|n| TaggedNote {
            note_path: n.path.clone(),
            path: n.path,
            title: n.title,
        })
        .collect();
    Ok(Json(notes))
}
