//! Liveness and readiness probes.
//!
//! `/healthz` answers as long as the process serves requests. `/readyz` answers 200 only once the
//! verifier holds usable signing keys of the main issuer, so that a load balancer does not send
//! traffic to an instance that could only answer 503, and 503 again as soon as a stop begins
//! (the drain, `crate::shutdown`), so that the balancer moves away before the listener closes.
//! A further issuer without keys does not make the API unready: every replica shares that
//! state, and taking them all out of the balancer would refuse the main issuer's users too;
//! each issuer's state is in `/metrics` (`api_issuer_ready`). Neither probe touches the DPoP
//! replay store.

use actix_web::http::header::{self, ContentType};
use actix_web::{HttpResponse, web};

use crate::shutdown::Drain;

/// `GET /healthz`.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(r#"{"status":"ok"}"#)
}

/// `GET /readyz`.
pub async fn readyz(verifier: web::Data<auth::Verifier>, drain: web::Data<Drain>) -> HttpResponse {
    if drain.is_draining() {
        return HttpResponse::ServiceUnavailable()
            .content_type(ContentType::json())
            .body(r#"{"status":"draining","reason":"shutting down"}"#);
    }
    if verifier.is_main_issuer_ready() {
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
