//! The request span: tracing-actix-web's logger with a span of our own, so that what it records
//! is the path and never the query string, which here holds `state`, `nonce`, `code_challenge`,
//! `redirect_uri` and, from the SDK, `login_hint` or `id_token_hint`.
//!
//! The default span builder records `http.target` as path + query. Ours records the same fields
//! minus the query (and minus the user agent and client address, which a local issuer does not
//! need); the end of the request is recorded by the default builder (status, error details).

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RootSpanBuilder};

/// The [`RootSpanBuilder`] of the dev issuer's `TracingLogger`.
pub(crate) struct PathOnlySpan;

impl RootSpanBuilder for PathOnlySpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let route = request.match_pattern().unwrap_or_default();
        tracing::info_span!(
            "HTTP request",
            http.method = %request.method(),
            http.route = %route,
            http.target = %request.path(),
            http.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
            exception.message = tracing::field::Empty,
            exception.details = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}
