//! Embeds the migration files and records the git commit the binary was built from.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Command;

fn main() {
    embed_migrations();
    record_commit();
}

fn embed_migrations() {
    let out_dir = std::env::var("OUT_DIR").unwrap_or_default();
    let mut code = String::new();
    for dialect in ["postgres", "sqlite"] {
        let dir = Path::new("migrations").join(dialect);
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".sql"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let _ = writeln!(code, "pub const {}: &[(&str, &str)] = &[", dialect.to_uppercase());
        for name in names {
            let path = std::fs::canonicalize(dir.join(&name)).unwrap_or_else(|_| dir.join(&name));
            let _ = writeln!(code, "    ({name:?}, include_str!({:?})),", path.display().to_string());
        }
        code.push_str("];\n");
    }
    let _ = std::fs::write(Path::new(&out_dir).join("embedded_migrations.rs"), code);
}

fn record_commit() {
    println!("cargo:rerun-if-env-changed=KRYTON_COMMIT");
    let from_env = std::env::var("KRYTON_COMMIT").ok().filter(|c| !c.trim().is_empty());
    let from_git = || {
        let git_dir = Command::new("git").args(["rev-parse", "--git-dir"]).output().ok()?;
        let git_dir = String::from_utf8(git_dir.stdout).ok()?;
        println!("cargo:rerun-if-changed={}/HEAD", git_dir.trim());
        println!("cargo:rerun-if-changed={}/logs/HEAD", git_dir.trim());
        let out = Command::new("git").args(["rev-parse", "HEAD"]).output().ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let commit = from_env.or_else(from_git).unwrap_or_default();
    println!("cargo:rustc-env=KRYTON_BUILD_COMMIT={commit}");
}
