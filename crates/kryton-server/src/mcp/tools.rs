//! The tools. Names and argument names of the original Kryton's 14 tools are kept (`path`,
//! `content`, `query`, `templateName`, `notePath`) so existing prompts and configurations keep
//! working; the tools beyond them use the same camelCase style. Each is a thin call into
//! `crate::notes`, answering a typed struct (structured content with an output schema).

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{KrytonMcp, tool_error_message};
use crate::error::AppError;
use crate::markdown;
use crate::notes::query::{self, Backlink, GraphEdge, Neighbourhood, NoteRef, RecentNote, SearchHit, TagCount};
use crate::notes::write::{self, Edited, Renamed, folder_path, note_path};
use crate::notes::{self, blocking, millis};
use crate::store::iso;
use crate::vault::{EntryKind, HistoryVersion, TreeNode};

fn fail(error: AppError) -> String {
    tool_error_message(error)
}

/// Characters of a note returned by one `read_note` call unless `maxChars` says otherwise.
const READ_CHARS: usize = 20_000;

// ---- arguments ----

#[derive(Debug, Deserialize, JsonSchema)]
pub struct PathArg {
    /// The note's path in the vault, e.g. 'Projects/Plan.md' ('.md' may be left out).
    pub path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListNotesArgs {
    /// Only notes in this folder (and its subfolders), e.g. 'Projects'.
    pub folder: Option<String>,
    /// Notes per page, 1 to 1000 (default 200).
    pub limit: Option<u32>,
    /// Skip this many notes: pass the previous answer's nextOffset.
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadNoteArgs {
    /// The note's path, e.g. 'Projects/Plan.md'.
    pub path: String,
    /// Start at this character (for long notes: the previous answer's nextOffset).
    pub offset: Option<usize>,
    /// At most this many characters (default 20000).
    pub max_chars: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct NoteContentArgs {
    /// The note's path, e.g. 'Projects/New idea.md'.
    pub path: String,
    /// The whole markdown content.
    pub content: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct UpdateNoteArgs {
    /// The note's path.
    pub path: String,
    /// The new markdown content; replaces the entire note.
    pub content: String,
    /// The etag from read_note: the update happens only if the note is still that version.
    /// Without it, the note is overwritten (or created).
    pub etag: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SearchArgs {
    /// Words to find (all must match); "quoted phrase" for an exact phrase; word* for a prefix.
    pub query: String,
    /// Results, 1 to 100 (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphArgs {
    /// Nodes per page, 1 to 2000 (default 500); edges and broken links of those nodes come along.
    pub limit: Option<usize>,
    /// Skip this many nodes: pass the previous answer's nextOffset.
    pub offset: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FolderArgs {
    /// The folder's path, e.g. 'Projects/2026'. Parents are created as needed.
    pub path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct DailyArgs {
    /// The day, YYYY-MM-DD (default: today, UTC).
    pub date: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FromTemplateArgs {
    /// A template's name as list_templates gives it (a note in the 'Templates' folder).
    pub template_name: String,
    /// The new note's path.
    pub note_path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct EditArgs {
    /// The note's path.
    pub path: String,
    /// The exact text to replace, copied from the note (whitespace included). It must occur once,
    /// unless replaceAll is set; include surrounding text to make it unique.
    pub old_text: String,
    /// The replacement text (may be empty to delete).
    pub new_text: String,
    /// The etag from read_note (or from the previous edit): the edit happens only if the note is
    /// still that version, so a concurrent human edit is never overwritten.
    pub etag: String,
    /// Replace every occurrence instead of requiring exactly one.
    pub replace_all: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct AppendArgs {
    /// The note's path; created if missing (when no etag is given).
    pub path: String,
    /// Markdown to add at the end, on a new line.
    pub text: String,
    /// Optional etag: append only if the note is still that version.
    pub etag: Option<String>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RenameArgs {
    /// The note's current path.
    pub path: String,
    /// Its new path (another folder moves it).
    pub new_path: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct LinksArgs {
    /// The note at the centre.
    pub path: String,
    /// How many links away to go, 1 to 5 (default 1).
    pub depth: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct TagArgs {
    /// The tag, with or without '#'; nested tags ('project/alpha') are included under their parent.
    pub tag: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RecentArgs {
    /// Notes per page, 1 to 200 (default 20).
    pub limit: Option<i64>,
    /// Skip this many: pass the previous answer's nextOffset.
    pub offset: Option<i64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct HistoryArgs {
    /// The note's path.
    pub path: String,
    /// A version's timestamp from the list: returns that version's content too.
    pub timestamp: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct RestoreArgs {
    /// The note's path.
    pub path: String,
    /// The version's timestamp, from get_history.
    pub timestamp: u64,
    /// Optional etag of the current content: restore only if the note is still that version.
    pub etag: Option<String>,
}

// ---- answers ----

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NotePage {
    pub notes: Vec<NoteRef>,
    /// All notes matching (before paging).
    pub total: usize,
    /// Pass as offset for the next page; absent on the last page.
    pub next_offset: Option<u32>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Folder {
    pub name: String,
    pub path: String,
    pub children: Vec<Folder>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Folders {
    pub folders: Vec<Folder>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct LinkOut {
    pub target: String,
    pub heading: Option<String>,
    pub alias: Option<String>,
    pub embed: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct NoteRead {
    pub path: String,
    pub title: String,
    /// The content, or the part from `offset` when the note is long.
    pub content: String,
    /// Pass to edit_note, update_note or append_to_note to change exactly this version.
    pub etag: String,
    /// Size in bytes.
    pub size: u64,
    pub modified_at: String,
    pub tags: Vec<String>,
    pub links: Vec<LinkOut>,
    /// Characters in the whole note.
    pub total_chars: usize,
    pub offset: usize,
    /// True when content stops before the end: call again with offset = nextOffset.
    pub truncated: bool,
    pub next_offset: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Written {
    pub success: bool,
    pub path: String,
    /// The note's new etag.
    pub etag: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Deleted {
    pub success: bool,
    pub path: String,
    /// Where it sits in the trash (restorable from the web app).
    pub trash_path: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SearchResults {
    pub query: String,
    pub results: Vec<SearchHit>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Tags {
    pub tags: Vec<TagCount>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Backlinks {
    pub path: String,
    pub backlinks: Vec<Backlink>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GraphPage {
    pub nodes: Vec<query::GraphNode>,
    /// Links whose source is on this page.
    pub edges: Vec<GraphEdge>,
    pub broken: Vec<query::BrokenLink>,
    pub total_nodes: usize,
    pub next_offset: Option<usize>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FolderCreated {
    pub success: bool,
    pub path: String,
    /// False when the folder already existed.
    pub created: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DailyNote {
    pub path: String,
    pub exists: bool,
    pub content: Option<String>,
    pub etag: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Templates {
    /// Names to pass as templateName.
    pub templates: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct TaggedNotes {
    pub tag: String,
    pub notes: Vec<NoteRef>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecentPage {
    pub notes: Vec<RecentNote>,
    pub next_offset: Option<i64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Version {
    /// Pass to restore_version (epoch milliseconds at which this version was replaced).
    pub timestamp: u64,
    pub size: u64,
    #[serde(rename = "replacedAt")]
    pub replaced_at: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct History {
    pub path: String,
    /// Newest first.
    pub versions: Vec<Version>,
    /// The requested version's content, when a timestamp was given.
    pub content: Option<String>,
}

fn folders(nodes: Vec<TreeNode>) -> Vec<Folder> {
    nodes
        .into_iter()
        .filter(|n| n.kind == EntryKind::Folder)
        .map(|n| Folder {
            name: n.name,
            path: n.path,
            children: folders(n.children.unwrap_or_default()),
        })
        .collect()
}

fn version(v: HistoryVersion) -> Version {
    Version {
        timestamp: v.timestamp,
        size: v.size,
        replaced_at: iso(v.timestamp as i64),
    }
}

#[tool_router(vis = "pub(super)")]
impl KrytonMcp {
    #[tool(
        description = "List the notes of the knowledge base (path and title), sorted by path, a page at a time. \
                       Use folder to narrow down; follow nextOffset for more.",
        annotations(title = "List notes", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_notes(&self, Parameters(args): Parameters<ListNotesArgs>) -> Result<Json<NotePage>, String> {
        let limit = args.limit.unwrap_or(200);
        if !(1..=1000).contains(&limit) {
            return Err("limit must be from 1 to 1000".to_owned());
        }
        let offset = args.offset.unwrap_or(0) as usize;
        let prefix = match args.folder.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(format!("{}/", folder_path(f).map_err(fail)?.as_str())),
            None => None,
        };
        let all: Vec<NoteRef> = query::list(&self.state.db, self.user_id())
            .await
            .map_err(fail)?
            .into_iter()
            .filter(|n| prefix.as_deref().is_none_or(|p| n.path.starts_with(p)))
            .collect();
        let total = all.len();
        let notes: Vec<NoteRef> = all.into_iter().skip(offset).take(limit as usize).collect();
        let end = offset + notes.len();
        Ok(Json(NotePage {
            notes,
            total,
            next_offset: (end < total).then_some(end as u32),
        }))
    }

    #[tool(
        description = "List the folder tree of the knowledge base (folders only; list_notes gives the notes).",
        annotations(title = "List folders", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_folders(&self) -> Result<Json<Folders>, String> {
        let vault = notes::vault(&self.state.config, self.user_id());
        let tree = blocking(move || vault.tree()).await.map_err(fail)?;
        Ok(Json(Folders { folders: folders(tree) }))
    }

    #[tool(
        description = "Read a note: its markdown, title, tags, wiki-links and etag (needed by edit_note). \
                       Long notes come in parts: when truncated, call again with offset = nextOffset.",
        annotations(title = "Read a note", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_note(&self, Parameters(args): Parameters<ReadNoteArgs>) -> Result<Json<NoteRead>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let note = write::read(&self.state.config, self.user_id(), &path)
            .await
            .map_err(fail)?;
        // Parsing a long note is CPU work: off the async workers, as the REST read does it.
        let (note, parsed) = tokio::task::spawn_blocking(move || {
            let parsed = markdown::parse(&note.content, note.path.stem());
            (note, parsed)
        })
        .await
        .map_err(|e| fail(AppError::Internal(e.into())))?;
        let total_chars = note.content.chars().count();
        let offset = args.offset.unwrap_or(0);
        if offset > total_chars {
            return Err(format!(
                "offset {offset} is past the end of the note ({total_chars} characters)"
            ));
        }
        let max = args.max_chars.unwrap_or(READ_CHARS).max(1);
        let content: String = note.content.chars().skip(offset).take(max).collect();
        let end = offset + content.chars().count();
        Ok(Json(NoteRead {
            path: note.path.as_str().to_owned(),
            title: parsed.title,
            content,
            etag: note.hash,
            size: note.size,
            modified_at: iso(millis(note.modified)),
            tags: parsed.tags,
            links: parsed
                .links
                .into_iter()
                .map(|l| LinkOut {
                    target: l.target,
                    heading: l.heading,
                    alias: l.alias,
                    embed: l.embed,
                })
                .collect(),
            total_chars,
            offset,
            truncated: end < total_chars,
            next_offset: (end < total_chars).then_some(end),
        }))
    }

    #[tool(
        description = "Create a new note. Fails if a note already exists at that path (use update_note, \
                       edit_note or append_to_note to change one).",
        annotations(
            title = "Create a note",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_note(&self, Parameters(args): Parameters<NoteContentArgs>) -> Result<Json<Written>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let etag = write::create(&self.state.db, &self.state.config, self.user_id(), &path, args.content)
            .await
            .map_err(fail)?;
        Ok(Json(Written {
            success: true,
            path: path.as_str().to_owned(),
            etag,
        }))
    }

    #[tool(
        description = "Replace a note's entire content (creates it when missing and no etag is given). \
                       Prefer edit_note for changes to part of a note. Pass the etag from read_note so a \
                       concurrent change is not overwritten; the old version stays in the history.",
        annotations(
            title = "Replace a note",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn update_note(&self, Parameters(args): Parameters<UpdateNoteArgs>) -> Result<Json<Written>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let etag = write::write(
            &self.state.db,
            &self.state.config,
            self.user_id(),
            &path,
            args.content,
            args.etag,
        )
        .await
        .map_err(fail)?;
        Ok(Json(Written {
            success: true,
            path: path.as_str().to_owned(),
            etag,
        }))
    }

    #[tool(
        description = "Move a note to the trash (the user can restore it from the web app).",
        annotations(
            title = "Delete a note",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn delete_note(&self, Parameters(args): Parameters<PathArg>) -> Result<Json<Deleted>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let trashed = write::delete(&self.state.db, &self.state.config, self.user_id(), &path)
            .await
            .map_err(fail)?;
        Ok(Json(Deleted {
            success: true,
            path: path.as_str().to_owned(),
            trash_path: trashed.trash_path,
        }))
    }

    #[tool(
        description = "Full-text search over titles, tags and content, best matches first, each with a \
                       snippet. All words must match; \"quoted phrase\" for a phrase, word* for a prefix.",
        annotations(title = "Search notes", read_only_hint = true, open_world_hint = false)
    )]
    async fn search(&self, Parameters(args): Parameters<SearchArgs>) -> Result<Json<SearchResults>, String> {
        let results = query::search(&self.state.db, self.user_id(), &args.query, args.limit.unwrap_or(20))
            .await
            .map_err(fail)?;
        Ok(Json(SearchResults {
            query: args.query,
            results,
        }))
    }

    #[tool(
        description = "List every tag used in the notes with how many notes carry it (notes_by_tag lists them).",
        annotations(title = "List tags", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_tags(&self) -> Result<Json<Tags>, String> {
        let tags = query::tags(&self.state.db, self.user_id()).await.map_err(fail)?;
        Ok(Json(Tags { tags }))
    }

    #[tool(
        description = "List the notes whose wiki-links point to this note.",
        annotations(title = "Backlinks", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_backlinks(&self, Parameters(args): Parameters<PathArg>) -> Result<Json<Backlinks>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let backlinks = query::backlinks(&self.state.db, self.user_id(), &path)
            .await
            .map_err(fail)?;
        Ok(Json(Backlinks {
            path: path.as_str().to_owned(),
            backlinks,
        }))
    }

    #[tool(
        description = "The wiki-link graph: notes as nodes (orphans flagged), links as edges, unresolved links \
                       as broken. Paged by nodes (follow nextOffset); for one note's surroundings use get_note_links.",
        annotations(title = "Link graph", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_graph(&self, Parameters(args): Parameters<GraphArgs>) -> Result<Json<GraphPage>, String> {
        let limit = args.limit.unwrap_or(500);
        if !(1..=2000).contains(&limit) {
            return Err("limit must be from 1 to 2000".to_owned());
        }
        let offset = args.offset.unwrap_or(0);
        let graph = query::graph(&self.state.db, self.user_id()).await.map_err(fail)?;
        let total_nodes = graph.nodes.len();
        let nodes: Vec<query::GraphNode> = graph.nodes.into_iter().skip(offset).take(limit).collect();
        let on_page: std::collections::HashSet<&str> = nodes.iter().map(|n| n.id.as_str()).collect();
        let edges = graph
            .edges
            .iter()
            .filter(|e| on_page.contains(e.source.as_str()))
            .cloned()
            .collect();
        let broken = graph
            .broken
            .iter()
            .filter(|b| on_page.contains(b.source.as_str()))
            .cloned()
            .collect();
        let end = offset + nodes.len();
        Ok(Json(GraphPage {
            nodes,
            edges,
            broken,
            total_nodes,
            next_offset: (end < total_nodes).then_some(end),
        }))
    }

    #[tool(
        description = "Create a folder (and its parents). Succeeds when it already exists.",
        annotations(
            title = "Create a folder",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn create_folder(&self, Parameters(args): Parameters<FolderArgs>) -> Result<Json<FolderCreated>, String> {
        let path = folder_path(&args.path).map_err(fail)?;
        let created = write::create_folder(&self.state.config, self.user_id(), &path)
            .await
            .map_err(fail)?;
        Ok(Json(FolderCreated {
            success: true,
            path: path.as_str().to_owned(),
            created,
        }))
    }

    #[tool(
        description = "Read the daily note of a day (Daily/YYYY-MM-DD.md; today by default). Says exists: false \
                       when there is none yet; create it with create_note or append_to_note at that path.",
        annotations(title = "Daily note", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_daily_note(&self, Parameters(args): Parameters<DailyArgs>) -> Result<Json<DailyNote>, String> {
        let date = match args.date.as_deref() {
            None => time::OffsetDateTime::now_utc().date(),
            Some(text) => time::Date::parse(text, time::macros::format_description!("[year]-[month]-[day]"))
                .map_err(|_| "date must be YYYY-MM-DD".to_owned())?,
        };
        let path = crate::vault::daily_note_path(date).map_err(|e| fail(e.into()))?;
        match write::read(&self.state.config, self.user_id(), &path).await {
            Ok(note) => Ok(Json(DailyNote {
                path: path.as_str().to_owned(),
                exists: true,
                content: Some(note.content),
                etag: Some(note.hash),
            })),
            Err(AppError::NotFound(_)) => Ok(Json(DailyNote {
                path: path.as_str().to_owned(),
                exists: false,
                content: None,
                etag: None,
            })),
            Err(e) => Err(fail(e)),
        }
    }

    #[tool(
        description = "List the note templates (notes in the 'Templates' folder), for create_note_from_template.",
        annotations(title = "List templates", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_templates(&self) -> Result<Json<Templates>, String> {
        let vault = notes::vault(&self.state.config, self.user_id());
        let templates = blocking(move || vault.templates()).await.map_err(fail)?;
        Ok(Json(Templates { templates }))
    }

    #[tool(
        description = "Create a note from a template ({{date}} and {{title}} filled in). Fails if the note exists.",
        annotations(
            title = "Create a note from a template",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn create_note_from_template(
        &self,
        Parameters(args): Parameters<FromTemplateArgs>,
    ) -> Result<Json<Written>, String> {
        let path = note_path(&args.note_path).map_err(fail)?;
        let etag = write::create_from_template(
            &self.state.db,
            &self.state.config,
            self.user_id(),
            &args.template_name,
            &path,
        )
        .await
        .map_err(fail)?;
        Ok(Json(Written {
            success: true,
            path: path.as_str().to_owned(),
            etag,
        }))
    }

    #[tool(
        description = "Change part of a note without resending it: replace oldText (exact, unique unless \
                       replaceAll) with newText, only if the note is still at etag (from read_note or the \
                       previous edit). On a stale etag, read the note again and redo the edit.",
        annotations(
            title = "Edit a note",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn edit_note(&self, Parameters(args): Parameters<EditArgs>) -> Result<Json<Edited>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let edited = write::edit(
            &self.state.db,
            &self.state.config,
            self.user_id(),
            &path,
            &args.old_text,
            &args.new_text,
            &args.etag,
            args.replace_all.unwrap_or(false),
        )
        .await
        .map_err(fail)?;
        Ok(Json(edited))
    }

    #[tool(
        description = "Add markdown at the end of a note (a log entry, a task); creates the note when missing.",
        annotations(
            title = "Append to a note",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn append_to_note(&self, Parameters(args): Parameters<AppendArgs>) -> Result<Json<Written>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let etag = write::append(
            &self.state.db,
            &self.state.config,
            self.user_id(),
            &path,
            &args.text,
            args.etag,
        )
        .await
        .map_err(fail)?;
        Ok(Json(Written {
            success: true,
            path: path.as_str().to_owned(),
            etag,
        }))
    }

    #[tool(
        description = "Rename or move a note; wiki-links to it in other notes are rewritten. Notes that changed \
                       meanwhile are listed in linksLeft.",
        annotations(
            title = "Rename a note",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn rename_note(&self, Parameters(args): Parameters<RenameArgs>) -> Result<Json<Renamed>, String> {
        let from = note_path(&args.path).map_err(fail)?;
        let to = note_path(&args.new_path).map_err(fail)?;
        let renamed = write::rename(&self.state.db, &self.state.config, self.user_id(), &from, &to)
            .await
            .map_err(fail)?;
        Ok(Json(renamed))
    }

    #[tool(
        description = "The local graph around a note: notes linking to it or linked from it, up to depth links \
                       away (1 to 5), with the links among them and the note's broken links.",
        annotations(title = "Note neighbourhood", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_note_links(&self, Parameters(args): Parameters<LinksArgs>) -> Result<Json<Neighbourhood>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let around = query::neighbourhood(&self.state.db, self.user_id(), &path, args.depth.unwrap_or(1))
            .await
            .map_err(fail)?;
        Ok(Json(around))
    }

    #[tool(
        description = "List the notes carrying a tag (or a tag nested under it).",
        annotations(title = "Notes by tag", read_only_hint = true, open_world_hint = false)
    )]
    async fn notes_by_tag(&self, Parameters(args): Parameters<TagArgs>) -> Result<Json<TaggedNotes>, String> {
        let (tag, notes) = query::notes_with_tag(&self.state.db, self.user_id(), &args.tag)
            .await
            .map_err(fail)?;
        Ok(Json(TaggedNotes { tag, notes }))
    }

    #[tool(
        description = "The most recently modified notes first, a page at a time (follow nextOffset).",
        annotations(title = "Recent notes", read_only_hint = true, open_world_hint = false)
    )]
    async fn recent_notes(&self, Parameters(args): Parameters<RecentArgs>) -> Result<Json<RecentPage>, String> {
        let limit = args.limit.unwrap_or(20);
        let offset = args.offset.unwrap_or(0);
        let notes = query::recent(&self.state.db, self.user_id(), limit, offset)
            .await
            .map_err(fail)?;
        let next_offset = (notes.len() as i64 == limit).then_some(offset + limit);
        Ok(Json(RecentPage { notes, next_offset }))
    }

    #[tool(
        description = "List a note's kept earlier versions (newest first); with timestamp, also return that \
                       version's content. restore_version brings one back.",
        annotations(title = "Note history", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_history(&self, Parameters(args): Parameters<HistoryArgs>) -> Result<Json<History>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let vault = notes::vault(&self.state.config, self.user_id());
        let (reader, target) = (vault.clone(), path.clone());
        let versions = blocking(move || reader.history(&target)).await.map_err(fail)?;
        let content = match args.timestamp {
            Some(ts) => {
                let target = path.clone();
                Some(
                    blocking(move || vault.history_version(&target, ts))
                        .await
                        .map_err(fail)?,
                )
            }
            None => None,
        };
        Ok(Json(History {
            path: path.as_str().to_owned(),
            versions: versions.into_iter().map(version).collect(),
            content,
        }))
    }

    #[tool(
        description = "Bring back an earlier version of a note (timestamp from get_history). The current content \
                       is kept as a version too, so this can be undone.",
        annotations(
            title = "Restore a version",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn restore_version(&self, Parameters(args): Parameters<RestoreArgs>) -> Result<Json<Written>, String> {
        let path = note_path(&args.path).map_err(fail)?;
        let etag = write::restore_version(
            &self.state.db,
            &self.state.config,
            self.user_id(),
            &path,
            args.timestamp,
            args.etag,
        )
        .await
        .map_err(fail)?;
        Ok(Json(Written {
            success: true,
            path: path.as_str().to_owned(),
            etag,
        }))
    }
}
