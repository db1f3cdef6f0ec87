use reqwest::{StatusCode, header};

use crate::helpers::*;

#[tokio::test]
async fn authorize_shows_an_accessible_login_form_with_continue_button() {
    let app = spawn_app().await;
    let response = app.authorize(&authorize_params(&Pkce::new())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "content-type").is_some_and(|t| t.starts_with("text/html")));
    let html = response.text().await.expect("body");
    assert!(html.contains(r#"<label for="username">"#), "{html}");
    assert!(html.contains(r#"name="username""#));
    assert!(html.contains(r#"<label for="password">"#));
    assert!(html.contains(r#"name="password" type="password""#));
    assert!(html.contains(r#"<button type="submit">Continue</button>"#));
}

#[tokio::test]
async fn unknown_client_gets_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let response = authorize_with(&app, "client_id", Some("someone-else")).await;
    assert_error_page(response, "Unknown client").await;
}

#[tokio::test]
async fn foreign_redirect_uri_gets_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let response = authorize_with(&app, "redirect_uri", Some("https://evil.example/cb")).await;
    assert_error_page(response, "Callback URL mismatch").await;
}

#[tokio::test]
async fn redirect_uri_with_a_different_path_on_the_app_origin_is_refused() {
    let app = spawn_app().await;
    let elsewhere = Some("http://localhost:3000/elsewhere");
    assert_bad_request_without_redirect(&authorize_with(&app, "redirect_uri", elsewhere).await);
}

#[tokio::test]
async fn missing_pkce_challenge_redirects_with_invalid_request_and_state() {
    let app = spawn_app().await;
    let response = authorize_with(&app, "code_challenge", None).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let query = location_query(&response);
    assert_eq!(param(&query, "error"), Some("invalid_request"));
    assert_eq!(param(&query, "state"), Some("c3RhdGUtMTIz"));
}

#[tokio::test]
async fn plain_pkce_method_is_refused() {
    let app = spawn_app().await;
    let response = authorize_with(&app, "code_challenge_method", Some("plain")).await;
    assert_redirect_error(&response, "invalid_request");
}

#[tokio::test]
async fn unknown_audience_redirects_with_access_denied() {
    let app = spawn_app().await;
    let response = authorize_with(&app, "audience", Some("https://other.api")).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_redirect_error(&response, "access_denied");
}

#[tokio::test]
async fn wrong_password_shows_the_form_again_with_an_error() {
    let app = spawn_app().await;
    let response = alice_login_with(&app, "not-her-password").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.expect("body");
    let alert = r#"role="alert">Wrong email or password.</p>"#;
    assert!(html.contains(alert), "{html}");
    assert!(
        html.contains(r#"value="alice@example.com""#),
        "the username is kept"
    );
    assert!(html.contains("Continue"));
}

#[tokio::test]
async fn a_second_try_after_a_wrong_password_succeeds_on_the_same_form() {
    let app = spawn_app().await;
    let wrong = alice_login_with(&app, "nope").await;
    let request = form_request_id(&wrong.text().await.expect("body"));
    let right = app
        .post_login(
            &app.browser,
            &request,
            "alice@example.com",
            "alice-password",
        )
        .await;
    assert_eq!(right.status(), StatusCode::FOUND);
    assert!(param(&location_query(&right), "code").is_some());
}

#[tokio::test]
async fn login_sets_an_httponly_samesite_lax_session_cookie_and_redirects_with_code_and_state() {
    let app = spawn_app().await;
    let response = alice_login_with(&app, "alice-password").await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let cookie = set_cookie(&response, "dev_issuer_session").expect("a session cookie");
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let location = header(&response, "location").expect("ascii");
    assert!(
        location.starts_with("http://localhost:3000/?code="),
        "{location}"
    );
    assert_eq!(
        location_param(&response, "state").as_deref(),
        Some("c3RhdGUtMTIz")
    );
}

/// The request id of the login form shown for the SDK's parameters.
async fn shown_form(app: &TestApp) -> String {
    let form = app.authorize(&authorize_params(&Pkce::new())).await;
    form_request_id(&form.text().await.expect("body"))
}

#[tokio::test]
async fn login_post_from_a_browser_that_was_not_shown_the_form_is_refused() {
    let app = spawn_app().await;
    let request = shown_form(&app).await;
    // A different browser (no cookies), as a cross-site login-CSRF post would be.
    let stranger = test_support::client();
    let response = app
        .post_login(&stranger, &request, "alice@example.com", "alice-password")
        .await;
    assert_bad_request_without_redirect(&response);
}

#[tokio::test]
async fn a_login_form_can_be_used_only_once() {
    let app = spawn_app().await;
    let request = shown_form(&app).await;
    let post = || {
        app.post_login(
            &app.browser,
            &request,
            "alice@example.com",
            "alice-password",
        )
    };
    assert_eq!(post().await.status(), StatusCode::FOUND);
    assert_eq!(post().await.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn prompt_none_without_a_session_redirects_with_login_required() {
    let app = spawn_app().await;
    let response = app.authorize(&silent_params(&Pkce::new())).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let query = location_query(&response);
    assert_eq!(param(&query, "error"), Some("login_required"));
    assert_eq!(param(&query, "state"), Some("c3RhdGUtMTIz"));
    assert_eq!(param(&query, "code"), None);
}

#[tokio::test]
async fn prompt_none_with_a_session_redirects_with_a_code_and_no_form() {
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    let pkce = Pkce::new();
    let response = app.authorize(&silent_params(&pkce)).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let code = location_param(&response, "code").expect("a code");
    let tokens = app.exchange(&code, &pkce.verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
}

#[tokio::test]
async fn prompt_login_shows_the_form_even_with_a_session() {
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    let response = authorize_with(&app, "prompt", Some("login")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.expect("body").contains("Continue"));
}

/// A silent login's parameters in `web_message` mode (the SDK's iframe).
fn silent_web_message() -> Vec<(String, String)> {
    with(
        silent_params(&Pkce::new()),
        "response_mode",
        Some("web_message"),
    )
}

#[tokio::test]
async fn web_message_mode_answers_with_a_page_posting_the_authorization_response_to_the_app_origin()
{
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    let response = app.authorize(&silent_web_message()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = header(&response, "content-security-policy")
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("frame-ancestors http://localhost:3000"),
        "{csp}"
    );
    let html = response.text().await.expect("body");
    let target = r#"var targetOrigin = "http://localhost:3000";"#;
    assert!(html.contains(target), "{html}");
    assert!(
        html.contains(r#""type":"authorization_response""#),
        "{html}"
    );
    assert!(html.contains(r#""response":{"code":""#), "{html}");
    assert!(html.contains(r#""state":"c3RhdGUtMTIz""#), "{html}");
    assert!(html.contains("window.opener ? window.opener : window.parent"));
    assert!(html.contains("postMessage(message, targetOrigin)"));
}

#[tokio::test]
async fn web_message_prompt_none_without_a_session_posts_login_required() {
    let app = spawn_app().await;
    let response = app.authorize(&silent_web_message()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("body");
    assert!(html.contains(r#""error":"login_required""#), "{html}");
    assert!(!html.contains(r#""code""#));
}

#[tokio::test]
async fn state_is_escaped_in_the_web_message_page() {
    let app = spawn_app().await;
    let script = Some("</script><script>alert(1)</script>");
    let params = with(silent_web_message(), "state", script);
    let html = app.authorize(&params).await.text().await.expect("body");
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains(r"\u003c/script\u003e"), "{html}");
}

#[tokio::test]
async fn repeated_redirect_uri_gets_an_error_page() {
    let app = spawn_app().await;
    let mut params = authorize_params(&Pkce::new());
    params.push(("redirect_uri".into(), "https://evil.example".into()));
    assert_bad_request_without_redirect(&app.authorize(&params).await);
}

#[tokio::test]
async fn prompt_none_with_a_session_older_than_max_age_is_login_required() {
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    app.clock.advance(std::time::Duration::from_secs(120));
    let params = with(silent_params(&Pkce::new()), "max_age", Some("60"));
    let response = app.authorize(&params).await;
    assert_redirect_error(&response, "login_required");
}

#[tokio::test]
async fn silent_login_keeps_the_original_auth_time_in_the_id_token() {
    let (app, first, code) = spawn_with_alice_code().await;
    let body = exchange_json(&app, &code, &first).await;
    let auth_time = claims(body["id_token"].as_str().expect("id_token"))["auth_time"].clone();
    app.clock.advance(std::time::Duration::from_secs(30));
    let pkce = Pkce::new();
    let code = silent_code(&app, &pkce).await;
    let body = exchange_json(&app, &code, &pkce).await;
    let id = claims(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id["auth_time"], auth_time);
    assert!(id["iat"].as_i64() >= auth_time.as_i64().map(|t| t + 30));
}

#[tokio::test]
async fn popup_login_in_web_message_mode_answers_the_form_post_with_the_message_page() {
    let app = spawn_app().await;
    let mode = Some("web_message");
    let params = with(authorize_params(&Pkce::new()), "response_mode", mode);
    let response = app
        .login_with(&params, "alice@example.com", "alice-password")
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("body");
    assert!(
        html.contains(r#""type":"authorization_response""#),
        "{html}"
    );
    assert!(html.contains(r#""code":""#), "{html}");
}

#[tokio::test]
async fn garbage_login_post_gets_an_error_page_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let garbage = app
        .browser
        .post(app.url("/login"))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("%%%&&&request=%ZZ&username");
    assert_eq!(send(garbage).await.status(), StatusCode::BAD_REQUEST);
    let form = app.authorize(&authorize_params(&Pkce::new())).await;
    assert_eq!(form.status(), StatusCode::OK);
}
