use std::time::Duration;

use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn code_flow_access_token_verifies_against_the_jwks_with_auth0_claims() {
    let (app, pkce, code) = spawn_with_alice_code().await;
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert_eq!(body["scope"], "openid profile email read:messages");
    assert!(
        body.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );
    let token = body["access_token"].as_str().expect("access_token");
    let claims = api_verify(&app, token, AUDIENCE)
        .await
        .expect("the auth crate accepts it");
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["sub"], "auth0|alice");
    assert_eq!(
        claims["aud"],
        serde_json::json!([AUDIENCE, format!("{}userinfo", app.issuer)])
    );
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["scope"], "openid profile email read:messages");
    let header = header_of(token);
    assert_eq!(header["alg"], "RS256");
    assert_eq!(header["kid"], app.jwks().await["keys"][0]["kid"]);
}

#[tokio::test]
async fn id_token_carries_what_auth0_spa_js_checks_and_shows() {
    let app = spawn_app().await;
    let body = app.alice_tokens().await;
    let id_token = body["id_token"].as_str().expect("id_token");
    assert_eq!(header_of(id_token)["alg"], "RS256");
    let claims = verify_with_jwks(&app, id_token, CLIENT_ID)
        .await
        .expect("verifies");
    assert_eq!(claims["iss"], app.issuer);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(claims["nonce"], "bm9uY2UtNDU2");
    assert_eq!(claims["sub"], "auth0|alice");
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["nickname"], "alice");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert!(
        claims["picture"]
            .as_str()
            .is_some_and(|p| p.starts_with("data:image/svg+xml;base64,"))
    );
    let (iat, exp, auth_time) = (
        claims["iat"].as_i64(),
        claims["exp"].as_i64(),
        claims["auth_time"].as_i64(),
    );
    assert!(iat.is_some() && exp > iat && auth_time <= iat, "{claims}");
}

#[tokio::test]
async fn json_token_request_body_is_accepted() {
    let (app, pkce, code) = spawn_with_alice_code().await;
    let body = serde_json::json!({
        "client_id": CLIENT_ID, "grant_type": "authorization_code", "code": code,
        "code_verifier": pkce.verifier, "redirect_uri": APP_ORIGIN
    });
    let response = send(app.browser.post(app.token_url()).json(&body)).await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn scope_is_limited_to_what_the_user_is_granted() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let code = app
        .code_for(&authorize_params(&pkce), "bob@example.com", "bob-password")
        .await;
    let body = exchange_json(&app, &code, &pkce).await;
    assert_eq!(body["scope"], "openid profile email");
    assert_eq!(access_token_claims(&body)["scope"], "openid profile email");
}

#[tokio::test]
async fn wrong_code_verifier_is_invalid_grant() {
    let app = spawn_app().await;
    let code = app.alice_code(&Pkce::new()).await;
    let response = app.exchange(&code, &Pkce::new().verifier).await;
    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn reused_code_is_invalid_grant() {
    let (app, pkce, code) = spawn_with_alice_code().await;
    assert_eq!(
        app.exchange(&code, &pkce.verifier).await.status(),
        StatusCode::OK
    );
    let again = app.exchange(&code, &pkce.verifier).await;
    assert_invalid_grant(again).await;
}

#[tokio::test]
async fn code_is_spent_by_a_failed_attempt_too() {
    let (app, pkce, code) = spawn_with_alice_code().await;
    app.exchange(&code, &Pkce::new().verifier).await;
    let right = app.exchange(&code, &pkce.verifier).await;
    assert_invalid_grant(right).await;
}

#[tokio::test]
async fn code_older_than_60_seconds_is_invalid_grant() {
    let (app, pkce, code) = spawn_with_alice_code().await;
    app.clock.advance(Duration::from_secs(61));
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn code_is_bound_to_its_redirect_uri() {
    let app = spawn_app_with(|s| {
        s.allowed_callback_urls
            .push("http://localhost:3000/callback".into())
    })
    .await;
    let pkce = Pkce::new();
    let code = app.alice_code(&pkce).await;
    let callback = Some("http://localhost:3000/callback");
    let form = exchange_form_with(&code, &pkce.verifier, "redirect_uri", callback);
    let response = app.token(&form).await;
    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn unknown_client_at_the_token_endpoint_is_invalid_client() {
    let (app, pkce, code) = spawn_with_alice_code().await;
    let form = exchange_form_with(&code, &pkce.verifier, "client_id", Some("someone-else"));
    let response = app.token(&form).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn unknown_grant_type_is_unsupported_grant_type() {
    let app = spawn_app().await;
    let response = app
        .token(&[("client_id", CLIENT_ID), ("grant_type", "password")])
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;
}

#[tokio::test]
async fn missing_code_verifier_is_invalid_request() {
    let app = spawn_app().await;
    let code = app.alice_code(&Pkce::new()).await;
    let form = exchange_form_with(&code, "", "code_verifier", None);
    let response = app.token(&form).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
}

#[tokio::test]
async fn malformed_json_body_is_invalid_request_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let request = app.browser.post(app.token_url());
    let malformed = request.header(header::CONTENT_TYPE, "application/json");
    let response = send(malformed.body("{\"grant_type\": [")).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_request").await;
    let after = app.get_with("/.well-known/jwks.json", |r| r).await;
    assert_eq!(after.status(), StatusCode::OK);
}
