//! The signals that stop the API gracefully: SIGINT and SIGTERM (on Unix; Ctrl-C elsewhere).
//!
//! A handler that cannot be installed is reported at start with a WARN line naming the signal:
//! without it that signal keeps the operating system's default action, which ends the process
//! at once, with no graceful stop (in-flight requests are cut). Before, such a failure was
//! silent and showed only when a deployment's SIGTERM killed requests.

/// `result` (the installation of `signal`'s handler) as an option, with a WARN line when the
/// handler could not be installed.
pub(crate) fn installed<T>(signal: &str, result: std::io::Result<T>) -> Option<T> {
    result
        .map_err(|error| {
            tracing::warn!(
                %error,
                "cannot install the {signal} handler: {signal} will end the process at once, \
                 without a graceful stop"
            );
        })
        .ok()
}

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

/// The next delivery of a signal, or never if its handler is not installed.
#[cfg(unix)]
async fn received(stream: Option<&mut tokio::signal::unix::Signal>) {
    match stream {
        Some(stream) => {
            stream.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// The lines a subscriber wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("not poisoned").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_signal_handler_that_cannot_be_installed_is_a_warning_naming_the_signal() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let stream = tracing::subscriber::with_default(subscriber, || {
            installed::<()>("SIGTERM", Err(std::io::Error::other("no signal driver")))
        });
        assert!(stream.is_none());
        let text = String::from_utf8_lossy(&captured.0.lock().expect("not poisoned")).into_owned();
        assert!(text.contains(" WARN "), "{text}");
        assert!(
            text.contains(
                "cannot install the SIGTERM handler: SIGTERM will end the process at once"
            ),
            "{text}"
        );
        assert!(text.contains("no signal driver"), "{text}");
    }

    #[test]
    fn an_installed_handler_is_kept_without_a_warning() {
        assert_eq!(installed("SIGINT", Ok(7)), Some(7));
    }
}
