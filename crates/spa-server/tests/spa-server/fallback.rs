//! History-API fallback: app routes get index.html; missing files do not.

use reqwest::{StatusCode, header};

use test_support::spa_server::{INDEX_MARKER, spawn_app};

async fn assert_shell(path: &str) {
    let app = spawn_app().await;
    let res = app.get(path).await;
    assert_eq!(res.status(), StatusCode::OK, "{path}");
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8",
        "{path}"
    );
    assert!(
        res.text().await.expect("body").contains(INDEX_MARKER),
        "{path}"
    );
}

#[tokio::test]
async fn root_serves_index_html() {
    assert_shell("/").await;
}

#[tokio::test]
async fn profile_route_serves_index_html() {
    assert_shell("/profile").await;
}

#[tokio::test]
async fn external_api_route_serves_index_html() {
    assert_shell("/external-api").await;
}

#[tokio::test]
async fn unknown_deep_route_serves_index_html() {
    assert_shell("/some/deep/route").await;
}

#[tokio::test]
async fn callback_query_does_not_change_the_answer() {
    assert_shell("/?code=abc&state=xyz").await;
}

#[tokio::test]
async fn folder_gets_the_shell_not_a_listing() {
    let app = spawn_app().await;
    let res = app.get("/js/").await;
    assert_eq!(res.status(), StatusCode::OK);
    let body = res.text().await.expect("body");
    assert!(body.contains(INDEX_MARKER));
    assert!(!body.contains("app.js"), "listing leaked: {body}");
}

#[tokio::test]
async fn index_html_is_no_cache_on_every_path() {
    let app = spawn_app().await;
    for path in ["/", "/index.html", "/profile"] {
        let res = app.get(path).await;
        assert_eq!(res.headers()[header::CACHE_CONTROL], "no-cache", "{path}");
    }
}

#[tokio::test]
async fn fallback_shell_answers_head() {
    let app = spawn_app().await;
    let res = app.head("/profile").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
}

#[tokio::test]
async fn post_to_an_app_route_is_405() {
    let app = spawn_app().await;
    let res = app.post("/profile").await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn missing_file_with_extension_does_not_get_the_shell() {
    let app = spawn_app().await;
    let res = app.get("/favicon.ico").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(!res.text().await.expect("body").contains(INDEX_MARKER));
}
