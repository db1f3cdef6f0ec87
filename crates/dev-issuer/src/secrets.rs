//! The secrets the issuer hands out (session ids, login-form ids, codes, refresh tokens) and the
//! form in which it keeps them.
//!
//! Every secret is 256 bits from the OS CSPRNG. The grant store keeps only its SHA-256, so that
//! a map lookup never compares secret bytes directly and a memory dump does not hand them out.

use aws_lc_rs::{digest, rand as lc_rand};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A fresh 256-bit secret from the OS CSPRNG, base64url.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // aws-lc's RNG only fails if the OS refuses randomness; then nothing here can be trusted.
    lc_rand::fill(&mut bytes).expect("the OS CSPRNG is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The key under which `secret` is stored: its SHA-256, base64url.
pub(crate) fn storage_key(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}
