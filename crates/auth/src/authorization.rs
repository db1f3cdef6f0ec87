//! The one parser for the `Authorization` request header, for the `Bearer` (RFC 6750) and `DPoP`
//! (RFC 9449) schemes.
//!
//! Framework-free (it reads header values as bytes) so that the API and the dev issuer's
//! `/userinfo` share it: two parsers of one header drift apart, and the drift is where a request
//! one server refuses gets through the other. Rules, the same everywhere:
//! - exactly one `Authorization` header (RFC 6750 §3.1 calls several a malformed request);
//! - the scheme compares case-insensitively (RFC 9110 §11.1), so `bearer x` and `dpop x` work;
//! - the token is valid UTF-8, so binary junk never reaches a verifier and the token can be
//!   borrowed as a `str`;
//! - whether the token is a `b64token` (RFC 6750 §2.1, RFC 9449 §7.1; every compact JWS is one)
//!   is checked by whoever verifies it, with [`is_b64token`]: `auth::Verifier` before it parses a
//!   token it has not verified before, the dev issuer's `/userinfo` always. A token the
//!   verifier answers from its cache of verified tokens passed that check when it was first
//!   verified, so the scan (a few per cent of a request's instructions for an 860-byte token)
//!   runs once per token rather than once per request.
//!
//! The token is never copied, logged or put into an error.

use std::fmt;

/// The authentication scheme of the credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthScheme {
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: DPoP <token>`, with a `DPoP` proof header beside it.
    Dpop,
}

impl AuthScheme {
    /// The scheme's name as it is written in headers and challenges.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bearer => "Bearer",
            Self::Dpop => "DPoP",
        }
    }
}

impl fmt::Display for AuthScheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Credentials read from an `Authorization` header: the scheme and the bare token.
///
/// `Debug` hides the token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Credentials<'a> {
    /// Which scheme carried the token.
    pub scheme: AuthScheme,
    /// The access token, without the scheme.
    pub token: &'a str,
}

impl fmt::Debug for Credentials<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("scheme", &self.scheme)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Why an `Authorization` header gave no credentials. Messages are fixed strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizationError {
    /// No `Authorization` header at all.
    #[error("no Authorization header")]
    Missing,
    /// More than one `Authorization` header.
    #[error("more than one Authorization header")]
    Repeated,
    /// A scheme other than Bearer and DPoP (e.g. Basic).
    #[error("the Authorization header uses an unsupported scheme")]
    UnsupportedScheme,
    /// The scheme without a token, or only blanks after it.
    #[error("empty access token")]
    EmptyToken(AuthScheme),
    /// The token is not valid UTF-8.
    #[error("malformed access token")]
    MalformedToken(AuthScheme),
}

/// Parses the credentials from every `Authorization` header value of a request.
pub fn parse_authorization<'a, I>(values: I) -> Result<Credentials<'a>, AuthorizationError>
where
    I: IntoIterator<Item = &'a [u8]>,
{
    let mut values = values.into_iter();
    let value = values.next().ok_or(AuthorizationError::Missing)?;
    if values.next().is_some() {
        return Err(AuthorizationError::Repeated);
    }
    parse_credentials(value)
}

/// Parses one `Authorization` header value (`<scheme> <token>`).
pub fn parse_credentials(value: &[u8]) -> Result<Credentials<'_>, AuthorizationError> {
    let (scheme, rest) = match value.iter().position(|&b| b == b' ') {
        Some(space) => (&value[..space], &value[space + 1..]),
        None => (value, &b""[..]),
    };
    let scheme = if scheme.eq_ignore_ascii_case(b"bearer") {
        AuthScheme::Bearer
    } else if scheme.eq_ignore_ascii_case(b"dpop") {
        AuthScheme::Dpop
    } else {
        return Err(AuthorizationError::UnsupportedScheme);
    };
    let token = rest.trim_ascii();
    if token.is_empty() {
        return Err(AuthorizationError::EmptyToken(scheme));
    }
    let token =
        std::str::from_utf8(token).map_err(|_| AuthorizationError::MalformedToken(scheme))?;
    Ok(Credentials { scheme, token })
}

/// Whether `token` is an RFC 6750 §2.1 `b64token`: token characters, then optional `=` padding.
/// [`parse_credentials`] leaves this check to the verifier (see the module documentation).
pub fn is_b64token(token: &[u8]) -> bool {
    let body_end = token
        .iter()
        .rposition(|&b| b != b'=')
        .map_or(0, |last| last + 1);
    // This scan runs over every token on every protected request. In blocks, with `&` and `|`
    // rather than `&&` and `||`, so that the compiler turns it into vector compares (sixteen
    // or more bytes an instruction) instead of a branch per byte.
    let body = &token[..body_end];
    let blocks = body.chunks_exact(32);
    let rest = blocks.remainder();
    body_end > 0 && blocks.clone().all(all_token_chars) && all_token_chars(rest)
}

fn all_token_chars(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .fold(0u8, |bad, &b| bad | u8::from(!is_token_char(b)))
        == 0
}

/// A b64token character before the padding: `ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/"`.
/// `-` `.` `/` and the digits are one range (0x2D to 0x39), so five tests cover them all.
fn is_token_char(b: u8) -> bool {
    let dash_to_nine = b.wrapping_sub(b'-') <= b'9' - b'-';
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    dash_to_nine | letter | (b == b'_') | (b == b'~') | (b == b'+')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(values: &[&[u8]]) -> Result<(AuthScheme, String), AuthorizationError> {
        parse_authorization(values.iter().copied()).map(|c| (c.scheme, c.token.to_owned()))
    }

    #[test]
    fn schemes_are_matched_case_insensitively() {
        for (scheme, expected) in [
            ("Bearer", AuthScheme::Bearer),
            ("bearer", AuthScheme::Bearer),
            ("BEARER", AuthScheme::Bearer),
            ("DPoP", AuthScheme::Dpop),
            ("dpop", AuthScheme::Dpop),
            ("DPOP", AuthScheme::Dpop),
        ] {
            let value = format!("{scheme} abc.def.ghi");
            assert_eq!(
                parse(&[value.as_bytes()]),
                Ok((expected, "abc.def.ghi".into()))
            );
        }
    }

    #[test]
    fn no_header_is_missing() {
        assert_eq!(parse(&[]), Err(AuthorizationError::Missing));
    }

    #[test]
    fn two_headers_are_repeated_even_if_both_are_valid() {
        assert_eq!(
            parse(&[b"Bearer a", b"DPoP b"]),
            Err(AuthorizationError::Repeated)
        );
    }

    #[test]
    fn other_schemes_are_unsupported() {
        for value in [&b"Basic dXNlcjpwYXNz"[..], b"Bearerx abc", b"", b" abc"] {
            assert_eq!(parse(&[value]), Err(AuthorizationError::UnsupportedScheme));
        }
    }

    #[test]
    fn scheme_alone_or_blank_token_is_empty() {
        for (value, scheme) in [
            (&b"Bearer"[..], AuthScheme::Bearer),
            (b"Bearer ", AuthScheme::Bearer),
            (b"dpop    ", AuthScheme::Dpop),
        ] {
            assert_eq!(parse(&[value]), Err(AuthorizationError::EmptyToken(scheme)));
        }
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        for (value, scheme) in [
            (&b"Bearer \xff\xfe"[..], AuthScheme::Bearer),
            (b"DPoP abc\x80", AuthScheme::Dpop),
        ] {
            assert_eq!(
                parse(&[value]),
                Err(AuthorizationError::MalformedToken(scheme))
            );
        }
    }

    #[test]
    fn a_token_outside_b64token_is_parsed_and_left_to_the_verifier() {
        for (value, token) in [
            (&b"Bearer a b"[..], "a b"),
            (b"Bearer a\"b", "a\"b"),
            (b"Bearer ===", "==="),
            (b"DPoP a,b", "a,b"),
        ] {
            let (_, parsed) = parse(&[value]).expect("parsed");
            assert_eq!(parsed, token);
            assert!(!is_b64token(parsed.as_bytes()), "{token}");
        }
    }

    #[test]
    fn token_characters_are_exactly_those_of_rfc_6750() {
        for b in 0..=u8::MAX {
            let rfc = b.is_ascii_alphanumeric() || b"-._~+/".contains(&b);
            assert_eq!(is_token_char(b), rfc, "byte {b:#04x}");
        }
    }

    #[test]
    fn a_bad_byte_is_found_wherever_it_is_in_a_long_token() {
        let mut token = vec![b'a'; 1000];
        for at in [0, 31, 32, 500, 998] {
            token[at] = b' ';
            assert!(!is_b64token(&token), "space at {at}");
            token[at] = b'a';
        }
        assert!(is_b64token(&token));
    }

    #[test]
    fn trailing_padding_is_a_valid_b64token() {
        assert_eq!(
            parse(&[b"Bearer abc=="]),
            Ok((AuthScheme::Bearer, "abc==".into()))
        );
    }

    #[test]
    fn debug_output_hides_the_token() {
        let credentials = parse_credentials(b"DPoP secret-token").expect("valid");
        assert!(!format!("{credentials:?}").contains("secret-token"));
    }
}
