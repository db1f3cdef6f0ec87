//! One measurement: a warm-up, then a fixed-length wrk run against one server in one scenario,
//! with the server's memory and CPU watched from `/proc`, its log lines counted and, for ours,
//! its verifier's cache counters read before and after.

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::options::{Options, ServerKind};
use crate::process::Server;
use crate::procstat::{self, Usage};
use crate::prometheus::CacheCounters;
use crate::report::RunRecord;
use crate::scenario::Scenario;
use crate::tokens::TokenFiles;
use crate::wrk::{WrkError, WrkRun, WrkSummary};

/// Why a measurement failed.
#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    /// wrk failed.
    #[error(transparent)]
    Wrk(#[from] WrkError),
    /// The blocking thread that ran wrk died.
    #[error("a measuring thread failed")]
    Thread,
}

/// What every measurement of a run shares.
#[derive(Debug)]
pub struct Bench<'a> {
    /// For `/metrics` scrapes.
    pub client: &'a reqwest::Client,
    /// Durations, connections, threads.
    pub options: &'a Options,
    /// The wrk executable.
    pub wrk: &'a Path,
    /// `bench/wrk/tokens.lua`.
    pub script: PathBuf,
    /// The token pools.
    pub files: &'a TokenFiles,
}

/// A server under test, up and answering.
#[derive(Debug)]
pub struct Target {
    /// Which server.
    pub kind: ServerKind,
    /// Its process (killed when dropped).
    pub server: Server,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// Where its verifier's counters are served (ours only).
    pub metrics_url: Option<String>,
}

/// What one measurement saw, before it becomes a [`RunRecord`].
struct Observed {
    distinct_tokens: usize,
    warmup_requests: u64,
    summary: WrkSummary,
    usage: Usage,
    log_lines: u64,
    log_bytes: u64,
    token_cache_hit_ratio: Option<f64>,
}

impl Bench<'_> {
    /// Warm-up, then the measured run of `scenario` against `target`.
    pub async fn measure(
        &self,
        target: &Target,
        scenario: Scenario,
    ) -> Result<RunRecord, MeasureError> {
        let tokens = self.files.for_scenario(scenario).to_path_buf();
        let distinct_tokens = std::fs::read_to_string(&tokens)
            .map(|t| t.lines().count())
            .unwrap_or(0);
        let run = WrkRun {
            wrk: self.wrk.to_path_buf(),
            script: self.script.clone(),
            url: format!("{}{}", target.base, scenario.path()),
            tokens,
            threads: self.options.threads,
            connections: self.options.connections,
            duration: self.options.warmup(),
        };
        // Logs are bounded to one scenario's worth; the size still shows logging was on.
        target.server.truncate_log();
        let warmup_requests = if self.options.warmup_secs > 0 {
            blocking(run.clone(), |r| r.run()).await??.requests
        } else {
            0
        };
        let before = self.counters(target).await;
        let pid = target.server.pid();
        let measured = WrkRun {
            duration: self.options.measure(),
            ..run
        };
        let (summary, usage) = blocking(measured, move |run| {
            let monitor = procstat::Monitor::start(pid);
            let started = Instant::now();
            let summary = run.run();
            (summary, monitor.finish(started.elapsed()))
        })
        .await?;
        let summary = summary?;
        let log_lines = target.server.settled_log_lines().await;
        let token_cache_hit_ratio = match before {
            Some(before) => self
                .counters(target)
                .await
                .and_then(|after| before.hit_ratio_until(after)),
            None => None,
        };
        Ok(Observed {
            distinct_tokens,
            warmup_requests,
            summary,
            usage,
            log_lines,
            log_bytes: target.server.log_len(),
            token_cache_hit_ratio,
        }
        .into_record(target.kind, scenario))
    }

    async fn counters(&self, target: &Target) -> Option<CacheCounters> {
        CacheCounters::scrape(self.client, target.metrics_url.as_deref()?).await
    }
}

/// Runs `f(run)` on a blocking thread: wrk runs for seconds, the runtime has one thread.
async fn blocking<T: Send + 'static>(
    run: WrkRun,
    f: impl FnOnce(WrkRun) -> T + Send + 'static,
) -> Result<T, MeasureError> {
    tokio::task::spawn_blocking(move || f(run))
        .await
        .map_err(|_| MeasureError::Thread)
}

impl Observed {
    fn into_record(self, server: ServerKind, scenario: Scenario) -> RunRecord {
        let Self {
            distinct_tokens,
            warmup_requests,
            summary,
            usage,
            log_lines,
            log_bytes,
            token_cache_hit_ratio,
        } = self;
        let ms = |us: u64| us as f64 / 1000.0;
        RunRecord {
            server,
            scenario,
            path: scenario.path(),
            expected_status: scenario.expected_status(server),
            distinct_tokens,
            requests_per_sec: summary.requests_per_sec(),
            latency_p50_ms: ms(summary.latency_p50_us),
            latency_p99_ms: ms(summary.latency_p99_us),
            latency_max_ms: ms(summary.latency_max_us),
            non_2xx: summary.status_errors,
            socket_errors: summary.socket_errors(),
            peak_rss_mib: usage.peak_rss_kib as f64 / 1024.0,
            peak_rss_exact: usage.peak_is_exact,
            server_cpu_cores: usage.cpu_cores,
            server_cpu_us_per_request: usage
                .cpu_cores
                .filter(|_| summary.requests > 0)
                .map(|cores| cores * 1e6 / summary.requests_per_sec()),
            wrk_cpu_cores: usage.load_generator_cores,
            other_cpu_cores: match (
                usage.machine_cores,
                usage.cpu_cores,
                usage.load_generator_cores,
            ) {
                (Some(all), Some(server), Some(wrk)) => Some((all - server - wrk).max(0.0)),
                _ => None,
            },
            log_bytes,
            token_cache_hit_ratio,
            log_lines_per_request: log_lines as f64
                / (warmup_requests + summary.requests).max(1) as f64,
            wrk: summary,
        }
    }
}
