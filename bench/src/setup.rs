//! Everything a fresh clone lacks before the first run: `wrk` (Debian package), the Express
//! peers' `node_modules` (`npm ci` from the committed lockfile), and release builds of our
//! binaries. Each step says what it runs; what it cannot do (no root for apt) it prints as the
//! exact command for the user to run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A prerequisite that could not be had.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// wrk is missing and we are not root.
    #[error("wrk is not installed; run: sudo apt-get install -y wrk")]
    WrkMissing,
    /// redis-server is missing and we are not root.
    #[error(
        "redis-server is not installed (the ours-redis server needs it); run: sudo apt-get install -y redis-server, or leave ours-redis out of --servers"
    )]
    RedisMissing,
    /// Node.js is missing.
    #[error(
        "node and npm are needed for the Express peers; install Node.js 20.19 or newer (Debian: sudo apt-get install -y nodejs npm), or pass --servers ours"
    )]
    NodeMissing,
    /// A command failed.
    #[error("`{0}` failed ({1})")]
    Failed(String, String),
}

/// Finds `program` on `PATH`.
pub fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|v| v.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn run(mut cmd: Command, shown: &str) -> Result<(), SetupError> {
    eprintln!("bench: running {shown}");
    let status = cmd
        .stdin(Stdio::null())
        .status()
        .map_err(|e| SetupError::Failed(shown.to_owned(), e.to_string()))?;
    if status.success() {
        Ok(())
    } else {
        Err(SetupError::Failed(shown.to_owned(), status.to_string()))
    }
}

/// The path of `program`, installing the Debian `package` with apt-get when it is missing and
/// we run as root; `missing` when it cannot be had.
fn ensure_apt(program: &str, package: &str, missing: SetupError) -> Result<PathBuf, SetupError> {
    if let Some(p) = which(program) {
        return Ok(p);
    }
    if !is_root() {
        return Err(missing);
    }
    let mut update = Command::new("apt-get");
    update.arg("update");
    run(update, "apt-get update")?;
    let args = ["install", "-y", "--no-install-recommends", package];
    let mut install = Command::new("apt-get");
    install.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    run(install, &format!("apt-get {}", args.join(" ")))?;
    which(program).ok_or(missing)
}

/// The path of `wrk`, installing it with apt-get when missing and running as root.
pub fn ensure_wrk() -> Result<PathBuf, SetupError> {
    ensure_apt("wrk", "wrk", SetupError::WrkMissing)
}

/// The path of `redis-server`, installing it with apt-get when missing and running as root.
pub fn ensure_redis() -> Result<PathBuf, SetupError> {
    ensure_apt("redis-server", "redis-server", SetupError::RedisMissing)
}

/// The path of `node`, after `npm ci` in `bench_dir` if its `node_modules` is missing.
pub fn ensure_node_modules(bench_dir: &Path) -> Result<PathBuf, SetupError> {
    let node = which("node").ok_or(SetupError::NodeMissing)?;
    if !bench_dir.join("node_modules").is_dir() {
        let npm = which("npm").ok_or(SetupError::NodeMissing)?;
        let mut ci = Command::new(npm);
        ci.args(["ci", "--no-audit", "--no-fund"])
            .current_dir(bench_dir);
        run(ci, "npm ci (in bench/)")?;
    }
    Ok(node)
}

/// `cargo build --release --locked` with `args`, in `repo_root`.
fn cargo_build(repo_root: &Path, args: &[String]) -> Result<(), SetupError> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--release", "--locked"])
        .args(args)
        .current_dir(repo_root);
    run(
        cmd,
        &format!("cargo build --release --locked {}", args.join(" ")),
    )
}

/// `cargo build --release --locked -p <each package>` in `repo_root`.
pub fn build_release(repo_root: &Path, packages: &[&str]) -> Result<(), SetupError> {
    let args: Vec<String> = packages
        .iter()
        .flat_map(|p| ["-p".to_owned(), (*p).to_owned()])
        .collect();
    cargo_build(repo_root, &args)
}

/// `cargo build --release --locked --manifest-path <manifest>` for a peer that is a workspace
/// of its own, into `target` (the repository's target dir: its dependencies are built once
/// and kept with ours, under their own hashes).
pub fn build_peer(repo_root: &Path, manifest: &Path, target: &Path) -> Result<(), SetupError> {
    let args = [
        "--manifest-path".to_owned(),
        manifest.display().to_string(),
        "--target-dir".to_owned(),
        target.display().to_string(),
    ];
    cargo_build(repo_root, &args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_sh_and_not_a_made_up_program() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-bench-7").is_none());
    }
}
