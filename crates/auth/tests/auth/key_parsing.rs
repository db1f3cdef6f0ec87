//! Defensive JWKS parsing: which keys are skipped, and what an empty usable set means.

use std::time::Duration;

use auth::VerifyError;
use serde_json::{Value, json};

use crate::helpers::*;

/// Serves `good` plus `bad_jwk` (kid "bad"); returns the verifier's answer for a token
/// signed by `bad` and checks the good key still works.
async fn verdict_for_bad_key(bad: &SigningKey, bad_jwk: Value) -> VerifyError {
    let good = SigningKey::rsa(0, "good");
    let issuer = MockIssuer::start(&[]).await;
    issuer.serve_json(json!({"keys": [good.jwk(), bad_jwk]}));
    let v = ready_verifier_for(&issuer, |c| {
        c.algorithms = vec![auth::Algorithm::RS256, auth::Algorithm::ES256];
    })
    .await;
    assert!(v.verify(&good.sign(&issuer.claims())).await.is_ok());
    refusal(&v, &bad.sign(&issuer.claims())).await
}

#[tokio::test]
async fn key_with_use_enc_is_skipped() {
    let bad = SigningKey::rsa(1, "bad");
    let verdict = verdict_for_bad_key(&bad, bad.jwk_with("use", json!("enc"))).await;
    assert_eq!(verdict, VerifyError::UnknownKey);
}

#[tokio::test]
async fn key_ops_without_verify_is_skipped() {
    let bad = SigningKey::rsa(1, "bad");
    let verdict = verdict_for_bad_key(&bad, bad.jwk_with("key_ops", json!(["encrypt"]))).await;
    assert_eq!(verdict, VerifyError::UnknownKey);
}

#[tokio::test]
async fn key_ops_with_verify_is_used() {
    let key = SigningKey::rsa(1, "k");
    let issuer = MockIssuer::start(&[]).await;
    issuer.serve_json(json!({"keys": [key.jwk_with("key_ops", json!(["verify"]))]}));
    let v = ready_verifier(issuer.config()).await;
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
}

#[tokio::test]
async fn key_with_private_members_is_skipped() {
    let bad = SigningKey::rsa(1, "bad");
    let verdict = verdict_for_bad_key(&bad, bad.jwk_with("d", json!("AQAB"))).await;
    assert_eq!(verdict, VerifyError::UnknownKey);
}

#[tokio::test]
async fn unsupported_curve_is_skipped() {
    let bad = SigningKey::es256("bad");
    let verdict = verdict_for_bad_key(&bad, bad.jwk_with("crv", json!("secp256k1"))).await;
    assert_eq!(verdict, VerifyError::UnknownKey);
}

#[tokio::test]
async fn unsupported_kty_is_skipped() {
    let bad = SigningKey::rsa(1, "bad");
    let verdict = verdict_for_bad_key(&bad, json!({"kty":"oct","kid":"bad","k":"c2VjcmV0"})).await;
    assert_eq!(verdict, VerifyError::UnknownKey);
}

#[tokio::test]
async fn rsa_key_under_2048_bits_is_skipped() {
    let bad = SigningKey::rsa(1, "bad");
    let small = json!({"kty":"RSA","kid":"bad","use":"sig","n": b64([0xc5u8; 128]),"e":"AQAB"});
    assert_eq!(
        verdict_for_bad_key(&bad, small).await,
        VerifyError::UnknownKey
    );
}

#[tokio::test]
async fn every_key_of_a_duplicated_kid_is_skipped() {
    let good = SigningKey::rsa(0, "good");
    let dup_a = SigningKey::rsa(1, "dup");
    let dup_b = SigningKey::rsa(2, "dup");
    let (issuer, v) = serving(&[&good, &dup_a, &dup_b], |_| {}).await;
    assert!(v.verify(&good.sign(&issuer.claims())).await.is_ok());
    // Issued before the set was fetched: the set settles them.
    let issued_earlier = issuer.claims_with("iat", json!(now() - 120));
    for k in [&dup_a, &dup_b] {
        assert_eq!(
            refusal(&v, &k.sign(&issued_earlier)).await,
            VerifyError::UnknownKey
        );
    }
    assert_eq!(v.stats().keys_loaded, 1);
}

#[tokio::test]
async fn a_set_without_usable_keys_is_a_failed_fetch() {
    let issuer = MockIssuer::start(&[]).await;
    issuer.serve_json(json!({"keys":[{"kty":"oct","kid":"s","k":"c2VjcmV0"}]}));
    let v = auth::Verifier::new(issuer.config()).unwrap();
    assert!(
        eventually(Duration::from_secs(5), || async {
            v.stats().jwks_fetch_failures >= 1
        })
        .await
    );
    assert!(!v.is_ready());
    let token = SigningKey::rsa(0, "s").sign(&issuer.claims());
    assert!(matches!(
        refusal(&v, &token).await,
        VerifyError::KeySetUnavailable { .. }
    ));
}

#[tokio::test]
async fn leading_zero_in_the_modulus_is_tolerated() {
    let key = SigningKey::rsa(0, "k");
    let mut jwk = key.jwk();
    let n = base64::Engine::decode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        jwk["n"].as_str().unwrap(),
    )
    .unwrap();
    let mut padded = vec![0u8];
    padded.extend(n);
    jwk["n"] = json!(b64(padded));
    let issuer = MockIssuer::start(&[]).await;
    issuer.serve_json(json!({"keys":[jwk]}));
    let v = ready_verifier(issuer.config()).await;
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
}
