//! Per-user settings (theme, starred notes, editor preferences): the rules for keys and values,
//! below every face that reads or writes them.

use std::collections::BTreeMap;

use crate::db::Database;
use crate::error::AppError;
use crate::store::user_settings as store;

/// Longest key, in characters (the original Kryton's limit).
pub const MAX_KEY_CHARS: usize = 100;
/// Largest value, in bytes: room for a long list of starred notes, not for documents.
pub const MAX_VALUE_BYTES: usize = 64 * 1024;
/// Most keys one user may hold.
pub const MAX_KEYS: i64 = 200;

/// Checks a key: 1 to 100 of `A-Z a-z 0-9 _ . -`.
pub fn check_key(key: &str) -> Result<(), AppError> {
    let valid = !key.is_empty()
        && key.chars().count() <= MAX_KEY_CHARS
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(AppError::Validation(format!(
            "a setting key is 1 to {MAX_KEY_CHARS} letters, digits, '_', '.' or '-'"
        )))
    }
}

/// Every setting of the user, as the object of strings clients expect.
pub async fn all(db: &Database, user_id: &str) -> Result<BTreeMap<String, String>, AppError> {
    Ok(store::all(db, user_id).await?.into_iter().collect())
}

/// Stores one setting after checking the key, the value's size and the number of keys.
pub async fn put(db: &Database, user_id: &str, key: &str, value: &str) -> Result<(), AppError> {
    check_key(key)?;
    if value.len() > MAX_VALUE_BYTES {
        return Err(AppError::Validation(format!(
            "a setting value is at most {MAX_VALUE_BYTES} bytes"
        )));
    }
    if !store::put(db, user_id, key, value, MAX_KEYS).await? {
        return Err(AppError::Validation(format!(
            "at most {MAX_KEYS} settings per user; change an existing key instead"
        )));
    }
    Ok(())
}
