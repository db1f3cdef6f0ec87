//! Bearer-token authentication for the protected routes, on top of actix-web-httpauth.
//!
//! The flow per request: [`BearerToken`] reads the credentials from the `Authorization` header,
//! [`bearer_auth`] (an actix-web-httpauth [`HttpAuthentication`] middleware) hands the token to
//! [`auth::Verifier`] and stores the verified claims in the request extensions, and handlers ask
//! for them through the [`Claims`] and [`RequireScope`] extractors. Every refusal is an
//! [`ApiError`], turned into an RFC 6750 response in one place (`crate::error`).
//!
//! Why our own credential extractor instead of actix-web-httpauth's `BearerAuth`: that one matches
//! the scheme case-sensitively (RFC 9110 §11.1 says schemes are case-insensitive, so `bearer x`
//! must work), silently takes the first of several `Authorization` headers (RFC 6750 calls that a
//! malformed request) and cannot tell "no credentials" from "empty token". The token is never
//! taken from the query string or body.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::dev::{Payload, ServiceRequest};
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use actix_web_httpauth::headers::authorization::Bearer;
use actix_web_httpauth::middleware::HttpAuthentication;

use crate::error::ApiError;

/// The bearer token of a request, read from its single `Authorization` header.
///
/// Holds actix-web-httpauth's [`Bearer`] credentials, whose `Debug` hides the token.
#[derive(Debug, Clone)]
pub struct BearerToken(Bearer);

impl BearerToken {
    /// The bare token, without the scheme.
    pub fn token(&self) -> &str {
        self.0.token()
    }

    /// Parses the credentials of `req`. Pure header work: no allocation but the token copy.
    pub fn from_headers(req: &HttpRequest) -> Result<Self, ApiError> {
        let mut values = req.headers().get_all(AUTHORIZATION);
        let Some(value) = values.next() else {
            return Err(missing_credentials(req));
        };
        if values.next().is_some() {
            return Err(ApiError::InvalidRequest(
                "more than one Authorization header",
            ));
        }
        let bytes = value.as_bytes();
        let (scheme, rest) = match bytes.iter().position(|&b| b == b' ') {
            Some(space) => (&bytes[..space], &bytes[space + 1..]),
            None => (bytes, &b""[..]),
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            return Err(ApiError::MissingCredentials(
                "the Authorization header does not use the Bearer scheme",
            ));
        }
        let token = rest.trim_ascii();
        if token.is_empty() {
            return Err(ApiError::InvalidRequest("empty bearer token"));
        }
        // RFC 6750 §2.1 b64token; every JWS compact serialization fits it. Checking here keeps
        // binary junk away from the verifier and lets us borrow the bytes as a str.
        if !is_b64token(token) {
            return Err(ApiError::InvalidToken("malformed token".into()));
        }
        let token = std::str::from_utf8(token)
            .map_err(|_| ApiError::InvalidToken("malformed token".into()))?;
        Ok(Self(Bearer::new(token.to_owned())))
    }
}

fn is_b64token(token: &[u8]) -> bool {
    let body_end = token
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |last| last + 1);
    body_end > 0 && token[..body_end].iter().all(|&b| B64TOKEN[usize::from(b)])
}

/// Which bytes may appear in a b64token before its `=` padding. A table, because this scan runs
/// over every token on every protected request.
const B64TOKEN: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] =
            c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
        b += 1;
    }
    table
};

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
        "an access token is required in the Authorization header (Bearer scheme)"
    })
}

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::from_headers(req))
    }
}

/// The actix-web-httpauth middleware that guards a resource: verifies the bearer token with the
/// app's [`auth::Verifier`] and stores the claims for [`Claims`] and [`RequireScope`].
///
/// The verifier comes from app data (registered by `startup`); if it is missing the request is
/// refused as temporarily unavailable rather than let through.
pub fn bearer_auth() -> HttpAuthentication<BearerToken, Validator> {
    HttpAuthentication::with_fn(boxed_validate as Validator)
}

/// The validator's future; boxed so that [`bearer_auth`] has a nameable type.
pub type ValidatorFuture =
    Pin<Box<dyn Future<Output = Result<ServiceRequest, (actix_web::Error, ServiceRequest)>>>>;

/// The validator [`bearer_auth`] runs.
pub type Validator = fn(ServiceRequest, BearerToken) -> ValidatorFuture;

fn boxed_validate(req: ServiceRequest, token: BearerToken) -> ValidatorFuture {
    Box::pin(validate(req, token))
}

async fn validate(
    req: ServiceRequest,
    token: BearerToken,
) -> Result<ServiceRequest, (actix_web::Error, ServiceRequest)> {
    let Some(verifier) = req.app_data::<web::Data<auth::Verifier>>().cloned() else {
        tracing::error!("no verifier registered; refusing the request");
        let err = ApiError::TemporarilyUnavailable {
            description: "the verifier is not configured".into(),
            retry_after: std::time::Duration::from_secs(30),
        };
        return Err((err.into(), req));
    };
    match verifier.verify(token.token()).await {
        Ok(claims) => {
            req.extensions_mut().insert(Claims(Rc::new(claims)));
            Ok(req)
        }
        // The verifier already logs the outcome of a refusal (never the token).
        Err(err) => Err((ApiError::from(err).into(), req)),
    }
}

/// The verified claims of the request's access token, for handlers behind [`bearer_auth`].
///
/// Extraction fails closed: on a route without the middleware there are no claims, and the
/// request is refused as unauthenticated.
#[derive(Debug, Clone)]
pub struct Claims(Rc<auth::Claims>);

impl Deref for Claims {
    type Target = auth::Claims;

    fn deref(&self) -> &auth::Claims {
        &self.0
    }
}

impl Claims {
    fn of(req: &HttpRequest) -> Result<Self, ApiError> {
        req.extensions()
            .get::<Self>()
            .cloned()
            .ok_or(ApiError::MissingCredentials(
                "an access token is required in the Authorization header (Bearer scheme)",
            ))
    }
}

impl FromRequest for Claims {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

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

/// Extractor that admits the request only if its verified token holds scope `S`; otherwise 403
/// `insufficient_scope` (or 401 if there are no claims at all). Declaring it in a handler's
/// signature is the whole scope check.
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
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Claims::of(req).and_then(|claims| {
            if claims.has_scope(S::NAME) {
                Ok(Self {
                    claims,
                    _scope: PhantomData,
                })
            } else {
                Err(ApiError::InsufficientScope { scope: S::NAME })
            }
        }))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn parse(values: &[&[u8]]) -> Result<String, ApiError> {
        let mut req = TestRequest::get().uri("/api/external");
        for v in values {
            req = req.append_header((
                AUTHORIZATION,
                actix_web::http::header::HeaderValue::from_bytes(v).expect("valid header value"),
            ));
        }
        BearerToken::from_headers(&req.to_http_request()).map(|t| t.token().to_owned())
    }

    #[test]
    fn scheme_is_matched_case_insensitively() {
        for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
            let value = format!("{scheme} abc.def.ghi");
            assert_eq!(parse(&[value.as_bytes()]).as_deref(), Ok("abc.def.ghi"));
        }
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
    fn scheme_alone_or_blank_token_is_invalid_request() {
        for value in [&b"Bearer"[..], b"Bearer ", b"bearer    "] {
            assert_eq!(
                parse(&[value]),
                Err(ApiError::InvalidRequest("empty bearer token"))
            );
        }
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
    fn non_b64token_bytes_are_invalid_token() {
        for value in [
            &b"Bearer a b"[..],
            b"Bearer \xff\xfe",
            b"Bearer a\"b",
            b"Bearer ===",
        ] {
            assert_eq!(
                parse(&[value]),
                Err(ApiError::InvalidToken("malformed token".into()))
            );
        }
    }

    #[test]
    fn trailing_padding_is_a_valid_b64token() {
        assert_eq!(parse(&[b"Bearer abc=="]).as_deref(), Ok("abc=="));
    }

    #[test]
    fn debug_output_hides_the_token() {
        let req = TestRequest::get()
            .append_header((AUTHORIZATION, "Bearer secret-token"))
            .to_http_request();
        let token = BearerToken::from_headers(&req).expect("valid");
        assert!(!format!("{token:?}").contains("secret-token"));
    }
}
