//! The one place where a failed request becomes an HTTP response.
//!
//! Every authentication or authorization failure is an [`ApiError`]; its [`ResponseError`] impl
//! gives the RFC 6750 §3 status, the `WWW-Authenticate: Bearer realm="api", ...` challenge and the
//! JSON body `{"error": ..., "error_description": ...}`. Handlers, extractors and the
//! authentication middleware only return `ApiError`s, so statuses live next to the error, not in
//! handlers.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue, InvalidHeaderValue, TryIntoHeaderValue};
use actix_web::web::Bytes;
use actix_web::{HttpResponse, ResponseError};
use actix_web_httpauth::headers::www_authenticate::{Challenge, WwwAuthenticate};

/// The `realm` of every challenge this API sends.
pub const REALM: &str = "api";

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
    /// The issuer's signing keys cannot be had right now.
    #[error("{description}")]
    TemporarilyUnavailable {
        /// Safe description from `auth`.
        description: Cow<'static, str>,
        /// How long the client should wait.
        retry_after: Duration,
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
        }
    }

    fn challenge(&self) -> BearerChallenge {
        match self {
            Self::MissingCredentials(_) => BearerChallenge::default(),
            Self::InsufficientScope { scope } => BearerChallenge {
                error: Some(self.error_code()),
                description: Some(self.to_string()),
                scope: Some(scope),
            },
            _ => BearerChallenge {
                error: Some(self.error_code()),
                description: Some(self.to_string()),
                scope: None,
            },
        }
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
            Self::MissingCredentials(_) | Self::InvalidToken(_) => StatusCode::UNAUTHORIZED,
            Self::InvalidRequest(_) => StatusCode::BAD_REQUEST,
            Self::InsufficientScope { .. } => StatusCode::FORBIDDEN,
            Self::TemporarilyUnavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let description = self.to_string();
        let mut response = HttpResponse::build(self.status_code());
        response
            .insert_header(WwwAuthenticate(self.challenge()))
            .insert_header((header::CACHE_CONTROL, "no-store"));
        if let Self::TemporarilyUnavailable { retry_after, .. } = self {
            // Whole seconds, rounded up, at least one: a client must never be told "retry now".
            let secs = retry_after
                .as_secs()
                .saturating_add(u64::from(retry_after.subsec_nanos() > 0))
                .max(1);
            response.insert_header((header::RETRY_AFTER, secs));
        }
        response.json(ErrorBody {
            error: self.error_code(),
            error_description: &description,
        })
    }
}

/// An RFC 6750 §3 `Bearer` challenge with comma-separated auth-params.
///
/// Hand-written because actix-web-httpauth's `bearer::Bearer` challenge separates its parameters
/// with spaces only (`Bearer realm="api" error="invalid_token"`), which the RFC 9110 §11.6.1
/// grammar (`#auth-param`) does not allow and strict clients fail to parse. It plugs into the
/// crate's [`Challenge`] trait and [`WwwAuthenticate`] header, so the rest of the crate's types
/// still apply.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge {
    error: Option<&'static str>,
    description: Option<String>,
    scope: Option<&'static str>,
}

impl BearerChallenge {
    fn render(&self) -> String {
        let mut out = String::with_capacity(96);
        out.push_str("Bearer realm=\"");
        push_quoted(&mut out, REALM);
        out.push('"');
        let params = [
            ("error", self.error),
            ("error_description", self.description.as_deref()),
            ("scope", self.scope),
        ];
        for (name, value) in params {
            if let Some(value) = value {
                out.push_str(", ");
                out.push_str(name);
                out.push_str("=\"");
                push_quoted(&mut out, value);
                out.push('"');
            }
        }
        out
    }
}

/// Appends `value` as the inside of an RFC 9110 quoted-string.
///
/// Anything that is not visible ASCII or a space becomes `?`, so the header value is always valid
/// and building the response can never fail.
fn push_quoted(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            ' '..='~' => out.push(c),
            _ => out.push('?'),
        }
    }
}

impl fmt::Display for BearerChallenge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render())
    }
}

impl Challenge for BearerChallenge {
    fn to_bytes(&self) -> Bytes {
        Bytes::from(self.render())
    }
}

impl TryIntoHeaderValue for BearerChallenge {
    type Error = InvalidHeaderValue;

    fn try_into_value(self) -> Result<HeaderValue, Self::Error> {
        HeaderValue::from_maybe_shared(self.to_bytes())
    }
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn retry_after_is_rounded_up_to_whole_seconds() {
        let err = ApiError::TemporarilyUnavailable {
            description: "signing keys unavailable".into(),
            retry_after: Duration::from_millis(1500),
        };
        let response = err.error_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(HeaderValue::as_bytes),
            Some(&b"2"[..])
        );
    }

    #[test]
    fn zero_retry_after_becomes_one_second() {
        let err = ApiError::TemporarilyUnavailable {
            description: "signing keys unavailable".into(),
            retry_after: Duration::ZERO,
        };
        let response = err.error_response();
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .map(HeaderValue::as_bytes),
            Some(&b"1"[..])
        );
    }
}
