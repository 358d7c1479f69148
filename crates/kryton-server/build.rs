//! Embeds the migration files, records the git commit the binary was built from, and builds the
//! web app (web/, npm) when its sources changed, so a plain `cargo run` serves the UI.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

fn main() {
    embed_migrations();
    record_commit();
    if let Err(message) = build_web() {
        // A build script that panics prints its message under a wall of noise; this reads better.
        eprintln!("\nerror: {message}\n");
        std::process::exit(1);
    }
}

/// Builds web/ into web/dist when the sources changed since the last build (a hash stamp), and
/// tells the crate where the built files are (`KRYTON_WEB_DIST`, read by rust-embed).
///
/// `KRYTON_SKIP_WEB_BUILD=1` never runs npm: the files already in web/dist are embedded as they
/// are (the container build makes them in its own node stage), or, when there are none, a page
/// saying how to build the UI.
fn build_web() -> Result<(), String> {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap_or_default());
    let web = manifest.join("../../web");
    let dist = web.join("dist");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    println!("cargo:rerun-if-env-changed=KRYTON_SKIP_WEB_BUILD");
    let skip = std::env::var("KRYTON_SKIP_WEB_BUILD").is_ok_and(|v| !v.is_empty() && v != "0");
    let inputs = web_inputs(&web, &manifest);
    for input in &inputs {
        println!("cargo:rerun-if-changed={}", input.display());
    }
    for dir in ["src", "scripts", "public"] {
        println!("cargo:rerun-if-changed={}", web.join(dir).display());
    }
    let stamp_path = dist.join(".build-stamp");
    if skip || !web.join("package.json").is_file() {
        let folder = if dist.join("index.html").is_file() {
            dist
        } else {
            placeholder(&out_dir)?
        };
        println!("cargo:rustc-env=KRYTON_WEB_DIST={}", folder.display());
        return Ok(());
    }
    let stamp = hash_files(&inputs);
    let built = std::fs::read_to_string(&stamp_path).unwrap_or_default();
    if built.trim() != stamp || !dist.join("index.html").is_file() {
        let npm = if cfg!(windows) { "npm.cmd" } else { "npm" };
        if Command::new(npm).arg("--version").output().is_err() {
            return Err(format!(
                "npm was not found on PATH, and the web app in {} must be built with it. Install \
                 Node.js 20+ and npm, or set KRYTON_SKIP_WEB_BUILD=1 to build the server without \
                 building the UI (see docs/architecture.md).",
                web.display()
            ));
        }
        if !web.join("node_modules").is_dir() {
            run_npm(npm, &web, &["ci", "--no-audit", "--no-fund"])?;
        }
        run_npm(npm, &web, &["run", "build"])?;
        std::fs::write(&stamp_path, &stamp).map_err(|e| format!("could not write {}: {e}", stamp_path.display()))?;
    }
    println!("cargo:rustc-env=KRYTON_WEB_DIST={}", dist.display());
    Ok(())
}

fn run_npm(npm: &str, dir: &Path, args: &[&str]) -> Result<(), String> {
    let status = Command::new(npm)
        .args(args)
        .current_dir(dir)
        .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
        .status()
        .map_err(|e| format!("could not run npm {}: {e}", args.join(" ")))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "`npm {}` failed in {} ({status}); its output is above. Set KRYTON_SKIP_WEB_BUILD=1 to \
             build the server without the UI.",
            args.join(" "),
            dir.display()
        ))
    }
}

/// Every file whose change means a new build: sources, config, lockfile, and the server's OpenAPI
/// document the API types are generated from.
fn web_inputs(web: &Path, manifest: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for name in [
        "index.html",
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "vite.config.ts",
    ] {
        files.push(web.join(name));
    }
    for dir in ["src", "scripts", "public"] {
        collect(&web.join(dir), &mut files);
    }
    files.push(manifest.join("openapi.json"));
    files.sort();
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.filter_map(Result::ok) {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else {
            files.push(path);
        }
    }
}

fn hash_files(files: &[PathBuf]) -> String {
    let mut hasher = Sha256::new();
    for file in files {
        hasher.update(file.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(file).unwrap_or_default());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// The page served when the UI was deliberately not built.
fn placeholder(out_dir: &Path) -> Result<PathBuf, String> {
    let dir = out_dir.join("web-placeholder");
    std::fs::create_dir_all(&dir).map_err(|e| format!("could not create {}: {e}", dir.display()))?;
    let page = "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>Kryton</title>\
        <h1>Kryton</h1><p>This server was built with KRYTON_SKIP_WEB_BUILD=1 and without a built \
        web app. Run <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code> and rebuild \
        the server. The API is served under <code>/api</code>.</p></html>";
    std::fs::write(dir.join("index.html"), page).map_err(|e| format!("could not write the placeholder page: {e}"))?;
    Ok(dir)
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
