//! `dev-runner`: the process behind `cargo make dev` and `cargo make dev-once`.
//!
//! Starts the dev issuer (only when `auth_config.json` names a loopback issuer), the API and the
//! SPA server from the binaries built next to this one, prints where to go and who can log in,
//! and stops all of them together (see the library for how). By default it then watches the
//! sources and rebuilds and restarts what a change affects; `--once` (`DEV_ONCE=1`) only runs
//! the servers, and stops them all when one dies. Exit code 0 after Ctrl-C, 1 when a server
//! died or could not start (with `--once`) or the sources cannot be watched, 2 for a
//! configuration mistake.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use app_config::{AuthConfig, exit_on_config_error, listen_addr};
use clap::Parser;
use dev_runner::build::BuildCommand;
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
    let mut ports = vec![("the API", api), ("the SPA server", spa)];
    if local_issuer {
        ports.insert(0, ("the dev issuer", issuer));
    }
    for (name, addr) in ports {
        if let Err(e) = port_is_free(addr) {
            eprintln!(
                "dev: cannot start {name}: {addr} is not free ({e}). Is another `cargo make dev` \
                 still running? Stop it, or pick other ports (README, Troubleshooting)."
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
        });
    }
    servers.push(Server {
        spec: with_ready(ChildSpec::new("api", bin_dir.join("api")), api),
        reads: vec![config_file.clone()],
    });
    let mut spa_spec = ChildSpec::new("spa", bin_dir.join("spa-server"));
    if !args.once {
        spa_spec = spa_spec.arg("--dev-reload");
    }
    servers.push(Server {
        spec: with_ready(spa_spec, spa),
        reads: vec![config_file],
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
    let names = if local_issuer {
        "dev issuer, API and SPA server"
    } else {
        "API and SPA server"
    };
    if args.once {
        let specs = servers.into_iter().map(|s| s.spec).collect();
        let outcome = runtime.block_on(supervise(
            specs,
            Timing::default(),
            shutdown_signal(),
            || banner(&config, local_issuer, None),
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
            banner(&config, local_issuer, Some(&watched));
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
        Event::StartFailed { name, error } => {
            eprintln!("dev: {error}; {name} starts again after the next change");
        }
        Event::Stopped { name, status } => {
            eprintln!("dev: {name} stopped ({status}); it starts again after the next change");
        }
        Event::SelfChanged => eprintln!(
            "dev: dev-runner itself was rebuilt; restart `cargo make dev` to run the new one"
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
fn banner(config: &AuthConfig, local_issuer: bool, watched: Option<&[String]>) {
    println!();
    println!("  Ready. Open {}", config.app_origin);
    println!("    API        {}", config.api_origin);
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
