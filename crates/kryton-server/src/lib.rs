//! Kryton: a self-hosted markdown knowledge base server.
//!
//! Every boot brings the schema forward before the HTTP listener opens; see [`boot`].

pub mod attachments;
pub mod auth;
pub mod backup;
pub mod boot;
pub mod canvas;
pub mod cli;
pub mod config;
pub mod crash;
pub mod db;
pub mod error;
pub mod http;
pub mod listener;
pub mod markdown;
pub mod mcp;
pub mod migrations;
pub mod notes;
pub mod progress;
pub mod store;
pub mod telemetry;
pub mod upgrade_check;
pub mod user_settings;
pub mod vault;
pub mod version;

pub use boot::{BootError, run, serve};
pub use config::Config;

/// This machine's name, for logs, the ledger and `application_name`.
pub use kryton_migrate::ledger::hostname;
