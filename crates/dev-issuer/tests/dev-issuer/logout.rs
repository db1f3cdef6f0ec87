use reqwest::{StatusCode, header};

use crate::helpers::*;

#[tokio::test]
async fn logout_ends_the_session_and_redirects_to_an_allowed_return_to() {
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    let response = app
        .logout(&[("client_id", CLIENT_ID), ("returnTo", APP_ORIGIN)])
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], APP_ORIGIN);
    let silent = app.authorize(&silent_params(&Pkce::new())).await;
    assert_redirect_error(&silent, "login_required");
}

#[tokio::test]
async fn logout_with_a_foreign_return_to_shows_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let evil = ("returnTo", "https://evil.example/");
    let response = app.logout(&[("client_id", CLIENT_ID), evil]).await;
    assert_error_page(response, "Logout URL mismatch").await;
}

#[tokio::test]
async fn logout_with_return_to_but_no_client_id_is_refused() {
    let app = spawn_app().await;
    let response = app.logout(&[("returnTo", APP_ORIGIN)]).await;
    assert_bad_request_without_redirect(&response);
}

#[tokio::test]
async fn logout_without_return_to_shows_a_logged_out_page() {
    let app = spawn_app().await;
    let response = app.logout(&[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.expect("body").contains("Logged out"));
}
