//! `spa-server`: serves `frontend/` and its generated `auth_config.json`.

use std::{io::IsTerminal, path::PathBuf};

use clap::Parser;
use spa_server::{Application, DEFAULT_ROOT, Settings};

/// Static server for the single-page app.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Interface to listen on (an IP address or `localhost`).
    #[arg(long, env = "SPA_HOST")]
    host: Option<String>,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "SPA_PORT")]
    port: Option<String>,
    /// Folder holding index.html and node_modules/.
    #[arg(long, env = "SPA_ROOT", default_value = DEFAULT_ROOT)]
    root: PathBuf,
    /// Development only: reload open pages when a file under the root is saved.
    #[arg(long, env = "SPA_DEV_RELOAD")]
    dev_reload: bool,
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        // By default a failed log write is reported with `eprintln!`, which panics when stderr
        // is a closed pipe (`spa-server 2>&1 | head`): losing a log line must not stop serving.
        .log_internal_errors(false)
        .init();

    let args = Args::parse();
    let listen = app_config::listen_addr("SPA", 3000, |key| match key {
        "SPA_HOST" => args.host.clone(),
        "SPA_PORT" => args.port.clone(),
        _ => None,
    })
    .unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let config =
        app_config::AuthConfig::load().unwrap_or_else(|e| app_config::exit_on_config_error(&e));

    let settings = Settings {
        listen,
        config,
        root: args.root,
        dev_reload: args.dev_reload,
    };
    match Application::build(settings).await {
        Ok(app) => app.run_until_stopped().await,
        Err(e) if e.is_setup_error() => app_config::exit_on_config_error(&e),
        Err(e) => {
            tracing::error!("{e}");
            Err(std::io::Error::other(e))
        }
    }
}
