use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{json_body, spawn_app};

#[tokio::test]
async fn discovery_document_names_the_issuer_with_trailing_slash_and_its_endpoints() {
    let app = spawn_app().await;
    let response = app
        .get_with("/.well-known/openid-configuration", |r| r)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let doc: Value = json_body(response).await;
    assert_eq!(doc["issuer"], app.issuer);
    assert!(app.issuer.ends_with('/'));
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{}/authorize", app.base)
    );
    assert_eq!(doc["token_endpoint"], format!("{}/oauth/token", app.base));
    assert_eq!(doc["userinfo_endpoint"], format!("{}/userinfo", app.base));
    assert_eq!(
        doc["jwks_uri"],
        format!("{}/.well-known/jwks.json", app.base)
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
}

#[tokio::test]
async fn jwks_publishes_one_rs256_signing_key_with_kid_n_and_e() {
    let app = spawn_app().await;
    let jwks = app.jwks().await;
    let keys = jwks["keys"].as_array().expect("keys array");
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["e"], "AQAB");
    assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
    // 2048-bit modulus: 256 bytes, 342 base64url characters.
    assert_eq!(key["n"].as_str().map(str::len), Some(342));
}
