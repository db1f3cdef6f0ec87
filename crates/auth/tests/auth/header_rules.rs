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
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Algorithm);
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
        assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Algorithm);
    }
}

#[tokio::test]
async fn alg_outside_the_allow_list_is_rejected() {
    let (issuer, key, v) = one_rsa_key().await;
    let mut header = key.header();
    header["alg"] = json!("RS384");
    let token = key.sign_raw(&header, &issuer.claims());
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Algorithm);
}

#[tokio::test]
async fn alg_disagreeing_with_the_keys_alg_member_is_rejected() {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start(&[]).await;
    issuer.serve_json(json!({"keys":[key.jwk_with("alg", json!("RS256"))]}));
    let mut config = issuer.config();
    config.algorithms = vec![Algorithm::RS256, Algorithm::PS256];
    let v = ready_verifier(config).await;
    let mut header = key.header();
    header["alg"] = json!("PS256");
    let token = key.sign_raw(&header, &issuer.claims());
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Algorithm);
}

#[tokio::test]
async fn alg_of_another_key_type_is_rejected() {
    // ES256 is allowed, but the kid names an RSA key: the key type decides.
    let rsa = SigningKey::rsa(0, "k1");
    let ec = SigningKey::es256("k1");
    let issuer = MockIssuer::start(&[&rsa]).await;
    let mut config = issuer.config();
    config.algorithms = vec![Algorithm::RS256, Algorithm::ES256];
    let v = ready_verifier(config).await;
    let token = ec.sign(&issuer.claims());
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Algorithm);
}

#[tokio::test]
async fn selected_algorithms_verify_es256_eddsa_and_ps256() {
    let ec = SigningKey::es256("ec");
    let ed = SigningKey::ed25519("ed");
    let rsa = SigningKey::rsa(1, "rsa");
    let issuer = MockIssuer::start(&[&ec, &ed, &rsa]).await;
    let mut config = issuer.config();
    config.algorithms = vec![Algorithm::ES256, Algorithm::EdDSA, Algorithm::PS256];
    let v = ready_verifier(config).await;
    assert!(v.verify(&ec.sign(&issuer.claims())).await.is_ok());
    assert!(v.verify(&ed.sign(&issuer.claims())).await.is_ok());
    let mut header = rsa.header();
    header["alg"] = json!("PS256");
    assert!(
        v.verify(&rsa.sign_raw(&header, &issuer.claims()))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn unknown_crit_is_rejected() {
    let (issuer, key, v) = one_rsa_key().await;
    let mut header = key.header();
    header["crit"] = json!(["http://example.invalid/ext"]);
    header["http://example.invalid/ext"] = json!(true);
    let token = key.sign_raw(&header, &issuer.claims());
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::CriticalHeader
    );
}

#[tokio::test]
async fn embedded_jwk_is_ignored() {
    let (issuer, _key, v) = one_rsa_key().await;
    // The attacker signs with their own key and embeds it, naming the trusted kid.
    let attacker = SigningKey::rsa(2, "k1");
    let mut header = attacker.header();
    header["jwk"] = attacker.jwk();
    let token = attacker.sign_raw(&header, &issuer.claims());
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Signature);
}

#[tokio::test]
async fn jku_and_x5u_are_never_fetched() {
    let (issuer, _key, v) = one_rsa_key().await;
    let elsewhere = MockServer::start().await;
    let attacker = SigningKey::rsa(2, "attacker");
    let mut header = attacker.header();
    header["jku"] = json!(format!("{}/jwks.json", elsewhere.uri()));
    header["x5u"] = json!(format!("{}/cert.pem", elsewhere.uri()));
    let token = attacker.sign_raw(&header, &issuer.claims());
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::UnknownKey);
    assert_eq!(requests_received(&elsewhere).await, 0);
}

#[tokio::test]
async fn token_without_kid_is_accepted_when_exactly_one_key_exists() {
    let key = SigningKey::rsa(0, "only");
    let issuer = MockIssuer::start(&[&key]).await;
    let v = ready_verifier(issuer.config()).await;
    let token = key.clone().without_kid().sign(&issuer.claims());
    assert!(v.verify(&token).await.is_ok());
}

#[tokio::test]
async fn token_without_kid_is_rejected_when_several_keys_exist() {
    let a = SigningKey::rsa(0, "a");
    let b = SigningKey::rsa(1, "b");
    let issuer = MockIssuer::start(&[&a, &b]).await;
    let v = ready_verifier(issuer.config()).await;
    let token = a.clone().without_kid().sign(&issuer.claims());
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::UnknownKey);
}

#[tokio::test]
async fn signature_from_another_key_with_a_known_kid_is_rejected() {
    let (issuer, _key, v) = one_rsa_key().await;
    let token = SigningKey::rsa(1, "k1").sign(&issuer.claims());
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::Signature);
}

#[tokio::test]
async fn header_that_is_a_json_array_is_malformed() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign_raw(&json!(["RS256", "k1", "JWT"]), &issuer.claims());
    assert_eq!(
        v.verify(&token).await.unwrap_err(),
        VerifyError::Malformed("header")
    );
}

#[tokio::test]
async fn characters_outside_b64token_are_malformed_before_any_parsing() {
    let (issuer, key, v) = one_rsa_key().await;
    let token = key.sign(&issuer.claims());
    let (head, rest) = token.split_at(10);
    let spaced = format!("{head} {rest}");
    assert_eq!(
        v.verify(&spaced).await.unwrap_err(),
        VerifyError::Malformed("characters outside b64token")
    );
}
