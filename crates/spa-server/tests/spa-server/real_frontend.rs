//! The project's own `frontend/`: the shell has the labels the browser tests click, and every
//! file it references — including the SDK import — is served.

use reqwest::StatusCode;
use spa_server::{SDK_DIST, SDK_ENTRY, Settings};

use test_support::dev_config;
use test_support::spa_server::{TestApp, real_frontend_root, spawn_app_on};

async fn spawn_real() -> TestApp {
    let root = real_frontend_root();
    assert!(
        root.join(SDK_DIST).join(SDK_ENTRY).is_file(),
        "@auth0/auth0-spa-js is not installed: run `npm ci` in frontend/ (cd {} && npm ci)",
        root.display()
    );
    spawn_app_on(Settings::new(dev_config(), root)).await
}

#[tokio::test]
async fn shell_has_the_labels_the_browser_tests_use() {
    let app = spawn_real().await;
    let body = app.get("/external-api").await.text().await.expect("body");
    for label in [">Log in<", ">Log out<", ">Call API<", "id=\"api-result\""] {
        assert!(body.contains(label), "index.html lacks {label}");
    }
}

/// `src="…"`, `href="…"` and `from "…"` targets that are local paths.
fn local_references(text: &str) -> Vec<String> {
    let mut refs = Vec::new();
    for marker in ["src=\"", "href=\"", "from \""] {
        for piece in text.split(marker).skip(1) {
            let target = piece.split('"').next().unwrap_or_default();
            if target.starts_with('/') || target.starts_with("./") {
                refs.push(target.to_owned());
            }
        }
    }
    refs
}

#[tokio::test]
async fn every_file_the_spa_references_is_served() {
    let app = spawn_real().await;
    let index = app.get("/").await.text().await.expect("body");
    let mut pending: Vec<String> = local_references(&index)
        .into_iter()
        .filter(|r| r.contains('.')) // links to app routes are not files
        .collect();
    let mut seen = std::collections::HashSet::new();
    let mut checked_sdk = false;
    while let Some(target) = pending.pop() {
        // Relative module imports are relative to /js/.
        let path = target
            .strip_prefix("./")
            .map_or(target.clone(), |t| format!("/js/{t}"));
        if !seen.insert(path.clone()) {
            continue;
        }
        let res = app.get(&path).await;
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        checked_sdk |= path == format!("/vendor/auth0-spa-js/{SDK_ENTRY}");
        if path.ends_with(".js") && !path.starts_with("/vendor/") {
            let text = res.text().await.expect("body");
            pending.extend(local_references(&text));
        }
    }
    assert!(
        checked_sdk,
        "no module imports the SDK from /vendor/auth0-spa-js/{SDK_ENTRY}"
    );
}
