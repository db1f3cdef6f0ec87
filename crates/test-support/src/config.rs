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
    AuthConfig::dev_defaults()
}

/// [`dev_config`] with `domain` (a loopback origin such as a mock issuer's) as the issuer.
pub fn config_for(domain: &str) -> AuthConfig {
    config_with_origins(domain, APP_ORIGIN, API_ORIGIN)
}

/// [`dev_config`] with every origin replaced: the one configuration a stack of servers on
/// ports the OS chose shares.
pub fn config_with_origins(domain: &str, app_origin: &str, api_origin: &str) -> AuthConfig {
    AuthConfig::from_values(ConfigValues {
        domain: Some(domain.to_owned()),
        app_origin: Some(app_origin.to_owned()),
        api_origin: Some(api_origin.to_owned()),
        ..ConfigValues::dev_defaults()
    })
    .expect("loopback origins are valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_constants_are_the_dev_defaults() {
        let config = dev_config();
        assert_eq!(config.domain, DOMAIN);
        assert_eq!(config.client_id, CLIENT_ID);
        assert_eq!(config.audience, AUDIENCE);
        assert_eq!(config.app_origin, APP_ORIGIN);
        assert_eq!(config.api_origin, API_ORIGIN);
    }
}
