//! `kryton upgrade-check`: the seed's pre-upgrade checklist as a command.
//!
//! Run the binary of the release you are about to deploy, pointed at the running server. It reads
//! `/api/version` and `/readyz`, compares the server's schema with the migrations this binary
//! carries, looks for a recent backup, and says in one line whether the upgrade is safe. Run it
//! again after the upgrade: it then confirms that this release is the one serving.

use std::path::Path;
use std::time::{Duration, SystemTime};

use kryton_migrate::{Compat, MigrationSet};
use serde::Serialize;
use serde_json::Value;

use crate::version::BuildInfo;

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Pending {
    pub version: i64,
    pub slug: String,
    pub compat: Compat,
}

/// Everything the check found; `safe` and `verdict` sum it up.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpgradeCheck {
    pub url: String,
    pub running_version: Option<String>,
    pub running_commit: Option<String>,
    pub ready: bool,
    pub ready_message: Option<String>,
    pub schema_version: Option<i64>,
    pub this_version: String,
    pub this_commit: String,
    pub this_schema_head: i64,
    pub pending: Vec<Pending>,
    pub newest_backup: Option<String>,
    pub newest_backup_age_hours: Option<f64>,
    /// This release is already the one serving.
    pub live: bool,
    pub safe: bool,
    pub verdict: String,
}

/// Fetches the two endpoints (5 s each) and decides.
pub async fn run(
    url: &str,
    target_version: Option<&str>,
    set: &MigrationSet,
    backup_dir: &Path,
    backup_max_age: Duration,
) -> UpgradeCheck {
    let base = url.trim_end_matches('/');
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap_or_default();
    let version = fetch(&client, &format!("{base}/api/version")).await;
    let ready = fetch(&client, &format!("{base}/readyz")).await;
    let this = BuildInfo::current();
    let (ready_ok, ready_message, schema_version) = match &ready {
        Ok((200, body)) => (true, None, body["schema"]["version"].as_i64()),
        Ok((status, body)) => (
            false,
            Some(
                body["checks"]["database"]["message"]
                    .as_str()
                    .map_or_else(|| format!("HTTP {status}"), str::to_owned),
            ),
            None,
        ),
        Err(e) => (false, Some(e.clone()), None),
    };
    let (running_version, running_commit) = match &version {
        Ok((200, body)) => (
            body["version"].as_str().map(str::to_owned),
            body["commit"].as_str().map(str::to_owned),
        ),
        _ => (None, None),
    };
    let pending: Vec<Pending> = set
        .migrations
        .iter()
        .filter(|m| schema_version.is_some_and(|v| m.version > v))
        .map(|m| Pending {
            version: m.version,
            slug: m.slug.clone(),
            compat: m.compat,
        })
        .collect();
    let backup = newest_backup(backup_dir);
    let backup_age = backup.as_ref().map(|(_, age)| age.as_secs_f64() / 3600.0);
    let fresh_backup = backup.as_ref().is_some_and(|(_, age)| *age <= backup_max_age);
    // Live: this very build is serving, on the schema it carries.
    let live = running_version.as_deref() == Some(this.version)
        && running_commit.as_deref() == Some(this.commit.as_str())
        && schema_version == Some(set.head());

    let (safe, verdict) = if let Err(e) = &version {
        (false, format!("NOT SAFE: cannot read {base}/api/version ({e})"))
    } else if !ready_ok {
        (
            false,
            format!(
                "NOT SAFE: the server is not ready ({}); fix that first",
                ready_message.clone().unwrap_or_default()
            ),
        )
    } else if let Some(target) = target_version.filter(|t| *t != this.version) {
        (
            false,
            format!(
                "NOT SAFE: this binary is kryton {}, not the target {target}; run the target release's binary",
                this.version
            ),
        )
    } else if live {
        (
            true,
            format!(
                "LIVE: kryton {} (commit {}) is serving, schema {}",
                this.version,
                this.commit,
                schema_version.unwrap_or(0)
            ),
        )
    } else if schema_version.is_some_and(|v| v > set.head()) {
        (
            false,
            format!(
                "NOT SAFE: the server's schema ({}) is newer than this binary's ({}); this is a downgrade. \
                 Run `kryton migrate plan` with this binary against the database: it boots only if every newer \
                 migration is `expand`; otherwise restore the backup taken before the upgrade",
                schema_version.unwrap_or(0),
                set.head()
            ),
        )
    } else if pending.iter().any(|p| p.compat == Compat::Contract) && !fresh_backup {
        (
            false,
            format!(
                "NOT SAFE: {} pending migration(s) include a `contract` change and there is no backup in {} newer \
                 than {}h; take one first (`kryton backup`)",
                pending.len(),
                backup_dir.display(),
                backup_max_age.as_secs() / 3600
            ),
        )
    } else if pending.is_empty() {
        (
            true,
            "SAFE: no migration is pending; the upgrade only replaces the binary".to_owned(),
        )
    } else {
        let contract = pending.iter().filter(|p| p.compat == Compat::Contract).count();
        let kind = if contract == 0 {
            "all `expand`: the running release keeps working during and after the upgrade".to_owned()
        } else {
            format!("{contract} `contract`, and a recent backup exists")
        };
        (
            true,
            format!(
                "SAFE: {} migration(s) will run at the new release's first boot, {kind}",
                pending.len()
            ),
        )
    };
    UpgradeCheck {
        url: base.to_owned(),
        running_version,
        running_commit,
        ready: ready_ok,
        ready_message,
        schema_version,
        this_version: this.version.to_owned(),
        this_commit: this.commit,
        this_schema_head: set.head(),
        pending,
        newest_backup: backup.map(|(p, _)| p),
        newest_backup_age_hours: backup_age,
        live,
        safe,
        verdict,
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<(u16, Value), String> {
    let response = client.get(url).send().await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response
        .json::<Value>()
        .await
        .map_err(|e| format!("{url} did not answer JSON: {e}"))?;
    Ok((status, body))
}

/// The most recently written file in the backup directory, and its age.
fn newest_backup(dir: &Path) -> Option<(String, Duration)> {
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| !e.file_name().to_string_lossy().ends_with(".partial"))
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            Some((
                e.path().display().to_string(),
                SystemTime::now().duration_since(modified).unwrap_or_default(),
            ))
        })
        .min_by_key(|(_, age)| *age)
}

impl UpgradeCheck {
    pub fn print(&self) {
        let or_unknown = |v: &Option<String>| v.clone().unwrap_or_else(|| "unknown".to_owned());
        println!("server       {}", self.url);
        println!(
            "running      kryton {} (commit {})",
            or_unknown(&self.running_version),
            or_unknown(&self.running_commit)
        );
        println!(
            "ready        {}{}",
            if self.ready { "yes" } else { "no" },
            self.ready_message
                .as_deref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        );
        println!(
            "schema       {}",
            self.schema_version
                .map_or_else(|| "unknown".to_owned(), |v| format!("{v:04}"))
        );
        println!(
            "this binary  kryton {} (commit {}), schema up to {:04}",
            self.this_version, self.this_commit, self.this_schema_head
        );
        for p in &self.pending {
            println!("pending      {:04}_{} ({})", p.version, p.slug, p.compat.as_str());
        }
        match (&self.newest_backup, self.newest_backup_age_hours) {
            (Some(path), Some(age)) => println!("last backup  {path} ({age:.1}h ago)"),
            _ => println!("last backup  none found"),
        }
        println!("{}", self.verdict);
    }
}
