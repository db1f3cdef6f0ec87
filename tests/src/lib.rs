//! The harness of the end-to-end tests: the whole stack in-process and a real browser.
//!
//! [`stack`] starts dev issuer, API and SPA server on free loopback ports through their library
//! entry points; [`cluster`] puts several API replicas behind a real HAProxy, sharing a real
//! Redis, as `cargo make cluster` does; [`browser`] drives Debian's headless Chromium through
//! chromedriver. The scenarios themselves are in `tests/tests/browser.rs` and, through the
//! cluster, `tests/tests/cluster.rs`.

pub mod browser;
pub mod cluster;
pub mod stack;
