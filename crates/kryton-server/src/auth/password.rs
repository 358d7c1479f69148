//! Argon2id password hashing, off the async threads (it is deliberately slow).

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

use crate::error::AppError;

pub const MIN_LEN: usize = 8;
pub const MAX_LEN: usize = 72;

/// Checks the length rule (in characters).
pub fn validate(password: &str) -> Result<(), AppError> {
    let len = password.chars().count();
    if !(MIN_LEN..=MAX_LEN).contains(&len) {
        return Err(AppError::Validation(format!(
            "password must be {MIN_LEN} to {MAX_LEN} characters"
        )));
    }
    Ok(())
}

fn new_salt() -> Result<SaltString, argon2::password_hash::Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|_| argon2::password_hash::Error::Crypto)?;
    SaltString::encode_b64(&bytes)
}

/// At most `concurrency` Argon2 computations at once (each holds about 19 MiB); a request waits
/// for a slot at most `queue_wait`, then is told to come back (503 with `Retry-After`). Memory
/// stays flat under a sign-in flood, and the hashing runs on the blocking pool, never on the
/// async workers that answer `/healthz` and everyone else.
pub struct Hashing {
    permits: tokio::sync::Semaphore,
    queue_wait: std::time::Duration,
}

impl Hashing {
    pub fn new(concurrency: usize, queue_wait: std::time::Duration) -> Self {
        Hashing {
            permits: tokio::sync::Semaphore::new(concurrency.max(1)),
            queue_wait,
        }
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, AppError> {
        let busy = || AppError::Overloaded(self.queue_wait.max(std::time::Duration::from_secs(1)));
        let _permit = tokio::time::timeout(self.queue_wait, self.permits.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|e| AppError::Internal(e.into()))
    }
}

pub async fn hash(hashing: &Hashing, password: String) -> Result<String, AppError> {
    hashing
        .run(move || {
            let salt = new_salt()?;
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
        })
        .await?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// Checks a password against a stored hash; with `None` (no such account) against a dummy hash,
/// so that the time taken does not tell whether an email is registered.
pub async fn verify(hashing: &Hashing, password: String, stored: Option<String>) -> Result<bool, AppError> {
    hashing
        .run(move || {
            let stored = stored.unwrap_or_else(dummy_hash);
            PasswordHash::new(&stored)
                .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
}

/// A hash to verify against when the account does not exist, so that the response time does not
/// tell whether an email is registered. Made once, from a random password.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            let Ok(salt) = new_salt() else { return String::new() };
            let password = crate::store::random_hex(16);
            Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .unwrap_or_default()
        })
        .clone()
}
