//! The tools beyond notes: the user's settings, canvases (JSON Canvas files) and attachments.
//! Each is a thin call into the same functions the REST routes call (`crate::user_settings`,
//! `crate::canvas`, `crate::attachments`), so limits, validation and path confinement are the
//! REST API's. File bytes travel as base64 inside JSON-RPC, in bounded parts: a tool answer never
//! carries a whole large file, and an upload through MCP is capped well below what a streamed
//! `POST /api/files` accepts.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{KrytonMcp, tool_error_message};
use crate::attachments::{self, FileInfo};
use crate::error::AppError;
use crate::notes::millis;
use crate::store::iso;
use crate::vault::FolderPath;
use crate::{canvas, user_settings};

fn fail(error: AppError) -> String {
    tool_error_message(error)
}

/// Bytes of a file returned by one `read_file` call unless `maxBytes` says otherwise.
pub const READ_FILE_BYTES: usize = 256 * 1024;
/// The most `maxBytes` may ask for: about 1.4 MB of base64 in one answer.
pub const READ_FILE_MAX_BYTES: usize = 1024 * 1024;
/// The largest file `upload_file` takes (decoded), when `MAX_UPLOAD_BYTES` is not smaller: the
/// whole request sits in memory as JSON, so bigger files go through the streamed `POST /api/files`.
pub const UPLOAD_MAX_BYTES: u64 = 4 * 1024 * 1024;
/// The MCP request body limit: room for a base64 upload of [`UPLOAD_MAX_BYTES`] and its framing.
pub const REQUEST_BODY_BYTES: usize = 6 * 1024 * 1024;

/// Standard base64, padding optional (agents drop it now and then); whitespace is removed first.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

// ---- arguments ----

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SetSettingArgs {
    /// The setting's key: 1 to 100 letters, digits, '_', '.' or '-' (e.g. 'theme').
    pub key: String,
    /// The value, a string of at most 64 KiB (JSON-encode structured values yourself).
    pub value: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CanvasNameArg {
    /// The canvas's name, with or without '.canvas' (as list_canvases gives it), e.g. 'Roadmap'.
    pub name: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WriteCanvasArgs {
    /// The canvas's name, with or without '.canvas'; it is stored as 'Canvas/<name>.canvas'.
    pub name: String,
    /// The whole JSON Canvas 1.0 document: {"nodes": [...], "edges": [...]}. Nodes need id, type
    /// (text, file, link or group), x, y, width, height and their type's field (text, file or
    /// url); edges need id, fromNode and toNode naming existing nodes.
    pub content: Map<String, Value>,
    /// Fail instead of replacing an existing canvas of that name.
    pub create_only: Option<bool>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListFilesArgs {
    /// Only files in this folder (and its subfolders), e.g. 'attachments'.
    pub folder: Option<String>,
    /// Files per page, 1 to 1000 (default 200).
    pub limit: Option<u32>,
    /// Skip this many files: pass the previous answer's nextOffset.
    pub offset: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReadFileArgs {
    /// The file's vault path as list_files gives it (e.g. 'attachments/photo.png'), or a bare
    /// file name as a note embeds it ('photo.png').
    pub path: String,
    /// Start at this byte (for large files: the previous answer's nextOffset).
    pub offset: Option<u64>,
    /// At most this many bytes, 0 to 1048576 (default 262144); 0 returns only the metadata.
    pub max_bytes: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct UploadFileArgs {
    /// The file name, e.g. 'diagram.png' (no '/'; not '.md': notes are created with create_note).
    /// It is stored as 'attachments/<name>'; a taken name gets '-2', '-3'... before the extension.
    pub name: String,
    /// The file's bytes, base64-encoded (standard alphabet; padding and line breaks are allowed).
    pub content_base64: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct FilePathArg {
    /// The file's vault path, e.g. 'attachments/photo.png'.
    pub path: String,
}

// ---- answers ----

#[derive(Debug, Serialize, JsonSchema)]
pub struct Settings {
    /// Every setting of the user, key to value.
    pub settings: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct SettingStored {
    pub success: bool,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct Canvases {
    /// Canvas names (without '.canvas'), for read_canvas, write_canvas and delete_canvas.
    pub canvases: Vec<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CanvasRead {
    pub name: String,
    /// Its vault path ('Canvas/<name>.canvas').
    pub path: String,
    /// The JSON Canvas document.
    pub content: Value,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CanvasWritten {
    pub success: bool,
    pub name: String,
    pub path: String,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct CanvasDeleted {
    pub success: bool,
    pub name: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileEntry {
    /// The vault path, as read_file and delete_file take it.
    pub path: String,
    pub name: String,
    /// Size in bytes.
    pub size: u64,
    /// The media type guessed from the extension.
    pub media_type: String,
    pub modified_at: String,
    /// Where the REST API serves it (with the same API key).
    pub url: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilePage {
    pub files: Vec<FileEntry>,
    /// All files matching (before paging).
    pub total: usize,
    /// Pass as offset for the next page; absent on the last page.
    pub next_offset: Option<u32>,
}

/// How `content` carries the bytes.
#[derive(Debug, Serialize, JsonSchema, PartialEq)]
pub enum Encoding {
    /// The bytes are UTF-8 text without control characters: `content` is that text.
    #[serde(rename = "utf-8")]
    Utf8,
    /// Anything else: `content` is standard base64.
    #[serde(rename = "base64")]
    Base64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileRead {
    #[serde(flatten)]
    pub file: FileEntry,
    /// The first byte of this part.
    pub offset: u64,
    /// Bytes in this part.
    pub length: u64,
    pub encoding: Encoding,
    /// This part's bytes, as text or base64 (see encoding).
    pub content: String,
    /// True when the file goes on after this part: call again with offset = nextOffset.
    pub truncated: bool,
    pub next_offset: Option<u64>,
}

#[derive(Debug, Serialize, JsonSchema)]
pub struct FileUploaded {
    pub success: bool,
    /// Where it was stored, e.g. 'attachments/diagram.png'; embed it in a note as ![[diagram.png]].
    pub path: String,
    pub url: String,
    pub size: u64,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FileDeleted {
    pub success: bool,
    pub path: String,
    /// Where it sits in the trash (restorable from the web app).
    pub trash_path: String,
}

fn entry(file: &FileInfo) -> FileEntry {
    FileEntry {
        path: file.path.as_str().to_owned(),
        name: file.path.file_name().to_owned(),
        size: file.size,
        media_type: file.media_type(),
        modified_at: iso(millis(file.modified)),
        url: attachments::url_of(&file.path),
    }
}

/// Text when the bytes are UTF-8 without control characters (a character cut at the end of the
/// part is left for the next part); base64 otherwise. Returns the encoding, the content and how
/// many bytes it covers.
fn encode_part(bytes: &[u8], at_end: bool) -> (Encoding, String, usize) {
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        // A multi-byte character split by the part's end: stop before it.
        Err(e) if e.error_len().is_none() && !at_end && e.valid_up_to() > 0 => {
            std::str::from_utf8(&bytes[..e.valid_up_to()]).ok()
        }
        Err(_) => None,
    };
    match text {
        Some(text)
            if !text
                .chars()
                .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\u{c}')) =>
        {
            (Encoding::Utf8, text.to_owned(), text.len())
        }
        _ => (Encoding::Base64, BASE64.encode(bytes), bytes.len()),
    }
}

/// Decodes an upload's base64, refusing before decoding anything when it is too large.
fn decode_upload(encoded: &str, limit: u64) -> Result<Vec<u8>, String> {
    let compact: Vec<u8> = encoded.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    // Valid base64 of n bytes has exactly ceil(4n/3) characters before its padding.
    let significant = compact.iter().rposition(|&b| b != b'=').map_or(0, |i| i + 1) as u64;
    if significant * 3 / 4 > limit {
        return Err(format!(
            "the file is larger than the {limit} bytes upload_file takes; upload it with POST /api/files \
             (multipart, up to MAX_UPLOAD_BYTES)"
        ));
    }
    let bytes = BASE64
        .decode(&compact)
        .map_err(|e| format!("contentBase64 is not valid base64: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("the file is larger than the {limit} bytes upload_file takes"));
    }
    Ok(bytes)
}

#[tool_router(router = workspace_router, vis = "pub(super)")]
impl KrytonMcp {
    #[tool(
        description = "Read the user's settings (theme, starred notes, editor preferences...): every key with its \
                       string value.",
        annotations(title = "Read settings", read_only_hint = true, open_world_hint = false)
    )]
    async fn get_settings(&self) -> Result<Json<Settings>, String> {
        let settings = user_settings::all(&self.state.db, self.user_id()).await.map_err(fail)?;
        Ok(Json(Settings { settings }))
    }

    #[tool(
        description = "Store one setting of the user (creates or replaces the key). Values are strings of at \
                       most 64 KiB; at most 200 keys per user.",
        annotations(
            title = "Change a setting",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn set_setting(&self, Parameters(args): Parameters<SetSettingArgs>) -> Result<Json<SettingStored>, String> {
        user_settings::put(&self.state.db, self.user_id(), &args.key, &args.value)
            .await
            .map_err(fail)?;
        Ok(Json(SettingStored {
            success: true,
            key: args.key,
            value: args.value,
        }))
    }

    #[tool(
        description = "List the user's canvases (JSON Canvas boards of cards, notes and links kept in the \
                       'Canvas' folder), by name.",
        annotations(title = "List canvases", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_canvases(&self) -> Result<Json<Canvases>, String> {
        let canvases = canvas::list(&self.state.config, self.user_id()).await.map_err(fail)?;
        Ok(Json(Canvases { canvases }))
    }

    #[tool(
        description = "Read a canvas: its JSON Canvas 1.0 document (nodes with positions and text, file or link, \
                       and the edges between them).",
        annotations(title = "Read a canvas", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_canvas(&self, Parameters(args): Parameters<CanvasNameArg>) -> Result<Json<CanvasRead>, String> {
        let path = canvas::path_of(&args.name).map_err(fail)?;
        let content = canvas::read(&self.state.config, self.user_id(), &args.name)
            .await
            .map_err(fail)?;
        Ok(Json(CanvasRead {
            name: canvas_name(path.file_name()),
            path: path.as_str().to_owned(),
            content,
        }))
    }

    #[tool(
        description = "Create or replace a canvas with a whole JSON Canvas 1.0 document (validated: node types \
                       and fields, unique ids, edges between existing nodes). Set createOnly to refuse \
                       replacing an existing canvas. To change one, read_canvas, modify, write it back.",
        annotations(
            title = "Write a canvas",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn write_canvas(&self, Parameters(args): Parameters<WriteCanvasArgs>) -> Result<Json<CanvasWritten>, String> {
        let path = canvas::path_of(&args.name).map_err(fail)?;
        let create_only = args.create_only.unwrap_or(false);
        let document = Value::Object(args.content);
        canvas::write(&self.state.config, self.user_id(), &args.name, &document, create_only)
            .await
            .map_err(|e| match e {
                AppError::Conflict(_) => format!(
                    "a canvas named {} already exists; leave out createOnly to replace it",
                    canvas_name(path.file_name())
                ),
                e => fail(e),
            })?;
        Ok(Json(CanvasWritten {
            success: true,
            name: canvas_name(path.file_name()),
            path: path.as_str().to_owned(),
        }))
    }

    #[tool(
        description = "Move a canvas to the trash (the user can restore it from the web app).",
        annotations(
            title = "Delete a canvas",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn delete_canvas(&self, Parameters(args): Parameters<CanvasNameArg>) -> Result<Json<CanvasDeleted>, String> {
        let path = canvas::path_of(&args.name).map_err(fail)?;
        canvas::delete(&self.state.config, self.user_id(), &args.name)
            .await
            .map_err(fail)?;
        Ok(Json(CanvasDeleted {
            success: true,
            name: canvas_name(path.file_name()),
        }))
    }

    #[tool(
        description = "List the files of the vault that are not notes (uploaded images and PDFs under \
                       'attachments', canvases, anything else), with size and media type, sorted by path, \
                       a page at a time (follow nextOffset). read_file reads one.",
        annotations(title = "List files", read_only_hint = true, open_world_hint = false)
    )]
    async fn list_files(&self, Parameters(args): Parameters<ListFilesArgs>) -> Result<Json<FilePage>, String> {
        let limit = args.limit.unwrap_or(200);
        if !(1..=1000).contains(&limit) {
            return Err("limit must be from 1 to 1000".to_owned());
        }
        let offset = args.offset.unwrap_or(0) as usize;
        let folder = match args.folder.as_deref().map(str::trim).filter(|f| !f.is_empty()) {
            Some(f) => Some(FolderPath::parse(f).map_err(|e| fail(AppError::Validation(e.to_string())))?),
            None => None,
        };
        let all = attachments::list(&self.state.config, self.user_id(), folder)
            .await
            .map_err(fail)?;
        let total = all.len();
        let files: Vec<FileEntry> = all.iter().skip(offset).take(limit as usize).map(entry).collect();
        let end = offset + files.len();
        Ok(Json(FilePage {
            files,
            total,
            next_offset: (end < total).then_some(end as u32),
        }))
    }

    #[tool(
        description = "Read a file that is not a note: its metadata and a part of its bytes (from offset, at most \
                       maxBytes, default 256 KiB), as text when it is UTF-8 text and as base64 otherwise. \
                       Large files come in parts: when truncated, call again with offset = nextOffset. \
                       maxBytes 0 returns the metadata only.",
        annotations(title = "Read a file", read_only_hint = true, open_world_hint = false)
    )]
    async fn read_file(&self, Parameters(args): Parameters<ReadFileArgs>) -> Result<Json<FileRead>, String> {
        let max = args.max_bytes.unwrap_or(READ_FILE_BYTES);
        if max > READ_FILE_MAX_BYTES {
            return Err(format!(
                "maxBytes must be at most {READ_FILE_MAX_BYTES}; read large files in parts"
            ));
        }
        let offset = args.offset.unwrap_or(0);
        let (file, bytes) = attachments::read_part(&self.state.config, self.user_id(), &args.path, offset, max)
            .await
            .map_err(fail)?;
        let at_end = offset + bytes.len() as u64 >= file.size;
        let (encoding, content, covered) = encode_part(&bytes, at_end);
        let end = offset + covered as u64;
        Ok(Json(FileRead {
            file: entry(&file),
            offset,
            length: covered as u64,
            encoding,
            content,
            truncated: end < file.size,
            next_offset: (end < file.size).then_some(end),
        }))
    }

    #[tool(
        description = "Store a file (an image, a PDF...) given as base64 under 'attachments/', where notes embed \
                       it with ![[name]]. Never overwrites: a taken name gets '-2', '-3'... Takes files up to \
                       4 MiB (or MAX_UPLOAD_BYTES if smaller); larger ones go through POST /api/files.",
        annotations(
            title = "Upload a file",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn upload_file(&self, Parameters(args): Parameters<UploadFileArgs>) -> Result<Json<FileUploaded>, String> {
        attachments::check_name(&args.name).map_err(fail)?;
        let limit = self.state.config.max_upload_bytes.min(UPLOAD_MAX_BYTES);
        let encoded = args.content_base64;
        let bytes = tokio::task::spawn_blocking(move || decode_upload(&encoded, limit))
            .await
            .map_err(|e| fail(AppError::Internal(e.into())))??;
        let size = bytes.len() as u64;
        let chunks = futures_util::stream::iter([Ok::<_, AppError>(axum::body::Bytes::from(bytes))]);
        let stored = attachments::upload(&self.state.config, self.user_id(), &args.name, chunks)
            .await
            .map_err(fail)?;
        Ok(Json(FileUploaded {
            success: true,
            url: attachments::url_of(&stored),
            path: stored.as_str().to_owned(),
            size,
        }))
    }

    #[tool(
        description = "Move a file that is not a note (an attachment) to the trash (restorable from the web app). \
                       Notes are deleted with delete_note, canvases with delete_canvas.",
        annotations(
            title = "Delete a file",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn delete_file(&self, Parameters(args): Parameters<FilePathArg>) -> Result<Json<FileDeleted>, String> {
        let trashed = attachments::delete(&self.state.config, self.user_id(), &args.path)
            .await
            .map_err(fail)?;
        Ok(Json(FileDeleted {
            success: true,
            path: trashed.original_path,
            trash_path: trashed.trash_path,
        }))
    }
}

/// `Roadmap.canvas` → `Roadmap`.
fn canvas_name(file_name: &str) -> String {
    file_name.strip_suffix(canvas::SUFFIX).unwrap_or(file_name).to_owned()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn text_parts_stay_text_and_binary_goes_base64() {
        assert_eq!(
            encode_part(b"a,b\n1,2\n", true),
            (Encoding::Utf8, "a,b\n1,2\n".to_owned(), 8)
        );
        let png = [0x89, b'P', b'N', b'G', 0, 1, 2];
        let (encoding, content, covered) = encode_part(&png, true);
        assert_eq!((encoding, covered), (Encoding::Base64, 7));
        assert_eq!(BASE64.decode(content).unwrap(), png);
        // Text with a NUL is binary.
        assert_eq!(encode_part(b"a\0b", true).0, Encoding::Base64);
        // "é" cut in half by the part's end: the text stops before it, the next part starts there.
        let bytes = "caf\u{e9}".as_bytes();
        assert_eq!(encode_part(&bytes[..4], false), (Encoding::Utf8, "caf".to_owned(), 3));
        // ...but at the file's real end the half character is data: base64.
        assert_eq!(encode_part(&bytes[..4], true).0, Encoding::Base64);
    }

    #[test]
    fn uploads_are_checked_before_decoding() {
        assert_eq!(decode_upload("aGVs\nbG8=", 100).unwrap(), b"hello");
        assert_eq!(decode_upload("aGVsbG8", 100).unwrap(), b"hello", "padding is optional");
        assert!(
            decode_upload("not base64!", 100)
                .unwrap_err()
                .contains("not valid base64")
        );
        let big = BASE64.encode(vec![0u8; 300]);
        assert!(decode_upload(&big, 299).unwrap_err().contains("POST /api/files"));
        assert_eq!(decode_upload(&big, 300).unwrap().len(), 300);
        // Padding does not count: exactly the limit passes.
        let padded = BASE64.encode(vec![0u8; 1000]);
        assert!(padded.ends_with("=="));
        assert_eq!(decode_upload(&padded, 1000).unwrap().len(), 1000);
        assert!(decode_upload(&BASE64.encode(vec![0u8; 1001]), 1000).is_err());
    }
}
