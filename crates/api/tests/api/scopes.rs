//! `/api/private-scoped` needs `read:messages`, in `scope` or in Auth0's `permissions`.

use test_support::api::{assert_refusal, spawn_app};

const PRIVATE_BODY: &str = r#"{"msg":"Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this."}"#;

#[tokio::test]
async fn token_with_read_messages_gets_the_private_message() {
    let app = spawn_app().await;
    let token = app
        .token()
        .claim("scope", "openid read:messages email")
        .sign();
    let response = app.get_with_token("/api/private-scoped", &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), PRIVATE_BODY);
}

#[tokio::test]
async fn token_with_read_messages_only_in_permissions_gets_the_private_message() {
    let app = spawn_app().await;
    let token = app
        .token()
        .claim("scope", "openid profile email")
        .claim("permissions", serde_json::json!(["read:messages"]))
        .sign();
    let response = app.get_with_token("/api/private-scoped", &token).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), PRIVATE_BODY);
}

#[tokio::test]
async fn token_with_other_permissions_only_is_403() {
    let app = spawn_app().await;
    let token = app
        .token()
        .claim("scope", "openid")
        .claim(
            "permissions",
            serde_json::json!(["write:messages", "read:messages2"]),
        )
        .sign();
    let response = app.get_with_token("/api/private-scoped", &token).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn token_without_the_scope_is_403_insufficient_scope() {
    let app = spawn_app().await;
    let token = app.token().claim("scope", "openid profile email").sign();
    assert_refusal(
        app.get_with_token("/api/private-scoped", &token).await,
        403,
        r#"Bearer realm="api", error="insufficient_scope", error_description="the access token lacks the scope read:messages", scope="read:messages""#,
        "insufficient_scope",
        "the access token lacks the scope read:messages",
    )
    .await;
}

#[tokio::test]
async fn scope_must_match_a_whole_word() {
    let app = spawn_app().await;
    let token = app
        .token()
        .claim("scope", "read:messages-all xread:messages")
        .sign();
    let response = app.get_with_token("/api/private-scoped", &token).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn token_without_any_scope_claim_is_403() {
    let app = spawn_app().await;
    let token = app.token().without("scope").sign();
    let response = app.get_with_token("/api/private-scoped", &token).await;
    assert_eq!(response.status(), 403);
}

#[tokio::test]
async fn scoped_route_without_a_token_is_401_not_403() {
    let app = spawn_app().await;
    let response = app.get("/api/private-scoped").await;
    assert_eq!(response.status(), 401);
}
