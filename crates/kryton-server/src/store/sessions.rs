//! Sign-in sessions, stored in the database so that any replica can serve any request.

use crate::db::Database;
use crate::on_db;

use super::{new_id, now_ms, random_hex, sha256_hex};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub refreshed_at: i64,
}

/// A new session: the plaintext token goes to the client once; only its hash is stored.
pub struct NewSession {
    pub token: String,
    pub row: SessionRow,
}

pub async fn create(db: &Database, user_id: &str, ttl_ms: i64) -> Result<NewSession, sqlx::Error> {
    const SQL: &str = "INSERT INTO sessions (id, token_hash, user_id, created_at, expires_at, refreshed_at) \
        VALUES ($1, $2, $3, $4, $5, $4)";
    let token = random_hex(32);
    let now = now_ms();
    let row = SessionRow {
        id: new_id(),
        user_id: user_id.to_owned(),
        created_at: now,
        expires_at: now + ttl_ms,
        refreshed_at: now,
    };
    on_db!(db, pool => sqlx::query(SQL)
        .bind(&row.id).bind(sha256_hex(&token)).bind(user_id).bind(now).bind(row.expires_at)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(NewSession { token, row })
}

/// The unexpired session for a token.
pub async fn by_token(db: &Database, token: &str) -> Result<Option<SessionRow>, sqlx::Error> {
    const SQL: &str = "SELECT id, user_id, created_at, expires_at, refreshed_at FROM sessions WHERE token_hash = $1 AND expires_at > $2";
    on_db!(db, pool => sqlx::query_as(SQL).bind(sha256_hex(token)).bind(now_ms()).fetch_optional(pool).await)
}

/// Sliding expiry: pushes the end of a session that is in use.
pub async fn refresh(db: &Database, id: &str, ttl_ms: i64) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE sessions SET expires_at = $2, refreshed_at = $3 WHERE id = $1";
    let now = now_ms();
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(now + ttl_ms).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn delete(db: &Database, id: &str) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Signs a user out everywhere (disabled, role changed, password reset).
pub async fn delete_for_user(db: &Database, user_id: &str) -> Result<(), sqlx::Error> {
    on_db!(db, pool => sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Housekeeping: expired sessions are useless rows.
pub async fn purge_expired(db: &Database) -> Result<u64, sqlx::Error> {
    let result = on_db!(db, pool => sqlx::query("DELETE FROM sessions WHERE expires_at <= $1").bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(result)
}
