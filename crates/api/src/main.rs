//! The `api` binary: settings from flags, environment and `auth_config.json`, then serve.

use std::net::SocketAddr;

use api::{Application, Settings, StartupError};
use clap::Parser;

/// The protected API of the SPA + API workspace.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Cli {
    /// Address to listen on (IP address or `localhost`; default 127.0.0.1).
    #[arg(long, env = "API_HOST")]
    host: Option<String>,
    /// Port to listen on (default 3001; 0 picks a free one).
    #[arg(long, env = "API_PORT")]
    port: Option<String>,
    /// DPoP mode: `allowed` (Bearer for unbound tokens, DPoP for bound ones), `required`
    /// (DPoP only) or `off` (Bearer only).
    #[arg(long = "dpop", env = "API_DPOP", default_value = "allowed")]
    dpop: String,
    /// `1` turns DPoP server nonces on, `0` (default) off.
    #[arg(long = "dpop-nonce", env = "API_DPOP_NONCE", default_value = "0")]
    dpop_nonce: String,
    /// Secret the DPoP nonces are derived from (at least 32 characters); replicas that share
    /// it accept each other's nonces. Default: random per process.
    #[arg(
        long = "dpop-nonce-secret",
        env = "API_DPOP_NONCE_SECRET",
        hide_env_values = true
    )]
    dpop_nonce_secret: Option<String>,
    /// How many DPoP proofs the replay store holds (default 1000000; see the README for sizing).
    #[arg(long = "dpop-replay-capacity", env = "API_DPOP_REPLAY_CAPACITY")]
    dpop_replay_capacity: Option<String>,
    /// Address of the `/metrics` listener, `IP:port` (default 127.0.0.1:9464; port 0 picks a
    /// free one), or `off`.
    #[arg(long, env = "API_METRICS_ADDR")]
    metrics_addr: Option<String>,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(), // --help, --version
        Err(err) => {
            let text = err.to_string();
            let line = text.lines().next().unwrap_or("invalid arguments");
            app_config::exit_on_config_error(&line.trim_start_matches("error: "))
        }
    };
    let listen = listen_addr(&cli).unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let metrics_listen = metrics_addr(cli.metrics_addr.as_deref())
        .unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let config =
        app_config::AuthConfig::load().unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let mut settings = Settings::new(listen, config);
    settings.metrics_listen = metrics_listen;
    dpop_settings(&cli, &mut settings).unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let _log_writer = api::telemetry::init_subscriber()?;
    let application = match Application::build(settings).await {
        Ok(application) => application,
        Err(
            err @ (StartupError::Bind { .. }
            | StartupError::MetricsBind { .. }
            | StartupError::Verifier(_)),
        ) => app_config::exit_on_config_error(&err),
        Err(err) => return Err(std::io::Error::other(err)),
    };
    application.run_until_stopped().await
}

/// The shared `API_HOST`/`API_PORT` rule, fed from clap so that flags and variables agree.
fn listen_addr(cli: &Cli) -> Result<SocketAddr, app_config::ConfigError> {
    app_config::listen_addr("API", 3001, |key| match key {
        "API_HOST" => cli.host.clone(),
        "API_PORT" => cli.port.clone(),
        _ => None,
    })
}

/// `API_DPOP`, `API_DPOP_NONCE`, `API_DPOP_NONCE_SECRET`, `API_DPOP_REPLAY_CAPACITY`.
fn dpop_settings(cli: &Cli, settings: &mut Settings) -> Result<(), app_config::ConfigError> {
    settings.dpop_mode = cli.dpop.parse().map_err(|problem: String| {
        app_config::ConfigError::new("API_DPOP", problem, "use allowed, required or off")
    })?;
    let nonces = match cli.dpop_nonce.trim() {
        "1" | "true" => true,
        "0" | "false" => false,
        other => {
            return Err(app_config::ConfigError::new(
                "API_DPOP_NONCE",
                format!("{other:?} is not 0 or 1"),
                "use 1 to turn DPoP server nonces on, 0 to leave them off",
            ));
        }
    };
    if nonces {
        let mut nonce = auth::dpop::NonceSettings::random();
        if let Some(secret) = &cli.dpop_nonce_secret {
            if secret.len() < 32 {
                return Err(app_config::ConfigError::new(
                    "API_DPOP_NONCE_SECRET",
                    "is shorter than 32 characters",
                    "use a random string of at least 32 characters, the same on every replica",
                ));
            }
            nonce.secret = secret.as_bytes().to_vec();
        }
        settings.dpop.nonce = Some(nonce);
    }
    if let Some(capacity) = &cli.dpop_replay_capacity {
        settings.dpop.replay_capacity = capacity
            .trim()
            .parse()
            .ok()
            .filter(|c| *c > 0)
            .ok_or_else(|| {
                app_config::ConfigError::new(
                    "API_DPOP_REPLAY_CAPACITY",
                    format!("{capacity:?} is not a positive number"),
                    "use the number of DPoP proofs to remember, e.g. 1000000",
                )
            })?;
    }
    Ok(())
}

/// `API_METRICS_ADDR`: `IP:port` (`localhost:port` too), or `off` to serve no metrics.
fn metrics_addr(value: Option<&str>) -> Result<Option<SocketAddr>, app_config::ConfigError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(Some(api::startup::DEFAULT_METRICS_ADDR));
    };
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let loopback = value
        .strip_prefix("localhost:")
        .map(|port| format!("127.0.0.1:{port}"));
    loopback
        .as_deref()
        .unwrap_or(value)
        .parse()
        .map(Some)
        .map_err(|_| {
            app_config::ConfigError::new(
                "API_METRICS_ADDR",
                format!("{value:?} is not an IP address with a port"),
                "use an address such as 127.0.0.1:9464 (port 0 picks a free one), or off",
            )
        })
}
