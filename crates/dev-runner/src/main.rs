//! `dev-runner`: the process behind `cargo make dev`.
//!
//! Starts the dev issuer (only when `auth_config.json` names a loopback issuer), the API and the
//! SPA server from the binaries built next to this one, prints where to go and who can log in,
//! and stops all of them together (see the library for how). Exit code 0 after Ctrl-C, 1 when a
//! server died or could not start, 2 for a configuration mistake.

use std::io::IsTerminal;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use app_config::{AuthConfig, exit_on_config_error, listen_addr};
use dev_runner::{ChildSpec, Timing, supervise};

/// The users file the dev issuer reads unless told otherwise (its own default).
const DEFAULT_USERS_FILE: &str = "dev-users.json";

fn main() -> ExitCode {
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
    let mut specs = Vec::new();
    if local_issuer {
        specs.push(with_ready(
            // The `/dev/` hooks mint any token, so they stay off unless the developer opts in
            // with ISSUER_DEV_ENDPOINTS=1, which the child inherits from this environment.
            ChildSpec::new("issuer", bin_dir.join("dev-issuer")),
            issuer,
        ));
    }
    specs.push(with_ready(ChildSpec::new("api", bin_dir.join("api")), api));
    specs.push(with_ready(
        ChildSpec::new("spa", bin_dir.join("spa-server")),
        spa,
    ));

    // Logs going to a file or a pipe should not carry colour codes (tracing-subscriber honours
    // NO_COLOR); on a terminal the servers keep theirs.
    if !std::io::stdout().is_terminal() {
        specs = specs.into_iter().map(|s| s.env("NO_COLOR", "1")).collect();
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
    let outcome = runtime.block_on(supervise(
        specs,
        Timing::default(),
        shutdown_signal(),
        || banner(&config, local_issuer),
    ));
    match outcome {
        Ok(()) => {
            eprintln!("dev: stopped the {names}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("dev: {e}; every other server was stopped too");
            ExitCode::FAILURE
        }
    }
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
fn banner(config: &AuthConfig, local_issuer: bool) {
    println!();
    println!("  Ready. Open {}", config.app_origin);
    println!("    API        {}", config.api_origin);
    if local_issuer {
        println!("    issuer     {} (dev issuer)", config.issuer_origin());
        let file = std::env::var_os("ISSUER_USERS_FILE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_USERS_FILE));
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
