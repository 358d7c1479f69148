//! What can go wrong while migrating, each with its own documented process exit code.

use std::time::Duration;

use crate::source::SourceError;

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("migration {file} failed and was rolled back: {message}. Fix the cause and restart; nothing after it ran")]
    Failed { file: String, message: String },

    #[error("migration refused: {0}")]
    Refused(String),

    #[error(
        "migration {file} was edited after it was applied (ledger checksum {applied}, file checksum {embedded}); \
         restore the original file or ship the change as a new migration"
    )]
    ChecksumMismatch {
        file: String,
        applied: String,
        embedded: String,
    },

    #[error("gave up waiting for the migration lock after {}s; it is held by {holder}. \
             Wait for that migration to finish, or raise MIGRATION_LOCK_WAIT", waited.as_secs())]
    LockWaitExceeded { waited: Duration, holder: String },

    #[error("operator action needed: {0}")]
    NeedsOperator(String),

    #[error("pre-migration backup failed, so the destructive migration did not run: {0}")]
    BackupFailed(String),

    #[error("migration lock: {0}")]
    Lock(String),

    #[error(transparent)]
    Source(#[from] SourceError),

    #[error("database error while migrating: {0}")]
    Database(#[from] sqlx::Error),
}

/// Process exit codes, documented in docs/upgrades-and-migrations.md.
pub mod exit_code {
    pub const OK: i32 = 0;
    pub const OTHER: i32 = 1;
    pub const CONFIG: i32 = 2;
    pub const DATABASE_UNREACHABLE: i32 = 3;
    pub const MIGRATION_FAILED: i32 = 10;
    pub const MIGRATION_REFUSED: i32 = 11;
    pub const CHECKSUM_MISMATCH: i32 = 12;
    pub const LOCK_WAIT_EXCEEDED: i32 = 13;
    pub const NEEDS_OPERATOR: i32 = 14;
    pub const BACKUP_FAILED: i32 = 15;
    pub const INTERRUPTED: i32 = 16;
}

impl MigrateError {
    pub fn exit_code(&self) -> i32 {
        match self {
            MigrateError::Failed { .. } | MigrateError::Database(_) | MigrateError::Lock(_) => {
                exit_code::MIGRATION_FAILED
            }
            MigrateError::Refused(_) | MigrateError::Source(_) => exit_code::MIGRATION_REFUSED,
            MigrateError::ChecksumMismatch { .. } => exit_code::CHECKSUM_MISMATCH,
            MigrateError::LockWaitExceeded { .. } => exit_code::LOCK_WAIT_EXCEEDED,
            MigrateError::NeedsOperator(_) => exit_code::NEEDS_OPERATOR,
            MigrateError::BackupFailed(_) => exit_code::BACKUP_FAILED,
        }
    }
}
