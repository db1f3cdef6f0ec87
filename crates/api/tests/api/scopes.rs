//! `/api/private-scoped` needs `read:messages`, in `scope` or in Auth0's `permissions`.

use serde_json::json;

use test_support::TokenBuilder;
use test_support::api::{assert_answer, assert_refusal, spawn_app};

const PRIVATE_BODY: &str = r#"{"msg":"Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this."}"#;

/// A fresh API's answer to `GET /api/private-scoped` with its issuer's token changed by
/// `change`.
async fn private_scoped(change: impl FnOnce(TokenBuilder) -> TokenBuilder) -> reqwest::Response {
    let app = spawn_app().await;
    let token = change(app.token()).sign();
    app.get_with_token("/api/private-scoped", &token).await
}

#[tokio::test]
async fn token_with_read_messages_gets_the_private_message() {
    let response = private_scoped(|t| t.claim("scope", "openid read:messages email")).await;
    assert_answer(response, 200, PRIVATE_BODY).await;
}

#[tokio::test]
async fn token_with_read_messages_only_in_permissions_gets_the_private_message() {
    let response = private_scoped(|t| {
        t.claim("scope", "openid profile email")
            .claim("permissions", json!(["read:messages"]))
    })
    .await;
    assert_answer(response, 200, PRIVATE_BODY).await;
}

#[tokio::test]
async fn token_with_other_permissions_only_is_403() {
    let permissions = json!(["write:messages", "read:messages2"]);
    let response =
        private_scoped(|t| t.claim("scope", "openid").claim("permissions", permissions)).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn token_without_the_scope_is_403_insufficient_scope() {
    assert_refusal(
        private_scoped(|t| t.claim("scope", "openid profile email")).await,
        403,
        r#"Bearer realm="api", error="insufficient_scope", error_description="the access token lacks the scope read:messages", scope="read:messages""#,
        "insufficient_scope",
        "the access token lacks the scope read:messages",
    )
    .await;
}

#[tokio::test]
async fn scope_must_match_a_whole_word() {
    let scope = "read:messages-all xread:messages";
    assert_eq!(
        private_scoped(|t| t.claim("scope", scope)).await.status(),
        403
    );
}

#[tokio::test]
async fn token_without_any_scope_claim_is_403() {
    assert_eq!(private_scoped(|t| t.without("scope")).await.status(), 403);
}

#[tokio::test]
async fn scoped_route_without_a_token_is_401_not_403() {
    let app = spawn_app().await;
    let response = app.get("/api/private-scoped").await;
    assert_eq!(response.status(), 401);
}
