//! Everything the dev issuer needs to start: the shared configuration plus its own options.
//!
//! A plain struct, filled by `main.rs` from flags and environment or by tests through
//! [`Settings::for_tests`]. Validation that depends on several values (loopback-only listening,
//! a loopback issuer) happens once, in `Application::build`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use app_config::AuthConfig;

use crate::Clock;

/// Default path of the users file, relative to the working directory (the project root).
pub const DEFAULT_USERS_FILE: &str = "dev-users.json";
/// Default path of the dev tenant's settings file, relative to the working directory.
pub const DEFAULT_TENANT_FILE: &str = "dev-tenant.json";
/// Default path of the signing-key file, relative to the working directory.
pub const DEFAULT_KEY_FILE: &str = "target/dev-issuer/signing-keys.json";

/// How long each artefact the issuer hands out stays valid.
#[derive(Debug, Clone)]
pub struct Lifetimes {
    /// Authorization codes (default 60 s).
    pub code: Duration,
    /// Access tokens (default 24 h, Auth0's default).
    pub access_token: Duration,
    /// ID tokens (default 10 h, Auth0's default).
    pub id_token: Duration,
    /// Login sessions behind the cookie (default 24 h).
    pub session: Duration,
    /// Refresh tokens, absolute: fixed when the code is redeemed, not renewed by rotation
    /// (default 30 days, Auth0's "Absolute Lifetime").
    pub refresh_token: Duration,
    /// Refresh tokens, idle: each one expires this long after it was issued unless rotated
    /// (default 15 days, Auth0's "Inactivity Lifetime").
    pub refresh_token_idle: Duration,
    /// A shown login form waiting for its post (default 15 min).
    pub login_request: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Self {
            code: Duration::from_secs(60),
            access_token: Duration::from_secs(86_400),
            id_token: Duration::from_secs(36_000),
            session: Duration::from_secs(86_400),
            refresh_token: Duration::from_secs(30 * 86_400),
            refresh_token_idle: Duration::from_secs(15 * 86_400),
            login_request: Duration::from_secs(15 * 60),
        }
    }
}

/// The API's settings, as on the Auth0 dashboard's API page (the API is `audience`).
#[derive(Debug, Clone)]
pub struct ApiSettings {
    /// The permissions (scopes) the API defines (default `read:messages`).
    pub permissions: Vec<String>,
    /// "Enable RBAC": a token gets only the requested permissions the user holds (default on).
    pub enable_rbac: bool,
    /// "Add Permissions in the Access Token": with RBAC on, the access token lists all the
    /// user's permissions for the API in `permissions` (default on).
    pub add_permissions_in_the_access_token: bool,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            permissions: vec!["read:messages".to_owned()],
            enable_rbac: true,
            add_permissions_in_the_access_token: true,
        }
    }
}

/// The dev issuer's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen; must be a loopback address (port 0 picks a free port).
    pub listen: SocketAddr,
    /// The shared configuration: `issuer` is what tokens carry, `client_id` the one client.
    pub config: AuthConfig,
    /// The development users file.
    pub users_file: PathBuf,
    /// Where signing keys are kept across restarts; `None` keeps them in memory only.
    pub key_file: Option<PathBuf>,
    /// Whether the `/dev/` test hooks answer (otherwise they are 404).
    pub dev_endpoints: bool,
    /// "Allowed Callback URLs": `redirect_uri` values, matched exactly (default: `appOrigin`).
    pub allowed_callback_urls: Vec<String>,
    /// "Allowed Logout URLs": `returnTo` values, matched exactly (default: `appOrigin`).
    pub allowed_logout_urls: Vec<String>,
    /// "Allowed Web Origins": origins that may receive `response_mode=web_message` answers
    /// (default: `appOrigin`).
    pub allowed_web_origins: Vec<String>,
    /// "Allowed Origins (CORS)" on the token, userinfo and discovery endpoints (default:
    /// `appOrigin`).
    pub allowed_origins: Vec<String>,
    /// The API's permissions and RBAC switches.
    pub api: ApiSettings,
    /// Lifetimes of codes, tokens and sessions.
    pub lifetimes: Lifetimes,
    /// The clock; tests advance it to expire things.
    pub clock: Clock,
}

impl Settings {
    /// Settings with the defaults: users from `dev-users.json`, keys in `target/`, hooks off.
    pub fn new(listen: SocketAddr, config: AuthConfig) -> Self {
        let app = config.app_origin.clone();
        Self {
            listen,
            users_file: PathBuf::from(DEFAULT_USERS_FILE),
            key_file: Some(PathBuf::from(DEFAULT_KEY_FILE)),
            dev_endpoints: false,
            allowed_callback_urls: vec![app.clone()],
            allowed_logout_urls: vec![app.clone()],
            allowed_web_origins: vec![app.clone()],
            allowed_origins: vec![app],
            api: ApiSettings::default(),
            lifetimes: Lifetimes::default(),
            clock: Clock::system(),
            config,
        }
    }

    /// Settings for in-process tests: a free loopback port, the project's users file, keys in
    /// memory only, and the `/dev/` hooks on.
    pub fn for_tests(config: AuthConfig) -> Self {
        let mut settings = Self::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config);
        settings.users_file =
            PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../dev-users.json"));
        settings.key_file = None;
        settings.dev_endpoints = true;
        settings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> AuthConfig {
        AuthConfig::dev_defaults()
    }

    #[test]
    fn dev_hooks_are_off_and_keys_persist_under_target_by_default() {
        let settings = Settings::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 3002)), config());
        assert!(!settings.dev_endpoints);
        assert_eq!(settings.key_file, Some(PathBuf::from(DEFAULT_KEY_FILE)));
        assert!(DEFAULT_KEY_FILE.starts_with("target/"));
        assert_eq!(settings.lifetimes.code, Duration::from_secs(60));
    }

    #[test]
    fn refresh_tokens_default_to_auth0s_absolute_and_inactivity_lifetimes() {
        let lifetimes = Lifetimes::default();
        assert_eq!(lifetimes.refresh_token, Duration::from_secs(2_592_000));
        assert_eq!(lifetimes.refresh_token_idle, Duration::from_secs(1_296_000));
    }

    #[test]
    fn rbac_with_permissions_in_the_token_is_on_by_default() {
        let api = ApiSettings::default();
        assert!(api.enable_rbac && api.add_permissions_in_the_access_token);
        assert_eq!(api.permissions, ["read:messages"]);
    }

    #[test]
    fn the_projects_tenant_file_matches_the_defaults() {
        let mut settings = Settings::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 3002)), config());
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../", "dev-tenant.json");
        crate::tenant::apply_tenant_file(&mut settings, std::path::Path::new(path))
            .expect("the project's dev-tenant.json is valid");
        let defaults = Settings::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 3002)), config());
        assert_eq!(format!("{:?}", settings.api), format!("{:?}", defaults.api));
        assert_eq!(
            format!("{:?}", settings.lifetimes),
            format!("{:?}", defaults.lifetimes)
        );
        assert_eq!(
            settings.allowed_callback_urls,
            defaults.allowed_callback_urls
        );
    }

    #[test]
    fn the_app_origin_is_the_only_callback_logout_url_web_and_cors_origin_by_default() {
        let settings = Settings::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 3002)), config());
        assert_eq!(settings.allowed_callback_urls, ["http://localhost:3000"]);
        assert_eq!(settings.allowed_logout_urls, ["http://localhost:3000"]);
        assert_eq!(settings.allowed_web_origins, ["http://localhost:3000"]);
        assert_eq!(settings.allowed_origins, ["http://localhost:3000"]);
    }
}
