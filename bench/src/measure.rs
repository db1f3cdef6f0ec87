//! One measurement: a warm-up, then a fixed-length wrk run against one server in one scenario,
//! with the server's memory and CPU watched from `/proc`, its log lines counted and, for ours,
//! its verifier's cache counters read before and after. In the DPoP scenario each wrk run
//! (warm-up and measured) gets its own fresh proofs, made right before it starts.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::dpop::{self, ProofError, ProofKey};
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
    /// The DPoP proofs could not be made.
    #[error(transparent)]
    Proofs(#[from] ProofError),
    /// The DPoP scenario was asked for without its key and token.
    #[error("the DPoP scenario has no key and token")]
    NoDpopClient,
    /// wrk's threads used up their proofs: the row would include requests without one.
    #[error(
        "{0} requests of the DPoP scenario found no fresh proof left; raise --dpop-max-rate (BENCH_DPOP_MAX_RATE)"
    )]
    ProofsRanOut(u64),
}

/// What the DPoP scenario sends: the key that signs the proofs and the token bound to it.
#[derive(Debug)]
pub struct DpopClient {
    /// The proof key.
    pub key: ProofKey,
    /// The access token with `cnf.jkt` = the key's thumbprint.
    pub token: String,
    /// Proofs made per second of a wrk run.
    pub max_rate: u32,
    /// `bench/wrk/dpop.lua`.
    pub script: PathBuf,
    /// Proof files written so far: their number goes into the `jti`s, so that no two runs of
    /// one benchmark (a server measured again in a later round) send the same proof id.
    pub proof_files: AtomicU64,
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
    /// The DPoP scenario's key and token, when it runs.
    pub dpop: Option<Arc<DpopClient>>,
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
        let url = format!("{}{}", target.base, scenario.path());
        let dpop = match scenario {
            Scenario::Dpop => Some(self.dpop.clone().ok_or(MeasureError::NoDpopClient)?),
            _ => None,
        };
        let run = WrkRun {
            wrk: self.wrk.to_path_buf(),
            script: dpop
                .as_ref()
                .map_or_else(|| self.script.clone(), |d| d.script.clone()),
            url: url.clone(),
            tokens,
            extra_args: Vec::new(),
            threads: self.options.threads,
            connections: self.options.connections,
            duration: self.options.warmup(),
        };
        let proofs_dir = self
            .files
            .dpop
            .parent()
            .unwrap_or(Path::new("."))
            .to_owned();
        let with_proofs = |run: WrkRun, name: &str| match &dpop {
            None => run,
            Some(d) => d.prepare(run, &proofs_dir, name),
        };
        // Logs are bounded to one scenario's worth; the size still shows logging was on.
        target.server.truncate_log();
        let warmup_requests = if self.options.warmup_secs > 0 {
            let warmup = with_proofs(run.clone(), "warmup");
            let dpop = dpop.clone();
            blocking(warmup, move |r| run_wrk(dpop.as_deref(), &r))
                .await??
                .requests
        } else {
            0
        };
        let before = self.counters(target).await;
        let pid = target.server.pid();
        let measured = with_proofs(
            WrkRun {
                duration: self.options.measure(),
                ..run
            },
            "measure",
        );
        let (summary, usage) = blocking(measured, move |run| {
            // The proofs are made before the monitor starts: their signing is the runner's
            // work, not the server's, and must not count in the server's or the machine's CPU.
            if let Some(d) = dpop.as_deref() {
                d.write_proofs(&run)?;
            }
            let monitor = procstat::Monitor::start(pid);
            let started = Instant::now();
            let summary = run.run();
            remove_proofs(dpop.as_deref(), &run);
            Ok::<_, MeasureError>((summary, monitor.finish(started.elapsed())))
        })
        .await??;
        let summary = summary?;
        if summary.proofs_exhausted > 0 {
            return Err(MeasureError::ProofsRanOut(summary.proofs_exhausted));
        }
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

impl DpopClient {
    /// `run` with the DPoP script's arguments: the token file stays, the proof file of `name`
    /// (not yet written) and the thread count follow.
    fn prepare(&self, run: WrkRun, dir: &Path, name: &str) -> WrkRun {
        let proofs = dir.join(format!("dpop-proofs-{name}.txt"));
        WrkRun {
            extra_args: vec![proofs.display().to_string(), run.threads.to_string()],
            ..run
        }
    }

    /// Writes the proofs `run` needs (its duration at `max_rate`), all made now.
    fn write_proofs(&self, run: &WrkRun) -> Result<(), MeasureError> {
        let Some(path) = run.extra_args.first() else {
            return Err(MeasureError::NoDpopClient);
        };
        let count = dpop::proofs_for(run.duration.as_secs(), self.max_rate);
        let htu = &run.url;
        let stem = Path::new(path)
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or("proofs");
        let name = format!(
            "{stem}-{}",
            self.proof_files.fetch_add(1, Ordering::Relaxed)
        );
        let started = Instant::now();
        self.key
            .write_proofs(Path::new(path), htu, &self.token, &name, count)?;
        let took = started.elapsed();
        eprintln!(
            "bench: made {count} DPoP proofs for {name} in {:.1} s",
            took.as_secs_f64()
        );
        // A proof is accepted for 60 s after its iat: the last ones are sent at the end of the
        // run, so making them plus the run must stay well inside that (5 s for wrk to start).
        if took + run.duration > Duration::from_secs(55) {
            return Err(MeasureError::Proofs(ProofError::TooSlow(
                took + run.duration,
            )));
        }
        Ok(())
    }
}

/// Writes the proofs of a DPoP run first, then runs wrk, then removes them.
fn run_wrk(dpop: Option<&DpopClient>, run: &WrkRun) -> Result<WrkSummary, MeasureError> {
    if let Some(d) = dpop {
        d.write_proofs(run)?;
    }
    let summary = run.run();
    remove_proofs(dpop, run);
    let summary = summary?;
    if summary.proofs_exhausted > 0 {
        return Err(MeasureError::ProofsRanOut(summary.proofs_exhausted));
    }
    Ok(summary)
}

/// The proof files are hundreds of megabytes and useless once their run is over.
fn remove_proofs(dpop: Option<&DpopClient>, run: &WrkRun) {
    if dpop.is_some()
        && let Some(path) = run.extra_args.first()
    {
        let _ = std::fs::remove_file(path);
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
            rounds: Vec::new(),
            failed_rounds: 0,
            wrk: summary,
        }
    }
}
