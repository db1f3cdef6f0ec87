//! The development configuration of the project's `auth_config.json`, for servers under test.

use app_config::{AuthConfig, ConfigValues};

/// The dev issuer's domain.
pub const DOMAIN: &str = "http://localhost:3002";
/// The SPA's client id.
pub const CLIENT_ID: &str = "local-dev-spa";
/// The API identifier tokens are for.
pub const AUDIENCE: &str = "https://api.local.test";
/// The SPA's origin.
pub const APP_ORIGIN: &str = "http://localhost:3000";
/// The API's public origin: DPoP proofs name it, whatever address a test server listens on.
pub const API_ORIGIN: &str = "http://localhost:3001";

/// The configuration of the root `auth_config.json`.
pub fn dev_config() -> AuthConfig {
    AuthConfig::from_values(ConfigValues {
        domain: Some(DOMAIN.into()),
        client_id: Some(CLIENT_ID.into()),
        audience: Some(AUDIENCE.into()),
        app_origin: Some(APP_ORIGIN.into()),
        api_origin: Some(API_ORIGIN.into()),
        ..ConfigValues::default()
    })
    .expect("the dev defaults are valid")
}

/// [`dev_config`] with `domain` (a loopback origin such as a mock issuer's) as the issuer.
pub fn config_for(domain: &str) -> AuthConfig {
    AuthConfig {
        domain: domain.to_owned(),
        issuer: app_config::issuer_from_domain(domain).expect("a valid domain"),
        ..dev_config()
    }
}
