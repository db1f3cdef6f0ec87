//! DPoP at the dev issuer (RFC 9449), as an Auth0 tenant does it: discovery, the nonce round
//! trip at the token endpoint, bound access tokens (`cnf.jkt`, `token_type: "DPoP"`), codes bound
//! by `dpop_jkt`, bound refresh tokens, and `/userinfo` with a proof. Proofs come from
//! `test_support` (hand-written JSON, thumbprints computed by hand), independent of `auth`.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

/// A GET of `/userinfo` with `Authorization: DPoP <token>` and a proof by `key` with `nonce`.
async fn userinfo_with_proof(
    app: &TestApp,
    token: &str,
    key: &ClientKey,
    nonce: &str,
) -> reqwest::Response {
    let proof = key
        .proof("GET", &app.url("/userinfo"))
        .nonce(nonce)
        .token(token);
    app.userinfo(|r| {
        r.header("Authorization", format!("DPoP {token}"))
            .header("DPoP", proof.sign())
    })
    .await
}

#[tokio::test]
async fn discovery_lists_the_dpop_signing_algorithms() {
    let app = spawn_app().await;
    let body = json_body(
        app.get_with("/.well-known/openid-configuration", |r| r)
            .await,
    )
    .await;
    assert_eq!(body["dpop_signing_alg_values_supported"], json!(["ES256"]));
}

#[tokio::test]
async fn a_first_proof_without_nonce_gets_use_dpop_nonce_and_a_nonce_header() {
    let (app, pkce, code) = spawn_with_alice_code().await;
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
    let proof = ClientKey::generate().proof("POST", &app.token_url()).sign();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", CLIENT_ID),
    ];
    let request = app
        .browser
        .post(app.token_url())
        .header("Origin", APP_ORIGIN);
    let response = send(request.header("DPoP", proof).form(&form)).await;
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
    let body = json_body(response).await;
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(access_token_claims(&body)["cnf"], json!({"jkt": key.jkt}));
}

#[tokio::test]
async fn a_proof_for_another_endpoint_is_invalid_dpop_proof() {
    let app = spawn_app().await;
    let key = ClientKey::generate();
    let nonce = app.a_nonce().await;
    let pkce = Pkce::new();
    let code = app.alice_code(&pkce).await;
    let proof = key
        .proof("POST", &app.url("/userinfo"))
        .nonce(&nonce)
        .sign();
    let form = exchange_form(&code, &pkce.verifier);
    let response = send(
        app.browser
            .post(app.token_url())
            .header("DPoP", proof)
            .form(&form),
    )
    .await;
    assert_oauth_error(response, StatusCode::BAD_REQUEST, "invalid_dpop_proof").await;
}

#[tokio::test]
async fn without_a_proof_the_token_stays_a_bearer_token() {
    let app = spawn_app().await;
    let body = app.alice_tokens().await;
    assert_eq!(body["token_type"], "Bearer");
    assert!(access_token_claims(&body).get("cnf").is_none());
}

async fn code_bound_to(app: &TestApp, pkce: &Pkce, jkt: &str) -> String {
    let params = with(authorize_params(pkce), "dpop_jkt", Some(jkt));
    app.code_for(&params, "alice@example.com", "alice-password")
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
    let (other, form) = (ClientKey::generate(), exchange_form(&code, &pkce.verifier));
    assert_invalid_grant(app.dpop_token_with_nonce(&other, &form).await).await;
}

#[tokio::test]
async fn a_code_bound_by_dpop_jkt_is_refused_without_a_proof() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let code = code_bound_to(&app, &pkce, &ClientKey::generate().jkt).await;
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_invalid_grant(response).await;
}

#[tokio::test]
async fn a_malformed_dpop_jkt_is_refused_at_authorize() {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let params = with(
        authorize_params(&pkce),
        "dpop_jkt",
        Some("not a thumbprint"),
    );
    let response = app.authorize(&params).await;
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
    json_body(response).await
}

/// The refresh token of a DPoP-bound token set for `key`.
async fn bound_refresh_token(app: &TestApp, key: &ClientKey) -> String {
    let tokens = bound_tokens_with_refresh(app, key).await;
    tokens["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_owned()
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
    let refresh = bound_refresh_token(&app, &key).await;
    let response = app
        .dpop_token_with_nonce(&key, &refresh_form(&refresh))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    assert_eq!(body["token_type"], "DPoP");
    assert_eq!(access_token_claims(&body)["cnf"]["jkt"], key.jkt.as_str());
}

#[tokio::test]
async fn a_bound_refresh_token_is_refused_with_another_key() {
    let app = spawn_app().await;
    let refresh = bound_refresh_token(&app, &ClientKey::generate()).await;
    let (other, form) = (ClientKey::generate(), refresh_form(&refresh));
    assert_invalid_grant(app.dpop_token_with_nonce(&other, &form).await).await;
}

#[tokio::test]
async fn a_bound_refresh_token_is_refused_without_a_proof_and_not_spent() {
    let app = spawn_app().await;
    let key = ClientKey::generate();
    let refresh = bound_refresh_token(&app, &key).await;
    let stolen = app.refresh(&refresh).await;
    assert_eq!(stolen.status(), StatusCode::BAD_REQUEST);
    let owner = app
        .dpop_token_with_nonce(&key, &refresh_form(&refresh))
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
    let nonce = app.a_nonce().await;
    let response = userinfo_with_proof(&app, token, &key, &nonce).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(json_body(response).await["email"], "alice@example.com");
}

#[tokio::test]
async fn userinfo_refuses_a_bound_token_sent_as_bearer() {
    let app = spawn_app().await;
    let tokens = bound_tokens_with_refresh(&app, &ClientKey::generate()).await;
    let token = tokens["access_token"].as_str().expect("token");
    let response = app.userinfo(|r| r.bearer_auth(token)).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_token").await;
}

#[tokio::test]
async fn userinfo_refuses_a_proof_by_another_key() {
    let app = spawn_app().await;
    let tokens = bound_tokens_with_refresh(&app, &ClientKey::generate()).await;
    let token = tokens["access_token"].as_str().expect("token");
    let nonce = app.a_nonce().await;
    let response = userinfo_with_proof(&app, token, &ClientKey::generate(), &nonce).await;
    assert_oauth_error(response, StatusCode::UNAUTHORIZED, "invalid_dpop_proof").await;
}
