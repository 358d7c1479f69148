//! Fault injection for the crash-point tests (docs/durability.md).
//!
//! `KRYTON_CRASH_AT=<operation>:<n>` kills the process with SIGKILL at the n-th durable step (a
//! rename, an fsync, a removal) taken while `<operation>` runs on the current thread; `n` counts
//! from 1 over the whole process. Without the variable every call is one relaxed load and returns:
//! compiled in always so the tests exercise the very binary that ships.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

/// The operation and step number asked for, parsed once.
fn target() -> Option<&'static (String, u64)> {
    static TARGET: OnceLock<Option<(String, u64)>> = OnceLock::new();
    TARGET
        .get_or_init(|| {
            let raw = std::env::var("KRYTON_CRASH_AT").ok()?;
            let (operation, n) = raw.rsplit_once(':')?;
            Some((operation.to_owned(), n.parse().ok()?))
        })
        .as_ref()
}

thread_local! {
    static CURRENT: Cell<Option<&'static str>> = const { Cell::new(None) };
}

static STEPS: AtomicU64 = AtomicU64::new(0);

/// Marks the current thread as running `operation` until the guard drops.
pub struct Operation {
    previous: Option<&'static str>,
}

/// Starts counting steps for `operation` on this thread.
pub fn operation(operation: &'static str) -> Operation {
    let previous = CURRENT.with(|c| c.replace(Some(operation)));
    Operation { previous }
}

impl Drop for Operation {
    fn drop(&mut self) {
        let previous = self.previous;
        CURRENT.with(|c| c.set(previous));
    }
}

/// One durable step (`what` names it in the log line). Dies here when this is the step asked for.
pub fn step(what: &str) {
    let Some((operation, n)) = target() else {
        return;
    };
    if CURRENT.with(Cell::get) != Some(operation.as_str()) {
        return;
    }
    let count = STEPS.fetch_add(1, Ordering::SeqCst) + 1;
    if count == *n {
        eprintln!("KRYTON_CRASH_AT: killing the process at step {count} ({what}) of {operation}");
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        // SIGKILL cannot be caught; should it somehow not arrive, never carry on past the point.
        std::process::abort();
    }
}
