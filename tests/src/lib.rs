//! The harness of the end-to-end tests: the whole stack in-process and a real browser.
//!
//! [`stack`] starts dev issuer, API and SPA server on free loopback ports through their library
//! entry points; [`cluster`] puts several API replicas behind a real HAProxy, sharing a real
//! Redis, as `cargo make cluster` does; [`browser`] drives Debian's headless Chromium through
//! chromedriver. The scenarios themselves are in `tests/tests/browser.rs` and, through the
//! cluster, `tests/tests/cluster.rs`.

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

pub mod browser;
pub mod cluster;
pub mod stack;

/// Kills `child` and its process group (what it started), then reaps it.
fn kill_group(child: &mut std::process::Child) {
    if let Ok(pid) = i32::try_from(child.id()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}
