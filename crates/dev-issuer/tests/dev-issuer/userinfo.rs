use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::helpers::*;

async fn alice_access_token(app: &TestApp) -> String {
    let body = app.alice_tokens().await;
    body["access_token"].as_str().expect("token").to_owned()
}

#[tokio::test]
async fn userinfo_returns_the_profile_for_an_access_token() {
    let app = spawn_app().await;
    let token = alice_access_token(&app).await;
    let response = app
        .browser
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    let profile: Value = response.json().await.expect("json");
    assert_eq!(profile["sub"], "auth0|alice");
    assert_eq!(profile["email"], "alice@example.com");
    assert_eq!(profile["name"], "Alice Example");
}

#[tokio::test]
async fn userinfo_without_a_token_is_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let response = app
        .browser
        .get(format!("{}/userinfo", app.base))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(
        response.headers()[header::WWW_AUTHENTICATE]
            .to_str()
            .expect("ascii")
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn userinfo_with_a_tampered_token_is_invalid_token() {
    let app = spawn_app().await;
    let token = alice_access_token(&app).await;
    let mut parts: Vec<&str> = token.split('.').collect();
    let bob_payload = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        claims(&token)
            .to_string()
            .replace("auth0|alice", "auth0|bob"),
    );
    parts[1] = &bob_payload;
    let response = app
        .browser
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(parts.join("."))
        .send()
        .await
        .expect("request");
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn userinfo_with_characters_outside_b64token_is_malformed_token() {
    let app = spawn_app().await;
    let token = alice_access_token(&app).await;
    let (head, rest) = token.split_at(10);
    let response = app
        .browser
        .get(format!("{}/userinfo", app.base))
        .header(header::AUTHORIZATION, format!("Bearer {head}\"{rest}"))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["error_description"], "malformed token");
}
