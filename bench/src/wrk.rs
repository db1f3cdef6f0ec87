//! Drives `wrk`, the load generator, and reads the summary that `bench/wrk/tokens.lua` prints.
//!
//! wrk is a Debian package; the Lua script reads the tokens from a file (never the command line)
//! and prints one `BENCH_RESULT {json}` line when the run ends, which is easier and safer to
//! parse than wrk's human-oriented text.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// The marker the Lua script puts before its JSON summary.
const MARKER: &str = "BENCH_RESULT ";

/// What went wrong with a wrk run.
#[derive(Debug, thiserror::Error)]
pub enum WrkError {
    /// wrk could not be started.
    #[error("cannot start wrk: {0}")]
    Spawn(std::io::Error),
    /// wrk ran longer than its duration plus a margin and was stopped.
    #[error("wrk did not finish within {0:?}; stopped")]
    Hung(Duration),
    /// wrk exited with a failure.
    #[error("wrk failed ({status}): {stderr}")]
    Failed {
        /// Exit status.
        status: std::process::ExitStatus,
        /// What it printed on stderr.
        stderr: String,
    },
    /// wrk's output had no summary line from the script.
    #[error("wrk printed no {MARKER:?} summary line")]
    NoSummary,
    /// The summary line was not the expected JSON.
    #[error("wrk summary is not valid: {0}")]
    BadSummary(serde_json::Error),
}

/// One wrk run's figures, as printed by the Lua `done` hook (times in microseconds).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct WrkSummary {
    /// Completed requests.
    pub requests: u64,
    /// Wall time of the run.
    pub duration_us: u64,
    /// Bytes read.
    pub bytes: u64,
    /// Socket connect errors.
    pub errors_connect: u64,
    /// Socket read errors.
    pub errors_read: u64,
    /// Socket write errors.
    pub errors_write: u64,
    /// Requests that timed out.
    pub errors_timeout: u64,
    /// Responses with a status of 400 or more (wrk's count; 3xx are not counted, and none of the
    /// servers sends one on these routes — the preflight checks each scenario's exact status).
    pub status_errors: u64,
    /// Median latency.
    pub latency_p50_us: u64,
    /// 90th percentile latency.
    pub latency_p90_us: u64,
    /// 99th percentile latency.
    pub latency_p99_us: u64,
    /// Slowest request.
    pub latency_max_us: u64,
    /// Mean latency.
    pub latency_mean_us: f64,
    /// Requests sent without a DPoP proof because a thread had used all of its own (DPoP
    /// scenario only; `wrk/dpop.lua`).
    #[serde(default)]
    pub proofs_exhausted: u64,
}

impl WrkSummary {
    /// Requests per second over the run.
    pub fn requests_per_sec(&self) -> f64 {
        if self.duration_us == 0 {
            return 0.0;
        }
        self.requests as f64 * 1e6 / self.duration_us as f64
    }

    /// Socket-level errors of every kind (not HTTP statuses).
    pub fn socket_errors(&self) -> u64 {
        self.errors_connect + self.errors_read + self.errors_write + self.errors_timeout
    }
}

/// Finds the summary line in wrk's stdout and parses it.
pub fn parse_summary(stdout: &str) -> Result<WrkSummary, WrkError> {
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(MARKER))
        .ok_or(WrkError::NoSummary)?;
    serde_json::from_str(line).map_err(WrkError::BadSummary)
}

/// A wrk invocation: who to hit, how hard, with which tokens.
#[derive(Debug, Clone)]
pub struct WrkRun {
    /// The wrk executable.
    pub wrk: PathBuf,
    /// `bench/wrk/tokens.lua`.
    pub script: PathBuf,
    /// Full URL, loopback only.
    pub url: String,
    /// Token file (one per line; empty file = no Authorization header).
    pub tokens: PathBuf,
    /// Further script arguments after the token file (the DPoP script's proof file and thread
    /// count).
    pub extra_args: Vec<String>,
    /// wrk threads.
    pub threads: u32,
    /// Open connections.
    pub connections: u32,
    /// Length of the run.
    pub duration: Duration,
}

impl WrkRun {
    /// The command line, tokens excluded (they stay in the file).
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            format!("--threads={}", self.threads),
            format!("--connections={}", self.connections),
            format!("--duration={}s", self.duration.as_secs().max(1)),
            "--timeout=5s".to_owned(),
            format!("--script={}", self.script.display()),
            self.url.clone(),
            "--".to_owned(),
            self.tokens.display().to_string(),
        ];
        args.extend(self.extra_args.iter().cloned());
        args
    }

    /// Runs wrk to completion (bounded: it is killed if it overruns by 30 s) and parses its summary.
    pub fn run(&self) -> Result<WrkSummary, WrkError> {
        let mut child = Command::new(&self.wrk)
            .args(self.args())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(WrkError::Spawn)?;
        let limit = self.duration + Duration::from_secs(30);
        let started = Instant::now();
        // The pipes are small, so read them on threads while the main one watches the clock.
        let stdout = child.stdout.take().map(read_to_end_thread);
        let stderr = child.stderr.take().map(read_to_end_thread);
        let status = loop {
            match child.try_wait().map_err(WrkError::Spawn)? {
                Some(status) => break status,
                None if started.elapsed() > limit => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(WrkError::Hung(limit));
                }
                None => std::thread::sleep(Duration::from_millis(50)),
            }
        };
        let stdout = stdout.map(join_text).unwrap_or_default();
        let stderr = stderr.map(join_text).unwrap_or_default();
        if !status.success() {
            return Err(WrkError::Failed {
                status,
                stderr: stderr.trim().to_owned(),
            });
        }
        parse_summary(&stdout)
    }
}

fn read_to_end_thread<R: std::io::Read + Send + 'static>(
    mut r: R,
) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    })
}

fn join_text(h: std::thread::JoinHandle<String>) -> String {
    h.join().unwrap_or_default()
}

/// The first line of `wrk -v`, e.g. `wrk debian/4.1.0-3+b2 [epoll] ...`.
pub fn version(wrk: &Path) -> Option<String> {
    let out = Command::new(wrk).arg("-v").output().ok()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    text.lines().next().map(|l| l.trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 1s test @ http://127.0.0.1:1/api/public\n  2 threads and 64 connections\n\
Requests/sec:    541.80\n\
BENCH_RESULT {\"requests\":2735,\"duration_us\":5047971,\"bytes\":793150,\"errors_connect\":0,\"errors_read\":1,\"errors_write\":2,\"errors_timeout\":3,\"status_errors\":7,\"latency_p50_us\":108672,\"latency_p90_us\":173129,\"latency_p99_us\":1233169,\"latency_max_us\":1726070,\"latency_mean_us\":158283.4}\n";

    #[test]
    fn summary_line_is_found_among_wrk_text_and_parsed() {
        let s = parse_summary(SAMPLE).expect("parses");
        assert_eq!(s.requests, 2735);
        assert_eq!(s.status_errors, 7);
        assert_eq!(s.latency_p99_us, 1_233_169);
        assert_eq!(s.socket_errors(), 6);
        assert_eq!(s.proofs_exhausted, 0);
    }

    #[test]
    fn requests_per_second_divide_by_the_measured_duration() {
        let s = parse_summary(SAMPLE).expect("parses");
        assert!(
            (s.requests_per_sec() - 541.80).abs() < 0.01,
            "{}",
            s.requests_per_sec()
        );
    }

    #[test]
    fn output_without_summary_is_an_error() {
        assert!(matches!(
            parse_summary("Requests/sec: 1\n"),
            Err(WrkError::NoSummary)
        ));
    }

    #[test]
    fn command_line_names_the_token_file_not_a_token() {
        let run = WrkRun {
            wrk: "wrk".into(),
            script: "/b/tokens.lua".into(),
            url: "http://127.0.0.1:9/api/external".into(),
            tokens: "/t/pool.txt".into(),
            extra_args: Vec::new(),
            threads: 2,
            connections: 64,
            duration: Duration::from_secs(15),
        };
        assert_eq!(
            run.args(),
            [
                "--threads=2",
                "--connections=64",
                "--duration=15s",
                "--timeout=5s",
                "--script=/b/tokens.lua",
                "http://127.0.0.1:9/api/external",
                "--",
                "/t/pool.txt"
            ]
        );
    }
}
