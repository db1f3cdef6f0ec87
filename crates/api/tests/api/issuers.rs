//! Several trusted issuers through the HTTP surface: each issuer's tokens pass, an unlisted
//! issuer is refused without contacting it, readiness follows the main issuer, metrics are per issuer.

use std::time::Duration;

use serde_json::Value;

use test_support::api::{TestApp, assert_invalid_token, spawn_app_with};
use test_support::{KEYS, MockIssuer, eventually};

/// The API trusting its own issuer (`app.issuer`, key `current`) and `second` (key `next`).
async fn two_issuers(second_up: bool) -> (TestApp, MockIssuer) {
    two_issuers_up(true, second_up).await
}

/// [`two_issuers`] with the main issuer up or down too.
async fn two_issuers_up(first_up: bool, second_up: bool) -> (TestApp, MockIssuer) {
    let second = MockIssuer::start(&[&KEYS.next]).await;
    second.set_up(second_up);
    let second_url = second.issuer().parse().expect("issuer URL");
    let app = spawn_app_with(first_up, |settings| {
        settings.verifier.issuers = vec![second_url]
    })
    .await;
    (app, second)
}

/// Whether the `/metrics` text has `line` within `secs` seconds.
async fn shows_within(app: &TestApp, line: &str, secs: u64) -> bool {
    eventually(Duration::from_secs(secs), || async {
        metrics(app).await.lines().any(|l| l == line)
    })
    .await
}

async fn metrics(app: &TestApp) -> String {
    app.metrics_text().await
}

#[tokio::test]
async fn tokens_of_both_listed_issuers_reach_the_external_api() {
    let (app, second) = two_issuers(true).await;
    app.wait_until_ready().await;
    let first_token = app.token().sign();
    let second_token = second.token().signed_by(&KEYS.next).sign();
    for token in [first_token, second_token] {
        let response = app.get_with_token("/api/external", &token).await;
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["msg"], "Your Access Token was successfully validated!");
    }
}

#[tokio::test]
async fn token_of_an_unlisted_issuer_is_401_and_that_issuer_is_never_contacted() {
    let (app, _second) = two_issuers(true).await;
    app.wait_until_ready().await;
    let third = MockIssuer::start(&[&KEYS.stranger]).await;
    let token = third.token().signed_by(&KEYS.stranger).sign();

    let response = app.get_with_token("/api/external", &token).await;

    assert_invalid_token(response, "issuer mismatch").await;
    assert_eq!(third.requests(), 0);
    app.assert_metrics_have(&[r#"api_token_verifications_total{outcome="issuer"} 1"#])
        .await;
}

#[tokio::test]
async fn key_of_the_first_issuer_with_the_iss_of_the_second_is_401() {
    let (app, second) = two_issuers(true).await;
    app.wait_until_ready().await;
    let token = second.token().signed_by(&KEYS.current).sign();
    let response = app.get_with_token("/api/external", &token).await;
    assert_eq!(response.status(), 401);
}

#[tokio::test]
async fn a_further_issuer_down_leaves_the_main_one_serving_and_the_api_ready() {
    let (app, second) = two_issuers(false).await;
    let first_ready = format!(r#"api_issuer_ready{{issuer="{}"}} 1"#, app.issuer.issuer());
    assert!(
        shows_within(&app, &first_ready, 20).await,
        "the first issuer's keys never loaded"
    );
    assert_eq!(app.get("/readyz").await.status(), 200);
    let text = metrics(&app).await;
    let second_not_ready = format!(r#"api_issuer_ready{{issuer="{}"}} 0"#, second.issuer());
    assert!(text.lines().any(|l| l == second_not_ready), "{text}");
    assert!(text.lines().any(|l| l == "api_ready 1"), "{text}");

    let response = app
        .get_with_token("/api/external", &app.token().sign())
        .await;
    assert_eq!(response.status(), 200);
    let response = app
        .get_with_token(
            "/api/external",
            &second.token().signed_by(&KEYS.next).sign(),
        )
        .await;
    assert_eq!(response.status(), 503);

    second.set_up(true);
    let second_ready = format!(r#"api_issuer_ready{{issuer="{}"}} 1"#, second.issuer());
    assert!(
        shows_within(&app, &second_ready, 30).await,
        "the second issuer's keys never loaded once it came up"
    );
}

#[tokio::test]
async fn the_main_issuer_down_makes_the_api_not_ready_whatever_the_others_say() {
    let (app, second) = two_issuers_up(false, true).await;
    let second_ready = format!(r#"api_issuer_ready{{issuer="{}"}} 1"#, second.issuer());
    assert!(
        shows_within(&app, &second_ready, 20).await,
        "the second issuer's keys never loaded"
    );
    assert_eq!(app.get("/readyz").await.status(), 503);
    assert!(metrics(&app).await.lines().any(|l| l == "api_ready 0"));
}

#[tokio::test]
async fn metrics_label_the_key_sets_by_issuer() {
    let (app, second) = two_issuers(true).await;
    app.wait_until_ready().await;
    // Ready follows the main issuer only: wait for the second's keys too.
    let second_ready = format!(r#"api_issuer_ready{{issuer="{}"}} 1"#, second.issuer());
    assert!(
        shows_within(&app, &second_ready, 20).await,
        "the second issuer's keys never loaded"
    );
    let text = metrics(&app).await;
    for issuer in [app.issuer.issuer(), second.issuer()] {
        for line in [
            format!(r#"api_jwks_keys_loaded{{issuer="{issuer}"}} 1"#),
            format!(r#"api_issuer_ready{{issuer="{issuer}"}} 1"#),
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }
}

#[tokio::test]
async fn a_second_audience_is_accepted() {
    let app = spawn_app_with(true, |settings| {
        settings
            .verifier
            .audiences
            .push("https://second.api.test".into());
    })
    .await;
    app.wait_until_ready().await;
    let token = app.token().claim("aud", "https://second.api.test").sign();
    assert_eq!(app.status_with_token("/api/external", &token).await, 200);
    let token = app.token().claim("aud", "https://third.api.test").sign();
    assert_eq!(app.status_with_token("/api/external", &token).await, 401);
}
