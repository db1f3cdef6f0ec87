//! The dev runner's tests that share a binary: what the `dev-runner` binary refuses (`cli`).
//!
//! `dev_loop.rs` and `cluster.rs` beside this folder are test binaries of their own: each runs
//! itself again as a stand-in server, which needs a binary whose tests are only its own.

mod cli;
