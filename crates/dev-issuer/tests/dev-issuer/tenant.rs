//! The dev issuer as a stand-in for an Auth0 tenant: the Host check, RBAC, exact URL matching,
//! Allowed Web Origins, the ID token's conditions, and the empty-cookie rule.

use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::*;

/// The token response for `username` logging in with `scope` (and the helpers' audience).
async fn tokens_for(app: &TestApp, username: &str, scope: &str) -> Value {
    let password = format!("{}-password", username.split('@').next().expect("a name"));
    let pkce = Pkce::new();
    let params = with(authorize_params(&pkce), "scope", Some(scope));
    let code = app.code_for(&params, username, &password).await;
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

/// The access token's claims for `username` logging in with `scope`.
async fn access_claims_for(app: &TestApp, username: &str, scope: &str) -> Value {
    access_token_claims(&tokens_for(app, username, scope).await)
}

async fn get_with_host(app: &TestApp, host: &str) -> reqwest::Response {
    let discovery = reqwest::Client::new().get(app.url("/.well-known/openid-configuration"));
    send(discovery.header(header::HOST, host)).await
}

#[tokio::test]
async fn a_request_for_a_foreign_host_is_421() {
    let app = spawn_app().await;
    let port = app.base.rsplit(':').next().expect("a port");
    let response = get_with_host(&app, &format!("rebound.example:{port}")).await;
    assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn a_request_for_the_right_name_on_another_port_is_421() {
    let app = spawn_app().await;
    let response = get_with_host(&app, "127.0.0.1:1").await;
    assert_eq!(response.status(), StatusCode::MISDIRECTED_REQUEST);
}

#[tokio::test]
async fn a_request_for_the_issuers_own_host_is_served() {
    let app = spawn_app().await;
    let host = app.base.trim_start_matches("http://").to_owned();
    assert_eq!(get_with_host(&app, &host).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn with_rbac_alice_is_granted_read_messages_and_its_permission() {
    let app = spawn_app().await;
    let scope = "openid profile email read:messages";
    let body = tokens_for(&app, "alice@example.com", scope).await;
    assert_eq!(body["scope"], "openid profile email read:messages");
    assert_eq!(
        access_token_claims(&body)["permissions"],
        json!(["read:messages"])
    );
}

#[tokio::test]
async fn with_rbac_bob_asking_for_read_messages_gets_neither_scope_nor_permission() {
    let app = spawn_app().await;
    let scope = "openid profile email read:messages";
    let claims = access_claims_for(&app, "bob@example.com", scope).await;
    assert_eq!(claims["scope"], "openid profile email");
    assert_eq!(claims["permissions"], json!([]));
}

#[tokio::test]
async fn permissions_lists_all_the_users_permissions_even_when_not_asked_for() {
    let app = spawn_app().await;
    let claims = access_claims_for(&app, "alice@example.com", "openid").await;
    assert_eq!(claims["scope"], "openid");
    assert_eq!(claims["permissions"], json!(["read:messages"]));
}

#[tokio::test]
async fn without_rbac_every_requested_api_scope_is_granted_and_no_permissions_claim() {
    let app = spawn_app_with(|s| s.api.enable_rbac = false).await;
    let claims = access_claims_for(&app, "bob@example.com", "openid read:messages").await;
    assert_eq!(claims["scope"], "openid read:messages");
    assert!(claims.get("permissions").is_none(), "{claims}");
}

#[tokio::test]
async fn rbac_without_permissions_in_the_token_leaves_the_claim_out() {
    let app = spawn_app_with(|s| s.api.add_permissions_in_the_access_token = false).await;
    let claims = access_claims_for(&app, "alice@example.com", "openid read:messages").await;
    assert_eq!(claims["scope"], "openid read:messages");
    assert!(claims.get("permissions").is_none(), "{claims}");
}

#[tokio::test]
async fn a_scope_the_api_does_not_define_is_dropped() {
    let app = spawn_app().await;
    let body = tokens_for(&app, "alice@example.com", "openid delete:everything").await;
    assert_eq!(body["scope"], "openid");
}

#[tokio::test]
async fn without_an_audience_no_api_scope_or_permissions_are_granted() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let params = with(authorize_params(&pkce), "audience", None);
    let code = app
        .code_for(&params, "alice@example.com", "alice-password")
        .await;
    let claims = access_token_claims(&exchange_json(&app, &code, &pkce).await);
    assert_eq!(claims["scope"], "openid profile email");
    assert!(claims.get("permissions").is_none(), "{claims}");
}

#[tokio::test]
async fn a_redirect_uri_differing_by_a_trailing_slash_gets_an_error_page() {
    let app = spawn_app().await;
    let response = authorize_with(&app, "redirect_uri", Some("http://localhost:3000/")).await;
    assert_bad_request_without_redirect(&response);
}

#[tokio::test]
async fn a_return_to_differing_by_a_trailing_slash_gets_an_error_page() {
    let app = spawn_app().await;
    let return_to = ("returnTo", "http://localhost:3000/");
    let response = app.logout(&[("client_id", CLIENT_ID), return_to]).await;
    assert_bad_request_without_redirect(&response);
}

#[tokio::test]
async fn web_message_to_an_origin_outside_allowed_web_origins_gets_an_error_page() {
    let app =
        spawn_app_with(|s| s.allowed_web_origins = vec!["http://localhost:4000".into()]).await;
    let response = authorize_with(&app, "response_mode", Some("web_message")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let html = response.text().await.expect("body");
    assert!(html.contains("allowed web origins"), "{html}");
    assert!(!html.contains("postMessage"), "{html}");
}

#[tokio::test]
async fn query_mode_does_not_need_an_allowed_web_origin() {
    let app = spawn_app_with(|s| s.allowed_web_origins = Vec::new()).await;
    let response = app.authorize(&authorize_params(&Pkce::new())).await;
    assert_eq!(response.status(), StatusCode::OK, "the login form");
}

#[tokio::test]
async fn without_openid_there_is_no_id_token() {
    let app = spawn_app().await;
    let body = tokens_for(&app, "alice@example.com", "profile email read:messages").await;
    assert!(body.get("id_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn the_id_token_carries_the_same_sid_for_every_login_of_one_session() {
    let app = spawn_app().await;
    let first = tokens_for(&app, "alice@example.com", "openid").await;
    let pkce = Pkce::new();
    let code = silent_code(&app, &pkce).await;
    let second = exchange_json(&app, &code, &pkce).await;
    let sid = |body: &Value| claims(body["id_token"].as_str().expect("id token"))["sid"].clone();
    assert!(sid(&first).as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(sid(&first), sid(&second));
}

#[tokio::test]
async fn an_empty_browser_cookie_counts_as_absent() {
    let app = spawn_app().await;
    let request = test_support::client()
        .get(app.url("/authorize"))
        .query(&authorize_params(&Pkce::new()))
        .header(header::COOKIE, "dev_issuer_browser=");
    let response = send(request).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set = set_cookie(&response, "dev_issuer_browser").expect("a fresh browser cookie is set");
    assert!(!set.starts_with("dev_issuer_browser=;"), "{set}");
}
