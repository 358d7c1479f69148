//! Instance settings an admin changes at run time, kept in `kryton_meta`.

use crate::db::Database;
use crate::on_db;

pub async fn get(db: &Database, key: &str) -> Result<Option<String>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar("SELECT value FROM kryton_meta WHERE key = $1").bind(key).fetch_optional(pool).await)
}

pub async fn set(db: &Database, key: &str, value: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "INSERT INTO kryton_meta (key, value) VALUES ($1, $2) \
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = CURRENT_TIMESTAMP";
    on_db!(db, pool => sqlx::query(SQL).bind(key).bind(value).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}
