//! DPoP proof verification (RFC 9449 §4.3): one test per rule.
//!
//! Proofs come from `test_support`, built by hand with aws-lc-rs signers and our own JSON; the
//! thumbprint and `ath` the tests expect are computed there too, so the module is checked
//! against an independent reading of the RFC, not against itself.

use std::sync::Arc;
use std::time::Duration;

use auth::Algorithm;
use auth::dpop::{
    DpopConfig, DpopError, MemoryReplayStore, NonceSettings, ProofAnswer, ProofId, ProofRequest,
    ProofVerifier, ReplayFuture, ReplayStore, ReplayVerdict, VerifiedProof,
};
use proptest::prelude::*;
use serde_json::json;
use test_support::{ClientKey, Proof, ath};
use wiremock::matchers::any as any_request;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const NOW: f64 = 1_800_000_000.0;
const URI: &str = "https://api.example.com/api/external";
const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";

/// A proof by `key` for `GET URI` with `TOKEN`, issued at `NOW`.
fn proof_by(key: &ClientKey) -> Proof {
    key.proof("GET", URI).claim("iat", NOW as i64).token(TOKEN)
}

/// A proof by a fresh P-256 key.
fn es256() -> Proof {
    proof_by(&ClientKey::generate())
}

/// A proof by an RSA fixture key (RS256 unless the header says otherwise).
fn rsa(n: usize) -> Proof {
    proof_by(&ClientKey::from_key(SigningKey::rsa(n, "c")))
}

fn verifier() -> ProofVerifier {
    ProofVerifier::new(DpopConfig::default()).unwrap()
}

fn verifier_with(config: DpopConfig) -> ProofVerifier {
    ProofVerifier::new(config).unwrap()
}

/// A `GET URI` request with `TOKEN`, `proofs` and the binding `jkt`.
fn get<'a>(proofs: &'a [&'a [u8]], jkt: Option<&'a str>) -> ProofRequest<'a> {
    ProofRequest {
        proofs,
        method: "GET",
        uri: URI,
        access_token: Some(TOKEN),
        jkt,
    }
}

async fn check_with(
    verifier: &ProofVerifier,
    proofs: &[&str],
    jkt: Option<&str>,
) -> Result<String, DpopError> {
    let proofs: Vec<&[u8]> = proofs.iter().map(|p| p.as_bytes()).collect();
    let request = get(&proofs, jkt);
    verifier.verify_at(&request, NOW).await.map(|v| v.jkt)
}

/// Checks one unbound proof for `GET URI` with `TOKEN` at time `at`.
async fn check_at(
    verifier: &ProofVerifier,
    proof: &str,
    at: f64,
) -> Result<VerifiedProof, DpopError> {
    verifier
        .verify_at(&get(&[proof.as_bytes()], None), at)
        .await
}

/// The nonce a verifier with nonces on hands out with its refusal of a proof without one.
async fn nonce_from(verifier: &ProofVerifier) -> String {
    let refusal = check_with(verifier, &[&es256().sign()], None).await;
    refusal.unwrap_err().nonce().unwrap().to_owned()
}

/// Checks `proof` with a fresh default verifier, bound to the proof's own key.
async fn check(proof: &Proof) -> Result<String, DpopError> {
    check_with(&verifier(), &[&proof.sign()], Some(&proof.jkt())).await
}

#[tokio::test]
async fn a_valid_es256_proof_passes_and_names_its_key_thumbprint() {
    let proof = es256();
    assert_eq!(check(&proof).await, Ok(proof.jkt()));
}

#[tokio::test]
async fn no_proof_is_missing() {
    assert_eq!(
        check_with(&verifier(), &[], None).await,
        Err(DpopError::Missing)
    );
}

#[tokio::test]
async fn two_proof_headers_are_refused() {
    let a = es256().sign();
    let b = es256().sign();
    assert_eq!(
        check_with(&verifier(), &[&a, &b], None).await,
        Err(DpopError::Multiple)
    );
}

#[tokio::test]
async fn two_proofs_folded_into_one_header_are_refused() {
    let folded = format!("{}, {}", es256().sign(), es256().sign());
    assert_eq!(
        check_with(&verifier(), &[&folded], None).await,
        Err(DpopError::Multiple)
    );
}

#[tokio::test]
async fn an_oversized_proof_is_refused_before_parsing() {
    let proof = es256().claim("pad", json!("x".repeat(9000)));
    assert_eq!(check(&proof).await, Err(DpopError::TooLarge));
}

#[tokio::test]
async fn a_non_jws_proof_is_malformed() {
    for junk in ["", "abc", "a.b", "a.b.c.d", "!!.??.##"] {
        assert!(
            matches!(
                check_with(&verifier(), &[junk], None).await,
                Err(DpopError::Malformed(_))
            ),
            "{junk:?}"
        );
    }
}

#[tokio::test]
async fn typ_other_than_dpop_jwt_is_refused() {
    let proof = es256().header("typ", json!("JWT"));
    assert_eq!(check(&proof).await, Err(DpopError::Type));
}

#[tokio::test]
async fn missing_typ_is_refused() {
    let proof = es256().without_header("typ");
    assert_eq!(check(&proof).await, Err(DpopError::Type));
}

#[tokio::test]
async fn alg_none_is_refused() {
    let proof = es256().header("alg", json!("none"));
    let unsigned = proof.with_signature(&[]);
    assert_eq!(
        check_with(&verifier(), &[&unsigned], None).await,
        Err(DpopError::Algorithm)
    );
}

#[tokio::test]
async fn hmac_alg_is_refused() {
    let proof = es256().header("alg", json!("HS256"));
    let forged = proof.with_signature(&[0u8; 32]);
    assert_eq!(
        check_with(&verifier(), &[&forged], None).await,
        Err(DpopError::Algorithm)
    );
}

#[tokio::test]
async fn an_algorithm_not_enabled_is_refused() {
    let proof = rsa(0);
    assert_eq!(check(&proof).await, Err(DpopError::Algorithm));
}

#[tokio::test]
async fn alg_that_does_not_fit_the_key_is_refused() {
    let mut proof = es256();
    let rsa = rsa(0);
    proof.header["jwk"] = rsa.key().jwk.clone();
    let config = DpopConfig {
        algorithms: vec![Algorithm::ES256, Algorithm::RS256],
        ..DpopConfig::default()
    };
    assert_eq!(
        check_with(&verifier_with(config), &[&proof.sign()], None).await,
        Err(DpopError::Algorithm)
    );
}

#[tokio::test]
async fn crit_header_is_refused() {
    let proof = es256().header("crit", json!(["exp"]));
    assert_eq!(check(&proof).await, Err(DpopError::CriticalHeader));
}

#[tokio::test]
async fn missing_jwk_is_refused() {
    let proof = es256().without_header("jwk");
    assert_eq!(check(&proof).await, Err(DpopError::Key));
}

#[tokio::test]
async fn a_jwk_with_a_private_member_is_refused() {
    let mut proof = es256();
    proof.header["jwk"]["d"] = json!(b64([7u8; 32]));
    assert_eq!(check(&proof).await, Err(DpopError::PrivateKey));
}

#[tokio::test]
async fn a_symmetric_jwk_is_refused() {
    let proof = es256().header("jwk", json!({"kty":"oct","k":"c2VjcmV0"}));
    assert_eq!(check(&proof).await, Err(DpopError::Key));
}

#[tokio::test]
async fn a_bad_signature_is_refused_when_the_key_was_accepted_before() {
    let key = ClientKey::generate();
    let verifier = verifier();
    let first = proof_by(&key).claim("jti", "first").sign();
    assert!(check_with(&verifier, &[&first], None).await.is_ok());
    // The same header (so the same cached key), other claims, the first proof's signature.
    let second = proof_by(&key).claim("jti", "second").sign();
    let (signed_part, _) = second.rsplit_once('.').unwrap();
    let (_, first_signature) = first.rsplit_once('.').unwrap();
    let forged = format!("{signed_part}.{first_signature}");
    assert_eq!(
        check_with(&verifier, &[&forged], None).await,
        Err(DpopError::Signature)
    );
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused_when_the_named_key_was_accepted_before() {
    let victim = ClientKey::generate();
    let verifier = verifier();
    assert!(
        check_with(&verifier, &[&proof_by(&victim).sign()], None)
            .await
            .is_ok()
    );
    let mut proof = proof_by(&ClientKey::generate());
    proof.header["jwk"] = victim.jwk.clone();
    assert_eq!(
        check_with(&verifier, &[&proof.sign()], None).await,
        Err(DpopError::Signature)
    );
}

#[tokio::test]
async fn a_signature_by_another_key_is_refused() {
    let mut proof = es256();
    proof.header["jwk"] = ClientKey::generate().jwk;
    assert_eq!(
        check_with(&verifier(), &[&proof.sign()], None).await,
        Err(DpopError::Signature)
    );
}

#[tokio::test]
async fn key_urls_in_the_header_are_never_fetched() {
    let server = MockServer::start().await;
    Mock::given(any_request())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"keys": []})))
        .expect(0)
        .mount(&server)
        .await;
    let proof = es256()
        .header("jku", json!(format!("{}/jwks.json", server.uri())))
        .header("x5u", json!(format!("{}/cert.pem", server.uri())));
    assert_eq!(check(&proof).await, Ok(proof.jkt()));
    server.verify().await;
}

#[tokio::test]
async fn a_claims_set_that_is_a_json_array_is_malformed() {
    let mut proof = es256();
    // jti, htm, htu, iat, ath in the order a positional parser reads them.
    proof.claims = json!(["jti-array", "GET", URI, NOW as i64, ath(TOKEN)]);
    assert_eq!(check(&proof).await, Err(DpopError::Malformed("claims")));
}

#[tokio::test]
async fn missing_jti_is_refused() {
    let proof = es256().without_claim("jti");
    assert_eq!(check(&proof).await, Err(DpopError::Claim("jti")));
}

#[tokio::test]
async fn an_overlong_jti_is_refused() {
    let proof = es256().claim("jti", json!("j".repeat(129)));
    assert_eq!(check(&proof).await, Err(DpopError::JtiTooLong));
}

#[tokio::test]
async fn htm_other_than_the_method_is_refused() {
    for htm in ["POST", "get"] {
        let proof = es256().claim("htm", json!(htm));
        assert_eq!(check(&proof).await, Err(DpopError::Method), "{htm}");
    }
}

#[tokio::test]
async fn a_jti_that_is_an_object_is_refused_as_a_wrong_claim() {
    let proof = es256().claim("jti", json!({"id": ["a", 1, null]}));
    assert_eq!(check(&proof).await, Err(DpopError::Claim("jti")));
}

#[tokio::test]
async fn an_htm_that_is_an_array_is_refused_as_a_wrong_claim() {
    let proof = es256().claim("htm", json!(["GET"]));
    assert_eq!(check(&proof).await, Err(DpopError::Claim("htm")));
}

#[tokio::test]
async fn an_htu_written_with_json_escapes_is_read_unescaped() {
    let key = ClientKey::generate();
    let proof = proof_by(&key).claim("htu", URI);
    let text = proof
        .claims
        .to_string()
        .replace("/api/external", "\\/api\\/external");
    assert!(text.contains(r"\/api\/external"));
    let escaped = key.signing_key().sign_bytes(&proof.header, text.as_bytes());
    assert_eq!(
        check_with(&verifier(), &[&escaped], Some(&key.jkt)).await,
        Ok(key.jkt.clone())
    );
}

#[tokio::test]
async fn missing_htm_is_refused() {
    let proof = es256().without_claim("htm");
    assert_eq!(check(&proof).await, Err(DpopError::Claim("htm")));
}

#[tokio::test]
async fn htu_of_another_uri_is_refused() {
    for htu in [
        "https://api.example.com/api/private-scoped",
        "https://evil.example/api/external",
        "http://api.example.com/api/external",
        "https://api.example.com:8443/api/external",
        "/api/external",
    ] {
        let proof = es256().claim("htu", json!(htu));
        assert_eq!(check(&proof).await, Err(DpopError::Uri), "{htu}");
    }
}

#[tokio::test]
async fn htu_is_compared_after_normalisation_without_query_or_fragment() {
    for htu in [
        "HTTPS://API.EXAMPLE.COM/api/external",
        "https://api.example.com:443/api/external",
        "https://api.example.com/api/./external",
        "https://api.example.com/api/%65xternal",
        "https://api.example.com/api/external?x=1#f",
    ] {
        let proof = es256().claim("htu", json!(htu));
        assert_eq!(check(&proof).await, Ok(proof.jkt()), "{htu}");
    }
}

#[tokio::test]
async fn an_iat_older_than_the_window_is_refused() {
    let proof = es256().claim("iat", json!(NOW as i64 - 61));
    assert_eq!(check(&proof).await, Err(DpopError::Stale));
}

#[tokio::test]
async fn an_iat_inside_the_window_passes() {
    for offset in [-59, 0, 29] {
        let proof = es256().claim("iat", json!(NOW as i64 + offset));
        assert_eq!(check(&proof).await, Ok(proof.jkt()), "{offset}");
    }
}

#[tokio::test]
async fn an_iat_beyond_the_future_leeway_is_refused() {
    let proof = es256().claim("iat", json!(NOW as i64 + 31));
    assert_eq!(check(&proof).await, Err(DpopError::IssuedInFuture));
}

#[tokio::test]
async fn a_non_numeric_iat_is_refused() {
    let proof = es256().claim("iat", json!(NOW.to_string()));
    assert_eq!(check(&proof).await, Err(DpopError::Claim("iat")));
}

#[tokio::test]
async fn missing_ath_is_refused_when_a_token_is_presented() {
    let proof = es256().without_claim("ath");
    assert_eq!(check(&proof).await, Err(DpopError::AccessTokenHash));
}

#[tokio::test]
async fn ath_of_another_token_is_refused() {
    let proof = es256().claim("ath", json!(ath("another.token.x")));
    assert_eq!(check(&proof).await, Err(DpopError::AccessTokenHash));
}

#[tokio::test]
async fn at_a_token_endpoint_no_ath_is_needed() {
    let proof = es256().without_claim("ath");
    let signed = proof.sign();
    let request = ProofRequest {
        proofs: &[signed.as_bytes()],
        method: "GET",
        uri: URI,
        access_token: None,
        jkt: None,
    };
    let result = verifier().verify_at(&request, NOW).await;
    assert_eq!(result.map(|v| v.jkt), Ok(proof.jkt()));
}

#[tokio::test]
async fn a_key_other_than_the_bound_one_is_refused() {
    let proof = es256();
    let other = es256().jkt();
    assert_eq!(
        check_with(&verifier(), &[&proof.sign()], Some(&other)).await,
        Err(DpopError::KeyMismatch)
    );
}

#[tokio::test]
async fn the_same_proof_twice_is_a_replay() {
    let verifier = verifier();
    let proof = es256();
    let signed = proof.sign();
    assert_eq!(
        check_with(&verifier, &[&signed], None).await,
        Ok(proof.jkt())
    );
    assert_eq!(
        check_with(&verifier, &[&signed], None).await,
        Err(DpopError::Replayed)
    );
    let stats = verifier.stats();
    assert_eq!(stats.proofs_with("ok"), 1);
    assert_eq!(stats.proofs_with("replayed"), 1);
}

#[tokio::test]
async fn a_new_proof_with_a_used_jti_of_the_same_key_is_a_replay() {
    let verifier = verifier();
    let first = es256().claim("jti", json!("same"));
    let mut second = proof_by(first.key()).claim("jti", json!("same"));
    second.claims["iat"] = json!(NOW as i64 - 1);
    assert!(check_with(&verifier, &[&first.sign()], None).await.is_ok());
    assert_eq!(
        check_with(&verifier, &[&second.sign()], None).await,
        Err(DpopError::Replayed)
    );
}

#[tokio::test]
async fn the_same_jti_under_another_key_is_not_a_replay() {
    let verifier = verifier();
    let a = es256().claim("jti", json!("same"));
    let b = es256().claim("jti", json!("same"));
    assert!(check_with(&verifier, &[&a.sign()], None).await.is_ok());
    assert!(check_with(&verifier, &[&b.sign()], None).await.is_ok());
}

#[tokio::test]
async fn a_refused_proof_does_not_take_a_replay_slot() {
    let verifier = verifier();
    let proof = es256();
    let wrong_key = es256().jkt();
    assert_eq!(
        check_with(&verifier, &[&proof.sign()], Some(&wrong_key)).await,
        Err(DpopError::KeyMismatch)
    );
    assert_eq!(verifier.stats().replay_entries, Some(0));
}

#[tokio::test]
async fn a_full_replay_store_fails_closed() {
    let store = Arc::new(MemoryReplayStore::new(16));
    let verifier = ProofVerifier::with_store(DpopConfig::default(), store.clone()).unwrap();
    let key = ClientKey::generate();
    let mut refused = None;
    for _ in 0..400 {
        let proof = proof_by(&key);
        match check_with(&verifier, &[&proof.sign()], None).await {
            Ok(_) => {}
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    assert!(matches!(
        refused,
        Some(DpopError::ReplayStoreUnavailable { .. })
    ));
    assert!(verifier.stats().replay_entries.unwrap() <= store.capacity());
    assert_eq!(verifier.stats().proofs_with("replay_store_unavailable"), 1);
}

#[tokio::test]
async fn a_key_over_its_replay_bound_gets_too_many_proofs_and_other_keys_pass() {
    let config = DpopConfig {
        replay_per_key: 3,
        ..DpopConfig::default()
    };
    let verifier = verifier_with(config);
    let key = ClientKey::generate();
    for _ in 0..3 {
        assert!(
            check_with(&verifier, &[&proof_by(&key).sign()], None)
                .await
                .is_ok()
        );
    }
    assert_eq!(
        check_with(&verifier, &[&proof_by(&key).sign()], None).await,
        Err(DpopError::TooManyProofs {
            retry_after: Duration::from_millis(60_001)
        })
    );
    assert!(
        check_with(&verifier, &[&es256().sign()], None)
            .await
            .is_ok()
    );
    assert_eq!(verifier.stats().proofs_with("too_many_proofs"), 1);
}

/// Records what the verifier asks of a store, and answers fresh.
#[derive(Debug, Default)]
struct RecordingStore(std::sync::Mutex<Vec<(u64, u64)>>);

impl ReplayStore for RecordingStore {
    fn check_and_record(&self, _: ProofId, now_ms: u64, expires_at_ms: u64) -> ReplayFuture<'_> {
        self.0.lock().unwrap().push((now_ms, expires_at_ms));
        Box::pin(std::future::ready(ReplayVerdict::Fresh))
    }
}

#[tokio::test]
async fn a_proof_id_is_kept_until_its_own_window_ends_and_never_longer_than_the_window() {
    let store = Arc::new(RecordingStore::default());
    let verifier = ProofVerifier::with_store(DpopConfig::default(), store.clone()).unwrap();
    let older = es256().claim("iat", NOW as i64 - 20);
    let ahead = es256().claim("iat", NOW as i64 + 30);
    assert!(check_with(&verifier, &[&older.sign()], None).await.is_ok());
    assert!(check_with(&verifier, &[&ahead.sign()], None).await.is_ok());
    let now_ms = NOW as u64 * 1000;
    assert_eq!(
        *store.0.lock().unwrap(),
        [(now_ms, now_ms + 40_001), (now_ms, now_ms + 90_000)]
    );
}

/// `proof` checked for `GET URI` with `TOKEN` at `NOW`, without waiting.
fn check_now(verifier: &ProofVerifier, proof: &str) -> ProofAnswer {
    verifier.verify_now_at(&get(&[proof.as_bytes()], None), NOW)
}

#[test]
fn a_proof_is_answered_at_once_with_the_memory_store() {
    let proof = es256();
    match check_now(&verifier(), &proof.sign()) {
        ProofAnswer::Ready(answer) => assert_eq!(answer.map(|v| v.jkt), Ok(proof.jkt())),
        ProofAnswer::Record(_) => panic!("the in-memory store was not asked at once"),
    }
}

#[tokio::test]
async fn a_proof_for_a_store_that_must_be_awaited_is_counted_once_recorded() {
    let store = Arc::new(RecordingStore::default());
    let verifier = ProofVerifier::with_store(DpopConfig::default(), store.clone()).unwrap();
    let proof = es256();
    let ProofAnswer::Record(pending) = check_now(&verifier, &proof.sign()) else {
        panic!("a store without an answer at once was not awaited");
    };
    assert_eq!(verifier.stats().proofs_with("ok"), 0);
    assert!(store.0.lock().unwrap().is_empty());
    assert_eq!(pending.record().await.map(|v| v.jkt), Ok(proof.jkt()));
    assert_eq!(verifier.stats().proofs_with("ok"), 1);
    assert_eq!(store.0.lock().unwrap().len(), 1);
}

#[test]
fn a_refused_proof_is_answered_at_once_without_asking_the_store() {
    let store = Arc::new(RecordingStore::default());
    let verifier = ProofVerifier::with_store(DpopConfig::default(), store.clone()).unwrap();
    let for_post = ClientKey::generate()
        .proof("POST", URI)
        .claim("iat", NOW as i64)
        .token(TOKEN);
    match check_now(&verifier, &for_post.sign()) {
        ProofAnswer::Ready(answer) => assert_eq!(answer, Err(DpopError::Method)),
        ProofAnswer::Record(_) => panic!("a refused proof went to the store"),
    }
    assert!(store.0.lock().unwrap().is_empty());
    assert_eq!(verifier.stats().proofs_with("method"), 1);
}

#[tokio::test]
async fn other_enabled_algorithms_pass() {
    let config = DpopConfig {
        algorithms: vec![
            Algorithm::ES256,
            Algorithm::ES384,
            Algorithm::PS256,
            Algorithm::RS256,
            Algorithm::EdDSA,
        ],
        ..DpopConfig::default()
    };
    let verifier = verifier_with(config);
    for (proof, name) in [
        (rsa(1), "RS256"),
        (rsa(1).header("alg", json!("PS256")), "PS256"),
        (
            proof_by(&ClientKey::from_key(SigningKey::ed25519("c"))),
            "EdDSA",
        ),
        (
            proof_by(&ClientKey::from_key(SigningKey::es384("c"))),
            "ES384",
        ),
    ] {
        assert_eq!(
            check_with(&verifier, &[&proof.sign()], None).await,
            Ok(proof.jkt()),
            "{name}"
        );
    }
}

fn nonce_config(secret: &[u8]) -> DpopConfig {
    DpopConfig {
        nonce: Some(NonceSettings {
            secret: secret.to_vec(),
            slot: Duration::from_secs(60),
        }),
        ..DpopConfig::default()
    }
}

const SECRET: &[u8] = b"a shared nonce secret, 32+ bytes";

#[tokio::test]
async fn with_nonces_on_a_proof_without_nonce_gets_one() {
    let verifier = verifier_with(nonce_config(SECRET));
    let proof = es256();
    let err = check_with(&verifier, &[&proof.sign()], None)
        .await
        .unwrap_err();
    assert!(matches!(err, DpopError::UseNonce { .. }), "{err:?}");
    assert_eq!(err.code().as_str(), "use_dpop_nonce");
    assert!(err.nonce().is_some_and(|n| !n.is_empty()));
}

#[tokio::test]
async fn the_nonce_round_trip_passes() {
    let verifier = verifier_with(nonce_config(SECRET));
    let nonce = nonce_from(&verifier).await;
    let proof = es256().claim("nonce", json!(nonce));
    assert_eq!(
        check_with(&verifier, &[&proof.sign()], None).await,
        Ok(proof.jkt())
    );
}

#[tokio::test]
async fn a_nonce_from_the_previous_slot_passes_with_a_new_nonce() {
    let verifier = verifier_with(nonce_config(SECRET));
    let old = nonce_from(&verifier).await;
    let later = NOW + 60.0;
    let proof = es256()
        .claim("nonce", json!(old))
        .claim("iat", json!(later as i64));
    let verified = check_at(&verifier, &proof.sign(), later).await.unwrap();
    let next = verified.next_nonce.expect("a new nonce for the new slot");
    assert_ne!(next, old);
}

#[tokio::test]
async fn a_nonce_two_slots_old_is_refused_with_a_new_one() {
    let verifier = verifier_with(nonce_config(SECRET));
    let old = nonce_from(&verifier).await;
    let later = NOW + 120.0;
    let proof = es256()
        .claim("nonce", json!(old))
        .claim("iat", json!(later as i64));
    let err = check_at(&verifier, &proof.sign(), later).await.unwrap_err();
    assert!(err.nonce().is_some_and(|n| n != old), "{err:?}");
}

#[tokio::test]
async fn replicas_sharing_the_nonce_secret_accept_each_others_nonces() {
    let a = verifier_with(nonce_config(SECRET));
    let b = verifier_with(nonce_config(SECRET));
    let stranger = verifier_with(nonce_config(b"another secret, also 32 bytes!!!"));
    let nonce = nonce_from(&a).await;
    let proof = es256().claim("nonce", json!(nonce)).sign();
    assert!(
        check_with(&stranger, &[&proof], None)
            .await
            .is_err_and(|e| e.nonce().is_some())
    );
    assert!(check_with(&b, &[&proof], None).await.is_ok());
}

#[tokio::test]
async fn issued_nonces_are_counted() {
    let verifier = verifier_with(nonce_config(SECRET));
    assert!(verifier.issue_nonce().is_some());
    assert!(
        check_with(&verifier, &[&es256().sign()], None)
            .await
            .is_err()
    );
    assert_eq!(verifier.stats().nonces_issued, 2);
    assert_eq!(verifier.stats().proofs_with("use_nonce"), 1);
}

#[tokio::test]
async fn a_nonce_claim_is_ignored_when_nonces_are_off() {
    let proof = es256().claim("nonce", json!("whatever"));
    assert_eq!(check(&proof).await, Ok(proof.jkt()));
}

// Property tests: arbitrary and mutated proofs never panic and never pass.

struct Fixture {
    runtime: tokio::runtime::Runtime,
    verifier: ProofVerifier,
    proof: String,
    jkt: String,
}

static FIXTURE: std::sync::LazyLock<Fixture> = std::sync::LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let proof = es256();
    Fixture {
        runtime,
        // A big store: every case is a new proof id, none may be refused for capacity.
        verifier: verifier_with(DpopConfig {
            replay_capacity: 1 << 20,
            ..DpopConfig::default()
        }),
        jkt: proof.jkt(),
        proof: proof.sign(),
    }
});

fn passes(proof: &str) -> bool {
    let f = &*FIXTURE;
    f.runtime
        .block_on(check_with(&f.verifier, &[proof], Some(&f.jkt)))
        .is_ok()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn arbitrary_strings_never_pass(s in any::<String>()) {
        prop_assert!(!passes(&s));
    }

    #[test]
    fn arbitrary_jws_shaped_strings_never_pass(s in "[A-Za-z0-9_-]{0,300}\\.[A-Za-z0-9_-]{0,300}\\.[A-Za-z0-9_-]{0,100}") {
        prop_assert!(!passes(&s));
    }

    #[test]
    fn a_proof_with_one_character_changed_never_passes(pos in any::<prop::sample::Index>(), c in jws_char()) {
        let mutated = one_character_changed(&FIXTURE.proof, pos, c);
        prop_assume!(mutated != FIXTURE.proof);
        prop_assert!(!passes(&mutated));
    }

    #[test]
    fn a_proof_with_a_cut_or_insertion_never_passes(pos in any::<prop::sample::Index>(), insert in "[A-Za-z0-9_.=-]{0,3}", cut in 0usize..4) {
        let mutated = cut_or_insertion(&FIXTURE.proof, pos, &insert, cut);
        prop_assume!(mutated != FIXTURE.proof);
        prop_assert!(!passes(&mutated));
    }

    #[test]
    fn a_proof_with_arbitrary_claims_under_a_real_signature_never_passes_for_another_request(claims in prop::collection::btree_map("[a-z]{1,4}", any::<i64>(), 0..6)) {
        // Correctly signed, but the claims are junk: no htm/htu/jti of this request.
        let mut proof = es256();
        proof.claims = json!(claims);
        let signed = proof.sign();
        prop_assert!(!passes(&signed));
    }
}
