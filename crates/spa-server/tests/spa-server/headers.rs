//! Security headers on every kind of response.

use reqwest::{StatusCode, header};

use crate::helpers::tenant_config;
use test_support::header;
use test_support::spa_server::{spawn_app, spawn_app_with_config};

const DEV_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: http://localhost:3002; \
    connect-src 'self' http://localhost:3002 http://localhost:3001; \
    frame-src http://localhost:3002; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'; object-src 'none'; manifest-src 'self'";

#[tokio::test]
async fn csp_allows_exactly_self_issuer_and_api() {
    let app = spawn_app().await;
    let res = app.get("/").await;
    assert_eq!(res.headers()[header::CONTENT_SECURITY_POLICY], DEV_CSP);
}

#[tokio::test]
async fn csp_follows_the_configured_origins() {
    let app = spawn_app_with_config(tenant_config("https://api.example:8443")).await;
    let response = app.get("/").await;
    let csp = header(&response, "content-security-policy").expect("ascii");
    let connect = "connect-src 'self' https://tenant.eu.auth0.com https://api.example:8443;";
    assert!(csp.contains(connect), "{csp}");
    assert!(
        csp.contains("frame-src https://tenant.eu.auth0.com;"),
        "{csp}"
    );
    let img = "img-src 'self' data: https://tenant.eu.auth0.com;";
    assert!(csp.contains(img), "{csp}");
    assert!(!csp.contains("localhost"), "{csp}");
}

async fn assert_security_headers(path: &str, status: StatusCode) {
    let app = spawn_app().await;
    let res = app.get(path).await;
    assert_eq!(res.status(), status, "{path}");
    let h = res.headers();
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{path}");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY", "{path}");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer", "{path}");
    assert_eq!(h[header::CONTENT_SECURITY_POLICY], DEV_CSP, "{path}");
}

#[tokio::test]
async fn security_headers_on_the_shell() {
    assert_security_headers("/profile", StatusCode::OK).await;
}

#[tokio::test]
async fn security_headers_on_assets() {
    assert_security_headers("/js/app.js", StatusCode::OK).await;
}

#[tokio::test]
async fn security_headers_on_auth_config() {
    assert_security_headers("/auth_config.json", StatusCode::OK).await;
}

#[tokio::test]
async fn security_headers_on_404() {
    assert_security_headers("/js/nope.js", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn security_headers_on_refused_paths() {
    assert_security_headers("/.env", StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn auth_config_is_no_cache() {
    let app = spawn_app().await;
    let res = app.get("/auth_config.json").await;
    assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache");
}
