//! `GET /auth_config.json`: generated from the resolved configuration, environment included.

use std::collections::HashMap;

use app_config::AuthConfig;
use reqwest::{StatusCode, header};
use serde_json::{Value, json};

use crate::helpers::{dev_config_file, tenant_config};
use test_support::spa_server::{spawn_app, spawn_app_with_config};

/// `/auth_config.json` as served with a configuration file (client `file-client`) and the
/// environment `env` on top.
async fn served_with_env(env: &[(&str, &str)]) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dev_config_file(dir.path(), "file-client");
    let mut env: HashMap<&str, String> = env.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
    env.insert("AUTH_CONFIG", file.display().to_string());
    let config = AuthConfig::from_env_fn(|k| env.get(k).cloned()).expect("valid");
    let app = spawn_app_with_config(config).await;
    app.get_json("/auth_config.json").await
}

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
    let body = served_with_env(&[
        ("AUTH0_CLIENT_ID", "env-client"),
        ("AUTH0_AUDIENCE", "https://env.aud"),
        ("API_ORIGIN", "http://127.0.0.1:4001"),
    ])
    .await;
    assert_eq!(body["clientId"], "env-client");
    assert_eq!(body["audience"], "https://env.aud");
    assert_eq!(body["apiOrigin"], "http://127.0.0.1:4001");
    assert_eq!(body["domain"], "http://localhost:3002");
    assert_eq!(body["dpop"], false);
}

#[tokio::test]
async fn auth0_dpop_reaches_auth_config() {
    let body = served_with_env(&[("AUTH0_DPOP", "true")]).await;
    assert_eq!(body["dpop"], true);
}

#[tokio::test]
async fn bare_tenant_domain_is_served_as_an_https_origin() {
    let app = spawn_app_with_config(tenant_config("https://api.example")).await;
    let body = app.get_json("/auth_config.json").await;
    assert_eq!(body["domain"], "https://tenant.eu.auth0.com");
}

#[tokio::test]
async fn post_to_auth_config_is_405() {
    let app = spawn_app().await;
    let res = app.post("/auth_config.json").await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn head_on_auth_config_is_200_without_a_body() {
    let app = spawn_app().await;
    let res = app.head("/auth_config.json").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "application/json");
    assert_eq!(res.text().await.expect("body"), "");
}
