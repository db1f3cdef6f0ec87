//! What the dev issuer writes to the log about the requests it serves.
//!
//! A test binary of its own: it installs a global subscriber (the server's worker threads do
//! not see a thread-local one), which a binary shared with other tests could not do.

use std::time::Duration;

use tracing_subscriber::fmt::format::FmtSpan;

use test_support::dev_issuer::{Pkce, authorize_params, spawn_app};
use test_support::{CapturedLogs, eventually};

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
    eventually(Duration::from_secs(10), || async {
        logs.text().contains("/authorize")
    })
    .await;
    let text = logs.text();
    assert!(text.contains("/authorize"), "no request line: {text}");
    for secret in ["state=", "nonce=", "code_challenge=", "redirect_uri="] {
        assert!(!text.contains(secret), "{secret} logged: {text}");
    }
}
