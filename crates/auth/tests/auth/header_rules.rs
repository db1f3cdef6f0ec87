//! Header rules: algorithm pinning and confusion, crit, kid, and key URLs the token names.

use auth::{Algorithm, VerifyError};
use aws_lc_rs::hmac;
use serde_json::json;
use wiremock::MockServer;

use crate::helpers::*;

#[tokio::test]
async fn alg_none_is_rejected() {
    let (issuer, _key, v) = one_rsa_key().await;
    let header = json!({"alg":"none","typ":"JWT","kid":"k1"});
    let token = format!(
        "{}.{}.",
        b64(header.to_string()),
        b64(issuer.claims().to_string())
    );
    assert_eq!(refusal(&v, &token).await, VerifyError::Algorithm);
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_rejected() {
    let (issuer, key, v) = one_rsa_key().await;
    // The classic confusion: the attacker HMACs with the public key bytes a naive
    // verifier would use as the secret (here both the JWK n and the JWKS JSON are tried).
    for secret in [
        key.jwk()["n"].as_str().unwrap().to_owned(),
        key.jwk().to_string(),
    ] {
        let header = json!({"alg":"HS256","typ":"JWT","kid":"k1"});
        let input = format!(
            "{}.{}",
            b64(header.to_string()),
            b64(issuer.claims().to_string())
        );
        let tag = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
            input.as_bytes(),
        );
        let token = format!("{input}.{}", b64(tag.as_ref()));
        assert_eq!(refusal(&v, &token).await, VerifyError::Algorithm);
    }
}

#[tokio::test]
async fn alg_outside_the_allow_list_is_rejected() {
    let err = refusal_with_header("alg", "RS384").await;
    assert_eq!(err, VerifyError::Algorithm);
}

#[tokio::test]
async fn alg_disagreeing_with_the_keys_alg_member_is_rejected() {
    let (issuer, key, v) = rs256_pinned_key_with(|_| {}).await;
    let token = TokenBuilder::new(&key, issuer.claims())
        .header("alg", "PS256")
        .sign();
    assert_eq!(refusal(&v, &token).await, VerifyError::Algorithm);
}

#[tokio::test]
async fn alg_of_another_key_type_is_rejected() {
    // ES256 is allowed, but the kid names an RSA key: the key type decides.
    let (issuer, v) = serving(&[&SigningKey::rsa(0, "k1")], |c| {
        c.algorithms = vec![Algorithm::RS256, Algorithm::ES256];
    })
    .await;
    let token = SigningKey::es256("k1").sign(&issuer.claims());
    assert_eq!(refusal(&v, &token).await, VerifyError::Algorithm);
}

#[tokio::test]
async fn selected_algorithms_verify_es256_eddsa_and_ps256() {
    let ec = SigningKey::es256("ec");
    let ed = SigningKey::ed25519("ed");
    let rsa = SigningKey::rsa(1, "rsa");
    let (issuer, v) = serving(&[&ec, &ed, &rsa], |c| {
        c.algorithms = vec![Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256];
    })
    .await;
    assert!(v.verify(&ec.sign(&issuer.claims())).await.is_ok());
    assert!(v.verify(&ed.sign(&issuer.claims())).await.is_ok());
    let ps256 = TokenBuilder::new(&rsa, issuer.claims()).header("alg", "PS256");
    assert!(v.verify(&ps256.sign()).await.is_ok());
}

#[tokio::test]
async fn unknown_crit_is_rejected() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = TokenBuilder::new(&key, issuer.claims())
        .header("crit", json!(["http://example.invalid/ext"]))
        .header("http://example.invalid/ext", true)
        .sign();
    assert_eq!(refusal(&v, &token).await, VerifyError::CriticalHeader);
}

#[tokio::test]
async fn embedded_jwk_is_ignored() {
    let (issuer, _key, v) = one_rsa_key().await;
    // The attacker signs with their own key and embeds it, naming the trusted kid.
    let attacker = SigningKey::rsa(2, "k1");
    let token = TokenBuilder::new(&attacker, issuer.claims())
        .header("jwk", attacker.jwk())
        .sign();
    assert_eq!(refusal(&v, &token).await, VerifyError::Signature);
}

#[tokio::test]
async fn jku_and_x5u_are_never_fetched() {
    let (issuer, _key, v) = one_rsa_key().await;
    let elsewhere = MockServer::start().await;
    let attacker = SigningKey::rsa(2, "attacker");
    let token = TokenBuilder::new(&attacker, issuer.claims())
        .header("jku", format!("{}/jwks.json", elsewhere.uri()))
        .header("x5u", format!("{}/cert.pem", elsewhere.uri()))
        .sign();
    assert_eq!(refusal(&v, &token).await, VerifyError::UnknownKey);
    assert_eq!(requests_received(&elsewhere).await, 0);
}

#[tokio::test]
async fn token_without_kid_is_accepted_when_exactly_one_key_exists() {
    let key = SigningKey::rsa(0, "only");
    let (issuer, v) = serving(&[&key], |_| {}).await;
    let token = key.clone().without_kid().sign(&issuer.claims());
    assert!(v.verify(&token).await.is_ok());
}

#[tokio::test]
async fn token_without_kid_is_rejected_when_several_keys_exist() {
    let (a, b) = (SigningKey::rsa(0, "a"), SigningKey::rsa(1, "b"));
    let (issuer, v) = serving(&[&a, &b], |_| {}).await;
    let token = a.clone().without_kid().sign(&issuer.claims());
    assert_eq!(refusal(&v, &token).await, VerifyError::UnknownKey);
}

#[tokio::test]
async fn signature_from_another_key_with_a_known_kid_is_rejected() {
    let (issuer, _key, v) = one_rsa_key().await;
    let token = SigningKey::rsa(1, "k1").sign(&issuer.claims());
    assert_eq!(refusal(&v, &token).await, VerifyError::Signature);
}

#[tokio::test]
async fn header_that_is_a_json_array_is_malformed() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign_raw(&json!(["RS256", "k1", "JWT"]), &issuer.claims());
    assert_eq!(refusal(&v, &token).await, VerifyError::Malformed("header"));
}

#[tokio::test]
async fn characters_outside_b64token_are_malformed_before_any_parsing() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims());
    let (head, rest) = token.split_at(10);
    let spaced = format!("{head} {rest}");
    assert_eq!(
        refusal(&v, &spaced).await,
        VerifyError::Malformed("characters outside b64token")
    );
}
