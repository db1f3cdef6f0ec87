//! `cargo run --release -p bench` (what `cargo make bench` calls): the load benchmark.
//!
//! One run starts a dev issuer with its `/dev/` hooks, mints a pool of access tokens from it,
//! then measures each server in turn — our `api` (release build, default logging), the seed's
//! Express server (`bench/express-seed.js`) and Auth0's express-oauth2-jwt-bearer
//! (`bench/express-oauth2.js`), all pointed at that issuer — with wrk on loopback: a warm-up,
//! then a fixed-length measurement per scenario. It prints a table, the ratios and the
//! performance targets (README, *Benchmark*), and writes `results.json` under `target/bench/`.

mod issuer;
mod machine;
mod options;
mod process;
mod procstat;
mod report;
mod setup;
mod tokens;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use clap::Parser;
use serde::Serialize;

use crate::options::{Options, ServerKind};
use crate::process::Server;
use crate::report::{RunRecord, Scenario};
use crate::tokens::TokenFiles;

/// The audience every server checks and every token carries (the dev default).
const AUDIENCE: &str = "https://api.local.test";
/// What a valid call to `/api/external` answers, on every server (the seed's text).
const EXTERNAL_MSG: &str = "Your Access Token was successfully validated!";
/// How long a server may take to come up.
const READY_LIMIT: Duration = Duration::from_secs(30);

/// Anything that stops a run.
#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error(transparent)]
    Setup(#[from] setup::SetupError),
    #[error(transparent)]
    Process(#[from] process::ProcessError),
    #[error(transparent)]
    Mint(#[from] issuer::MintError),
    #[error(transparent)]
    Tokens(#[from] tokens::WriteError),
    #[error(transparent)]
    Wrk(#[from] wrk::WrkError),
    #[error("cannot build an HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("{server} {scenario}: preflight expected {expected}, got {got}")]
    Preflight {
        server: &'static str,
        scenario: &'static str,
        expected: String,
        got: String,
    },
    #[error("cannot write {0}: {1}")]
    Output(PathBuf, std::io::Error),
    #[error("a measuring thread failed")]
    Thread,
}

/// Paths of this checkout.
#[derive(Debug, Clone)]
struct Layout {
    root: PathBuf,
    bench: PathBuf,
    target: PathBuf,
    out: PathBuf,
}

impl Layout {
    fn new(options: &Options) -> Self {
        let bench = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let root = bench
            .parent()
            .map_or_else(|| bench.clone(), Path::to_path_buf);
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .map(|t| if t.is_absolute() { t } else { root.join(t) })
            .unwrap_or_else(|| root.join("target"));
        let out = options.out.clone().unwrap_or_else(|| target.join("bench"));
        Self {
            root,
            bench,
            target,
            out,
        }
    }

    fn release_bin(&self, name: &str) -> PathBuf {
        self.target.join("release").join(name)
    }
}

/// The whole JSON document.
#[derive(Debug, Serialize)]
struct Results {
    timestamp: String,
    unix_time: i64,
    machine: machine::MachineInfo,
    settings: Settings,
    runs: Vec<RunRecord>,
    ratios: Vec<report::Ratio>,
    targets: Vec<report::TargetCheck>,
    notes: Vec<&'static str>,
}

#[derive(Debug, Serialize)]
struct Settings {
    warmup_secs: u64,
    measure_secs: u64,
    connections: u32,
    wrk_threads: u32,
    pool_size: u32,
    servers: Vec<ServerKind>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let options = Options::parse();
    match run(&options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(options: &Options) -> Result<(), BenchError> {
    let layout = Layout::new(options);
    let servers = options.servers();
    let started = Instant::now();

    let wrk_path = setup::ensure_wrk()?;
    let node = if servers.iter().any(|s| *s != ServerKind::Ours) {
        Some(setup::ensure_node_modules(&layout.bench)?)
    } else {
        None
    };
    if !options.skip_build {
        let mut packages = vec!["dev-issuer"];
        if servers.contains(&ServerKind::Ours) {
            packages.push("api");
        }
        setup::build_release(&layout.root, &packages)?;
    }
    std::fs::create_dir_all(&layout.out).map_err(|e| BenchError::Output(layout.out.clone(), e))?;
    let client = issuer::loopback_client().map_err(BenchError::Client)?;

    // The issuer stays up for the whole run: every server fetches its keys from it.
    let issuer_port = process::free_port()?;
    let issuer_origin = format!("http://127.0.0.1:{issuer_port}");
    let mut issuer = Server::spawn(
        "dev-issuer",
        issuer_command(&layout, &issuer_origin, issuer_port),
        &layout.out.join("logs/dev-issuer.log"),
    )?;
    let jwks = format!("{issuer_origin}/.well-known/jwks.json");
    issuer
        .wait_until(READY_LIMIT, || expect_status(&client, &jwks, None, 200))
        .await?;

    let pool_size = usize::try_from(options.pool_size).unwrap_or(usize::MAX);
    let pool = issuer::mint_tokens(&client, &issuer_origin, pool_size).await?;
    let files = TokenFiles::write(&layout.out, &pool)?;
    drop(pool);

    let mut records = Vec::new();
    for kind in servers.iter().copied() {
        let port = process::free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let command = server_command(&layout, kind, node.as_deref(), &issuer_origin, port);
        let log = layout.out.join(format!("logs/{}.log", kind.label()));
        let mut server = Server::spawn(kind.label(), command, &log)?;
        let ready = match kind {
            ServerKind::Ours => format!("{base}/readyz"),
            _ => format!("{base}/api/external"),
        };
        let ready_status = if kind == ServerKind::Ours { 200 } else { 401 };
        server
            .wait_until(READY_LIMIT, || {
                expect_status(&client, &ready, None, ready_status)
            })
            .await?;
        for scenario in Scenario::for_server(kind).iter().copied() {
            preflight(&client, kind, scenario, &base, &files).await?;
        }
        for scenario in Scenario::for_server(kind).iter().copied() {
            let record = measure(
                &client, options, &wrk_path, &layout, &server, kind, scenario, &base, &files,
            )
            .await?;
            eprintln!(
                "bench: {:<15} {:<20} {:>9.0} req/s  p99 {:>7.2} ms  non-2xx {}  errors {}  peak RSS {:.1} MiB  log lines/request {:.2}{}",
                kind.label(),
                scenario.label(),
                record.requests_per_sec,
                record.latency_p99_ms,
                record.non_2xx,
                record.socket_errors,
                record.peak_rss_mib,
                record.log_lines_per_request,
                record
                    .token_cache_hit_ratio
                    .map_or_else(String::new, |r| format!(
                        "  token cache hits {:.0}%",
                        r * 100.0
                    ))
            );
            records.push(record);
        }
        drop(server);
    }
    drop(issuer);

    let ratios = report::ratios(&records);
    let targets = report::check_targets(&records);
    let (timestamp, unix_time) = machine::now();
    let results = Results {
        timestamp,
        unix_time,
        machine: machine::MachineInfo::collect(wrk::version(&wrk_path), &layout.root),
        settings: Settings {
            warmup_secs: options.warmup_secs,
            measure_secs: options.measure_secs,
            connections: options.connections,
            wrk_threads: options.threads,
            pool_size: options.pool_size,
            servers,
        },
        notes: vec![
            "wrk and every server share the same cores: compare ratios, not absolute figures",
            "non_2xx is wrk's count of responses with status >= 400; (c) expects 401 for all",
            "peak_rss_mib is the server's VmHWM, reset at the start of each measurement",
            "server_cpu_us_per_request: the server's CPU time per answered request, the cost of one request whatever share of the cores it got",
            "server/wrk/other_cpu_cores: CPU time during the measurement divided by its length; other > 0.25 marks a disturbed run",
        ],
        runs: records,
        ratios,
        targets,
    };
    let path = layout.out.join("results.json");
    let json = serde_json::to_string_pretty(&results)
        .map_err(|e| BenchError::Output(path.clone(), e.into()))?;
    std::fs::write(&path, json + "\n").map_err(|e| BenchError::Output(path.clone(), e))?;
    print_report(&report::render(
        &results.runs,
        &results.ratios,
        &results.targets,
    ));
    eprintln!(
        "bench: wrote {} ({:.0} s in all)",
        path.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

#[allow(clippy::print_stdout, reason = "the table is the program's output")]
fn print_report(text: &str) {
    println!("\n{text}");
}

/// The dev issuer on `port`, issuing for `origin`, with its `/dev/` hooks on.
fn issuer_command(layout: &Layout, origin: &str, port: u16) -> Command {
    let mut cmd = Command::new(layout.release_bin("dev-issuer"));
    cmd.current_dir(&layout.root)
        .env("AUTH_CONFIG", layout.root.join("auth_config.json"))
        .env("AUTH0_DOMAIN", origin)
        .env("AUTH0_AUDIENCE", AUDIENCE)
        .env("ISSUER_HOST", "127.0.0.1")
        .env("ISSUER_PORT", port.to_string())
        .env("ISSUER_DEV_ENDPOINTS", "1")
        // Its own keys, so that a `cargo make dev` session's key file is left alone.
        .env("ISSUER_KEY_FILE", layout.out.join("dev-issuer-keys.json"))
        .env_remove("RUST_LOG");
    cmd
}

/// The command that starts `kind` on `port`, trusting the issuer at `issuer_origin`.
fn server_command(
    layout: &Layout,
    kind: ServerKind,
    node: Option<&Path>,
    issuer_origin: &str,
    port: u16,
) -> Command {
    let node = node.map_or_else(|| PathBuf::from("node"), Path::to_path_buf);
    let mut cmd = match kind {
        ServerKind::Ours => {
            let mut c = Command::new(layout.release_bin("api"));
            c.env("API_HOST", "127.0.0.1")
                .env("API_PORT", port.to_string())
                .env("AUTH_CONFIG", layout.root.join("auth_config.json"));
            c
        }
        ServerKind::ExpressSeed | ServerKind::ExpressOauth2 => {
            let script = if kind == ServerKind::ExpressSeed {
                "express-seed.js"
            } else {
                "express-oauth2.js"
            };
            let mut c = Command::new(node);
            c.arg(layout.bench.join(script))
                .env("HOST", "127.0.0.1")
                .env("PORT", port.to_string());
            c
        }
    };
    // Default logging for ours: RUST_LOG unset means `info`, as a user would run it.
    cmd.current_dir(&layout.root)
        .env("AUTH0_DOMAIN", issuer_origin)
        .env("AUTH0_AUDIENCE", AUDIENCE)
        .env_remove("RUST_LOG");
    cmd
}

/// `Ok` when `GET url` (with `token` as bearer, if any) answers `status`.
async fn expect_status(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    status: u16,
) -> Result<(), String> {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) if r.status().as_u16() == status => Ok(()),
        Ok(r) => Err(format!("status {}", r.status().as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

fn first_token(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()
        .map(str::to_owned)
}

fn token_file(files: &TokenFiles, scenario: Scenario) -> &Path {
    match scenario {
        Scenario::Public => &files.none,
        Scenario::OneToken => &files.one,
        Scenario::DistinctTokens => &files.pool,
        Scenario::BadSignature => &files.bad,
    }
}

/// One request per scenario before any load: the status wrk will see must be the expected
/// one, and a valid call must answer the seed's message, so every server is checked to do the
/// same job.
async fn preflight(
    client: &reqwest::Client,
    kind: ServerKind,
    scenario: Scenario,
    base: &str,
    files: &TokenFiles,
) -> Result<(), BenchError> {
    let token = first_token(token_file(files, scenario));
    let mut req = client.get(format!("{base}{}", scenario.path()));
    if let Some(t) = &token {
        req = req.bearer_auth(t);
    }
    let fail = |expected: String, got: String| BenchError::Preflight {
        server: kind.label(),
        scenario: scenario.label(),
        expected,
        got,
    };
    let resp = req
        .send()
        .await
        .map_err(|e| fail(scenario.expected_status().to_string(), e.to_string()))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    if status != scenario.expected_status() {
        return Err(fail(
            scenario.expected_status().to_string(),
            format!("status {status}"),
        ));
    }
    if scenario.path() == "/api/external" && status == 200 && !body.contains(EXTERNAL_MSG) {
        return Err(fail(format!("a body with {EXTERNAL_MSG:?}"), body));
    }
    Ok(())
}

/// Our verifier's counters, from `/metrics`.
#[derive(Debug, Clone, Copy)]
struct CacheCounters {
    hits: u64,
    verifications: u64,
}

/// Reads `api_token_cache_hits_total` and the sum of `api_token_verifications_total`.
async fn scrape_cache_counters(client: &reqwest::Client, url: &str) -> Option<CacheCounters> {
    let text = client.get(url).send().await.ok()?.text().await.ok()?;
    parse_cache_counters(&text)
}

fn parse_cache_counters(text: &str) -> Option<CacheCounters> {
    let value = |line: &str| {
        line.rsplit_once(' ')
            .and_then(|(_, v)| v.trim().parse::<f64>().ok())
    };
    let mut hits = None;
    let mut verifications = 0.0;
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        if line.starts_with("api_token_cache_hits_total") {
            hits = value(line);
        } else if line.starts_with("api_token_verifications_total") {
            verifications += value(line).unwrap_or(0.0);
        }
    }
    Some(CacheCounters {
        hits: hits? as u64,
        verifications: verifications as u64,
    })
}

/// Warm-up, then the measured run, with the server's memory and CPU watched.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site; a struct would only rename them"
)]
async fn measure(
    client: &reqwest::Client,
    options: &Options,
    wrk_path: &Path,
    layout: &Layout,
    server: &Server,
    kind: ServerKind,
    scenario: Scenario,
    base: &str,
    files: &TokenFiles,
) -> Result<RunRecord, BenchError> {
    let tokens = token_file(files, scenario).to_path_buf();
    let distinct_tokens = std::fs::read_to_string(&tokens)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    let mut run = wrk::WrkRun {
        wrk: wrk_path.to_path_buf(),
        script: layout.bench.join("wrk/tokens.lua"),
        url: format!("{base}{}", scenario.path()),
        tokens,
        threads: options.threads,
        connections: options.connections,
        duration: options.warmup(),
    };
    // Logs are bounded to one scenario's worth; the size still shows logging was on.
    server.truncate_log();
    let mut warmup_requests = 0;
    if options.warmup_secs > 0 {
        let warm = run.clone();
        warmup_requests = tokio::task::spawn_blocking(move || warm.run())
            .await
            .map_err(|_| BenchError::Thread)??
            .requests;
    }
    run.duration = options.measure();
    let metrics_url = format!("{base}/metrics");
    let before = match kind {
        ServerKind::Ours => scrape_cache_counters(client, &metrics_url).await,
        _ => None,
    };
    let pid = server.pid();
    let (summary, usage) = tokio::task::spawn_blocking(move || {
        let monitor = procstat::Monitor::start(pid);
        let started = Instant::now();
        let summary = run.run();
        let usage = monitor.finish(started.elapsed());
        (summary, usage)
    })
    .await
    .map_err(|_| BenchError::Thread)?;
    let summary = summary?;
    let log_lines = server.settled_log_lines().await;
    let after = match before {
        Some(_) => scrape_cache_counters(client, &metrics_url).await,
        None => None,
    };
    let token_cache_hit_ratio = match (before, after) {
        (Some(b), Some(a)) if a.verifications > b.verifications => {
            Some(a.hits.saturating_sub(b.hits) as f64 / (a.verifications - b.verifications) as f64)
        }
        _ => None,
    };
    let ms = |us: u64| us as f64 / 1000.0;
    Ok(RunRecord {
        server: kind,
        scenario,
        path: scenario.path(),
        expected_status: scenario.expected_status(),
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
        log_bytes: server.log_len(),
        token_cache_hit_ratio,
        log_lines_per_request: log_lines as f64
            / (warmup_requests + summary.requests).max(1) as f64,
        wrk: summary,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_counters_sum_every_verification_outcome() {
        let text = "# HELP api_token_cache_hits_total x\n# TYPE api_token_cache_hits_total counter\n\
api_token_cache_hits_total 90\n\
api_token_verifications_total{outcome=\"ok\"} 100\n\
api_token_verifications_total{outcome=\"signature\"} 20\n";
        let c = parse_cache_counters(text).expect("parses");
        assert_eq!(c.hits, 90);
        assert_eq!(c.verifications, 120);
    }

    #[test]
    fn metrics_without_the_cache_counter_give_nothing() {
        assert!(
            parse_cache_counters("api_token_verifications_total{outcome=\"ok\"} 1\n").is_none()
        );
    }
}
