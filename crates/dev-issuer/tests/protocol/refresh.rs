use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn offline_tokens(app: &TestApp) -> Value {
    let pkce = Pkce::new();
    let params = with(
        authorize_params(&pkce),
        "scope",
        Some("openid profile email offline_access"),
    );
    let code = app
        .code_for(&params, "alice@example.com", "alice-password")
        .await;
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
    assert_oauth_error(
        app.refresh(old).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
    assert_oauth_error(
        app.refresh(new).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}

#[tokio::test]
async fn unknown_refresh_token_is_invalid_grant() {
    let app = spawn_app().await;
    assert_oauth_error(
        app.refresh("not-a-token").await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
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
    assert_oauth_error(
        app.refresh(token).await,
        StatusCode::BAD_REQUEST,
        "invalid_grant",
    )
    .await;
}
