//! `GET /metrics`: Prometheus text exposition (see `crate::metrics`).

use actix_web::{HttpResponse, web};

use crate::authentication::DpopPolicy;
use crate::metrics::Metrics;
use crate::replay_store::CountedStore;
use crate::shutdown::Drain;

/// The content type of the Prometheus text format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`.
pub async fn metrics(
    metrics: web::Data<Metrics>,
    verifier: web::Data<auth::Verifier>,
    dpop: web::Data<DpopPolicy>,
    replay_store: web::Data<CountedStore>,
    drain: web::Data<Drain>,
) -> HttpResponse {
    let ready = verifier.is_main_issuer_ready() && !drain.is_draining();
    let mut body = metrics.render(&verifier.stats(), ready);
    crate::metrics::render_dpop(&mut body, &dpop.proofs().stats());
    crate::metrics::render_replay_checks(&mut body, &replay_store.stats());
    HttpResponse::Ok().content_type(CONTENT_TYPE).body(body)
}
