use reqwest::{Method, StatusCode};

use crate::helpers::*;

async fn preflight(app: &TestApp, path: &str, origin: &str) -> reqwest::Response {
    app.browser
        .request(Method::OPTIONS, format!("{}{path}", app.base))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "auth0-client,content-type",
        )
        .send()
        .await
        .expect("preflight")
}

#[tokio::test]
async fn token_preflight_from_the_app_origin_allows_the_auth0_client_header() {
    let app = spawn_app().await;
    let response = preflight(&app, "/oauth/token", APP_ORIGIN).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], APP_ORIGIN);
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .expect("ascii")
        .to_ascii_lowercase();
    assert!(allowed.contains("auth0-client"), "{allowed}");
    assert!(allowed.contains("content-type"), "{allowed}");
}

#[tokio::test]
async fn token_preflight_from_another_origin_gets_no_cors_grant() {
    let app = spawn_app().await;
    let response = preflight(&app, "/oauth/token", "https://evil.example").await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn jwks_answers_the_app_origin_with_cors() {
    let app = spawn_app().await;
    let response = app
        .browser
        .get(format!("{}/.well-known/jwks.json", app.base))
        .header("Origin", APP_ORIGIN)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["access-control-allow-origin"],
        APP_ORIGIN
    );
}
