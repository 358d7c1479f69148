//! Queries over either backend.
//!
//! Most of Kryton's SQL is portable between PostgreSQL and SQLite (numbered `$1` parameters,
//! `ON CONFLICT`, `RETURNING`), so a query is written once and [`on_db!`] runs it on whichever pool
//! is configured, with concrete types on each side (no `sqlx::Any`). Where the dialects really
//! differ (full-text search, locking), the module spells out both.

pub mod api_keys;
pub mod invites;
pub mod notes;
pub mod sessions;
pub mod settings;
pub mod shares;
pub mod two_factor;
pub mod user_settings;
pub mod users;

use sha2::{Digest, Sha256};

/// Runs the same expression against the PostgreSQL or the SQLite pool.
#[macro_export]
macro_rules! on_db {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Database::Postgres($pool) => $body,
            $crate::db::Database::Sqlite($pool) => $body,
        }
    };
}

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// `count` random bytes from the operating system's CSPRNG, hex-encoded.
pub fn random_hex(count: usize) -> String {
    let mut bytes = vec![0u8; count];
    if getrandom::fill(&mut bytes).is_err() {
        // Without an OS random source no secret can be minted safely: stop rather than guess.
        tracing::error!("the operating system's random number generator failed");
        std::process::abort();
    }
    hex::encode(bytes)
}

/// A new opaque identifier (128 random bits).
pub fn new_id() -> String {
    random_hex(16)
}

/// Whether `id` has the shape [`new_id`] gives (32 lower-case hex digits). A user's id names their
/// vault directory, so an id from outside (a restored archive, the command line) must pass this.
pub fn is_valid_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Secrets (session tokens, API keys, invite codes) are stored only as their SHA-256.
pub fn sha256_hex(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Formats epoch milliseconds as RFC 3339 for API responses.
pub fn iso(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Parses an RFC 3339 timestamp from a request into epoch milliseconds.
pub fn parse_iso(text: &str) -> Option<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .ok()
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
}

/// True when a unique constraint rejected the write.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}
