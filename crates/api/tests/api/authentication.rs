//! Every row of the RFC 6750 error table (docs/api.md), plus the ways a token may and may not be
//! presented.

use serde_json::json;

use reqwest::RequestBuilder;
use test_support::api::{
    TestApp, assert_answer, assert_invalid_token, assert_refusal, assert_unauthorized, spawn_app,
};
use test_support::{AUDIENCE, KEYS, TokenBuilder, b64_json, header, now};

const EXTERNAL_BODY: &str = r#"{"msg":"Your Access Token was successfully validated!"}"#;
const NO_CREDENTIALS: &str = "an access token is required in the Authorization header";

#[tokio::test]
async fn valid_token_gets_the_seed_message() {
    let app = spawn_app().await;
    let token = app.token().sign();
    let response = app.get_with_token("/api/external", &token).await;
    assert_answer(response, 200, EXTERNAL_BODY).await;
}

#[tokio::test]
async fn protected_answers_are_never_stored_by_caches() {
    let app = spawn_app().await;
    let token = app.token().claim("scope", "read:messages").sign();
    for path in ["/api/external", "/api/private-scoped"] {
        let response = app.get_with_token(path, &token).await;
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response
                .headers()
                .get_all("cache-control")
                .iter()
                .map(|v| v.to_str().unwrap_or("?"))
                .collect::<Vec<_>>(),
            ["no-store"],
            "{path}"
        );
    }
}

#[tokio::test]
async fn lowercase_and_uppercase_scheme_are_accepted() {
    let app = spawn_app().await;
    let token = app.token().sign();
    for scheme in ["bearer", "BEARER"] {
        let response = app
            .get_with_authorization("/api/external", &format!("{scheme} {token}"))
            .await;
        assert_eq!(response.status(), 200, "scheme {scheme}");
    }
}

#[tokio::test]
async fn no_credentials_is_401_with_a_bare_challenge() {
    let app = spawn_app().await;
    assert_unauthorized(app.get("/api/external").await, NO_CREDENTIALS).await;
}

#[tokio::test]
async fn other_scheme_is_401_with_a_bare_challenge() {
    let app = spawn_app().await;
    let basic = app.get_with_authorization("/api/external", "Basic YWxpY2U6c2VjcmV0");
    let description = "the Authorization header does not use the Bearer or DPoP scheme";
    assert_unauthorized(basic.await, description).await;
}

#[tokio::test]
async fn token_in_the_query_string_is_not_accepted() {
    let app = spawn_app().await;
    let token = app.token().sign();
    let response = app
        .get(&format!("/api/external?access_token={token}"))
        .await;
    let description =
        "access tokens are accepted only in the Authorization header, not in the query string";
    assert_unauthorized(response, description).await;
}

#[tokio::test]
async fn empty_token_is_400_invalid_request() {
    let app = spawn_app().await;
    let response = app.get_with_authorization("/api/external", "Bearer ").await;
    assert_invalid_request(response, "empty bearer token").await;
}

#[tokio::test]
async fn two_authorization_headers_are_400_invalid_request() {
    let app = spawn_app().await;
    let token = app.token().sign();
    let bearer = format!("Bearer {token}");
    let twice = |r: RequestBuilder| {
        r.header("Authorization", &bearer)
            .header("Authorization", &bearer)
    };
    let response = app.get_with("/api/external", twice).await;
    assert_invalid_request(response, "more than one Authorization header").await;
}

/// Asserts a 400 `invalid_request` refusal with `description` (challenge and JSON body).
async fn assert_invalid_request(response: reqwest::Response, description: &str) {
    let challenge = format!(
        r#"Bearer realm="api", error="invalid_request", error_description="{description}""#
    );
    assert_refusal(response, 400, &challenge, "invalid_request", description).await;
}

/// A fresh API refuses `token` at `/api/external` as `invalid_token` with `description`.
async fn assert_token_refused(token: &str, description: &str) {
    let app = spawn_app().await;
    assert_refused_by(&app, token, description).await;
}

/// `app` refuses `token` at `/api/external` as `invalid_token` with `description`.
async fn assert_refused_by(app: &TestApp, token: &str, description: &str) {
    let response = app.get_with_token("/api/external", token).await;
    assert_invalid_token(response, description).await;
}

/// A fresh API refuses its issuer's token changed by `change` as `invalid_token`.
async fn assert_changed_token_refused(
    change: impl FnOnce(TokenBuilder) -> TokenBuilder,
    description: &str,
) {
    let app = spawn_app().await;
    let token = change(app.token()).sign();
    assert_refused_by(&app, &token, description).await;
}

#[tokio::test]
async fn expired_token_is_401_invalid_token() {
    let expired = |t: TokenBuilder| t.claim("exp", now() - 3600).claim("iat", now() - 7200);
    assert_changed_token_refused(expired, "token expired").await;
}

#[tokio::test]
async fn token_for_another_audience_is_401_invalid_token() {
    let aud = |t: TokenBuilder| t.claim("aud", "https://someone-else.example");
    assert_changed_token_refused(aud, "audience mismatch").await;
}

#[tokio::test]
async fn token_from_another_issuer_is_401_invalid_token() {
    assert_changed_token_refused(
        |t| t.claim("iss", "https://evil.example/"),
        "issuer mismatch",
    )
    .await;
}

#[tokio::test]
async fn token_signed_by_another_key_under_our_kid_is_401_invalid_signature() {
    // Our kid, another key's signature.
    let forged = |t: TokenBuilder| t.signed_by(&KEYS.stranger).kid(KEYS.current.kid());
    assert_changed_token_refused(forged, "invalid signature").await;
}

#[tokio::test]
async fn token_with_an_unknown_kid_is_401_invalid_token() {
    let stranger = |t: TokenBuilder| t.signed_by(&KEYS.stranger);
    assert_changed_token_refused(stranger, "signing key not found").await;
}

#[tokio::test]
async fn unsigned_alg_none_token_is_401_invalid_token() {
    let app = spawn_app().await;
    let header = json!({"alg": "none", "typ": "JWT", "kid": KEYS.current.kid()});
    let claims = json!({
        "iss": app.issuer.issuer(), "sub": "x", "aud": AUDIENCE,
        "iat": now(), "exp": now() + 600,
    });
    let token = format!("{}.{}.", b64_json(&header), b64_json(&claims));
    let response = app.get_with_token("/api/external", &token).await;
    assert_eq!(response.status(), 401);
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn not_a_jwt_is_401_invalid_token() {
    let app = spawn_app().await;
    let response = app.get_with_token("/api/external", "not-a-jwt").await;
    assert_eq!(response.status(), 401);
    let challenge = header(&response, "www-authenticate")
        .unwrap_or_default()
        .to_owned();
    assert!(
        challenge.starts_with(
            r#"Bearer realm="api", error="invalid_token", error_description="malformed token"#
        ),
        "{challenge}"
    );
    let body: serde_json::Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_token");
}

#[tokio::test]
async fn characters_outside_b64token_are_401_malformed_token() {
    assert_token_refused("abc\"def", "malformed token: characters outside b64token").await;
}

#[tokio::test]
async fn refusals_are_not_cacheable() {
    let app = spawn_app().await;
    let response = app.get("/api/external").await;
    assert_eq!(header(&response, "cache-control"), Some("no-store"));
}
