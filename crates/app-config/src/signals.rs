//! Installing the handlers of the signals that stop a server gracefully (SIGINT, SIGTERM), shared
//! by the API and the SPA server.
//!
//! A handler that cannot be installed is reported at start with a WARN line naming the signal:
//! without it that signal keeps the operating system's default action, which ends the process
//! at once, with no graceful stop (in-flight requests are cut).

/// `result` (the installation of `signal`'s handler) as an option, with a WARN line when the
/// handler could not be installed.
pub fn installed<T>(signal: &str, result: std::io::Result<T>) -> Option<T> {
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

/// The next delivery of a signal, or never if its handler is not installed.
#[cfg(unix)]
pub async fn received(stream: Option<&mut tokio::signal::unix::Signal>) {
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
            self.0.lock().expect("not poisoned").write(buf)
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
