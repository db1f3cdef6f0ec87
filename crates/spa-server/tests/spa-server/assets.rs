//! Files under the root and the SDK mount: content, types, validators, and what is not served.

use reqwest::{StatusCode, header};

use test_support::spa_server::{APP_JS, SDK_JS, SECRET_NPM, spawn_app};

#[tokio::test]
async fn javascript_asset_is_served_with_a_javascript_type() {
    let app = spawn_app().await;
    let res = app.get("/js/app.js").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/javascript");
    assert_eq!(res.text().await.expect("body"), APP_JS);
}

#[tokio::test]
async fn assets_carry_etag_and_last_modified() {
    let app = spawn_app().await;
    let res = app.get("/css/app.css").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers().contains_key(header::ETAG),
        "{:?}",
        res.headers()
    );
    assert!(
        res.headers().contains_key(header::LAST_MODIFIED),
        "{:?}",
        res.headers()
    );
}

#[tokio::test]
async fn matching_if_none_match_gets_304() {
    let app = spawn_app().await;
    let etag = app.get("/js/app.js").await.headers()[header::ETAG].clone();
    let res = app
        .get_with("/js/app.js", |r| r.header(header::IF_NONE_MATCH, etag))
        .await;
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
}

#[tokio::test]
async fn sdk_is_served_from_node_modules_under_vendor() {
    let app = spawn_app().await;
    let res = app
        .get("/vendor/auth0-spa-js/auth0-spa-js.production.esm.js")
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[header::CONTENT_TYPE], "text/javascript");
    assert_eq!(res.text().await.expect("body"), SDK_JS);
}

#[tokio::test]
async fn missing_asset_is_a_real_404() {
    let app = spawn_app().await;
    let res = app.get("/js/nope.js").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert_eq!(res.text().await.expect("body"), "Not Found");
}

#[tokio::test]
async fn missing_path_under_vendor_is_404_even_without_extension() {
    let app = spawn_app().await;
    let res = app.get("/vendor/auth0-spa-js/nope").await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn npm_manifest_is_not_served() {
    let app = spawn_app().await;
    for path in ["/package.json", "/package-lock.json"] {
        let res = app.get(path).await;
        assert_eq!(res.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            !res.text().await.expect("body").contains(SECRET_NPM),
            "{path}"
        );
    }
}

#[tokio::test]
async fn node_modules_is_not_reachable_through_the_root_mount() {
    let app = spawn_app().await;
    let res = app
        .get("/node_modules/@auth0/auth0-spa-js/dist/auth0-spa-js.production.esm.js")
        .await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn sdk_package_manifest_is_not_reachable_under_vendor() {
    let app = spawn_app().await;
    let res = app.get("/vendor/auth0-spa-js/../package.json").await; // reqwest normalises to /vendor/package.json
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (status, raw) = app.raw_get("/vendor/auth0-spa-js/../package.json").await;
    assert_eq!(status, 400);
    assert!(!raw.contains(SECRET_NPM));
}

#[tokio::test]
async fn post_to_an_asset_is_405() {
    let app = spawn_app().await;
    let res = app.post("/js/app.js").await;
    assert_eq!(res.status(), StatusCode::METHOD_NOT_ALLOWED);
}
