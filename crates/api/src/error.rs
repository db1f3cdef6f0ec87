//! The one place where a failed request becomes an HTTP response.
//!
//! Every authentication or authorization failure is an [`ApiError`]; its [`ResponseError`] impl
//! gives the RFC 6750 §3 status, the `WWW-Authenticate: Bearer realm="api", ...` challenge and the
//! JSON body `{"error": ..., "error_description": ...}`. Handlers, extractors and the
//! authentication middleware only return `ApiError`s, so statuses live next to the error, not in
//! handlers.
//!
//! With DPoP (RFC 9449) the challenge depends on the scheme the client used and on the API's
//! DPoP mode: a [`Refusal`] is an `ApiError` plus the [`Challenges`] to send. A request that used
//! DPoP is answered with `WWW-Authenticate: DPoP algs="...", error=...`; a request without
//! usable credentials gets every scheme the API accepts (`Bearer` and/or `DPoP`). The challenges
//! themselves are rendered in `crate::authentication::challenge`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use actix_web_httpauth::headers::www_authenticate::WwwAuthenticate;

use crate::authentication::challenge::{BearerChallenge, ChallengeParams, DpopChallenge};

/// Why a request to a protected route was refused.
///
/// Descriptions are fixed strings or come from `auth::VerifyError::description`, which never
/// contains token bytes; nothing here echoes the request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// No `Authorization` header, or one with a scheme other than Bearer (RFC 6750 §3.1: the
    /// challenge then carries no error code).
    #[error("{0}")]
    MissingCredentials(&'static str),
    /// The request is malformed: an empty token or several `Authorization` headers.
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The token failed verification; the description says why, safely.
    #[error("{0}")]
    InvalidToken(Cow<'static, str>),
    /// The token is valid but lacks `scope`.
    #[error("the access token lacks the scope {scope}")]
    InsufficientScope {
        /// The scope the route needs.
        scope: &'static str,
    },
    /// The issuer's signing keys cannot be had right now (or DPoP proofs cannot be checked for
    /// replay).
    #[error("{description}")]
    TemporarilyUnavailable {
        /// Safe description from `auth`.
        description: Cow<'static, str>,
        /// How long the client should wait.
        retry_after: Duration,
    },
    /// The DPoP proof's key holds as many replay-store slots as one key may: this client only
    /// is refused until its oldest proof expires (429, no challenge: the credentials are fine).
    #[error("{description}")]
    TooManyRequests {
        /// Safe description from `auth`.
        description: Cow<'static, str>,
        /// How long the client should wait.
        retry_after: Duration,
    },
    /// The DPoP proof failed a check (RFC 9449 §7.1).
    #[error("{0}")]
    InvalidDpopProof(Cow<'static, str>),
    /// Server nonces are on and the proof lacks the current nonce (RFC 9449 §9).
    #[error("{description}")]
    UseDpopNonce {
        /// The nonce to send in `DPoP-Nonce`.
        nonce: String,
        /// Safe description from `auth`.
        description: Cow<'static, str>,
    },
}

/// The JSON `error` member for [`ApiError::MissingCredentials`].
///
/// RFC 6750 §3.1 says a request without credentials gets no error code in the challenge, but our
/// bodies always carry an `error` member so that clients can branch on one field; this value is
/// deliberately not one of the RFC codes.
pub const MISSING_CREDENTIALS_ERROR: &str = "unauthorized";

impl ApiError {
    /// The `error` value: an RFC 6750 code, or [`MISSING_CREDENTIALS_ERROR`].
    pub fn error_code(&self) -> &'static str {
        match self {
            Self::MissingCredentials(_) => MISSING_CREDENTIALS_ERROR,
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidToken(_) => "invalid_token",
            Self::InsufficientScope { .. } => "insufficient_scope",
            Self::TemporarilyUnavailable { .. } => "temporarily_unavailable",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::InvalidDpopProof(_) => "invalid_dpop_proof",
            Self::UseDpopNonce { .. } => "use_dpop_nonce",
        }
    }

    /// The auth-params of the challenge: `error`, `error_description`, `scope`.
    fn params(&self) -> ChallengeParams {
        match self {
            Self::MissingCredentials(_) => ChallengeParams::default(),
            Self::InsufficientScope { scope } => ChallengeParams {
                error: Some(self.error_code()),
                description: Some(self.to_string()),
                scope: Some(scope),
            },
            _ => ChallengeParams {
                error: Some(self.error_code()),
                description: Some(self.to_string()),
                scope: None,
            },
        }
    }

    fn challenge(&self) -> BearerChallenge {
        BearerChallenge::new(self.params())
    }

    /// This error, answered with `challenges`.
    pub fn with_challenges(self, challenges: Challenges) -> Refusal {
        Refusal {
            error: self,
            challenges,
        }
    }
}

impl From<auth::dpop::DpopError> for ApiError {
    fn from(err: auth::dpop::DpopError) -> Self {
        let description = err.description().into();
        match err.code() {
            auth::dpop::DpopErrorCode::UseDpopNonce => Self::UseDpopNonce {
                nonce: err.nonce().unwrap_or_default().to_owned(),
                description,
            },
            auth::dpop::DpopErrorCode::TemporarilyUnavailable => Self::TemporarilyUnavailable {
                description,
                retry_after: err.retry_after().unwrap_or(DEFAULT_RETRY_AFTER),
            },
            auth::dpop::DpopErrorCode::TooManyRequests => Self::TooManyRequests {
                description,
                retry_after: err.retry_after().unwrap_or(DEFAULT_RETRY_AFTER),
            },
            auth::dpop::DpopErrorCode::InvalidDpopProof => Self::InvalidDpopProof(description),
        }
    }
}

/// Which `WWW-Authenticate` challenges a refusal carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenges {
    /// `Bearer realm="api", ...`: the request used Bearer, or the API accepts only Bearer.
    Bearer,
    /// `DPoP algs="...", ...`: the request used DPoP, or the API requires it.
    Dpop {
        /// The proof algorithms, space-separated.
        algs: Arc<str>,
    },
    /// Both, Bearer first: a request without credentials to an API that accepts either.
    BearerAndDpop {
        /// The proof algorithms, space-separated.
        algs: Arc<str>,
    },
}

/// An [`ApiError`] with the challenges to answer it with: what the DPoP-aware authentication
/// middleware returns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}")]
pub struct Refusal {
    /// What went wrong.
    pub error: ApiError,
    /// How the client is told to authenticate.
    pub challenges: Challenges,
}

impl ResponseError for Refusal {
    fn status_code(&self) -> StatusCode {
        self.error.status_code()
    }

    fn error_response(&self) -> HttpResponse {
        let params = self.error.params();
        let mut response = HttpResponse::build(self.status_code());
        if matches!(self.error, ApiError::TooManyRequests { .. }) {
            return finish(&self.error, response);
        }
        match &self.challenges {
            Challenges::Bearer => {
                response.insert_header(WwwAuthenticate(BearerChallenge::new(params)));
            }
            Challenges::Dpop { algs } => {
                response.insert_header(WwwAuthenticate(DpopChallenge::new(algs, params)));
            }
            Challenges::BearerAndDpop { algs } => {
                response
                    .insert_header(WwwAuthenticate(BearerChallenge::new(params.clone())))
                    .append_header(WwwAuthenticate(DpopChallenge::new(algs, params)));
            }
        }
        finish(&self.error, response)
    }
}

impl From<auth::VerifyError> for ApiError {
    fn from(err: auth::VerifyError) -> Self {
        match err.code() {
            auth::ErrorCode::TemporarilyUnavailable => Self::TemporarilyUnavailable {
                description: err.description().into(),
                retry_after: err.retry_after().unwrap_or(DEFAULT_RETRY_AFTER),
            },
            auth::ErrorCode::InvalidToken => Self::InvalidToken(err.description().into()),
        }
    }
}

/// `Retry-After` when `auth` gives none.
const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(5);

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::MissingCredentials(_)
            | Self::InvalidToken(_)
            | Self::InvalidDpopProof(_)
            | Self::UseDpopNonce { .. } => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::TemporarilyUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        if !matches!(self, Self::TooManyRequests { .. }) {
            response.insert_header(WwwAuthenticate(self.challenge()));
        }
        finish(self, response)
    }
}

/// The parts of a refusal every challenge shares: `Cache-Control`, `Retry-After`, `DPoP-Nonce`
/// and the JSON body.
fn finish(error: &ApiError, mut response: actix_web::HttpResponseBuilder) -> HttpResponse {
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    match error {
        ApiError::TemporarilyUnavailable { retry_after, .. }
        | ApiError::TooManyRequests { retry_after, .. } => {
            // Whole seconds, rounded up, at least one: a client must never be told "retry now".
            let secs = retry_after
                .as_secs()
                .saturating_add(u64::from(retry_after.subsec_nanos() > 0))
                .max(1);
            response.insert_header((header::RETRY_AFTER, secs));
        }
        ApiError::UseDpopNonce { nonce, .. } => {
            // The nonce is ours (base64url), so it is always a valid header value; if it were
            // not, the client gets the refusal without it rather than a 500.
            if let Ok(value) = HeaderValue::from_str(nonce) {
                response.insert_header((DPOP_NONCE, value));
            }
        }
        _ => {}
    }
    let description = error.to_string();
    response.json(ErrorBody {
        error: error.error_code(),
        error_description: &description,
    })
}

/// The `DPoP-Nonce` response header (RFC 9449 §8.1).
pub const DPOP_NONCE: &str = "dpop-nonce";

#[cfg(test)]
mod tests {
    use actix_web::http::header::TryIntoHeaderValue;

    use super::*;

    #[test]
    fn missing_credentials_challenge_has_only_the_realm() {
        let err = ApiError::MissingCredentials("x");
        assert_eq!(err.challenge().to_string(), r#"Bearer realm="api""#);
    }

    #[test]
    fn challenge_parameters_are_comma_separated() {
        let err = ApiError::InvalidToken("token expired".into());
        assert_eq!(
            err.challenge().to_string(),
            r#"Bearer realm="api", error="invalid_token", error_description="token expired""#
        );
    }

    #[test]
    fn insufficient_scope_challenge_names_the_scope() {
        let err = ApiError::InsufficientScope {
            scope: "read:messages",
        };
        assert_eq!(
            err.challenge().to_string(),
            r#"Bearer realm="api", error="insufficient_scope", error_description="the access token lacks the scope read:messages", scope="read:messages""#
        );
    }

    #[test]
    fn quotes_backslashes_and_control_characters_cannot_break_the_header() {
        let err = ApiError::InvalidToken("a\"b\\c\nd\u{e9}".into());
        let value = err
            .challenge()
            .try_into_value()
            .expect("always a valid header value");
        assert_eq!(
            value.to_str().expect("ascii"),
            r#"Bearer realm="api", error="invalid_token", error_description="a\"b\\c?d?""#
        );
    }

    fn header_values(response: &HttpResponse, name: header::HeaderName) -> Vec<String> {
        response
            .headers()
            .get_all(name)
            .map(|v| v.to_str().expect("ascii").to_owned())
            .collect()
    }

    #[test]
    fn dpop_challenge_carries_algs_then_the_error_parameters() {
        let refusal = ApiError::InvalidDpopProof("DPoP proof is too old".into()).with_challenges(
            Challenges::Dpop {
                algs: "ES256 PS256".into(),
            },
        );
        assert_eq!(
            header_values(&refusal.error_response(), header::WWW_AUTHENTICATE),
            [
                r#"DPoP algs="ES256 PS256", error="invalid_dpop_proof", error_description="DPoP proof is too old""#
            ]
        );
    }

    #[test]
    fn missing_credentials_can_offer_both_schemes_bearer_first() {
        let refusal =
            ApiError::MissingCredentials("x").with_challenges(Challenges::BearerAndDpop {
                algs: "ES256".into(),
            });
        assert_eq!(
            header_values(&refusal.error_response(), header::WWW_AUTHENTICATE),
            [r#"Bearer realm="api""#, r#"DPoP algs="ES256""#]
        );
    }

    #[test]
    fn use_dpop_nonce_sends_the_nonce_header() {
        let refusal = ApiError::UseDpopNonce {
            nonce: "abc_-1".into(),
            description: "a fresh DPoP nonce is required".into(),
        }
        .with_challenges(Challenges::Dpop {
            algs: "ES256".into(),
        });
        let response = refusal.error_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            header_values(&response, header::HeaderName::from_static(DPOP_NONCE)),
            ["abc_-1"]
        );
    }

    #[test]
    fn a_nonce_that_is_not_a_header_value_is_left_out_not_a_500() {
        let refusal = ApiError::UseDpopNonce {
            nonce: "bad\nnonce".into(),
            description: "x".into(),
        }
        .with_challenges(Challenges::Bearer);
        let response = refusal.error_response();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        assert!(!response.headers().contains_key(DPOP_NONCE));
    }

    /// The answer to signing keys unavailable for `retry_after`.
    fn unavailable_for(retry_after: Duration) -> HttpResponse {
        let err = ApiError::TemporarilyUnavailable {
            description: "signing keys unavailable".into(),
            retry_after,
        };
        err.error_response()
    }

    fn retry_after(response: &HttpResponse) -> Option<&[u8]> {
        let value = response.headers().get(header::RETRY_AFTER);
        value.map(HeaderValue::as_bytes)
    }

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        let response = unavailable_for(Duration::from_millis(1500));
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(retry_after(&response), Some(&b"2"[..]));
    }

    #[test]
    fn zero_retry_after_becomes_one_second() {
        let response = unavailable_for(Duration::ZERO);
        assert_eq!(retry_after(&response), Some(&b"1"[..]));
    }
}
