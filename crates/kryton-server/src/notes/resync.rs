//! Index updates that failed after their note's file had changed, retried in the background.
//!
//! A write answers 2xx once its file is durable (the file *is* the note). When the index update
//! that follows fails (the database is down, or its volume is full), [`super::sync_path`] puts the
//! path here and [`run`] re-indexes it, retrying with backoff (250 ms doubling to 5 s) until the
//! database answers again: search, backlinks and tags catch up within seconds of the recovery,
//! not at the next restart. Re-indexing reads the file as it is then, so the order of retries
//! does not matter and a path queued twice is indexed once.
//!
//! The queue lives in memory: a process that dies with paths queued is healed by boot's
//! reconcile, which compares every file with the index before the port opens.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::db::Database;
use crate::vault::{NotePath, Vault};

const FIRST_RETRY: Duration = Duration::from_millis(250);
const LAST_RETRY: Duration = Duration::from_secs(5);

/// One queued path, keyed by (vault root, note path).
type Key = (std::path::PathBuf, String);

#[derive(Clone)]
struct Queued {
    vault: Vault,
    user_id: String,
    path: NotePath,
    /// Bumped by every enqueue: an item is dropped only when the attempt that succeeded saw the
    /// newest request for it.
    generation: u64,
}

/// The process's queue. One process serves one database, so one queue serves every face (REST,
/// MCP) without threading a handle through each note operation.
struct Queue {
    pending: Mutex<BTreeMap<Key, Queued>>,
    wake: Notify,
}

static QUEUE: LazyLock<Queue> = LazyLock::new(|| Queue {
    pending: Mutex::new(BTreeMap::new()),
    wake: Notify::new(),
});

static GENERATION: AtomicU64 = AtomicU64::new(0);

fn pending() -> std::sync::MutexGuard<'static, BTreeMap<Key, Queued>> {
    // A panic while holding this short lock leaves the map itself consistent.
    QUEUE.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Queues `path` of `vault` for re-indexing and wakes the worker.
pub fn enqueue(vault: &Vault, user_id: &str, path: &NotePath) {
    let key = (vault.root().to_path_buf(), path.as_str().to_owned());
    let generation = GENERATION.fetch_add(1, Ordering::SeqCst);
    pending().insert(
        key,
        Queued {
            vault: vault.clone(),
            user_id: user_id.to_owned(),
            path: path.clone(),
            generation,
        },
    );
    QUEUE.wake.notify_one();
}

/// How many paths wait for re-indexing, those being retried included (reported by `/readyz`).
pub fn len() -> usize {
    pending().len()
}

/// The worker: re-indexes queued paths until the process stops.
pub async fn run(db: Database) {
    let mut pause = FIRST_RETRY;
    loop {
        let batch: Vec<(Key, Queued)> = pending().iter().map(|(k, q)| (k.clone(), q.clone())).collect();
        if batch.is_empty() {
            // `notify_one` keeps a permit when nobody waits, so a path queued in between is not missed.
            QUEUE.wake.notified().await;
            continue;
        }
        let mut failed = false;
        for (key, item) in batch {
            match super::index_path(&db, &item.vault, &item.user_id, &item.path).await {
                Ok(indexed) => {
                    // A request may have written the file again while this ran, and its own index
                    // update may have landed before ours: done only if the file still is what we
                    // indexed; otherwise the next round indexes it again.
                    let (reader, target) = (item.vault.clone(), item.path.clone());
                    let now = super::blocking(move || match reader.read(&target) {
                        Ok(note) => Ok(Some(note.hash)),
                        Err(crate::vault::VaultError::NotFound(_)) => Ok(None),
                        Err(e) => Err(e),
                    })
                    .await;
                    if now.as_ref().ok() == Some(&indexed) {
                        let mut queue = pending();
                        if queue.get(&key).is_some_and(|q| q.generation == item.generation) {
                            queue.remove(&key);
                        }
                        drop(queue);
                        tracing::info!(user = %item.user_id, path = %item.path, "re-indexed a note after a failed index update");
                    }
                }
                Err(error) => {
                    tracing::debug!(user = %item.user_id, path = %item.path, error = ?error, "re-indexing failed; will retry");
                    failed = true;
                }
            }
        }
        if failed {
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(LAST_RETRY);
        } else {
            pause = FIRST_RETRY;
        }
    }
}
