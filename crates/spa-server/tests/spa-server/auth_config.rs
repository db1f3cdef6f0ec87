//! `GET /auth_config.json`: generated from the resolved configuration, environment included.

use std::collections::HashMap;

use app_config::{AuthConfig, ConfigValues};
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use test_support::spa_server::{spawn_app, spawn_app_with_config};

#[tokio::test]
async fn auth_config_is_the_public_configuration() {
    let app = spawn_app().await;
    let res = app.get("/auth_config.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    let body: Value = res.json().await.expect("json");
    assert_eq!(
        body,
        json!({
            "domain": "http://localhost:3002",
            "clientId": "local-dev-spa",
            "audience": "https://api.local.test",
            "appOrigin": "http://localhost:3000",
            "apiOrigin": "http://localhost:3001",
            "dpop": false,
        })
    );
}

#[tokio::test]
async fn environment_overrides_reach_auth_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("auth_config.json");
    std::fs::write(
        &file,
        r#"{"domain":"http://localhost:3002","clientId":"file-client","audience":"https://file.aud","appOrigin":"http://localhost:3000","apiOrigin":"http://localhost:3001"}"#,
    )
    .expect("write");
    let env = HashMap::from([
        ("AUTH_CONFIG", file.display().to_string()),
        ("AUTH0_CLIENT_ID", "env-client".to_owned()),
        ("AUTH0_AUDIENCE", "https://env.aud".to_owned()),
        ("API_ORIGIN", "http://127.0.0.1:4001".to_owned()),
    ]);
    let config = AuthConfig::from_env_fn(|k| env.get(k).cloned()).expect("valid");
    let app = spawn_app_with_config(config).await;
    let body: Value = app
        .get("/auth_config.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["clientId"], "env-client");
    assert_eq!(body["audience"], "https://env.aud");
    assert_eq!(body["apiOrigin"], "http://127.0.0.1:4001");
    assert_eq!(body["domain"], "http://localhost:3002");
    assert_eq!(body["dpop"], false);
}

#[tokio::test]
async fn auth0_dpop_reaches_auth_config() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("auth_config.json");
    std::fs::write(
        &file,
        r#"{"domain":"http://localhost:3002","clientId":"c","audience":"https://a","appOrigin":"http://localhost:3000","apiOrigin":"http://localhost:3001"}"#,
    )
    .expect("write");
    let env = HashMap::from([
        ("AUTH_CONFIG", file.display().to_string()),
        ("AUTH0_DPOP", "true".to_owned()),
    ]);
    let config = AuthConfig::from_env_fn(|k| env.get(k).cloned()).expect("valid");
    let app = spawn_app_with_config(config).await;
    let body: Value = app
        .get("/auth_config.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["dpop"], true);
}

#[tokio::test]
async fn bare_tenant_domain_is_served_as_an_https_origin() {
    let config = AuthConfig::from_values(ConfigValues {
        domain: Some("tenant.eu.auth0.com".into()),
        client_id: Some("c".into()),
        audience: Some("https://api.example".into()),
        app_origin: Some("https://app.example".into()),
        api_origin: Some("https://api.example".into()),
        ..ConfigValues::default()
    })
    .expect("valid");
    let app = spawn_app_with_config(config).await;
    let body: Value = app
        .get("/auth_config.json")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(body["domain"], "https://tenant.eu.auth0.com");
}

#[tokio::test]
async fn post_to_auth_config_is_405() {
    let app = spawn_app().await;
    let res = app
        .client
        .post(app.url("/auth_config.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn head_on_auth_config_is_200_without_a_body() {
    let app = spawn_app().await;
    let res = app
        .client
        .head(app.url("/auth_config.json"))
        .send()
        .await
        .expect("request");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(res.text().await.expect("body"), "");
}
