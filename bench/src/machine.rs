//! Where and when a run happened, recorded next to its numbers: figures from different machines
//! or commits are not comparable, and the JSON should say so by itself.

use std::process::Command;

use serde::Serialize;

/// The machine and software a run used.
#[derive(Debug, Clone, Serialize)]
pub struct MachineInfo {
    /// CPU model from `/proc/cpuinfo`.
    pub cpu_model: Option<String>,
    /// Cores the runner may use (server, wrk and runner share them).
    pub cpus: usize,
    /// Total memory, MiB.
    pub memory_mib: Option<u64>,
    /// Kernel release.
    pub kernel: Option<String>,
    /// The load generator's and the compilers' versions (flat in the JSON, beside the rest).
    #[serde(flatten)]
    pub tools: ToolVersions,
    /// `git rev-parse HEAD`, with `-dirty` when the work tree has changes.
    pub git_commit: Option<String>,
}

/// The versions of the programs a run's figures depend on besides ours.
#[derive(Debug, Clone, Serialize)]
pub struct ToolVersions {
    /// `wrk -v`.
    pub wrk: Option<String>,
    /// `node --version` (the Express peers).
    pub node: Option<String>,
    /// `rustc --version` (the compiler cargo uses, for ours and the Rust peer).
    pub rustc: Option<String>,
}

/// Current UTC time as RFC 3339 to the second (`2026-11-29T15:04:05Z`) and seconds since the
/// epoch.
pub fn now() -> (String, i64) {
    let t = time::OffsetDateTime::now_utc();
    (rfc3339(t), t.unix_timestamp())
}

/// `t` as RFC 3339 in UTC, whole seconds. Formatting fails only for years outside 0..=9999,
/// which a clock reading cannot give; the epoch seconds stand in then.
fn rfc3339(t: time::OffsetDateTime) -> String {
    let whole = t.replace_nanosecond(0).unwrap_or(t);
    whole
        .to_offset(time::UtcOffset::UTC)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.unix_timestamp().to_string())
}

fn first_line(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .map(|l| l.trim().to_owned())
}

/// The value after `key:` on the first matching line of a `/proc` file.
fn proc_field(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().to_owned())
    })
}

impl MachineInfo {
    /// Gathers what it can; anything unreadable is `None`.
    pub fn collect(wrk: Option<String>, repo_root: &std::path::Path) -> Self {
        let git = |args: &[&str]| {
            Command::new("git")
                .arg("-C")
                .arg(repo_root)
                .args(args)
                .output()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        };
        let git_commit = git(&["rev-parse", "HEAD"]).map(|head| {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty { format!("{head}-dirty") } else { head }
        });
        let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
        Self {
            cpu_model: proc_field("/proc/cpuinfo", "model name"),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_mib: proc_field("/proc/meminfo", "MemTotal")
                .and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
                .map(|kib| kib / 1024),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .ok()
                .map(|s| s.trim().to_owned()),
            tools: ToolVersions {
                wrk,
                node: first_line("node", &["--version"]),
                rustc: first_line(&rustc, &["--version"]),
            },
            git_commit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_is_rfc3339_utc_to_the_second() {
        let t = time::OffsetDateTime::from_unix_timestamp(1_796_051_045)
            .expect("valid")
            .replace_nanosecond(123_456_789)
            .expect("valid");
        assert_eq!(rfc3339(t), "2026-11-30T15:04:05Z");
    }

    #[test]
    fn timestamp_agrees_with_the_epoch_seconds() {
        let (text, secs) = now();
        let parsed = time::OffsetDateTime::from_unix_timestamp(secs).expect("valid");
        assert_eq!(text, rfc3339(parsed));
    }

    #[test]
    fn machine_info_reads_this_linux_machine() {
        let info = MachineInfo::collect(None, std::path::Path::new("."));
        assert!(info.cpus >= 1);
        assert!(info.memory_mib.is_some_and(|m| m > 0));
        assert!(info.kernel.is_some());
    }
}
