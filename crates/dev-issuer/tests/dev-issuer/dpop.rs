//! DPoP at the dev issuer (RFC 9449), as an Auth0 tenant does it: discovery, the nonce round
//! trip at the token endpoint, bound access tokens (`cnf.jkt`, `token_type: "DPoP"`), codes bound
//! by `dpop_jkt`, bound refresh tokens, and `/userinfo` with a proof. Proofs come from
//! `test_support` (hand-written JSON, thumbprints computed by hand), independent of `auth`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

fn exchange_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("client_id", CLIENT_ID),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", APP_ORIGIN),
    ]
}

#[tokio::test]
async fn discovery_lists_the_dpop_signing_algorithms() {
    let app = spawn_app().await;
    let body: Value = reqwest::get(format!("{}/.well-known/openid-configuration", app.base))
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(body["dpop_signing_alg_values_supported"], json!(["ES256"]));
}

#[tokio::test]
async fn a_first_proof_without_nonce_gets_use_dpop_nonce_and_a_nonce_header() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let code = app.alice_code(&pkce).await;
    let response = app
        .dpop_token(
            &ClientKey::generate(),
            None,
            &exchange_form(&code, &pkce.verifier),
        )
        .await;
    assert!(header(&response, "dpop-nonce").is_some_and(|n| !n.is_empty()));
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "use_dpop_nonce").await;
}

#[tokio::test]
async fn the_nonce_answer_exposes_dpop_nonce_to_the_spa() {
    let app = spawn_app().await;
    let response = app
        .browser
        .post(app.token_url())
        .header("Origin", APP_ORIGIN)
        .header(
            "DPoP",
            ClientKey::generate().proof("POST", &app.token_url()).sign(),
        )
        .form(&[
            ("grant_type", "authorization_code"),
            ("client_id", CLIENT_ID),
        ])
        .send()
        .await
        .expect("token request");
    let exposed = header(&response, "access-control-expose-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        exposed.split(',').any(|h| h.trim() == "dpop-nonce"),
        "{exposed}"
    );
}

#[tokio::test]
async fn the_code_grant_with_a_nonced_proof_issues_a_dpop_bound_token() {
    let app = spawn_app().await;
    let key = ClientKey::generate();
    let pkce = Pkce::new();
    let code = app.alice_code(&pkce).await;
    let response = app
        .dpop_token_with_nonce(&key, &exchange_form(&code, &pkce.verifier))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "DPoP");
    let access = claims(body["access_token"].as_str().expect("access token"));
    assert_eq!(access["cnf"], json!({"jkt": key.jkt}));
}

#[tokio::test]
async fn a_proof_for_another_endpoint_is_invalid_dpop_proof() {
    let app = spawn_app().await;
    let key = ClientKey::generate();
    let nonce = app.a_nonce().await;
    let pkce = Pkce::new();
    let code = app.alice_code(&pkce).await;
    let response = app
        .browser
        .post(app.token_url())
        .header(
            "DPoP",
            key.proof("POST", &format!("{}/userinfo", app.base))
                .nonce(&nonce)
                .sign(),
        )
        .form(&exchange_form(&code, &pkce.verifier))
        .send()
        .await
        .expect("token request");
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn without_a_proof_the_token_stays_a_bearer_token() {
    let app = spawn_app().await;
    let body = app.alice_tokens().await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(
        claims(body["access_token"].as_str().expect("token"))
            .get("cnf")
            .is_none()
    );
}

async fn code_bound_to(app: &TestApp, pkce: &Pkce, jkt: &str) -> String {
    app.code_for(
        &with(authorize_params(pkce), "dpop_jkt", Some(jkt)),
        "alice@example.com",
        "alice-password",
    )
    .await
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_is_redeemed_with_that_key() {
    let app = spawn_app().await;
    let key = ClientKey::generate();
    let pkce = Pkce::new();
    let code = code_bound_to(&app, &pkce, &key.jkt).await;
    let response = app
        .dpop_token_with_nonce(&key, &exchange_form(&code, &pkce.verifier))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_is_refused_with_another_key() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let code = code_bound_to(&app, &pkce, &ClientKey::generate().jkt).await;
    let response = app
        .dpop_token_with_nonce(
            &ClientKey::generate(),
            &exchange_form(&code, &pkce.verifier),
        )
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_is_refused_without_a_proof() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let code = code_bound_to(&app, &pkce, &ClientKey::generate().jkt).await;
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn a_malformed_dpop_jkt_is_refused_at_authorize() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let response = app
        .authorize(&with(
            authorize_params(&pkce),
            "dpop_jkt",
            Some("not a thumbprint"),
        ))
        .await;
    let query = location_query(&response);
    assert_eq!(param(&query, "error"), Some("invalid_request"));
}

/// A DPoP-bound token set with a refresh token, for `key`.
async fn bound_tokens_with_refresh(app: &TestApp, key: &ClientKey) -> Value {
    let pkce = Pkce::new();
    let code = app.offline_code(&pkce).await;
    let response = app
        .dpop_token_with_nonce(key, &exchange_form(&code, &pkce.verifier))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.expect("json")
}

fn refresh_form(refresh_token: &str) -> Vec<(&'static str, &str)> {
    vec![
        ("client_id", CLIENT_ID),
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ]
}

#[tokio::test]
async fn a_bound_refresh_token_refreshes_with_a_proof_of_the_same_key() {
    let app = spawn_app().await;
    let key = ClientKey::generate();
    let tokens = bound_tokens_with_refresh(&app, &key).await;
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let response = app
        .dpop_token_with_nonce(&key, &refresh_form(refresh))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(
        claims(body["access_token"].as_str().expect("token"))["cnf"]["jkt"],
        key.jkt.as_str()
    );
}

#[tokio::test]
async fn a_bound_refresh_token_is_refused_with_another_key() {
    let app = spawn_app().await;
    let tokens = bound_tokens_with_refresh(&app, &ClientKey::generate()).await;
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let response = app
        .dpop_token_with_nonce(&ClientKey::generate(), &refresh_form(refresh))
        .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_grant").await;
}

#[tokio::test]
async fn a_bound_refresh_token_is_refused_without_a_proof_and_not_spent() {
    let app = spawn_app().await;
    let key = ClientKey::generate();
    let tokens = bound_tokens_with_refresh(&app, &key).await;
    let refresh = tokens["refresh_token"].as_str().expect("refresh token");
    let stolen = app.refresh(refresh).await;
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    let owner = app
        .dpop_token_with_nonce(&key, &refresh_form(refresh))
        .await;
    assert_eq!(
        owner.status(),
        StatusCode::OK,
        "the thief's try did not spend it"
    );
}

#[tokio::test]
async fn userinfo_accepts_a_bound_token_with_its_proof() {
    let app = spawn_app().await;
    let key = ClientKey::generate();
    let tokens = bound_tokens_with_refresh(&app, &key).await;
    let token = tokens["access_token"].as_str().expect("token");
    let url = format!("{}/userinfo", app.base);
    let nonce = app.a_nonce().await;
    let response = app
        .browser
        .get(&url)
        .header("Authorization", format!("DPoP {token}"))
        .header(
            "DPoP",
            key.proof("GET", &url).nonce(&nonce).token(token).sign(),
        )
        .send()
        .await
        .expect("userinfo");
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["email"], "alice@example.com");
}

#[tokio::test]
async fn userinfo_refuses_a_bound_token_sent_as_bearer() {
    let app = spawn_app().await;
    let tokens = bound_tokens_with_refresh(&app, &ClientKey::generate()).await;
    let token = tokens["access_token"].as_str().expect("token");
    let response = app
        .browser
        .get(format!("{}/userinfo", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("userinfo");
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn userinfo_refuses_a_proof_by_another_key() {
    let app = spawn_app().await;
    let tokens = bound_tokens_with_refresh(&app, &ClientKey::generate()).await;
    let token = tokens["access_token"].as_str().expect("token");
    let url = format!("{}/userinfo", app.base);
    let nonce = app.a_nonce().await;
    let response = app
        .browser
        .get(&url)
        .header("Authorization", format!("DPoP {token}"))
        .header(
            "DPoP",
            ClientKey::generate()
                .proof("GET", &url)
                .nonce(&nonce)
                .token(token)
                .sign(),
        )
        .send()
        .await
        .expect("userinfo");
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_dpop_proof").await;
}
