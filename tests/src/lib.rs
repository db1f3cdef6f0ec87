//! The harness of the end-to-end tests: the whole stack in-process and a real browser.
//!
//! [`stack`] starts dev issuer, API and SPA server on free loopback ports through their library
//! entry points; [`browser`] drives Debian's headless Chromium through chromedriver. The
//! scenarios themselves are in `tests/tests/browser.rs`.

pub mod browser;
pub mod stack;
