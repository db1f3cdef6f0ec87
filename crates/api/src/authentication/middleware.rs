//! The token middleware: actix-web-httpauth's [`HttpAuthentication`] with our validator, which
//! applies the DPoP mode, verifies the token, checks the binding and the DPoP proof, and leaves
//! the verified claims in the request extensions.
//!
//! Binding rules (RFC 9449 §7): a token with a `cnf` claim is refused when sent as Bearer (a
//! stolen bound token must not work without its key); a token without `cnf.jkt` is refused when
//! sent as DPoP. The proof's `htu` is checked against `apiOrigin` + the request path, never
//! against the `Host` header, which the client controls.

use std::cell::RefCell;
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
use auth::dpop::{PendingProof, ProofAnswer, ProofRequest};

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

/// The validator's future: ready at once when every check answers without waiting (a token
/// cached or its key at hand, and for DPoP a replay store in memory: most requests; no
/// allocation, no state machine), otherwise the rest of the check, boxed so that [`token_auth`]
/// has a nameable type.
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

/// The verified claims and, when the proof's nonce was from the previous slot, the nonce the
/// client should use next.
type Accepted = (Arc<auth::Claims>, Option<String>);

fn validator(req: ServiceRequest, credentials: AccessCredentials) -> ValidatorFuture {
    let Some((verifier, policy)) = app_parts(&req) else {
        return ValidatorFuture::Ready(Some(Err((unconfigured().into(), req))));
    };
    let scheme = credentials.scheme();
    if let Err(refusal) = admit(scheme, policy) {
        return ValidatorFuture::Ready(Some(Err((refusal.into(), req))));
    }
    let Some(token) = verifier.verify_now(credentials.token()) else {
        return ValidatorFuture::Pending(Box::pin(validate(req, credentials)));
    };
    match bind(&req, &credentials, policy, token) {
        Bound::Ready(result) => ValidatorFuture::Ready(Some(finish(req, scheme, result))),
        Bound::Record(claims, pending) => {
            let challenges = policy.challenge_for(scheme);
            ValidatorFuture::Pending(Box::pin(async move {
                let result = record(claims, pending, challenges).await;
                finish(req, scheme, result)
            }))
        }
    }
}

/// The whole check of a request whose token needs a key fetch.
async fn validate(req: ServiceRequest, credentials: AccessCredentials) -> Validated {
    let Some((verifier, policy)) = app_parts(&req) else {
        return Err((unconfigured().into(), req));
    };
    let token = verifier.verify(credentials.token()).await;
    let result = match bind(&req, &credentials, policy, token) {
        Bound::Ready(result) => result,
        Bound::Record(claims, pending) => {
            record(claims, pending, policy.challenge_for(credentials.scheme())).await
        }
    };
    finish(req, credentials.scheme(), result)
}

/// The refusal when the verifier or the DPoP policy is missing from app data.
fn unconfigured() -> ApiError {
    tracing::error!("no verifier or DPoP policy registered; refusing the request");
    ApiError::TemporarilyUnavailable {
        description: "the verifier is not configured".into(),
        retry_after: std::time::Duration::from_secs(30),
    }
}

/// The validator's answer: the request with what handlers and
/// [`ProtectedResponse`](super::ProtectedResponse) need of it, or the refusal. (The verifiers
/// already log the outcome of a refusal, never the token.)
fn finish(req: ServiceRequest, scheme: AuthScheme, result: Result<Accepted, Refusal>) -> Validated {
    match result {
        Ok((claims, next_nonce)) => {
            let mut extensions = req.extensions_mut();
            extensions.insert(VerifiedClaims::new(claims, scheme));
            if let Some(nonce) = next_nonce {
                extensions.insert(NextNonce(nonce));
            }
            drop(extensions);
            Ok(req)
        }
        Err(refusal) => Err((refusal.into(), req)),
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

/// The DPoP mode's rule, before the token is looked at: `required` refuses Bearer, `off`
/// refuses DPoP.
fn admit(scheme: AuthScheme, policy: &DpopPolicy) -> Result<(), Refusal> {
    let refusal = match (scheme, policy.mode) {
        (AuthScheme::Bearer, DpopMode::Required) => {
            "this API accepts only DPoP-bound access tokens (DPoP scheme)"
        }
        (AuthScheme::Dpop, DpopMode::Off) => {
            "the Authorization header does not use the Bearer scheme"
        }
        _ => return Ok(()),
    };
    Err(ApiError::MissingCredentials(refusal).with_challenges(policy.offer()))
}

/// What the checks after the token's come to.
enum Bound {
    /// The answer, given without waiting.
    Ready(Result<Accepted, Refusal>),
    /// A DPoP proof that passed every check but a network replay store's.
    Record(Arc<auth::Claims>, PendingProof),
}

/// The checks after the token's: its binding to the scheme and, for DPoP, the proof.
fn bind(
    req: &ServiceRequest,
    credentials: &AccessCredentials,
    policy: &DpopPolicy,
    token: Result<Arc<auth::Claims>, auth::VerifyError>,
) -> Bound {
    let refuse =
        |error: ApiError| error.with_challenges(policy.challenge_for(credentials.scheme()));
    let claims = match token {
        Ok(claims) => claims,
        Err(e) => return Bound::Ready(Err(refuse(e.into()))),
    };
    let AccessCredentials::Dpop { proofs, .. } = credentials else {
        return Bound::Ready(unbound(claims).map(|c| (c, None)).map_err(refuse));
    };
    let Some(jkt) = claims.dpop_jkt() else {
        return Bound::Ready(Err(refuse(ApiError::InvalidToken(
            "the access token is not DPoP-bound; send it with the Bearer scheme".into(),
        ))));
    };
    // One proof (every honest request) is passed without a list of its own.
    let (one, many): ([&[u8]; 1], Vec<&[u8]>);
    let proofs: &[&[u8]] = match proofs.as_slice() {
        [proof] => {
            one = [proof.as_bytes()];
            &one
        }
        _ => {
            many = proofs.iter().map(HeaderValue::as_bytes).collect();
            &many
        }
    };
    let answer = with_request_uri(&policy.api_origin, req.uri().path(), |uri| {
        policy.proofs.verify_now(&ProofRequest {
            proofs,
            method: req.method().as_str(),
            uri,
            access_token: Some(credentials.token()),
            jkt: Some(jkt),
        })
    });
    match answer {
        ProofAnswer::Ready(verified) => Bound::Ready(
            verified
                .map(|proof| (claims, proof.next_nonce))
                .map_err(|e| refuse(e.into())),
        ),
        ProofAnswer::Record(pending) => Bound::Record(claims, pending),
    }
}

/// A proof's verdict from a replay store that answers over the network.
async fn record(
    claims: Arc<auth::Claims>,
    pending: PendingProof,
    challenges: Challenges,
) -> Result<Accepted, Refusal> {
    match pending.record().await {
        Ok(proof) => Ok((claims, proof.next_nonce)),
        Err(e) => Err(ApiError::from(e).with_challenges(challenges)),
    }
}

thread_local! {
    /// The request URI a proof's `htu` is checked against, built here per request without an
    /// allocation of its own.
    static REQUEST_URI: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Runs `check` with the request's URI as the server knows itself: its public origin and
/// the path (never the `Host` header).
fn with_request_uri<T>(origin: &str, path: &str, check: impl FnOnce(&str) -> T) -> T {
    REQUEST_URI.with(|cell| match cell.try_borrow_mut() {
        Ok(mut uri) => {
            uri.clear();
            uri.push_str(origin);
            uri.push_str(path);
            check(&uri)
        }
        // Only if `check` itself came back here; never on the request path.
        Err(_) => check(&format!("{origin}{path}")),
    })
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
