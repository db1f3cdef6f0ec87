//! Liveness and readiness probes.
//!
//! `/healthz` answers as long as the process serves requests. `/readyz` answers 200 only once the
//! verifier holds usable signing keys, so that a load balancer does not send traffic to an
//! instance that could only answer 503.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, web};

/// `GET /healthz`.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(r#"{"status":"ok"}"#)
}

/// `GET /readyz`.
pub async fn readyz(verifier: web::Data<auth::Verifier>) -> HttpResponse {
    if verifier.is_ready() {
        HttpResponse::Ok()
            .content_type(ContentType::json())
            .body(r#"{"status":"ready"}"#)
    } else {
        HttpResponse::ServiceUnavailable()
            .content_type(ContentType::json())
            .insert_header((header::RETRY_AFTER, 1))
            .body(r#"{"status":"starting","reason":"signing keys not loaded yet"}"#)
    }
}
