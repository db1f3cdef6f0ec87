//! Test fixtures: a local OpenID Connect issuer on loopback, RSA keys generated once per test
//! binary, a token builder, and `spawn_app()` that starts the real API on port 0 against it.

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpResponse, HttpServer, web};
use api::{Application, Settings};
use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

pub const AUDIENCE: &str = "https://api.test.local";
pub const APP_ORIGIN: &str = "http://localhost:3000";

/// An RSA signing key with its public JWK.
pub struct TestKey {
    pub kid: &'static str,
    pub encoding: EncodingKey,
    pub jwk: Value,
}

impl TestKey {
    fn generate(kid: &'static str) -> Self {
        let pair = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
        let pkcs8 = pair.as_der().expect("PKCS#8 export");
        let body = STANDARD.encode(pkcs8.as_ref());
        let mut pem = String::from("-----BEGIN PRIVATE KEY-----\n");
        for line in body.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ascii"));
            pem.push('\n');
        }
        pem.push_str("-----END PRIVATE KEY-----\n");
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).expect("PEM key");
        let public = PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
        let jwk = json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(&public.n),
            "e": URL_SAFE_NO_PAD.encode(&public.e),
        });
        Self { kid, encoding, jwk }
    }
}

/// Keys generated once per test binary: the issuer's current key, the key it rotates to, and a
/// key the issuer never publishes.
pub struct Keys {
    pub current: TestKey,
    pub next: TestKey,
    pub stranger: TestKey,
}

pub static KEYS: LazyLock<Keys> = LazyLock::new(|| Keys {
    current: TestKey::generate("key-1"),
    next: TestKey::generate("key-2"),
    stranger: TestKey::generate("stranger"),
});

struct IssuerState {
    base: String,
    up: AtomicBool,
    hold: AtomicBool,
    jwks: Mutex<Value>,
    jwks_requests: AtomicUsize,
    requests: AtomicUsize,
}

/// A minimal OpenID Connect issuer on loopback: discovery and JWKS, switchable down (503) and
/// with a replaceable key set.
pub struct TestIssuer {
    state: Arc<IssuerState>,
    handle: ServerHandle,
}

impl TestIssuer {
    pub fn start(keys: &[&TestKey], up: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind issuer");
        let port = listener.local_addr().expect("issuer address").port();
        let state = Arc::new(IssuerState {
            base: format!("http://127.0.0.1:{port}"),
            up: AtomicBool::new(up),
            hold: AtomicBool::new(false),
            jwks: Mutex::new(Value::Null),
            jwks_requests: AtomicUsize::new(0),
            requests: AtomicUsize::new(0),
        });
        let issuer = Self {
            state: state.clone(),
            handle: {
                let data = web::Data::from(state);
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(data.clone())
                        .route(
                            "/.well-known/openid-configuration",
                            web::get().to(discovery),
                        )
                        .route("/.well-known/jwks.json", web::get().to(jwks))
                })
                .workers(1)
                .listen(listener)
                .expect("issuer listens")
                .run();
                let handle = server.handle();
                tokio::spawn(server);
                handle
            },
        };
        issuer.set_keys(keys);
        issuer
    }

    /// The issuer identifier, as `iss` carries it.
    pub fn issuer(&self) -> String {
        format!("{}/", self.state.base)
    }

    pub fn base(&self) -> &str {
        &self.state.base
    }

    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
    }

    /// While held, JWKS requests are counted and then wait until released.
    pub fn set_hold(&self, hold: bool) {
        self.state.hold.store(hold, Ordering::SeqCst);
    }

    pub fn set_keys(&self, keys: &[&TestKey]) {
        let set = json!({ "keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        *self.state.jwks.lock().expect("jwks lock") = set;
    }

    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// Every request it received, discovery included.
    pub fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }
}

impl Drop for TestIssuer {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

async fn discovery(state: web::Data<IssuerState>) -> HttpResponse {
    state.requests.fetch_add(1, Ordering::SeqCst);
    if !state.up.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    HttpResponse::Ok().json(json!({
        "issuer": format!("{}/", state.base),
        "jwks_uri": format!("{}/.well-known/jwks.json", state.base),
    }))
}

async fn jwks(state: web::Data<IssuerState>) -> HttpResponse {
    state.jwks_requests.fetch_add(1, Ordering::SeqCst);
    state.requests.fetch_add(1, Ordering::SeqCst);
    let held_since = Instant::now();
    while state.hold.load(Ordering::SeqCst) && held_since.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if !state.up.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let set = state.jwks.lock().expect("jwks lock").clone();
    HttpResponse::Ok().json(set)
}

/// The API under test, its issuer and a client.
pub struct TestApp {
    pub address: String,
    pub port: u16,
    /// `http://127.0.0.1:<port>` of the `/metrics` listener.
    pub metrics_address: String,
    pub issuer: TestIssuer,
    pub client: reqwest::Client,
    handle: ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The API against an issuer that is up and publishes `KEYS.current`, ready to serve.
pub async fn spawn_app() -> TestApp {
    let app = spawn_app_with(true, |_| {}).await;
    app.wait_until_ready().await;
    app
}

/// The API against an issuer that starts up or down, with test-specific settings.
pub async fn spawn_app_with(issuer_up: bool, tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let issuer = TestIssuer::start(&[&KEYS.current], issuer_up);
    let config = app_config::AuthConfig::from_values(
        Some(issuer.base().to_owned()),
        Some("test-spa".into()),
        Some(AUDIENCE.into()),
        Some(APP_ORIGIN.into()),
        Some("http://localhost:3001".into()),
    )
    .expect("valid test configuration");
    let mut settings = Settings::for_tests(config);
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
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client"),
        handle,
    }
}

/// Polls `check` every 50 ms until it holds or `limit` passes.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// GET `path` on the `/metrics` listener.
    pub async fn get_metrics_listener(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.metrics_address))
            .send()
            .await
            .expect("request succeeds")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request succeeds")
    }

    /// GET `path` with `Authorization: <authorization>`.
    pub async fn get_with_authorization(
        &self,
        path: &str,
        authorization: &str,
    ) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .header("Authorization", authorization)
            .send()
            .await
            .expect("request succeeds")
    }

    pub async fn get_with_token(&self, path: &str, token: &str) -> reqwest::Response {
        self.get_with_authorization(path, &format!("Bearer {token}"))
            .await
    }

    pub async fn ready(&self) -> bool {
        match self.client.get(self.url("/readyz")).send().await {
            Ok(r) => r.status() == 200,
            Err(_) => false,
        }
    }

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

    /// A token that passes verification, to be adjusted by the builder.
    pub fn token(&self) -> TokenBuilder {
        token_for(&self.issuer)
    }
}

/// A token from `issuer` that passes verification, to be adjusted by the builder.
pub fn token_for(issuer: &TestIssuer) -> TokenBuilder {
    let now = now();
    TokenBuilder {
        key: &KEYS.current,
        kid: Some(KEYS.current.kid.to_owned()),
        alg: Algorithm::RS256,
        claims: json!({
            "iss": issuer.issuer(),
            "sub": "auth0|alice",
            "aud": [AUDIENCE, format!("{}userinfo", issuer.issuer())],
            "iat": now,
            "exp": now + 600,
            "scope": "openid profile email",
        }),
    }
}

pub fn now() -> i64 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    i64::try_from(secs).expect("seconds fit i64")
}

pub struct TokenBuilder {
    key: &'static TestKey,
    kid: Option<String>,
    alg: Algorithm,
    claims: Value,
}

impl TokenBuilder {
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims[name] = value.into();
        self
    }

    pub fn without(mut self, name: &str) -> Self {
        if let Some(map) = self.claims.as_object_mut() {
            map.remove(name);
        }
        self
    }

    /// Signs with `key` and names its kid.
    pub fn signed_by(mut self, key: &'static TestKey) -> Self {
        self.key = key;
        self.kid = Some(key.kid.to_owned());
        self
    }

    /// Signs with the current key but names `kid` in the header.
    pub fn kid(mut self, kid: &str) -> Self {
        self.kid = Some(kid.to_owned());
        self
    }

    pub fn sign(self) -> String {
        let mut header = Header::new(self.alg);
        header.kid = self.kid;
        jsonwebtoken::encode(&header, &self.claims, &self.key.encoding).expect("token signs")
    }

    /// Signs raw claim bytes as they are (for payloads serde would never produce).
    pub fn sign_raw_payload(self, payload: &[u8]) -> String {
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": self.kid});
        let message = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.key.encoding, Algorithm::RS256)
                .expect("signs");
        format!("{message}.{signature}")
    }
}

/// Base64url JSON, for hand-made token parts.
pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
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
    assert_eq!(
        response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(challenge)
    );
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(
        body,
        json!({"error": error, "error_description": description})
    );
}

/// The challenge for an `invalid_token` refusal with `description`.
pub fn invalid_token_challenge(description: &str) -> String {
    format!(r#"Bearer realm="api", error="invalid_token", error_description="{description}""#)
}
