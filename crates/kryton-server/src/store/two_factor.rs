//! TOTP second factors, their backup codes, and the pending sign-ins that wait for a code.
//!
//! The TOTP secret is stored as written (base32) in the database: a server must be able to compute
//! the codes, so a hash cannot do; `docs/security.md` says what follows. Backup codes and challenge
//! tokens are random and stored only as their SHA-256.

use crate::db::Database;
use crate::on_db;

use super::{new_id, now_ms, random_hex, sha256_hex};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct TwoFactorRow {
    pub user_id: String,
    pub secret: String,
    pub enabled: bool,
    pub last_step: Option<i64>,
}

pub async fn get(db: &Database, user_id: &str) -> Result<Option<TwoFactorRow>, sqlx::Error> {
    const SQL: &str = "SELECT user_id, secret, enabled, last_step FROM two_factor WHERE user_id = $1";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).fetch_optional(pool).await)
}

pub async fn is_enabled(db: &Database, user_id: &str) -> Result<bool, sqlx::Error> {
    Ok(get(db, user_id).await?.is_some_and(|row| row.enabled))
}

const INSERT_CODE: &str =
    "INSERT INTO two_factor_backup_codes (id, user_id, code_hash, used_at, created_at) VALUES ($1, $2, $3, NULL, $4)";

/// Replaces a user's backup codes inside the transaction `$tx` (a macro: each backend's
/// transaction has its own type).
macro_rules! replace_codes {
    ($tx:ident, $user_id:expr, $hashes:expr, $now:expr) => {{
        sqlx::query("DELETE FROM two_factor_backup_codes WHERE user_id = $1")
            .bind($user_id)
            .execute(&mut *$tx)
            .await?;
        for hash in $hashes {
            sqlx::query(INSERT_CODE)
                .bind(new_id())
                .bind($user_id)
                .bind(hash)
                .bind($now)
                .execute(&mut *$tx)
                .await?;
        }
    }};
}

/// Stores a new, not yet confirmed secret and its backup codes, replacing an earlier unconfirmed
/// one. False (and nothing written) when a confirmed second factor already exists.
pub async fn begin(db: &Database, user_id: &str, secret: &str, code_hashes: &[String]) -> Result<bool, sqlx::Error> {
    const UPSERT: &str = "INSERT INTO two_factor (user_id, secret, enabled, last_step, created_at) \
        VALUES ($1, $2, FALSE, NULL, $3) \
        ON CONFLICT (user_id) DO UPDATE SET secret = excluded.secret, last_step = NULL, created_at = excluded.created_at \
        WHERE two_factor.enabled = FALSE";
    let now = now_ms();
    on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(UPSERT).bind(user_id).bind(secret).bind(now).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Ok(false);
        }
        replace_codes!(tx, user_id, code_hashes, now);
        tx.commit().await?;
        Ok(true)
    })
}

/// New backup codes for an enabled second factor; false when there is none.
pub async fn regenerate_codes(db: &Database, user_id: &str, code_hashes: &[String]) -> Result<bool, sqlx::Error> {
    const ENABLED: &str = "SELECT count(*) FROM two_factor WHERE user_id = $1 AND enabled = TRUE";
    let now = now_ms();
    on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        let n: i64 = sqlx::query_scalar(ENABLED).bind(user_id).fetch_one(&mut *tx).await?;
        if n == 0 {
            return Ok(false);
        }
        replace_codes!(tx, user_id, code_hashes, now);
        tx.commit().await?;
        Ok(true)
    })
}

/// Records that the code of 30-second `step` was accepted, enabling the factor if it was pending.
/// False when that step (or a later one) was already used: a code never works twice.
pub async fn accept_step(db: &Database, user_id: &str, step: i64) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE two_factor SET last_step = $2, enabled = TRUE, enabled_at = COALESCE(enabled_at, $3) \
        WHERE user_id = $1 AND (last_step IS NULL OR last_step < $2)";
    let n = on_db!(db, pool => sqlx::query(SQL).bind(user_id).bind(step).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Spends a backup code; false when it is not one of the user's unused codes.
pub async fn use_backup_code(db: &Database, user_id: &str, code: &str) -> Result<bool, sqlx::Error> {
    const SQL: &str = "UPDATE two_factor_backup_codes SET used_at = $3 \
        WHERE user_id = $1 AND code_hash = $2 AND used_at IS NULL";
    let n = on_db!(db, pool => sqlx::query(SQL).bind(user_id).bind(sha256_hex(code)).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

pub async fn unused_codes(db: &Database, user_id: &str) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT count(*) FROM two_factor_backup_codes WHERE user_id = $1 AND used_at IS NULL";
    on_db!(db, pool => sqlx::query_scalar(SQL).bind(user_id).fetch_one(pool).await)
}

/// Removes a user's second factor, backup codes and pending sign-ins; false when there was none.
pub async fn remove(db: &Database, user_id: &str) -> Result<bool, sqlx::Error> {
    on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query("DELETE FROM two_factor WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?.rows_affected();
        sqlx::query("DELETE FROM two_factor_backup_codes WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        sqlx::query("DELETE FROM two_factor_challenges WHERE user_id = $1").bind(user_id).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(n > 0)
    })
}

/// A sign-in whose password was right, waiting for the second factor.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct Challenge {
    pub id: String,
    pub user_id: String,
    pub failures: i32,
}

/// Opens a challenge; the token goes to the client once, only its hash is kept.
pub async fn open_challenge(db: &Database, user_id: &str, ttl_ms: i64) -> Result<String, sqlx::Error> {
    const SQL: &str = "INSERT INTO two_factor_challenges (id, token_hash, user_id, failures, created_at, expires_at) \
        VALUES ($1, $2, $3, 0, $4, $5)";
    let token = random_hex(32);
    let now = now_ms();
    on_db!(db, pool => sqlx::query(SQL).bind(new_id()).bind(sha256_hex(&token)).bind(user_id).bind(now).bind(now + ttl_ms)
        .execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(token)
}

pub async fn challenge(db: &Database, token: &str) -> Result<Option<Challenge>, sqlx::Error> {
    const SQL: &str =
        "SELECT id, user_id, failures FROM two_factor_challenges WHERE token_hash = $1 AND expires_at > $2";
    on_db!(db, pool => sqlx::query_as(SQL).bind(sha256_hex(token)).bind(now_ms()).fetch_optional(pool).await)
}

/// Counts a wrong code; the challenge is dropped at `max` failures (the user signs in again).
pub async fn fail_challenge(db: &Database, id: &str, max: i32) -> Result<(), sqlx::Error> {
    on_db!(db, pool => {
        sqlx::query("UPDATE two_factor_challenges SET failures = failures + 1 WHERE id = $1").bind(id).execute(pool).await?;
        sqlx::query("DELETE FROM two_factor_challenges WHERE id = $1 AND failures >= $2").bind(id).bind(max).execute(pool).await?;
        Ok(())
    })
}

/// Consumes a challenge; false when another request consumed it first.
pub async fn close_challenge(db: &Database, id: &str) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, pool => sqlx::query("DELETE FROM two_factor_challenges WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n == 1)
}

/// Housekeeping: challenges nobody answered.
pub async fn purge_expired(db: &Database) -> Result<u64, sqlx::Error> {
    on_db!(db, pool => sqlx::query("DELETE FROM two_factor_challenges WHERE expires_at <= $1").bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))
}
