//! The JWS compact serialization (RFC 7515 §7.1): `header.payload.signature`, each part
//! strict base64url. [`Compact::parse`] splits a token and applies the header rules before any
//! key is looked up; [`Compact::verify_signature`] checks the signature with a [`PublicKey`].

use serde::Deserialize;
use serde_json::Value;

use super::{PublicKey, b64, parse_alg};
use crate::{Algorithm, VerifyError};

/// Whether `json` starts like a JSON object (RFC 7515 §4 and RFC 7519 §7.2 require one).
///
/// serde's derived `Deserialize` for a struct also accepts a JSON array, filling the fields by
/// position, so `["RS256"]` would pass as a header naming `alg`. This first-byte check refuses
/// that shape before any further work; the parser then checks the rest.
pub(crate) fn is_json_object(json: &[u8]) -> bool {
    json.iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .is_some_and(|b| *b == b'{')
}

/// The three segments of a compact JWS, or an error if there are not exactly three.
fn split(token: &str) -> Result<(&str, &str, &str), VerifyError> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok((header, payload, signature)),
        _ => Err(VerifyError::Malformed("not a compact JWS")),
    }
}

/// The JOSE header members we act on. Every other member (`jku`, `x5u`, `x5c`, `jwk`, ...)
/// is ignored on purpose: a token never chooses where keys come from.
#[derive(Deserialize)]
struct RawHeader {
    alg: String,
    #[serde(default)]
    kid: Option<String>,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    crit: Option<Value>,
}

/// The parts of a compact JWS, header checked, signature not yet verified.
#[derive(Debug)]
pub struct Compact<'a> {
    signing_input: &'a str,
    payload_b64: &'a str,
    signature_b64: &'a str,
    alg: Algorithm,
    kid: Option<String>,
    typ: Option<String>,
}

impl<'a> Compact<'a> {
    /// Splits `token` and checks its header: exactly three segments, base64url JSON object
    /// without duplicate members, no `crit`, `alg` in `allowed`.
    pub fn parse(token: &'a str, allowed: &[Algorithm]) -> Result<Self, VerifyError> {
        let (header_b64, payload_b64, signature_b64) = split(token)?;
        let signing_input = &token[..header_b64.len() + 1 + payload_b64.len()];
        let header_json = b64(header_b64).ok_or(VerifyError::Malformed("header encoding"))?;
        if !is_json_object(&header_json) {
            return Err(VerifyError::Malformed("header"));
        }
        // serde_json refuses duplicate members of the fields we read, so two parsers can
        // never disagree on which `alg` or `kid` a header names.
        let header: RawHeader =
            serde_json::from_slice(&header_json).map_err(|_| VerifyError::Malformed("header"))?;
        if header.crit.is_some() {
            // We implement no JWS extension, so any listed one is one we do not understand.
            return Err(VerifyError::CriticalHeader);
        }
        let alg = parse_alg(&header.alg)
            .filter(|a| allowed.contains(a))
            .ok_or(VerifyError::Algorithm)?;
        Ok(Self {
            signing_input,
            payload_b64,
            signature_b64,
            alg,
            kid: header.kid,
            typ: header.typ,
        })
    }

    /// Splits `token` whose header text is identical to one [`Compact::parse`] accepted before
    /// with the same allow-list, naming `alg`: the header rules are a function of that text,
    /// so they hold again and its JSON is not read a second time (`kid` and `typ` are not
    /// kept). The caller must have compared the header text byte for byte.
    pub(crate) fn with_checked_header(token: &'a str, alg: Algorithm) -> Result<Self, VerifyError> {
        let (header_b64, payload_b64, signature_b64) = split(token)?;
        Ok(Self {
            signing_input: &token[..header_b64.len() + 1 + payload_b64.len()],
            payload_b64,
            signature_b64,
            alg,
            kid: None,
            typ: None,
        })
    }

    /// The header's `alg`, already checked against the allow-list.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header's `kid`.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The header's `typ`.
    pub fn typ(&self) -> Option<&str> {
        self.typ.as_deref()
    }

    /// Verifies the signature with `key`.
    pub fn verify_signature(&self, key: &PublicKey) -> Result<(), VerifyError> {
        let signature =
            b64(self.signature_b64).ok_or(VerifyError::Malformed("signature encoding"))?;
        key.verify(self.alg, self.signing_input.as_bytes(), &signature)
    }

    /// The decoded payload. Only meaningful after [`Compact::verify_signature`] succeeded.
    pub fn payload(&self) -> Result<Vec<u8>, VerifyError> {
        b64(self.payload_b64).ok_or(VerifyError::Malformed("payload encoding"))
    }
}

/// The decoded payload of a compact JWS that already verified (its second segment), for
/// callers that want the claims in their own type.
pub(crate) fn payload_of(token: &str) -> Result<Vec<u8>, VerifyError> {
    token
        .split('.')
        .nth(1)
        .and_then(b64)
        .ok_or(VerifyError::Malformed("payload encoding"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn token_with_header(h: Value) -> String {
        format!("{}.{}.c2ln", enc(&h), enc(&json!({"sub":"x"})))
    }

    const RS: &[Algorithm] = &[Algorithm::RS256];

    /// Why `t` is refused with RS256 allowed, if it is.
    fn refusal(t: &str) -> Option<VerifyError> {
        Compact::parse(t, RS).err()
    }

    #[test]
    fn alg_none_is_refused() {
        let t = token_with_header(json!({"alg":"none"}));
        assert_eq!(refusal(&t), Some(VerifyError::Algorithm));
    }

    #[test]
    fn hs256_is_refused_even_if_listed() {
        let t = token_with_header(json!({"alg":"HS256"}));
        assert_eq!(
            Compact::parse(&t, &[Algorithm::HS256, Algorithm::RS256]).err(),
            Some(VerifyError::Algorithm)
        );
    }

    #[test]
    fn alg_outside_allow_list_is_refused() {
        let t = token_with_header(json!({"alg":"PS256"}));
        assert_eq!(refusal(&t), Some(VerifyError::Algorithm));
    }

    #[test]
    fn any_crit_is_refused() {
        let t = token_with_header(json!({"alg":"RS256","crit":["exp"],"exp":1}));
        assert_eq!(refusal(&t), Some(VerifyError::CriticalHeader));
    }

    #[test]
    fn duplicate_alg_member_is_malformed() {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","alg":"none"}"#);
        let t = format!("{h}.e30.c2ln");
        assert_eq!(refusal(&t), Some(VerifyError::Malformed("header")));
    }

    #[test]
    fn header_that_is_a_json_array_is_malformed() {
        let h = URL_SAFE_NO_PAD.encode(r#"["RS256","k1","JWT"]"#);
        let t = format!("{h}.e30.c2ln");
        assert_eq!(refusal(&t), Some(VerifyError::Malformed("header")));
    }

    #[test]
    fn header_object_after_json_whitespace_is_accepted() {
        let h = URL_SAFE_NO_PAD.encode(" \r\n\t{\"alg\":\"RS256\"}");
        let t = format!("{h}.e30.c2ln");
        assert!(Compact::parse(&t, RS).is_ok());
    }

    #[test]
    fn four_segments_are_malformed() {
        let t = format!("{}.e30.c2ln.x", enc(&json!({"alg":"RS256"})));
        assert!(matches!(refusal(&t), Some(VerifyError::Malformed(_))));
    }

    #[test]
    fn padded_header_is_malformed() {
        let t = format!("{}=.e30.c2ln", enc(&json!({"alg":"RS256"})));
        assert!(matches!(refusal(&t), Some(VerifyError::Malformed(_))));
    }

    #[test]
    fn header_key_urls_are_ignored_not_followed() {
        let t = token_with_header(
            json!({"alg":"RS256","kid":"k","jku":"http://evil/","x5u":"http://evil/","jwk":{"kty":"RSA"}}),
        );
        let c = Compact::parse(&t, RS).expect("parses");
        assert_eq!(c.kid(), Some("k"));
    }
}
