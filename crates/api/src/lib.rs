//! The protected API: an actix-web server for `/api/*`, `/healthz`, `/readyz` and `/metrics`.
//!
//! The Rust successor of the Auth0 quickstart's Express `GET /api/external`: requests to the
//! protected routes must carry an access token in `Authorization: Bearer ...`, verified by the
//! `auth` crate against the issuer's signing keys. Refusals follow RFC 6750 (see
//! [`error::ApiError`]); the routes and bodies are the contract in docs/api.md.
//!
//! Library first, so that tests start the real server in-process on port 0
//! ([`Application::from_listener`]); `main.rs` only parses settings.

pub mod authentication;
pub mod cli;
pub mod cors;
pub mod error;
pub mod log_format;
pub mod log_json;
pub mod log_writer;
pub mod metrics;
mod metrics_host;
pub mod redis_store;
pub mod replay_store;
pub mod routes;
pub mod shutdown;
mod signals;
pub mod startup;
pub mod telemetry;
pub mod verifier_config;

pub use startup::{Application, Settings, StartupError};
