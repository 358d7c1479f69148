//! What this build is: the release version and the commit it was built from.

use serde::Serialize;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The body of `/api/version`: `majorVersion` is the original's name, `major` ours.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    pub version: &'static str,
    pub commit: String,
    pub major: u64,
    pub major_version: u64,
}

impl BuildInfo {
    /// The commit comes from the build (git or `KRYTON_COMMIT`), else `/COMMIT_SHA`, else "unknown".
    pub fn current() -> Self {
        let major = VERSION.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
        BuildInfo {
            version: VERSION,
            commit: commit(std::path::Path::new("/COMMIT_SHA")),
            major,
            major_version: major,
        }
    }
}

fn commit(fallback_file: &std::path::Path) -> String {
    let built = env!("KRYTON_BUILD_COMMIT");
    if !built.is_empty() {
        return built.to_owned();
    }
    std::fs::read_to_string(fallback_file)
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn major_follows_the_crate_version() {
        let info = BuildInfo::current();
        assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(info.major.to_string(), env!("CARGO_PKG_VERSION_MAJOR"));
        assert!(!info.commit.is_empty());
    }
}
