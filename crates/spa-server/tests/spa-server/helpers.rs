//! What several of the SPA server's test files need beyond `test_support::spa_server`.

use app_config::{AuthConfig, ConfigValues};

/// A configuration for an Auth0 tenant given by its bare domain, with the API at `api_origin`.
pub fn tenant_config(api_origin: &str) -> AuthConfig {
    AuthConfig::from_values(ConfigValues {
        domain: Some("tenant.eu.auth0.com".into()),
        client_id: Some("c".into()),
        audience: Some("https://api.example".into()),
        app_origin: Some("https://app.example".into()),
        api_origin: Some(api_origin.into()),
        ..ConfigValues::default()
    })
    .expect("valid")
}

/// Writes the development `auth_config.json` into `dir`, with `client_id`, and returns its path.
pub fn dev_config_file(dir: &std::path::Path, client_id: &str) -> std::path::PathBuf {
    let path = dir.join("auth_config.json");
    let json = format!(
        r#"{{"domain":"http://localhost:3002","clientId":"{client_id}","audience":"https://api.local.test","appOrigin":"http://localhost:3000","apiOrigin":"http://localhost:3001"}}"#
    );
    std::fs::write(&path, json).expect("write");
    path
}
