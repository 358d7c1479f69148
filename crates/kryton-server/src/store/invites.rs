//! Single-use invite codes for `invite-only` registration.

use serde::Serialize;

use crate::db::Database;
use crate::on_db;

use super::{iso, new_id, now_ms, random_hex, sha256_hex};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct InviteRow {
    pub id: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub used_at: Option<i64>,
    pub used_by: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    pub id: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub used_at: Option<String>,
    pub used_by: Option<String>,
}

impl InviteRow {
    pub fn public(&self) -> Invite {
        Invite {
            id: self.id.clone(),
            created_by: self.created_by.clone(),
            created_at: iso(self.created_at),
            expires_at: self.expires_at.map(iso),
            used_at: self.used_at.map(iso),
            used_by: self.used_by.clone(),
        }
    }
}

/// Creates an invite; the code is returned once and stored only as a hash.
pub async fn create(
    db: &Database,
    created_by: &str,
    expires_at: Option<i64>,
) -> Result<(InviteRow, String), sqlx::Error> {
    const SQL: &str =
        "INSERT INTO invites (id, code_hash, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)";
    let code = random_hex(16);
    let row = InviteRow {
        id: new_id(),
        created_by: Some(created_by.to_owned()),
        created_at: now_ms(),
        expires_at,
        used_at: None,
        used_by: None,
    };
    on_db!(db, pool => sqlx::query(SQL)
        .bind(&row.id).bind(sha256_hex(&code)).bind(created_by).bind(row.created_at).bind(expires_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok((row, code))
}

pub async fn list(db: &Database) -> Result<Vec<InviteRow>, sqlx::Error> {
    const SQL: &str =
        "SELECT id, created_by, created_at, expires_at, used_at, used_by FROM invites ORDER BY created_at";
    on_db!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await)
}

pub async fn delete(db: &Database, id: &str) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, pool => sqlx::query("DELETE FROM invites WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
