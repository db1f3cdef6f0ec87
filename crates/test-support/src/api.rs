//! The API under test: [`spawn_app`] starts the real `api` application on port 0 against a fresh
//! [`MockIssuer`] publishing `KEYS.current`, with a client that never follows redirects.

use std::net::TcpListener;
use std::time::Duration;

use ::api::{Application, Settings};
use actix_web::dev::ServerHandle;
use serde_json::{Value, json};

use crate::config::config_for;
use crate::headers::header;
use crate::issuer::MockIssuer;
use crate::keys::KEYS;
use crate::token::TokenBuilder;
use crate::wait::eventually;

/// The API under test, its issuer and a client. Stops the API when dropped.
#[derive(Debug)]
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The port it listens on.
    pub port: u16,
    /// `http://127.0.0.1:<port>` of the `/metrics` listener.
    pub metrics_address: String,
    /// The issuer it trusts.
    pub issuer: MockIssuer,
    /// A client that never follows redirects.
    pub client: reqwest::Client,
    handle: ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only reports completion.
        drop(self.handle.stop(false));
    }
}

/// The API against an issuer that is up, ready to serve (its keys are loaded).
pub async fn spawn_app() -> TestApp {
    let app = spawn_app_with(true, |_| {}).await;
    app.wait_until_ready().await;
    app
}

/// The API against an issuer that starts up or down, with test-specific settings; not waited
/// for.
pub async fn spawn_app_with(issuer_up: bool, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let issuer = MockIssuer::start(&[&KEYS.current]).await;
    issuer.set_up(issuer_up);
    let mut settings = Settings::for_tests(config_for(issuer.base()));
    settings.verifier.fetch.connect_timeout = Duration::from_secs(1);
    settings.verifier.fetch.total_timeout = Duration::from_secs(2);
    tweak(&mut settings);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind api");
    let application = Application::from_listener(settings, listener).expect("api builds");
    let port = application.port();
    let metrics_port = application
        .metrics_port()
        .expect("tests serve /metrics on a port of their own");
    let handle = application.handle();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        port,
        metrics_address: format!("http://127.0.0.1:{metrics_port}"),
        issuer,
        client: crate::client(),
        handle,
    }
}

impl TestApp {
    /// `address` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET `path` on the `/metrics` listener.
    pub async fn get_metrics_listener(&self, path: &str) -> reqwest::Response {
        send(self.client.get(format!("{}{path}", self.metrics_address))).await
    }

    /// The `/metrics` text of the metrics listener.
    pub async fn metrics_text(&self) -> String {
        let response = self.get_metrics_listener("/metrics").await;
        response.text().await.expect("metrics text")
    }

    /// Asserts that the `/metrics` text has each of `lines`, as a whole line.
    pub async fn assert_metrics_have(&self, lines: &[&str]) {
        let text = self.metrics_text().await;
        for line in lines {
            assert!(
                text.lines().any(|l| l == *line),
                "missing {line:?} in\n{text}"
            );
        }
    }

    /// GET `path`.
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, |request| request).await
    }

    /// GET `path` as `build` makes it (headers of the test's own).
    pub async fn get_with(
        &self,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> reqwest::Response {
        send(build(self.client.get(self.url(path)))).await
    }

    /// GET `path` from a page of `origin` (an `Origin` header, as a browser sends it).
    pub async fn get_from_origin(&self, path: &str, origin: &str) -> reqwest::Response {
        self.get_with(path, |r| r.header("Origin", origin)).await
    }

    /// A CORS preflight for `GET path` from `origin`, asking for `request_headers`.
    pub async fn preflight(
        &self,
        path: &str,
        origin: &str,
        request_headers: &str,
    ) -> reqwest::Response {
        let request = self
            .client
            .request(reqwest::Method::OPTIONS, self.url(path));
        send(
            request
                .header("Origin", origin)
                .header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", request_headers),
        )
        .await
    }

    /// GET `path` with `Authorization: <authorization>`.
    pub async fn get_with_authorization(
        &self,
        path: &str,
        authorization: &str,
    ) -> reqwest::Response {
        self.get_with(path, |r| r.header("Authorization", authorization))
            .await
    }

    /// GET `path` with `Authorization: Bearer <token>`.
    pub async fn get_with_token(&self, path: &str, token: &str) -> reqwest::Response {
        self.get_with_authorization(path, &format!("Bearer {token}"))
            .await
    }

    /// The status of GET `path` with `Authorization: Bearer <token>`.
    pub async fn status_with_token(&self, path: &str, token: &str) -> u16 {
        self.get_with_token(path, token).await.status().as_u16()
    }

    /// Whether `/readyz` answers 200.
    pub async fn ready(&self) -> bool {
        match self.client.get(self.url("/readyz")).send().await {
            Ok(r) => r.status() == 200,
            Err(_) => false,
        }
    }

    /// Waits (20 s at most) until `/readyz` answers 200.
    pub async fn wait_until_ready(&self) {
        assert!(
            eventually(Duration::from_secs(20), || self.ready()).await,
            "the API did not become ready within 20 s"
        );
    }

    /// Asserts that the server still answers `/healthz` with 200.
    pub async fn assert_still_serving(&self) {
        let response = self.get("/healthz").await;
        assert_eq!(response.status(), 200, "/healthz after a hostile request");
    }

    /// A token from its issuer that passes verification, to be adjusted.
    pub fn token(&self) -> TokenBuilder {
        self.issuer.token()
    }
}

/// Sends `request`; a transport error fails the test.
pub async fn send(request: reqwest::RequestBuilder) -> reqwest::Response {
    request.send().await.expect("request succeeds")
}

/// Asserts a status and the exact body text.
pub async fn assert_answer(response: reqwest::Response, status: u16, body: &str) {
    assert_eq!(response.status(), status);
    assert_eq!(response.text().await.expect("body"), body);
}

/// Asserts a status and the exact JSON body.
pub async fn assert_json(response: reqwest::Response, status: u16, body: Value) {
    assert_eq!(response.status(), status);
    assert_eq!(response.json::<Value>().await.expect("JSON body"), body);
}

/// Asserts an RFC 6750 refusal: status, exact challenge and exact JSON body.
pub async fn assert_refusal(
    response: reqwest::Response,
    status: u16,
    challenge: &str,
    error: &str,
    description: &str,
) {
    assert_eq!(response.status(), status);
    assert_eq!(header(&response, "www-authenticate"), Some(challenge));
    assert_eq!(header(&response, "content-type"), Some("application/json"));
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(
        body,
        json!({"error": error, "error_description": description})
    );
}

/// Asserts a 401 `invalid_token` refusal with `description` (challenge and JSON body).
pub async fn assert_invalid_token(response: reqwest::Response, description: &str) {
    let challenge = invalid_token_challenge(description);
    assert_refusal(response, 401, &challenge, "invalid_token", description).await;
}

/// Asserts a 401 with the bare `Bearer realm="api"` challenge, `unauthorized` and
/// `description` in the body.
pub async fn assert_unauthorized(response: reqwest::Response, description: &str) {
    let challenge = r#"Bearer realm="api""#;
    assert_refusal(response, 401, challenge, "unauthorized", description).await;
}

/// The challenge of an `invalid_token` refusal with `description`.
pub fn invalid_token_challenge(description: &str) -> String {
    format!(r#"Bearer realm="api", error="invalid_token", error_description="{description}""#)
}
