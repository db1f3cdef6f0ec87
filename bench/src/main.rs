//! `cargo run --release -p bench` (what `cargo make bench` calls): the load benchmark.
//!
//! One run starts a dev issuer with its `/dev/` hooks, mints a pool of access tokens from it,
//! and starts every server under test pointed at that issuer: the calibration server (a bare
//! actix-web handler with our answers, `src/bin/calibration.rs`), our `api` (release build,
//! default logging), the seed's Express server (`bench/express-seed.js`) and Auth0's
//! express-oauth2-jwt-bearer (`bench/express-oauth2.js`). It then drives them with wrk on
//! loopback, scenario by scenario and server after server within a scenario, so that the
//! figures a ratio compares are taken minutes apart at most and background load drifts less
//! between them. It prints a table, the ratios and the performance targets, and writes
//! `results.json` under `target/bench/` and a dated copy under `bench/results/`.

mod commands;
mod dpop;
mod floor;
mod issuer;
mod layout;
mod machine;
mod measure;
mod options;
mod probe;
mod process;
mod procstat;
mod prometheus;
mod report;
mod results;
mod scenario;
mod setup;
mod table;
mod targets;
mod tokens;
mod wrk;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use clap::Parser;

use crate::layout::Layout;
use crate::measure::{Bench, DpopClient, Target};
use crate::options::{Options, ServerKind};
use crate::process::Server;
use crate::report::RunRecord;
use crate::results::Results;
use crate::scenario::Scenario;
use crate::tokens::TokenFiles;

/// How long a server may take to come up.
const READY_LIMIT: Duration = Duration::from_secs(30);

/// Anything that stops a run: each step's own error, which says what failed, printed as is.
type BenchError = Box<dyn std::error::Error>;

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

/// The programs a run uses besides our own binaries.
struct Tools {
    wrk: PathBuf,
    /// Node.js, when an Express peer is measured.
    node: Option<PathBuf>,
    /// `redis-server`, when ours with the Redis store is measured.
    redis: Option<PathBuf>,
}

async fn run(options: &Options) -> Result<(), BenchError> {
    let layout = Layout::new(options.out.clone());
    let started = Instant::now();
    let tools = prepare(options, &layout)?;
    std::fs::create_dir_all(&layout.out)
        .map_err(|e| format!("cannot create {}: {e}", layout.out.display()))?;
    let client =
        issuer::loopback_client().map_err(|e| format!("cannot build an HTTP client: {e}"))?;

    // The issuer stays up for the whole run: every server fetches its keys from it.
    let (issuer, issuer_origin) = start_issuer(&client, &layout).await?;
    let minted = issuer::mint_tokens(&client, &issuer_origin, options.tokens_to_mint()).await?;
    let files = TokenFiles::write(
        &layout.out,
        &minted,
        usize::try_from(options.pool_size).unwrap_or(usize::MAX),
        usize::try_from(options.large_pool_size).unwrap_or(usize::MAX),
    )?;
    drop(minted);
    let dpop = match options.dpop_max_rate {
        0 => None,
        max_rate => {
            let key = dpop::ProofKey::generate()?;
            let token = issuer::mint_dpop_bound(&client, &issuer_origin, &key.thumbprint()).await?;
            files.write_dpop(&token)?;
            Some(Arc::new(DpopClient {
                key,
                token,
                max_rate,
                script: layout.bench.join("wrk/dpop.lua"),
                proof_files: AtomicU64::new(0),
            }))
        }
    };

    // Up for the whole run too: the Redis-backed API records every proof there.
    let redis = match &tools.redis {
        Some(program) => Some(start_redis(program, &layout).await?),
        None => None,
    };
    let store = redis.as_ref().map(|(_, url)| url.as_str());
    let proof_point = dpop.as_ref().map(|d| d.key.public_point());
    let launcher = Launcher {
        client: &client,
        layout: &layout,
        tools: &tools,
        issuer_origin: &issuer_origin,
        options,
        store,
        proof_key: proof_point.as_deref(),
    };
    let mut targets = Vec::new();
    for kind in options.servers() {
        let target = launcher.start(kind).await?;
        for scenario in scenarios(options, kind) {
            let tokens = files.for_scenario(scenario);
            let proof = match (scenario, &dpop) {
                (Scenario::Dpop, Some(d)) => Some(d.key.proof(
                    &format!("{}{}", target.base, scenario.path()),
                    &auth::dpop::access_token_hash(&d.token),
                    "preflight",
                    now_secs(),
                )?),
                _ => None,
            };
            probe::preflight(
                &client,
                kind,
                scenario,
                &target.base,
                tokens,
                proof.as_deref(),
            )
            .await?;
        }
        targets.push(target);
    }

    let bench = Bench {
        client: &client,
        options,
        wrk: &tools.wrk,
        script: layout.bench.join("wrk/tokens.lua"),
        files: &files,
        dpop,
    };
    let mut records = Vec::new();
    for scenario in Scenario::ALL {
        let measured: Vec<&Target> = targets
            .iter()
            .filter(|t| scenarios(options, t.kind).any(|s| s == scenario))
            .collect();
        let mut rounds: Vec<Vec<RunRecord>> = measured.iter().map(|_| Vec::new()).collect();
        for round in 0..options.rounds {
            for (target, done) in measured.iter().zip(&mut rounds) {
                if round > 0 && !repeated(target.kind, scenario) {
                    continue;
                }
                let record = bench.measure(target, scenario).await?;
                progress(&record, round + 1);
                done.push(record);
            }
        }
        records.extend(rounds.into_iter().filter_map(report::median_round));
    }
    drop(targets);
    drop(redis);
    drop(issuer);

    // The servers are gone: the floor's loops have the machine to themselves.
    let floor = floor::measure();
    if floor.is_none() {
        eprintln!("bench: the signature floor could not be measured (aws-lc-rs refused a key)");
    }
    let machine = machine::MachineInfo::collect(wrk::version(&tools.wrk), &layout.root);
    let results = Results::new(options, machine, records, floor);
    let path = layout.out.join("results.json");
    results.write(&path)?;
    let dated = layout.bench.join("results").join(results.dated_file_name());
    results.write(&dated)?;
    print_report(&results.render());
    eprintln!(
        "bench: wrote {} and {} ({:.0} s in all)",
        path.display(),
        dated.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// wrk, Node.js and `node_modules` when needed, and the release builds (unless skipped).
fn prepare(options: &Options, layout: &Layout) -> Result<Tools, BenchError> {
    let servers = options.servers();
    let wrk = setup::ensure_wrk()?;
    let node = if servers.iter().any(|s| s.runs_on_node()) {
        Some(setup::ensure_node_modules(&layout.bench)?)
    } else {
        None
    };
    let redis = if servers.contains(&ServerKind::OursRedis) {
        Some(setup::ensure_redis()?)
    } else {
        None
    };
    if !options.skip_build {
        // `-p bench` builds the calibration server (the runner itself is already built).
        let mut packages = vec!["dev-issuer"];
        if servers.iter().any(|s| s.is_ours()) {
            packages.push("api");
        }
        if servers.contains(&ServerKind::Calibration) {
            packages.push("bench");
        }
        setup::build_release(&layout.root, &packages)?;
        if servers.contains(&ServerKind::JwtAuthorizer) {
            let manifest = layout.bench.join("peers/jwt-authorizer/Cargo.toml");
            setup::build_peer(&layout.root, &manifest, &layout.target)?;
        }
    }
    Ok(Tools { wrk, node, redis })
}

/// Whether `kind` is measured in every round of `scenario`: the calibration server and ours,
/// in the scenarios compared with the ceiling (see `report::median_round`).
fn repeated(kind: ServerKind, scenario: Scenario) -> bool {
    matches!(kind, ServerKind::Calibration | ServerKind::Ours)
        && scenario.applies_to(ServerKind::Calibration)
}

/// The scenarios `kind` runs in this run.
fn scenarios(options: &Options, kind: ServerKind) -> impl Iterator<Item = Scenario> {
    let large_pool = options.large_pool_size > 0;
    let dpop = options.dpop_max_rate > 0;
    let chosen = options.scenarios.clone();
    Scenario::ALL.into_iter().filter(move |s| {
        s.applies_to(kind)
            && chosen.contains(s)
            && (*s != Scenario::LargePool || large_pool)
            && (*s != Scenario::Dpop || dpop)
    })
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The dev issuer on a free port, once it serves its key set; and its origin.
async fn start_issuer(
    client: &reqwest::Client,
    layout: &Layout,
) -> Result<(Server, String), BenchError> {
    let port = process::free_port()?;
    let origin = format!("http://127.0.0.1:{port}");
    let mut issuer = Server::spawn(
        "dev-issuer",
        commands::issuer(layout, &origin, port),
        &layout.log("dev-issuer"),
    )?;
    let jwks = format!("{origin}/.well-known/jwks.json");
    issuer
        .wait_until(READY_LIMIT, || {
            probe::expect_status(client, &jwks, None, 200)
        })
        .await?;
    Ok((issuer, origin))
}

/// `redis-server` on a free loopback port with its files under the output folder, once it
/// accepts connections; and its `redis://` URL.
async fn start_redis(program: &Path, layout: &Layout) -> Result<(Server, String), BenchError> {
    let port = process::free_port()?;
    let dir = layout.out.join("redis");
    // A previous run's append-only file would only be replayed at start.
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let mut redis = Server::spawn(
        "redis-server",
        commands::redis(program, port, &dir),
        &layout.log("redis-server"),
    )?;
    redis
        .wait_until(READY_LIMIT, || async move {
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .map(drop)
                .map_err(|e| e.to_string())
        })
        .await?;
    Ok((redis, format!("redis://127.0.0.1:{port}")))
}

/// How many times a server is started on fresh ports before the run gives up. `free_port`
/// releases the port it found, and another socket (an outgoing connection's ephemeral port,
/// say) can take it before the server binds it; the server then exits at start-up. It happened
/// once in about a dozen full runs, to the API's metrics port.
const START_ATTEMPTS: u32 = 3;

/// What starting a server under test needs: the run's client, paths, tools, issuer and options,
/// and the Redis URL for ours with the Redis store.
#[derive(Clone, Copy)]
struct Launcher<'a> {
    client: &'a reqwest::Client,
    layout: &'a Layout,
    tools: &'a Tools,
    issuer_origin: &'a str,
    options: &'a Options,
    store: Option<&'a str>,
    /// The DPoP proof key's public point, for the calibration server to verify proofs with.
    proof_key: Option<&'a str>,
}

impl Launcher<'_> {
    /// `kind` on free ports, once it answers its readiness request; started again on other
    /// ports if it exits before that (see [`START_ATTEMPTS`]).
    async fn start(&self, kind: ServerKind) -> Result<Target, BenchError> {
        let mut attempt = 1;
        loop {
            let error = match self.start_once(kind).await {
                Ok(target) => return Ok(target),
                Err(error) => error,
            };
            match error.downcast_ref() {
                Some(process::ProcessError::Exited { name, status, .. })
                    if attempt < START_ATTEMPTS =>
                {
                    eprintln!(
                        "bench: {name} exited ({status}) before it was ready, perhaps on a port \
                         taken meanwhile; starting it again on other ports"
                    );
                    attempt += 1;
                }
                _ => return Err(error),
            }
        }
    }

    /// `kind` on a free port, once it answers its readiness request.
    async fn start_once(&self, kind: ServerKind) -> Result<Target, BenchError> {
        let Self {
            client,
            layout,
            tools,
            issuer_origin,
            options,
            store,
            proof_key,
        } = *self;
        let port = process::free_port()?;
        let base = format!("http://127.0.0.1:{port}");
        let mut command =
            commands::server(layout, kind, tools.node.as_deref(), issuer_origin, port);
        if let (ServerKind::Calibration, Some(point)) = (kind, proof_key) {
            // In (e) it verifies each proof's signature: the floor measured under load.
            command.env("CALIBRATION_DPOP_KEY", point);
        }
        // Ours serves /metrics on a listener of its own.
        let metrics_url = if kind.is_ours() {
            let metrics_port = process::free_port()?;
            command.env("API_METRICS_ADDR", format!("127.0.0.1:{metrics_port}"));
            // DPoP proofs name the URL wrk calls (`htu`); the API compares it with its own origin
            // plus the path. No server nonces: the proofs are made before the run.
            command
                .env("API_ORIGIN", &base)
                .env("API_DPOP", "allowed")
                .env("API_DPOP_NONCE", "0");
            if options.dpop_max_rate > 0 {
                // The scenario's proofs all come from one key, so that key may hold them all.
                let capacity = dpop::replay_capacity(options.dpop_max_rate).to_string();
                command
                    .env("API_DPOP_REPLAY_CAPACITY", &capacity)
                    .env("API_DPOP_REPLAY_PER_KEY", &capacity);
            }
            if let (ServerKind::OursRedis, Some(url)) = (kind, store) {
                command.env("API_REPLAY_STORE", url);
            }
            Some(format!("http://127.0.0.1:{metrics_port}/metrics"))
        } else {
            None
        };
        let mut server = Server::spawn(kind.label(), command, &layout.log(kind.label()))?;
        let (path, status) = commands::readiness(kind);
        let ready = format!("{base}{path}");
        server
            .wait_until(READY_LIMIT, || {
                probe::expect_status(client, &ready, None, status)
            })
            .await?;
        Ok(Target {
            kind,
            server,
            base,
            metrics_url,
        })
    }
}

/// One line per measurement as it finishes, so a long run shows it is moving.
fn progress(r: &RunRecord, round: u32) {
    eprintln!(
        "bench: {:<15} {:<20} round {round}  {:>9.0} req/s  p99 {:>7.2} ms  non-2xx {}  errors {}  peak RSS {:.1} MiB  log lines/request {:.2}{}",
        r.server.label(),
        r.scenario.label(),
        r.requests_per_sec,
        r.latency_p99_ms,
        r.non_2xx,
        r.socket_errors,
        r.peak_rss_mib,
        r.log_lines_per_request,
        r.token_cache_hit_ratio
            .map_or_else(String::new, |r| format!(
                "  token cache hits {:.0}%",
                r * 100.0
            ))
    );
}

#[allow(clippy::print_stdout, reason = "the table is the program's output")]
fn print_report(text: &str) {
    println!("\n{text}");
}
