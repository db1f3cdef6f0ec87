//! OpenID Connect access-token verification: discovery, a JWKS cache and a verifier.
//!
//! An API builds one [`Verifier`] at start-up and calls [`Verifier::verify`] per request.
//! Framework-free: no web framework here, so the same crate serves any HTTP stack.
//!
//! ```no_run
//! # async fn demo(issuer: url::Url, audience: String, token: &str) -> Result<(), Box<dyn std::error::Error>> {
//! let verifier = auth::Verifier::new(auth::VerifierConfig::new(issuer, vec![audience]))?;
//! let claims = verifier.verify(token).await?;
//! if claims.has_scope("read:messages") { /* ... */ }
//! # Ok(()) }
//! ```
//!
//! Layers, bottom up: [`jws`] parses a compact JWS and checks its signature against a JWK
//! (no I/O); `fetch` talks HTTP to the issuer under strict limits; `keystore` caches the key
//! set, refreshes it ahead of expiry and on rotation; `claims` checks the registered claims;
//! `token_cache` remembers tokens that already verified; [`Verifier`] ties them together.
//!
//! Beside the verifier: [`authorization`] parses the `Authorization` header (Bearer and DPoP)
//! for every server of the workspace, and [`dpop`] checks DPoP proofs (RFC 9449) for tokens
//! bound to a client key.

pub mod authorization;
mod claims;
mod clock;
mod config;
pub mod counters;
pub mod dpop;
mod error;
mod fetch;
pub mod jws;
mod key_set;
mod keystore;
mod kid_gate;
mod loopback;
mod stats;
mod token_cache;
mod untrusted;
mod verifier;

pub use claims::Claims;
pub use config::{BuildError, CacheSettings, FetchSettings, MAX_ISSUERS, VerifierConfig};
pub use error::{ErrorCode, VerifyError};
pub use jsonwebtoken::Algorithm;
pub use stats::{IssuerStats, Stats};
pub use verifier::Verifier;
