//! The dev tenant's settings file (default `dev-tenant.json`): how the dev issuer is set up, in
//! the words of the Auth0 dashboard, so that a developer can make it behave like their tenant.
//!
//! Two sections mirror the two dashboard pages that matter to this project: `application`
//! (Applications → the SPA → Settings) and `api` (APIs → the API → Settings). Every field is
//! optional; an absent one keeps the default, and the URL lists default to `appOrigin`, so the
//! file does not have to change when `APP_ORIGIN` does. Unknown fields are refused, so a typo
//! is a clear startup error rather than a setting silently ignored.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::settings::Settings;

/// Why the tenant file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum TenantError {
    /// The file cannot be read.
    #[error(
        "invalid setting ISSUER_TENANT_FILE: cannot read {path}: {source}; fix: run from the project root or point ISSUER_TENANT_FILE at dev-tenant.json"
    )]
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not the expected JSON shape.
    #[error(
        "invalid setting ISSUER_TENANT_FILE: {path} is not valid: {problem}; fix: see docs/dev-issuer.md"
    )]
    Invalid {
        /// The path.
        path: String,
        /// What is wrong.
        problem: String,
    },
}

/// The file's shape. Field names are the dashboard's labels in camelCase.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TenantFile {
    #[serde(default)]
    application: ApplicationSection,
    #[serde(default)]
    api: ApiSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApplicationSection {
    allowed_callback_urls: Option<Vec<String>>,
    allowed_logout_urls: Option<Vec<String>>,
    allowed_web_origins: Option<Vec<String>>,
    allowed_origins_cors: Option<Vec<String>>,
    id_token_expiration: Option<u64>,
    refresh_token_expiration: Option<RefreshTokenExpiration>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RefreshTokenExpiration {
    absolute_lifetime: Option<u64>,
    inactivity_lifetime: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ApiSection {
    permissions: Option<Vec<String>>,
    enable_rbac: Option<bool>,
    add_permissions_in_the_access_token: Option<bool>,
    token_expiration: Option<u64>,
}

// The largest lifetimes Auth0 lets a tenant set; bounding them also keeps `now + lifetime` far
// from overflowing (an unbounded value reset the connection in debug builds and minted tokens
// born expired in release builds).
/// API → Settings → Token Expiration: at most 2,592,000 s (30 days), per Auth0's
/// "Update Access Token Lifetime" page (auth0.com/docs/secure/tokens/access-tokens/
/// update-access-token-lifetime).
const MAX_ACCESS_TOKEN_SECS: u64 = 2_592_000;
/// Application → ID Token Expiration: Auth0's "Update ID Token Lifetime" page states the
/// default (36,000 s) but no maximum; we apply the access token's 30 days.
const MAX_ID_TOKEN_SECS: u64 = 2_592_000;
/// Application → Refresh Token Expiration, absolute and inactivity lifetimes: at most
/// 31,557,600 s (1 year), per Auth0's "Configure Refresh Token Expiration" page
/// (auth0.com/docs/secure/tokens/refresh-tokens/configure-refresh-token-expiration).
const MAX_REFRESH_TOKEN_SECS: u64 = 31_557_600;

/// A lifetime field's value: a positive number of seconds, at most `max`.
fn lifetime(field: &str, secs: u64, max: u64) -> Result<Duration, String> {
    if secs == 0 {
        Err(format!("{field} must be a positive number of seconds"))
    } else if secs > max {
        Err(format!(
            "{field} is {secs} s; Auth0 allows at most {max} s, so does the dev tenant"
        ))
    } else {
        Ok(Duration::from_secs(secs))
    }
}

/// Reads the tenant file at `path` and applies it to `settings`.
pub fn apply_tenant_file(settings: &mut Settings, path: &Path) -> Result<(), TenantError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| TenantError::Read {
        path: shown.clone(),
        source,
    })?;
    apply_tenant_json(settings, &text).map_err(|problem| TenantError::Invalid {
        path: shown,
        problem,
    })
}

/// Applies the tenant file's text to `settings`.
pub fn apply_tenant_json(settings: &mut Settings, text: &str) -> Result<(), String> {
    let file: TenantFile = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let app = file.application;
    let urls = |field: &str, list: Vec<String>| -> Result<Vec<String>, String> {
        if list.iter().any(|u| url::Url::parse(u).is_err()) {
            return Err(format!(
                "application.{field} holds something that is not an absolute URL"
            ));
        }
        Ok(list)
    };
    if let Some(list) = app.allowed_callback_urls {
        settings.allowed_callback_urls = urls("allowedCallbackUrls", list)?;
    }
    if let Some(list) = app.allowed_logout_urls {
        settings.allowed_logout_urls = urls("allowedLogoutUrls", list)?;
    }
    if let Some(list) = app.allowed_web_origins {
        settings.allowed_web_origins = urls("allowedWebOrigins", list)?;
    }
    if let Some(list) = app.allowed_origins_cors {
        settings.allowed_origins = urls("allowedOriginsCors", list)?;
    }
    if let Some(secs) = app.id_token_expiration {
        settings.lifetimes.id_token =
            lifetime("application.idTokenExpiration", secs, MAX_ID_TOKEN_SECS)?;
    }
    if let Some(refresh) = app.refresh_token_expiration {
        let refresh_lifetime = |name: &str, secs| {
            let field = format!("application.refreshTokenExpiration.{name}");
            lifetime(&field, secs, MAX_REFRESH_TOKEN_SECS)
        };
        if let Some(secs) = refresh.absolute_lifetime {
            settings.lifetimes.refresh_token = refresh_lifetime("absoluteLifetime", secs)?;
        }
        if let Some(secs) = refresh.inactivity_lifetime {
            settings.lifetimes.refresh_token_idle = refresh_lifetime("inactivityLifetime", secs)?;
        }
    }
    let api = file.api;
    if let Some(permissions) = api.permissions {
        if let Some(bad) = permissions.iter().find(|p| p.is_empty() || p.contains(' ')) {
            return Err(format!(
                "api.permissions holds {bad:?}; a permission is one word"
            ));
        }
        settings.api.permissions = permissions;
    }
    if let Some(on) = api.enable_rbac {
        settings.api.enable_rbac = on;
    }
    if let Some(on) = api.add_permissions_in_the_access_token {
        settings.api.add_permissions_in_the_access_token = on;
    }
    if let Some(secs) = api.token_expiration {
        settings.lifetimes.access_token =
            lifetime("api.tokenExpiration", secs, MAX_ACCESS_TOKEN_SECS)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, SocketAddr};

    use app_config::AuthConfig;

    use super::*;

    fn settings() -> Settings {
        Settings::new(
            SocketAddr::from((Ipv4Addr::LOCALHOST, 3002)),
            AuthConfig::dev_defaults(),
        )
    }

    #[test]
    fn dashboard_fields_set_the_matching_settings() {
        let mut s = settings();
        apply_tenant_json(
            &mut s,
            r#"{"application": {"allowedCallbackUrls": ["http://localhost:3000/callback"],
                "allowedWebOrigins": [], "refreshTokenExpiration": {"inactivityLifetime": 60}},
                "api": {"enableRbac": false, "permissions": ["read:messages", "write:messages"]}}"#,
        )
        .expect("valid");
        assert_eq!(s.allowed_callback_urls, ["http://localhost:3000/callback"]);
        assert!(s.allowed_web_origins.is_empty());
        assert_eq!(s.lifetimes.refresh_token_idle, Duration::from_secs(60));
        assert!(!s.api.enable_rbac);
        assert_eq!(s.api.permissions, ["read:messages", "write:messages"]);
    }

    #[test]
    fn absent_url_lists_keep_the_app_origin() {
        let mut s = settings();
        apply_tenant_json(&mut s, "{}").expect("valid");
        assert_eq!(s.allowed_logout_urls, ["http://localhost:3000"]);
    }

    #[test]
    fn a_misspelt_field_is_refused() {
        let problem = apply_tenant_json(&mut settings(), r#"{"api": {"enableRBAC": true}}"#)
            .expect_err("must refuse");
        assert!(problem.contains("enableRBAC"), "{problem}");
    }

    #[test]
    fn a_relative_callback_url_is_refused() {
        let problem = apply_tenant_json(
            &mut settings(),
            r#"{"application": {"allowedCallbackUrls": ["/callback"]}}"#,
        )
        .expect_err("must refuse");
        assert!(problem.contains("allowedCallbackUrls"), "{problem}");
    }

    /// Each lifetime field with the largest value Auth0 accepts for it.
    const LIFETIME_FIELDS: [(&str, &str, u64); 4] = [
        (
            "api.tokenExpiration",
            r#"{"api": {"tokenExpiration": N}}"#,
            2_592_000,
        ),
        (
            "application.idTokenExpiration",
            r#"{"application": {"idTokenExpiration": N}}"#,
            2_592_000,
        ),
        (
            "application.refreshTokenExpiration.absoluteLifetime",
            r#"{"application": {"refreshTokenExpiration": {"absoluteLifetime": N}}}"#,
            31_557_600,
        ),
        (
            "application.refreshTokenExpiration.inactivityLifetime",
            r#"{"application": {"refreshTokenExpiration": {"inactivityLifetime": N}}}"#,
            31_557_600,
        ),
    ];

    #[test]
    fn a_lifetime_beyond_auth0s_maximum_is_refused_naming_the_field() {
        for (field, template, max) in LIFETIME_FIELDS {
            for value in [max + 1, u64::MAX] {
                let json = template.replace('N', &value.to_string());
                let problem = apply_tenant_json(&mut settings(), &json)
                    .expect_err("an overflowing lifetime must be refused");
                assert!(problem.contains(field), "{field}: {problem}");
                assert!(problem.contains(&max.to_string()), "{field}: {problem}");
            }
        }
    }

    #[test]
    fn a_lifetime_at_auth0s_maximum_is_accepted() {
        for (field, template, max) in LIFETIME_FIELDS {
            let json = template.replace('N', &max.to_string());
            assert!(apply_tenant_json(&mut settings(), &json).is_ok(), "{field}");
        }
    }

    #[test]
    fn a_zero_lifetime_is_refused() {
        let problem = apply_tenant_json(&mut settings(), r#"{"api": {"tokenExpiration": 0}}"#)
            .expect_err("must refuse");
        assert!(problem.contains("api.tokenExpiration"), "{problem}");
    }
}
