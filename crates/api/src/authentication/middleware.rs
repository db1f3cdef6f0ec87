//! The token middleware: actix-web-httpauth's [`HttpAuthentication`] with our validator, which
//! applies the DPoP mode, verifies the token, checks the binding and the DPoP proof, and leaves
//! the verified claims in the request extensions.
//!
//! Binding rules (RFC 9449 §7): a token with a `cnf` claim is refused when sent as Bearer (a
//! stolen bound token must not work without its key); a token without `cnf.jkt` is refused when
//! sent as DPoP. The proof's `htu` is checked against `apiOrigin` + the request path, never
//! against the `Host` header, which the client controls.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::dev::ServiceRequest;
use actix_web::http::header::HeaderValue;
use actix_web::{HttpMessage, web};
use actix_web_httpauth::middleware::HttpAuthentication;
use auth::authorization::AuthScheme;
use auth::dpop::ProofRequest;

use super::credentials::AccessCredentials;
use super::extractors::VerifiedClaims;
use super::policy::{DpopMode, DpopPolicy};
use super::response::NextNonce;
use crate::error::{ApiError, Challenges, Refusal};

/// The actix-web-httpauth middleware that guards a resource: applies the DPoP mode, verifies
/// the token with the app's [`auth::Verifier`], checks the DPoP proof of bound tokens, and
/// stores the claims for [`VerifiedClaims`] and [`RequireScope`](super::RequireScope).
///
/// The verifier and the DPoP policy come from app data (registered by `startup`); if either is
/// missing the request is refused as temporarily unavailable rather than let through.
pub fn token_auth() -> HttpAuthentication<AccessCredentials, Validator> {
    HttpAuthentication::with_fn(validator as Validator)
}

/// What the validator answers with.
type Validated = Result<ServiceRequest, (actix_web::Error, ServiceRequest)>;

/// The validator's future: ready at once when the verifier answers a Bearer token without
/// waiting (cached, or its key at hand: most requests; no allocation, no state machine),
/// otherwise the whole check, boxed so that [`token_auth`] has a nameable type.
pub enum ValidatorFuture {
    /// Answered without waiting; `None` once taken.
    Ready(Option<Validated>),
    /// The whole check.
    Pending(Pin<Box<dyn Future<Output = Validated>>>),
}

impl fmt::Debug for ValidatorFuture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Ready(_) => "ValidatorFuture::Ready",
            Self::Pending(_) => "ValidatorFuture::Pending",
        })
    }
}

impl Future for ValidatorFuture {
    type Output = Validated;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Validated> {
        match self.get_mut() {
            // Polled again after its answer (a contract breach): stay pending, never panic.
            Self::Ready(answer) => answer.take().map_or(Poll::Pending, Poll::Ready),
            Self::Pending(check) => check.as_mut().poll(cx),
        }
    }
}

/// The validator [`token_auth`] runs.
pub type Validator = fn(ServiceRequest, AccessCredentials) -> ValidatorFuture;

fn validator(req: ServiceRequest, credentials: AccessCredentials) -> ValidatorFuture {
    match check_now(&req, &credentials) {
        Some(Ok(claims)) => {
            let claims = VerifiedClaims::new(claims, AuthScheme::Bearer);
            accept(&req, claims, None);
            ValidatorFuture::Ready(Some(Ok(req)))
        }
        Some(Err(refusal)) => ValidatorFuture::Ready(Some(Err((refusal.into(), req)))),
        None => ValidatorFuture::Pending(Box::pin(validate(req, credentials))),
    }
}

/// Stores what handlers and [`ProtectedResponse`](super::ProtectedResponse) need of an
/// accepted request.
fn accept(req: &ServiceRequest, claims: VerifiedClaims, next_nonce: Option<String>) {
    let mut extensions = req.extensions_mut();
    extensions.insert(claims);
    if let Some(nonce) = next_nonce {
        extensions.insert(NextNonce(nonce));
    }
}

/// The verifier and the DPoP policy, borrowed from app data (a clone per request would write
/// the shared reference counts, a cache line every worker thread contends for).
fn app_parts(req: &ServiceRequest) -> Option<(&auth::Verifier, &DpopPolicy)> {
    Some((
        req.app_data::<web::Data<auth::Verifier>>()?,
        req.app_data::<web::Data<DpopPolicy>>()?,
    ))
}

/// The checks of a Bearer token the verifier answers without waiting: mode, token, binding.
/// `None` for everything else (DPoP, a token whose key needs a fetch, missing app
/// data, a mode that refuses Bearer), which [`validate`] checks in full.
fn check_now(
    req: &ServiceRequest,
    credentials: &AccessCredentials,
) -> Option<Result<Arc<auth::Claims>, Refusal>> {
    let AccessCredentials::Bearer(bearer) = credentials else {
        return None;
    };
    let (verifier, policy) = app_parts(req)?;
    if policy.mode == DpopMode::Required {
        return None;
    }
    let answer = verifier.verify_now(bearer.token())?;
    // What `check` answers a Bearer request with (`DpopPolicy::challenge_for`).
    let refuse = |error: ApiError| error.with_challenges(Challenges::Bearer);
    Some(
        answer
            .map_err(|e| refuse(e.into()))
            .and_then(|claims| unbound(claims).map_err(refuse)),
    )
}

/// A Bearer token's claims, refused if the token is DPoP-bound (RFC 9449 §7).
fn unbound(claims: Arc<auth::Claims>) -> Result<Arc<auth::Claims>, ApiError> {
    if claims.is_bound() {
        return Err(ApiError::InvalidToken(
            "a DPoP-bound access token must be sent with the DPoP scheme and a proof".into(),
        ));
    }
    Ok(claims)
}

async fn validate(req: ServiceRequest, credentials: AccessCredentials) -> Validated {
    let Some((verifier, policy)) = app_parts(&req) else {
        tracing::error!("no verifier or DPoP policy registered; refusing the request");
        let err = ApiError::TemporarilyUnavailable {
            description: "the verifier is not configured".into(),
            retry_after: std::time::Duration::from_secs(30),
        };
        return Err((err.into(), req));
    };
    match check(&req, &credentials, verifier, policy).await {
        Ok((claims, next_nonce)) => {
            let scheme = credentials.scheme();
            let claims = VerifiedClaims::new(claims, scheme);
            accept(&req, claims, next_nonce);
            Ok(req)
        }
        // The verifiers already log the outcome of a refusal (never the token).
        Err(refusal) => Err((refusal.into(), req)),
    }
}

/// The checks, in order: mode, token, binding, proof.
async fn check(
    req: &ServiceRequest,
    credentials: &AccessCredentials,
    verifier: &auth::Verifier,
    policy: &DpopPolicy,
) -> Result<(Arc<auth::Claims>, Option<String>), Refusal> {
    let scheme = credentials.scheme();
    let refuse = |error: ApiError| error.with_challenges(policy.challenge_for(scheme));
    match (scheme, policy.mode) {
        (AuthScheme::Bearer, DpopMode::Required) => {
            return Err(ApiError::MissingCredentials(
                "this API accepts only DPoP-bound access tokens (DPoP scheme)",
            )
            .with_challenges(policy.offer()));
        }
        (AuthScheme::Dpop, DpopMode::Off) => {
            return Err(ApiError::MissingCredentials(
                "the Authorization header does not use the Bearer scheme",
            )
            .with_challenges(policy.offer()));
        }
        _ => {}
    }
    let claims = verifier
        .verify(credentials.token())
        .await
        .map_err(|e| refuse(e.into()))?;
    match credentials {
        AccessCredentials::Bearer(_) => Ok((unbound(claims).map_err(refuse)?, None)),
        AccessCredentials::Dpop { proofs, .. } => {
            let Some(jkt) = claims.dpop_jkt() else {
                return Err(refuse(ApiError::InvalidToken(
                    "the access token is not DPoP-bound; send it with the Bearer scheme".into(),
                )));
            };
            let proofs: Vec<&[u8]> = proofs.iter().map(HeaderValue::as_bytes).collect();
            let uri = format!("{}{}", policy.api_origin, req.uri().path());
            // Boxed: the proof check's state would otherwise make every request's validator
            // future (allocated per request, Bearer ones included) too big for the allocator's
            // per-thread cache.
            let verified = Box::pin(policy.proofs.verify(&ProofRequest {
                proofs: &proofs,
                method: req.method().as_str(),
                uri: &uri,
                access_token: Some(credentials.token()),
                jkt: Some(jkt),
            }))
            .await
            .map_err(|e| refuse(e.into()))?;
            Ok((claims, verified.next_nonce))
        }
    }
}
