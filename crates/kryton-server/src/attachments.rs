//! Attachments: files that are not notes (pasted images, PDFs) in the user's vault, below every
//! face that stores or serves them.
//!
//! Uploads land in `attachments/<original name>` (`name-2.ext`, `name-3.ext`… when taken), so a
//! note can embed them as `![[name.ext]]` or `![](attachments/name.ext)` and the vault stays a
//! plain folder any editor understands. The name is checked with the vault's path rules and
//! refused (400) when it breaks one; it is never silently rewritten. Bytes are streamed to a
//! hidden temporary file in that folder, counted against `MAX_UPLOAD_BYTES` (413 and the file
//! removed when exceeded), fsynced, then renamed into place and the folder fsynced.

use std::io::{Read, Seek, SeekFrom};
use std::time::SystemTime;

use axum::body::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use crate::config::Config;
use crate::error::AppError;
use crate::notes::{blocking, vault};
use crate::vault::{FilePath, FolderPath, TrashEntry, VaultError};

/// The folder uploads go to.
pub const FOLDER: &str = "attachments";

/// Checks an uploaded file's name: one segment that would be a valid vault path.
pub fn check_name(name: &str) -> Result<(), AppError> {
    if name.contains('/') {
        return Err(AppError::Validation("a file name must not contain '/'".to_owned()));
    }
    FilePath::parse(&format!("{FOLDER}/{name}")).map_err(|e| AppError::Validation(e.to_string()))?;
    Ok(())
}

/// Streams `chunks` into the user's `attachments/` folder under `name`; returns the stored path.
pub async fn upload<S, E>(config: &Config, user_id: &str, name: &str, mut chunks: S) -> Result<FilePath, AppError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Into<AppError>,
{
    check_name(name)?;
    let vault = vault(config, user_id);
    let folder = FolderPath::parse(FOLDER).map_err(|e| AppError::Internal(e.into()))?;
    let maker = (vault.clone(), folder.clone());
    let (temp, file) = blocking(move || maker.0.upload_temp(&maker.1)).await?;
    let limit = config.max_upload_bytes;
    // The file stays open (and so locked against boot's temp-file sweep) until it has its name.
    let mut file = tokio::fs::File::from_std(file);
    let written = async {
        let mut size: u64 = 0;
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(Into::into)?;
            size += chunk.len() as u64;
            if size > limit {
                return Err(AppError::PayloadTooLarge(format!(
                    "the file is larger than the limit of {limit} bytes (MAX_UPLOAD_BYTES)"
                )));
            }
            file.write_all(&chunk).await.map_err(crate::notes::storage_error)?;
        }
        file.sync_all().await.map_err(crate::notes::storage_error)?;
        Ok(())
    }
    .await;
    if let Err(error) = written {
        drop(file);
        let _ = tokio::fs::remove_file(&temp).await;
        return Err(error);
    }
    let held = file.into_std().await;
    let (name, to_remove) = (name.to_owned(), temp.clone());
    let stored = blocking(move || {
        let stored = vault.store_file(&folder, &name, &temp);
        drop(held);
        stored
    })
    .await;
    if stored.is_err() {
        let _ = tokio::fs::remove_file(&to_remove).await;
    }
    stored
}

/// Finds a file the way a link names it: the exact vault path, else `attachments/<name>`, else
/// the one file of the vault with that name (as `![[image.png]]` does in Obsidian).
pub async fn find(config: &Config, user_id: &str, raw: &str) -> Result<(FilePath, std::path::PathBuf), AppError> {
    let path = FilePath::parse(raw).map_err(|e| AppError::Validation(e.to_string()))?;
    let vault = vault(config, user_id);
    blocking(move || {
        match vault.file(&path) {
            Ok(abs) => return Ok((path, abs)),
            Err(VaultError::NotFound(_)) if !path.as_str().contains('/') => {}
            Err(e) => return Err(e),
        }
        let in_folder = FilePath::parse(&format!("{FOLDER}/{}", path.as_str()))?;
        if let Ok(abs) = vault.file(&in_folder) {
            return Ok((in_folder, abs));
        }
        let wanted = path.file_name().to_lowercase();
        let mut hits = vault
            .list_files()?
            .into_iter()
            .filter(|f| f.file_name().to_lowercase() == wanted);
        match (hits.next(), hits.next()) {
            (Some(only), None) => {
                let abs = vault.file(&only)?;
                Ok((only, abs))
            }
            _ => Err(VaultError::NotFound("file")),
        }
    })
    .await
}

/// A file that is not a note, as listings and readers describe it.
#[derive(Debug, Clone)]
pub struct FileInfo {
    pub path: FilePath,
    pub size: u64,
    pub modified: SystemTime,
}

impl FileInfo {
    /// The media type guessed from the extension (`application/octet-stream` when unknown).
    pub fn media_type(&self) -> String {
        mime_guess::from_path(self.path.file_name())
            .first_or_octet_stream()
            .essence_str()
            .to_owned()
    }
}

fn info(path: FilePath, meta: &std::fs::Metadata) -> FileInfo {
    FileInfo {
        path,
        size: meta.len(),
        modified: meta.modified().unwrap_or(SystemTime::UNIX_EPOCH),
    }
}

/// The user's files that are not notes (uploads, canvases, anything another editor put in the
/// vault), sorted by path; with `folder`, only those in it or below it. A file removed while the
/// listing runs is left out.
pub async fn list(config: &Config, user_id: &str, folder: Option<FolderPath>) -> Result<Vec<FileInfo>, AppError> {
    let vault = vault(config, user_id);
    blocking(move || {
        let mut out = Vec::new();
        for path in vault.list_files()? {
            if folder.as_ref().is_some_and(|f| !f.contains(path.as_str())) {
                continue;
            }
            let meta = match vault.file(&path).and_then(|abs| Ok(std::fs::metadata(abs)?)) {
                Ok(meta) => meta,
                Err(VaultError::NotFound(_)) => continue,
                Err(VaultError::Io(e)) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            out.push(info(path, &meta));
        }
        Ok(out)
    })
    .await
}

/// A file found as [`find`] does, and at most `max` of its bytes from `offset`: lets a client
/// without range requests (an agent) read a large file in parts, never all at once.
pub async fn read_part(
    config: &Config,
    user_id: &str,
    raw: &str,
    offset: u64,
    max: usize,
) -> Result<(FileInfo, Vec<u8>), AppError> {
    let (path, abs) = find(config, user_id, raw).await?;
    let (file, bytes) = blocking(move || {
        let mut file = std::fs::File::open(&abs)?;
        let meta = file.metadata()?;
        let wanted = meta.len().saturating_sub(offset).min(max as u64);
        let mut bytes = Vec::with_capacity(wanted as usize);
        if wanted > 0 {
            file.seek(SeekFrom::Start(offset))?;
            file.take(wanted).read_to_end(&mut bytes)?;
        }
        Ok((info(path, &meta), bytes))
    })
    .await?;
    if offset > file.size {
        return Err(AppError::Validation(format!(
            "offset {offset} is past the end of the file ({} bytes)",
            file.size
        )));
    }
    Ok((file, bytes))
}

/// Moves an attachment to the trash.
pub async fn delete(config: &Config, user_id: &str, raw: &str) -> Result<TrashEntry, AppError> {
    let path = FilePath::parse(raw).map_err(|e| AppError::Validation(e.to_string()))?;
    let vault = vault(config, user_id);
    blocking(move || vault.delete_file(&path)).await
}

/// The URL path a stored file is served at: `/api/files/` and its percent-encoded segments.
pub fn url_of(path: &FilePath) -> String {
    let mut url = String::from("/api/files");
    for segment in path.as_str().split('/') {
        url.push('/');
        url.push_str(&percent_encode(segment));
    }
    url
}

/// RFC 3986 percent-encoding of everything but unreserved characters.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Types a browser would run as active content when opened directly: always served as a
/// download, never inline.
pub fn is_active_content(name: &str) -> bool {
    let ext = name
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    matches!(
        ext.as_str(),
        "svg" | "svgz" | "html" | "htm" | "xhtml" | "xht" | "xml" | "xsl" | "js" | "mjs" | "swf"
    )
}
