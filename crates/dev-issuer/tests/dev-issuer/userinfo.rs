use reqwest::{StatusCode, header};

use crate::helpers::*;

async fn alice_access_token(app: &TestApp) -> String {
    let body = app.alice_tokens().await;
    body["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn userinfo_returns_the_profile_for_an_access_token() {
    let app = spawn_app().await;
    let token = alice_access_token(&app).await;
    let response = app.userinfo(|r| r.bearer_auth(&token)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let profile = json_body(response).await;
    assert_eq!(profile["sub"], "auth0|alice");
    assert_eq!(profile["email"], "alice@example.com");
    assert_eq!(profile["name"], "Alice Example");
}

#[tokio::test]
async fn userinfo_without_a_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let response = app.userinfo(|r| r).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let challenge = header(&response, "www-authenticate").expect("ascii");
    assert!(challenge.starts_with("Bearer"));
}

#[tokio::test]
async fn userinfo_with_a_tampered_token_is_invalid_token() {
    let app = spawn_app().await;
    let token = alice_access_token(&app).await;
    let mut parts: Vec<&str> = token.split('.').collect();
    let bob = claims(&token)
        .to_string()
        .replace("auth0|alice", "auth0|bob");
    let bob_payload = test_support::b64(bob);
    parts[1] = &bob_payload;
    let response = app.userinfo(|r| r.bearer_auth(parts.join("."))).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn userinfo_with_characters_outside_b64token_is_malformed_token() {
    let app = spawn_app().await;
    let token = alice_access_token(&app).await;
    let (head, rest) = token.split_at(10);
    let authorization = format!("Bearer {head}\"{rest}");
    let response = app
        .userinfo(|r| r.header(header::AUTHORIZATION, authorization))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body = json_body(response).await;
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["error_description"], "malformed token");
}
