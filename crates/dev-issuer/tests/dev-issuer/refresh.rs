use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

pub async fn offline_tokens(app: &TestApp) -> Value {
    let pkce = Pkce::new();
    let code = app.offline_code(&pkce).await;
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

/// The refresh token of a token response.
fn refresh_token(body: &Value) -> &str {
    body["refresh_token"].as_str().expect("a refresh token")
}

/// The token response to a refresh with `token`, whatever its status.
async fn refresh_json(app: &TestApp, token: &str) -> Value {
    json_body(app.refresh(token).await).await
}

/// A refresh with `token` asking for `scope`.
async fn refresh_for_scope(app: &TestApp, token: &str, scope: &str) -> reqwest::Response {
    app.token(&[
        ("client_id", CLIENT_ID),
        ("grant_type", "refresh_token"),
        ("refresh_token", token),
        ("scope", scope),
    ])
    .await
}

#[tokio::test]
async fn offline_access_returns_a_refresh_token() {
    let app = spawn_app().await;
    let body = offline_tokens(&app).await;
    let token = body["refresh_token"].as_str();
    assert!(token.is_some_and(|t| t.len() >= 43), "{body}");
    assert_eq!(body["scope"], "openid profile email offline_access");
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_returns_new_tokens_with_an_id_token() {
    let app = spawn_app().await;
    let first = offline_tokens(&app).await;
    let old = refresh_token(&first);
    let response = app.refresh(old).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second = json_body(response).await;
    let new = refresh_token(&second);
    assert_ne!(new, old);
    assert!(second["id_token"].is_string());
    let token = second["access_token"].as_str().expect("access token");
    let claims = api_verify(&app, token, AUDIENCE)
        .await
        .expect("the auth crate accepts it");
    assert_eq!(claims["sub"], "auth0|alice");
    let again = app.refresh(new).await;
    assert_eq!(again.status(), StatusCode::OK, "the new one works");
}

#[tokio::test]
async fn reused_refresh_token_is_invalid_grant_and_revokes_its_successor() {
    let app = spawn_app().await;
    let first = offline_tokens(&app).await;
    let old = refresh_token(&first);
    let second = refresh_json(&app, old).await;
    let new = refresh_token(&second);
    assert_refused_refresh(app.refresh(old).await).await;
    assert_refused_refresh(app.refresh(new).await).await;
}

#[tokio::test]
async fn unknown_refresh_token_is_invalid_grant() {
    let app = spawn_app().await;
    assert_refused_refresh(app.refresh("not-a-token").await).await;
}

#[tokio::test]
async fn revoked_refresh_token_stops_working() {
    let app = spawn_app().await;
    let body = offline_tokens(&app).await;
    let token = refresh_token(&body);
    let form = [("client_id", CLIENT_ID), ("token", token)];
    let revoke = send(app.browser.post(app.url("/oauth/revoke")).form(&form)).await;
    assert_eq!(revoke.status(), StatusCode::OK);
    assert_refused_refresh(app.refresh(token).await).await;
}

/// Auth0's answer to every refused refresh token, to the letter (auth0-spa-js matches it).
pub async fn assert_refused_refresh(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body = json_body(response).await;
    assert_eq!(
        body,
        serde_json::json!({"error": "invalid_grant", "error_description": "Unknown or invalid refresh token."})
    );
}

#[tokio::test]
async fn refresh_token_past_its_absolute_lifetime_is_refused_even_after_rotation() {
    let app = spawn_app_with(|s| {
        s.lifetimes.refresh_token = Duration::from_secs(100);
        s.lifetimes.refresh_token_idle = Duration::from_secs(80);
    })
    .await;
    let first = offline_tokens(&app).await;
    app.clock.advance(Duration::from_secs(70));
    let rotated = refresh_json(&app, refresh_token(&first)).await;
    app.clock.advance(Duration::from_secs(31));
    assert_refused_refresh(app.refresh(refresh_token(&rotated)).await).await;
}

#[tokio::test]
async fn rotation_renews_the_inactivity_lifetime() {
    let app = spawn_app_with(|s| s.lifetimes.refresh_token_idle = Duration::from_secs(60)).await;
    let first = offline_tokens(&app).await;
    app.clock.advance(Duration::from_secs(50));
    let rotated = refresh_json(&app, refresh_token(&first)).await;
    app.clock.advance(Duration::from_secs(50));
    let response = app.refresh(refresh_token(&rotated)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn refresh_token_unused_for_its_inactivity_lifetime_is_refused() {
    let app = spawn_app_with(|s| s.lifetimes.refresh_token_idle = Duration::from_secs(60)).await;
    let first = offline_tokens(&app).await;
    app.clock.advance(Duration::from_secs(61));
    assert_refused_refresh(app.refresh(refresh_token(&first)).await).await;
}

#[tokio::test]
async fn a_narrowing_refresh_narrows_only_the_access_token() {
    let app = spawn_app().await;
    let first = offline_tokens(&app).await;
    let narrowed = refresh_for_scope(&app, refresh_token(&first), "openid offline_access").await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    let narrowed = json_body(narrowed).await;
    assert_eq!(narrowed["scope"], "openid offline_access");
    assert_eq!(
        access_token_claims(&narrowed)["scope"],
        "openid offline_access"
    );
    let next = refresh_json(&app, refresh_token(&narrowed)).await;
    assert_eq!(
        next["scope"], first["scope"],
        "the rotated token kept the original grant"
    );
}

#[tokio::test]
async fn a_refresh_asking_for_more_than_was_granted_is_invalid_scope() {
    let app = spawn_app().await;
    let first = offline_tokens(&app).await;
    let response = refresh_for_scope(&app, refresh_token(&first), "openid read:messages").await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;
}

#[tokio::test]
async fn a_refresh_token_from_a_replayed_code_is_revoked() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let code = app.offline_code(&pkce).await;
    let first = exchange_json(&app, &code, &pkce).await;
    let replay = app.exchange(&code, &pkce.verifier).await;
    assert_invalid_grant(replay).await;
    assert_refused_refresh(app.refresh(refresh_token(&first)).await).await;
}
