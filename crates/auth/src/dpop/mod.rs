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

mod error;
mod nonce;
mod replay;
mod uri;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use crate::jws::{Compact, KeyRejected, PublicKey};
use crate::{Algorithm, BuildError, VerifyError};

pub use error::{DpopError, DpopErrorCode};
pub use replay::{MemoryReplayStore, ProofId, ReplayFuture, ReplayStore, ReplayVerdict};
pub use uri::normalize as normalize_htu;

use error::DPOP_OUTCOME_LABELS;
use nonce::{NonceCheck, NonceSource};

/// Server-nonce settings (RFC 9449 §9).
#[derive(Clone)]
pub struct NonceSettings {
    /// The secret nonces are derived from; replicas that share it accept each other's nonces.
    /// At least 32 bytes.
    pub secret: Vec<u8>,
    /// Length of a nonce slot (default 60 s); a nonce is accepted in its slot and the next.
    pub slot: Duration,
}

impl std::fmt::Debug for NonceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NonceSettings")
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

impl NonceSettings {
    /// Nonces from a fresh random secret: fine for one process, not for replicas.
    pub fn random() -> Self {
        let mut secret = vec![0u8; 32];
        // aws-lc-rs's generator (already linked for the signatures), as the key store's jitter;
        // like any CSPRNG front end it can only fail when the OS has no randomness to give, and
        // a nonce secret must not be made up then.
        aws_lc_rs::rand::fill(&mut secret[..]).expect("the OS random number generator failed");
        Self {
            secret,
            slot: Duration::from_secs(60),
        }
    }
}

/// How proofs are checked. Defaults: ES256 only, `iat` within 60 s in the past and 30 s in the
/// future, `jti` up to 128 bytes, proofs up to 8 KiB, a replay store for 1,000,000 proofs, no
/// nonces.
#[derive(Debug, Clone)]
pub struct DpopConfig {
    /// Allowed proof algorithms. `none` and HMAC are never accepted.
    pub algorithms: Vec<Algorithm>,
    /// How old a proof's `iat` may be.
    pub max_age: Duration,
    /// How far in the future a proof's `iat` may be (client clock ahead of ours).
    pub future_leeway: Duration,
    /// Longest accepted `jti`, in bytes.
    pub max_jti_bytes: usize,
    /// Longest accepted proof, in bytes.
    pub max_proof_bytes: usize,
    /// How many proofs the in-memory replay store holds (see [`DpopConfig::replay_window`]).
    pub replay_capacity: usize,
    /// Server nonces, if on.
    pub nonce: Option<NonceSettings>,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            algorithms: vec![Algorithm::ES256],
            max_age: Duration::from_secs(60),
            future_leeway: Duration::from_secs(30),
            max_jti_bytes: 128,
            max_proof_bytes: 8 * 1024,
            replay_capacity: 1_000_000,
            nonce: None,
        }
    }
}

/// The algorithms a DPoP proof may be configured to use.
pub const SUPPORTED_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::EdDSA,
];

impl DpopConfig {
    /// How long a proof id must be remembered: the whole time its `iat` is acceptable.
    pub fn replay_window(&self) -> Duration {
        self.max_age + self.future_leeway
    }

    fn validate(&self) -> Result<(), BuildError> {
        let invalid = |setting, problem: &str| BuildError::InvalidSetting {
            setting,
            problem: problem.into(),
        };
        if self.algorithms.is_empty() {
            return Err(invalid(
                "dpop.algorithms",
                "at least one algorithm is required",
            ));
        }
        if let Some(alg) = self
            .algorithms
            .iter()
            .find(|a| !SUPPORTED_ALGORITHMS.contains(a))
        {
            return Err(BuildError::InvalidSetting {
                setting: "dpop.algorithms",
                problem: format!(
                    "{alg:?} is not a DPoP proof algorithm (use ES256, ES384, PS256, RS256 or EdDSA)"
                ),
            });
        }
        if self.max_age.is_zero() || self.max_age > Duration::from_secs(3600) {
            return Err(invalid("dpop.max_age", "must be between 1 s and 1 h"));
        }
        if self.future_leeway > Duration::from_secs(600) {
            return Err(invalid("dpop.future_leeway", "must be at most 10 minutes"));
        }
        if self.max_jti_bytes == 0 || self.max_jti_bytes > 1024 {
            return Err(invalid("dpop.max_jti_bytes", "must be between 1 and 1024"));
        }
        if self.max_proof_bytes < 256 {
            return Err(invalid("dpop.max_proof_bytes", "must be at least 256"));
        }
        if self.replay_capacity == 0 {
            return Err(invalid("dpop.replay_capacity", "must be positive"));
        }
        if let Some(nonce) = &self.nonce {
            if nonce.secret.len() < 32 {
                return Err(invalid("dpop.nonce.secret", "must be at least 32 bytes"));
            }
            if nonce.slot < Duration::from_secs(1) {
                return Err(invalid("dpop.nonce.slot", "must be at least 1 s"));
            }
        }
        Ok(())
    }
}

/// What a proof is checked against: one request.
#[derive(Debug, Clone, Copy)]
pub struct ProofRequest<'a> {
    /// Every `DPoP` header value of the request (exactly one is required).
    pub proofs: &'a [&'a [u8]],
    /// The request method, e.g. `GET`.
    pub method: &'a str,
    /// The request's target URI as the server knows itself (its public origin plus the path),
    /// never built from the `Host` header.
    pub uri: &'a str,
    /// The access token sent with the proof; `None` at a token endpoint. When present the
    /// proof's `ath` must be its hash.
    pub access_token: Option<&'a str>,
    /// The thumbprint the proof's key must have: the token's `cnf.jkt`, or a grant's binding.
    pub jkt: Option<&'a str>,
}

/// A proof that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedProof {
    /// The RFC 7638 thumbprint of the proof's key (base64url SHA-256).
    pub jkt: String,
    /// A nonce the client should use from now on, when nonces are on and the proof's nonce is
    /// from the previous slot (send it in `DPoP-Nonce`).
    pub next_nonce: Option<String>,
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct DpopStats {
    /// Proof checks by outcome label (`ok`, `replayed`, ...), every label present.
    pub proofs: Vec<(&'static str, u64)>,
    /// Nonces handed out.
    pub nonces_issued: u64,
    /// Proof ids held by the replay store, if it can tell.
    pub replay_entries: Option<usize>,
}

impl DpopStats {
    /// The count for one outcome label (0 if unknown).
    pub fn proofs_with(&self, label: &str) -> u64 {
        self.proofs
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(0, |(_, n)| *n)
    }
}

/// Checks DPoP proofs. Cheap to clone; build once at start-up.
#[derive(Clone, Debug)]
pub struct ProofVerifier {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    config: DpopConfig,
    algorithms_text: String,
    store: Arc<dyn ReplayStore>,
    nonces: Option<NonceSource>,
    outcomes: [AtomicU64; DPOP_OUTCOME_LABELS.len()],
    nonces_issued: AtomicU64,
}

/// The proof header members we act on; `jku`, `x5u`, `x5c`, `kid` are ignored on purpose.
#[derive(Deserialize)]
struct ProofHeader {
    #[serde(default)]
    jwk: Option<Value>,
}

/// The claims, kept as raw values so that a wrong type is `Claim(name)`. serde refuses a
/// duplicated member of these names.
#[derive(Deserialize)]
struct ProofClaims {
    jti: Option<Value>,
    htm: Option<Value>,
    htu: Option<Value>,
    iat: Option<Value>,
    ath: Option<Value>,
    nonce: Option<Value>,
}

impl ProofVerifier {
    /// A verifier with the in-memory replay store sized by `config.replay_capacity`.
    pub fn new(config: DpopConfig) -> Result<Self, BuildError> {
        let store = Arc::new(MemoryReplayStore::new(config.replay_capacity));
        Self::with_store(config, store)
    }

    /// A verifier with the caller's replay store (e.g. one shared by replicas).
    pub fn with_store(config: DpopConfig, store: Arc<dyn ReplayStore>) -> Result<Self, BuildError> {
        config.validate()?;
        let mut algorithms = config.algorithms.clone();
        algorithms.dedup();
        let algorithms_text = algorithms
            .iter()
            .map(|a| format!("{a:?}"))
            .collect::<Vec<_>>()
            .join(" ");
        let nonces = config
            .nonce
            .as_ref()
            .map(|n| NonceSource::new(&n.secret, n.slot.as_secs()));
        Ok(Self {
            inner: Arc::new(Inner {
                config: DpopConfig {
                    algorithms,
                    ..config
                },
                algorithms_text,
                store,
                nonces,
                outcomes: Default::default(),
                nonces_issued: AtomicU64::new(0),
            }),
        })
    }

    /// The allowed algorithms, space-separated (the `algs` challenge parameter, e.g. `ES256`).
    pub fn algorithms_text(&self) -> &str {
        &self.inner.algorithms_text
    }

    /// The allowed algorithms.
    pub fn algorithms(&self) -> &[Algorithm] {
        &self.inner.config.algorithms
    }

    /// Whether server nonces are on.
    pub fn nonces_enabled(&self) -> bool {
        self.inner.nonces.is_some()
    }

    /// A nonce for the current slot, if nonces are on (counted as issued).
    pub fn issue_nonce(&self) -> Option<String> {
        let nonces = self.inner.nonces.as_ref()?;
        self.inner.nonces_issued.fetch_add(1, Ordering::Relaxed);
        Some(nonces.issue(now_secs() as u64))
    }

    /// Checks a proof for `request` at the current time.
    pub async fn verify(&self, request: &ProofRequest<'_>) -> Result<VerifiedProof, DpopError> {
        self.verify_at(request, now_secs()).await
    }

    /// Checks a proof for `request` as if the time were `now` (seconds since the epoch).
    pub async fn verify_at(
        &self,
        request: &ProofRequest<'_>,
        now: f64,
    ) -> Result<VerifiedProof, DpopError> {
        let result = self.check(request, now).await;
        let index = match &result {
            Ok(_) => 0,
            Err(e) => e.outcome_index(),
        };
        if let Some(counter) = self.inner.outcomes.get(index) {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        match &result {
            Err(DpopError::ReplayStoreUnavailable { .. }) => tracing::warn!(
                "DPoP replay store cannot record proofs (full or unreachable); refusing them"
            ),
            Err(e) => tracing::debug!(outcome = e.outcome_label(), "DPoP proof rejected"),
            Ok(_) => {}
        }
        result
    }

    async fn check(&self, req: &ProofRequest<'_>, now: f64) -> Result<VerifiedProof, DpopError> {
        let inner = &*self.inner;
        let config = &inner.config;
        let proof = match req.proofs {
            [] => return Err(DpopError::Missing),
            [one] => *one,
            _ => return Err(DpopError::Multiple),
        };
        if proof.len() > config.max_proof_bytes {
            return Err(DpopError::TooLarge);
        }
        let proof = std::str::from_utf8(proof).map_err(|_| DpopError::Malformed("encoding"))?;
        if proof.contains(',') {
            // A list in one header field is several proofs folded together (RFC 9110 §5.3).
            return Err(DpopError::Multiple);
        }
        let compact = Compact::parse(proof, &config.algorithms).map_err(|e| match e {
            VerifyError::Algorithm => DpopError::Algorithm,
            VerifyError::CriticalHeader => DpopError::CriticalHeader,
            _ => DpopError::Malformed("header"),
        })?;
        if !is_dpop_typ(compact.typ()) {
            return Err(DpopError::Type);
        }
        let header_b64 = proof.split('.').next().unwrap_or_default();
        let header: ProofHeader = URL_SAFE_NO_PAD
            .decode(header_b64)
            .ok()
            .and_then(|h| serde_json::from_slice(&h).ok())
            .ok_or(DpopError::Malformed("header"))?;
        let jwk = header.jwk.ok_or(DpopError::Key)?;
        let key = PublicKey::from_jwk(&jwk, &config.algorithms).map_err(|e| match e {
            KeyRejected::PrivateMembers => DpopError::PrivateKey,
            _ => DpopError::Key,
        })?;
        compact.verify_signature(&key).map_err(|e| match e {
            VerifyError::Algorithm => DpopError::Algorithm,
            VerifyError::Signature => DpopError::Signature,
            _ => DpopError::Malformed("signature"),
        })?;
        let payload = compact
            .payload()
            .map_err(|_| DpopError::Malformed("payload"))?;
        // A derived struct parser would also take a JSON array, field by position.
        if !crate::jws::is_json_object(&payload) {
            return Err(DpopError::Malformed("claims"));
        }
        let claims: ProofClaims =
            serde_json::from_slice(&payload).map_err(|_| DpopError::Malformed("claims"))?;

        let jti = match &claims.jti {
            Some(Value::String(jti)) if !jti.is_empty() => jti.as_str(),
            _ => return Err(DpopError::Claim("jti")),
        };
        if jti.len() > config.max_jti_bytes {
            return Err(DpopError::JtiTooLong);
        }
        match &claims.htm {
            Some(Value::String(htm)) if htm == req.method => {}
            Some(Value::String(_)) => return Err(DpopError::Method),
            _ => return Err(DpopError::Claim("htm")),
        }
        let Some(Value::String(htu)) = &claims.htu else {
            return Err(DpopError::Claim("htu"));
        };
        match (uri::normalize(htu), uri::normalize(req.uri)) {
            (Some(claimed), Some(actual)) if claimed == actual => {}
            _ => return Err(DpopError::Uri),
        }
        let iat = match &claims.iat {
            Some(Value::Number(n)) => n
                .as_f64()
                .filter(|f| f.is_finite())
                .ok_or(DpopError::Claim("iat"))?,
            _ => return Err(DpopError::Claim("iat")),
        };
        if iat < now - config.max_age.as_secs_f64() {
            return Err(DpopError::Stale);
        }
        if iat > now + config.future_leeway.as_secs_f64() {
            return Err(DpopError::IssuedInFuture);
        }
        if let Some(token) = req.access_token {
            match &claims.ath {
                Some(Value::String(ath)) if *ath == access_token_hash(token) => {}
                _ => return Err(DpopError::AccessTokenHash),
            }
        }
        let mut next_nonce = None;
        if let Some(nonces) = &inner.nonces {
            let now_whole = now as u64;
            let check = match &claims.nonce {
                Some(Value::String(nonce)) => nonces.check(nonce, now_whole),
                _ => NonceCheck::Invalid,
            };
            match check {
                NonceCheck::Current => {}
                NonceCheck::Previous => {
                    inner.nonces_issued.fetch_add(1, Ordering::Relaxed);
                    next_nonce = Some(nonces.issue(now_whole));
                }
                NonceCheck::Invalid => {
                    inner.nonces_issued.fetch_add(1, Ordering::Relaxed);
                    return Err(DpopError::UseNonce {
                        nonce: nonces.issue(now_whole),
                    });
                }
            }
        }
        let jkt = thumbprint(&jwk).ok_or(DpopError::Key)?;
        if let Some(bound) = req.jkt
            && bound != jkt
        {
            return Err(DpopError::KeyMismatch);
        }
        let now_whole = now.max(0.0) as u64;
        let expires_at = now_whole
            .saturating_add(config.replay_window().as_secs())
            .saturating_add(1);
        match inner
            .store
            .check_and_record(ProofId::new(&jkt, jti), now_whole, expires_at)
            .await
        {
            ReplayVerdict::Fresh => Ok(VerifiedProof { jkt, next_nonce }),
            ReplayVerdict::Replayed => Err(DpopError::Replayed),
            ReplayVerdict::Unavailable => Err(DpopError::ReplayStoreUnavailable {
                retry_after: Duration::from_secs(1),
            }),
        }
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> DpopStats {
        DpopStats {
            proofs: DPOP_OUTCOME_LABELS
                .iter()
                .zip(&self.inner.outcomes)
                .map(|(l, c)| (*l, c.load(Ordering::Relaxed)))
                .collect(),
            nonces_issued: self.inner.nonces_issued.load(Ordering::Relaxed),
            replay_entries: self.inner.store.entries(),
        }
    }
}

/// `typ` is a media type: case-insensitive, the `application/` prefix optional (RFC 7515 §4.1.9).
fn is_dpop_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        let lower = t.to_ascii_lowercase();
        lower.strip_prefix("application/").unwrap_or(&lower) == "dpop+jwt"
    })
}

/// `ath`: base64url(SHA-256(ASCII access token)) (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
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

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn access_token_hash_matches_the_rfc_9449_example() {
        // RFC 9449 §7.1, the access token of the example request.
        let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        assert_eq!(
            access_token_hash(token),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn dpop_typ_is_a_case_insensitive_media_type() {
        assert!(is_dpop_typ(Some("dpop+jwt")));
        assert!(is_dpop_typ(Some("application/DPoP+JWT")));
        assert!(!is_dpop_typ(Some("JWT")));
        assert!(!is_dpop_typ(None));
    }

    #[test]
    fn hmac_and_none_cannot_be_configured() {
        for alg in [Algorithm::HS256, Algorithm::HS512] {
            let config = DpopConfig {
                algorithms: vec![alg],
                ..DpopConfig::default()
            };
            assert!(config.validate().is_err());
        }
    }

    #[test]
    fn a_short_nonce_secret_is_refused() {
        let config = DpopConfig {
            nonce: Some(NonceSettings {
                secret: vec![1; 16],
                slot: Duration::from_secs(60),
            }),
            ..DpopConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(BuildError::InvalidSetting {
                setting: "dpop.nonce.secret",
                ..
            })
        ));
    }
}
