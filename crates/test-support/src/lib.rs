//! One place for the fixtures of every crate's tests: signing keys and JWK sets, a token
//! builder, a DPoP client key and proof builder, a mock OpenID Connect issuer, the servers on
//! port 0, bounded waiting, header readers and the development configuration.
//!
//! A test reads as the scenario it checks: `let app = spawn_app().await;`,
//! `app.token().claim("scope", "openid").sign()`, `key.proof("GET", url).token(&token).sign()`.
//!
//! This crate never depends on `auth`: signatures, RFC 7638 thumbprints and `ath` are computed
//! here by hand ([`jose`]), so the tests stay an independent reading of the RFCs. The servers
//! are behind features (`api`, `spa-server`, `dev-issuer`), so a crate's tests compile only
//! the servers they start.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a failed fixture is a failed test

pub mod config;
pub mod dpop;
pub mod headers;
pub mod issuer;
pub mod jose;
pub mod keys;
pub mod logs;
pub mod responses;
pub mod token;
pub mod wait;

#[cfg(feature = "api")]
pub mod api;
#[cfg(feature = "dev-issuer")]
pub mod dev_issuer;
#[cfg(feature = "spa-server")]
pub mod spa_server;

pub use config::{
    API_ORIGIN, APP_ORIGIN, AUDIENCE, CLIENT_ID, config_for, config_with_origins, dev_config,
};
pub use dpop::{ClientKey, Proof};
pub use headers::{header, header_list, header_values};
pub use issuer::{Behaviour, MockIssuer, requests_received};
pub use jose::{ath, b64, b64_json, claims_of, header_of, now, sha256_b64, thumbprint};
pub use keys::{KEYS, SigningKey, jwks};
pub use logs::CapturedLogs;
pub use responses::{json_body, send};
pub use token::{TokenBuilder, access_claims};
pub use wait::{eventually, until_received};

/// An HTTP client for tests: never follows redirects (a test asserts them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}

/// A browser-like HTTP client: a cookie store, and redirects not followed.
pub fn browser_client() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("an HTTP client")
}
