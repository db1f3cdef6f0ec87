//! Claim rules through the whole verifier: iss, aud, exp, nbf, iat, typ, size; typed claims.

use std::sync::Arc;

use auth::{Claims, VerifyError};
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn valid_token_verifies_and_returns_typed_claims() {
    let (issuer, key, v) = one_rsa_key().await;
    let claims = v.verify(&key.sign(&issuer.claims())).await.unwrap();
    assert_eq!(claims.sub.as_deref(), Some("auth0|alice"));
    assert_eq!(claims.iss, issuer.issuer().as_str());
    assert!(claims.has_scope("read:messages"));
    assert!(!claims.has_scope("read"));
    assert_eq!(claims.claim("aud"), Some(json!(AUDIENCE)));
}

#[tokio::test]
async fn verify_as_deserializes_into_the_callers_type() {
    #[derive(serde::Deserialize)]
    struct Mine {
        sub: String,
        tenant: String,
    }
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims_with("tenant", json!("acme")));
    let mine: Mine = v.verify_as(&token).await.unwrap();
    assert_eq!(
        (mine.sub.as_str(), mine.tenant.as_str()),
        ("auth0|alice", "acme")
    );
}

#[tokio::test]
async fn permissions_claim_is_typed() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims_with("permissions", json!(["read:messages"])));
    let claims = v.verify(&token).await.unwrap();
    assert!(claims.has_permission("read:messages"));
}

#[tokio::test]
async fn expired_token_is_rejected() {
    let err = refusal_with("exp", json!(now() - 120)).await;
    assert_eq!(err, VerifyError::Expired);
}

#[tokio::test]
async fn expiry_within_the_leeway_is_accepted() {
    assert!(verified_with("exp", json!(now() - 10)).await.is_ok());
}

#[tokio::test]
async fn not_yet_valid_token_is_rejected() {
    let err = refusal_with("nbf", json!(now() + 120)).await;
    assert_eq!(err, VerifyError::NotYetValid);
}

#[tokio::test]
async fn token_issued_in_the_future_is_rejected() {
    let err = refusal_with("iat", json!(now() + 120)).await;
    assert_eq!(err, VerifyError::IssuedInFuture);
}

#[tokio::test]
async fn wrong_issuer_is_rejected() {
    let err = refusal_with("iss", json!("https://evil.example/")).await;
    assert_eq!(err, VerifyError::Issuer);
}

#[tokio::test]
async fn issuer_without_trailing_slash_is_rejected() {
    let (issuer, key, v) = one_rsa_key().await;
    let iss = issuer.issuer().as_str().trim_end_matches('/').to_owned();
    let token = key.sign(&issuer.claims_with("iss", json!(iss)));
    assert_eq!(refusal(&v, &token).await, VerifyError::Issuer);
}

#[tokio::test]
async fn missing_issuer_is_rejected() {
    let err = refusal_without("iss").await;
    assert_eq!(err, VerifyError::Claim("iss"));
}

#[tokio::test]
async fn wrong_audience_is_rejected() {
    let err = refusal_with("aud", json!("https://other.api")).await;
    assert_eq!(err, VerifyError::Audience);
}

#[tokio::test]
async fn missing_audience_is_rejected() {
    let err = refusal_without("aud").await;
    assert_eq!(err, VerifyError::Claim("aud"));
}

#[tokio::test]
async fn audience_array_containing_ours_is_accepted() {
    let aud = json!(["https://tenant/userinfo", AUDIENCE]);
    assert!(verified_with("aud", aud).await.is_ok());
}

#[tokio::test]
async fn audience_array_without_ours_is_rejected() {
    let err = refusal_with("aud", json!(["a", "b"])).await;
    assert_eq!(err, VerifyError::Audience);
}

#[tokio::test]
async fn missing_exp_is_rejected() {
    let err = refusal_without("exp").await;
    assert_eq!(err, VerifyError::Claim("exp"));
}

#[tokio::test]
async fn oversized_token_is_rejected_before_decoding() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims_with("pad", json!("x".repeat(17 * 1024))));
    assert_eq!(refusal(&v, &token).await, VerifyError::TooLarge);
    // Garbage of the same size is refused the same way: nothing was decoded.
    assert_eq!(
        refusal(&v, &"!".repeat(17 * 1024)).await,
        VerifyError::TooLarge
    );
}

#[tokio::test]
async fn strict_mode_rejects_typ_jwt_and_accepts_at_jwt() {
    let (issuer, key, v) = one_rsa_key_with(|c| c.require_at_jwt = true).await;
    let jwt = key.sign(&issuer.claims());
    assert_eq!(refusal(&v, &jwt).await, VerifyError::UnsupportedType);
    let at_jwt = TokenBuilder::new(&key, issuer.claims()).header("typ", "at+jwt");
    assert!(v.verify(&at_jwt.sign()).await.is_ok());
}

#[tokio::test]
async fn foreign_typ_is_rejected() {
    let err = refusal_with_header("typ", "logout+jwt").await;
    assert_eq!(err, VerifyError::UnsupportedType);
}

#[tokio::test]
async fn tampered_payload_fails_the_signature() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims());
    let parts: Vec<&str> = token.split('.').collect();
    let forged = b64(issuer.claims_with("scope", json!("admin")).to_string());
    let tampered = format!("{}.{}.{}", parts[0], forged, parts[2]);
    assert_eq!(refusal(&v, &tampered).await, VerifyError::Signature);
}

#[tokio::test]
async fn outcomes_are_counted_by_label() {
    let (issuer, key, v) = one_rsa_key().await;
    v.verify(&key.sign(&issuer.claims())).await.unwrap();
    let _ = v
        .verify(&key.sign(&issuer.claims_with("exp", json!(now() - 120))))
        .await;
    let _ = v.verify("not-a-token").await;
    let stats = v.stats();
    assert_eq!(stats.verifications_with("ok"), 1);
    assert_eq!(stats.verifications_with("expired"), 1);
    assert_eq!(stats.verifications_with("malformed"), 1);
    assert_eq!(stats.keys_loaded, 1);
    assert!(stats.key_set_age.is_some());
}

#[tokio::test]
async fn error_descriptions_never_contain_token_bytes() {
    let (issuer, key, v) = one_rsa_key().await;
    let good = key.sign(&issuer.claims());
    let candidates = [
        key.sign(&issuer.claims_with("exp", json!(now() - 120))),
        key.sign(&issuer.claims_with("aud", json!("x\"y\\z"))),
        format!("{good}x"),
        good.replacen('.', "\"", 1),
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.".to_owned(),
    ];
    for token in candidates {
        let err = refusal(&v, &token).await;
        let d = err.description();
        for segment in token.split('.').filter(|s| s.len() >= 4) {
            assert!(!d.contains(segment), "{d}");
        }
        assert!(!d.contains('"') && !d.contains('\\'), "{d}");
    }
}

#[tokio::test]
async fn signed_claims_set_that_is_a_json_array_is_malformed_whatever_the_callers_type() {
    let (issuer, key, v) = one_rsa_key().await;
    // In the order of the registered claims a positional parser reads: iss, aud, exp.
    let claims = json!([issuer.issuer().as_str(), AUDIENCE, now() + 300]);
    let token = key.sign(&claims);
    assert_eq!(
        v.verify_as::<serde_json::Value>(&token).await.unwrap_err(),
        VerifyError::Malformed("claims")
    );
}

/// The answer of the verifier of [`one_rsa_key`] for a token of its key whose claims are the
/// issuer's with `name` set to `value`.
async fn verified_with(name: &str, value: serde_json::Value) -> Result<Arc<Claims>, VerifyError> {
    let (issuer, key, v) = one_rsa_key().await;
    v.verify(&key.sign(&issuer.claims_with(name, value))).await
}

/// Why [`verified_with`] refuses that token.
async fn refusal_with(name: &str, value: serde_json::Value) -> VerifyError {
    verified_with(name, value).await.unwrap_err()
}

/// Why the verifier of [`one_rsa_key`] refuses a token of its key whose claims are the
/// issuer's without `name`.
async fn refusal_without(name: &str) -> VerifyError {
    let (issuer, key, v) = one_rsa_key().await;
    refusal(&v, &key.sign(&issuer.claims_without(name))).await
}
