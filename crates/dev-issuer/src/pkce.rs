//! PKCE (RFC 7636) with the S256 method only, which is all auth0-spa-js sends and all this
//! issuer accepts (`plain` would hand the verifier to anyone who sees the authorize URL).
//!
//! Two small pure functions, written by hand: the rule is a length, an alphabet and one SHA-256,
//! and no maintained crate offers the server side alone.

use aws_lc_rs::{constant_time, digest};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Whether `challenge` can be an S256 challenge: a SHA-256 in base64url, 43 characters.
pub(crate) fn challenge_well_formed(challenge: &str) -> bool {
    challenge.len() == 43
        && challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The S256 check (RFC 7636 §4.6): `verifier` has the allowed form and hashes to `challenge`,
/// compared in constant time.
pub(crate) fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    let valid_form = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    valid_form
        && constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const RFC_CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn accepts_the_rfc7636_example() {
        assert!(verifier_matches(RFC_VERIFIER, RFC_CHALLENGE));
    }

    #[test]
    fn refuses_a_verifier_that_differs_in_one_character() {
        assert!(!verifier_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            RFC_CHALLENGE
        ));
    }

    #[test]
    fn refuses_a_verifier_shorter_than_43_characters() {
        assert!(!verifier_matches("short", RFC_CHALLENGE));
    }

    #[test]
    fn a_challenge_is_43_base64url_characters() {
        assert!(challenge_well_formed(RFC_CHALLENGE));
        assert!(!challenge_well_formed(&RFC_CHALLENGE[1..]));
        assert!(!challenge_well_formed(&RFC_CHALLENGE.replace('-', "+")));
    }
}
