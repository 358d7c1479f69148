//! API keys for scripts and AI agents: `kryton_` + 64 hex characters, stored as SHA-256.

use serde::Serialize;

use crate::db::Database;
use crate::on_db;

use super::{iso, new_id, now_ms, random_hex, sha256_hex};

/// A user may hold at most this many keys.
pub const MAX_KEYS_PER_USER: i64 = 10;
pub const KEY_PREFIX: &str = "kryton_";
/// How much of a key is kept in clear to recognise it in a list.
const SHOWN_PREFIX_LEN: usize = 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Scope {
    #[serde(rename = "read-only")]
    ReadOnly,
    #[serde(rename = "read-write")]
    ReadWrite,
}

impl Scope {
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReadOnly => "read-only",
            Scope::ReadWrite => "read-write",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "read-only" => Some(Scope::ReadOnly),
            "read-write" => Some(Scope::ReadWrite),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub user_id: String,
    pub name: String,
    pub key_prefix: String,
    pub scope: String,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
    pub created_at: i64,
}

/// A key as listed: never the secret.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub key_prefix: String,
    pub scope: Scope,
    pub expires_at: Option<String>,
    pub last_used_at: Option<String>,
    pub created_at: String,
}

impl ApiKeyRow {
    pub fn scope(&self) -> Scope {
        // Unknown values are treated as the weaker scope.
        Scope::parse(&self.scope).unwrap_or(Scope::ReadOnly)
    }
    pub fn public(&self) -> ApiKey {
        ApiKey {
            id: self.id.clone(),
            name: self.name.clone(),
            key_prefix: self.key_prefix.clone(),
            scope: self.scope(),
            expires_at: self.expires_at.map(iso),
            last_used_at: self.last_used_at.map(iso),
            created_at: iso(self.created_at),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("a user may hold at most {MAX_KEYS_PER_USER} API keys; delete one first")]
    TooMany,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates a key and returns it with its plaintext, which is never stored.
pub async fn create(
    db: &Database,
    user_id: &str,
    name: &str,
    scope: Scope,
    expires_at: Option<i64>,
) -> Result<(ApiKeyRow, String), CreateError> {
    const COUNT: &str = "SELECT count(*) FROM api_keys WHERE user_id = $1";
    const INSERT: &str = "INSERT INTO api_keys (id, user_id, name, key_hash, key_prefix, scope, expires_at, created_at) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    let secret = format!("{KEY_PREFIX}{}", random_hex(32));
    let row = ApiKeyRow {
        id: new_id(),
        user_id: user_id.to_owned(),
        name: name.to_owned(),
        key_prefix: secret[..SHOWN_PREFIX_LEN].to_owned(),
        scope: scope.as_str().to_owned(),
        expires_at,
        last_used_at: None,
        created_at: now_ms(),
    };
    let result: Result<(), CreateError> = on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        if matches!(db, Database::Postgres(_)) {
            sqlx::query("SELECT pg_advisory_xact_lock(7243062)").execute(&mut *tx).await?;
        }
        let count: i64 = sqlx::query_scalar(COUNT).bind(user_id).fetch_one(&mut *tx).await?;
        if count >= MAX_KEYS_PER_USER {
            return Err(CreateError::TooMany);
        }
        sqlx::query(INSERT)
            .bind(&row.id).bind(user_id).bind(name).bind(sha256_hex(&secret)).bind(&row.key_prefix)
            .bind(scope.as_str()).bind(expires_at).bind(row.created_at)
            .execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    });
    result?;
    Ok((row, secret))
}

pub async fn list(db: &Database, user_id: &str) -> Result<Vec<ApiKeyRow>, sqlx::Error> {
    const SQL: &str = "SELECT id, user_id, name, key_prefix, scope, expires_at, last_used_at, created_at \
        FROM api_keys WHERE user_id = $1 ORDER BY created_at";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).fetch_all(pool).await)
}

/// Deletes one of the user's keys; another user's key id is "not found".
pub async fn delete(db: &Database, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "DELETE FROM api_keys WHERE id = $1 AND user_id = $2";
    let n = on_db!(db, pool => sqlx::query(SQL).bind(id).bind(user_id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// The unexpired key for a presented secret.
pub async fn by_secret(db: &Database, secret: &str) -> Result<Option<ApiKeyRow>, sqlx::Error> {
    const SQL: &str = "SELECT id, user_id, name, key_prefix, scope, expires_at, last_used_at, created_at \
        FROM api_keys WHERE key_hash = $1 AND (expires_at IS NULL OR expires_at > $2)";
    on_db!(db, pool => sqlx::query_as(SQL).bind(sha256_hex(secret)).bind(now_ms()).fetch_optional(pool).await)
}

pub async fn touch(db: &Database, id: &str, at: i64) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query("UPDATE api_keys SET last_used_at = $2 WHERE id = $1").bind(id).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
