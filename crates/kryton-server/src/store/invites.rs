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
    /// Readable until the invite is used; NULL for invites made before version 0004.
    pub code: Option<String>,
}

/// An invite as admins see it. `createdById`/`usedById` are the original's names for
/// `createdBy`/`usedBy`; both are given.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    pub id: String,
    /// The code to hand out, while the invite is unused.
    pub code: Option<String>,
    pub created_by: Option<String>,
    pub created_by_id: Option<String>,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub used_at: Option<String>,
    pub used_by: Option<String>,
    pub used_by_id: Option<String>,
}

impl InviteRow {
    pub fn public(&self) -> Invite {
        Invite {
            id: self.id.clone(),
            code: self.code.clone().filter(|_| self.used_at.is_none()),
            created_by: self.created_by.clone(),
            created_by_id: self.created_by.clone(),
            created_at: iso(self.created_at),
            expires_at: self.expires_at.map(iso),
            used_at: self.used_at.map(iso),
            used_by: self.used_by.clone(),
            used_by_id: self.used_by.clone(),
        }
    }
}

/// Creates an invite. The hash is what sign-up matches; the code itself is kept for the admin
/// list until the invite is used.
pub async fn create(
    db: &Database,
    created_by: &str,
    expires_at: Option<i64>,
) -> Result<(InviteRow, String), sqlx::Error> {
    const SQL: &str =
        "INSERT INTO invites (id, code_hash, code, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)";
    let code = random_hex(16);
    let row = InviteRow {
        id: new_id(),
        created_by: Some(created_by.to_owned()),
        created_at: now_ms(),
        expires_at,
        used_at: None,
        used_by: None,
        code: Some(code.clone()),
    };
    on_db!(db, pool => sqlx::query(SQL)
        .bind(&row.id).bind(sha256_hex(&code)).bind(&code).bind(created_by).bind(row.created_at).bind(expires_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok((row, code))
}

pub async fn list(db: &Database) -> Result<Vec<InviteRow>, sqlx::Error> {
    const SQL: &str =
        "SELECT id, created_by, created_at, expires_at, used_at, used_by, code FROM invites ORDER BY created_at";
    on_db!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await)
}

pub async fn delete(db: &Database, id: &str) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, pool => sqlx::query("DELETE FROM invites WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}
