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
//! - With `API_LOG_FORMAT=json` ([`LogFormat::Json`], for log collectors) each line is a JSON
//!   object (`crate::log_json`) and a request's fields are members of their own. Only then does
//!   a request get a request id: the client's `X-Request-Id` when it is well-formed (at most 64
//!   characters of `A-Z a-z 0-9 . _ -`), else one made of a per-process random prefix, a thread
//!   number and a per-thread counter (no system call, no lock); it is logged as `request_id`
//!   and echoed in the `X-Request-Id` response header. The text format's path is unchanged by
//!   it but for one relaxed load of the format flag.

use std::cell::{Cell, RefCell};
use std::future::{Future, Ready, ready};
use std::io::IsTerminal as _;
use std::pin::Pin;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::{Error, HttpRequest, web};
use pin_project_lite::pin_project;
use tracing::Level;
use tracing_subscriber::EnvFilter;

use crate::log_format::{LeanFields, LeanFormat};
use crate::log_json::{JsonFields, JsonFormat};
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
        let request_id = JSON_LINES
            .load(Ordering::Relaxed)
            .then(|| RequestId::of(&req));
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
            request_id,
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
        request_id: Option<RequestId>,
    }
}

impl<F, B> Future for LoggedResponse<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let mut outcome = {
            let _entered = this.span.enter();
            ready!(this.response.poll(cx))
        };
        match this.request_id {
            None => record(&outcome, *this.started, this.span),
            Some(id) => {
                if let Ok(response) = &mut outcome
                    && let Ok(value) = HeaderValue::from_str(id.as_str())
                {
                    response
                        .headers_mut()
                        .insert(HeaderName::from_static(REQUEST_ID_HEADER), value);
                }
                record_json(&outcome, *this.started, this.span, id);
            }
        }
        Poll::Ready(outcome)
    }
}

/// Counts a response of `status` to `request` in the app's metrics (when the app has them).
fn count(request: &HttpRequest, status: StatusCode) {
    if let Some(metrics) = request.app_data::<web::Data<Metrics>>() {
        metrics.record(request.match_name(), status);
    }
}

/// Counts `outcome` and writes its line.
fn record<B>(outcome: &Result<ServiceResponse<B>, Error>, started: Instant, span: &tracing::Span) {
    match outcome {
        Ok(response) => {
            let (request, status) = (response.request(), response.status());
            count(request, status);
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

/// Counts and logs `outcome` as the JSON format's fields, with its request id.
fn record_json<B>(
    outcome: &Result<ServiceResponse<B>, Error>,
    started: Instant,
    span: &tracing::Span,
    id: &RequestId,
) {
    let latency_us = started.elapsed().as_micros() as u64;
    match outcome {
        Ok(response) => {
            let (request, status) = (response.request(), response.status());
            count(request, status);
            tracing::info!(
                parent: span,
                request_id = id.as_str(),
                method = request.method().as_str(),
                path = logged_path(request.path()),
                status = status.as_u16(),
                latency_us,
                "request"
            );
        }
        Err(err) => {
            let status = err.as_response_error().status_code();
            tracing::info!(
                parent: span,
                request_id = id.as_str(),
                status = status.as_u16(),
                latency_us,
                "request"
            );
        }
    }
}

/// The header carrying the request id, in the request and in the response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest request id taken from a client.
const MAX_REQUEST_ID: usize = 64;

/// A request's id: the client's `X-Request-Id` if well-formed, else a fresh one.
#[derive(Debug)]
pub struct RequestId(String);

impl RequestId {
    fn of(req: &ServiceRequest) -> Self {
        let given = req
            .headers()
            .get(REQUEST_ID_HEADER)
            .and_then(|v| v.to_str().ok())
            .filter(|v| is_request_id(v));
        Self(given.map_or_else(fresh_request_id, str::to_owned))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// At most 64 characters of `A-Z a-z 0-9 . _ -`: safe in a header, a log line and a JSON
/// string without escaping.
pub fn is_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `<process prefix>-<thread number>-<count>`: unique within the process without a shared
/// counter, and across processes by the random prefix.
fn fresh_request_id() -> String {
    static PREFIX: OnceLock<String> = OnceLock::new();
    static THREADS: AtomicU64 = AtomicU64::new(0);
    thread_local! {
        static THREAD: u64 = THREADS.fetch_add(1, Ordering::Relaxed);
        static COUNT: Cell<u64> = const { Cell::new(0) };
    }
    let prefix = PREFIX.get_or_init(|| {
        // std's per-process random hash keys: no random-number crate for eight hex digits.
        use std::hash::BuildHasher as _;
        let random = std::hash::RandomState::new().hash_one(std::process::id());
        format!("{:08x}", random as u32)
    });
    let count = COUNT.with(|c| {
        let n = c.get();
        c.set(n + 1);
        n
    });
    let thread = THREAD.with(|t| *t);
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    id.push('-');
    id.push_str(itoa::Buffer::new().format(thread));
    id.push('-');
    id.push_str(itoa::Buffer::new().format(count));
    id
}

/// Whether lines are JSON (set once, by [`init_subscriber`]).
static JSON_LINES: AtomicBool = AtomicBool::new(false);

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

/// The log line format (`API_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Text lines (default): tracing-subscriber's format, coloured on a terminal.
    #[default]
    Text,
    /// One JSON object a line (`crate::log_json`), with request ids.
    Json,
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("{other:?} is not a log format")),
        }
    }
}

/// Installs the global subscriber: lines on stdout, level from `RUST_LOG` (default `info`).
/// Text: coloured by tracing-subscriber's formatter on a terminal, otherwise the same text
/// written by [`crate::log_format`], built for one line per request. JSON: one object a line
/// ([`crate::log_json`]), terminal or not. Call once, from `main`, and keep the guard until
/// exit: dropping it flushes the lines still queued.
pub fn init_subscriber(format: LogFormat) -> std::io::Result<FlushGuard> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let terminal = std::io::stdout().is_terminal();
    let (writer, guard) = line_writer(std::io::stdout())?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer);
    match format {
        LogFormat::Json => {
            JSON_LINES.store(true, Ordering::Relaxed);
            builder
                .with_ansi(false)
                .fmt_fields(JsonFields)
                .event_format(JsonFormat)
                .init();
        }
        LogFormat::Text if terminal => builder.with_ansi(true).init(),
        LogFormat::Text => builder
            .with_ansi(false)
            .fmt_fields(LeanFields)
            .event_format(LeanFormat)
            .init(),
    }
    Ok(guard)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_id_is_short_and_of_safe_characters() {
        assert!(is_request_id("abc-123_x.y"));
        assert!(is_request_id(&"a".repeat(64)));
        assert!(!is_request_id(&"a".repeat(65)));
        assert!(!is_request_id(""));
        assert!(!is_request_id("a b"));
        assert!(!is_request_id("a\"quoted\""));
    }

    #[test]
    fn fresh_request_ids_differ_and_are_well_formed() {
        let a = fresh_request_id();
        let b = fresh_request_id();
        assert_ne!(a, b);
        assert!(is_request_id(&a), "{a}");
    }

    #[test]
    fn log_formats_are_text_and_json() {
        assert_eq!("json".parse(), Ok(LogFormat::Json));
        assert_eq!("TEXT".parse(), Ok(LogFormat::Text));
        assert!("xml".parse::<LogFormat>().is_err());
    }
}
