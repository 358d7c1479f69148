//! Progress of long commands (`backup`, `restore`, `reindex`, `migrate`): a bar with counts, rate
//! and ETA when stderr is a terminal (indicatif), otherwise structured log lines (tracing) at most
//! once per `PROGRESS_INTERVAL`, plus one line when a phase starts and one when it finishes.
//!
//! Every phase logs `task` (what is being done), `done`, `total` (0 when not known in advance),
//! `unit` and `rate` (per second), so a log pipeline can follow a backup in a container or in CI.
//! A [`Progress`] is cheap to clone and safe to tick from blocking threads.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Default interval between two progress log lines of one phase.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(10);
/// The shortest interval accepted: log lines stay at a bounded rate whatever the setting.
pub const MIN_INTERVAL: Duration = Duration::from_millis(100);

static INTERVAL: OnceLock<Duration> = OnceLock::new();

/// Sets the interval between log lines (from `PROGRESS_INTERVAL`); once per process.
pub fn configure(interval: Duration) {
    let _ = INTERVAL.set(interval.max(MIN_INTERVAL));
}

fn interval() -> Duration {
    INTERVAL.get().copied().unwrap_or(DEFAULT_INTERVAL)
}

/// What is counted: items (files, rows, migrations) or bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    Files,
    Rows,
    Notes,
    Migrations,
    Bytes,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Files => "files",
            Unit::Rows => "rows",
            Unit::Notes => "notes",
            Unit::Migrations => "migrations",
            Unit::Bytes => "bytes",
        }
    }
}

/// One phase of a long command.
#[derive(Clone)]
pub struct Progress {
    inner: Arc<Inner>,
}

struct Inner {
    task: &'static str,
    unit: Unit,
    done: AtomicU64,
    total: AtomicU64,
    started: Instant,
    output: Output,
}

enum Output {
    Hidden,
    Bar(ProgressBar),
    /// When the last line was logged.
    Log(Mutex<Instant>),
}

impl Progress {
    /// Starts a phase: a bar on a terminal, log lines otherwise. `total` 0 means unknown.
    pub fn start(task: &'static str, unit: Unit, total: u64) -> Self {
        // A terminal indicatif can draw on (not TERM=dumb); anything else gets log lines.
        let drawable = std::io::stderr().is_terminal() && !ProgressDrawTarget::stderr().is_hidden();
        let output = if drawable {
            Output::Bar(bar(task, unit, total))
        } else {
            tracing::info!(task, total, unit = unit.as_str(), "started");
            Output::Log(Mutex::new(Instant::now()))
        };
        Progress::with(task, unit, total, output)
    }

    /// Counts without showing anything (library callers that are not a command).
    pub fn hidden(task: &'static str, unit: Unit) -> Self {
        Progress::with(task, unit, 0, Output::Hidden)
    }

    fn with(task: &'static str, unit: Unit, total: u64, output: Output) -> Self {
        Progress {
            inner: Arc::new(Inner {
                task,
                unit,
                done: AtomicU64::new(0),
                total: AtomicU64::new(total),
                started: Instant::now(),
                output,
            }),
        }
    }

    /// Adds `n` to what is done.
    pub fn inc(&self, n: u64) {
        let done = self.inner.done.fetch_add(n, Ordering::Relaxed) + n;
        match &self.inner.output {
            Output::Hidden => {}
            Output::Bar(bar) => bar.set_position(done),
            Output::Log(last) => {
                let now = Instant::now();
                let due = {
                    let Ok(mut last) = last.lock() else { return };
                    let due = now.duration_since(*last) >= interval();
                    if due {
                        *last = now;
                    }
                    due
                };
                if due {
                    self.log("progress");
                }
            }
        }
    }

    /// Adds to the expected total (when it becomes known piece by piece, e.g. vault by vault).
    pub fn add_total(&self, n: u64) {
        let total = self.inner.total.fetch_add(n, Ordering::Relaxed) + n;
        if let Output::Bar(bar) = &self.inner.output {
            bar.set_length(total);
        }
    }

    pub fn done(&self) -> u64 {
        self.inner.done.load(Ordering::Relaxed)
    }

    /// Ends the phase: the bar is completed, or one `finished` line with the final count.
    pub fn finish(&self) {
        match &self.inner.output {
            Output::Hidden => {}
            Output::Bar(bar) => bar.finish(),
            Output::Log(_) => self.log("finished"),
        }
    }

    fn log(&self, message: &'static str) {
        let done = self.done();
        let total = self.inner.total.load(Ordering::Relaxed);
        let elapsed = self.inner.started.elapsed();
        let rate = (done as f64 / elapsed.as_secs_f64().max(0.001)).round() as u64;
        let (task, unit) = (self.inner.task, self.inner.unit.as_str());
        let elapsed_ms = elapsed.as_millis() as u64;
        if message == "finished" {
            tracing::info!(task, done, total, unit, rate, elapsed_ms, "finished");
        } else {
            tracing::info!(task, done, total, unit, rate, elapsed_ms, "progress");
        }
    }
}

fn bar(task: &'static str, unit: Unit, total: u64) -> ProgressBar {
    let template = match (unit, total) {
        (Unit::Bytes, 0) => "{prefix:>12} {spinner} {bytes} ({bytes_per_sec}) {elapsed}".to_owned(),
        (Unit::Bytes, _) => "{prefix:>12} [{bar:30}] {bytes}/{total_bytes} ({bytes_per_sec}, eta {eta})".to_owned(),
        (_, 0) => format!(
            "{{prefix:>12}} {{spinner}} {{human_pos}} {} ({{per_sec}}) {{elapsed}}",
            unit.as_str()
        ),
        (_, _) => format!(
            "{{prefix:>12}} [{{bar:30}}] {{human_pos}}/{{human_len}} {} ({{per_sec}}, eta {{eta}})",
            unit.as_str()
        ),
    };
    let style = ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let bar = ProgressBar::with_draw_target(Some(total).filter(|t| *t > 0), ProgressDrawTarget::stderr_with_hz(10));
    bar.set_style(style);
    bar.set_prefix(task);
    if total == 0 {
        bar.enable_steady_tick(Duration::from_millis(200));
    }
    bar
}

/// `1.5 GiB`: for summary lines.
pub fn bytes(n: u64) -> String {
    HumanBytes(n).to_string()
}
