//! The dev issuer as a stand-in for an Auth0 tenant: the Host check, RBAC, exact URL matching,
//! Allowed Web Origins, the ID token's conditions, and the empty-cookie rule.

use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::helpers::*;

/// The token response for `username` logging in with `scope` (and the helpers' audience).
async fn tokens_for(app: &TestApp, username: &str, password: &str, scope: &str) -> Value {
    let pkce = Pkce::new();
    let params = with(authorize_params(&pkce), "scope", Some(scope));
    let code = app.code_for(&params, username, password).await;
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn access_claims(body: &Value) -> Value {
    claims(body["access_token"].as_str().expect("an access token"))
}

async fn get_with_host(app: &TestApp, host: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/.well-known/openid-configuration", app.base))
        .header(header::HOST, host)
        .send()
        .await
        .expect("request")
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
    let body = tokens_for(
        &app,
        "alice@example.com",
        "alice-password",
        "openid profile email read:messages",
    )
    .await;
    assert_eq!(body["scope"], "openid profile email read:messages");
    assert_eq!(
        access_claims(&body)["permissions"],
        serde_json::json!(["read:messages"])
    );
}

#[tokio::test]
async fn with_rbac_bob_asking_for_read_messages_gets_neither_scope_nor_permission() {
    let app = spawn_app().await;
    let body = tokens_for(
        &app,
        "bob@example.com",
        "bob-password",
        "openid profile email read:messages",
    )
    .await;
    let claims = access_claims(&body);
    assert_eq!(claims["scope"], "openid profile email");
    assert_eq!(claims["permissions"], serde_json::json!([]));
}

#[tokio::test]
async fn permissions_lists_all_the_users_permissions_even_when_not_asked_for() {
    let app = spawn_app().await;
    let body = tokens_for(&app, "alice@example.com", "alice-password", "openid").await;
    let claims = access_claims(&body);
    assert_eq!(claims["scope"], "openid");
    assert_eq!(claims["permissions"], serde_json::json!(["read:messages"]));
}

#[tokio::test]
async fn without_rbac_every_requested_api_scope_is_granted_and_no_permissions_claim() {
    let app = spawn_app_with(|s| s.api.enable_rbac = false).await;
    let body = tokens_for(
        &app,
        "bob@example.com",
        "bob-password",
        "openid read:messages",
    )
    .await;
    let claims = access_claims(&body);
    assert_eq!(claims["scope"], "openid read:messages");
    assert!(claims.get("permissions").is_none(), "{claims}");
}

#[tokio::test]
async fn rbac_without_permissions_in_the_token_leaves_the_claim_out() {
    let app = spawn_app_with(|s| s.api.add_permissions_in_the_access_token = false).await;
    let body = tokens_for(
        &app,
        "alice@example.com",
        "alice-password",
        "openid read:messages",
    )
    .await;
    let claims = access_claims(&body);
    assert_eq!(claims["scope"], "openid read:messages");
    assert!(claims.get("permissions").is_none(), "{claims}");
}

#[tokio::test]
async fn a_scope_the_api_does_not_define_is_dropped() {
    let app = spawn_app().await;
    let body = tokens_for(
        &app,
        "alice@example.com",
        "alice-password",
        "openid delete:everything",
    )
    .await;
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
    let body: Value = app
        .exchange(&code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("json");
    let claims = access_claims(&body);
    assert_eq!(claims["scope"], "openid profile email");
    assert!(claims.get("permissions").is_none(), "{claims}");
}

#[tokio::test]
async fn a_redirect_uri_differing_by_a_trailing_slash_gets_an_error_page() {
    let app = spawn_app().await;
    let params = with(
        authorize_params(&Pkce::new()),
        "redirect_uri",
        Some("http://localhost:3000/"),
    );
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn a_return_to_differing_by_a_trailing_slash_gets_an_error_page() {
    let app = spawn_app().await;
    let response = app
        .browser
        .get(format!("{}/v2/logout", app.base))
        .query(&[
            ("client_id", CLIENT_ID),
            ("returnTo", "http://localhost:3000/"),
        ])
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn web_message_to_an_origin_outside_allowed_web_origins_gets_an_error_page() {
    let app =
        spawn_app_with(|s| s.allowed_web_origins = vec!["http://localhost:4000".into()]).await;
    let params = with(
        authorize_params(&Pkce::new()),
        "response_mode",
        Some("web_message"),
    );
    let response = app.authorize(&params).await;
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
    let body = tokens_for(
        &app,
        "alice@example.com",
        "alice-password",
        "profile email read:messages",
    )
    .await;
    assert!(body.get("id_token").is_none(), "{body}");
    assert!(body["access_token"].is_string());
}

#[tokio::test]
async fn the_id_token_carries_the_same_sid_for_every_login_of_one_session() {
    let app = spawn_app().await;
    let first = tokens_for(&app, "alice@example.com", "alice-password", "openid").await;
    let pkce = Pkce::new();
    let silent = app
        .authorize(&with(authorize_params(&pkce), "prompt", Some("none")))
        .await;
    let code = param(&location_query(&silent), "code")
        .expect("a code from the session")
        .to_owned();
    let second: Value = app
        .exchange(&code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("json");
    let sid = |body: &Value| claims(body["id_token"].as_str().expect("id token"))["sid"].clone();
    assert!(sid(&first).as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(sid(&first), sid(&second));
}

#[tokio::test]
async fn an_empty_browser_cookie_counts_as_absent() {
    let app = spawn_app().await;
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .get(format!("{}/authorize", app.base))
        .query(&authorize_params(&Pkce::new()))
        .header(header::COOKIE, "dev_issuer_browser=")
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), StatusCode::OK);
    let set = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("dev_issuer_browser="))
        .expect("a fresh browser cookie is set")
        .to_owned();
    assert!(!set.starts_with("dev_issuer_browser=;"), "{set}");
}
