//! Integration tests for the SPA server: one binary, one module per behaviour area.
//! Every test starts its own server on port 0 (`test_support::spa_server`).

mod assets;
mod auth_config;
mod dev_reload;
mod fallback;
mod headers;
mod helpers;
mod real_frontend;
mod startup;
mod traversal;
