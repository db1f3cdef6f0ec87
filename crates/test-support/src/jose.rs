//! The JOSE arithmetic tests need, written out by hand: base64url, SHA-256, the RFC 7638
//! thumbprint, the RFC 9449 `ath`, and reading a compact JWS's parts without verifying it.
//!
//! Nothing here comes from the `auth` crate: a test that compares `auth`'s answer with these
//! is an independent reading of the RFC, not `auth` checked against itself.

use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::Value;

/// base64url without padding (RFC 7515 §2).
pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// base64url of a JSON value's compact text: one part of a hand-made token.
pub fn b64_json(value: &Value) -> String {
    b64(value.to_string())
}

/// Removes member `name` from a JSON object (anything else is left as it is).
pub(crate) fn remove_member(object: &mut Value, name: &str) {
    if let Some(map) = object.as_object_mut() {
        map.remove(name);
    }
}

/// base64url of the SHA-256 of `data`.
pub fn sha256_b64(data: impl AsRef<[u8]>) -> String {
    b64(digest::digest(&digest::SHA256, data.as_ref()))
}

/// The `ath` claim of a DPoP proof for `access_token` (RFC 9449 §4.2).
pub fn ath(access_token: &str) -> String {
    sha256_b64(access_token)
}

/// The RFC 7638 thumbprint of a public JWK: its required members in lexicographic order, no
/// white space, hashed with SHA-256.
///
/// # Panics
/// On a JWK without its required members or of a key type RFC 7638 does not define.
pub fn thumbprint(jwk: &Value) -> String {
    let member = |name: &str| {
        jwk[name]
            .as_str()
            .unwrap_or_else(|| panic!("the JWK has no {name}: {jwk}"))
            .to_owned()
    };
    let canonical = match jwk["kty"].as_str() {
        Some("EC") => format!(
            r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
            member("crv"),
            member("x"),
            member("y")
        ),
        Some("RSA") => format!(
            r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
            member("e"),
            member("n")
        ),
        Some("OKP") => format!(
            r#"{{"crv":"{}","kty":"OKP","x":"{}"}}"#,
            member("crv"),
            member("x")
        ),
        other => panic!("no thumbprint for kty {other:?}"),
    };
    sha256_b64(canonical)
}

/// Seconds since the Unix epoch, as `iat` and `exp` carry them.
pub fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit i64")
}

fn decode_part(token: &str, index: usize) -> Value {
    let part = token
        .split('.')
        .nth(index)
        .unwrap_or_else(|| panic!("a compact JWS has three parts: {token:?}"));
    let bytes = URL_SAFE_NO_PAD.decode(part).expect("a base64url part");
    serde_json::from_slice(&bytes).expect("a JSON part")
}

/// A compact JWS's protected header, decoded without verifying anything.
pub fn header_of(token: &str) -> Value {
    decode_part(token, 0)
}

/// A compact JWS's payload as JSON, decoded without verifying anything.
pub fn claims_of(token: &str) -> Value {
    decode_part(token, 1)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The known answers printed in the RFCs: RFC 9449 §7.1 (`ath`), §6.1 (an EC thumbprint)
    /// and RFC 7638 §3.1 (an RSA thumbprint).
    #[test]
    fn the_rfcs_known_answers_come_out() {
        let ec = json!({"kty": "EC", "crv": "P-256",
            "x": "l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs",
            "y": "9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA"});
        let rsa = json!({"kty": "RSA", "e": "AQAB", "alg": "RS256", "kid": "2011-04-29",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        let answers = [
            (
                ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
                "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo",
            ),
            (
                thumbprint(&ec),
                "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
            ),
            (
                thumbprint(&rsa),
                "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs",
            ),
        ];
        for (computed, expected) in answers {
            assert_eq!(computed, expected);
        }
    }

    #[test]
    fn header_and_claims_of_a_compact_jws_are_read_back() {
        let token = format!(
            "{}.{}.sig",
            b64_json(&json!({"alg": "none"})),
            b64_json(&json!({"sub": "alice"}))
        );
        assert_eq!(header_of(&token), json!({"alg": "none"}));
        assert_eq!(claims_of(&token), json!({"sub": "alice"}));
    }
}
