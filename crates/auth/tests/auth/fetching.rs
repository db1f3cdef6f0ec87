//! Discovery and the HTTP limits: status, content type, size caps, timeouts, redirects.

use std::time::Duration;

use auth::{Verifier, VerifyError};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

fn is_unavailable(e: &VerifyError) -> bool {
    matches!(e, VerifyError::KeySetUnavailable { .. })
}

/// A verifier whose first fetch must fail: returns the error a request gets.
async fn first_fetch_error(issuer: &MockIssuer, key: &SigningKey) -> VerifyError {
    let v = Verifier::new(issuer.config()).unwrap();
    let err = refusal(&v, &key.sign(&issuer.claims())).await;
    assert!(!v.is_ready());
    err
}

/// The error a request gets from a verifier whose issuer answers its key-set requests with
/// `behaviour`.
async fn first_error_when_keys_are_answered_with(behaviour: Behaviour) -> VerifyError {
    let issuer = MockIssuer::start(&[]).await;
    issuer.set(behaviour);
    first_fetch_error(&issuer, &SigningKey::rsa(0, "k1")).await
}

/// Makes `issuer` serve a discovery document naming `/custom/keys`, which serves `key`.
async fn discovery_naming_custom_keys(issuer: &MockIssuer, key: &SigningKey) {
    let doc = json!({"issuer": issuer.issuer().as_str(), "jwks_uri": format!("{}/custom/keys", issuer.server.uri())});
    Mock::given(method("GET"))
        .and(path(DISCOVERY_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(doc))
        .mount(&issuer.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/custom/keys"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[key])))
        .mount(&issuer.server)
        .await;
}

#[tokio::test]
async fn discovery_provides_the_jwks_uri() {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start_bare(&[]).await;
    discovery_naming_custom_keys(&issuer, &key).await;
    let v = ready_verifier(issuer.config()).await;
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
    assert_eq!(issuer.jwks_requests(), 0);
    assert_eq!(issuer.requests_to("/custom/keys").await, 1);
}

#[tokio::test]
async fn discovery_naming_another_issuer_is_refused() {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start_bare(&[&key]).await;
    let doc = json!({"issuer": "https://evil.example/", "jwks_uri": issuer.jwks_url().as_str()});
    Mock::given(method("GET"))
        .and(path(DISCOVERY_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(doc))
        .mount(&issuer.server)
        .await;
    assert!(is_unavailable(&first_fetch_error(&issuer, &key).await));
    assert_eq!(issuer.jwks_requests(), 0);
}

#[tokio::test]
async fn missing_discovery_falls_back_to_the_well_known_jwks() {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start_bare(&[&key]).await;
    let v = ready_verifier(issuer.config()).await;
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
    assert_eq!(issuer.requests_to(DISCOVERY_PATH).await, 1);
}

#[tokio::test]
async fn explicit_jwks_uri_skips_discovery() {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start(&[&key]).await;
    let mut config = issuer.config();
    config.jwks_uri = Some(issuer.jwks_url());
    let v = ready_verifier(config).await;
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
    assert_eq!(issuer.requests_to(DISCOVERY_PATH).await, 0);
}

#[tokio::test]
async fn non_200_status_is_a_failed_fetch() {
    let err = first_error_when_keys_are_answered_with(Behaviour::Status(500)).await;
    assert!(is_unavailable(&err));
}

#[tokio::test]
async fn non_json_content_type_is_a_failed_fetch() {
    let err = first_error_when_keys_are_answered_with(Behaviour::WrongContentType).await;
    assert!(is_unavailable(&err));
}

#[tokio::test]
async fn garbage_body_is_a_failed_fetch() {
    let err = first_error_when_keys_are_answered_with(Behaviour::Garbage).await;
    assert!(is_unavailable(&err));
}

#[tokio::test]
async fn body_over_the_cap_is_a_failed_fetch() {
    let err = first_error_when_keys_are_answered_with(Behaviour::Huge(600 * 1024)).await;
    assert!(is_unavailable(&err));
}

#[tokio::test]
async fn hanging_endpoint_times_out() {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start(&[]).await;
    // The server would answer only after an hour: any answer before that is the timeout's.
    issuer.set(Behaviour::Hang(Duration::from_secs(3600)));
    let mut config = issuer.config();
    config.fetch.total_timeout = Duration::from_millis(300);
    let v = Verifier::new(config).unwrap();
    let err = tokio::time::timeout(
        Duration::from_secs(300),
        v.verify(&key.sign(&issuer.claims())),
    )
    .await
    .expect("the fetch waited for the hanging server")
    .unwrap_err();
    assert!(is_unavailable(&err), "{err:?}");
}

/// A raw server that answers 200 JSON with an endless chunked body (no Content-Length).
async fn endless_chunked_server() -> (String, tokio::task::JoinHandle<usize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let handle = tokio::spawn(async move {
        let (mut sock, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 4096];
        let _ = sock.read(&mut buf).await;
        let head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n";
        if sock.write_all(head.as_bytes()).await.is_err() {
            return 0;
        }
        let chunk = format!("{:x}\r\n{}\r\n", 16 * 1024, " ".repeat(16 * 1024));
        let mut sent = 0;
        // Stops when the client hangs up, or after 64 MiB as a safety bound.
        while sent < 64 * 1024 * 1024 {
            if sock.write_all(chunk.as_bytes()).await.is_err() {
                break;
            }
            sent += 16 * 1024;
        }
        sent
    });
    (format!("http://{addr}"), handle)
}

#[tokio::test]
async fn endless_chunked_body_is_cut_at_the_cap_while_streaming() {
    let key = SigningKey::rsa(0, "k1");
    let (origin, server) = endless_chunked_server().await;
    let mut config =
        auth::VerifierConfig::new(format!("{origin}/").parse().unwrap(), vec![AUDIENCE.into()]);
    config.jwks_uri = Some(format!("{origin}/jwks").parse().unwrap());
    let v = Verifier::new(config).unwrap();
    let claims = json!({"iss": format!("{origin}/"), "aud": AUDIENCE, "exp": now() + 60});
    let err = refusal(&v, &key.sign(&claims)).await;
    assert!(is_unavailable(&err), "{err:?}");
    let sent = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap();
    // The client stopped reading near the 512 KiB cap (socket buffers add a few MiB at most).
    assert!(sent < 16 * 1024 * 1024, "server pushed {sent} bytes");
}

/// A server other than the issuer answering every GET with a key set holding `key`.
async fn server_of_keys(key: &SigningKey) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[key])))
        .mount(&server)
        .await;
    server
}

#[tokio::test]
async fn redirect_off_the_issuers_host_is_refused() {
    let key = SigningKey::rsa(0, "k1");
    let elsewhere = server_of_keys(&key).await;
    let issuer = MockIssuer::start(&[]).await;
    // Same machine, other host name: `localhost` is not the issuer's `127.0.0.1`.
    let port = elsewhere.address().port();
    issuer.set(Behaviour::Redirect(format!("http://localhost:{port}/jwks")));
    assert!(is_unavailable(&first_fetch_error(&issuer, &key).await));
    assert_eq!(requests_received(&elsewhere).await, 0);
}

#[tokio::test]
async fn redirect_within_the_issuers_host_is_followed() {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start(&[]).await;
    Mock::given(method("GET"))
        .and(path("/moved/jwks.json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks(&[&key])))
        .mount(&issuer.server)
        .await;
    issuer.set(Behaviour::Redirect(format!(
        "{}/moved/jwks.json",
        issuer.server.uri()
    )));
    let v = ready_verifier(issuer.config()).await;
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
}

#[tokio::test]
async fn fetches_and_failures_are_counted() {
    let key = SigningKey::rsa(0, "k1");
    let (issuer, v) = issuer_down_at_start().await;
    assert!(
        eventually(Duration::from_secs(5), || async {
            v.stats().jwks_fetch_failures >= 1
        })
        .await
    );
    issuer.serve(&[&key]);
    assert!(eventually(Duration::from_secs(5), || async { v.is_ready() }).await);
    let stats = v.stats();
    // discovery + failed JWKS + successful JWKS at least, and no more failures than attempts.
    assert!(stats.jwks_fetches >= 3, "{stats:?}");
    assert!(stats.jwks_fetch_failures >= 1 && stats.jwks_fetch_failures < stats.jwks_fetches);
}

#[tokio::test]
async fn redirect_to_another_port_on_the_issuers_host_is_refused() {
    let key = SigningKey::rsa(0, "k1");
    let elsewhere = server_of_keys(&key).await;
    let issuer = MockIssuer::start(&[]).await;
    // Same host (127.0.0.1), same scheme, another port: another origin, another service.
    issuer.set(Behaviour::Redirect(format!(
        "http://127.0.0.1:{}/jwks",
        elsewhere.address().port()
    )));
    assert!(is_unavailable(&first_fetch_error(&issuer, &key).await));
    assert_eq!(requests_received(&elsewhere).await, 0);
}

#[tokio::test]
async fn discovery_is_tried_again_after_a_404_instead_of_pinning_the_fallback() {
    let (old, new) = (SigningKey::rsa(0, "old"), SigningKey::rsa(1, "new"));
    // No discovery document at first: the well-known JWKS path serves the old key.
    let issuer = MockIssuer::start_bare(&[&old]).await;
    let v = ready_verifier_for(&issuer, |c| {
        c.cache = fast_cache_lasting(Duration::from_millis(200));
    })
    .await;
    assert!(v.verify(&old.sign(&issuer.claims())).await.is_ok());
    // Discovery comes back and names another JWKS URI, which holds the new key.
    discovery_naming_custom_keys(&issuer, &new).await;
    let mut moved = false;
    for _ in 0..100 {
        if issuer.requests_to("/custom/keys").await > 0 {
            moved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(moved, "the background refresh never asked discovery again");
    assert!(v.verify(&new.sign(&issuer.claims())).await.is_ok());
}
