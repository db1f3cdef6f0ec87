//! [`ProofVerifier`]: checks one request's DPoP proof, counts every outcome, and records the
//! proofs it accepts in a [`ReplayStore`].
//!
//! `check` is one function from top to bottom, in the order of RFC 9449 §4.3 (and §7.1 for
//! `ath`), so that it can be read against the RFC: each step either passes or returns its own
//! [`DpopError`]. The replay store comes last so that a proof refused for any other reason
//! never takes a slot in it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde_json::Value;

use super::ath::is_access_token_hash;
use super::config::DpopConfig;
use super::error::{DPOP_OUTCOME_LABELS, DpopError};
use super::key_cache::{KeyCache, ProofKey};
use super::nonce::{NonceCheck, NonceSource};
use super::proof_claims::{ClaimValue, ProofClaims};
use super::replay::{MemoryReplayStore, ProofId, ReplayStore, ReplayVerdict};
use super::uri;
use crate::clock::now_secs;
use crate::counters::PerThreadCounters;
use crate::jws::{Compact, KeyRejected, PublicKey, thumbprint};
use crate::{Algorithm, BuildError, VerifyError};

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

/// What [`ProofVerifier::verify_now`] answers.
#[derive(Debug)]
pub enum ProofAnswer {
    /// The verdict, given without waiting.
    Ready(Result<VerifiedProof, DpopError>),
    /// The proof passed every check but the replay store's, which must be awaited.
    Record(PendingProof),
}

/// A proof that passed every check but the replay store's, for a store that answers over the
/// network: [`PendingProof::record`] asks it and gives the verdict (counted like any other).
#[derive(Debug)]
#[must_use = "a pending proof is neither accepted nor counted until it is recorded"]
pub struct PendingProof {
    verifier: ProofVerifier,
    unrecorded: Unrecorded,
}

impl PendingProof {
    /// Asks the replay store to record the proof, and gives the verdict.
    pub async fn record(self) -> Result<VerifiedProof, DpopError> {
        let (id, now_ms, expires_at_ms) = self.unrecorded.slot;
        let store = &self.verifier.inner.store;
        let verdict = store.check_and_record(id, now_ms, expires_at_ms).await;
        self.verifier.conclude(self.unrecorded.verdict(verdict))
    }
}

/// What [`ProofVerifier::check`] leaves for the replay store.
#[derive(Debug)]
struct Unrecorded {
    /// The proof's id, now and the end of its window (milliseconds since the epoch).
    slot: (ProofId, u64, u64),
    next_nonce: Option<String>,
    /// The proof key's thumbprint.
    jkt: String,
}

impl Unrecorded {
    /// The proof's verdict once the store has answered.
    fn verdict(self, store: ReplayVerdict) -> Result<VerifiedProof, DpopError> {
        match store {
            ReplayVerdict::Fresh => Ok(VerifiedProof {
                jkt: self.jkt,
                next_nonce: self.next_nonce,
            }),
            ReplayVerdict::Replayed => Err(DpopError::Replayed),
            ReplayVerdict::KeyLimit { retry_after } => {
                Err(DpopError::TooManyProofs { retry_after })
            }
            ReplayVerdict::Unavailable => Err(DpopError::ReplayStoreUnavailable {
                retry_after: Duration::from_secs(1),
            }),
        }
    }
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
        crate::stats::count_with(&self.proofs, label)
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
    keys: KeyCache,
    /// Proof checks by outcome, [`DPOP_OUTCOME_LABELS`] order (bumped on every proof).
    outcomes: PerThreadCounters,
    nonces_issued: AtomicU64,
    /// Whether the last proof that reached the store found it unable to record: the warning is
    /// logged when that starts, not for every refused proof of an outage.
    store_failing: AtomicBool,
}

/// The proof header members we act on; `jku`, `x5u`, `x5c`, `kid` are ignored on purpose.
#[derive(Deserialize)]
struct ProofHeader {
    #[serde(default)]
    jwk: Option<Value>,
}

impl ProofVerifier {
    /// A verifier with the in-memory replay store sized by `config.replay_capacity`.
    pub fn new(config: DpopConfig) -> Result<Self, BuildError> {
        let store = Arc::new(MemoryReplayStore::with_per_key(
            config.replay_capacity,
            config.replay_per_key,
        ));
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
                keys: KeyCache::new(),
                outcomes: PerThreadCounters::new(DPOP_OUTCOME_LABELS.len()),
                nonces_issued: AtomicU64::new(0),
                store_failing: AtomicBool::new(false),
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
        match self.verify_now_at(request, now) {
            ProofAnswer::Ready(answer) => answer,
            ProofAnswer::Record(pending) => pending.record().await,
        }
    }

    /// [`ProofVerifier::verify`] without a future where none is needed: every refusal, and
    /// every verdict when the replay store answers at once (the in-memory store always does),
    /// is [`ProofAnswer::Ready`]; a proof that passed every other check and waits for a store
    /// that must be asked over the network is [`ProofAnswer::Record`]. The checks are the same.
    pub fn verify_now(&self, request: &ProofRequest<'_>) -> ProofAnswer {
        self.verify_now_at(request, now_secs())
    }

    /// [`ProofVerifier::verify_now`] as if the time were `now` (seconds since the epoch).
    pub fn verify_now_at(&self, request: &ProofRequest<'_>, now: f64) -> ProofAnswer {
        let unrecorded = match self.check(request, now) {
            Ok(unrecorded) => unrecorded,
            Err(refusal) => return ProofAnswer::Ready(self.conclude(Err(refusal))),
        };
        let (id, now_ms, expires_at_ms) = unrecorded.slot;
        match self
            .inner
            .store
            .check_and_record_now(id, now_ms, expires_at_ms)
        {
            Some(verdict) => ProofAnswer::Ready(self.conclude(unrecorded.verdict(verdict))),
            None => ProofAnswer::Record(PendingProof {
                verifier: self.clone(),
                unrecorded,
            }),
        }
    }

    /// Counts and logs the outcome of one proof check, and hands it on.
    fn conclude(
        &self,
        result: Result<VerifiedProof, DpopError>,
    ) -> Result<VerifiedProof, DpopError> {
        let index = match &result {
            Ok(_) => 0,
            Err(e) => e.outcome_index(),
        };
        self.inner.outcomes.bump(index);
        match &result {
            Err(DpopError::ReplayStoreUnavailable { .. }) => {
                if !self.inner.store_failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        "DPoP replay store cannot record proofs (full or unreachable); refusing them until it can"
                    );
                }
            }
            Err(e) => tracing::debug!(outcome = e.outcome_label(), "DPoP proof rejected"),
            Ok(_) => {
                if self.inner.store_failing.load(Ordering::Relaxed)
                    && self.inner.store_failing.swap(false, Ordering::Relaxed)
                {
                    tracing::info!("DPoP replay store records proofs again");
                }
            }
        }
        result
    }

    /// Every check but the replay store's, in RFC order; the proof's slot in the store is
    /// the last step, taken by the caller.
    fn check(&self, req: &ProofRequest<'_>, now: f64) -> Result<Unrecorded, DpopError> {
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
        // The header's rules and its `jwk`, imported, once per distinct header (see
        // `key_cache`): both are a function of the header's bytes, so a hit is what the
        // checks and the import would give.
        let header_b64 = proof.split('.').next().unwrap_or_default();
        let import = || {
            let compact = Compact::parse(proof, &config.algorithms).map_err(header_error)?;
            if !is_dpop_typ(compact.typ()) {
                return Err(DpopError::Type);
            }
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
            // Every key `from_jwk` accepts has the members a thumbprint needs.
            let jkt = thumbprint(&jwk).ok_or(DpopError::Key)?;
            Ok(ProofKey::new(key, compact.alg(), jkt))
        };
        inner.keys.with_key(header_b64, import, |proof_key| {
            self.check_signed(req, now, proof, proof_key)
        })
    }

    /// The rest of [`ProofVerifier::check`], with the proof's key: the signature, then the
    /// claims.
    fn check_signed(
        &self,
        req: &ProofRequest<'_>,
        now: f64,
        proof: &str,
        proof_key: &ProofKey,
    ) -> Result<Unrecorded, DpopError> {
        let inner = &*self.inner;
        let config = &inner.config;
        let compact = Compact::with_checked_header(proof, proof_key.alg).map_err(header_error)?;
        compact
            .verify_signature(&proof_key.key)
            .map_err(|e| match e {
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
        // Checked as UTF-8 once here, so that the parser need not check each string again.
        let claims: ProofClaims<'_> = std::str::from_utf8(&payload)
            .ok()
            .and_then(|text| serde_json::from_str(text).ok())
            .ok_or(DpopError::Malformed("claims"))?;

        let jti = match &claims.jti {
            Some(ClaimValue::Str(jti)) if !jti.is_empty() => jti.as_ref(),
            _ => return Err(DpopError::Claim("jti")),
        };
        if jti.len() > config.max_jti_bytes {
            return Err(DpopError::JtiTooLong);
        }
        match &claims.htm {
            Some(ClaimValue::Str(htm)) if htm == req.method => {}
            Some(ClaimValue::Str(_)) => return Err(DpopError::Method),
            _ => return Err(DpopError::Claim("htm")),
        }
        let Some(ClaimValue::Str(htu)) = &claims.htu else {
            return Err(DpopError::Claim("htu"));
        };
        // The request's own text needs one normalisation, only to know that it is a URI.
        let same_uri = if htu == req.uri {
            uri::is_uri(htu)
        } else {
            matches!(
                (uri::normalize(htu), uri::normalize(req.uri)),
                (Some(claimed), Some(actual)) if claimed == actual
            )
        };
        if !same_uri {
            return Err(DpopError::Uri);
        }
        let iat = match &claims.iat {
            Some(ClaimValue::Num(n)) if n.is_finite() => *n,
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
                Some(ClaimValue::Str(ath)) if is_access_token_hash(ath, token) => {}
                _ => return Err(DpopError::AccessTokenHash),
            }
        }
        let mut next_nonce = None;
        if let Some(nonces) = &inner.nonces {
            let now_whole = now as u64;
            let check = match &claims.nonce {
                Some(ClaimValue::Str(nonce)) => nonces.check(nonce, now_whole),
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
        let jkt = proof_key.jkt.as_str();
        if let Some(bound) = req.jkt
            && bound != jkt
        {
            return Err(DpopError::KeyMismatch);
        }
        // The id is kept until the proof's own window ends (`iat` + max age: after that it is
        // refused as stale anyway), never longer than the whole window from now.
        let now_ms = (now.max(0.0) * 1000.0) as u64;
        let window_end_ms = ((iat + config.max_age.as_secs_f64()).max(0.0) * 1000.0).ceil() as u64;
        let expires_at_ms = window_end_ms
            .saturating_add(1)
            .min(now_ms.saturating_add(config.replay_window().as_millis() as u64));
        let id = ProofId::with_key_digest(proof_key.jkt_digest, jkt, jti);
        Ok(Unrecorded {
            slot: (id, now_ms, expires_at_ms),
            next_nonce,
            jkt: jkt.to_owned(),
        })
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> DpopStats {
        DpopStats {
            proofs: DPOP_OUTCOME_LABELS
                .iter()
                .copied()
                .zip(self.inner.outcomes.totals())
                .collect(),
            nonces_issued: self.inner.nonces_issued.load(Ordering::Relaxed),
            replay_entries: self.inner.store.entries(),
        }
    }
}

/// The refusal for a header that breaks the JWS rules.
fn header_error(e: VerifyError) -> DpopError {
    match e {
        VerifyError::Algorithm => DpopError::Algorithm,
        VerifyError::CriticalHeader => DpopError::CriticalHeader,
        _ => DpopError::Malformed("header"),
    }
}

/// `typ` is a media type: case-insensitive, the `application/` prefix optional (RFC 7515 §4.1.9).
fn is_dpop_typ(typ: Option<&str>) -> bool {
    typ.is_some_and(|t| {
        let lower = t.to_ascii_lowercase();
        lower.strip_prefix("application/").unwrap_or(&lower) == "dpop+jwt"
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_support::ClientKey;

    const URI: &str = "https://api.example.com/api/external";
    const NOW: f64 = 1_800_000_000.0;

    /// Checks `proof` for `GET URI` sent with `token`, at `NOW`.
    fn check(verifier: &ProofVerifier, proof: &str, token: &str) -> Result<String, DpopError> {
        let proofs = [proof.as_bytes()];
        let request = ProofRequest {
            proofs: &proofs,
            method: "GET",
            uri: URI,
            access_token: Some(token),
            jkt: None,
        };
        match verifier.verify_now_at(&request, NOW) {
            ProofAnswer::Ready(answer) => answer.map(|p| p.jkt),
            ProofAnswer::Record(_) => panic!("the in-memory store waited"),
        }
    }

    fn proof(key: &ClientKey, jti: &str, token: &str) -> test_support::Proof {
        key.proof("GET", URI)
            .claim("iat", NOW as i64)
            .claim("jti", jti)
            .token(token)
    }

    #[test]
    fn a_header_refused_for_its_typ_is_refused_every_time() {
        let verifier = ProofVerifier::new(DpopConfig::default()).unwrap();
        let key = ClientKey::generate();
        assert!(check(&verifier, &proof(&key, "1", "t").sign(), "t").is_ok());
        for jti in ["2", "3"] {
            let wrong_typ = proof(&key, jti, "t").header("typ", "JWT").sign();
            assert_eq!(check(&verifier, &wrong_typ, "t"), Err(DpopError::Type));
        }
    }

    #[test]
    fn a_known_header_with_a_fourth_segment_is_malformed() {
        let verifier = ProofVerifier::new(DpopConfig::default()).unwrap();
        let key = ClientKey::generate();
        assert!(check(&verifier, &proof(&key, "1", "t").sign(), "t").is_ok());
        let four = format!("{}.eA", proof(&key, "2", "t").sign());
        assert_eq!(
            check(&verifier, &four, "t"),
            Err(DpopError::Malformed("header"))
        );
    }

    #[test]
    fn a_proof_for_the_previous_token_is_refused_with_the_next() {
        let verifier = ProofVerifier::new(DpopConfig::default()).unwrap();
        let key = ClientKey::generate();
        assert!(check(&verifier, &proof(&key, "1", "first").sign(), "first").is_ok());
        assert_eq!(
            check(&verifier, &proof(&key, "2", "first").sign(), "second"),
            Err(DpopError::AccessTokenHash)
        );
        assert!(check(&verifier, &proof(&key, "3", "second").sign(), "second").is_ok());
    }

    #[test]
    fn dpop_typ_is_a_case_insensitive_media_type() {
        assert!(is_dpop_typ(Some("dpop+jwt")));
        assert!(is_dpop_typ(Some("application/DPoP+JWT")));
        assert!(!is_dpop_typ(Some("JWT")));
        assert!(!is_dpop_typ(None));
    }
}
