//! Live reload (`--dev-reload`): present with the flag, absent without it, and the event stream
//! says `reload` when a site file is saved but not when npm's files change.

use std::time::Duration;

use reqwest::{StatusCode, header};
use spa_server::{EVENTS_PATH, SCRIPT_PATH, SCRIPT_TAG, Settings, content_security_policy};

use test_support::dev_config;
use test_support::spa_server::{TestApp, fake_frontend, spawn_app, spawn_app_on};

async fn spawn_live_reload() -> TestApp {
    let frontend = fake_frontend();
    let mut settings = Settings::new(dev_config(), &frontend.root);
    settings.dev_reload = true;
    let mut app = spawn_app_on(settings).await;
    app.frontend = Some(frontend);
    app
}

/// The next event-stream frame (up to its blank line), within a bound.
async fn next_frame(response: &mut reqwest::Response, buffer: &mut String) -> String {
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let frame = buffer[..end].to_owned();
            buffer.drain(..end + 2);
            return frame;
        }
        let chunk = tokio::time::timeout(Duration::from_secs(10), response.chunk())
            .await
            .expect("an event within 10 s")
            .expect("the stream stays readable")
            .expect("the stream stays open");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn without_the_flag_the_shell_has_no_reload_script_and_its_routes_do_not_exist() {
    let app = spawn_app().await;
    let shell = app.get("/").await.text().await.expect("body");
    assert!(!shell.contains(SCRIPT_TAG), "{shell}");
    assert_eq!(app.get(SCRIPT_PATH).await.status(), StatusCode::NOT_FOUND);
    // An extension-less path is an app route: the plain shell, not an event stream.
    let events = app.get(EVENTS_PATH).await;
    assert_eq!(
        events.headers()[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    assert!(!events.text().await.expect("body").contains(SCRIPT_TAG));
}

#[tokio::test]
async fn with_the_flag_every_shell_carries_the_script_once_under_the_same_csp() {
    let app = spawn_live_reload().await;
    let csp = content_security_policy(&dev_config());
    for path in ["/", "/index.html", "/profile", "/external-api"] {
        let response = app.get(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            csp.as_str(),
            "{path}"
        );
        let body = response.text().await.expect("body");
        assert_eq!(body.matches(SCRIPT_TAG).count(), 1, "{path}: {body}");
        assert!(
            body.find(SCRIPT_TAG) < body.find("</head>"),
            "{path}: {body}"
        );
    }
}

#[tokio::test]
async fn with_the_flag_the_reload_script_is_served_as_javascript() {
    let app = spawn_live_reload().await;
    let response = app.get(SCRIPT_PATH).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let body = response.text().await.expect("body");
    assert!(body.contains("new EventSource('/_dev/reload')"), "{body}");
}

#[tokio::test]
async fn saving_a_site_file_sends_reload_and_npm_files_do_not() {
    let app = spawn_live_reload().await;
    let root = app.frontend.as_ref().expect("fake frontend").root.clone();
    let mut events = app.get(EVENTS_PATH).await;
    assert_eq!(events.status(), StatusCode::OK);
    assert_eq!(events.headers()[header::CONTENT_TYPE], "text/event-stream");
    let mut buffer = String::new();
    let hello = next_frame(&mut events, &mut buffer).await;
    assert!(hello.contains("event: hello\ndata: "), "{hello:?}");

    // npm rewriting its folder first, then a real save: the first reload must name the save.
    std::fs::write(
        root.join("node_modules/@auth0/auth0-spa-js/dist/new.js"),
        "x",
    )
    .expect("write");
    std::fs::write(root.join("js/app.js"), "export const answer = 43;\n").expect("write");
    let reload = next_frame(&mut events, &mut buffer).await;
    assert_eq!(reload, "event: reload\ndata: js/app.js");
}
