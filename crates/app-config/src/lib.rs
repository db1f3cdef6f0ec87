//! The one configuration shared by the SPA server, the API and the dev issuer.
//!
//! Every binary resolves the same settings the same way: `auth_config.json` (path from
//! `AUTH_CONFIG`, default `auth_config.json` in the working directory), then the environment
//! overrides `AUTH0_DOMAIN`, `AUTH0_CLIENT_ID`, `AUTH0_AUDIENCE`, `APP_ORIGIN`, `API_ORIGIN`,
//! `AUTH0_DPOP`, `AUTH0_ISSUERS`, `AUTH0_AUDIENCES` (the last two comma-separated lists; all of
//! them in [`ENV_VARS`]). Validation happens once, here, at the edge: what comes out is an
//! [`AuthConfig`] whose URLs are parsed and whose issuers all obey the "plain http only on
//! loopback" rule. A mistake is a [`ConfigError`] that names the setting and the fix in one line;
//! binaries print it with [`exit_on_config_error`] and exit with code 2.
//!
//! Modules: `loading` (file + environment → [`ConfigValues`]), `auth_config` ([`ConfigValues`] →
//! [`AuthConfig`], the rules per setting), `urls` (issuer and origin rules, loopback),
//! `listen` (listen addresses), `error`, and [`signals`] (the graceful-stop signal handlers every
//! server installs).

mod auth_config;
mod error;
mod listen;
mod loading;
pub mod signals;
mod urls;

pub use auth_config::{AuthConfig, ConfigValues};
pub use error::{ConfigError, exit_on_config_error};
pub use listen::listen_addr;
pub use loading::{DEFAULT_CONFIG_PATH, ENV_VARS};
pub use urls::{is_loopback_host, issuer_from_domain};
