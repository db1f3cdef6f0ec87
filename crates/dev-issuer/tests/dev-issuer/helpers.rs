//! The dev issuer's own test helpers: verifying what it issues, and the steps several test
//! files share (an authorize request with one parameter changed, a silent login, reading a
//! token response). Everything else (the issuer on a free port, the SDK's requests, PKCE, DPoP
//! proofs) comes from `test_support`.

use reqwest::Response;
use serde_json::Value;
pub use test_support::claims_of as claims;
pub use test_support::dev_issuer::*;
pub use test_support::{
    APP_ORIGIN, AUDIENCE, CLIENT_ID, ClientKey, header, header_of, json_body, send,
};

/// `/authorize` with the SDK's parameters but `name` set to `value` (or left out).
pub async fn authorize_with(app: &TestApp, name: &str, value: Option<&str>) -> Response {
    app.authorize(&with(authorize_params(&Pkce::new()), name, value))
        .await
}

/// The SDK's parameters for a silent login (`prompt=none`) with `pkce`.
pub fn silent_params(pkce: &Pkce) -> Vec<(String, String)> {
    with(authorize_params(pkce), "prompt", Some("none"))
}

/// The code a silent login (`prompt=none`) with `pkce` gets from the browser's session.
pub async fn silent_code(app: &TestApp, pkce: &Pkce) -> String {
    let response = app.authorize(&silent_params(pkce)).await;
    location_param(&response, "code").expect("a code from the session")
}

/// The code exchange's JSON body, whatever its status.
pub async fn exchange_json(app: &TestApp, code: &str, pkce: &Pkce) -> Value {
    json_body(app.exchange(code, &pkce.verifier).await).await
}

/// The claims of the access token in a token response.
pub fn access_token_claims(body: &Value) -> Value {
    claims(body["access_token"].as_str().expect("an access token"))
}

/// The `Set-Cookie` value that sets cookie `name`.
pub fn set_cookie(response: &Response, name: &str) -> Option<String> {
    let prefix = format!("{name}=");
    response
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&prefix))
        .map(str::to_owned)
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

/// [`exchange_form`] with `name` set to `value` (or left out).
pub fn exchange_form_with<'a>(
    code: &'a str,
    verifier: &'a str,
    name: &'static str,
    value: Option<&'a str>,
) -> Vec<(&'static str, &'a str)> {
    let mut form = exchange_form(code, verifier);
    form.retain(|(k, _)| *k != name);
    form.extend(value.map(|v| (name, v)));
    form
}

/// Alice's login through the form shown for the SDK's parameters, with `password`.
pub async fn alice_login_with(app: &TestApp, password: &str) -> Response {
    let params = authorize_params(&Pkce::new());
    app.login_with(&params, "alice@example.com", password).await
}

/// Asserts that a redirect carries `error` in its Location.
pub fn assert_redirect_error(response: &Response, error: &str) {
    assert_eq!(location_param(response, "error").as_deref(), Some(error));
}

/// Asserts a token endpoint's `invalid_grant` refusal (400).
pub async fn assert_invalid_grant(response: Response) {
    assert_oauth_error(response, reqwest::StatusCode::BAD_REQUEST, "invalid_grant").await;
}

/// A fresh issuer, a PKCE pair, and the code alice got with it through the login form.
pub async fn spawn_with_alice_code() -> (TestApp, Pkce, String) {
    let app = spawn_app().await;
    let pkce = Pkce::new();
    let code = app.alice_code(&pkce).await;
    (app, pkce, code)
}
