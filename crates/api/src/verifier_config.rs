//! From the workspace's configuration (`auth_config.json` plus environment) to the token
//! verifier's: the one place the API says which issuers and audiences it trusts.
//!
//! Here rather than in `auth`, so that the verifier library depends on no application's
//! configuration: any service can build an `auth::VerifierConfig` from its own settings.

use app_config::AuthConfig;
use auth::VerifierConfig;

/// The verifier configuration `config` implies: `domain`'s issuer and every entry of `issuers`,
/// `audience` and every entry of `audiences` (shared), the audiences of their own some issuers
/// have; every other verifier setting at its default.
pub fn verifier_config(config: &AuthConfig) -> VerifierConfig {
    VerifierConfig {
        issuers: config.issuers.clone(),
        issuer_audiences: config.issuer_audiences.clone(),
        ..VerifierConfig::new(
            config.issuer.clone(),
            config.all_audiences().map(str::to_owned).collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_configured_issuer_and_audience_is_trusted() {
        let app = AuthConfig::from_values(app_config::ConfigValues {
            client_id: Some("spa".into()),
            issuers: vec!["http://127.0.0.1:3002".into()],
            audiences: vec!["https://other.test".into()],
            ..app_config::ConfigValues::dev_defaults()
        })
        .expect("valid");
        let c = verifier_config(&app);
        let issuers: Vec<_> = c.all_issuers().map(|u| u.as_str()).collect();
        assert_eq!(
            issuers,
            ["http://localhost:3002/", "http://127.0.0.1:3002/"]
        );
        assert_eq!(
            c.audiences,
            ["https://api.local.test", "https://other.test"]
        );
    }

    #[test]
    fn an_issuer_with_audiences_of_its_own_keeps_only_them_in_the_verifier() {
        let app = AuthConfig::from_values(app_config::ConfigValues {
            issuers: vec!["http://127.0.0.1:3002".into()],
            audiences: vec!["https://other.test".into()],
            issuer_audiences: vec![(
                "http://127.0.0.1:3002".into(),
                vec!["https://b.test".into()],
            )],
            ..app_config::ConfigValues::dev_defaults()
        })
        .expect("valid");
        let c = verifier_config(&app);
        let second = "http://127.0.0.1:3002/".parse().expect("url");
        assert_eq!(c.audiences_for(&second), ["https://b.test"]);
        assert_eq!(
            c.audiences_for(&c.issuer),
            ["https://api.local.test", "https://other.test"]
        );
    }
}
