//! One JSON Web Key (RFC 7517, key types of RFC 7518 §6 and RFC 8037) imported into an
//! aws-lc-rs key, and its RFC 7638 thumbprint.
//!
//! Import rules, each a [`KeyRejected`] variant: `use` must be `sig`, `key_ops` must hold
//! `verify`, private members refuse the key (an issuer leaking them is not to be trusted), RSA
//! moduli are 2048–8192 bits without the ROCA fingerprint, EC curves are P-256/P-384, OKP is
//! Ed25519, and a key's own `alg` must fit its type and be allowed.

use std::fmt;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::{b64, parse_alg};
use crate::{Algorithm, VerifyError};

/// Smallest RSA modulus accepted, in bits (NIST SP 800-131A; jwks-rsa accepts anything).
pub const MIN_RSA_BITS: usize = 2048;
/// Largest RSA modulus accepted, in bits (aws-lc-rs verifies up to 8192).
pub const MAX_RSA_BITS: usize = 8192;

/// Why a JWK was not turned into a verification key. Such keys are skipped, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyRejected {
    /// The JWK is not a JSON object or a member has the wrong JSON type.
    #[error("malformed JWK member {0}")]
    Malformed(&'static str),
    /// `use` is present and not `sig`.
    #[error("use is not sig")]
    NotForSignatures,
    /// `key_ops` is present and lacks `verify`.
    #[error("key_ops lacks verify")]
    NoVerifyOperation,
    /// `kty` is not RSA, EC or OKP (symmetric `oct` keys are never accepted).
    #[error("unsupported key type")]
    UnsupportedKeyType,
    /// An EC/OKP curve we do not verify.
    #[error("unsupported curve")]
    UnsupportedCurve,
    /// The JWK carries private members: the issuer is leaking secrets, do not trust it.
    #[error("JWK has private key members")]
    PrivateMembers,
    /// RSA modulus outside [`MIN_RSA_BITS`]..=[`MAX_RSA_BITS`].
    #[error("RSA key of {0} bits is outside the accepted size")]
    RsaKeySize(usize),
    /// RSA modulus with the ROCA fingerprint (CVE-2017-15361): its factors can be recovered.
    #[error("RSA key has the ROCA fingerprint")]
    WeakRsaKey,
    /// The key's `alg` is unknown or does not fit its type.
    #[error("key alg does not fit the key")]
    AlgorithmMismatch,
    /// None of the algorithms this key could serve is allowed.
    #[error("no allowed algorithm for this key")]
    AlgorithmNotAllowed,
    /// aws-lc-rs refused the key material (e.g. an EC point off the curve).
    #[error("invalid key material")]
    InvalidKey,
}

/// A public key ready to verify signatures with the algorithms it may serve.
pub struct PublicKey {
    kid: Option<String>,
    verifiers: Vec<(Algorithm, ParsedPublicKey)>,
    /// SHA-256 over the key type and material: identifies the key itself, whatever its kid.
    fingerprint: [u8; 32],
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PublicKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms().collect::<Vec<_>>())
            .finish()
    }
}

/// The key families a JWK may describe, with the algorithms each can serve.
enum Material {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    Ec { point: Vec<u8>, alg: Algorithm },
    Ed25519 { x: Vec<u8> },
}

const RSA_ALGS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

impl PublicKey {
    /// Imports a JWK, keeping only the algorithms in `allowed` that fit it.
    ///
    /// Rules (RFC 7517/7518 plus hardening): `use` must be `sig` if present, `key_ops` must
    /// contain `verify` if present, private members refuse the key, RSA must be 2048–8192
    /// bits, EC curves P-256/P-384 with exact-length coordinates, OKP Ed25519 only, and a
    /// key's own `alg` (if present) must fit its type and be allowed.
    pub fn from_jwk(jwk: &Value, allowed: &[Algorithm]) -> Result<Self, KeyRejected> {
        let obj = jwk.as_object().ok_or(KeyRejected::Malformed("jwk"))?;
        let kty = opt_str(obj, "kty")?.ok_or(KeyRejected::Malformed("kty"))?;
        if let Some(u) = opt_str(obj, "use")?
            && u != "sig"
        {
            return Err(KeyRejected::NotForSignatures);
        }
        if let Some(ops) = obj.get("key_ops") {
            let ops = ops.as_array().ok_or(KeyRejected::Malformed("key_ops"))?;
            if !ops.iter().any(|o| o.as_str() == Some("verify")) {
                return Err(KeyRejected::NoVerifyOperation);
            }
        }
        let kid = opt_str(obj, "kid")?.map(str::to_owned);
        let key_alg = match opt_str(obj, "alg")? {
            None => None,
            Some(name) => Some(parse_alg(name).ok_or(KeyRejected::AlgorithmMismatch)?),
        };
        let material = match kty {
            "RSA" => {
                refuse_private(obj, &["d", "p", "q", "dp", "dq", "qi", "oth"])?;
                let n = b64_member(obj, "n")?;
                let e = b64_member(obj, "e")?;
                // Some issuers pad the modulus with a zero byte; aws-lc-rs wants it minimal.
                let first = n.iter().position(|b| *b != 0).unwrap_or(n.len());
                let n = n[first..].to_vec();
                let bits = n
                    .first()
                    .map_or(0, |b| (n.len() - 1) * 8 + (8 - b.leading_zeros() as usize));
                if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
                    return Err(KeyRejected::RsaKeySize(bits));
                }
                if has_roca_fingerprint(&n) {
                    return Err(KeyRejected::WeakRsaKey);
                }
                Material::Rsa { n, e }
            }
            "EC" => {
                refuse_private(obj, &["d"])?;
                let (alg, len) = match opt_str(obj, "crv")? {
                    Some("P-256") => (Algorithm::ES256, 32),
                    Some("P-384") => (Algorithm::ES384, 48),
                    _ => return Err(KeyRejected::UnsupportedCurve),
                };
                let x = b64_member(obj, "x")?;
                let y = b64_member(obj, "y")?;
                if x.len() != len || y.len() != len {
                    return Err(KeyRejected::InvalidKey);
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(0x04);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::Ec { point, alg }
            }
            "OKP" => {
                refuse_private(obj, &["d"])?;
                if opt_str(obj, "crv")? != Some("Ed25519") {
                    return Err(KeyRejected::UnsupportedCurve);
                }
                let x = b64_member(obj, "x")?;
                if x.len() != 32 {
                    return Err(KeyRejected::InvalidKey);
                }
                Material::Ed25519 { x }
            }
            _ => return Err(KeyRejected::UnsupportedKeyType),
        };
        let fits: Vec<Algorithm> = match &material {
            Material::Rsa { .. } => RSA_ALGS.to_vec(),
            Material::Ec { alg, .. } => vec![*alg],
            Material::Ed25519 { .. } => vec![Algorithm::EdDSA],
        };
        let algs: Vec<Algorithm> = match key_alg {
            Some(a) if !fits.contains(&a) => return Err(KeyRejected::AlgorithmMismatch),
            Some(a) if !allowed.contains(&a) => return Err(KeyRejected::AlgorithmNotAllowed),
            Some(a) => vec![a],
            None => fits.into_iter().filter(|a| allowed.contains(a)).collect(),
        };
        if algs.is_empty() {
            return Err(KeyRejected::AlgorithmNotAllowed);
        }
        let fingerprint = {
            let mut ctx = digest::Context::new(&digest::SHA256);
            match &material {
                Material::Rsa { n, e } => {
                    ctx.update(b"RSA\0");
                    ctx.update(&(n.len() as u32).to_be_bytes());
                    ctx.update(n);
                    ctx.update(e);
                }
                Material::Ec { point, .. } => {
                    ctx.update(b"EC\0");
                    ctx.update(point);
                }
                Material::Ed25519 { x } => {
                    ctx.update(b"OKP\0");
                    ctx.update(x);
                }
            }
            let mut out = [0u8; 32];
            out.copy_from_slice(ctx.finish().as_ref());
            out
        };
        let mut verifiers = Vec::with_capacity(algs.len());
        for alg in algs {
            let parsed = match &material {
                Material::Rsa { n, e } => RsaPublicKeyComponents { n, e }
                    .to_parsed_public_key(rsa_params(alg).ok_or(KeyRejected::InvalidKey)?)
                    .map_err(|_| KeyRejected::InvalidKey)?,
                Material::Ec { point, .. } => {
                    let algorithm: &'static sig::EcdsaVerificationAlgorithm = match alg {
                        Algorithm::ES384 => &sig::ECDSA_P384_SHA384_FIXED,
                        _ => &sig::ECDSA_P256_SHA256_FIXED,
                    };
                    ParsedPublicKey::new(algorithm, point).map_err(|_| KeyRejected::InvalidKey)?
                }
                Material::Ed25519 { x } => {
                    ParsedPublicKey::new(&sig::ED25519, x).map_err(|_| KeyRejected::InvalidKey)?
                }
            };
            verifiers.push((alg, parsed));
        }
        Ok(Self {
            kid,
            verifiers,
            fingerprint,
        })
    }

    /// The key's `kid`, if it has one.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// SHA-256 over the key material: equal exactly when two keys are the same key.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The algorithms this key verifies (its own `alg`, or every allowed one of its type).
    pub fn algorithms(&self) -> impl Iterator<Item = Algorithm> + '_ {
        self.verifiers.iter().map(|(a, _)| *a)
    }

    /// Whether this key verifies `alg`.
    pub fn allows(&self, alg: Algorithm) -> bool {
        self.verifiers.iter().any(|(a, _)| *a == alg)
    }

    /// Checks `signature` over `message` with `alg`; an algorithm the key does not serve is
    /// [`VerifyError::Algorithm`] (this is where "alg must agree with the key" is enforced).
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        let (_, key) = self
            .verifiers
            .iter()
            .find(|(a, _)| *a == alg)
            .ok_or(VerifyError::Algorithm)?;
        key.verify_sig(message, signature)
            .map_err(|_| VerifyError::Signature)
    }
}

/// Whether an RSA modulus has the ROCA fingerprint (Nemec et al., CCS 2017): keys from the
/// flawed Infineon generator have primes p = k·M + (65537^a mod M), so for every small prime r
/// dividing M, n mod r lies in the subgroup generated by 65537 mod r. A random modulus passes
/// all 38 tests with negligible probability (the published detector uses the same primes).
fn has_roca_fingerprint(n: &[u8]) -> bool {
    const PRIMES: [u32; 38] = [
        3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83, 89,
        97, 101, 103, 107, 109, 113, 127, 131, 137, 139, 149, 151, 157, 163, 167,
    ];
    PRIMES.iter().all(|&p| {
        let residue = n
            .iter()
            .fold(0u32, |acc, b| (acc * 256 + u32::from(*b)) % p);
        let generator = 65537 % p;
        let mut x = 1u32;
        loop {
            if x == residue {
                return true;
            }
            x = x * generator % p;
            if x == 1 {
                return false;
            }
        }
    })
}

fn rsa_params(alg: Algorithm) -> Option<&'static sig::RsaParameters> {
    Some(match alg {
        Algorithm::RS256 => &sig::RSA_PKCS1_2048_8192_SHA256,
        Algorithm::RS384 => &sig::RSA_PKCS1_2048_8192_SHA384,
        Algorithm::RS512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        Algorithm::PS256 => &sig::RSA_PSS_2048_8192_SHA256,
        Algorithm::PS384 => &sig::RSA_PSS_2048_8192_SHA384,
        Algorithm::PS512 => &sig::RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

fn opt_str<'a>(
    obj: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, KeyRejected> {
    match obj.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(KeyRejected::Malformed(name)),
    }
}

fn b64_member(obj: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, KeyRejected> {
    let text = opt_str(obj, name)?.ok_or(KeyRejected::Malformed(name))?;
    let bytes = b64(text).ok_or(KeyRejected::Malformed(name))?;
    if bytes.is_empty() {
        return Err(KeyRejected::Malformed(name));
    }
    Ok(bytes)
}

fn refuse_private(obj: &Map<String, Value>, members: &[&str]) -> Result<(), KeyRejected> {
    if members.iter().any(|m| obj.contains_key(*m)) {
        return Err(KeyRejected::PrivateMembers);
    }
    Ok(())
}

/// The RFC 7638 JWK SHA-256 thumbprint: the required members of the key type, in
/// lexicographic order, without whitespace, hashed and base64url-encoded. `None` for a key type
/// we do not accept or a missing member.
pub fn thumbprint(jwk: &Value) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "EC" => &["crv", "kty", "x", "y"],
        "RSA" => &["e", "kty", "n"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = String::from("{");
    for (i, name) in members.iter().enumerate() {
        let value = jwk.get(*name)?.as_str()?;
        if i > 0 {
            canonical.push(',');
        }
        canonical.push('"');
        canonical.push_str(name);
        canonical.push_str("\":");
        // serde_json writes the string with exactly the escaping RFC 7638 §3 asks for.
        canonical.push_str(&Value::String(value.to_owned()).to_string());
    }
    canonical.push('}');
    Some(URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, canonical.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RS: &[Algorithm] = &[Algorithm::RS256];

    #[test]
    fn oct_jwk_is_never_a_key() {
        let jwk = json!({"kty":"oct","k":"c2VjcmV0"});
        assert_eq!(
            PublicKey::from_jwk(&jwk, RS).err(),
            Some(KeyRejected::UnsupportedKeyType)
        );
    }

    #[test]
    fn roca_fingerprint_is_the_subgroup_of_65537_modulo_small_primes() {
        // 65537^k itself is in every subgroup; a modulus divisible by 3 is in none.
        let power = 65537u64.pow(3).to_be_bytes();
        assert!(has_roca_fingerprint(&power));
        assert!(!has_roca_fingerprint(&[3]));
    }

    #[test]
    fn small_rsa_key_is_refused() {
        let n = URL_SAFE_NO_PAD.encode([0xffu8; 128]);
        let jwk = json!({"kty":"RSA","n":n,"e":"AQAB"});
        assert_eq!(
            PublicKey::from_jwk(&jwk, RS).err(),
            Some(KeyRejected::RsaKeySize(1024))
        );
    }

    #[test]
    fn thumbprint_matches_the_rfc_7638_example() {
        // RFC 7638 §3.1.
        let jwk = json!({
            "kty": "RSA",
            "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            "e": "AQAB",
            "alg": "RS256",
            "kid": "2011-04-29"
        });
        assert_eq!(
            thumbprint(&jwk).as_deref(),
            Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
        );
    }

    #[test]
    fn thumbprint_of_an_unknown_key_type_is_none() {
        assert_eq!(thumbprint(&json!({"kty":"oct","k":"c2VjcmV0"})), None);
    }
}
