//! What the dev issuer writes to the log about the requests it serves.
//!
//! A test binary of its own: it installs a global subscriber (the server's worker threads do
//! not see a thread-local one), which a binary shared with other tests could not do.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::fmt::format::FmtSpan;

use test_support::dev_issuer::{Pkce, authorize_params, spawn_app};

/// Every log line written while it is installed, at every level.
#[derive(Clone, Default)]
struct CapturedLogs(Arc<Mutex<Vec<u8>>>);

impl CapturedLogs {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("not poisoned")).into_owned()
    }
}

impl Write for CapturedLogs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for CapturedLogs {
    type Writer = Self;
    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tokio::test]
async fn the_request_log_records_the_path_without_the_query() {
    let logs = CapturedLogs::default();
    tracing_subscriber::fmt()
        .with_writer(logs.clone())
        // INFO: the request span's level (a client's DEBUG lines would name the URL it asked for).
        .with_max_level(tracing::Level::INFO)
        // The request span's fields, written when it closes: what every line logged while
        // serving the request carries.
        .with_span_events(FmtSpan::CLOSE)
        .with_ansi(false)
        .init();
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let response = app.authorize(&authorize_params(&pkce)).await;
    assert_eq!(response.status(), 200);
    // The span closes once the response is sent: wait for its line, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !logs.text().contains("/authorize") && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let text = logs.text();
    assert!(text.contains("/authorize"), "no request line: {text}");
    for secret in ["state=", "nonce=", "code_challenge=", "redirect_uri="] {
        assert!(!text.contains(secret), "{secret} logged: {text}");
    }
}
