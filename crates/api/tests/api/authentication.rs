//! Every row of the RFC 6750 error table (docs/api.md), plus the ways a token may and may not be
//! presented.

use serde_json::json;

use test_support::api::{assert_invalid_token, assert_refusal, spawn_app};
use test_support::header;
use test_support::{AUDIENCE, KEYS, b64_json, now};

const EXTERNAL_BODY: &str = r#"{"msg":"Your Access Token was successfully validated!"}"#;
const NO_CREDENTIALS: &str = "an access token is required in the Authorization header";

#[tokio::test]
async fn valid_token_gets_the_seed_message() {
    let app = spawn_app().await;
    let response = app
        .get_with_token("/api/external", &app.token().sign())
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), EXTERNAL_BODY);
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
    assert_refusal(
        app.get("/api/external").await,
        401,
        r#"Bearer realm="api""#,
        "unauthorized",
        NO_CREDENTIALS,
    )
    .await;
}

#[tokio::test]
async fn other_scheme_is_401_with_a_bare_challenge() {
    let app = spawn_app().await;
    assert_refusal(
        app.get_with_authorization("/api/external", "Basic YWxpY2U6c2VjcmV0")
            .await,
        401,
        r#"Bearer realm="api""#,
        "unauthorized",
        "the Authorization header does not use the Bearer or DPoP scheme",
    )
    .await;
}

#[tokio::test]
async fn token_in_the_query_string_is_not_accepted() {
    let app = spawn_app().await;
    let token = app.token().sign();
    let response = app
        .client
        .get(app.url(&format!("/api/external?access_token={token}")))
        .send()
        .await
        .expect("request");
    assert_refusal(
        response,
        401,
        r#"Bearer realm="api""#,
        "unauthorized",
        "access tokens are accepted only in the Authorization header, not in the query string",
    )
    .await;
}

#[tokio::test]
async fn empty_token_is_400_invalid_request() {
    let app = spawn_app().await;
    assert_refusal(
        app.get_with_authorization("/api/external", "Bearer ").await,
        400,
        r#"Bearer realm="api", error="invalid_request", error_description="empty bearer token""#,
        "invalid_request",
        "empty bearer token",
    )
    .await;
}

#[tokio::test]
async fn two_authorization_headers_are_400_invalid_request() {
    let app = spawn_app().await;
    let token = app.token().sign();
    let response = app
        .client
        .get(app.url("/api/external"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("request");
    assert_refusal(
        response,
        400,
        r#"Bearer realm="api", error="invalid_request", error_description="more than one Authorization header""#,
        "invalid_request",
        "more than one Authorization header",
    )
    .await;
}

/// A fresh API refuses `token` at `/api/external` as `invalid_token` with `description`.
async fn assert_token_refused(token: &str, description: &str) {
    let app = spawn_app().await;
    assert_invalid_token(
        app.get_with_token("/api/external", token).await,
        description,
    )
    .await;
}

#[tokio::test]
async fn expired_token_is_401_invalid_token() {
    let app = spawn_app().await;
    let token = app
        .token()
        .claim("exp", now() - 3600)
        .claim("iat", now() - 7200)
        .sign();
    assert_invalid_token(
        app.get_with_token("/api/external", &token).await,
        "token expired",
    )
    .await;
}

#[tokio::test]
async fn token_for_another_audience_is_401_invalid_token() {
    let app = spawn_app().await;
    let token = app
        .token()
        .claim("aud", "https://someone-else.example")
        .sign();
    assert_invalid_token(
        app.get_with_token("/api/external", &token).await,
        "audience mismatch",
    )
    .await;
}

#[tokio::test]
async fn token_from_another_issuer_is_401_invalid_token() {
    let app = spawn_app().await;
    let token = app.token().claim("iss", "https://evil.example/").sign();
    assert_invalid_token(
        app.get_with_token("/api/external", &token).await,
        "issuer mismatch",
    )
    .await;
}

#[tokio::test]
async fn token_signed_by_another_key_under_our_kid_is_401_invalid_signature() {
    let app = spawn_app().await;
    let token = app
        .token()
        .signed_by(&KEYS.stranger)
        .kid(KEYS.current.kid())
        .sign();
    assert_invalid_token(
        app.get_with_token("/api/external", &token).await,
        "invalid signature",
    )
    .await;
}

#[tokio::test]
async fn token_with_an_unknown_kid_is_401_invalid_token() {
    let app = spawn_app().await;
    let token = app.token().signed_by(&KEYS.stranger).sign();
    assert_invalid_token(
        app.get_with_token("/api/external", &token).await,
        "signing key not found",
    )
    .await;
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
