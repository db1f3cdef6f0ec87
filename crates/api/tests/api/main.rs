//! Integration tests: the real API on port 0 against a mock issuer (`test_support`).

mod authentication;
mod binary;
mod cors;
mod dpop;
mod helpers;
mod hostile;
mod issuer;
mod issuers;
mod redis_server;
mod routes;
mod scopes;
mod shared_store;
