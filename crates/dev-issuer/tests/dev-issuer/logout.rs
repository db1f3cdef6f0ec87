use reqwest::{StatusCode, header};

use crate::helpers::*;

#[tokio::test]
async fn logout_ends_the_session_and_redirects_to_an_allowed_return_to() {
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    let response = app
        .browser
        .get(format!("{}/v2/logout", app.base))
        .query(&[("client_id", CLIENT_ID), ("returnTo", APP_ORIGIN)])
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[header::LOCATION], APP_ORIGIN);
    let silent = app
        .authorize(&with(
            authorize_params(&Pkce::new()),
            "prompt",
            Some("none"),
        ))
        .await;
    assert_eq!(
        param(&location_query(&silent), "error"),
        Some("login_required")
    );
}

#[tokio::test]
async fn logout_with_a_foreign_return_to_shows_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let response = app
        .browser
        .get(format!("{}/v2/logout", app.base))
        .query(&[
            ("client_id", CLIENT_ID),
            ("returnTo", "https://evil.example/"),
        ])
        .send()
        .await
        .expect("logout");
    assert_error_page(response, "Logout URL mismatch").await;
}

#[tokio::test]
async fn logout_with_return_to_but_no_client_id_is_refused() {
    let app = spawn_app().await;
    let response = app
        .browser
        .get(format!("{}/v2/logout", app.base))
        .query(&[("returnTo", APP_ORIGIN)])
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn logout_without_return_to_shows_a_logged_out_page() {
    let app = spawn_app().await;
    let response = app
        .browser
        .get(format!("{}/v2/logout", app.base))
        .send()
        .await
        .expect("logout");
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.expect("body").contains("Logged out"));
}
