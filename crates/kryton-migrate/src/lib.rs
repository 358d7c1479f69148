//! Kryton's migration engine.
//!
//! Plain SQL files embedded in the binary, applied in version order under a lock, each in its own
//! transaction together with its ledger row. The ledger stores every file's checksum and
//! compatibility class, so that edits are caught and an older binary can tell whether a newer
//! schema is safe for it. See docs/upgrades-and-migrations.md for the operator's view.

mod connection;
mod engine;
mod error;
pub mod ledger;
mod lint;
mod lock;
mod source;

pub use connection::MigrationConnection;
pub use engine::{
    AppliedMigration, Assessment, BackupHook, MigrationState, Options, Plan, ProgressHook, Report, Resolution, Status,
    assess, migrate, plan, plan_of, resolve, status, status_of,
};
pub use error::{MigrateError, exit_code};
pub use ledger::{LedgerEntry, LedgerStatus};
pub use lint::non_additive_statements;
pub use lock::ADVISORY_KEY;
pub use source::{Compat, Dialect, Migration, MigrationSet, SourceError, canonical_text, checksum, parse_duration};
