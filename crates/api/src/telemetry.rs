//! Request logs and the tracing subscriber.
//!
//! tracing-actix-web's default root span records `http.target` (path *and query*, where a
//! misbehaving client may put `access_token=...`), the user agent, the client address and more,
//! and logs nothing by itself at the end of a request. [`RequestSpan`] replaces it: when the
//! response is ready it emits one `INFO` event with the method, the path (never the query, never
//! a header), the status and the latency, and counts the response in [`Metrics`], so each
//! request is observed once.
//!
//! Cheap by design, because it stays on under load: the per-request span is at `DEBUG` (so at the
//! default level it is disabled and costs a cached level check; turn it on to give nested events
//! their request context), and lines are written by a background thread
//! ([`tracing_appender::non_blocking`]) so a slow terminal or pipe never stalls a worker; if that
//! thread falls behind by more than its buffer, lines are dropped rather than requests delayed.

use std::io::IsTerminal as _;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{Error, HttpMessage as _, web};
use tracing::Span;
use tracing_actix_web::RootSpanBuilder;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
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
        tracing::debug_span!("request", method = %request.method(), path = %logged_path(request.path()))
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
                tracing::info!(
                    parent: &span,
                    method = %request.method(),
                    path = %logged_path(request.path()),
                    status = status.as_u16(),
                    latency_us,
                    "request"
                );
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

/// URI paths are ASCII, so any byte index is a char boundary; `get` keeps this panic-free.
fn logged_path(path: &str) -> &str {
    path.get(..MAX_LOGGED_PATH).unwrap_or(path)
}

/// Installs the global subscriber: human-readable lines on stdout, level from `RUST_LOG`
/// (default `info`). Call once, from `main`, and keep the guard until exit: dropping it flushes
/// the lines still queued.
#[must_use = "dropping the guard stops the log writer"]
pub fn init_subscriber() -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::stdout().is_terminal();
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .finish(std::io::stdout());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(writer)
        .init();
    guard
}
