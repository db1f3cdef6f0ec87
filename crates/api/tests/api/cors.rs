//! CORS: only `appOrigin`, Authorization allowed, WWW-Authenticate exposed, on errors too;
//! answers to requests without `Origin` carry no CORS header but `Vary: Origin`.

use reqwest::Method;
use test_support::api::{send, spawn_app};
use test_support::{APP_ORIGIN, header, header_list};

/// `GET path` without an `Origin` header, as curl or a backend sends it.
async fn get_without_origin(path: &str) -> reqwest::Response {
    let app = spawn_app().await;
    app.get(path).await
}

/// Asserts `status` and the app origin in `Access-Control-Allow-Origin`.
fn assert_allowed_for_the_app(response: &reqwest::Response, status: u16) {
    assert_eq!(response.status(), status);
    assert_eq!(
        header(response, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
}

#[tokio::test]
async fn allowed_origin_gets_allow_origin_on_success() {
    let app = spawn_app().await;
    let response = app.get_from_origin("/api/public", APP_ORIGIN).await;
    assert_allowed_for_the_app(&response, 200);
}

#[tokio::test]
async fn unauthorized_response_carries_cors_headers_and_exposes_the_challenge() {
    let app = spawn_app().await;
    let response = app.get_from_origin("/api/external", APP_ORIGIN).await;
    assert_allowed_for_the_app(&response, 401);
    let exposed = header_list(&response, "access-control-expose-headers");
    assert!(
        exposed.iter().any(|h| h == "www-authenticate"),
        "{exposed:?}"
    );
}

#[tokio::test]
async fn forbidden_response_carries_cors_headers() {
    let app = spawn_app().await;
    let token = app.token().claim("scope", "openid").sign();
    let from_the_app =
        |r: reqwest::RequestBuilder| r.header("Origin", APP_ORIGIN).bearer_auth(token);
    let response = app.get_with("/api/private-scoped", from_the_app).await;
    assert_allowed_for_the_app(&response, 403);
}

#[tokio::test]
async fn other_origin_gets_no_allow_origin() {
    let app = spawn_app().await;
    let response = app
        .get_from_origin("/api/public", "https://evil.example")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn preflight_from_app_origin_allows_get_with_authorization() {
    let app = spawn_app().await;
    let response = app
        .preflight("/api/external", APP_ORIGIN, "authorization")
        .await;
    assert_allowed_for_the_app(&response, 200);
    let allowed = header_list(&response, "access-control-allow-headers");
    assert!(allowed.iter().any(|h| h == "authorization"), "{allowed:?}");
    let methods = header(&response, "access-control-allow-methods").unwrap_or_default();
    assert!(methods.split(',').any(|m| m.trim() == "GET"), "{methods}");
}

#[tokio::test]
async fn preflight_from_other_origin_is_refused() {
    let app = spawn_app().await;
    let response = app
        .preflight("/api/external", "https://evil.example", "authorization")
        .await;
    assert_eq!(response.status(), 400);
    assert_eq!(header(&response, "access-control-allow-origin"), None);
}

#[tokio::test]
async fn answer_without_origin_carries_no_cors_headers() {
    let response = get_without_origin("/api/public").await;
    assert_eq!(response.status(), 200);
    let cors: Vec<&str> = response
        .headers()
        .keys()
        .map(|name| name.as_str())
        .filter(|name| name.starts_with("access-control-"))
        .collect();
    assert_eq!(cors, Vec::<&str>::new());
}

#[tokio::test]
async fn answer_without_origin_varies_on_origin() {
    let response = get_without_origin("/api/public").await;
    assert_eq!(header(&response, "vary"), Some("Origin"));
}

#[tokio::test]
async fn refusal_without_origin_varies_on_origin() {
    let response = get_without_origin("/api/external").await;
    assert_eq!(response.status(), 401);
    assert_eq!(header(&response, "vary"), Some("Origin"));
    assert_eq!(header(&response, "access-control-expose-headers"), None);
}

#[tokio::test]
async fn answer_to_the_app_origin_varies_on_origin_and_the_preflight_headers() {
    let app = spawn_app().await;
    let response = app.get_from_origin("/api/public", APP_ORIGIN).await;
    let vary = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers";
    assert_eq!(header(&response, "vary"), Some(vary));
}

#[tokio::test]
async fn preflight_without_origin_is_still_answered_by_the_cors_layer() {
    let app = spawn_app().await;
    let url = app.url("/api/external");
    let options = app.client.request(Method::OPTIONS, url);
    let response = send(options.header("Access-Control-Request-Method", "GET")).await;
    // actix-cors refuses a preflight that names no origin; the router would have said 404.
    assert_eq!(response.status(), 400);
}
