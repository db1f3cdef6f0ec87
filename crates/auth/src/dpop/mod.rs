//! DPoP (RFC 9449): proofs of possession that bind an access token to a client's key.
//!
//! A DPoP-bound access token carries `cnf.jkt`, the RFC 7638 thumbprint of the client's public
//! key. With every request the client sends a fresh proof: a JWS signed with that key, naming
//! the method (`htm`), the URI (`htu`), the time (`iat`), a unique id (`jti`) and the hash of
//! the token (`ath`). A stolen token is useless without the private key, which (in a browser)
//! is non-extractable.
//!
//! [`ProofVerifier::verify`] decides per RFC 9449 §4.3 and §7.1, in this order, each failure
//! its own [`DpopError`]: exactly one proof under the size cap; compact JWS; header `typ`
//! `dpop+jwt`, `alg` from the allow-list (never `none` or HMAC), no `crit`, a `jwk` that is a
//! public key only; the signature; the claims `jti` (bounded length), `htm`, `htu` (normalised,
//! see `uri`), `iat` within the window, `ath`; the server nonce when nonces are on; the key's
//! thumbprint against the token's `cnf.jkt`; and last the replay store, so that a proof refused
//! for any other reason never takes a slot in it. Nothing named in a proof is ever fetched
//! (`jku`, `x5u` are ignored).
//!
//! Framework-free: the caller (an API or a token endpoint) passes the header values, method
//! and target URI. The caller has already verified the access token and passes its `cnf.jkt`.
//!
//! Files: `config` (the settings and their validation), `verifier` (the checks, in RFC order),
//! `proof_claims` (the claims as sent), `ath` (the access token's hash), `error` (one variant
//! per refusal, with its error code), `key_cache` (proof keys imported once per distinct
//! header; every signature is still checked), `replay` (the replay store), `nonce` (stateless
//! server nonces), `uri` (`htu` normalisation). The key's RFC 7638 thumbprint is the
//! JWK's ([`crate::jws::thumbprint`]), re-exported here.

mod ath;
mod config;
mod error;
mod key_cache;
mod nonce;
mod proof_claims;
mod replay;
mod uri;
mod verifier;

pub use ath::access_token_hash;
pub use config::{DpopConfig, NonceSettings, SUPPORTED_ALGORITHMS};
pub use error::{DpopError, DpopErrorCode};
pub use replay::{
    DEFAULT_PER_KEY, MemoryReplayStore, ProofId, ReplayFuture, ReplayStore, ReplayVerdict,
};
pub use uri::normalize as normalize_htu;
pub use verifier::{
    DpopStats, PendingProof, ProofAnswer, ProofRequest, ProofVerifier, VerifiedProof,
};

pub use crate::jws::thumbprint;
