//! Accounts.

use serde::Serialize;

use crate::config::RegistrationMode;
use crate::db::Database;
use crate::on_db;

use super::{iso, new_id, now_ms};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Admin,
    User,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::User => "user",
        }
    }
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "admin" => Some(Role::Admin),
            "user" => Some(Role::User),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub name: String,
    pub password_hash: String,
    pub role: String,
    pub disabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
    /// Whether a confirmed TOTP second factor exists (read by the look-ups that select it).
    #[sqlx(default)]
    pub two_factor_enabled: bool,
}

/// The columns of a [`UserRow`] with its second-factor flag, for `SELECT ... FROM users`.
macro_rules! user_columns {
    () => {
        "id, email, name, password_hash, role, disabled, created_at, updated_at, \
         EXISTS (SELECT 1 FROM two_factor t WHERE t.user_id = users.id AND t.enabled = TRUE) AS two_factor_enabled"
    };
}

/// A user as the API shows it (the original's Better Auth fields): never the password hash.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    pub email: String,
    pub name: String,
    pub role: Role,
    pub disabled: bool,
    /// Always false: this server sends no mail.
    pub email_verified: bool,
    /// Always null: no avatars.
    pub image: Option<String>,
    /// Whether sign-in asks for a TOTP code after the password.
    pub two_factor_enabled: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl UserRow {
    pub fn role(&self) -> Role {
        Role::parse(&self.role).unwrap_or(Role::User)
    }
    pub fn public(&self) -> User {
        User {
            id: self.id.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role(),
            disabled: self.disabled,
            email_verified: false,
            image: None,
            two_factor_enabled: self.two_factor_enabled,
            created_at: iso(self.created_at),
            updated_at: iso(self.updated_at),
        }
    }
}

pub async fn by_email(db: &Database, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE email = $1");
    on_db!(db, pool => sqlx::query_as(SQL).bind(email).fetch_optional(pool).await)
}

pub async fn by_id(db: &Database, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
    const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
    on_db!(db, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await)
}

pub async fn list(db: &Database) -> Result<Vec<UserRow>, sqlx::Error> {
    const SQL: &str = concat!("SELECT ", user_columns!(), " FROM users ORDER BY created_at, email");
    on_db!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await)
}

/// What creating an account needs besides the row itself.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    /// The registration mode in force (the very first account is always admitted).
    pub mode: RegistrationMode,
    /// The hash of the invite code presented, consumed in the same transaction in invite-only mode.
    pub invite_hash: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("registration is closed on this server")]
    Closed,
    #[error("registration needs an invite code")]
    InviteRequired,
    #[error("the invite code is invalid, used or expired")]
    BadInvite,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Whether an account may be created, before anything about the email is looked at (so that a
/// refused sign-up never tells whether an address is registered). `Ok(true)`: an invite must be
/// consumed.
fn admission(first_account: bool, mode: RegistrationMode, invite_given: bool) -> Result<bool, CreateError> {
    match (first_account, mode) {
        (true, _) | (false, RegistrationMode::Open) => Ok(false),
        (false, RegistrationMode::Closed) => Err(CreateError::Closed),
        (false, RegistrationMode::InviteOnly) if invite_given => Ok(true),
        (false, RegistrationMode::InviteOnly) => Err(CreateError::InviteRequired),
    }
}

const COUNT_USERS: &str = "SELECT count(*) FROM users";
const FIND_INVITE: &str =
    "SELECT id FROM invites WHERE code_hash = $1 AND used_at IS NULL AND (expires_at IS NULL OR expires_at > $2)";

/// The cheap early answer for a sign-up that will be refused (closed, no or bad invite), made
/// before the password is hashed. [`create`] decides again, authoritatively, under its lock.
pub async fn precheck(db: &Database, mode: RegistrationMode, invite_hash: Option<&str>) -> Result<(), CreateError> {
    let first: i64 = on_db!(db, pool => sqlx::query_scalar(COUNT_USERS).fetch_one(pool).await)?;
    if admission(first == 0, mode, invite_hash.is_some())?
        && let Some(hash) = invite_hash
    {
        let found: Option<String> =
            on_db!(db, pool => sqlx::query_scalar(FIND_INVITE).bind(hash).bind(now_ms()).fetch_optional(pool).await)?;
        if found.is_none() {
            return Err(CreateError::BadInvite);
        }
    }
    Ok(())
}

/// Creates an account. Whether it is the first one (which becomes `admin` and needs no invite),
/// whether the mode admits it and whether the invite is still unused are all decided inside one
/// transaction that serialises sign-ups (an advisory lock on PostgreSQL, `BEGIN IMMEDIATE` on
/// SQLite), so N simultaneous sign-ups on a fresh server give one admin and N-1 refusals.
pub async fn create(db: &Database, new: NewUser<'_>) -> Result<UserRow, CreateError> {
    const INSERT: &str = "INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, updated_at) \
        VALUES ($1, $2, $3, $4, $5, FALSE, $6, $6) \
        RETURNING id, email, name, password_hash, role, disabled, created_at, updated_at";
    const CONSUME: &str = "UPDATE invites SET used_at = $1, used_by = $2, code = NULL WHERE id = $3";
    let id = new_id();
    let now = now_ms();
    let result: Result<UserRow, CreateError> = on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        if matches!(db, Database::Postgres(_)) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(USERS_LOCK).execute(&mut *tx).await?;
        }
        let count: i64 = sqlx::query_scalar(COUNT_USERS).fetch_one(&mut *tx).await?;
        let needs_invite = admission(count == 0, new.mode, new.invite_hash.is_some())?;
        let mut invite_id: Option<String> = None;
        if needs_invite && let Some(hash) = new.invite_hash {
            invite_id = sqlx::query_scalar(FIND_INVITE).bind(hash).bind(now).fetch_optional(&mut *tx).await?;
            if invite_id.is_none() {
                return Err(CreateError::BadInvite);
            }
        }
        let role = if count == 0 { Role::Admin } else { Role::User };
        let row: UserRow = sqlx::query_as(INSERT)
            .bind(&id).bind(new.email).bind(new.name).bind(new.password_hash).bind(role.as_str()).bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| if super::is_unique_violation(&e) { CreateError::EmailTaken } else { CreateError::Database(e) })?;
        if let Some(invite) = invite_id {
            sqlx::query(CONSUME).bind(now).bind(&id).bind(invite).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(row)
    });
    result
}

/// The PostgreSQL advisory lock that serialises every decision over the set of accounts (first
/// admin, invite use, last active admin). SQLite gets the same from `BEGIN IMMEDIATE`.
const USERS_LOCK: i64 = 7_243_061;

#[derive(Debug, thiserror::Error)]
pub enum GuardError {
    #[error("no such user")]
    NotFound,
    #[error("this is the last active admin; promote another admin first")]
    LastAdmin,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// A change an admin makes to an account.
#[derive(Clone, Copy, Debug)]
pub enum Change {
    Update { role: Option<Role>, disabled: Option<bool> },
    Delete,
}

/// Applies an admin's change under the accounts lock, refusing one that would leave no active
/// admin (two admins disabling each other at once: one wins, the other gets `LastAdmin`). A
/// disabled account loses its sessions and its API keys; a role change ends its sessions.
/// Returns the account as it is afterwards (as it was, for a deletion).
pub async fn apply_guarded(db: &Database, id: &str, change: Change) -> Result<UserRow, GuardError> {
    const SELECT: &str = concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
    const ACTIVE_ADMINS: &str = "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = FALSE";
    const UPDATE: &str = "UPDATE users SET role = $2, disabled = $3, updated_at = $4 WHERE id = $1";
    let now = now_ms();
    let result: Result<UserRow, GuardError> = on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        if matches!(db, Database::Postgres(_)) {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(USERS_LOCK).execute(&mut *tx).await?;
        }
        let user: UserRow = sqlx::query_as(SELECT).bind(id).fetch_optional(&mut *tx).await?.ok_or(GuardError::NotFound)?;
        let (role, disabled) = match change {
            Change::Update { role, disabled } => (role.unwrap_or(user.role()), disabled.unwrap_or(user.disabled)),
            Change::Delete => (Role::User, true),
        };
        let was_active_admin = user.role() == Role::Admin && !user.disabled;
        let stays_active_admin = role == Role::Admin && !disabled;
        if was_active_admin && !stays_active_admin {
            let admins: i64 = sqlx::query_scalar(ACTIVE_ADMINS).fetch_one(&mut *tx).await?;
            if admins <= 1 {
                return Err(GuardError::LastAdmin);
            }
        }
        let row = match change {
            Change::Delete => {
                sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(&mut *tx).await?;
                user
            }
            Change::Update { .. } => {
                sqlx::query(UPDATE).bind(id).bind(role.as_str()).bind(disabled).bind(now).execute(&mut *tx).await?;
                if role != user.role() || disabled != user.disabled {
                    // Whatever the user could do before is re-decided at their next sign-in.
                    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                }
                if disabled && !user.disabled {
                    sqlx::query("DELETE FROM api_keys WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
                }
                sqlx::query_as(SELECT).bind(id).fetch_one(&mut *tx).await?
            }
        };
        tx.commit().await?;
        Ok(row)
    });
    result
}

/// Sets a new password hash and revokes credentials in the same transaction: every session but
/// `keep_session` (a user changing their own password stays signed in there), and, when
/// `revoke_keys`, every API key (an admin's reset: whoever knew the old password may have made keys).
/// False when the account does not exist.
pub async fn set_password_and_revoke(
    db: &Database,
    id: &str,
    password_hash: &str,
    keep_session: Option<&str>,
    revoke_keys: bool,
) -> Result<bool, sqlx::Error> {
    const UPDATE: &str = "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";
    const END_SESSIONS: &str = "DELETE FROM sessions WHERE user_id = $1 AND id <> $2";
    on_db!(db, pool => {
        let mut tx = crate::db::BeginWrite::begin_write(pool).await?;
        let n = sqlx::query(UPDATE).bind(id).bind(password_hash).bind(now_ms()).execute(&mut *tx).await?.rows_affected();
        if n == 0 {
            return Ok(false);
        }
        sqlx::query(END_SESSIONS).bind(id).bind(keep_session.unwrap_or("")).execute(&mut *tx).await?;
        if revoke_keys {
            sqlx::query("DELETE FROM api_keys WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(true)
    })
}

pub async fn count(db: &Database) -> Result<i64, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await)
}
