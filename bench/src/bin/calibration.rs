//! The benchmark's calibration server: the HTTP ceiling of this machine for our API's answers.
//!
//! A bare actix-web handler that answers `GET /api/public` and `GET /api/external` with the same
//! JSON bodies and content type as our `api`, on the same actix-web version, features, worker
//! count (actix-web's default, as `api` uses) and release profile, but with no middleware, no
//! logging, no metrics and no token check: every request to `/api/external` is answered 200,
//! whatever its `Authorization` header. Measured with the same requests in the same run, it says
//! how much of the machine the HTTP stack alone takes, so `ours / calibration` is the share of
//! that ceiling our API reaches with everything it adds (logging, metrics, CORS, verification).
//!
//! With `CALIBRATION_DPOP_KEY` set (a P-256 public key, the uncompressed point in base64url, as
//! the runner passes for the DPoP scenario), a request carrying a `DPoP` header has that proof's
//! ES256 signature verified with it (aws-lc-rs, the key parsed once, as our API keeps it) and
//! nothing else: no claim, no replay, no token check. That row is the DPoP scenario's floor
//! measured under the same load: HTTP plus exactly one signature check per request, with the
//! scheduling that a request of that cost brings on this machine.
//!
//! Never a real server: it accepts any token. Settings: `CALIBRATION_HOST` (default 127.0.0.1),
//! `CALIBRATION_PORT` (default 3001; 0 picks a free one), `CALIBRATION_DPOP_KEY` (unset: no
//! signature check).

use std::sync::Arc;

use actix_web::http::header::ContentType;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use api::routes::{EXTERNAL_BODY, PUBLIC_BODY};
use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The key that signs the DPoP scenario's proofs, when the runner passed one.
type ProofKey = Option<Arc<ParsedPublicKey>>;

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = app_config::listen_addr("CALIBRATION", 3001, |key| std::env::var(key).ok())
        .unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let proof_key: ProofKey = std::env::var("CALIBRATION_DPOP_KEY").ok().map(|text| {
        URL_SAFE_NO_PAD
            .decode(text.trim())
            .ok()
            .and_then(|point| ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).ok())
            .map(Arc::new)
            .unwrap_or_else(|| {
                app_config::exit_on_config_error(
                    &"invalid setting CALIBRATION_DPOP_KEY: not a base64url uncompressed P-256 point; fix: pass the runner's proof key",
                )
            })
    });
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(proof_key.clone()))
            .route("/api/public", web::get().to(public))
            .route("/api/external", web::get().to(external))
    })
    .bind(listen)
    .unwrap_or_else(|e| {
        app_config::exit_on_config_error(&format!(
            "invalid setting CALIBRATION_HOST / CALIBRATION_PORT: cannot listen on {listen}: {e}; fix: choose a free port"
        ))
    });
    server.run().await
}

async fn public() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(PUBLIC_BODY)
}

async fn external(req: HttpRequest, proof_key: web::Data<ProofKey>) -> HttpResponse {
    if let (Some(key), Some(proof)) = (proof_key.as_ref(), req.headers().get("dpop"))
        && !signature_holds(key, proof.as_bytes())
    {
        return HttpResponse::Unauthorized().finish();
    }
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(EXTERNAL_BODY)
}

/// Whether `proof` (a compact JWS) carries a valid ES256 signature by `key` over its first two
/// segments.
fn signature_holds(key: &ParsedPublicKey, proof: &[u8]) -> bool {
    let Some(dot) = proof.iter().rposition(|b| *b == b'.') else {
        return false;
    };
    let (signing_input, signature) = (&proof[..dot], &proof[dot + 1..]);
    URL_SAFE_NO_PAD
        .decode(signature)
        .is_ok_and(|signature| key.verify_sig(signing_input, &signature).is_ok())
}
