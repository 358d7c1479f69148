//! Per-user settings of the clients: string values by key, one row each in `user_settings`.

use crate::db::Database;
use crate::on_db;

use super::now_ms;

/// Every setting of one user, by key.
pub async fn all(db: &Database, user_id: &str) -> Result<Vec<(String, String)>, sqlx::Error> {
    const SQL: &str = "SELECT key, value FROM user_settings WHERE user_id = $1 ORDER BY key";
    on_db!(db, pool => sqlx::query_as(SQL).bind(user_id).fetch_all(pool).await)
}

/// Inserts or replaces one setting, unless that would give the user more than `max_keys` keys.
/// Returns whether it was stored; one statement, so two writers cannot both pass the count.
pub async fn put(db: &Database, user_id: &str, key: &str, value: &str, max_keys: i64) -> Result<bool, sqlx::Error> {
    const SQL: &str = "INSERT INTO user_settings (user_id, key, value, updated_at) \
        SELECT $1, $2, $3, $4 \
        WHERE (SELECT count(*) FROM user_settings WHERE user_id = $1) < $5 \
           OR EXISTS (SELECT 1 FROM user_settings WHERE user_id = $1 AND key = $2) \
        ON CONFLICT (user_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";
    let stored = on_db!(db, pool => sqlx::query(SQL)
        .bind(user_id)
        .bind(key)
        .bind(value)
        .bind(now_ms())
        .bind(max_keys)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(stored > 0)
}
