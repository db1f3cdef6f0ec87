//! Path traversal and hidden files, sent raw so no client normalises them first.

use test_support::spa_server::{SECRET_DOTFILE, SECRET_OUTSIDE_ROOT, spawn_app};

async fn assert_refused(path: &str, expected: u16) {
    let app = spawn_app().await;
    let (status, raw) = app.raw_get(path).await;
    assert_eq!(status, expected, "{path}: {raw}");
    assert!(
        !raw.contains(SECRET_OUTSIDE_ROOT),
        "{path} leaked a file outside the root"
    );
    assert!(!raw.contains(SECRET_DOTFILE), "{path} leaked a dotfile");
}

#[tokio::test]
async fn plain_dot_dot_is_400() {
    assert_refused("/../Cargo.toml", 400).await;
}

#[tokio::test]
async fn dot_dot_without_extension_is_400_not_the_shell() {
    assert_refused("/../secret", 400).await;
}

#[tokio::test]
async fn percent_encoded_dot_dot_is_400() {
    assert_refused("/%2e%2e/Cargo.toml", 400).await;
}

#[tokio::test]
async fn upper_case_percent_encoded_dot_dot_is_400() {
    assert_refused("/%2E%2E/secret.txt", 400).await;
}

#[tokio::test]
async fn encoded_slash_after_dot_dot_is_400() {
    assert_refused("/..%2fCargo.toml", 400).await;
}

#[tokio::test]
async fn encoded_backslash_after_dot_dot_is_400() {
    assert_refused("/..%5cCargo.toml", 400).await;
}

#[tokio::test]
async fn double_encoded_dot_dot_is_400() {
    assert_refused("/%252e%252e/Cargo.toml", 400).await;
}

#[tokio::test]
async fn dot_dot_deeper_than_the_root_is_400() {
    assert_refused("/js/../../Cargo.toml", 400).await;
}

#[tokio::test]
async fn dot_dot_that_stays_inside_the_root_is_400_too() {
    assert_refused("/js/../index.html", 400).await;
}

#[tokio::test]
async fn dotfile_is_404() {
    assert_refused("/.env", 404).await;
}

#[tokio::test]
async fn file_in_hidden_folder_is_404() {
    assert_refused("/.git/config", 404).await;
}

#[tokio::test]
async fn encoded_dotfile_is_404() {
    assert_refused("/%2eenv", 404).await;
}

#[tokio::test]
async fn server_keeps_serving_after_refusals() {
    let app = spawn_app().await;
    for path in ["/../Cargo.toml", "/%ff", "/..%2f..%2fetc/passwd", "/.env"] {
        app.raw_get(path).await;
    }
    let (status, _) = app.raw_get("/js/app.js").await;
    assert_eq!(status, 200);
}
