//! What wraps every response: the path screen, security headers, caching and the request log.
//!
//! These live in one place so that every answer — files, the generated config, the fallback
//! shell, 404s and 400s — carries the same headers; a header set only in some handlers is a
//! header an attacker can route around.

use std::time::Instant;

use actix_web::{
    Error, HttpResponse,
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::header::{self, HeaderValue},
    middleware::{DefaultHeaders, Next},
};
use app_config::AuthConfig;

use crate::paths;

/// The Content-Security-Policy for the app: its own origin, plus the issuer (silent-auth frame,
/// token endpoint, profile pictures) and the API (fetch). Nothing inline, no `eval`, no workers
/// (the SDK only starts a worker for refresh tokens kept in memory, which the SPA does not use),
/// and no one may frame the app.
pub fn content_security_policy(config: &AuthConfig) -> String {
    let issuer = config.issuer_origin();
    let api = &config.api_origin;
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: {issuer}; \
         connect-src 'self' {issuer} {api}; frame-src {issuer}; frame-ancestors 'none'; \
         base-uri 'none'; form-action 'self'; object-src 'none'; manifest-src 'self'"
    )
}

/// Headers added to every response that does not set its own.
pub fn security_headers(csp: &str) -> Result<DefaultHeaders, header::InvalidHeaderValue> {
    Ok(DefaultHeaders::new()
        .add((header::CONTENT_SECURITY_POLICY, HeaderValue::from_str(csp)?))
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        // The callback URL carries `code` and `state`; no referrer means they never leak to
        // another origin through a Referer header.
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add(("Cross-Origin-Opener-Policy", "same-origin")))
}

/// Refuses traversal attempts and hidden paths before anything touches the file system.
pub async fn screen_paths(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if let Some(status) = paths::screen(req.uri().path()) {
        let res = HttpResponse::build(status)
            .content_type("text/plain; charset=utf-8")
            .body(status.canonical_reason().unwrap_or("refused"));
        return Ok(req.into_response(res).map_into_right_body());
    }
    next.call(req)
        .await
        .map(ServiceResponse::map_into_left_body)
}

/// Every response must be revalidated before reuse: none of our URLs is fingerprinted, so a
/// cached `index.html`, module or `auth_config.json` could mix an old and a new release. The
/// ETag / Last-Modified that actix-files sends make the revalidation a cheap 304.
pub async fn revalidate_always(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut res = next.call(req).await?;
    if !res.headers().contains_key(header::CACHE_CONTROL) {
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    }
    Ok(res)
}

/// One log line per request: method, path, status, time.
///
/// Hand-written rather than `tracing-actix-web` because that crate records the query string,
/// and on the OAuth callback the query holds the authorization code. Only the path is logged;
/// no header is ever logged.
pub async fn log_request(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.path().to_owned();
    let res = next.call(req).await;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    match &res {
        Ok(r) => tracing::info!(
            %method,
            %path,
            status = r.status().as_u16(),
            elapsed_ms,
            "request"
        ),
        Err(e) => tracing::warn!(%method, %path, error = %e, elapsed_ms, "request failed"),
    }
    res
}
