//! Reading a request's credentials: the scheme, the access token and, for DPoP, the `DPoP` proof
//! headers.
//!
//! The `Authorization` header is parsed by `auth::authorization`, the one parser the workspace
//! has (the dev issuer's `/userinfo` uses it too). Why not actix-web-httpauth's `BearerAuth`
//! extractor: it matches the scheme case-sensitively (RFC 9110 §11.1 says schemes are
//! case-insensitive, so `bearer x` must work), silently takes the first of several
//! `Authorization` headers (RFC 6750 calls that a malformed request), cannot tell "no
//! credentials" from "empty token", and knows no DPoP. The crate's types still carry the
//! credentials: its [`Bearer`] scheme, and [`Dpop`], our implementation of its [`Scheme`] trait
//! (with [`DpopChallengeConfig`], its [`AuthExtractorConfig`]). The token is never taken from
//! the query string or body.

use std::fmt;
use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::http::header::{
    AUTHORIZATION, HeaderName, HeaderValue, InvalidHeaderValue, TryIntoHeaderValue,
};
use actix_web::{FromRequest, HttpRequest, web};
use actix_web_httpauth::extractors::AuthExtractorConfig;
use actix_web_httpauth::headers::authorization::{Bearer, ParseError, Scheme};
use auth::authorization::{AuthScheme, AuthorizationError, parse_authorization, parse_credentials};

use super::challenge::DpopChallenge;
use super::policy::DpopPolicy;
use crate::error::{ApiError, Challenges, Refusal};

/// The `DPoP` request header that carries the proof.
pub const DPOP: HeaderName = HeaderName::from_static("dpop");

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
}
