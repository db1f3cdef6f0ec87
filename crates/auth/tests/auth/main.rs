//! Integration tests of the `auth` crate against a local issuer on loopback.
//!
//! One test binary (faster to build and link than one per file); one module per area.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

mod claims;
mod dpop;
mod fetching;
mod header_rules;
mod helpers;
mod issuers;
mod key_cache;
mod key_parsing;
mod properties;
mod token_cache;
mod wycheproof;
