//! The DPoP client side (RFC 9449): a client key and the proofs it signs.
//!
//! A [`ClientKey`] is a fresh P-256 key (ES256, what browsers and auth0-spa-js use) unless a
//! test wants another algorithm ([`ClientKey::from_key`]). Its thumbprint is computed by hand
//! ([`crate::jose::thumbprint`]), and so is the `ath` of a proof: the code under test is never
//! asked what the right answer is.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use crate::jose::{ath, b64, b64_json, now, remove_member, thumbprint};
use crate::keys::SigningKey;

/// A client's DPoP key: the private key, its public JWK and its RFC 7638 thumbprint.
#[derive(Debug, Clone)]
pub struct ClientKey {
    key: SigningKey,
    /// The public JWK proofs carry (no `kid`, no `use`).
    pub jwk: Value,
    /// Its RFC 7638 thumbprint: the `cnf.jkt` of tokens bound to it.
    pub jkt: String,
}

impl ClientKey {
    /// A fresh P-256 key.
    pub fn generate() -> Self {
        Self::from_key(SigningKey::es256("dpop"))
    }

    /// Any signing key used as a DPoP key (RSA, Ed25519, ...).
    pub fn from_key(key: SigningKey) -> Self {
        let jwk = key.public_jwk();
        let jkt = thumbprint(&jwk);
        Self { key, jwk, jkt }
    }

    /// The signing key underneath.
    pub fn signing_key(&self) -> &SigningKey {
        &self.key
    }

    /// A proof for `htm htu`: header `typ: dpop+jwt`, the key's `alg` and public `jwk`; claims
    /// a fresh `jti`, `htm`, `htu` and `iat` now. Adjust it, then [`Proof::sign`].
    pub fn proof(&self, htm: &str, htu: &str) -> Proof {
        Proof {
            key: self.clone(),
            header: json!({"typ": "dpop+jwt", "alg": self.key.default_alg(), "jwk": self.jwk}),
            claims: json!({"jti": fresh_jti(), "htm": htm, "htu": htu, "iat": now()}),
        }
    }
}

/// A distinct `jti`: random, so that proofs of concurrent test binaries never collide either.
fn fresh_jti() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 12];
    aws_lc_rs::rand::fill(&mut bytes).expect("OS randomness");
    format!("{}-{}", b64(bytes), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// A DPoP proof being built: header and claims are public, each replaceable by a test.
#[derive(Debug, Clone)]
pub struct Proof {
    key: ClientKey,
    /// The JOSE header.
    pub header: Value,
    /// The claims.
    pub claims: Value,
}

impl Proof {
    /// The key that signs it.
    pub fn key(&self) -> &ClientKey {
        &self.key
    }

    /// The thumbprint of the key that signs it.
    pub fn jkt(&self) -> String {
        self.key.jkt.clone()
    }

    /// Binds it to `access_token` (`ath`).
    pub fn token(self, access_token: &str) -> Self {
        self.claim("ath", ath(access_token))
    }

    /// Carries the server's `nonce`.
    pub fn nonce(self, nonce: &str) -> Self {
        self.claim("nonce", nonce)
    }

    /// Sets claim `name`.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims[name] = value.into();
        self
    }

    /// Sets every member of `extra` (a JSON object) as a claim.
    pub fn claims(mut self, extra: Value) -> Self {
        if let (Some(claims), Some(extra)) = (self.claims.as_object_mut(), extra.as_object()) {
            claims.extend(extra.clone());
        }
        self
    }

    /// Removes claim `name`.
    pub fn without_claim(mut self, name: &str) -> Self {
        remove_member(&mut self.claims, name);
        self
    }

    /// Sets header member `name`.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header[name] = value.into();
        self
    }

    /// Removes header member `name`.
    pub fn without_header(mut self, name: &str) -> Self {
        remove_member(&mut self.header, name);
        self
    }

    /// Header and claims with `signature` bytes as the third part (`alg: none`, forgeries).
    pub fn with_signature(&self, signature: &[u8]) -> String {
        format!(
            "{}.{}.{}",
            b64_json(&self.header),
            b64_json(&self.claims),
            b64(signature)
        )
    }

    /// The compact JWS, signed by the key with the header's `alg`.
    pub fn sign(&self) -> String {
        self.key.key.sign_raw(&self.header, &self.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jose::{claims_of, header_of};

    #[test]
    fn a_proof_carries_the_public_key_only_and_the_dpop_type() {
        let key = ClientKey::generate();
        let proof = key.proof("GET", "http://127.0.0.1:1/x").token("t").sign();
        let header = header_of(&proof);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"], key.jwk);
        assert!(header["jwk"].get("d").is_none());
        assert_eq!(thumbprint(&header["jwk"]), key.jkt);
        let claims = claims_of(&proof);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["ath"], ath("t"));
    }

    #[test]
    fn two_proofs_have_distinct_jtis() {
        let key = ClientKey::generate();
        let a = claims_of(&key.proof("GET", "u").sign());
        let b = claims_of(&key.proof("GET", "u").sign());
        assert_ne!(a["jti"], b["jti"]);
    }
}
