//! The verified-token cache: hits skip the signature, never outlive the token or its key.

use std::sync::Arc;
use std::time::Duration;

use auth::{Claims, Verifier, VerifyError};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn repeated_token_is_served_from_the_cache() {
    let (v, first, second) = verified_twice().await;
    assert_eq!(v.stats().token_cache_hits, 1);
    assert_eq!(first.sub, second.sub);
    assert_eq!(v.token_cache_len(), 1);
}

#[tokio::test]
async fn a_cache_hit_hands_out_the_claims_parsed_at_verification() {
    let (_v, first, second) = verified_twice().await;
    assert!(std::sync::Arc::ptr_eq(&first, &second));
}

/// The verifier of [`one_rsa_key`] and its two answers for one valid token.
async fn verified_twice() -> (Verifier, Arc<Claims>, Arc<Claims>) {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims());
    let first = v.verify(&token).await.unwrap();
    let second = v.verify(&token).await.unwrap();
    (v, first, second)
}

#[tokio::test]
async fn verify_now_answers_a_token_the_cache_holds_and_counts_it() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims());
    let verified = v.verify(&token).await.unwrap();
    let answer = v.verify_now(&token).expect("answered").unwrap();
    assert!(std::sync::Arc::ptr_eq(&verified, &answer));
    assert_eq!(v.stats().token_cache_hits, 1);
    assert_eq!(v.stats().verifications_with("ok"), 2);
}

#[tokio::test]
async fn verify_now_verifies_a_token_never_seen_when_its_key_is_at_hand() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims());
    let answer = v.verify_now(&token).expect("answered").unwrap();
    assert_eq!(answer.sub.as_deref(), Some("auth0|alice"));
    assert_eq!(v.stats().verifications_with("ok"), 1);
    assert_eq!(v.stats().token_cache_hits, 0);
    assert_eq!(v.token_cache_len(), 1);
}

#[tokio::test]
async fn a_token_verified_after_its_key_was_fetched_is_cached_and_hit_next_time() {
    let (old, new) = (SigningKey::rsa(0, "old"), SigningKey::rsa(1, "new"));
    let (issuer, v) = serving(&[&old], |_| {}).await;
    issuer.serve(&[&old, &new]);
    let token = new.sign(&issuer.claims());
    assert!(v.verify_now(&token).is_none(), "its key needs a fetch");
    let verified = v.verify(&token).await.unwrap();
    assert_eq!(v.token_cache_len(), 1);
    let answer = v.verify_now(&token).expect("answered").unwrap();
    assert!(std::sync::Arc::ptr_eq(&verified, &answer));
    assert_eq!(v.stats().token_cache_hits, 1);
}

#[tokio::test]
async fn verify_now_refuses_a_bad_signature_at_once() {
    let (issuer, _key, v) = one_rsa_key().await;
    let token = SigningKey::rsa(1, "k1").sign(&issuer.claims());
    assert_eq!(
        v.verify_now(&token).map(|answer| answer.unwrap_err()),
        Some(VerifyError::Signature)
    );
    assert_eq!(v.token_cache_len(), 0);
}

#[tokio::test]
async fn verify_now_leaves_a_token_whose_kid_needs_a_fetch_to_verify() {
    let (issuer, _key, v) = one_rsa_key().await;
    let token = SigningKey::rsa(1, "k2").sign(&issuer.claims());
    let fetches = v.stats().jwks_fetches;
    assert!(v.verify_now(&token).is_none());
    assert_eq!(v.stats().verifications_with("ok"), 0);
    assert_eq!(v.stats().verifications_with("unknown_key"), 0);
    assert_eq!(
        v.stats().jwks_fetches,
        fetches,
        "verify_now fetched nothing"
    );
}

#[tokio::test]
async fn verify_now_refuses_an_oversized_token_at_once() {
    let (_issuer, _key, v) = one_rsa_key().await;
    let token = "a".repeat(64 * 1024);
    assert_eq!(
        v.verify_now(&token).map(|answer| answer.unwrap_err()),
        Some(VerifyError::TooLarge)
    );
}

#[tokio::test]
async fn verify_as_reads_the_callers_type_on_a_cache_hit_too() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims_with("tenant", json!("acme")));
    v.verify(&token).await.unwrap();
    let claims: serde_json::Value = v.verify_as(&token).await.unwrap();
    assert_eq!(v.stats().token_cache_hits, 1);
    assert_eq!(claims["tenant"], json!("acme"));
}

#[tokio::test]
async fn cached_token_is_rejected_once_it_expires() {
    let (issuer, key, v) = one_rsa_key_with(|c| c.leeway = Duration::ZERO).await;
    let token = key.sign(&issuer.claims_with("exp", json!(now() + 2)));
    assert!(v.verify(&token).await.is_ok());
    assert_eq!(v.token_cache_len(), 1);
    // Poll (bounded) until the clock passes exp; the cached entry must not outlive it.
    let mut verdict = Ok(());
    for _ in 0..60 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        verdict = v.verify(&token).await.map(|_| ());
        if verdict.is_err() {
            break;
        }
    }
    assert_eq!(verdict, Err(VerifyError::Expired));
    assert_eq!(v.token_cache_len(), 0);
}

/// Verifies `token` and then asks for it `hits` more times, each a cache hit (three or more
/// put it in this thread's own slot, with its own copy of the claims).
async fn verify_then_hit(v: &Verifier, token: &str, hits: u64) {
    for _ in 0..=hits {
        assert!(v.verify(token).await.is_ok());
    }
    assert_eq!(v.stats().token_cache_hits, hits);
}

/// A token of kid `old`, asked for `hits` times from the cache, then rotated out of the set:
/// what the verifier answers for it afterwards, and how many entries are left.
async fn after_its_kid_left_the_set(hits: u64) -> (VerifyError, usize) {
    let (old, new) = (SigningKey::rsa(0, "old"), SigningKey::rsa(1, "new"));
    let (issuer, v) = serving(&[&old], |_| {}).await;
    let old_token = old.sign(&issuer.claims());
    verify_then_hit(&v, &old_token, hits).await;
    issuer.serve(&[&new]);
    assert!(v.verify(&new.sign(&issuer.claims())).await.is_ok());
    let left = v.token_cache_len();
    let answer = refusal(&v, &old_token).await;
    assert_eq!(v.stats().token_cache_hits, hits);
    (answer, left)
}

/// A token of kid `k1`, asked for `hits` times from the cache, then its kid republished with
/// other key material: what the verifier answers for it afterwards.
async fn after_its_kid_names_another_key(hits: u64) -> VerifyError {
    let (first, replacement) = (SigningKey::rsa(0, "k1"), SigningKey::rsa(1, "k1"));
    let (issuer, v) = serving(&[&first], |c| {
        c.cache = fast_cache_lasting(Duration::from_millis(200));
    })
    .await;
    let token = first.sign(&issuer.claims());
    verify_then_hit(&v, &token, hits).await;
    // Same kid, other key material, picked up by the background refresh.
    issuer.serve(&[&replacement]);
    let fetches = issuer.jwks_requests();
    assert!(jwks_requests_reach(&issuer, fetches + 2, Duration::from_secs(3)).await);
    refusal(&v, &token).await
}

#[tokio::test]
async fn entries_of_a_kid_that_left_the_set_are_dropped() {
    // Purged at rotation: only the new token's entry is left.
    assert_eq!(
        after_its_kid_left_the_set(0).await,
        (VerifyError::UnknownKey, 1)
    );
}

#[tokio::test]
async fn cached_token_is_not_served_when_its_kid_now_names_another_key() {
    // One hit: the key is found in the current set, and later hits under that set skip the
    // lookup; the new set must be looked at again.
    assert_eq!(
        after_its_kid_names_another_key(1).await,
        VerifyError::Signature
    );
}

#[tokio::test]
async fn a_token_hit_repeatedly_is_not_served_once_its_kid_left_the_set() {
    assert_eq!(
        after_its_kid_left_the_set(3).await.0,
        VerifyError::UnknownKey
    );
}

#[tokio::test]
async fn a_token_hit_repeatedly_is_not_served_once_its_kid_names_another_key() {
    assert_eq!(
        after_its_kid_names_another_key(3).await,
        VerifyError::Signature
    );
}

#[tokio::test]
async fn cache_can_be_turned_off() {
    let (issuer, key, v) = one_rsa_key_with(|c| c.token_cache_bytes = 0).await;
    let token = key.sign(&issuer.claims());
    for _ in 0..3 {
        assert!(v.verify(&token).await.is_ok());
    }
    assert_eq!(v.stats().token_cache_hits, 0);
    assert_eq!(v.token_cache_len(), 0);
}

#[tokio::test]
async fn a_background_sweep_drops_a_token_that_expired_unasked() {
    let (issuer, key, v) = one_rsa_key_with(|c| {
        c.leeway = Duration::ZERO;
        c.token_cache_sweep_every = Duration::from_millis(50);
    })
    .await;
    let short = key.sign(&issuer.claims_with("exp", json!(now() + 2)));
    let long = key.sign(&issuer.claims());
    assert!(v.verify(&short).await.is_ok());
    assert!(v.verify(&long).await.is_ok());
    assert_eq!(v.token_cache_len(), 2);
    assert!(
        eventually(Duration::from_secs(5), || async {
            v.token_cache_len() == 1
        })
        .await,
        "the expired token is still cached"
    );
}

#[tokio::test]
async fn cache_holds_at_most_its_byte_budget() {
    let (issuer, key, v) = one_rsa_key_with(|c| c.token_cache_bytes = 64 * 1024).await;
    for i in 0..40 {
        let mut claims = issuer.claims_with("pad", json!("x".repeat(4 * 1024)));
        claims["jti"] = json!(i);
        assert!(v.verify(&key.sign(&claims)).await.is_ok());
    }
    assert!(
        v.token_cache_bytes() <= 64 * 1024,
        "{}",
        v.token_cache_bytes()
    );
    assert!(v.token_cache_len() < 16, "{}", v.token_cache_len());
}

#[tokio::test]
async fn large_tokens_are_held_within_the_default_byte_budget() {
    // Near the largest payload the 16 KiB token cap lets through (base64 adds a third).
    const PAYLOAD_BYTES: usize = 11 * 1024;
    const DEFAULT_BUDGET: usize = 16 * 1024 * 1024;
    let (issuer, key, v) = one_rsa_key().await;
    let pad = "x".repeat(PAYLOAD_BYTES);
    // More 11 KiB payloads than fit in 16 MiB; an entry-count bound would keep them all.
    let tokens = DEFAULT_BUDGET / PAYLOAD_BYTES + 200;
    for i in 0..tokens {
        let mut claims = issuer.claims_with("pad", json!(pad));
        claims["jti"] = json!(i);
        assert!(v.verify(&key.sign(&claims)).await.is_ok());
    }
    let held = v.token_cache_len();
    assert!(
        held * PAYLOAD_BYTES <= DEFAULT_BUDGET,
        "{held} entries of 11 KiB"
    );
    assert!(v.token_cache_bytes() <= DEFAULT_BUDGET as u64);
}

#[tokio::test]
async fn cached_token_is_not_served_once_its_key_no_longer_allows_the_alg() {
    let (issuer, key, v) =
        rs256_pinned_key_with(|c| c.cache = fast_cache_lasting(Duration::from_millis(200))).await;
    let token = key.sign(&issuer.claims());
    assert!(v.verify(&token).await.is_ok());
    assert!(v.verify(&token).await.is_ok());
    assert_eq!(v.stats().token_cache_hits, 1);
    // The same key material, now published for PS256 only; picked up by the background refresh.
    issuer.serve_json(json!({"keys": [key.jwk_with("alg", json!("PS256"))]}));
    let hits = issuer.jwks_requests();
    assert!(jwks_requests_reach(&issuer, hits + 2, Duration::from_secs(3)).await);
    assert_eq!(refusal(&v, &token).await, VerifyError::Algorithm);
}

#[tokio::test]
async fn failed_verifications_are_not_cached() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims_with("aud", json!("other")));
    for _ in 0..2 {
        assert_eq!(refusal(&v, &token).await, VerifyError::Audience);
    }
    assert_eq!(v.token_cache_len(), 0);
    assert_eq!(v.stats().token_cache_hits, 0);
}
