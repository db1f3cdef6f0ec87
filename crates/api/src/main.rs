//! The `api` binary: settings from flags, environment and `auth_config.json` (`api::cli`), then
//! serve.

use api::cli::Cli;
use api::{Application, StartupError};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let resolved = Cli::parse_or_exit()
        .resolve()
        .unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let _log_writer = api::telemetry::init_subscriber(resolved.log_format)?;
    for warning in &resolved.warnings {
        tracing::warn!("{warning}");
    }
    let application = match Application::build(resolved.settings).await {
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
