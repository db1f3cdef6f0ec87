//! The two ways a request fails, each mapped to HTTP in one place.
//!
//! Token, userinfo and hook endpoints answer machines: JSON `{"error", "error_description"}` as
//! RFC 6749 §5.2 and RFC 6750 §3 describe. Browser-facing endpoints (`/authorize`, `/login`,
//! `/v2/logout`) that cannot safely redirect answer people: an HTML page, never a redirect.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};

/// An OAuth error answered as JSON.
#[derive(Debug, thiserror::Error)]
#[error("{error}: {description}")]
pub(crate) struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: String,
}

impl OAuthError {
    pub(crate) fn new(
        status: StatusCode,
        error: &'static str,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error,
            description: description.into(),
        }
    }

    /// `invalid_request` (400): a parameter is missing, repeated or malformed.
    pub(crate) fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    /// `invalid_token` (401) at a bearer-protected endpoint.
    pub(crate) fn invalid_token(description: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "invalid_token", description)
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
            let challenge = if self.error == "invalid_token" {
                format!(
                    "Bearer realm=\"dev-issuer\", error=\"invalid_token\", error_description=\"{}\"",
                    self.description.replace(['"', '\\'], "'")
                )
            } else {
                "Bearer realm=\"dev-issuer\"".to_owned()
            };
            if let Ok(value) = HeaderValue::from_str(&challenge) {
                response.insert_header((header::WWW_AUTHENTICATE, value));
            }
        }
        response.json(serde_json::json!({
            "error": self.error,
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
