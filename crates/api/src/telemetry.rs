//! Request logs and the tracing subscriber.
//!
//! [`RequestLog`] is the API's request middleware: when the response is ready it emits one
//! `INFO` event with the method, the path (never the query, never a header), the status and the
//! latency, and counts the response in [`Metrics`], so each request is observed once.
//!
//! It stays on under load, so it is built to be cheap (each choice measured; the numbers are in
//! docs/performance.md):
//! - Hand-written (a `Transform` with a future of its own, no boxing) instead of tracing-actix-web's
//!   `TracingLogger`, which gives every request a random request id (one `getrandom` system call
//!   each), an `Instrumented` span wrapper and a request-extension insert for the start time; we
//!   use none of them, and its default root span would record the query string, where a
//!   misbehaving client may put `access_token=...`.
//! - The line's values are written by hand into a buffer per thread and handed to tracing as
//!   the event's message (`request method=GET path=/api/public status=200 latency_us=41`), with
//!   `crate::log_format`'s vectorised escaping scan and hand-padded microseconds: less than half
//!   the work of `format_args!` (a `dyn Write` call and an escaping scan per piece, padding logic
//!   per number).
//! - The per-request span is at `DEBUG`: at the default level it is disabled and costs a cached
//!   level check; turn it on to give nested events their request context.
//! - Off a terminal the line is formatted by `crate::log_format` (the default format's text for
//!   less work) and handed to `crate::log_writer`, a buffer per thread that a background thread
//!   writes out every few milliseconds: a slow terminal or pipe never stalls a worker (lines are
//!   dropped and counted instead), and logging wakes up no thread per line.

use std::cell::RefCell;
use std::future::{Future, Ready, ready};
use std::io::IsTerminal as _;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, web};
use pin_project_lite::pin_project;
use tracing::Level;
use tracing_subscriber::EnvFilter;

use crate::log_format::{LeanFields, LeanFormat};
use crate::log_writer::{FlushGuard, line_writer};
use crate::metrics::Metrics;

/// Longest path written to a log line; longer ones are cut, so a hostile URL cannot flood logs.
const MAX_LOGGED_PATH: usize = 256;

/// The request middleware: one `INFO` line and one metrics count per request.
///
/// A `Transform` of its own rather than `actix_web::middleware::from_fn`, which boxes two
/// futures per request (the middleware's and the inner service's); [`LoggedResponse`] wraps the
/// inner future in place.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestLog;

impl<S, B> Transform<S, ServiceRequest> for RequestLog
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestLogMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestLogMiddleware { service }))
    }
}

/// The service [`RequestLog`] makes.
#[derive(Debug)]
pub struct RequestLogMiddleware<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for RequestLogMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = LoggedResponse<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let span = tracing::debug_span!(
            "request",
            method = %req.method(),
            path = %logged_path(req.path())
        );
        let response = {
            let _entered = span.enter();
            self.service.call(req)
        };
        LoggedResponse {
            response,
            started,
            span,
        }
    }
}

pin_project! {
    /// The inner service's answer, logged and counted when it is ready.
    #[derive(Debug)]
    pub struct LoggedResponse<F> {
        #[pin]
        response: F,
        started: Instant,
        span: tracing::Span,
    }
}

impl<F, B> Future for LoggedResponse<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let outcome = {
            let _entered = this.span.enter();
            ready!(this.response.poll(cx))
        };
        record(&outcome, *this.started, this.span);
        Poll::Ready(outcome)
    }
}

/// Counts `outcome` and writes its line.
fn record<B>(outcome: &Result<ServiceResponse<B>, Error>, started: Instant, span: &tracing::Span) {
    match outcome {
        Ok(response) => {
            let status = response.status();
            let request = response.request();
            if let Some(metrics) = request.app_data::<web::Data<Metrics>>() {
                metrics.record(request.match_name(), status);
            }
            if tracing::enabled!(Level::INFO) {
                let latency_us = started.elapsed().as_micros();
                REQUEST_LINE.with_borrow_mut(|line| {
                    write_request_line(line, request.method(), request.path(), status, latency_us);
                    tracing::info!(parent: span, message = line.as_str());
                });
            }
        }
        Err(err) => {
            // Only reached if a layer below returns an error instead of a response; the
            // request (and so the app's counters) is no longer at hand here.
            let status = err.as_response_error().status_code();
            tracing::info!(parent: span, "request status={}", status.as_u16());
        }
    }
}

thread_local! {
    /// The request line being written, kept per thread so that a line allocates nothing.
    static REQUEST_LINE: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Writes the request line's text into `line` (replacing what it held):
/// `request method=GET path=/api/public status=200 latency_us=41`.
///
/// By hand rather than with `format_args!`: the formatting machinery (a `dyn Write` call per
/// piece, padding logic per number) took more instructions than the rest of the line's path.
fn write_request_line(
    line: &mut String,
    method: &Method,
    path: &str,
    status: StatusCode,
    latency_us: u128,
) {
    line.clear();
    line.push_str("request method=");
    line.push_str(method.as_str());
    line.push_str(" path=");
    line.push_str(logged_path(path));
    line.push_str(" status=");
    line.push_str(itoa::Buffer::new().format(status.as_u16()));
    line.push_str(" latency_us=");
    line.push_str(itoa::Buffer::new().format(latency_us));
}

/// URI paths are ASCII, so any byte index is a char boundary; `get` keeps this panic-free.
fn logged_path(path: &str) -> &str {
    path.get(..MAX_LOGGED_PATH).unwrap_or(path)
}

/// Installs the global subscriber: lines on stdout, level from `RUST_LOG` (default `info`);
/// coloured by tracing-subscriber's formatter on a terminal, otherwise the same text written by
/// [`crate::log_format`], built for one line per request. Call once, from `main`, and keep the
/// guard until exit: dropping it flushes the lines still queued.
pub fn init_subscriber() -> std::io::Result<FlushGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stdout().is_terminal();
    let (writer, guard) = line_writer(std::io::stdout())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    if terminal {
        builder.with_ansi(true).init();
    } else {
        builder
            .with_ansi(false)
            .fmt_fields(LeanFields)
            .event_format(LeanFormat)
            .init();
    }
    Ok(guard)
}
