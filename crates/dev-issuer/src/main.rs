//! `dev-issuer`: runs the development issuer on http://localhost:3002 (loopback only).

use std::net::SocketAddr;
use std::path::PathBuf;

use app_config::{AuthConfig, ConfigError, exit_on_config_error};
use clap::Parser;
use clap::builder::BoolishValueParser;
use dev_issuer::{
    Application, DEFAULT_KEY_FILE, DEFAULT_TENANT_FILE, DEFAULT_USERS_FILE, Settings, StartupError,
    apply_tenant_file,
};

/// A local, development-only, Auth0-compatible OpenID Connect issuer. Never for production.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on: a loopback address (127.0.0.1, ::1) or localhost.
    #[arg(long, env = "ISSUER_HOST")]
    host: Option<String>,
    /// Port to listen on (default 3002; 0 picks a free one).
    #[arg(long, env = "ISSUER_PORT")]
    port: Option<String>,
    /// The development users file.
    #[arg(long, env = "ISSUER_USERS_FILE", default_value = DEFAULT_USERS_FILE)]
    users_file: PathBuf,
    /// The dev tenant's application and API settings (named after the Auth0 dashboard).
    #[arg(long, env = "ISSUER_TENANT_FILE", default_value = DEFAULT_TENANT_FILE)]
    tenant_file: PathBuf,
    /// Where signing keys are kept across restarts.
    #[arg(long, env = "ISSUER_KEY_FILE", default_value = DEFAULT_KEY_FILE)]
    key_file: PathBuf,
    /// Enable the /dev/ test hooks (rotate keys, mint tokens).
    #[arg(long, env = "ISSUER_DEV_ENDPOINTS", value_parser = BoolishValueParser::new(), default_value_t = false, num_args = 0..=1, default_missing_value = "true")]
    dev_endpoints: bool,
}

/// The shared `ISSUER_HOST`/`ISSUER_PORT` rule, fed from clap so that flags and variables agree.
/// The loopback-only rule is enforced by `Application::build`, for the binary and tests alike.
fn listen_addr(cli: &Cli) -> Result<SocketAddr, ConfigError> {
    app_config::listen_addr("ISSUER", 3002, |key| match key {
        "ISSUER_HOST" => cli.host.clone(),
        "ISSUER_PORT" => cli.port.clone(),
        _ => None,
    })
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let listen = listen_addr(&cli).unwrap_or_else(|e| exit_on_config_error(&e));
    let config = AuthConfig::load().unwrap_or_else(|e| exit_on_config_error(&e));
    let mut settings = Settings::new(listen, config);
    settings.users_file = cli.users_file;
    settings.key_file = Some(cli.key_file);
    settings.dev_endpoints = cli.dev_endpoints;
    apply_tenant_file(&mut settings, &cli.tenant_file).unwrap_or_else(|e| exit_on_config_error(&e));
    eprintln!("dev-issuer: FOR LOCAL DEVELOPMENT ONLY - never use it in production.");
    let app = match Application::build(settings).await {
        Ok(app) => app,
        Err(
            e @ (StartupError::NotLoopback(_)
            | StartupError::IssuerNotLocal(_)
            | StartupError::Users(_)),
        ) => exit_on_config_error(&e),
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(1)
        }
    };
    app.run_until_stopped().await
}
