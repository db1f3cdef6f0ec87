//! Signing keys with their public JWKs, and JWK sets.
//!
//! RSA keys are fixtures: three RSA-2048 PKCS#8 files under `keys/`, parsed once per test
//! binary. Generating RSA keys is slow and its time varies widely (prime search), and a test
//! needs a key, not a fresh one; nothing signed with them is a real secret. EC and Ed25519 keys
//! are generated on the spot (microseconds). All signing is aws-lc-rs, done by hand: the header
//! and claims are the test's own JSON, signed as given.

use std::sync::{Arc, LazyLock};

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeyPair as RsaKeyPair;
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::jose::{b64, b64_json};

const RSA_PEMS: [&str; 3] = [
    include_str!("../keys/rsa-1.pem"),
    include_str!("../keys/rsa-2.pem"),
    include_str!("../keys/rsa-3.pem"),
];

static RSA_KEYS: LazyLock<Vec<Arc<RsaKeyPair>>> = LazyLock::new(|| {
    RSA_PEMS
        .iter()
        .map(|pem| {
            let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
            let der = STANDARD.decode(body).expect("a base64 PEM body");
            Arc::new(RsaKeyPair::from_pkcs8(&der).expect("an RSA PKCS#8 fixture"))
        })
        .collect()
});

/// How many RSA fixture keys there are ([`SigningKey::rsa`] takes `0..RSA_FIXTURES`).
pub const RSA_FIXTURES: usize = RSA_PEMS.len();

/// A signing key with its `kid`: RSA (a fixture), P-256 or Ed25519. Cheap to clone.
#[derive(Clone)]
pub struct SigningKey {
    /// The `kid` its JWK and the headers it signs carry, if any.
    pub kid: Option<String>,
    material: Material,
}

#[derive(Clone)]
enum Material {
    Rsa(Arc<RsaKeyPair>),
    /// The pair and whether it is P-384 (else P-256).
    Ec(Arc<EcdsaKeyPair>, bool),
    Ed(Arc<Ed25519KeyPair>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (kid, alg) = (&self.kid, self.default_alg());
        write!(f, "SigningKey {{ kid: {kid:?}, alg: {alg:?}, .. }}")
    }
}

impl SigningKey {
    /// RSA-2048 fixture key number `n` (`0..RSA_FIXTURES`), named `kid`.
    pub fn rsa(n: usize, kid: &str) -> Self {
        Self {
            kid: Some(kid.to_owned()),
            material: Material::Rsa(RSA_KEYS[n].clone()),
        }
    }

    /// A fresh P-256 key (ES256), named `kid`.
    pub fn es256(kid: &str) -> Self {
        Self::ec(kid, false)
    }

    /// A fresh P-384 key (ES384), named `kid`.
    pub fn es384(kid: &str) -> Self {
        Self::ec(kid, true)
    }

    /// A fresh P-384 (`p384`) or P-256 key, named `kid`.
    fn ec(kid: &str, p384: bool) -> Self {
        let alg = if p384 {
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING
        } else {
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING
        };
        let pair = EcdsaKeyPair::generate(alg).expect("an EC key");
        Self {
            kid: Some(kid.to_owned()),
            material: Material::Ec(Arc::new(pair), p384),
        }
    }

    /// A fresh Ed25519 key (EdDSA), named `kid`.
    pub fn ed25519(kid: &str) -> Self {
        Self {
            kid: Some(kid.to_owned()),
            material: Material::Ed(Arc::new(Ed25519KeyPair::generate().expect("Ed25519 key"))),
        }
    }

    /// The same key without a `kid`.
    pub fn without_kid(mut self) -> Self {
        self.kid = None;
        self
    }

    /// The key's `kid`, or "" when it has none.
    pub fn kid(&self) -> &str {
        self.kid.as_deref().unwrap_or_default()
    }

    /// The public key's members only (`kty`, `crv`, `n`, `e`, `x`, `y`): what a DPoP client puts
    /// into its proofs.
    pub fn public_jwk(&self) -> Value {
        match &self.material {
            Material::Rsa(pair) => {
                let public = pair.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(public.modulus().big_endian_without_leading_zero()),
                    "e": b64(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Material::Ec(pair, p384) => {
                // The uncompressed point: 0x04 ‖ x ‖ y, 32 (P-256) or 48 (P-384) bytes each.
                let (x, y) = pair.public_key().as_ref()[1..].split_at(if *p384 { 48 } else { 32 });
                let crv = if *p384 { "P-384" } else { "P-256" };
                json!({"kty": "EC", "crv": crv, "x": b64(x), "y": b64(y)})
            }
            Material::Ed(pair) => {
                json!({"kty": "OKP", "crv": "Ed25519", "x": b64(pair.public_key().as_ref())})
            }
        }
    }

    /// The JWK an issuer publishes: the public members, `use: sig` and the `kid` (no `alg`).
    pub fn jwk(&self) -> Value {
        let mut jwk = self.public_jwk();
        jwk["use"] = json!("sig");
        if let Some(kid) = &self.kid {
            jwk["kid"] = json!(kid);
        }
        jwk
    }

    /// [`SigningKey::jwk`] with `member` set to `value`.
    pub fn jwk_with(&self, member: &str, value: Value) -> Value {
        let mut jwk = self.jwk();
        jwk[member] = value;
        jwk
    }

    /// The algorithm this key signs with by default.
    pub fn default_alg(&self) -> &'static str {
        match self.material {
            Material::Rsa(_) => "RS256",
            Material::Ec(_, false) => "ES256",
            Material::Ec(_, true) => "ES384",
            Material::Ed(_) => "EdDSA",
        }
    }

    /// The usual token header: `alg`, `typ: JWT` and the `kid` if the key has one.
    pub fn header(&self) -> Value {
        let mut header = json!({"alg": self.default_alg(), "typ": "JWT"});
        if let Some(kid) = &self.kid {
            header["kid"] = json!(kid);
        }
        header
    }

    /// The signature of `message` with `alg` (RSA keys: RS256/384/512, PS256/384/512; other
    /// keys sign with their only algorithm, whatever `alg` says).
    pub fn signature(&self, alg: &str, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.material {
            Material::Rsa(pair) => {
                let encoding: &'static dyn signature::RsaEncoding = match alg {
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; pair.public_modulus_len()];
                pair.sign(encoding, &rng, message, &mut sig)
                    .expect("RSA signs");
                sig
            }
            Material::Ec(pair, _) => pair
                .sign(&rng, message)
                .expect("ECDSA signs")
                .as_ref()
                .to_vec(),
            Material::Ed(pair) => pair.sign(message).as_ref().to_vec(),
        }
    }

    /// Signs `payload` bytes as they are under `header` (whose `alg` picks the algorithm, RS256
    /// when absent): for payloads serde would never produce.
    pub fn sign_bytes(&self, header: &Value, payload: &[u8]) -> String {
        let input = format!("{}.{}", b64_json(header), b64(payload));
        let alg = header["alg"].as_str().unwrap_or("RS256");
        let sig = self.signature(alg, input.as_bytes());
        format!("{input}.{}", b64(sig))
    }

    /// Signs `claims` under `header`, both used exactly as given.
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        self.sign_bytes(header, claims.to_string().as_bytes())
    }

    /// Signs `claims` under the usual header ([`SigningKey::header`]).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&self.header(), claims)
    }
}

/// The issuer's keys most tests need, from the RSA fixtures: the key it signs with, the key it
/// rotates to, and a key it never publishes.
#[derive(Debug)]
pub struct IssuerKeys {
    /// `key-1`, published from the start.
    pub current: SigningKey,
    /// `key-2`, published after a rotation.
    pub next: SigningKey,
    /// `stranger`, never published.
    pub stranger: SigningKey,
}

/// The [`IssuerKeys`] of every test.
pub static KEYS: LazyLock<IssuerKeys> = LazyLock::new(|| IssuerKeys {
    current: SigningKey::rsa(0, "key-1"),
    next: SigningKey::rsa(1, "key-2"),
    stranger: SigningKey::rsa(2, "stranger"),
});

/// The JWK set publishing `keys`.
pub fn jwks(keys: &[&SigningKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rsa_fixtures_are_three_distinct_2048_bit_keys() {
        let moduli: Vec<Value> = (0..RSA_FIXTURES)
            .map(|n| SigningKey::rsa(n, "k").jwk()["n"].clone())
            .collect();
        assert_eq!(moduli.len(), 3);
        assert!(moduli[0] != moduli[1] && moduli[1] != moduli[2] && moduli[0] != moduli[2]);
        // 2048 bits = 256 bytes = 342 base64url characters.
        assert!(moduli.iter().all(|n| n.as_str().map(str::len) == Some(342)));
    }

    #[test]
    fn the_published_jwk_has_use_and_kid_and_the_public_one_has_neither() {
        let key = SigningKey::es256("k1");
        assert_eq!(key.jwk()["use"], "sig");
        assert_eq!(key.jwk()["kid"], "k1");
        let public = key.public_jwk();
        assert!(public.get("use").is_none() && public.get("kid").is_none());
        assert_eq!(public["crv"], "P-256");
    }
}
