//! The issuer's availability and key changes, end to end.

use std::time::Duration;

use test_support::api::{assert_invalid_token, assert_refusal, spawn_app_with};
use test_support::header;
use test_support::{APP_ORIGIN, KEYS, eventually};

#[tokio::test]
async fn api_starts_with_the_issuer_down_and_becomes_ready_when_it_comes_up() {
    let app = spawn_app_with(false, |_| {}).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 503);

    app.issuer.set_up(true);
    assert!(
        eventually(Duration::from_secs(30), || app.ready()).await,
        "/readyz did not turn 200 within 30 s of the issuer coming up"
    );
    let response = app
        .get_with_token("/api/external", &app.token().sign())
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn token_while_the_issuer_is_down_is_503_temporarily_unavailable_with_retry_after() {
    let app = spawn_app_with(false, |_| {}).await;
    let response = app
        .client
        .get(app.url("/api/external"))
        .header("Origin", APP_ORIGIN)
        .bearer_auth(app.token().sign())
        .send()
        .await
        .expect("request");
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    let retry_after: u64 = header(&response, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!(retry_after >= 1);
    assert_refusal(
        response,
        503,
        r#"Bearer realm="api", error="temporarily_unavailable", error_description="signing keys unavailable""#,
        "temporarily_unavailable",
        "signing keys unavailable",
    )
    .await;
}

#[tokio::test]
async fn key_rotation_is_followed_end_to_end() {
    let app = spawn_app_with(true, |settings| {
        settings.verifier.cache.unknown_kid_cooldown = Duration::from_millis(1);
    })
    .await;
    app.wait_until_ready().await;
    let old = app.token().sign();
    assert_eq!(
        app.get_with_token("/api/external", &old).await.status(),
        200
    );

    app.issuer.serve(&[&KEYS.next]);
    let new = app.token().signed_by(&KEYS.next).sign();
    assert_eq!(
        app.get_with_token("/api/external", &new).await.status(),
        200
    );

    assert_invalid_token(
        app.get_with_token("/api/external", &old).await,
        "signing key not found",
    )
    .await;
    assert!(app.issuer.jwks_requests() >= 2);
}

#[tokio::test]
async fn unknown_kid_while_the_issuer_is_down_is_503_not_401() {
    let app = spawn_app_with(true, |_| {}).await;
    app.wait_until_ready().await;
    app.issuer.set_up(false);
    // Signed by a key the API has not seen: it may be the issuer's newest, so the client must
    // keep the token and retry rather than be told it is invalid.
    let token = app.token().signed_by(&KEYS.next).sign();
    let response = app.get_with_token("/api/external", &token).await;
    let retry_after: u64 = header(&response, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_refusal(
        response,
        503,
        r#"Bearer realm="api", error="temporarily_unavailable", error_description="signing keys unavailable""#,
        "temporarily_unavailable",
        "signing keys unavailable",
    )
    .await;
    // The key it already holds keeps working.
    let known = app.token().sign();
    assert_eq!(
        app.get_with_token("/api/external", &known).await.status(),
        200
    );
}

/// The `Retry-After` of a response, in whole seconds.
fn retry_after_secs(response: &reqwest::Response) -> u64 {
    header(response, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds")
}

#[tokio::test]
async fn retry_after_for_an_unknown_kid_while_the_issuer_is_down_lasts_until_the_next_fetch() {
    // The unknown-kid cooldown is 30 s: no request can make the API fetch again before.
    let app = spawn_app_with(true, |settings| {
        settings.verifier.cache.unknown_kid_cooldown = Duration::from_secs(30);
    })
    .await;
    app.wait_until_ready().await;
    app.issuer.set_up(false);
    let token = app.token().signed_by(&KEYS.next).sign();
    let response = app.get_with_token("/api/external", &token).await;
    assert_eq!(response.status(), 503);
    let retry_after = retry_after_secs(&response);
    assert!((29..=30).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn a_token_signed_by_a_key_published_just_after_a_fetch_is_503_not_401() {
    let app = spawn_app_with(true, |settings| {
        settings.verifier.cache.unknown_kid_cooldown = Duration::from_secs(30);
    })
    .await;
    app.wait_until_ready().await;
    // Anyone can make the API fetch with a made-up kid...
    let bogus = app.token().signed_by(&KEYS.stranger).sign();
    assert_eq!(
        app.get_with_token("/api/external", &bogus).await.status(),
        401
    );
    let fetches = app.issuer.jwks_requests();
    // ...just before the issuer publishes its next key and signs with it.
    app.issuer.serve(&[&KEYS.current, &KEYS.next]);
    let token = app.token().signed_by(&KEYS.next).sign();
    let response = app.get_with_token("/api/external", &token).await;
    let retry_after = retry_after_secs(&response);
    assert!((29..=30).contains(&retry_after), "{retry_after}");
    assert_refusal(
        response,
        503,
        r#"Bearer realm="api", error="temporarily_unavailable", error_description="signing keys unavailable""#,
        "temporarily_unavailable",
        "signing keys unavailable",
    )
    .await;
    assert_eq!(
        app.issuer.jwks_requests(),
        fetches,
        "the cooldown was not kept"
    );
}
