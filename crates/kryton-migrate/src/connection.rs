//! The one dedicated connection the engine migrates on, never one from the application pool.

use std::path::PathBuf;

use sqlx::{Connection, PgConnection, SqliteConnection};

use crate::source::Dialect;

/// A connection opened for migrating, and (for SQLite) the path of its lock file.
pub enum MigrationConnection {
    Postgres(PgConnection),
    Sqlite {
        conn: SqliteConnection,
        /// An OS file lock beside the database file serialises migrating processes.
        lock_path: PathBuf,
    },
}

impl MigrationConnection {
    pub fn dialect(&self) -> Dialect {
        match self {
            MigrationConnection::Postgres(_) => Dialect::Postgres,
            MigrationConnection::Sqlite { .. } => Dialect::Sqlite,
        }
    }

    /// Closing (not just dropping) guarantees that a PostgreSQL session lock is gone.
    pub async fn close(self) {
        let result = match self {
            MigrationConnection::Postgres(conn) => conn.close().await,
            MigrationConnection::Sqlite { conn, .. } => conn.close().await,
        };
        if let Err(error) = result {
            tracing::debug!(%error, "closing the migration connection failed; the server drops it");
        }
    }
}
