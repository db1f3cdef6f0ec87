//! The development configuration of the project's `auth_config.json`, for servers under test.

use app_config::AuthConfig;

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
    AuthConfig {
        domain: domain.to_owned(),
        issuer: app_config::issuer_from_domain(domain).expect("a valid domain"),
        ..dev_config()
    }
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
