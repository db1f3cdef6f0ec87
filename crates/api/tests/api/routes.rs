//! The public routes: bodies and statuses exactly as the route table of docs/api.md says.

use serde_json::{Value, json};

use test_support::api::{TestApp, assert_json, send, spawn_app};
use test_support::header;

#[tokio::test]
async fn public_answers_the_design_message_without_a_token() {
    let app = spawn_app().await;
    let response = app.get("/api/public").await;
    assert_eq!(response.status(), 200);
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    assert_eq!(
        response.text().await.expect("body"),
        r#"{"msg":"Hello from a public endpoint! You don't need to be authenticated to see this."}"#
    );
}

/// Asserts a fresh API answers `GET path` with `status` and exactly `body`.
async fn assert_answers(path: &str, status: u16, body: Value) {
    let app = spawn_app().await;
    assert_json(app.get(path).await, status, body).await;
}

/// The JSON body of a 404: no route serves the path.
fn no_such_route() -> Value {
    json!({"error": "not_found", "error_description": "no such route"})
}

#[tokio::test]
async fn healthz_answers_ok() {
    assert_answers("/healthz", 200, json!({"status": "ok"})).await;
}

#[tokio::test]
async fn readyz_answers_200_once_keys_are_loaded() {
    assert_answers("/readyz", 200, json!({"status": "ready"})).await;
}

#[tokio::test]
async fn unknown_route_is_a_json_404() {
    assert_answers("/api/nope", 404, no_such_route()).await;
}

#[tokio::test]
async fn metrics_are_not_served_on_the_public_port() {
    assert_answers("/metrics", 404, no_such_route()).await;
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_expose_verifier_stats() {
    let app = spawn_app().await;
    let token = app.token().sign();
    assert_eq!(app.status_with_token("/api/external", &token).await, 200);
    assert_eq!(app.get("/api/external").await.status(), 401);
    assert_eq!(app.get("/api/public").await.status(), 200);

    let response = app.get_metrics_listener("/metrics").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        header(&response, "content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let text = response.text().await.expect("body");
    let has = |line: &str| text.lines().any(|l| l == line);
    assert!(
        has(r#"api_http_requests_total{route="/api/external",status="200"} 1"#),
        "{text}"
    );
    assert!(
        has(r#"api_http_requests_total{route="/api/external",status="401"} 1"#),
        "{text}"
    );
    assert!(
        has(r#"api_http_requests_total{route="/api/public",status="200"} 1"#),
        "{text}"
    );
    assert!(
        has(r#"api_token_verifications_total{outcome="ok"} 1"#),
        "{text}"
    );
    let issuer = app.issuer.issuer();
    assert!(
        has(&format!(r#"api_jwks_keys_loaded{{issuer="{issuer}"}} 1"#)),
        "{text}"
    );
    assert!(
        has(&format!(r#"api_issuer_ready{{issuer="{issuer}"}} 1"#)),
        "{text}"
    );
    assert!(has("api_ready 1"), "{text}");
    let age_prefix = format!(r#"api_jwks_key_set_age_seconds{{issuer="{issuer}"}} "#);
    assert!(text.lines().any(|l| l.starts_with(&age_prefix)), "{text}");
    let fetches_prefix = format!(r#"api_jwks_fetches_total{{issuer="{issuer}"}} "#);
    let fetches = text
        .lines()
        .find_map(|l| l.strip_prefix(&fetches_prefix))
        .and_then(|v| v.parse::<u64>().ok())
        .expect("fetch counter");
    assert!(fetches >= 1, "{text}");
}

#[tokio::test]
async fn the_metrics_listener_serves_nothing_but_metrics() {
    let app = spawn_app().await;
    for path in ["/api/public", "/healthz", "/readyz"] {
        assert_eq!(app.get_metrics_listener(path).await.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn health_and_readiness_stay_on_the_public_port() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    assert_eq!(app.get("/readyz").await.status(), 200);
}

/// `GET /metrics` on the metrics listener with the given `Host` header.
async fn metrics_with_host(app: &TestApp, host: &str) -> reqwest::Response {
    let request = app.client.get(format!("{}/metrics", app.metrics_address));
    send(request.header("Host", host)).await
}

#[tokio::test]
async fn the_metrics_listener_refuses_a_host_name_it_does_not_serve_with_421() {
    // A page whose name resolves to this machine (DNS rebinding) sends its own name as Host.
    let app = spawn_app().await;
    let port = app.metrics_address.rsplit(':').next().expect("port");
    let rebound = format!("attacker.example:{port}");
    assert_eq!(metrics_with_host(&app, &rebound).await.status(), 421);
}

#[tokio::test]
async fn the_metrics_listener_answers_localhost_and_address_literals_as_a_kubernetes_scrape_sends()
{
    let app = spawn_app().await;
    for host in [
        "localhost:9464",
        "127.0.0.1:9464",
        "10.244.1.17:9464",
        "[fd00::17]:9464",
    ] {
        assert_eq!(metrics_with_host(&app, host).await.status(), 200, "{host}");
    }
}

#[tokio::test]
async fn the_metrics_listener_answers_the_names_listed_in_api_metrics_hosts() {
    let app = test_support::api::spawn_app_with(true, |settings| {
        settings.metrics_hosts = vec!["api-metrics.monitoring.svc".into()];
    })
    .await;
    assert_eq!(
        metrics_with_host(&app, "API-Metrics.monitoring.svc:9464")
            .await
            .status(),
        200
    );
    assert_eq!(
        metrics_with_host(&app, "other.monitoring.svc")
            .await
            .status(),
        421
    );
}
