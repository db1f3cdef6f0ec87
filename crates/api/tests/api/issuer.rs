//! The issuer's availability and key changes, end to end.

use std::time::Duration;

use test_support::api::{TestApp, assert_invalid_token, spawn_app_with};
use test_support::header;

use crate::helpers::{assert_keys_unavailable, retry_after_secs};
use test_support::{APP_ORIGIN, KEYS, eventually};

/// A ready API whose key cache waits `cooldown` between fetches for unknown kids.
async fn ready_with_kid_cooldown(cooldown: Duration) -> TestApp {
    let app = spawn_app_with(true, |settings| {
        settings.verifier.cache.unknown_kid_cooldown = cooldown;
    })
    .await;
    app.wait_until_ready().await;
    app
}

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
    let token = app.token().sign();
    let response = app
        .get_with("/api/external", |r| {
            r.header("Origin", APP_ORIGIN).bearer_auth(token)
        })
        .await;
    assert_eq!(
        header(&response, "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    let retry_after = retry_after_secs(&response);
    assert!(retry_after >= 1);
    assert_keys_unavailable(response).await;
}

#[tokio::test]
async fn key_rotation_is_followed_end_to_end() {
    let app = ready_with_kid_cooldown(Duration::from_millis(1)).await;
    let old = app.token().sign();
    assert_eq!(app.status_with_token("/api/external", &old).await, 200);

    app.issuer.serve(&[&KEYS.next]);
    let new = app.token().signed_by(&KEYS.next).sign();
    assert_eq!(app.status_with_token("/api/external", &new).await, 200);

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
    let retry_after = retry_after_secs(&response);
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_keys_unavailable(response).await;
    // The key it already holds keeps working.
    let known = app.token().sign();
    assert_eq!(app.status_with_token("/api/external", &known).await, 200);
}

#[tokio::test]
async fn retry_after_for_an_unknown_kid_while_the_issuer_is_down_lasts_until_the_next_fetch() {
    // The unknown-kid cooldown is 30 s: no request can make the API fetch again before.
    let app = ready_with_kid_cooldown(Duration::from_secs(30)).await;
    app.issuer.set_up(false);
    let token = app.token().signed_by(&KEYS.next).sign();
    let response = app.get_with_token("/api/external", &token).await;
    assert_eq!(response.status(), 503);
    let retry_after = retry_after_secs(&response);
    assert!((29..=30).contains(&retry_after), "{retry_after}");
}

#[tokio::test]
async fn a_token_signed_by_a_key_published_just_after_a_fetch_is_503_not_401() {
    let app = ready_with_kid_cooldown(Duration::from_secs(30)).await;
    // Anyone can make the API fetch with a made-up kid...
    let bogus = app.token().signed_by(&KEYS.stranger).sign();
    assert_eq!(app.status_with_token("/api/external", &bogus).await, 401);
    let fetches = app.issuer.jwks_requests();
    // ...just before the issuer publishes its next key and signs with it.
    app.issuer.serve(&[&KEYS.current, &KEYS.next]);
    let token = app.token().signed_by(&KEYS.next).sign();
    let response = app.get_with_token("/api/external", &token).await;
    let retry_after = retry_after_secs(&response);
    assert!((29..=30).contains(&retry_after), "{retry_after}");
    assert_keys_unavailable(response).await;
    assert_eq!(
        app.issuer.jwks_requests(),
        fetches,
        "the cooldown was not kept"
    );
}
