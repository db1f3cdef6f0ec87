//! The dev issuer under test: [`spawn_app`] starts it on a free loopback port, and [`TestApp`]
//! drives it as auth0-spa-js drives Auth0 (authorize, the login form, the token endpoint, DPoP
//! with the nonce round trip), with a browser-like client (cookies on, redirects off).

use std::net::TcpListener;

use ::dev_issuer::{Application, Clock, Issuer, Settings};
use app_config::AuthConfig;
use reqwest::header::LOCATION;
use reqwest::{RequestBuilder, Response, StatusCode};
use serde_json::Value;

use crate::config::{APP_ORIGIN, AUDIENCE, CLIENT_ID, config_for};
use crate::dpop::ClientKey;
use crate::headers::header;
use crate::jose::{b64, sha256_b64};
use crate::responses::{json_body, send};

/// The dev issuer under test and a browser. Stops the issuer when dropped.
#[derive(Debug)]
pub struct TestApp {
    /// The domain the tests talk through (`http://127.0.0.1:<port>`), no trailing slash.
    pub base: String,
    /// The issuer identifier, with trailing slash.
    pub issuer: String,
    /// A browser: cookie store on, redirects off.
    pub browser: reqwest::Client,
    /// The issuer's clock, which a test may move forward.
    pub clock: Clock,
    /// The issuer's core, to mint tokens in-process.
    pub core: Issuer,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// The issuer with the dev configuration (its domain: the address it got).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// [`spawn_app`] with test-specific settings.
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
    let browser = crate::browser_client();
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
#[derive(Debug)]
pub struct Pkce {
    /// `code_verifier`.
    pub verifier: String,
    /// `code_challenge` (S256).
    pub challenge: String,
}

impl Default for Pkce {
    fn default() -> Self {
        Self::new()
    }
}

impl Pkce {
    /// A fresh pair.
    pub fn new() -> Self {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).expect("rng");
        let verifier = b64(bytes);
        let challenge = sha256_b64(&verifier);
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
        .get(LOCATION)
        .expect("a Location header")
        .to_str()
        .expect("ascii");
    let url = url::Url::parse(location).expect("absolute URL");
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Parameter `name` of a redirect's Location.
pub fn location_param(response: &Response, name: &str) -> Option<String> {
    param(&location_query(response), name).map(str::to_owned)
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

impl TestApp {
    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET `path` from the browser, the request first adjusted by `build` (headers, a token).
    pub async fn get_with(
        &self,
        path: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> Response {
        send(build(self.browser.get(self.url(path)))).await
    }

    pub async fn authorize(&self, params: &[(String, String)]) -> Response {
        self.get_with("/authorize", |r| r.query(params)).await
    }

    /// `GET /userinfo` from the browser, the request adjusted by `build` (credentials, a proof).
    pub async fn userinfo(&self, build: impl FnOnce(RequestBuilder) -> RequestBuilder) -> Response {
        self.get_with("/userinfo", build).await
    }

    /// `GET /v2/logout` from the browser with `query`.
    pub async fn logout(&self, query: &[(&str, &str)]) -> Response {
        self.get_with("/v2/logout", |r| r.query(query)).await
    }

    /// Posts the login form `request` with these credentials from `client`.
    pub async fn post_login(
        &self,
        client: &reqwest::Client,
        request: &str,
        username: &str,
        password: &str,
    ) -> Response {
        let form = [
            ("request", request),
            ("username", username),
            ("password", password),
        ];
        send(client.post(self.url("/login")).form(&form)).await
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
        self.post_login(&self.browser, &request, username, password)
            .await
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

    /// Logs alice in through the form with the SDK's parameters; returns the code.
    pub async fn alice_code(&self, pkce: &Pkce) -> String {
        self.code_for(
            &authorize_params(pkce),
            "alice@example.com",
            "alice-password",
        )
        .await
    }

    /// Logs alice in asking for `offline_access` too (a refresh token); returns the code.
    pub async fn offline_code(&self, pkce: &Pkce) -> String {
        let params = with(
            authorize_params(pkce),
            "scope",
            Some("openid profile email offline_access"),
        );
        self.code_for(&params, "alice@example.com", "alice-password")
            .await
    }

    /// Alice's token response (the JSON body) after a login with the SDK's parameters and the
    /// code exchange.
    pub async fn alice_tokens(&self) -> Value {
        let pkce = Pkce::new();
        let code = self.alice_code(&pkce).await;
        let response = self.exchange(&code, &pkce.verifier).await;
        assert_eq!(response.status(), StatusCode::OK, "the code exchange");
        response.json().await.expect("json")
    }

    /// A POST to the token endpoint with the Auth0-Client header auth0-spa-js adds.
    fn token_request(&self) -> RequestBuilder {
        self.browser
            .post(self.token_url())
            .header("Auth0-Client", "eyJuYW1lIjoiYXV0aDAtc3BhLWpzIn0=")
    }

    /// The token request auth0-spa-js sends (form-urlencoded, with Auth0-Client).
    pub async fn token(&self, form: &[(&str, &str)]) -> Response {
        send(self.token_request().form(form)).await
    }

    pub async fn exchange(&self, code: &str, verifier: &str) -> Response {
        self.token(&exchange_form(code, verifier)).await
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
        json_body(self.get_with("/.well-known/jwks.json", |r| r).await).await
    }

    pub async fn dev_post(&self, path: &str, body: Value) -> Response {
        send(self.browser.post(self.url(path)).json(&body)).await
    }

    /// The token endpoint's URL.
    pub fn token_url(&self) -> String {
        self.url("/oauth/token")
    }

    /// A token request with a DPoP proof by `key` (and `nonce`, if any).
    pub async fn dpop_token(
        &self,
        key: &ClientKey,
        nonce: Option<&str>,
        form: &[(&str, &str)],
    ) -> Response {
        let mut proof = key.proof("POST", &self.token_url());
        if let Some(nonce) = nonce {
            proof = proof.nonce(nonce);
        }
        send(self.token_request().header("DPoP", proof.sign()).form(form)).await
    }

    /// The SDK's dance: a proof without nonce, the `use_dpop_nonce` answer, the retry with it.
    pub async fn dpop_token_with_nonce(&self, key: &ClientKey, form: &[(&str, &str)]) -> Response {
        let first = self.dpop_token(key, None, form).await;
        assert_eq!(first.status(), StatusCode::BAD_REQUEST);
        let nonce = header(&first, "dpop-nonce").expect("a DPoP-Nonce on use_dpop_nonce");
        self.dpop_token(key, Some(nonce), form).await
    }

    /// A nonce the token endpoint issues now.
    pub async fn a_nonce(&self) -> String {
        let probe = ClientKey::generate();
        let response = self
            .dpop_token(
                &probe,
                None,
                &[
                    ("grant_type", "authorization_code"),
                    ("client_id", CLIENT_ID),
                ],
            )
            .await;
        header(&response, "dpop-nonce").expect("a nonce").to_owned()
    }
}

/// The form of the authorization code exchange auth0-spa-js sends.
pub fn exchange_form<'a>(code: &'a str, verifier: &'a str) -> Vec<(&'static str, &'a str)> {
    vec![
        ("client_id", CLIENT_ID),
        ("grant_type", "authorization_code"),
        ("code", code),
        ("code_verifier", verifier),
        ("redirect_uri", APP_ORIGIN),
    ]
}

/// Asserts a refusal shown in the browser: 400 and no redirect.
pub fn assert_bad_request_without_redirect(response: &Response) {
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(LOCATION).is_none());
}

/// Asserts an error page: 400, no redirect, and `text` in the page.
pub async fn assert_error_page(response: Response, text: &str) {
    assert_bad_request_without_redirect(&response);
    let page = response.text().await.expect("body");
    assert!(page.contains(text), "{text:?} not in the page: {page}");
}

/// Asserts an RFC 6749 error response and returns nothing else worth checking.
pub async fn assert_oauth_error(response: Response, status: StatusCode, error: &str) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.expect("json error body");
    assert_eq!(body["error"], error, "{body}");
    assert!(body["error_description"].is_string(), "{body}");
}
