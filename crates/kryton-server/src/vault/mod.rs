//! The per-user vault on disk: validated paths, durable writes, history and trash.
//!
//! Pure file-system code with no database and no HTTP, so the index and the routes can be built
//! on top and every rule here is unit-tested against real directories.

pub mod fs;
pub mod path;
pub mod sample;

pub use fs::journal;
pub use fs::{
    EntryKind, HistoryVersion, Note, NoteFile, Restored, TrashEntry, TreeNode, Vault, VaultError, content_hash,
    daily_note_path, write_atomic,
};
pub use path::{FilePath, FolderPath, NotePath, PathError};
