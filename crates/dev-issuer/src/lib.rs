//! A local, development-only, Auth0-compatible OpenID Connect issuer.
//!
//! No machine here (nor a newcomer's laptop, nor CI) can reach an Auth0 tenant, yet the point of
//! the project is the browser login flow. This crate is the embedded stand-in: the unchanged
//! `@auth0/auth0-spa-js` logs in against it (authorization code + PKCE, `web_message` silent
//! authentication, rotating refresh tokens, `/v2/logout`), and the API verifies its RS256 access
//! tokens through OIDC discovery and the JWKS exactly as it would a real tenant's.
//!
//! It is for development and tests only: users and passwords come from a plain JSON file, state
//! lives in memory, it listens on loopback only, and `/dev/` test hooks can mint any token.
//!
//! ```no_run
//! # async fn run(config: app_config::AuthConfig) -> Result<(), Box<dyn std::error::Error>> {
//! let app = dev_issuer::Application::build(dev_issuer::Settings::for_tests(config)).await?;
//! let token = app.issuer().mint_access_token(
//!     "alice@example.com", "https://api.local.test", &["read:messages"],
//!     std::time::Duration::from_secs(300))?;
//! tokio::spawn(app.run_until_stopped());
//! # let _ = token; Ok(()) }
//! ```

mod clock;
mod error;
mod host;
mod html;
mod issuer;
mod keys;
mod pkce;
mod request_log;
mod routes;
mod secrets;
mod settings;
mod startup;
mod tenant;
mod urls;
mod users;

pub use clock::Clock;
pub use issuer::{Issuer, MintError};
pub use keys::KeyError;
pub use settings::{
    ApiSettings, DEFAULT_KEY_FILE, DEFAULT_TENANT_FILE, DEFAULT_USERS_FILE, Lifetimes, Settings,
};
pub use startup::{Application, StartupError};
pub use tenant::{TenantError, apply_tenant_file, apply_tenant_json};
pub use users::{User, Users, UsersError};
