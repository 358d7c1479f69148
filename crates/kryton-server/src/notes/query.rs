//! What the index knows across a user's notes: search, backlinks, the graph and a note's
//! neighbourhood, tags, recent notes. Shared by the REST handlers and the MCP tools.

use std::collections::{HashMap, HashSet, VecDeque};

use serde::Serialize;

use crate::db::Database;
use crate::error::AppError;
use crate::markdown::{self, LinkResolver};
use crate::store::iso;
use crate::store::notes::{self as index, SearchQuery};
use crate::vault::NotePath;

/// One search result with a highlighted snippet.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SearchHit {
    pub path: String,
    pub title: String,
    /// Text around the first match, matches wrapped in `<mark>`.
    pub snippet: String,
    pub tags: Vec<String>,
    /// ISO 8601, UTC.
    pub modified_at: String,
    /// Higher is better.
    pub score: f64,
    /// Present (true) on a note another user shares with the caller; read it with
    /// `GET /api/notes/shared/{ownerUserId}/{path}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_shared: Option<bool>,
    /// The owner of a shared note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner_user_id: Option<String>,
}

/// Ranked matches over title, tags and content, for an agent: `limit` must be 1..=100 and the
/// query at most 500 characters. Any query string is safe: it is reduced to words and quoted
/// phrases (`word*` for a prefix).
pub async fn search(db: &Database, user_id: &str, raw: &str, limit: i64) -> Result<Vec<SearchHit>, AppError> {
    if !(1..=100).contains(&limit) {
        return Err(AppError::Validation("limit must be a number from 1 to 100".to_owned()));
    }
    if raw.chars().count() > 500 {
        return Err(AppError::Validation(
            "the query must be at most 500 characters".to_owned(),
        ));
    }
    search_page(db, user_id, raw, limit, 0).await
}

/// One page of ranked matches: `limit` results after skipping `offset` (the caller checks their
/// bounds). Snippets are cut only for the returned page.
pub async fn search_page(
    db: &Database,
    user_id: &str,
    raw: &str,
    limit: i64,
    offset: i64,
) -> Result<Vec<SearchHit>, AppError> {
    let query = SearchQuery::parse(raw);
    let words = query.words();
    Ok(index::search(db, user_id, &query, limit, offset)
        .await?
        .into_iter()
        .map(|r| SearchHit {
            snippet: markdown::snippet(&r.body, &words),
            tags: r.tags.split_whitespace().map(str::to_owned).collect(),
            modified_at: iso(r.mtime_ms),
            path: r.path,
            title: r.title,
            score: r.rank,
            is_shared: None,
            owner_user_id: None,
        })
        .collect())
}

/// A note linking to another.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, utoipa::ToSchema)]
pub struct Backlink {
    /// The note that links here.
    pub path: String,
    pub title: String,
    pub alias: Option<String>,
    pub heading: Option<String>,
    pub embed: bool,
}

/// Notes linking to `target` (resolved like Obsidian: by path, then by unique file name), the
/// first link of each; read from the index by the target's name (see [`super::links_to`]).
pub async fn backlinks(db: &Database, user_id: &str, target: &NotePath) -> Result<Vec<Backlink>, AppError> {
    Ok(super::links_to(db, user_id, target.as_str())
        .await?
        .into_iter()
        .map(|link| Backlink {
            path: link.source_path,
            title: link.source_title,
            alias: link.alias,
            heading: link.heading,
            embed: link.embed,
        })
        .collect())
}

/// A note in the graph.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct GraphNode {
    pub id: String,
    pub title: String,
    /// No link in or out.
    pub orphan: bool,
}

/// A resolved link between two notes.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct GraphEdge {
    pub source: String,
    pub target: String,
    pub embed: bool,
}

/// A link whose target is no note.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct BrokenLink {
    pub source: String,
    pub target: String,
}

/// Every note as a node, every resolved link as an edge, unresolved links as broken.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Graph {
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
    pub broken: Vec<BrokenLink>,
}

/// The whole link graph of a user's notes.
pub async fn graph(db: &Database, user_id: &str) -> Result<Graph, AppError> {
    let titles = index::titles(db, user_id).await?;
    let paths: Vec<&str> = titles.iter().map(|(p, _)| p.as_str()).collect();
    let resolver = LinkResolver::new(&paths);
    let mut edges = Vec::new();
    let mut broken = Vec::new();
    let mut connected = HashSet::new();
    for link in index::links(db, user_id).await? {
        match resolver.resolve(&link.target) {
            Some(target) => {
                connected.insert(link.source_path.clone());
                connected.insert((*target).to_owned());
                edges.push(GraphEdge {
                    source: link.source_path,
                    target: (*target).to_owned(),
                    embed: link.embed,
                });
            }
            // An embedded picture or PDF is an attachment, not a missing note.
            None if link.embed
                && link
                    .target
                    .rsplit_once('.')
                    .is_some_and(|(_, ext)| !ext.eq_ignore_ascii_case("md")) => {}
            None => broken.push(BrokenLink {
                source: link.source_path,
                target: link.target,
            }),
        }
    }
    let nodes = titles
        .iter()
        .map(|(path, title)| GraphNode {
            id: path.clone(),
            title: title.clone(),
            orphan: !connected.contains(path),
        })
        .collect();
    Ok(Graph { nodes, edges, broken })
}

/// A note near another, with its distance in links (either direction).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Neighbour {
    pub path: String,
    pub title: String,
    pub distance: usize,
}

/// The local graph around one note.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct Neighbourhood {
    pub path: String,
    pub depth: usize,
    /// The note itself (distance 0) and every note within `depth` links, nearest first.
    pub notes: Vec<Neighbour>,
    /// Resolved links among those notes.
    pub edges: Vec<GraphEdge>,
    /// Unresolved links written in the centre note.
    pub broken: Vec<String>,
}

/// Distance in links (either direction) from `center` of every note within `depth` of it, or
/// `None` when `center` is no note.
fn within<'g>(graph: &'g Graph, center: &str, depth: usize) -> Option<HashMap<&'g str, usize>> {
    let start = graph.nodes.iter().find(|n| n.id == center)?;
    let mut adjacent: HashMap<&str, Vec<&str>> = HashMap::new();
    for edge in &graph.edges {
        adjacent.entry(&edge.source).or_default().push(&edge.target);
        adjacent.entry(&edge.target).or_default().push(&edge.source);
    }
    let mut distance: HashMap<&str, usize> = HashMap::from([(start.id.as_str(), 0)]);
    let mut queue = VecDeque::from([start.id.as_str()]);
    while let Some(at) = queue.pop_front() {
        let d = distance[at];
        if d == depth {
            continue;
        }
        for &next in adjacent.get(at).into_iter().flatten() {
            if !distance.contains_key(next) {
                distance.insert(next, d + 1);
                queue.push_back(next);
            }
        }
    }
    Some(distance)
}

fn check_depth(depth: usize) -> Result<(), AppError> {
    if (1..=5).contains(&depth) {
        Ok(())
    } else {
        Err(AppError::Validation("depth must be from 1 to 5".to_owned()))
    }
}

fn center_not_found(center: &NotePath) -> AppError {
    AppError::NotFound(format!("note {} not found", center.as_str()))
}

/// The notes within `depth` links of `center`, following links in both directions.
pub async fn neighbourhood(
    db: &Database,
    user_id: &str,
    center: &NotePath,
    depth: usize,
) -> Result<Neighbourhood, AppError> {
    check_depth(depth)?;
    let full = graph(db, user_id).await?;
    let distance = within(&full, center.as_str(), depth).ok_or_else(|| center_not_found(center))?;
    let titles: HashMap<&str, &str> = full.nodes.iter().map(|n| (n.id.as_str(), n.title.as_str())).collect();
    let mut notes: Vec<Neighbour> = distance
        .iter()
        .map(|(path, d)| Neighbour {
            path: (*path).to_owned(),
            title: titles.get(path).copied().unwrap_or_default().to_owned(),
            distance: *d,
        })
        .collect();
    notes.sort_by(|a, b| a.distance.cmp(&b.distance).then_with(|| a.path.cmp(&b.path)));
    let edges = full
        .edges
        .iter()
        .filter(|e| distance.contains_key(e.source.as_str()) && distance.contains_key(e.target.as_str()))
        .cloned()
        .collect();
    let broken = full
        .broken
        .iter()
        .filter(|b| b.source == center.as_str())
        .map(|b| b.target.clone())
        .collect();
    Ok(Neighbourhood {
        path: center.as_str().to_owned(),
        depth,
        notes,
        edges,
        broken,
    })
}

/// A tag and how many notes carry it.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema, utoipa::ToSchema)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

pub async fn tags(db: &Database, user_id: &str) -> Result<Vec<TagCount>, AppError> {
    Ok(index::tag_counts(db, user_id)
        .await?
        .into_iter()
        .map(|(tag, count)| TagCount { tag, count })
        .collect())
}

/// A note's path and title.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
pub struct NoteRef {
    pub path: String,
    pub title: String,
}

/// Notes carrying a tag or one nested under it; the tag normalised (`#Project` -> `project`).
pub async fn notes_with_tag(db: &Database, user_id: &str, raw: &str) -> Result<(String, Vec<NoteRef>), AppError> {
    let tag = markdown::normalize_tag(raw.trim().trim_start_matches('#'))
        .ok_or_else(|| AppError::Validation("not a valid tag".to_owned()))?;
    let notes = index::notes_with_tag(db, user_id, &tag)
        .await?
        .into_iter()
        .map(|(path, title)| NoteRef { path, title })
        .collect();
    Ok((tag, notes))
}

/// Every note's path and title, sorted by path.
pub async fn list(db: &Database, user_id: &str) -> Result<Vec<NoteRef>, AppError> {
    Ok(index::titles(db, user_id)
        .await?
        .into_iter()
        .map(|(path, title)| NoteRef { path, title })
        .collect())
}

/// A recently changed note.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentNote {
    pub path: String,
    pub title: String,
    /// ISO 8601, UTC.
    pub modified_at: String,
}

/// The user's notes, most recently modified first.
pub async fn recent(db: &Database, user_id: &str, limit: i64, offset: i64) -> Result<Vec<RecentNote>, AppError> {
    if !(1..=200).contains(&limit) || offset < 0 {
        return Err(AppError::Validation(
            "limit must be from 1 to 200 and offset at least 0".to_owned(),
        ));
    }
    Ok(index::recent(db, user_id, limit, offset)
        .await?
        .into_iter()
        .map(|(path, title, mtime)| RecentNote {
            path,
            title,
            modified_at: iso(mtime),
        })
        .collect())
}
