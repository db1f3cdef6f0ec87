use reqwest::{StatusCode, header};

use crate::helpers::*;

#[tokio::test]
async fn authorize_shows_an_accessible_login_form_with_continue_button() {
    let app = spawn_app().await;
    let response = app.authorize(&authorize_params(&Pkce::new())).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()[header::CONTENT_TYPE]
            .to_str()
            .expect("ascii")
            .starts_with("text/html")
    );
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
    let params = with(
        authorize_params(&Pkce::new()),
        "client_id",
        Some("someone-else"),
    );
    let response = app.authorize(&params).await;
    assert_error_page(response, "Unknown client").await;
}

#[tokio::test]
async fn foreign_redirect_uri_gets_an_error_page_not_a_redirect() {
    let app = spawn_app().await;
    let params = with(
        authorize_params(&Pkce::new()),
        "redirect_uri",
        Some("https://evil.example/cb"),
    );
    let response = app.authorize(&params).await;
    assert_error_page(response, "Callback URL mismatch").await;
}

#[tokio::test]
async fn redirect_uri_with_a_different_path_on_the_app_origin_is_refused() {
    let app = spawn_app().await;
    let params = with(
        authorize_params(&Pkce::new()),
        "redirect_uri",
        Some("http://localhost:3000/elsewhere"),
    );
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn missing_pkce_challenge_redirects_with_invalid_request_and_state() {
    let app = spawn_app().await;
    let params = with(authorize_params(&Pkce::new()), "code_challenge", None);
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let query = location_query(&response);
    assert_eq!(param(&query, "error"), Some("invalid_request"));
    assert_eq!(param(&query, "state"), Some("c3RhdGUtMTIz"));
}

#[tokio::test]
async fn plain_pkce_method_is_refused() {
    let app = spawn_app().await;
    let params = with(
        authorize_params(&Pkce::new()),
        "code_challenge_method",
        Some("plain"),
    );
    let response = app.authorize(&params).await;
    assert_eq!(
        param(&location_query(&response), "error"),
        Some("invalid_request")
    );
}

#[tokio::test]
async fn unknown_audience_redirects_with_access_denied() {
    let app = spawn_app().await;
    let params = with(
        authorize_params(&Pkce::new()),
        "audience",
        Some("https://other.api"),
    );
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(
        param(&location_query(&response), "error"),
        Some("access_denied")
    );
}

#[tokio::test]
async fn wrong_password_shows_the_form_again_with_an_error() {
    let app = spawn_app().await;
    let response = app
        .login_with(
            &authorize_params(&Pkce::new()),
            "alice@example.com",
            "not-her-password",
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let html = response.text().await.expect("body");
    assert!(
        html.contains(r#"role="alert">Wrong email or password.</p>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"value="alice@example.com""#),
        "the username is kept"
    );
    assert!(html.contains("Continue"));
}

#[tokio::test]
async fn a_second_try_after_a_wrong_password_succeeds_on_the_same_form() {
    let app = spawn_app().await;
    let wrong = app
        .login_with(&authorize_params(&Pkce::new()), "alice@example.com", "nope")
        .await;
    let request = form_request_id(&wrong.text().await.expect("body"));
    let right = app
        .browser
        .post(format!("{}/login", app.base))
        .form(&[
            ("request", request.as_str()),
            ("username", "alice@example.com"),
            ("password", "alice-password"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(right.status(), StatusCode::FOUND);
    assert!(param(&location_query(&right), "code").is_some());
}

#[tokio::test]
async fn login_sets_an_httponly_samesite_lax_session_cookie_and_redirects_with_code_and_state() {
    let app = spawn_app().await;
    let response = app
        .login_with(
            &authorize_params(&Pkce::new()),
            "alice@example.com",
            "alice-password",
        )
        .await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let cookie = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("dev_issuer_session="))
        .expect("a session cookie")
        .to_owned();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    assert!(cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(cookie.contains("Path=/"), "{cookie}");
    let location = response.headers()[header::LOCATION]
        .to_str()
        .expect("ascii");
    assert!(
        location.starts_with("http://localhost:3000/?code="),
        "{location}"
    );
    assert_eq!(
        param(&location_query(&response), "state"),
        Some("c3RhdGUtMTIz")
    );
}

#[tokio::test]
async fn login_post_from_a_browser_that_was_not_shown_the_form_is_refused() {
    let app = spawn_app().await;
    let form = app.authorize(&authorize_params(&Pkce::new())).await;
    let request = form_request_id(&form.text().await.expect("body"));
    // A different browser (no cookies), as a cross-site login-CSRF post would be.
    let response = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
        .post(format!("{}/login", app.base))
        .form(&[
            ("request", request.as_str()),
            ("username", "alice@example.com"),
            ("password", "alice-password"),
        ])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn a_login_form_can_be_used_only_once() {
    let app = spawn_app().await;
    let form = app.authorize(&authorize_params(&Pkce::new())).await;
    let request = form_request_id(&form.text().await.expect("body"));
    let post = || {
        app.browser
            .post(format!("{}/login", app.base))
            .form(&[
                ("request", request.as_str()),
                ("username", "alice@example.com"),
                ("password", "alice-password"),
            ])
            .send()
    };
    assert_eq!(post().await.expect("post").status(), StatusCode::FOUND);
    assert_eq!(
        post().await.expect("post").status(),
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn prompt_none_without_a_session_redirects_with_login_required() {
    let app = spawn_app().await;
    let params = with(authorize_params(&Pkce::new()), "prompt", Some("none"));
    let response = app.authorize(&params).await;
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
    let params = with(authorize_params(&pkce), "prompt", Some("none"));
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::FOUND);
    let code = param(&location_query(&response), "code")
        .expect("a code")
        .to_owned();
    let tokens = app.exchange(&code, &pkce.verifier).await;
    assert_eq!(tokens.status(), StatusCode::OK);
}

#[tokio::test]
async fn prompt_login_shows_the_form_even_with_a_session() {
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    let params = with(authorize_params(&Pkce::new()), "prompt", Some("login"));
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.text().await.expect("body").contains("Continue"));
}

#[tokio::test]
async fn web_message_mode_answers_with_a_page_posting_the_authorization_response_to_the_app_origin()
{
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    let params = with(
        with(authorize_params(&Pkce::new()), "prompt", Some("none")),
        "response_mode",
        Some("web_message"),
    );
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::OK);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        csp.contains("frame-ancestors http://localhost:3000"),
        "{csp}"
    );
    let html = response.text().await.expect("body");
    assert!(
        html.contains(r#"var targetOrigin = "http://localhost:3000";"#),
        "{html}"
    );
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
    let params = with(
        with(authorize_params(&Pkce::new()), "prompt", Some("none")),
        "response_mode",
        Some("web_message"),
    );
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.expect("body");
    assert!(html.contains(r#""error":"login_required""#), "{html}");
    assert!(!html.contains(r#""code""#));
}

#[tokio::test]
async fn state_is_escaped_in_the_web_message_page() {
    let app = spawn_app().await;
    let params = with(
        with(
            with(authorize_params(&Pkce::new()), "prompt", Some("none")),
            "response_mode",
            Some("web_message"),
        ),
        "state",
        Some("</script><script>alert(1)</script>"),
    );
    let html = app.authorize(&params).await.text().await.expect("body");
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert!(html.contains(r"\u003c/script\u003e"), "{html}");
}

#[tokio::test]
async fn repeated_redirect_uri_gets_an_error_page() {
    let app = spawn_app().await;
    let mut params = authorize_params(&Pkce::new());
    params.push(("redirect_uri".into(), "https://evil.example".into()));
    let response = app.authorize(&params).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert!(response.headers().get(header::LOCATION).is_none());
}

#[tokio::test]
async fn prompt_none_with_a_session_older_than_max_age_is_login_required() {
    let app = spawn_app().await;
    app.alice_code(&Pkce::new()).await;
    app.clock.advance(std::time::Duration::from_secs(120));
    let params = with(
        with(authorize_params(&Pkce::new()), "prompt", Some("none")),
        "max_age",
        Some("60"),
    );
    let response = app.authorize(&params).await;
    assert_eq!(
        param(&location_query(&response), "error"),
        Some("login_required")
    );
}

#[tokio::test]
async fn silent_login_keeps_the_original_auth_time_in_the_id_token() {
    let app = spawn_app().await;
    let first = Pkce::new();
    let code = app.alice_code(&first).await;
    let body: serde_json::Value = app
        .exchange(&code, &first.verifier)
        .await
        .json()
        .await
        .expect("json");
    let auth_time = claims(body["id_token"].as_str().expect("id_token"))["auth_time"].clone();
    app.clock.advance(std::time::Duration::from_secs(30));
    let pkce = Pkce::new();
    let silent = app
        .authorize(&with(authorize_params(&pkce), "prompt", Some("none")))
        .await;
    let code = param(&location_query(&silent), "code")
        .expect("a code")
        .to_owned();
    let body: serde_json::Value = app
        .exchange(&code, &pkce.verifier)
        .await
        .json()
        .await
        .expect("json");
    let id = claims(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id["auth_time"], auth_time);
    assert!(id["iat"].as_i64() >= auth_time.as_i64().map(|t| t + 30));
}

#[tokio::test]
async fn popup_login_in_web_message_mode_answers_the_form_post_with_the_message_page() {
    let app = spawn_app().await;
    let params = with(
        authorize_params(&Pkce::new()),
        "response_mode",
        Some("web_message"),
    );
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
    let response = app
        .browser
        .post(format!("{}/login", app.base))
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body("%%%&&&request=%ZZ&username")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let form = app.authorize(&authorize_params(&Pkce::new())).await;
    assert_eq!(form.status(), StatusCode::OK);
}
