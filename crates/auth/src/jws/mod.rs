//! JSON Web Signature (RFC 7515) and the keys that check it (RFC 7517/7518): the signature
//! layer of token verification. No I/O, no clock.
//!
//! One file per RFC noun: `compact` (the compact serialization: split, header rules, signature
//! check), `jwk` (one JSON Web Key imported into an aws-lc-rs key under the use/key_ops/
//! private-member/size/ROCA rules, and its RFC 7638 thumbprint), `jwk_set` (a key set: the
//! duplicate-`kid` rule, one bad key never spoiling the others).
//!
//! Why hand-written instead of `jsonwebtoken::decode`: the header rules (reject any `crit`,
//! ignore `jku`/`x5u`/`x5c`/`jwk`, refuse duplicate members, strict base64url) must run
//! *before* any key is looked up, and keys are parsed once per key-set fetch into aws-lc-rs
//! `ParsedPublicKey`s so that a verification is the RSA/ECDSA/EdDSA operation and nothing else
//! (`jsonwebtoken` rebuilds the public key on every call). The cryptography itself is entirely
//! aws-lc-rs; `jsonwebtoken` provides the [`Algorithm`] names.
//!
//! The [`Verifier`](crate::Verifier) uses this module; it is public so that the signature
//! layer can be tested on its own (the Wycheproof vectors) and reused.

mod compact;
mod jwk;
mod jwk_set;

use std::str::FromStr;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::Algorithm;

pub use compact::Compact;
pub(crate) use compact::{is_json_object, payload_of};
pub use jwk::{KeyRejected, MAX_RSA_BITS, MIN_RSA_BITS, PublicKey, thumbprint};
pub use jwk_set::{ParsedKeySet, parse_jwk_set, select_key};

/// Strict base64url without padding: canonical trailing bits only, so one token has one
/// encoding (a lenient decoder lets an attacker mint distinct strings for one signature).
fn b64(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// The names we verify. `none` and HMAC are absent on purpose: they can never be allowed.
fn parse_alg(name: &str) -> Option<Algorithm> {
    match Algorithm::from_str(name).ok()? {
        Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512 => None,
        alg => Some(alg),
    }
}
