//! Shares and access requests: rows that let one user reach part of another user's vault.
//!
//! A share names a note (`Projects/Plan.md`) or a folder (`Projects`, everything below it, notes
//! created later included) of its owner's vault, a recipient and a permission. Which notes it
//! covers is decided in one place, [`crate::notes::sharing`]; this module only keeps the rows.

use crate::db::Database;
use crate::on_db;

use super::{is_unique_violation, new_id, now_ms};

/// The columns of `shares`, for `concat!` (queries stay `&'static str`).
macro_rules! share_columns {
    () => {
        "id, owner_user_id, path, is_folder, shared_with_user_id, permission, created_at, updated_at"
    };
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ShareRow {
    pub id: String,
    pub owner_user_id: String,
    pub path: String,
    pub is_folder: bool,
    pub shared_with_user_id: String,
    /// `read` or `readwrite`.
    pub permission: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A share with the other party's name and email, for the lists.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct ShareWithUser {
    #[sqlx(flatten)]
    pub share: ShareRow,
    pub user_name: String,
    pub user_email: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error("this note or folder is already shared with that user")]
    Duplicate,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

pub async fn create(
    db: &Database,
    owner: &str,
    path: &str,
    is_folder: bool,
    recipient: &str,
    permission: &str,
) -> Result<ShareRow, ShareError> {
    let sql = concat!(
        "INSERT INTO shares (",
        share_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7, $7) RETURNING ",
        share_columns!()
    );
    let now = now_ms();
    let id = new_id();
    let result: Result<ShareRow, sqlx::Error> = on_db!(db, pool => sqlx::query_as(sql)
        .bind(&id).bind(owner).bind(path).bind(is_folder).bind(recipient).bind(permission).bind(now)
        .fetch_one(pool).await);
    result.map_err(|e| {
        if is_unique_violation(&e) {
            ShareError::Duplicate
        } else {
            ShareError::Database(e)
        }
    })
}

pub async fn by_id(db: &Database, id: &str) -> Result<Option<ShareRow>, sqlx::Error> {
    let sql = concat!("SELECT ", share_columns!(), " FROM shares WHERE id = $1");
    on_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
}

/// The shares an owner made, with each recipient's name and email.
pub async fn by_owner(db: &Database, owner: &str) -> Result<Vec<ShareWithUser>, sqlx::Error> {
    const SQL: &str = "SELECT s.id, s.owner_user_id, s.path, s.is_folder, s.shared_with_user_id, s.permission, \
        s.created_at, s.updated_at, u.name AS user_name, u.email AS user_email \
        FROM shares s JOIN users u ON u.id = s.shared_with_user_id \
        WHERE s.owner_user_id = $1 ORDER BY s.path, u.email";
    on_db!(db, pool => sqlx::query_as(SQL).bind(owner).fetch_all(pool).await)
}

/// The shares made to `recipient` by owners whose accounts are active, with each owner's name
/// and email. A disabled owner's shares are kept but serve nothing until the account is enabled.
pub async fn active_with(db: &Database, recipient: &str) -> Result<Vec<ShareWithUser>, sqlx::Error> {
    const SQL: &str = "SELECT s.id, s.owner_user_id, s.path, s.is_folder, s.shared_with_user_id, s.permission, \
        s.created_at, s.updated_at, u.name AS user_name, u.email AS user_email \
        FROM shares s JOIN users u ON u.id = s.owner_user_id \
        WHERE s.shared_with_user_id = $1 AND u.disabled = FALSE ORDER BY u.email, s.path";
    on_db!(db, pool => sqlx::query_as(SQL).bind(recipient).fetch_all(pool).await)
}

/// The shares from one active owner to one recipient (what a permission check reads).
pub async fn active_between(db: &Database, owner: &str, recipient: &str) -> Result<Vec<ShareRow>, sqlx::Error> {
    const SQL: &str = "SELECT s.id, s.owner_user_id, s.path, s.is_folder, s.shared_with_user_id, s.permission, \
        s.created_at, s.updated_at FROM shares s JOIN users u ON u.id = s.owner_user_id \
        WHERE s.owner_user_id = $1 AND s.shared_with_user_id = $2 AND u.disabled = FALSE";
    on_db!(db, pool => sqlx::query_as(SQL).bind(owner).bind(recipient).fetch_all(pool).await)
}

/// Changes a share's permission; `None` when it does not exist.
pub async fn set_permission(db: &Database, id: &str, permission: &str) -> Result<Option<ShareRow>, sqlx::Error> {
    let sql = concat!(
        "UPDATE shares SET permission = $2, updated_at = $3 WHERE id = $1 RETURNING ",
        share_columns!()
    );
    on_db!(db, pool => sqlx::query_as(sql).bind(id).bind(permission).bind(now_ms())
        .fetch_optional(pool).await)
}

/// Revokes a share; false when it did not exist.
pub async fn delete(db: &Database, id: &str) -> Result<bool, sqlx::Error> {
    let n = on_db!(db, pool => sqlx::query("DELETE FROM shares WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(n > 0)
}

/// Every owner's shares at once (boot's repair after a crash between a rename and its share update).
pub async fn owners(db: &Database) -> Result<Vec<String>, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar("SELECT DISTINCT owner_user_id FROM shares ORDER BY 1").fetch_all(pool).await)
}

/// Every share an owner made.
pub async fn of_owner(db: &Database, owner: &str) -> Result<Vec<ShareRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        share_columns!(),
        " FROM shares WHERE owner_user_id = $1 ORDER BY path"
    );
    on_db!(db, pool => sqlx::query_as(sql).bind(owner).fetch_all(pool).await)
}

/// What a rename or folder move did to paths, for the shares that follow it.
#[derive(Clone, Debug)]
pub enum Moved<'a> {
    /// A note moved from one path to another.
    Note { from: &'a str, to: &'a str },
    /// A folder (and everything below it) moved.
    Folder { from: &'a str, to: &'a str },
}

impl Moved<'_> {
    /// Where a share's path goes, if the move touches it.
    pub fn new_path(&self, path: &str, is_folder: bool) -> Option<String> {
        match *self {
            Moved::Note { from, to } => (!is_folder && path == from).then(|| to.to_owned()),
            Moved::Folder { from, to } => {
                if is_folder && path == from {
                    Some(to.to_owned())
                } else {
                    path.strip_prefix(from)
                        .and_then(|rest| rest.strip_prefix('/'))
                        .map(|rest| format!("{to}/{rest}"))
                }
            }
        }
    }
}

/// Moves the owner's shares along with a rename, in one transaction. When the recipient already
/// had a share at the new path, the two merge into one carrying the wider permission. Returns how
/// many shares moved. Running it again after it finished changes nothing.
pub async fn follow_move(db: &Database, owner: &str, moved: &Moved<'_>) -> Result<usize, sqlx::Error> {
    let select = concat!(
        "SELECT ",
        share_columns!(),
        " FROM shares WHERE owner_user_id = $1 ORDER BY path"
    );
    const EXISTING: &str =
        "SELECT id, permission FROM shares WHERE owner_user_id = $1 AND path = $2 AND shared_with_user_id = $3";
    const MOVE: &str = "UPDATE shares SET path = $2, updated_at = $3 WHERE id = $1";
    const WIDEN: &str = "UPDATE shares SET permission = 'readwrite', updated_at = $2 WHERE id = $1";
    const DROP: &str = "DELETE FROM shares WHERE id = $1";
    let now = now_ms();
    on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        let rows: Vec<ShareRow> = sqlx::query_as(select).bind(owner).fetch_all(&mut *tx).await?;
        let mut count = 0;
        for row in rows {
            let Some(target) = moved.new_path(&row.path, row.is_folder) else { continue };
            let existing: Option<(String, String)> = sqlx::query_as(EXISTING)
                .bind(owner).bind(&target).bind(&row.shared_with_user_id).fetch_optional(&mut *tx).await?;
            match existing {
                Some((other, permission)) => {
                    if row.permission == "readwrite" && permission != "readwrite" {
                        sqlx::query(WIDEN).bind(&other).bind(now).execute(&mut *tx).await?;
                    }
                    sqlx::query(DROP).bind(&row.id).execute(&mut *tx).await?;
                }
                None => {
                    sqlx::query(MOVE).bind(&row.id).bind(&target).bind(now).execute(&mut *tx).await?;
                }
            }
            count += 1;
        }
        tx.commit().await?;
        Ok(count)
    })
}

// ---- access requests ----

macro_rules! request_columns {
    () => {
        "id, requester_user_id, owner_user_id, note_path, status, created_at, updated_at"
    };
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccessRequestRow {
    pub id: String,
    pub requester_user_id: String,
    pub owner_user_id: String,
    pub note_path: String,
    /// `pending`, `approved` or `denied`.
    pub status: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A request with the requester's name and email, as its owner lists it.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AccessRequestWithUser {
    #[sqlx(flatten)]
    pub request: AccessRequestRow,
    pub user_name: String,
    pub user_email: String,
}

/// Asks `owner` for access to `path`. A denied request is opened again; a pending or approved one
/// is answered as it is. Returns the request and whether it is new.
pub async fn request_access(
    db: &Database,
    requester: &str,
    owner: &str,
    path: &str,
) -> Result<(AccessRequestRow, bool), sqlx::Error> {
    let find = concat!(
        "SELECT ",
        request_columns!(),
        " FROM access_requests WHERE requester_user_id = $1 AND owner_user_id = $2 AND note_path = $3"
    );
    let insert = concat!(
        "INSERT INTO access_requests (",
        request_columns!(),
        ") VALUES ($1, $2, $3, $4, 'pending', $5, $5) ",
        "ON CONFLICT (requester_user_id, owner_user_id, note_path) DO NOTHING RETURNING ",
        request_columns!()
    );
    let reopen = concat!(
        "UPDATE access_requests SET status = 'pending', updated_at = $2 WHERE id = $1 AND status = 'denied' ",
        "RETURNING ",
        request_columns!()
    );
    let now = now_ms();
    on_db!(db, pool => {
        let inserted: Option<AccessRequestRow> = sqlx::query_as(insert)
            .bind(new_id()).bind(requester).bind(owner).bind(path).bind(now).fetch_optional(pool).await?;
        if let Some(row) = inserted {
            return Ok((row, true));
        }
        let existing: AccessRequestRow = sqlx::query_as(find)
            .bind(requester).bind(owner).bind(path).fetch_one(pool).await?;
        let reopened: Option<AccessRequestRow> = sqlx::query_as(reopen)
            .bind(&existing.id).bind(now).fetch_optional(pool).await?;
        Ok((reopened.unwrap_or(existing), false))
    })
}

/// The pending requests an owner has to answer, with the requesters' names and emails.
pub async fn pending_for_owner(db: &Database, owner: &str) -> Result<Vec<AccessRequestWithUser>, sqlx::Error> {
    const SQL: &str = "SELECT r.id, r.requester_user_id, r.owner_user_id, r.note_path, r.status, r.created_at, \
        r.updated_at, u.name AS user_name, u.email AS user_email \
        FROM access_requests r JOIN users u ON u.id = r.requester_user_id \
        WHERE r.owner_user_id = $1 AND r.status = 'pending' ORDER BY r.created_at, r.id";
    on_db!(db, pool => sqlx::query_as(SQL).bind(owner).fetch_all(pool).await)
}

/// The requests a user made.
pub async fn by_requester(db: &Database, requester: &str) -> Result<Vec<AccessRequestRow>, sqlx::Error> {
    let sql = concat!(
        "SELECT ",
        request_columns!(),
        " FROM access_requests WHERE requester_user_id = $1 ORDER BY created_at, id"
    );
    on_db!(db, pool => sqlx::query_as(sql).bind(requester).fetch_all(pool).await)
}

pub async fn request_by_id(db: &Database, id: &str) -> Result<Option<AccessRequestRow>, sqlx::Error> {
    let sql = concat!("SELECT ", request_columns!(), " FROM access_requests WHERE id = $1");
    on_db!(db, pool => sqlx::query_as(sql).bind(id).fetch_optional(pool).await)
}

/// Denies a request.
pub async fn deny(db: &Database, id: &str) -> Result<Option<AccessRequestRow>, sqlx::Error> {
    let sql = concat!(
        "UPDATE access_requests SET status = 'denied', updated_at = $2 WHERE id = $1 RETURNING ",
        request_columns!()
    );
    on_db!(db, pool => sqlx::query_as(sql).bind(id).bind(now_ms()).fetch_optional(pool).await)
}

/// Approves a request: the share (a note share of the requested path, or the existing share's
/// permission changed) and the request's new status, in one transaction.
pub async fn approve(
    db: &Database,
    request: &AccessRequestRow,
    permission: &str,
) -> Result<AccessRequestRow, sqlx::Error> {
    const UPSERT: &str = "INSERT INTO shares (id, owner_user_id, path, is_folder, shared_with_user_id, permission, \
        created_at, updated_at) VALUES ($1, $2, $3, FALSE, $4, $5, $6, $6) \
        ON CONFLICT (owner_user_id, path, shared_with_user_id) DO UPDATE SET permission = excluded.permission, \
        updated_at = excluded.updated_at";
    let status = concat!(
        "UPDATE access_requests SET status = 'approved', updated_at = $2 WHERE id = $1 RETURNING ",
        request_columns!()
    );
    let now = now_ms();
    on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        sqlx::query(UPSERT).bind(new_id()).bind(&request.owner_user_id).bind(&request.note_path)
            .bind(&request.requester_user_id).bind(permission).bind(now).execute(&mut *tx).await?;
        let row: AccessRequestRow = sqlx::query_as(status)
            .bind(&request.id).bind(now).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok(row)
    })
}
