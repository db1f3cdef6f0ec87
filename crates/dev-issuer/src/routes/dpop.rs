//! DPoP proofs at the issuer's own endpoints (RFC 9449 §5 at `/oauth/token`, §7 at
//! `/userinfo`), checked by the `auth` crate's proof verifier with the issuer's clock.
//!
//! The proof's `htu` is the endpoint under the issuer's base URL for the domain the request came
//! through: one of the configured domains, which the `Host` check selected, never a URL built
//! from an unchecked `Host` header.

use actix_web::HttpRequest;
use actix_web::http::StatusCode;
use actix_web::http::header::HeaderValue;
use auth::dpop::ProofRequest;

use crate::error::OAuthError;
use crate::issuer::Issuer;

/// Whether the request carries any `DPoP` header.
pub(crate) fn has_proof(req: &HttpRequest) -> bool {
    req.headers().contains_key("dpop")
}

/// Checks the request's DPoP proof for the endpoint at `uri` and returns its key's thumbprint. `access_token`
/// is the token presented with it (at `/userinfo`), `jkt` the key it must be made with.
/// Refusals use `status` (400 at the token endpoint, 401 at `/userinfo`).
pub(crate) async fn verify_proof(
    req: &HttpRequest,
    issuer: &Issuer,
    uri: &str,
    access_token: Option<&str>,
    jkt: Option<&str>,
    status: StatusCode,
) -> Result<String, OAuthError> {
    let proofs: Vec<&[u8]> = req
        .headers()
        .get_all("dpop")
        .map(HeaderValue::as_bytes)
        .collect();
    issuer
        .dpop()
        .verify_at(
            &ProofRequest {
                proofs: &proofs,
                method: req.method().as_str(),
                uri,
                access_token,
                jkt,
            },
            issuer.now() as f64,
        )
        .await
        .map(|verified| verified.jkt)
        .map_err(|err| OAuthError::dpop(status, &err))
}
