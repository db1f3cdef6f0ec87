//! `dev-runner`: the process behind `cargo make dev` and `cargo make dev-once`.
//!
//! Starts the dev issuer (only when `auth_config.json` names a loopback issuer), the API and the
//! SPA server from the binaries built next to this one, prints where to go and who can log in,
//! and stops all of them together (see the library for how). By default it then watches the
//! sources and rebuilds and restarts what a change affects; `--once` (`DEV_ONCE=1`) only runs
//! the servers, and stops them all when one dies. Exit code 0 after Ctrl-C, 1 when a server
//! died or could not start (with `--once`) or the sources cannot be watched, 2 for a
//! configuration mistake.
//!
//! `--cluster` (`cargo make cluster`) runs the API as several replicas behind HAProxy, with
//! Redis as their shared DPoP replay store, instead of one API process (see
//! `dev_runner::cluster`); everything else is the same.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use app_config::{AuthConfig, exit_on_config_error, listen_addr};
use clap::Parser;
use dev_runner::build::BuildCommand;
use dev_runner::cluster::{self, ClusterPlan, Programs, Shared};
use dev_runner::dev_loop::{self, DevLoop, Event, Server};
use dev_runner::{ChildSpec, Timing, supervise};

/// The users file the dev issuer reads unless told otherwise (its own default).
const DEFAULT_USERS_FILE: &str = "dev-users.json";

/// Quiet time after the last saved file before the build starts.
const DEBOUNCE: Duration = Duration::from_millis(200);

/// Runs dev issuer, API and SPA server together; rebuilds and restarts them as sources change.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Run the servers without watching: no rebuilds, no restarts, no page reloads.
    #[arg(long, env = "DEV_ONCE")]
    once: bool,
    /// Run the API as CLUSTER_REPLICAS replicas behind HAProxy, sharing Redis (docs/cluster.md).
    #[arg(long)]
    cluster: bool,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let config = AuthConfig::load().unwrap_or_else(|e| exit_on_config_error(&e));
    let env = |key: &str| std::env::var(key).ok();
    let api = listen_addr("API", 3001, env).unwrap_or_else(|e| exit_on_config_error(&e));
    let spa = listen_addr("SPA", 3000, env).unwrap_or_else(|e| exit_on_config_error(&e));
    let issuer = listen_addr("ISSUER", 3002, env).unwrap_or_else(|e| exit_on_config_error(&e));
    let bin_dir = match std::env::current_exe() {
        Ok(exe) => exe.parent().map(Path::to_path_buf).unwrap_or_default(),
        Err(e) => {
            eprintln!("dev: cannot locate the built binaries: {e}");
            return ExitCode::FAILURE;
        }
    };

    let local_issuer = config.issuer_is_local();
    if !local_issuer {
        eprintln!(
            "dev: auth_config.json points at {} (not this machine): the dev issuer is not started",
            config.issuer
        );
    }
    let cluster = args
        .cluster
        .then(|| ClusterPlan::from_env(env).unwrap_or_else(|e| exit_on_config_error(&e)));
    let mut ports = vec![
        ("the API".to_owned(), api),
        ("the SPA server".to_owned(), spa),
    ];
    if local_issuer {
        ports.insert(0, ("the dev issuer".to_owned(), issuer));
    }
    if let Some(plan) = &cluster {
        // HAProxy takes the API's address; the replicas, Redis and the statistics page theirs.
        ports.retain(|(_, addr)| *addr != api);
        ports.extend(plan.addresses());
    }
    for (name, addr) in ports {
        if let Err(e) = port_is_free(addr) {
            eprintln!(
                "dev: cannot start {name}: {addr} is not free ({e}). Is another `cargo make dev` \
                 still running? Stop it, or pick other ports (docs/configuration.md)."
            );
            return ExitCode::FAILURE;
        }
    }
    let root = match std::env::current_dir() {
        Ok(dir) => dir,
        Err(e) => {
            eprintln!("dev: cannot read the current directory: {e}");
            return ExitCode::FAILURE;
        }
    };
    let config_file = absolute(
        &root,
        std::env::var_os("AUTH_CONFIG").map_or_else(|| "auth_config.json".into(), PathBuf::from),
    );
    let users_file = absolute(&root, users_file());

    let mut servers = Vec::new();
    if local_issuer {
        servers.push(Server {
            spec: with_ready(
                // The `/dev/` hooks mint any token, so they stay off unless the developer opts
                // in with ISSUER_DEV_ENDPOINTS=1, which the child inherits from this environment.
                ChildSpec::new("issuer", bin_dir.join("dev-issuer")),
                issuer,
            ),
            reads: vec![config_file.clone(), users_file],
            rotation: None,
        });
    }
    match &cluster {
        Some(plan) => {
            match cluster_servers(plan, &root, &bin_dir, &config, &config_file) {
                Ok(replicated) => servers.extend(replicated),
                Err(message) => {
                    eprintln!("dev: {message}");
                    return ExitCode::FAILURE;
                }
            }
            // The cluster shows DPoP across replicas: on unless the developer says otherwise.
            if std::env::var_os("AUTH0_DPOP").is_none() {
                for server in &mut servers {
                    server.spec = server.spec.clone().env("AUTH0_DPOP", "true");
                }
            }
        }
        None => servers.push(Server {
            spec: with_ready(ChildSpec::new("api", bin_dir.join("api")), api),
            reads: vec![config_file.clone()],
            rotation: None,
        }),
    }
    let mut spa_spec = ChildSpec::new("spa", bin_dir.join("spa-server"));
    if !args.once {
        spa_spec = spa_spec.arg("--dev-reload");
    }
    if cluster.is_some() && std::env::var_os("AUTH0_DPOP").is_none() {
        spa_spec = spa_spec.env("AUTH0_DPOP", "true");
    }
    servers.push(Server {
        spec: with_ready(spa_spec, spa),
        reads: vec![config_file],
        rotation: None,
    });

    // Logs going to a file or a pipe should not carry colour codes (tracing-subscriber honours
    // NO_COLOR); on a terminal the servers keep theirs.
    if !std::io::stdout().is_terminal() {
        for server in &mut servers {
            server.spec = server.spec.clone().env("NO_COLOR", "1");
        }
    }

    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dev: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let names = match (local_issuer, cluster.is_some()) {
        (true, false) => "dev issuer, API and SPA server",
        (false, false) => "API and SPA server",
        (true, true) => "dev issuer, Redis, API replicas, HAProxy and SPA server",
        (false, true) => "Redis, API replicas, HAProxy and SPA server",
    };
    if args.once {
        let specs = servers.into_iter().map(|s| s.spec).collect();
        let outcome = runtime.block_on(supervise(
            specs,
            Timing::default(),
            shutdown_signal(),
            || banner(&config, local_issuer, cluster.as_ref(), None),
        ));
        return match outcome {
            Ok(()) => {
                eprintln!("dev: stopped the {names}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("dev: {e}; every other server was stopped too");
                ExitCode::FAILURE
            }
        };
    }

    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let dev = DevLoop {
        sources: vec![
            root.join("crates"),
            root.join("Cargo.toml"),
            root.join("Cargo.lock"),
        ],
        build: BuildCommand::cargo(&root, colour),
        servers,
        debounce: DEBOUNCE,
        timing: Timing::default(),
        own_binary: std::env::current_exe().ok(),
    };
    let watched: Vec<String> = dev
        .sources
        .iter()
        .chain(dev.servers.iter().flat_map(|s| s.reads.iter()))
        .map(|p| shown(&root, p))
        .fold(Vec::new(), |mut list, p| {
            if !list.contains(&p) {
                list.push(p);
            }
            list
        });
    let outcome = runtime.block_on(dev_loop::run(dev, shutdown_signal(), |event| {
        print_event(&event, &root, colour, || {
            banner(&config, local_issuer, cluster.as_ref(), Some(&watched));
        });
    }));
    match outcome {
        Ok(()) => {
            eprintln!("dev: stopped the {names}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dev: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One line per event (the failed build's output under a banner), on stderr with the servers'
/// logs.
fn print_event(event: &Event, root: &Path, colour: bool, on_started: impl FnOnce()) {
    let (bold_red, reset) = if colour {
        ("\x1b[1;31m", "\x1b[0m")
    } else {
        ("", "")
    };
    match event {
        Event::Started => on_started(),
        Event::Building { trigger, others } => {
            let more = match others {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            eprintln!("dev: {}{more} changed: building", shown(root, trigger));
        }
        Event::BuildFailed {
            output,
            status,
            elapsed,
        } => {
            let rule = "=".repeat(20);
            eprintln!(
                "{bold_red}{rule} dev: BUILD FAILED ({status}, {}): the servers keep running the last good build {rule}{reset}",
                seconds(*elapsed)
            );
            eprint!("{output}");
            if !output.ends_with('\n') && !output.is_empty() {
                eprintln!();
            }
            eprintln!(
                "{bold_red}{rule} dev: end of build errors; save a fix to build again {rule}{reset}"
            );
        }
        Event::Unchanged { elapsed } => {
            eprintln!("dev: built in {}; no server changed", seconds(*elapsed));
        }
        Event::Restarted {
            name,
            build,
            restart,
            because,
        } => match (build, because) {
            (Some(build), _) => eprintln!(
                "dev: restarted {name}: build {}, restart {}",
                seconds(*build),
                seconds(*restart)
            ),
            (None, Some(file)) => eprintln!(
                "dev: restarted {name} ({} changed): restart {}",
                shown(root, file),
                seconds(*restart)
            ),
            (None, None) => eprintln!("dev: restarted {name}: restart {}", seconds(*restart)),
        },
        Event::Draining { name, drain } => eprintln!(
            "dev: draining {name}: out of HAProxy's rotation, serving {} more, then restarting it",
            seconds(*drain)
        ),
        Event::StartFailed { name, error } => {
            eprintln!("dev: {error}; {name} starts again after the next change");
        }
        Event::Stopped { name, status } => {
            eprintln!("dev: {name} stopped ({status}); it starts again after the next change");
        }
        Event::SelfChanged => eprintln!(
            "dev: dev-runner itself was rebuilt; restart it (`cargo make dev` or `cargo make cluster`) to run the new one"
        ),
        Event::WatchError(e) => eprintln!("dev: file watcher: {e} (a change may have been missed)"),
    }
}

fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// `path` relative to the project root when it is inside it.
fn shown(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    if path.is_dir() {
        format!("{}/", rel.display())
    } else {
        rel.display().to_string()
    }
}

/// `path` made absolute against `root`, with symbolic links resolved when it exists, so that it
/// compares equal to the paths the file watcher reports.
fn absolute(root: &Path, path: PathBuf) -> PathBuf {
    let joined = root.join(path);
    joined.canonicalize().unwrap_or(joined)
}

fn users_file() -> PathBuf {
    std::env::var_os("ISSUER_USERS_FILE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_USERS_FILE))
}

/// Checked up front because readiness is judged by a port accepting connections: a server
/// left over on the same port would pass for ours while ours fails to bind.
fn port_is_free(addr: SocketAddr) -> std::io::Result<()> {
    if addr.port() == 0 {
        return Ok(());
    }
    std::net::TcpListener::bind(addr).map(drop)
}

/// Readiness is checked on loopback when the server listens on every interface; port 0 cannot
/// be checked (the port is unknown), so such a child is taken as ready once started.
fn with_ready(spec: ChildSpec, listen: SocketAddr) -> ChildSpec {
    if listen.port() == 0 {
        return spec;
    }
    let ip = if listen.ip().is_unspecified() {
        match listen.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        }
    } else {
        listen.ip()
    };
    spec.ready_when_listening(SocketAddr::new(ip, listen.port()))
}

/// Ctrl-C, SIGTERM (e.g. `kill`) or SIGHUP (terminal closed): all mean "stop everything".
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        // Without those handlers Ctrl-C still works; a failure here is not worth refusing to run.
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => eprintln!(),
        _ = term.recv() => {}
        _ = hup.recv() => {}
    }
}

/// The one screen of text a developer needs: where to go and whom to log in as.
#[allow(
    clippy::print_stdout,
    reason = "a CLI whose job is to tell the developer where the app is"
)]
fn banner(
    config: &AuthConfig,
    local_issuer: bool,
    cluster: Option<&ClusterPlan>,
    watched: Option<&[String]>,
) {
    println!();
    println!("  Ready. Open {}", config.app_origin);
    match cluster {
        Some(plan) => {
            println!(
                "    API        {} (HAProxy, round-robin)",
                config.api_origin
            );
            for replica in &plan.replicas {
                println!(
                    "      {:<8} http://{}  /metrics at http://{}/metrics",
                    replica.name, replica.listen, replica.metrics
                );
            }
            println!("    HAProxy    http://{}/ (statistics)", plan.stats);
            println!(
                "    Redis      {} (the shared DPoP replay store)",
                plan.redis_url()
            );
        }
        None => println!("    API        {}", config.api_origin),
    }
    if local_issuer {
        println!("    issuer     {} (dev issuer)", config.issuer_origin());
        let file = users_file();
        match dev_users(&file) {
            Ok(users) if !users.is_empty() => {
                println!("  Dev users (from {}):", file.display());
                let width = users.iter().map(|u| u.username.len()).max().unwrap_or(0);
                for u in users {
                    println!(
                        "    {:<width$}  password {:<16}  scopes {}",
                        u.username,
                        u.password,
                        u.scopes.join(" ")
                    );
                }
            }
            Ok(_) => println!("  No users in {}", file.display()),
            Err(e) => println!("  (cannot list the dev users: {e})"),
        }
    } else {
        println!(
            "    issuer     {} (log in with a user of that tenant)",
            config.issuer_origin()
        );
    }
    match watched {
        Some(paths) => {
            println!("  Watching {}:", paths.join(", "));
            println!(
                "  a save rebuilds and restarts what it changed; frontend/ saves reload the page."
            );
        }
        None => println!("  Not watching (--once): restart to pick up changes."),
    }
    println!("  Ctrl-C stops everything.");
    println!();
}

/// The fields of a dev user worth showing; the dev issuer owns the file and its full format.
#[derive(Debug, serde::Deserialize)]
struct DevUser {
    username: String,
    password: String,
    #[serde(default)]
    scopes: Vec<String>,
}

#[derive(Debug, serde::Deserialize)]
struct DevUsers {
    users: Vec<DevUser>,
}

fn dev_users(path: &Path) -> Result<Vec<DevUser>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    serde_json::from_str::<DevUsers>(&text)
        .map(|f| f.users)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// Redis, the replicas and HAProxy for `plan`: finds the two system programs, writes HAProxy's
/// configuration and makes Redis's folder under `target/cluster/`, and picks the nonce secret
/// (`API_DPOP_NONCE_SECRET` when set, else a fresh one). The error is one line for the
/// developer.
fn cluster_servers(
    plan: &ClusterPlan,
    root: &Path,
    bin_dir: &Path,
    config: &AuthConfig,
    config_file: &Path,
) -> Result<Vec<Server>, String> {
    let path = std::env::var_os("PATH");
    let find = |program: &str, package: &str| {
        cluster::find_program(program, path.as_deref()).ok_or_else(|| {
            format!(
                "the cluster needs `{program}`, which is not installed; install Debian's \
                 package: sudo apt-get install -y {package} (or run `cargo make cluster`, which \
                 installs it as root)"
            )
        })
    };
    let programs = Programs {
        api: bin_dir.join("api"),
        redis: find("redis-server", "redis-server")?,
        haproxy: find("haproxy", "haproxy")?,
    };
    let target = bin_dir.parent().unwrap_or(bin_dir);
    let dir = target.join("cluster");
    let template_path = root.join(cluster::HAPROXY_TEMPLATE);
    let template = std::fs::read_to_string(&template_path)
        .map_err(|e| format!("cannot read {}: {e}", template_path.display()))?;
    let haproxy = cluster::haproxy_config(&template, plan).map_err(|e| e.to_string())?;
    let redis = cluster::redis_config(plan.redis, &dir.join("redis"));
    std::fs::create_dir_all(dir.join("redis"))
        .and_then(|()| std::fs::write(cluster::haproxy_config_path(&dir), haproxy))
        .and_then(|()| std::fs::write(cluster::redis_config_path(&dir), redis))
        .map_err(|e| format!("cannot write to {}: {e}", dir.display()))?;
    let nonce_secret = match std::env::var("API_DPOP_NONCE_SECRET") {
        Ok(secret) => secret,
        Err(_) => cluster::nonce_secret()
            .map_err(|e| format!("cannot read random bytes for the nonce secret: {e}"))?,
    };
    let shared = Shared {
        origin: config.api_origin.clone(),
        nonce_secret,
    };
    Ok(cluster::cluster_servers(
        plan,
        &programs,
        &dir,
        &shared,
        &[config_file.to_path_buf()],
        |key| std::env::var(key).ok(),
    ))
}
