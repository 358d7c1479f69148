//! Argon2id password hashing, off the async threads (it is deliberately slow), on a bounded pool.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

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

/// A hashing job, given the Argon2 working memory its thread keeps.
type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// At most `concurrency` Argon2 computations at once (each holds about 19 MiB), on as many
/// dedicated threads: never on the async workers that answer `/healthz` and everyone else, and
/// always on the same few threads, so the allocator reuses their memory instead of keeping a
/// 19 MiB block in the arena of every blocking-pool thread that ever hashed (which made memory
/// grow by hundreds of MiB under a flood even with a cap). A request waits for a slot at most
/// `queue_wait`, then is told to come back (503 with `Retry-After`).
pub struct Hashing {
    permits: tokio::sync::Semaphore,
    queue_wait: std::time::Duration,
    jobs: std::sync::Mutex<std::sync::mpsc::Sender<Job>>,
}

impl Hashing {
    pub fn new(concurrency: usize, queue_wait: std::time::Duration) -> Self {
        let concurrency = concurrency.max(1);
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = std::sync::Arc::new(std::sync::Mutex::new(receiver));
        for n in 0..concurrency {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("kryton-hash-{n}"))
                .spawn(move || {
                    // The 19 MiB of Argon2 state, allocated once per thread and reused.
                    let mut memory: Vec<Block> = Vec::new();
                    loop {
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(&mut memory),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::error!(%error, "could not start a password hashing thread");
            }
        }
        Hashing {
            permits: tokio::sync::Semaphore::new(concurrency),
            queue_wait,
            jobs: std::sync::Mutex::new(sender),
        }
    }

    async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, AppError> {
        let busy = || AppError::Overloaded(self.queue_wait.max(std::time::Duration::from_secs(1)));
        let _permit = tokio::time::timeout(self.queue_wait, self.permits.acquire())
            .await
            .map_err(|_| busy())?
            .map_err(|_| busy())?;
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = reply.send(work(memory));
        });
        let sent = self.jobs.lock().map(|jobs| jobs.send(job).is_ok()).unwrap_or(false);
        if !sent {
            return Err(AppError::Internal(anyhow::anyhow!(
                "the password hashing threads are gone"
            )));
        }
        answer
            .await
            .map_err(|_| AppError::Internal(anyhow::anyhow!("a password hashing job was lost")))
    }
}

/// Runs Argon2 with `memory` as its working state (grown once to the size the parameters need).
fn argon2_into(
    argon: &Argon2<'_>,
    memory: &mut Vec<Block>,
    password: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), argon2::Error> {
    let blocks = argon.params().block_count();
    if memory.len() < blocks {
        memory.resize(blocks, Block::default());
    }
    argon.hash_password_into_with_memory(password, salt, out, &mut memory[..blocks])
}

/// An Argon2id PHC string (`$argon2id$v=19$m=...`) with the default parameters and a random salt.
fn hash_with(memory: &mut Vec<Block>, password: &[u8]) -> Result<String, argon2::password_hash::Error> {
    let params = Params::default();
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let salt = new_salt()?;
    let mut salt_bytes = [0u8; 64];
    let salt_raw = salt.as_salt().decode_b64(&mut salt_bytes)?;
    let mut out = vec![0u8; params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN)];
    argon2_into(&argon, memory, password, salt_raw, &mut out)?;
    let hash = PasswordHash {
        algorithm: argon2::ARGON2ID_IDENT,
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out)?),
    };
    Ok(hash.to_string())
}

/// Checks a password against a PHC string made by [`hash_with`] (or by `Argon2::hash_password`):
/// its own algorithm, version and parameters; the comparison is constant-time.
fn verify_with(memory: &mut Vec<Block>, password: &[u8], stored: &str) -> bool {
    let mut check = || -> Result<bool, argon2::password_hash::Error> {
        let hash = PasswordHash::new(stored)?;
        let expected = hash.hash.ok_or(argon2::password_hash::Error::Password)?;
        let salt = hash.salt.ok_or(argon2::password_hash::Error::Password)?;
        let algorithm = Algorithm::try_from(hash.algorithm)?;
        let version = hash.version.map(Version::try_from).transpose()?.unwrap_or_default();
        let argon = Argon2::new(algorithm, version, Params::try_from(&hash)?);
        let mut salt_bytes = [0u8; 64];
        let salt_raw = salt.decode_b64(&mut salt_bytes)?;
        let mut out = vec![0u8; expected.len()];
        argon2_into(&argon, memory, password, salt_raw, &mut out)?;
        Ok(Output::new(&out)? == expected)
    };
    check().unwrap_or(false)
}

pub async fn hash(hashing: &Hashing, password: String) -> Result<String, AppError> {
    hashing
        .run(move |memory| hash_with(memory, password.as_bytes()))
        .await?
        .map_err(|e| AppError::Internal(anyhow::anyhow!("password hashing failed: {e}")))
}

/// Checks a password against a stored hash; with `None` (no such account) against a dummy hash,
/// so that the time taken does not tell whether an email is registered.
pub async fn verify(hashing: &Hashing, password: String, stored: Option<String>) -> Result<bool, AppError> {
    hashing
        .run(move |memory| {
            let stored = stored.unwrap_or_else(|| dummy_hash(memory));
            verify_with(memory, password.as_bytes(), &stored)
        })
        .await
}

/// A hash to verify against when the account does not exist, so that the response time does not
/// tell whether an email is registered. Made once, from a random password.
fn dummy_hash(memory: &mut Vec<Block>) -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| hash_with(memory, crate::store::random_hex(16).as_bytes()).unwrap_or_default())
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::PasswordVerifier;

    #[test]
    fn hashes_are_standard_phc_strings_both_ways() {
        let mut memory = Vec::new();
        let made = hash_with(&mut memory, b"correct horse").unwrap();
        assert!(made.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{made}");
        // The crate's own verifier accepts ours, and ours accepts the crate's.
        let parsed = PasswordHash::new(&made).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(verify_with(&mut memory, b"correct horse", &made));
        assert!(!verify_with(&mut memory, b"wrong horse", &made));
        let theirs = {
            use argon2::password_hash::PasswordHasher;
            let salt = new_salt().unwrap();
            Argon2::default().hash_password(b"pw123456", &salt).unwrap().to_string()
        };
        assert!(verify_with(&mut memory, b"pw123456", &theirs));
        assert!(!verify_with(&mut memory, b"pw123456", "not a hash"));
    }
}
