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
    /// The browser or client that signed in, as its `User-Agent` said (cut to 300 characters).
    pub user_agent: Option<String>,
    /// The client address at sign-in (see [`crate::auth::client_ip`]).
    pub ip_address: Option<String>,
    /// The last request made with the session, recorded at most once a minute.
    pub last_seen_at: Option<i64>,
}

macro_rules! session_columns {
    () => {
        "id, user_id, created_at, expires_at, refreshed_at, user_agent, ip_address, last_seen_at"
    };
}

/// Where a sign-in came from, recorded with the session so its owner can recognise it later.
#[derive(Clone, Debug, Default)]
pub struct Origin {
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
}

/// A new session: the plaintext token goes to the client once; only its hash is stored.
pub struct NewSession {
    pub token: String,
    pub row: SessionRow,
}

pub async fn create(db: &Database, user_id: &str, ttl_ms: i64, origin: Origin) -> Result<NewSession, sqlx::Error> {
    const SQL: &str = "INSERT INTO sessions \
        (id, token_hash, user_id, created_at, expires_at, refreshed_at, user_agent, ip_address, last_seen_at) \
        VALUES ($1, $2, $3, $4, $5, $4, $6, $7, $4)";
    let token = random_hex(32);
    let now = now_ms();
    let row = SessionRow {
        id: new_id(),
        user_id: user_id.to_owned(),
        created_at: now,
        expires_at: now + ttl_ms,
        refreshed_at: now,
        user_agent: origin.user_agent,
        ip_address: origin.ip_address,
        last_seen_at: Some(now),
    };
    on_db!(db, pool => sqlx::query(SQL)
        .bind(&row.id).bind(sha256_hex(&token)).bind(user_id).bind(now).bind(row.expires_at)
        .bind(&row.user_agent).bind(&row.ip_address)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(NewSession { token, row })
}

/// The unexpired session for a token.
pub async fn by_token(db: &Database, token: &str) -> Result<Option<SessionRow>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions WHERE token_hash = $1 AND expires_at > $2"
    );
    on_db!(db, pool => sqlx::query_as(SQL).bind(sha256_hex(token)).bind(now_ms()).fetch_optional(pool).await)
}

/// Sliding expiry: pushes the end of a session that is in use (and records the use).
pub async fn refresh(db: &Database, id: &str, ttl_ms: i64) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE sessions SET expires_at = $2, refreshed_at = $3, last_seen_at = $3 WHERE id = $1";
    let now = now_ms();
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(now + ttl_ms).bind(now).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Records that a session was used at `at` (callers throttle this to once a minute).
pub async fn touch(db: &Database, id: &str, at: i64) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE sessions SET last_seen_at = $2 WHERE id = $1";
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(at).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// A user's live sessions, the most recently used first.
pub async fn list_for_user(db: &Database, user_id: &str) -> Result<Vec<SessionRow>, sqlx::Error> {
    const SQL: &str = concat!(
        "SELECT ",
        session_columns!(),
        " FROM sessions WHERE user_id = $1 AND expires_at > $2 ORDER BY COALESCE(last_seen_at, created_at) DESC, id"
    );
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).bind(now_ms()).fetch_all(pool).await)
}

/// Ends one session of this user; false when they have no such session (someone else's included).
pub async fn delete_owned(db: &Database, user_id: &str, id: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "DELETE FROM sessions WHERE id = $1 AND user_id = $2";
    let n = on_db!(db, pool => sqlx::query(SQL).bind(id).bind(user_id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Ends every session of this user but `keep`; how many ended.
pub async fn delete_others(db: &Database, user_id: &str, keep: &str) -> Result<u64, sqlx::Error> {
    const SQL: &str = "DELETE FROM sessions WHERE user_id = $1 AND id <> $2";
    on_db!(db, pool => sqlx::query(SQL).bind(user_id).bind(keep).execute(pool).await.map(|r| r.rows_affected()))
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
