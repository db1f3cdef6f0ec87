//! The three ways a request fails, each mapped to its answer in one place.
//!
//! Token, userinfo and hook endpoints answer machines: JSON `{"error", "error_description"}` as
//! RFC 6749 §5.2 and RFC 6750 §3 describe ([`OAuthError`]). Browser-facing endpoints
//! (`/authorize`, `/login`, `/v2/logout`) that cannot safely redirect answer people: an HTML
//! page, never a redirect ([`PageError`]). Once the client and its `redirect_uri` are trusted,
//! `/authorize` sends its failures back to the client like a code ([`AuthorizeError`]).

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

/// The error codes this issuer answers with (RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3, OIDC
/// Core §3.1.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnsupportedGrantType,
    UnsupportedResponseType,
    AccessDenied,
    LoginRequired,
    InvalidToken,
    ServerError,
    TemporarilyUnavailable,
    InvalidDpopProof,
    UseDpopNonce,
}

impl ErrorCode {
    /// The code as written on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::InvalidScope => "invalid_scope",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::InvalidToken => "invalid_token",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `/authorize` failure that travels back to the client's `redirect_uri`, like a code would.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{code}: {description}")]
pub(crate) struct AuthorizeError {
    pub code: ErrorCode,
    pub description: String,
}

impl AuthorizeError {
    pub(crate) fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }

    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidRequest, description)
    }
}

/// An OAuth error answered as JSON.
#[derive(Debug, thiserror::Error)]
#[error("{error}: {description}")]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: ErrorCode,
    description: String,
    /// A server nonce for the `DPoP-Nonce` header (RFC 9449 §8).
    dpop_nonce: Option<String>,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        error: ErrorCode,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            dpop_nonce: None,
        }
    }

    /// A refused DPoP proof: `use_dpop_nonce` with the nonce to use, or `invalid_dpop_proof`.
    /// `status` is 400 at the token endpoint (RFC 9449 §5, §8) and 401 at a resource (§7.1).
    pub(crate) fn dpop(status: StatusCode, err: &auth::dpop::DpopError) -> Self {
        let code = match err.code() {
            auth::dpop::DpopErrorCode::UseDpopNonce => ErrorCode::UseDpopNonce,
            auth::dpop::DpopErrorCode::TemporarilyUnavailable => {
                return Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorCode::TemporarilyUnavailable,
                    err.description(),
                );
            }
            auth::dpop::DpopErrorCode::TooManyRequests => {
                return Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    ErrorCode::TemporarilyUnavailable,
                    err.description(),
                );
            }
            auth::dpop::DpopErrorCode::InvalidDpopProof => ErrorCode::InvalidDpopProof,
        };
        Self {
            dpop_nonce: err.nonce().map(str::to_owned),
            ..Self::new(status, code, err.description())
        }
    }

    /// `invalid_request` (400): a parameter is missing, repeated or malformed.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            description,
        )
    }

    /// `invalid_token` (401) at a bearer-protected endpoint.
    pub(crate) fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidToken,
            description,
        )
    }
}

impl ResponseError for OAuthError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        response
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::PRAGMA, "no-cache"));
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750 §3: the challenge names the error; the description is ours and quote-free.
            let description = self.description.replace(['"', '\\'], "'");
            let challenge = if self.error == ErrorCode::InvalidToken {
                format!(
                    "Bearer realm=\"dev-issuer\", error=\"invalid_token\", error_description=\"{description}\""
                )
            } else if matches!(
                self.error,
                ErrorCode::InvalidDpopProof | ErrorCode::UseDpopNonce
            ) {
                format!(
                    "DPoP algs=\"ES256\", error=\"{}\", error_description=\"{description}\"",
                    self.error
                )
            } else {
                "Bearer realm=\"dev-issuer\"".to_owned()
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.insert_header((header::WWW_AUTHENTICATE, value));
            }
        }
        if let Some(nonce) = &self.dpop_nonce
            && let Ok(value) = HeaderValue::from_str(nonce)
        {
            response.insert_header(("dpop-nonce", value));
        }
        response.json(serde_json::json!({
            "error": self.error.as_str(),
            "error_description": self.description,
        }))
    }
}

/// A browser-facing failure that must not redirect: shown as an HTML page.
#[derive(Debug, thiserror::Error)]
#[error("{title}: {message}")]
pub(crate) struct PageError {
    status: StatusCode,
    title: &'static str,
    message: String,
}

impl PageError {
    pub(crate) fn bad_request(title: &'static str, message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title,
            message: message.into(),
        }
    }

    /// A query parameter given more than once (an ambiguous request is refused, not guessed).
    pub(crate) fn repeated_parameter(name: &str) -> Self {
        Self::bad_request(
            "Invalid request",
            format!("The parameter {name} is repeated."),
        )
    }

    pub(crate) fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            title: "Temporarily unavailable",
            message: message.into(),
        }
    }
}

impl ResponseError for PageError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        html_response(self.status).body(crate::html::error_page(self.title, &self.message))
    }
}

/// A response builder for our own HTML pages: not cacheable, not framable, no scripts.
pub(crate) fn html_response(status: StatusCode) -> actix_web::HttpResponseBuilder {
    let mut builder = HttpResponse::build(status);
    builder
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; base-uri 'none'",
        ))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    builder
}
