//! The signature layer: compact-JWS parsing, JWK import and signature checks. No I/O, no clock.
//!
//! Why hand-written instead of `jsonwebtoken::decode`: the header rules here (reject any
//! `crit`, ignore `jku`/`x5u`/`x5c`/`jwk`, refuse duplicate members, strict base64url) must run
//! *before* any key is looked up, and keys are parsed once per key-set fetch into
//! aws-lc-rs [`ParsedPublicKey`]s so that a verification is the RSA/ECDSA/EdDSA operation and
//! nothing else (`jsonwebtoken` rebuilds the public key on every call). The cryptography
//! itself is entirely aws-lc-rs; `jsonwebtoken` provides the [`Algorithm`] names.
//!
//! The [`Verifier`](crate::Verifier) uses this module; it is public so that the signature
//! layer can be tested on its own (the Wycheproof vectors) and reused.

use std::fmt;
use std::str::FromStr;

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::untrusted::Untrusted;
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

/// A JWK Set reduced to the keys we can use.
#[derive(Debug)]
pub struct ParsedKeySet {
    /// The usable keys, in document order.
    pub keys: Vec<PublicKey>,
    /// How many keys were skipped (unusable, or sharing a kid).
    pub skipped: usize,
}

/// Parses a JWK Set document (`{"keys": [...]}`), skipping every unusable key (see
/// [`PublicKey::from_jwk`]) and every key of a duplicated `kid`: with two keys under one kid
/// we cannot know which the issuer means, so neither is trusted. `None` if the document is
/// not a JWK Set at all. One bad key never spoils the others.
pub fn parse_jwk_set(json: &[u8], allowed: &[Algorithm]) -> Option<ParsedKeySet> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<Value>,
    }
    let doc: Jwks = serde_json::from_slice(json).ok()?;
    let kid_of = |k: &Value| k.get("kid").and_then(Value::as_str).map(str::to_owned);
    let mut kid_counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for k in &doc.keys {
        if let Some(kid) = kid_of(k) {
            *kid_counts.entry(kid).or_default() += 1;
        }
    }
    let mut keys = Vec::new();
    let mut skipped = 0;
    for jwk in &doc.keys {
        let kid = kid_of(jwk);
        if kid
            .as_ref()
            .is_some_and(|k| kid_counts.get(k).copied().unwrap_or(0) > 1)
        {
            tracing::warn!(
                kid = ?kid.as_deref().map(Untrusted),
                "JWKS holds a duplicated kid; skipping every key with it"
            );
            skipped += 1;
            continue;
        }
        match PublicKey::from_jwk(jwk, allowed) {
            Ok(key) => keys.push(key),
            Err(reason) => {
                tracing::debug!(kid = ?kid.as_deref().map(Untrusted), %reason, "skipping JWK");
                skipped += 1;
            }
        }
    }
    Some(ParsedKeySet { keys, skipped })
}

/// The key a token's `kid` selects: by kid, or without a kid the only key if there is
/// exactly one (the same rule as the verifier's key cache).
pub fn select_key<'a>(keys: &'a [PublicKey], kid: Option<&str>) -> Option<&'a PublicKey> {
    match kid {
        Some(kid) => keys.iter().find(|k| k.kid() == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
}

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
        let mut parts = token.split('.');
        let (Some(header_b64), Some(payload_b64), Some(signature_b64), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(VerifyError::Malformed("not a compact JWS"));
        };
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
    use serde_json::json;

    fn enc(v: &Value) -> String {
        URL_SAFE_NO_PAD.encode(v.to_string())
    }

    fn token_with_header(h: Value) -> String {
        format!("{}.{}.c2ln", enc(&h), enc(&json!({"sub":"x"})))
    }

    const RS: &[Algorithm] = &[Algorithm::RS256];

    #[test]
    fn alg_none_is_refused() {
        let t = token_with_header(json!({"alg":"none"}));
        assert_eq!(Compact::parse(&t, RS).err(), Some(VerifyError::Algorithm));
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
        assert_eq!(Compact::parse(&t, RS).err(), Some(VerifyError::Algorithm));
    }

    #[test]
    fn any_crit_is_refused() {
        let t = token_with_header(json!({"alg":"RS256","crit":["exp"],"exp":1}));
        assert_eq!(
            Compact::parse(&t, RS).err(),
            Some(VerifyError::CriticalHeader)
        );
    }

    #[test]
    fn duplicate_alg_member_is_malformed() {
        let h = URL_SAFE_NO_PAD.encode(r#"{"alg":"RS256","alg":"none"}"#);
        let t = format!("{h}.e30.c2ln");
        assert_eq!(
            Compact::parse(&t, RS).err(),
            Some(VerifyError::Malformed("header"))
        );
    }

    #[test]
    fn header_that_is_a_json_array_is_malformed() {
        let h = URL_SAFE_NO_PAD.encode(r#"["RS256","k1","JWT"]"#);
        let t = format!("{h}.e30.c2ln");
        assert_eq!(
            Compact::parse(&t, RS).err(),
            Some(VerifyError::Malformed("header"))
        );
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
        assert!(matches!(
            Compact::parse(&t, RS),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn padded_header_is_malformed() {
        let t = format!("{}=.e30.c2ln", enc(&json!({"alg":"RS256"})));
        assert!(matches!(
            Compact::parse(&t, RS),
            Err(VerifyError::Malformed(_))
        ));
    }

    #[test]
    fn header_key_urls_are_ignored_not_followed() {
        let t = token_with_header(
            json!({"alg":"RS256","kid":"k","jku":"http://evil/","x5u":"http://evil/","jwk":{"kty":"RSA"}}),
        );
        let c = Compact::parse(&t, RS).expect("parses");
        assert_eq!(c.kid(), Some("k"));
    }

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
}
