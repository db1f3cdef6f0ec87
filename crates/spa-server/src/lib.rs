//! The static server for the single-page app in `frontend/`.
//!
//! It exists so that the browser gets everything from one origin that we control: the SPA's own
//! files, the `@auth0/auth0-spa-js` build exactly as npm installed it (no CDN), and
//! `/auth_config.json`, generated from the same resolved [`app_config::AuthConfig`] the API and
//! the dev issuer use, so the three can never disagree. Around the files it adds what a static
//! host for an OAuth client should: a Content-Security-Policy that names exactly the issuer and
//! the API, no framing, no sniffing, no referrer (the callback URL carries the authorization
//! code), history-API fallback for the SPA's routes, and a refusal of every path-traversal form.
//!
//! With `--dev-reload` (what `cargo make dev` runs) it also reloads open pages when a frontend
//! file is saved; see the `dev_reload` module. Without the flag nothing of that exists.
//!
//! Shape (shared by every server crate): [`Settings`] → [`Application::build`] or
//! [`Application::from_listener`] → [`Application::run_until_stopped`].

mod dev_reload;
mod frontend;
mod middleware;
mod paths;
mod routes;
mod startup;

pub use dev_reload::{EVENTS_PATH, SCRIPT_PATH, SCRIPT_TAG};
pub use frontend::{Frontend, FrontendError, SDK_DIST, SDK_ENTRY, SDK_URL_PREFIX};
pub use middleware::content_security_policy;
pub use startup::{Application, DEFAULT_ROOT, Settings, StartupError};
