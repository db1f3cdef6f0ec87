//! Starts a fresh issuer on a free loopback port per test, and drives it like auth0-spa-js does.

use std::net::TcpListener;

use app_config::{AuthConfig, ConfigValues};
use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use dev_issuer::{Application, Clock, Issuer, Settings};
use reqwest::{Response, StatusCode, header};
use serde_json::Value;

pub const CLIENT_ID: &str = "local-dev-spa";
pub const AUDIENCE: &str = "https://api.local.test";
pub const APP_ORIGIN: &str = "http://localhost:3000";

pub struct TestApp {
    /// The domain the tests talk through (`http://127.0.0.1:<port>`), no trailing slash.
    pub base: String,
    /// The issuer identifier, with trailing slash.
    pub issuer: String,
    /// A browser: cookie store on, redirects off.
    pub browser: reqwest::Client,
    pub clock: Clock,
    pub core: Issuer,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let base = format!("http://127.0.0.1:{port}");
    start(listener, config_for(&base), base, tweak)
}

/// An issuer whose `domain` is `http://127.0.0.1:<port>` and whose `issuers` add
/// `http://localhost:<port>`: the returned app talks to it through that second domain.
pub async fn spawn_app_through_second_domain() -> TestApp {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let second = format!("http://localhost:{port}");
    let config = config_for(&format!("http://127.0.0.1:{port}"))
        .with_issuers(std::slice::from_ref(&second))
        .expect("valid issuers");
    start(listener, config, second, |_| {})
}

fn config_for(domain: &str) -> AuthConfig {
    AuthConfig::from_values(ConfigValues {
        domain: Some(domain.to_owned()),
        client_id: Some(CLIENT_ID.into()),
        audience: Some(AUDIENCE.into()),
        app_origin: Some(APP_ORIGIN.into()),
        api_origin: Some("http://localhost:3001".into()),
        ..ConfigValues::default()
    })
    .expect("valid config")
}

fn start(
    listener: TcpListener,
    config: AuthConfig,
    base: String,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings::for_tests(config);
    tweak(&mut settings);
    let clock = settings.clock.clone();
    let app = Application::from_listener(settings, listener).expect("starts");
    let handle = app.handle();
    let core = app.issuer();
    tokio::spawn(app.run_until_stopped());
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        issuer: format!("{base}/"),
        base,
        browser,
        clock,
        core,
        handle,
    }
}

/// A PKCE pair as the SDK makes it: 43 random characters and their S256 challenge.
pub struct Pkce {
    pub verifier: String,
    pub challenge: String,
}

impl Pkce {
    pub fn new() -> Self {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("rng");
        let verifier = URL_SAFE_NO_PAD.encode(bytes);
        let challenge =
            URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
        Self {
            verifier,
            challenge,
        }
    }
}

/// The authorize parameters auth0-spa-js sends for `loginWithRedirect`.
pub fn authorize_params(pkce: &Pkce) -> Vec<(String, String)> {
    [
        ("client_id", CLIENT_ID),
        ("redirect_uri", APP_ORIGIN),
        ("audience", AUDIENCE),
        ("scope", "openid profile email read:messages"),
        ("response_type", "code"),
        ("response_mode", "query"),
        ("state", "c3RhdGUtMTIz"),
        ("nonce", "bm9uY2UtNDU2"),
        ("code_challenge", pkce.challenge.as_str()),
        ("code_challenge_method", "S256"),
        (
            "auth0Client",
            "eyJuYW1lIjoiYXV0aDAtc3BhLWpzIiwidmVyc2lvbiI6IjIuMjguMyJ9",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// `params` with `name` set to `value` (or removed when `None`).
pub fn with(
    mut params: Vec<(String, String)>,
    name: &str,
    value: Option<&str>,
) -> Vec<(String, String)> {
    params.retain(|(k, _)| k != name);
    if let Some(value) = value {
        params.push((name.to_owned(), value.to_owned()));
    }
    params
}

/// The query parameters of a redirect's Location.
pub fn location_query(response: &Response) -> Vec<(String, String)> {
    let location = response
        .headers()
        .get(header::LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("ascii");
    let url = url::Url::parse(location).expect("absolute URL");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The hidden `request` field of a login form.
pub fn form_request_id(html: &str) -> String {
    let marker = "name=\"request\" value=\"";
    let start = html.find(marker).expect("the form has a request field") + marker.len();
    let end = html[start..].find('"').expect("closing quote") + start;
    html[start..end].to_owned()
}

/// Decodes a JWT's payload without verifying it (tests verify separately).
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64url")).expect("json")
}

pub fn header_of(token: &str) -> Value {
    let header = token.split('.').next().expect("three parts");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).expect("base64url")).expect("json")
}

impl TestApp {
    pub async fn authorize(&self, params: &[(String, String)]) -> Response {
        self.browser
            .get(format!("{}/authorize", self.base))
            .query(params)
            .send()
            .await
            .expect("authorize request")
    }

    /// Posts the login form shown for `params` with these credentials.
    pub async fn login_with(
        &self,
        params: &[(String, String)],
        username: &str,
        password: &str,
    ) -> Response {
        let form = self.authorize(params).await;
        assert_eq!(form.status(), StatusCode::OK, "the login form is shown");
        let request = form_request_id(&form.text().await.expect("body"));
        self.browser
            .post(format!("{}/login", self.base))
            .form(&[
                ("request", request.as_str()),
                ("username", username),
                ("password", password),
            ])
            .send()
            .await
            .expect("login post")
    }

    /// Logs alice in through the form and returns the code from the redirect.
    pub async fn code_for(
        &self,
        params: &[(String, String)],
        username: &str,
        password: &str,
    ) -> String {
        let response = self.login_with(params, username, password).await;
        assert_eq!(response.status(), StatusCode::FOUND, "login redirects");
        param(&location_query(&response), "code")
            .expect("a code")
            .to_owned()
    }

    pub async fn alice_code(&self, pkce: &Pkce) -> String {
        self.code_for(
            &authorize_params(pkce),
            "alice@example.com",
            "alice-password",
        )
        .await
    }

    /// The token request auth0-spa-js sends (form-urlencoded, with Auth0-Client).
    pub async fn token(&self, form: &[(&str, &str)]) -> Response {
        self.browser
            .post(format!("{}/oauth/token", self.base))
            .header("Auth0-Client", "eyJuYW1lIjoiYXV0aDAtc3BhLWpzIn0=")
            .form(form)
            .send()
            .await
            .expect("token request")
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> Response {
        self.token(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "authorization_code"),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", APP_ORIGIN),
        ])
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.token(&[
            ("client_id", CLIENT_ID),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
            ("redirect_uri", APP_ORIGIN),
        ])
        .await
    }

    pub async fn jwks(&self) -> Value {
        reqwest::get(format!("{}/.well-known/jwks.json", self.base))
            .await
            .expect("jwks")
            .json()
            .await
            .expect("json")
    }

    pub async fn dev_post(&self, path: &str, body: Value) -> Response {
        self.browser
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("dev hook request")
    }
}

/// Asserts an RFC 6749 error response and returns nothing else worth checking.
pub async fn assert_oauth_error(response: Response, status: StatusCode, error: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("json error body");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}

/// Verifies `token` against the JWKS as fetched right now (no cache), with jsonwebtoken: RS256, `kid`, `iss`,
/// `exp`, and `audience` in `aud`. Returns the claims.
pub async fn verify_with_jwks(app: &TestApp, token: &str, audience: &str) -> Result<Value, String> {
    let kid = jsonwebtoken::decode_header(token)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwks = app.jwks().await;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .ok_or("kid not in the JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().ok_or("n")?,
        jwk["e"].as_str().ok_or("e")?,
    )
    .map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

/// Verifies an access token with the `auth` crate's `Verifier`, exactly as the API does
/// (discovery, JWKS, RS256, `iss`, `aud`, `exp`). Returns the claims as JSON.
pub async fn api_verify(
    app: &TestApp,
    token: &str,
    audience: &str,
) -> Result<Value, auth::VerifyError> {
    let issuer = url::Url::parse(&app.issuer).expect("issuer URL");
    let verifier =
        auth::Verifier::new(auth::VerifierConfig::new(issuer, vec![audience.to_owned()]))
            .expect("verifier config");
    verifier.verify_as::<Value>(token).await
}
