use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

pub async fn offline_tokens(app: &TestApp) -> Value {
    let pkce = Pkce::new();
    let code = app.offline_code(&pkce).await;
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

#[tokio::test]
async fn offline_access_returns_a_refresh_token() {
    let app = spawn_app().await;
    let body = offline_tokens(&app).await;
    assert!(
        body["refresh_token"]
            .as_str()
            .is_some_and(|t| t.len() >= 43),
        "{body}"
    );
    assert_eq!(body["scope"], "openid profile email offline_access");
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token_and_returns_new_tokens_with_an_id_token() {
    let app = spawn_app().await;
    let first = offline_tokens(&app).await;
    let old = first["refresh_token"].as_str().expect("refresh token");
    let response = app.refresh(old).await;
    assert_eq!(response.status(), StatusCode::OK);
    let second: Value = response.json().await.expect("json");
    let new = second["refresh_token"]
        .as_str()
        .expect("a rotated refresh token");
    assert_ne!(new, old);
    assert!(second["id_token"].is_string());
    let token = second["access_token"].as_str().expect("access token");
    let claims = api_verify(&app, token, AUDIENCE)
        .await
        .expect("the auth crate accepts it");
    assert_eq!(claims["sub"], "auth0|alice");
    assert_eq!(
        app.refresh(new).await.status(),
        StatusCode::OK,
        "the new one works"
    );
}

#[tokio::test]
async fn reused_refresh_token_is_invalid_grant_and_revokes_its_successor() {
    let app = spawn_app().await;
    let first = offline_tokens(&app).await;
    let old = first["refresh_token"].as_str().expect("refresh token");
    let second: Value = app.refresh(old).await.json().await.expect("json");
    let new = second["refresh_token"].as_str().expect("rotated");
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
    let token = body["refresh_token"].as_str().expect("refresh token");
    let revoke = app
        .browser
        .post(format!("{}/oauth/revoke", app.base))
        .form(&[("client_id", CLIENT_ID), ("token", token)])
        .send()
        .await
        .expect("revoke");
    assert_eq!(revoke.status(), StatusCode::OK);
    assert_refused_refresh(app.refresh(token).await).await;
}

/// Auth0's answer to every refused refresh token, to the letter (auth0-spa-js matches it).
pub async fn assert_refused_refresh(response: reqwest::Response) {
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let body: Value = response.json().await.expect("json");
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
    let rotated: Value = app
        .refresh(first["refresh_token"].as_str().expect("refresh token"))
        .await
        .json()
        .await
        .expect("json");
    let second = rotated["refresh_token"].as_str().expect("rotated");
    app.clock.advance(Duration::from_secs(31));
    assert_refused_refresh(app.refresh(second).await).await;
}

#[tokio::test]
async fn rotation_renews_the_inactivity_lifetime() {
    let app = spawn_app_with(|s| s.lifetimes.refresh_token_idle = Duration::from_secs(60)).await;
    let first = offline_tokens(&app).await;
    app.clock.advance(Duration::from_secs(50));
    let rotated: Value = app
        .refresh(first["refresh_token"].as_str().expect("refresh token"))
        .await
        .json()
        .await
        .expect("json");
    app.clock.advance(Duration::from_secs(50));
    let response = app
        .refresh(rotated["refresh_token"].as_str().expect("rotated"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn refresh_token_unused_for_its_inactivity_lifetime_is_refused() {
    let app = spawn_app_with(|s| s.lifetimes.refresh_token_idle = Duration::from_secs(60)).await;
    let first = offline_tokens(&app).await;
    app.clock.advance(Duration::from_secs(61));
    assert_refused_refresh(
        app.refresh(first["refresh_token"].as_str().expect("refresh token"))
            .await,
    )
    .await;
}

#[tokio::test]
async fn a_narrowing_refresh_narrows_only_the_access_token() {
    let app = spawn_app().await;
    let first = offline_tokens(&app).await;
    let narrowed = app
        .token(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                first["refresh_token"].as_str().expect("rt"),
            ),
            ("scope", "openid offline_access"),
        ])
        .await;
    assert_eq!(narrowed.status(), StatusCode::OK);
    let narrowed: Value = narrowed.json().await.expect("json");
    assert_eq!(narrowed["scope"], "openid offline_access");
    let access = claims(narrowed["access_token"].as_str().expect("access token"));
    assert_eq!(access["scope"], "openid offline_access");
    let next: Value = app
        .refresh(narrowed["refresh_token"].as_str().expect("rotated"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        next["scope"], first["scope"],
        "the rotated token kept the original grant"
    );
}

#[tokio::test]
async fn a_refresh_asking_for_more_than_was_granted_is_invalid_scope() {
    let app = spawn_app().await;
    let first = offline_tokens(&app).await;
    let response = app
        .token(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "refresh_token"),
            (
                "refresh_token",
                first["refresh_token"].as_str().expect("rt"),
            ),
            ("scope", "openid read:messages"),
        ])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_scope").await;
}

#[tokio::test]
async fn a_refresh_token_from_a_replayed_code_is_revoked() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let code = app.offline_code(&pkce).await;
    let first: Value = app
        .exchange(&code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("json");
    let replay = app.exchange(&code, &pkce.verifier).await;
    assert_oauth_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    assert_refused_refresh(
        app.refresh(first["refresh_token"].as_str().expect("refresh token"))
            .await,
    )
    .await;
}
