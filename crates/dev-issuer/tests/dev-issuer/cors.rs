use reqwest::{Method, StatusCode};

use crate::helpers::*;

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    let request = app.browser.request(Method::OPTIONS, app.url(path));
    let request = request.header("Origin", origin);
    let request = request.header("Access-Control-Request-Method", "POST");
    send(request.header(
        "Access-Control-Request-Headers",
        "auth0-client,content-type",
    ))
    .await
}

#[tokio::test]
async fn token_preflight_from_the_app_origin_allows_the_auth0_client_header() {
    let app = spawn_app().await;
    let response = preflight(&app, "/oauth/token", APP_ORIGIN).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
    let allowed = header(&response, "access-control-allow-headers").expect("ascii");
    let allowed = allowed.to_ascii_lowercase();
    assert!(allowed.contains("auth0-client"), "{allowed}");
    assert!(allowed.contains("content-type"), "{allowed}");
}

#[tokio::test]
async fn token_preflight_from_another_origin_gets_no_cors_grant() {
    let app = spawn_app().await;
    let response = preflight(&app, "/oauth/token", "https://evil.example").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(header(&response, "access-control-allow-origin").is_none());
}

#[tokio::test]
async fn jwks_answers_the_app_origin_with_cors() {
    let app = spawn_app().await;
    let from_the_app = |r: reqwest::RequestBuilder| r.header("Origin", APP_ORIGIN);
    let response = app.get_with("/.well-known/jwks.json", from_the_app).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        APP_ORIGIN
    );
}
