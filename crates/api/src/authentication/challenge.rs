//! The `WWW-Authenticate` challenges the API sends: RFC 6750 §3 `Bearer` and RFC 9449 §7.1
//! `DPoP`, rendered with comma-separated auth-params and quoting that always yields a valid
//! header value.
//!
//! Hand-written because actix-web-httpauth's `bearer::Bearer` challenge separates its parameters
//! with spaces only (`Bearer realm="api" error="invalid_token"`), which the RFC 9110 §11.6.1
//! grammar (`#auth-param`) does not allow and strict clients fail to parse. Both plug into the
//! crate's [`Challenge`] trait and [`WwwAuthenticate`](actix_web_httpauth::headers::www_authenticate::WwwAuthenticate)
//! header, so the rest of the crate's types still apply. Which challenge a refusal carries is
//! decided in `crate::error`.

use std::fmt;
use std::sync::Arc;

use actix_web::http::header::{HeaderValue, InvalidHeaderValue, TryIntoHeaderValue};
use actix_web::web::Bytes;
use actix_web_httpauth::headers::www_authenticate::Challenge;

/// The `realm` of every challenge this API sends.
pub const REALM: &str = "api";

/// An RFC 6750 §3 `Bearer` challenge with comma-separated auth-params:
/// `Bearer realm="api", error="invalid_token", ...`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BearerChallenge(ChallengeParams);

/// The error auth-params shared by the Bearer and the DPoP challenge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ChallengeParams {
    pub(crate) error: Option<&'static str>,
    pub(crate) description: Option<String>,
    pub(crate) scope: Option<&'static str>,
}

impl ChallengeParams {
    /// Appends `, name="value"` for each parameter that is set.
    fn push_to(&self, out: &mut String) {
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
                push_quoted(out, value);
                out.push('"');
            }
        }
    }
}

impl BearerChallenge {
    /// The challenge with the error parameters `params`.
    pub(crate) fn new(params: ChallengeParams) -> Self {
        Self(params)
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(96);
        out.push_str("Bearer realm=\"");
        push_quoted(&mut out, REALM);
        out.push('"');
        self.0.push_to(&mut out);
        out
    }
}

/// An RFC 9449 §7.1 `DPoP` challenge: `DPoP algs="ES256", error="invalid_dpop_proof", ...`.
///
/// Plugs into actix-web-httpauth's [`Challenge`] trait like [`BearerChallenge`], with the same
/// comma-separated, always-valid quoting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopChallenge {
    algs: Arc<str>,
    params: ChallengeParams,
}

impl DpopChallenge {
    /// The challenge for the proof algorithms `algs` with the error parameters `params`.
    pub(crate) fn new(algs: &Arc<str>, params: ChallengeParams) -> Self {
        Self {
            algs: algs.clone(),
            params,
        }
    }

    /// The challenge without error parameters: what a client that sent no DPoP credentials is
    /// told.
    pub fn offer(algs: &Arc<str>) -> Self {
        Self::new(algs, ChallengeParams::default())
    }

    fn render(&self) -> String {
        let mut out = String::with_capacity(96);
        out.push_str("DPoP algs=\"");
        push_quoted(&mut out, &self.algs);
        out.push('"');
        self.params.push_to(&mut out);
        out
    }
}

/// `Display`, actix's `Challenge` and `TryIntoHeaderValue` for a challenge type, all three
/// from its `render` (one text, whichever way the header is built).
macro_rules! rendered_challenge {
    ($challenge:ty) => {
        impl fmt::Display for $challenge {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.render())
            }
        }

        impl Challenge for $challenge {
            fn to_bytes(&self) -> Bytes {
                Bytes::from(self.render())
            }
        }

        impl TryIntoHeaderValue for $challenge {
            type Error = InvalidHeaderValue;

            fn try_into_value(self) -> Result<HeaderValue, Self::Error> {
                HeaderValue::from_maybe_shared(self.to_bytes())
            }
        }
    };
}

rendered_challenge!(BearerChallenge);
rendered_challenge!(DpopChallenge);

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
