//! Several domains on one port, as an Auth0 tenant with a custom domain: each has its own
//! discovery document, and tokens carry the `iss` of the domain they were asked for through.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{
    AUDIENCE, Pkce, access_token_claims, api_verify, claims, json_body,
    spawn_app_through_second_domain,
};

async fn discovery(base: &str) -> Value {
    let response = reqwest::get(format!("{base}/.well-known/openid-configuration"))
        .await
        .expect("discovery");
    assert_eq!(response.status(), StatusCode::OK);
    json_body(response).await
}

#[tokio::test]
async fn each_domain_has_its_own_discovery_document() {
    let app = spawn_app_through_second_domain().await;
    let port = app.base.rsplit(':').next().expect("port").to_owned();
    for base in [
        format!("http://127.0.0.1:{port}"),
        format!("http://localhost:{port}"),
    ] {
        let doc = discovery(&base).await;
        assert_eq!(doc["issuer"], format!("{base}/"));
        assert_eq!(doc["token_endpoint"], format!("{base}/oauth/token"));
        assert_eq!(doc["jwks_uri"], format!("{base}/.well-known/jwks.json"));
    }
}

#[tokio::test]
async fn both_domains_publish_the_same_keys() {
    let app = spawn_app_through_second_domain().await;
    let port = app.base.rsplit(':').next().expect("port").to_owned();
    let url = format!("http://127.0.0.1:{port}/.well-known/jwks.json");
    let first = json_body(reqwest::get(url).await.expect("jwks")).await;
    assert_eq!(first, app.jwks().await);
}

#[tokio::test]
async fn tokens_asked_for_through_the_second_domain_carry_its_iss() {
    let app = spawn_app_through_second_domain().await;
    let pkce = Pkce::new();
    let code = app.alice_code(&pkce).await;
    let response = app.exchange(&code, &pkce.verifier).await;
    assert_eq!(response.status(), StatusCode::OK);
    let body = json_body(response).await;
    let access = access_token_claims(&body);
    let id = claims(body["id_token"].as_str().expect("id token"));
    assert_eq!(access["iss"], app.issuer);
    assert_eq!(id["iss"], app.issuer);
    assert_eq!(access["aud"][1], format!("{}userinfo", app.issuer));
}

#[tokio::test]
async fn the_second_domains_token_verifies_against_that_issuer_only() {
    let app = spawn_app_through_second_domain().await;
    let body = app.alice_tokens().await;
    let token = body["access_token"].as_str().expect("access token");
    // `api_verify` trusts `app.issuer`, the second domain, through its own discovery.
    assert!(api_verify(&app, token, AUDIENCE).await.is_ok());

    let first = app.issuer.replace("localhost", "127.0.0.1");
    let only_first = auth::Verifier::new(auth::VerifierConfig::new(
        first.parse().expect("url"),
        vec![AUDIENCE.to_owned()],
    ))
    .expect("verifier");
    assert_eq!(
        only_first.verify(token).await.expect_err("another issuer"),
        auth::VerifyError::Issuer
    );
}

#[tokio::test]
async fn userinfo_through_the_second_domain_accepts_its_token() {
    let app = spawn_app_through_second_domain().await;
    let body = app.alice_tokens().await;
    let token = body["access_token"].as_str().expect("access token");
    let response = app.userinfo(|r| r.bearer_auth(token)).await;
    assert_eq!(response.status(), StatusCode::OK);
}
