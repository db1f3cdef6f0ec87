//! Access-token authentication for the protected routes, Bearer and DPoP, on top of
//! actix-web-httpauth.
//!
//! The flow per request: [`AccessCredentials`] reads the credentials (the scheme, the token and,
//! for DPoP, the `DPoP` proof headers); [`token_auth`] (an actix-web-httpauth
//! [`HttpAuthentication`] middleware) applies the API's [`DpopMode`], hands the token to
//! [`auth::Verifier`], checks the DPoP proof with [`auth::dpop::ProofVerifier`] for bound tokens,
//! and stores the verified claims in the request extensions; handlers ask for them through the
//! [`Claims`] and [`RequireScope`] extractors. Every refusal is a [`Refusal`]: an [`ApiError`]
//! with the challenges to send, turned into an RFC 6750 / RFC 9449 response in one place
//! (`crate::error`).
//!
//! The `Authorization` header is parsed by `auth::authorization`, the one parser the workspace
//! has (the dev issuer's `/userinfo` uses it too). Why not actix-web-httpauth's `BearerAuth`
//! extractor: it matches the scheme case-sensitively (RFC 9110 §11.1 says schemes are
//! case-insensitive, so `bearer x` must work), silently takes the first of several
//! `Authorization` headers (RFC 6750 calls that a malformed request), cannot tell "no
//! credentials" from "empty token", and knows no DPoP. The crate's types still carry the
//! credentials: its [`Bearer`] scheme, and [`Dpop`], our implementation of its [`Scheme`] trait.
//! The token is never taken from the query string or body.
//!
//! Binding rules (RFC 9449 §7): a token with a `cnf` claim is refused when sent as Bearer (a
//! stolen bound token must not work without its key); a token without `cnf.jkt` is refused when
//! sent as DPoP. The proof's `htu` is checked against `apiOrigin` + the request path, never
//! against the `Host` header, which the client controls.

use std::fmt;
use std::future::{Future, Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{
    AUTHORIZATION, CACHE_CONTROL, HeaderName, HeaderValue, InvalidHeaderValue, TryIntoHeaderValue,
};
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use actix_web_httpauth::extractors::AuthExtractorConfig;
use actix_web_httpauth::headers::authorization::{Bearer, ParseError, Scheme};
use actix_web_httpauth::middleware::HttpAuthentication;
use auth::authorization::{AuthScheme, AuthorizationError, parse_authorization, parse_credentials};
use auth::dpop::{ProofRequest, ProofVerifier};
use pin_project_lite::pin_project;

use crate::error::{ApiError, Challenges, DPOP_NONCE, DpopChallenge, Refusal};

/// The `DPoP` request header that carries the proof.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");

/// Which schemes the API accepts (`API_DPOP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Bearer for unbound tokens, DPoP for bound ones (the default).
    #[default]
    Allowed,
    /// DPoP only: Bearer requests are refused with the DPoP challenge.
    Required,
    /// Bearer only: the DPoP scheme is refused as an unsupported scheme.
    Off,
}

impl std::str::FromStr for DpopMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "allowed" => Ok(Self::Allowed),
            "required" => Ok(Self::Required),
            "off" => Ok(Self::Off),
            other => Err(format!(
                "{other:?} is not a DPoP mode; use allowed, required or off"
            )),
        }
    }
}

/// The DPoP side of authentication, registered as app data by `startup`.
#[derive(Debug, Clone)]
pub struct DpopPolicy {
    mode: DpopMode,
    proofs: ProofVerifier,
    /// The API's public origin (`apiOrigin`), the base of every proof's expected `htu`.
    api_origin: Arc<str>,
    algs: Arc<str>,
}

impl DpopPolicy {
    /// A policy for `mode`, checking proofs with `proofs` against `api_origin` + path.
    pub fn new(mode: DpopMode, proofs: ProofVerifier, api_origin: &str) -> Self {
        Self {
            mode,
            algs: proofs.algorithms_text().into(),
            proofs,
            api_origin: api_origin.trim_end_matches('/').into(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> DpopMode {
        self.mode
    }

    /// The proof verifier (for its counters).
    pub fn proofs(&self) -> &ProofVerifier {
        &self.proofs
    }

    /// The challenges for a request without usable credentials.
    fn offer(&self) -> Challenges {
        match self.mode {
            DpopMode::Off => Challenges::Bearer,
            DpopMode::Allowed => Challenges::BearerAndDpop {
                algs: self.algs.clone(),
            },
            DpopMode::Required => Challenges::Dpop {
                algs: self.algs.clone(),
            },
        }
    }

    /// The challenge for a refusal of a request that used `scheme`.
    fn challenge_for(&self, scheme: AuthScheme) -> Challenges {
        match scheme {
            AuthScheme::Bearer => Challenges::Bearer,
            AuthScheme::Dpop => Challenges::Dpop {
                algs: self.algs.clone(),
            },
        }
    }
}

/// The DPoP counterpart of actix-web-httpauth's [`Bearer`]: the access token of an
/// `Authorization: DPoP <token>` header, parsed by the shared `auth::authorization` rules.
///
/// `Debug` and `Display` hide the token.
#[derive(Clone, PartialEq, Eq)]
pub struct Dpop {
    token: String,
}

impl Dpop {
    /// Credentials for `token`.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            token: token.into(),
        }
    }

    /// The bare token, without the scheme.
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl fmt::Debug for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Dpop(<redacted>)")
    }
}

impl fmt::Display for Dpop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DPoP <redacted>")
    }
}

impl TryIntoHeaderValue for Dpop {
    type Error = InvalidHeaderValue;

    fn try_into_value(self) -> Result<HeaderValue, Self::Error> {
        HeaderValue::from_str(&format!("DPoP {}", self.token))
    }
}

impl Scheme for Dpop {
    fn parse(header: &HeaderValue) -> Result<Self, ParseError> {
        match parse_credentials(header.as_bytes()) {
            Ok(credentials) if credentials.scheme == AuthScheme::Dpop => {
                Ok(Self::new(credentials.token))
            }
            Ok(_) | Err(AuthorizationError::UnsupportedScheme) => Err(ParseError::MissingScheme),
            Err(_) => Err(ParseError::Invalid),
        }
    }
}

/// What a DPoP challenge is made from: the accepted proof algorithms. actix-web-httpauth's
/// config trait, so that the challenge is built the way the crate builds its own.
#[derive(Debug, Clone)]
pub struct DpopChallengeConfig {
    algs: Arc<str>,
}

impl DpopChallengeConfig {
    /// The challenge config for the proof algorithms `algs` (space-separated).
    pub fn new(algs: &str) -> Self {
        Self { algs: algs.into() }
    }
}

impl AuthExtractorConfig for DpopChallengeConfig {
    type Inner = DpopChallenge;

    fn into_inner(self) -> DpopChallenge {
        DpopChallenge::offer(&self.algs)
    }
}

/// The credentials of a request: its single `Authorization` header and, for DPoP, every `DPoP`
/// header value (the proof verifier insists on exactly one).
#[derive(Debug, Clone)]
pub enum AccessCredentials {
    /// `Authorization: Bearer <token>`.
    Bearer(Bearer),
    /// `Authorization: DPoP <token>` with its proofs.
    Dpop {
        /// The token.
        credentials: Dpop,
        /// The `DPoP` header values.
        proofs: Vec<HeaderValue>,
    },
}

impl AccessCredentials {
    /// The scheme used.
    pub fn scheme(&self) -> AuthScheme {
        match self {
            Self::Bearer(_) => AuthScheme::Bearer,
            Self::Dpop { .. } => AuthScheme::Dpop,
        }
    }

    /// The bare access token.
    pub fn token(&self) -> &str {
        match self {
            Self::Bearer(bearer) => bearer.token(),
            Self::Dpop { credentials, .. } => credentials.token(),
        }
    }

    /// Parses the credentials of `req`. Pure header work: no allocation but the token copy.
    pub fn from_headers(req: &HttpRequest) -> Result<Self, ApiError> {
        let values = req
            .headers()
            .get_all(AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        let credentials = parse_authorization(values).map_err(|err| match err {
            AuthorizationError::Missing => missing_credentials(req),
            AuthorizationError::Repeated => {
                ApiError::InvalidRequest("more than one Authorization header")
            }
            AuthorizationError::UnsupportedScheme => ApiError::MissingCredentials(
                "the Authorization header does not use the Bearer or DPoP scheme",
            ),
            AuthorizationError::EmptyToken(AuthScheme::Bearer) => {
                ApiError::InvalidRequest("empty bearer token")
            }
            AuthorizationError::EmptyToken(AuthScheme::Dpop) => {
                ApiError::InvalidRequest("empty DPoP token")
            }
            AuthorizationError::MalformedToken(_) => {
                ApiError::InvalidToken("malformed token".into())
            }
        })?;
        Ok(match credentials.scheme {
            AuthScheme::Bearer => Self::Bearer(Bearer::new(credentials.token.to_owned())),
            AuthScheme::Dpop => Self::Dpop {
                credentials: Dpop::new(credentials.token),
                proofs: req.headers().get_all(DPOP).cloned().collect(),
            },
        })
    }

    /// The scheme the refusal of a failed parse is addressed to: the scheme the header named,
    /// if any.
    fn attempted_scheme(req: &HttpRequest) -> Option<AuthScheme> {
        let value = req.headers().get(AUTHORIZATION)?.as_bytes();
        match parse_credentials(value) {
            Ok(c) => Some(c.scheme),
            Err(AuthorizationError::EmptyToken(s) | AuthorizationError::MalformedToken(s)) => {
                Some(s)
            }
            Err(_) => None,
        }
    }
}

/// The refusal for a request without usable credentials; says so when a client tried the query
/// string (RFC 6750 §2.3), which we never accept because URLs end up in logs and histories.
fn missing_credentials(req: &HttpRequest) -> ApiError {
    let in_query = req
        .query_string()
        .split('&')
        .any(|pair| pair.split('=').next() == Some("access_token"));
    ApiError::MissingCredentials(if in_query {
        "access tokens are accepted only in the Authorization header, not in the query string"
    } else {
        "an access token is required in the Authorization header"
    })
}

impl FromRequest for AccessCredentials {
    type Error = Refusal;
    type Future = Ready<Result<Self, Refusal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::from_headers(req).map_err(|error| {
            let challenges = match req.app_data::<web::Data<DpopPolicy>>() {
                None => Challenges::Bearer,
                Some(policy) => match (&error, Self::attempted_scheme(req)) {
                    (ApiError::MissingCredentials(_), _) | (_, None) => policy.offer(),
                    (_, Some(scheme)) => policy.challenge_for(scheme),
                },
            };
            error.with_challenges(challenges)
        }))
    }
}

/// The actix-web-httpauth middleware that guards a resource: applies the DPoP mode, verifies
/// the token with the app's [`auth::Verifier`], checks the DPoP proof of bound tokens, and
/// stores the claims for [`Claims`] and [`RequireScope`].
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
            let claims = Claims {
                claims,
                scheme: AuthScheme::Bearer,
                challenges: Challenges::Bearer,
            };
            accept(&req, claims, None);
            ValidatorFuture::Ready(Some(Ok(req)))
        }
        Some(Err(refusal)) => ValidatorFuture::Ready(Some(Err((refusal.into(), req)))),
        None => ValidatorFuture::Pending(Box::pin(validate(req, credentials))),
    }
}

/// A fresh server nonce the client should switch to, sent in `DPoP-Nonce` on the response.
#[derive(Debug, Clone)]
struct NextNonce(String);

/// Stores what handlers and [`ProtectedResponse`] need of an accepted request.
fn accept(req: &ServiceRequest, claims: Claims, next_nonce: Option<String>) {
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
            let claims = Claims {
                claims,
                scheme,
                challenges: policy.challenge_for(scheme),
            };
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

/// Middleware around the protected resources, for what their answers carry besides the body:
/// - `Cache-Control: no-store`: an answer is for the token holder alone and may carry user
///   data, so no cache may store it (RFC 9111 §5.2.2.5). Refusals set it themselves
///   (`crate::error`) and are left alone;
/// - `DPoP-Nonce`, the next server nonce, when the client's proof used the previous one, so it
///   switches before that expires (actix-web-httpauth's validator sees only the request).
///
/// One layer for both, and a `Transform` of its own rather than
/// `actix_web::middleware::from_fn`, which boxes two futures per request. It sits inside
/// [`token_auth`], right around the handler: it sees only authenticated requests (a refusal
/// never reaches it and sets its own headers).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProtectedResponse;

impl<S, B> Transform<S, ServiceRequest> for ProtectedResponse
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = ProtectedResponseMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ProtectedResponseMiddleware { service }))
    }
}

/// The service [`ProtectedResponse`] makes.
#[derive(Debug)]
pub struct ProtectedResponseMiddleware<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for ProtectedResponseMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = ProtectedAnswer<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        ProtectedAnswer {
            answer: self.service.call(req),
        }
    }
}

pin_project! {
    /// The inner answer, given its headers when it is ready.
    #[derive(Debug)]
    pub struct ProtectedAnswer<F> {
        #[pin]
        answer: F,
    }
}

impl<F, B> Future for ProtectedAnswer<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let response = ready!(self.project().answer.poll(cx));
        Poll::Ready(response.map(protect))
    }
}

fn protect<B>(mut response: ServiceResponse<B>) -> ServiceResponse<B> {
    let nonce = response.request().extensions_mut().remove::<NextNonce>();
    let headers = response.headers_mut();
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(NextNonce(nonce)) = nonce
        && let Ok(value) = HeaderValue::from_str(&nonce)
    {
        headers.insert(HeaderName::from_static(DPOP_NONCE), value);
    }
    response
}

/// The verified claims of the request's access token, for handlers behind [`token_auth`].
///
/// Extraction fails closed: on a route without the middleware there are no claims, and the
/// request is refused as unauthenticated.
#[derive(Debug, Clone)]
pub struct Claims {
    claims: Arc<auth::Claims>,
    scheme: AuthScheme,
    challenges: Challenges,
}

impl Deref for Claims {
    type Target = auth::Claims;

    fn deref(&self) -> &auth::Claims {
        &self.claims
    }
}

impl Claims {
    /// The scheme the token came with (`Bearer` or `DPoP`).
    pub fn scheme(&self) -> AuthScheme {
        self.scheme
    }

    fn of(req: &HttpRequest) -> Result<Self, Refusal> {
        req.extensions().get::<Self>().cloned().ok_or_else(|| {
            ApiError::MissingCredentials("an access token is required in the Authorization header")
                .with_challenges(Challenges::Bearer)
        })
    }
}

impl FromRequest for Claims {
    type Error = Refusal;
    type Future = Ready<Result<Self, Refusal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::of(req))
    }
}

/// A scope a route can demand through [`RequireScope`].
pub trait Scope {
    /// The scope value, as it appears in the token's `scope` claim.
    const NAME: &'static str;
}

/// The `read:messages` scope of `/api/private-scoped`.
#[derive(Debug, Clone, Copy)]
pub struct ReadMessages;

impl Scope for ReadMessages {
    const NAME: &'static str = "read:messages";
}

/// Extractor that admits the request only if its verified token holds scope `S` in its `scope`
/// claim or in Auth0's RBAC `permissions` claim (the `access_token_authz` dialect); otherwise
/// 403 `insufficient_scope` (or 401 if there are no claims at all). Declaring it in a
/// handler's signature is the whole scope check.
#[derive(Debug, Clone)]
pub struct RequireScope<S: Scope> {
    claims: Claims,
    _scope: PhantomData<S>,
}

impl<S: Scope> RequireScope<S> {
    /// The verified claims.
    pub fn claims(&self) -> &Claims {
        &self.claims
    }
}

impl<S: Scope> FromRequest for RequireScope<S> {
    type Error = Refusal;
    type Future = Ready<Result<Self, Refusal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Claims::of(req).and_then(|claims| {
            if claims.has_scope(S::NAME) || claims.has_permission(S::NAME) {
                Ok(Self {
                    claims,
                    _scope: PhantomData,
                })
            } else {
                let challenges = claims.challenges.clone();
                Err(ApiError::InsufficientScope { scope: S::NAME }.with_challenges(challenges))
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn request(authorization: &[&[u8]], proofs: &[&str]) -> HttpRequest {
        let mut req = TestRequest::get().uri("/api/external");
        for v in authorization {
            req = req.append_header((
                AUTHORIZATION,
                HeaderValue::from_bytes(v).expect("valid header value"),
            ));
        }
        for p in proofs {
            req = req.append_header((DPOP, *p));
        }
        req.to_http_request()
    }

    fn parse(values: &[&[u8]]) -> Result<String, ApiError> {
        AccessCredentials::from_headers(&request(values, &[])).map(|c| c.token().to_owned())
    }

    #[test]
    fn bearer_and_dpop_schemes_are_read_case_insensitively() {
        for (value, scheme) in [
            ("bEaReR abc.def.ghi", AuthScheme::Bearer),
            ("dpop abc.def.ghi", AuthScheme::Dpop),
        ] {
            let c =
                AccessCredentials::from_headers(&request(&[value.as_bytes()], &[])).expect("valid");
            assert_eq!((c.scheme(), c.token()), (scheme, "abc.def.ghi"));
        }
    }

    #[test]
    fn dpop_credentials_carry_every_proof_header() {
        let c =
            AccessCredentials::from_headers(&request(&[b"DPoP t"], &["p1", "p2"])).expect("valid");
        let AccessCredentials::Dpop { proofs, .. } = c else {
            panic!("DPoP credentials expected");
        };
        assert_eq!(proofs.len(), 2);
    }

    #[test]
    fn no_header_is_missing_credentials() {
        assert!(matches!(parse(&[]), Err(ApiError::MissingCredentials(_))));
    }

    #[test]
    fn other_scheme_is_missing_credentials() {
        assert!(matches!(
            parse(&[b"Basic dXNlcjpwYXNz"]),
            Err(ApiError::MissingCredentials(_))
        ));
    }

    #[test]
    fn blank_token_is_invalid_request_naming_the_scheme() {
        assert_eq!(
            parse(&[b"Bearer "]),
            Err(ApiError::InvalidRequest("empty bearer token"))
        );
        assert_eq!(
            parse(&[b"DPoP "]),
            Err(ApiError::InvalidRequest("empty DPoP token"))
        );
    }

    #[test]
    fn two_headers_are_invalid_request() {
        assert_eq!(
            parse(&[b"Bearer a", b"Bearer b"]),
            Err(ApiError::InvalidRequest(
                "more than one Authorization header"
            ))
        );
    }

    #[test]
    fn invalid_utf8_is_invalid_token() {
        assert_eq!(
            parse(&[b"Bearer a\xffb"]),
            Err(ApiError::InvalidToken("malformed token".into()))
        );
    }

    #[test]
    fn dpop_scheme_parses_only_the_dpop_scheme() {
        let dpop = Dpop::parse(&HeaderValue::from_static("dpop abc")).expect("valid");
        assert_eq!(dpop.token(), "abc");
        assert!(matches!(
            Dpop::parse(&HeaderValue::from_static("Bearer abc")),
            Err(ParseError::MissingScheme)
        ));
        assert!(matches!(
            Dpop::parse(&HeaderValue::from_static("DPoP ")),
            Err(ParseError::Invalid)
        ));
        assert!(matches!(
            Dpop::parse(&HeaderValue::from_bytes(b"DPoP a\xffb").expect("obs-text")),
            Err(ParseError::Invalid)
        ));
    }

    #[test]
    fn debug_and_display_hide_the_token() {
        let req = request(&[b"Bearer secret-token"], &[]);
        let bearer = AccessCredentials::from_headers(&req).expect("valid");
        assert!(!format!("{bearer:?}").contains("secret-token"));
        let dpop = Dpop::new("secret-token");
        assert!(!format!("{dpop:?} {dpop}").contains("secret-token"));
    }

    #[test]
    fn dpop_config_builds_the_offer_challenge() {
        let challenge = DpopChallengeConfig::new("ES256 PS256").into_inner();
        assert_eq!(challenge.to_string(), r#"DPoP algs="ES256 PS256""#);
    }

    #[test]
    fn modes_parse_case_insensitively_and_refuse_others() {
        assert_eq!("Required".parse(), Ok(DpopMode::Required));
        assert_eq!("off".parse(), Ok(DpopMode::Off));
        assert_eq!(" allowed ".parse(), Ok(DpopMode::Allowed));
        assert!("on".parse::<DpopMode>().is_err());
    }
}
