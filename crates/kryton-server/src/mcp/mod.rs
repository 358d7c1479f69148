//! The knowledge base for AI agents: MCP tools and resources over the same domain operations as
//! the REST API (`crate::notes`). One [`KrytonMcp`] is built per HTTP request for the API key's
//! user (the endpoint is stateless), so every tool acts as that user and no other.
//!
//! Scopes: read tools carry `readOnlyHint: true`; a read-only key sees only those in `tools/list`,
//! and a write tool called anyway is refused as a tool error before it runs. That holds for the
//! notes' tools (`tools.rs`) and for those of settings, canvases and files (`workspace.rs`) alike.

pub mod bridge;
mod tools;
mod workspace;

pub use workspace::REQUEST_BODY_BYTES;

use std::sync::{Arc, OnceLock};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListResourceTemplatesResult, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ResourceTemplate,
    ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};

use crate::auth::{Credential, Principal};
use crate::error::AppError;
use crate::http::AppState;
use crate::notes::{self, blocking};
use crate::store::api_keys::Scope;

/// The URI of the note tree resource.
pub const NOTES_URI: &str = "kryton://notes";
/// The prefix of one note's resource URI: `kryton://note/<percent-encoded path>`.
pub const NOTE_URI_PREFIX: &str = "kryton://note/";
/// Notes per page of `resources/list`.
const RESOURCE_PAGE: usize = 500;

/// The MCP server of one request: the caller and the shared application state.
#[derive(Clone)]
pub struct KrytonMcp {
    state: AppState,
    me: Arc<Principal>,
    /// Shared by every request: cloning it (32 tools with their schemas) per request was waste.
    tool_router: &'static ToolRouter<KrytonMcp>,
}

/// The tool table is the same for every request; building it (schemas included) once. Notes'
/// tools, then those of settings, canvases and files.
fn tool_table() -> &'static ToolRouter<KrytonMcp> {
    static TABLE: OnceLock<ToolRouter<KrytonMcp>> = OnceLock::new();
    TABLE.get_or_init(|| KrytonMcp::tool_router() + KrytonMcp::workspace_router())
}

/// A tool may change the vault unless it is annotated read-only.
pub fn is_write_tool(tool: &Tool) -> bool {
    tool.annotations.as_ref().and_then(|a| a.read_only_hint) != Some(true)
}

impl KrytonMcp {
    pub fn new(state: AppState, me: Arc<Principal>) -> Self {
        KrytonMcp {
            state,
            me,
            tool_router: tool_table(),
        }
    }

    fn user_id(&self) -> &str {
        &self.me.user.id
    }

    fn read_only(&self) -> bool {
        !matches!(
            self.me.credential,
            Credential::ApiKey {
                scope: Scope::ReadWrite,
                ..
            }
        )
    }

    /// Every tool, with its schemas and annotations (for docs and tests).
    pub fn all_tools() -> Vec<Tool> {
        tool_table().list_all()
    }
}

/// An error as an agent should read it: what went wrong and what to do. Internal causes go to the
/// log only.
pub fn tool_error_message(error: AppError) -> String {
    match error {
        AppError::PreconditionFailed { message, details } => {
            let current = details
                .as_ref()
                .and_then(|d| d.get("currentEtag"))
                .and_then(|v| v.as_str())
                .filter(|s| !s.is_empty());
            match current {
                Some(etag) => format!("{message} (current etag: {etag})"),
                None => message,
            }
        }
        AppError::Internal(source) => {
            tracing::error!(error = %format!("{source:#}"), "MCP tool failed");
            "internal error; try again later".to_owned()
        }
        other => other.to_string(),
    }
}

fn text_error(message: impl Into<String>) -> CallToolResponse {
    CallToolResult::error(vec![ContentBlock::text(message.into())]).into()
}

/// What a URI path segment cannot hold as is (RFC 3986 pchar): the rest stays readable.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b']')
    .add(b'\\')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

fn note_uri(path: &str) -> String {
    let encoded: Vec<String> = path
        .split('/')
        .map(|segment| percent_encoding::utf8_percent_encode(segment, SEGMENT).to_string())
        .collect();
    format!("{NOTE_URI_PREFIX}{}", encoded.join("/"))
}

impl ServerHandler for KrytonMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_server_info(Implementation::new("kryton", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Kryton is the user's markdown knowledge base. Notes are addressed by vault path \
                 (e.g. 'Projects/Plan.md'); wiki-links [[Note]] connect them. Find notes with search, \
                 list_notes or recent_notes; read_note returns an etag. Change a note with edit_note \
                 (exact text replacement guarded by that etag) or append_to_note rather than resending \
                 it with update_note; a stale etag means someone else changed the note: read it again. \
                 A read-only API key can only use the read tools.",
            )
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let read_only = self.read_only();
        let tools = self
            .tool_router
            .list_all()
            .into_iter()
            .filter(|tool| !read_only || !is_write_tool(tool))
            .collect();
        // The list depends on the key's scope: never cache it for anyone else.
        Ok(ListToolsResult::with_all_items(tools).with_cache_scope(CacheScope::Private))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.tool_router.get(name).cloned()
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.read_only()
            && let Some(tool) = self.tool_router.get(&request.name)
            && is_write_tool(tool)
        {
            return Ok(text_error(format!(
                "{} changes the knowledge base and this API key is read-only; use a read-write key",
                request.name
            )));
        }
        let context = ToolCallContext::new(self, request, context);
        self.tool_router.call(context).await
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let start = match request.and_then(|r| r.cursor) {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .map_err(|_| ErrorData::invalid_params("unknown cursor", None))?,
        };
        let all = notes::query::list(&self.state.db, self.user_id())
            .await
            .map_err(|e| ErrorData::internal_error(tool_error_message(e), None))?;
        let mut resources = Vec::new();
        if start == 0 {
            resources.push(
                Resource::new(NOTES_URI, "notes")
                    .with_title("All notes")
                    .with_description("The folder and note tree of the knowledge base")
                    .with_mime_type("application/json"),
            );
        }
        let page: Vec<Resource> = all
            .iter()
            .skip(start)
            .take(RESOURCE_PAGE)
            .map(|n| {
                Resource::new(note_uri(&n.path), n.path.clone())
                    .with_title(n.title.clone())
                    .with_mime_type("text/markdown")
            })
            .collect();
        resources.extend(page);
        let mut result = ListResourcesResult::with_all_items(resources).with_cache_scope(CacheScope::Private);
        if start + RESOURCE_PAGE < all.len() {
            result.next_cursor = Some((start + RESOURCE_PAGE).to_string());
        }
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(vec![
            ResourceTemplate::new("kryton://note/{path}", "note")
                .with_title("A note")
                .with_description("One note's markdown, by vault path (e.g. kryton://note/Projects/Plan.md)")
                .with_mime_type("text/markdown"),
        ]))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let uri = request.uri;
        if uri == NOTES_URI {
            let vault = notes::vault(&self.state.config, self.user_id());
            let tree = blocking(move || vault.tree())
                .await
                .map_err(|e| ErrorData::internal_error(tool_error_message(e), None))?;
            let text =
                serde_json::to_string_pretty(&tree).map_err(|e| ErrorData::internal_error(e.to_string(), None))?;
            return Ok(ReadResourceResult::new(vec![
                ResourceContents::text(text, uri).with_mime_type("application/json"),
            ])
            .into());
        }
        let Some(encoded) = uri.strip_prefix(NOTE_URI_PREFIX) else {
            return Err(ErrorData::resource_not_found(
                format!("no resource {uri}; use kryton://notes or kryton://note/{{path}}"),
                None,
            ));
        };
        let raw = percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .map_err(|_| ErrorData::invalid_params("the note path is not valid UTF-8", None))?;
        let path = notes::write::note_path(&raw).map_err(|e| ErrorData::invalid_params(e.to_string(), None))?;
        match notes::write::read(&self.state.config, self.user_id(), &path).await {
            Ok(note) => Ok(ReadResourceResult::new(vec![
                ResourceContents::text(note.content, uri).with_mime_type("text/markdown"),
            ])
            .into()),
            Err(AppError::NotFound(_)) => Err(ErrorData::resource_not_found(
                format!("note {} not found", path.as_str()),
                None,
            )),
            Err(e) => Err(ErrorData::internal_error(tool_error_message(e), None)),
        }
    }
}
