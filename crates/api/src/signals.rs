//! The signals that stop the API gracefully: SIGINT and SIGTERM (on Unix; Ctrl-C elsewhere).
//!
//! A handler that cannot be installed is reported at start with a WARN line naming the signal:
//! without it that signal keeps the operating system's default action, which ends the process
//! at once, with no graceful stop (in-flight requests are cut). Before, such a failure was
//! silent and showed only when a deployment's SIGTERM killed requests. The rule itself lives in
//! `app_config::signals`, shared with the SPA server.

use app_config::signals::installed;
#[cfg(unix)]
use app_config::signals::received;

/// The handlers a stop listens for, installed when the server is built (so that a failure is
/// reported at start).
#[derive(Debug)]
pub(crate) struct Signals {
    #[cfg(unix)]
    interrupt: Option<tokio::signal::unix::Signal>,
    #[cfg(unix)]
    terminate: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    /// Installs the SIGINT and SIGTERM handlers. Needs a Tokio runtime.
    pub(crate) fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Self {
                interrupt: installed("SIGINT", signal(SignalKind::interrupt())),
                terminate: installed("SIGTERM", signal(SignalKind::terminate())),
            }
        }
        #[cfg(not(unix))]
        Self {}
    }

    /// The next signal whose handler is installed; its name.
    pub(crate) async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                () = received(self.interrupt.as_mut()) => "SIGINT",
                () = received(self.terminate.as_mut()) => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            if installed("Ctrl-C", tokio::signal::ctrl_c().await).is_none() {
                std::future::pending::<()>().await;
            }
            "Ctrl-C"
        }
    }
}
