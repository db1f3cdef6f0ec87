//! Request logs and the tracing subscriber.
//!
//! tracing-actix-web's default root span records `http.target` (path *and query*, where a
//! misbehaving client may put `access_token=...`), the user agent, the client address and more,
//! and logs nothing by itself at the end of a request. [`RequestSpan`] replaces it with a span
//! holding only the method and the path (no query, never a header) and, when the response is
//! ready, one `INFO` event with the status and the latency. The same hook counts the response in
//! [`Metrics`], so each request is observed once.

use std::io::IsTerminal as _;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage as _, web};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_subscriber::EnvFilter;

use crate::metrics::Metrics;

/// Longest path written to a log line; longer ones are cut, so a hostile URL cannot flood logs.
const MAX_LOGGED_PATH: usize = 256;

/// The root span builder for [`tracing_actix_web::TracingLogger`].
#[derive(Debug, Clone, Copy)]
pub struct RequestSpan;

#[derive(Clone, Copy)]
struct RequestStart(Instant);

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        request
            .extensions_mut()
            .insert(RequestStart(Instant::now()));
        let path = request.path();
        // URI paths are ASCII, so any byte index is a char boundary; `get` keeps this panic-free.
        let path = path.get(..MAX_LOGGED_PATH).unwrap_or(path);
        tracing::info_span!("request", method = %request.method(), path = %path)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        match outcome {
            Ok(response) => {
                let status = response.status();
                let request = response.request();
                if let Some(metrics) = request.app_data::<web::Data<Metrics>>() {
                    metrics.record(request.match_name(), status);
                }
                let latency_us = request
                    .extensions()
                    .get::<RequestStart>()
                    .map(|start| start.0.elapsed().as_micros());
                tracing::info!(parent: &span, status = status.as_u16(), latency_us, "request");
            }
            Err(err) => {
                // Only reached if a layer below returns an error instead of a response; the
                // request (and so the app's counters) is no longer at hand here.
                let status = err.as_response_error().status_code();
                tracing::info!(parent: &span, status = status.as_u16(), "request");
            }
        }
    }
}

/// Installs the global subscriber: human-readable lines on stdout, level from `RUST_LOG`
/// (default `info`). Call once, from `main`.
pub fn init_subscriber() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal())
        .init();
}
