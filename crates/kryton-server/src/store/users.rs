//! Accounts.

use serde::Serialize;

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
    /// Always false: no second factor yet.
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
            two_factor_enabled: false,
            created_at: iso(self.created_at),
            updated_at: iso(self.updated_at),
        }
    }
}

pub async fn by_email(db: &Database, email: &str) -> Result<Option<UserRow>, sqlx::Error> {
    const SQL: &str =
        "SELECT id, email, name, password_hash, role, disabled, created_at, updated_at FROM users WHERE email = $1";
    on_db!(db, pool => sqlx::query_as(SQL).bind(email).fetch_optional(pool).await)
}

pub async fn by_id(db: &Database, id: &str) -> Result<Option<UserRow>, sqlx::Error> {
    const SQL: &str =
        "SELECT id, email, name, password_hash, role, disabled, created_at, updated_at FROM users WHERE id = $1";
    on_db!(db, pool => sqlx::query_as(SQL).bind(id).fetch_optional(pool).await)
}

pub async fn list(db: &Database) -> Result<Vec<UserRow>, sqlx::Error> {
    const SQL: &str = "SELECT id, email, name, password_hash, role, disabled, created_at, updated_at FROM users ORDER BY created_at, email";
    on_db!(db, pool => sqlx::query_as(SQL).fetch_all(pool).await)
}

/// What creating an account needs besides the row itself.
pub struct NewUser<'a> {
    pub email: &'a str,
    pub name: &'a str,
    pub password_hash: &'a str,
    /// An invite code's hash to consume in the same transaction (invite-only registration).
    pub invite_hash: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error("the invite code is invalid, used or expired")]
    BadInvite,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Creates an account. The very first account becomes `admin`; deciding that and inserting happen
/// under one lock so two simultaneous first sign-ups cannot both become admin.
pub async fn create(db: &Database, new: NewUser<'_>) -> Result<UserRow, CreateError> {
    const INSERT: &str = "INSERT INTO users (id, email, name, password_hash, role, disabled, created_at, updated_at) \
        SELECT $1, $2, $3, $4, CASE WHEN EXISTS (SELECT 1 FROM users) THEN 'user' ELSE 'admin' END, FALSE, $5, $5 \
        RETURNING id, email, name, password_hash, role, disabled, created_at, updated_at";
    const CONSUME: &str = "UPDATE invites SET used_at = $1, used_by = $2, code = NULL \
        WHERE code_hash = $3 AND used_at IS NULL AND (expires_at IS NULL OR expires_at > $1) RETURNING id";
    let id = new_id();
    let now = now_ms();
    let result: Result<UserRow, CreateError> = on_db!(db, pool => {
        let mut tx = pool.begin().await?;
        if matches!(db, Database::Postgres(_)) {
            // Serialises sign-ups so "is this the first account?" has one answer.
            sqlx::query("SELECT pg_advisory_xact_lock(7243061)").execute(&mut *tx).await?;
        }
        let row: UserRow = sqlx::query_as(INSERT)
            .bind(&id).bind(new.email).bind(new.name).bind(new.password_hash).bind(now)
            .fetch_one(&mut *tx)
            .await
            .map_err(|e| if super::is_unique_violation(&e) { CreateError::EmailTaken } else { CreateError::Database(e) })?;
        if let Some(invite) = new.invite_hash {
            let consumed: Option<String> =
                sqlx::query_scalar(CONSUME).bind(now).bind(&id).bind(invite).fetch_optional(&mut *tx).await?;
            if consumed.is_none() {
                return Err(CreateError::BadInvite);
            }
        }
        tx.commit().await?;
        Ok(row)
    });
    result
}

pub async fn count(db: &Database) -> Result<i64, sqlx::Error> {
    on_db!(db, pool => sqlx::query_scalar("SELECT count(*) FROM users").fetch_one(pool).await)
}

/// Admins who can still sign in.
pub async fn count_active_admins(db: &Database) -> Result<i64, sqlx::Error> {
    const SQL: &str = "SELECT count(*) FROM users WHERE role = 'admin' AND disabled = FALSE";
    on_db!(db, pool => sqlx::query_scalar(SQL).fetch_one(pool).await)
}

pub async fn set_role_and_disabled(db: &Database, id: &str, role: Role, disabled: bool) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE users SET role = $2, disabled = $3, updated_at = $4 WHERE id = $1";
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(role.as_str()).bind(disabled).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

pub async fn set_password(db: &Database, id: &str, password_hash: &str) -> Result<(), sqlx::Error> {
    const SQL: &str = "UPDATE users SET password_hash = $2, updated_at = $3 WHERE id = $1";
    on_db!(db, pool => sqlx::query(SQL).bind(id).bind(password_hash).bind(now_ms()).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(())
}

/// Deletes the account; its sessions and keys go with it (ON DELETE CASCADE).
pub async fn delete(db: &Database, id: &str) -> Result<bool, sqlx::Error> {
    let result = on_db!(db, pool => sqlx::query("DELETE FROM users WHERE id = $1").bind(id).execute(pool).await.map(|r| r.rows_affected()))?;
    Ok(result > 0)
}
