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
    let config =
        app_config::AuthConfig::load().unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let _log_writer = api::telemetry::init_subscriber();
    let application = match Application::build(Settings::new(listen, config)).await {
        Ok(application) => application,
        Err(err @ (StartupError::Bind { .. } | StartupError::Verifier(_))) => {
            app_config::exit_on_config_error(&err)
        }
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
