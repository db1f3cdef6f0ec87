use std::collections::HashSet;
use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

/// A token minted in-process for alice, for the helpers' audience, valid for `secs`.
fn mint(app: &TestApp, scopes: &[&str], secs: u64) -> String {
    let lifetime = Duration::from_secs(secs);
    app.core
        .mint_access_token("alice@example.com", AUDIENCE, scopes, lifetime)
        .expect("mint")
}

/// The access token `/dev/tokens` mints for alice with `claims`.
async fn minted_for_alice(app: &TestApp, claims: Value) -> String {
    let request = json!({"username": "alice@example.com", "claims": claims});
    let body = json_body(app.dev_post("/dev/tokens", request).await).await;
    body["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn dev_hooks_are_404_unless_enabled() {
    let app = spawn_app_with(|s| s.dev_endpoints = false).await;
    for path in ["/dev/keys/rotate", "/dev/keys/retire", "/dev/tokens"] {
        let response = app
            .dev_post(path, json!({"username": "alice@example.com"}))
            .await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
    }
}

#[tokio::test]
async fn rotating_the_key_publishes_a_new_current_key_and_keeps_the_previous_one() {
    let app = spawn_app().await;
    let before = app.jwks().await["keys"][0]["kid"].clone();
    let response = app.dev_post("/dev/keys/rotate", json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["previous"], before);
    let keys = app.jwks().await["keys"].clone();
    assert_eq!(keys[0]["kid"], body["kid"]);
    assert_eq!(keys[1]["kid"], before);
    let token = mint(&app, &["openid"], 60);
    assert_eq!(
        header_of(&token)["kid"],
        body["kid"],
        "new tokens use the new key"
    );
}

#[tokio::test]
async fn retiring_the_previous_key_removes_it_from_the_jwks() {
    let app = spawn_app().await;
    let old_token = mint(&app, &[], 60);
    app.dev_post("/dev/keys/rotate", json!({})).await;
    verify_with_jwks(&app, &old_token, AUDIENCE)
        .await
        .expect("still verifies after rotation");
    let response = app.dev_post("/dev/keys/retire", json!({})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(app.jwks().await["keys"].as_array().map(Vec::len), Some(1));
    assert_eq!(
        verify_with_jwks(&app, &old_token, AUDIENCE).await,
        Err("kid not in the JWKS".to_owned())
    );
}

#[tokio::test]
async fn minted_token_carries_the_chosen_claims() {
    let app = spawn_app().await;
    let response = app
        .dev_post("/dev/tokens", json!({"username": "bob@example.com", "claims": {"aud": "https://other.api", "scope": "read:messages"}}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    let token = body["access_token"].as_str().expect("token");
    let claims = api_verify(&app, token, "https://other.api")
        .await
        .expect("the auth crate accepts it");
    assert_eq!(claims["sub"], "auth0|bob");
    assert_eq!(claims["scope"], "read:messages");
    assert_eq!(claims["iss"], app.issuer);
}

#[tokio::test]
async fn minting_for_an_unknown_user_is_invalid_request() {
    let app = spawn_app().await;
    let response = app
        .dev_post("/dev/tokens", json!({"username": "mallory@example.com"}))
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn dev_hooks_refuse_a_non_json_post() {
    let app = spawn_app().await;
    let request = app.browser.post(app.url("/dev/keys/rotate"));
    let form = request.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    let response = send(form.body("")).await;
    assert_eq!(response.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn in_process_minting_makes_distinct_tokens_that_verify() {
    let app = spawn_app().await;
    let tokens: Vec<String> = (0..50)
        .map(|_| mint(&app, &["read:messages"], 300))
        .collect();
    assert_eq!(tokens.iter().collect::<HashSet<_>>().len(), 50);
    let claims = api_verify(&app, &tokens[49], AUDIENCE)
        .await
        .expect("the auth crate accepts it");
    assert_eq!(claims["scope"], "read:messages");
}

#[tokio::test]
async fn token_minted_for_another_audience_is_refused_by_the_api_verifier() {
    let app = spawn_app().await;
    let token = minted_for_alice(&app, json!({"aud": "https://other.api"})).await;
    let refusal = api_verify(&app, &token, AUDIENCE).await.err();
    assert_eq!(refusal, Some(auth::VerifyError::Audience));
}

#[tokio::test]
async fn token_minted_already_expired_is_refused_by_the_api_verifier() {
    let app = spawn_app().await;
    let token = minted_for_alice(&app, json!({"exp": 1_000_000_000})).await;
    let refusal = api_verify(&app, &token, AUDIENCE).await.err();
    assert_eq!(refusal, Some(auth::VerifyError::Expired));
}
