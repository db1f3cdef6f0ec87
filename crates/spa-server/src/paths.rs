//! Which request paths may reach the file system, and which get the SPA shell.
//!
//! actix-files already refuses hidden segments and resolves `..` by popping (so it never leaves
//! its root), but it quietly *accepts* `/js/../index.html` and `/%2e%2e/x`, and the SPA fallback
//! would answer an extension-less traversal attempt such as `/../etc/passwd` with `index.html`
//! and a 200. We want every traversal form refused the same way, before any file-system access
//! and before the fallback, which takes one percent-decode and a look at the segments. No crate
//! offers this exact policy, so it is written here.

use actix_web::http::StatusCode;
use percent_encoding::percent_decode_str;

/// Screens the raw request path; `Some(status)` means refuse with that status.
///
/// - `400` for anything that could mean "leave the folder" or be read two ways: `.` or `..`
///   segments (plain or percent-encoded), encoded `/` or `\`, a backslash, NUL, invalid UTF-8,
///   or a `%` still present after decoding (double encoding).
/// - `404` for hidden files and folders (a segment starting with `.`): to a client they do not
///   exist.
pub fn screen(raw_path: &str) -> Option<StatusCode> {
    let Ok(decoded) = percent_decode_str(raw_path).decode_utf8() else {
        return Some(StatusCode::BAD_REQUEST);
    };
    let raw_segments = raw_path.split('/').count();
    if decoded.split('/').count() != raw_segments
        || decoded.contains(['\\', '\0', '%'])
        || decoded.chars().any(char::is_control)
    {
        return Some(StatusCode::BAD_REQUEST);
    }
    let mut hidden = false;
    for segment in decoded.split('/') {
        match segment {
            "." | ".." => return Some(StatusCode::BAD_REQUEST),
            s if s.starts_with('.') => hidden = true,
            _ => {}
        }
    }
    hidden.then_some(StatusCode::NOT_FOUND)
}

/// Whether a path that matched no file should get the SPA shell (`index.html`).
///
/// The rule is "the last segment has no extension": `/profile`, `/external-api`, `/a/b/` are app
/// routes; `/js/nope.js`, `/favicon.ico` are missing files and get a real 404, so a typo in a
/// `<script>` never turns into HTML parsed as JavaScript. `Accept: text/html` is deliberately not
/// consulted: it varies between clients, and the same URL should answer the same way for all.
pub fn wants_spa_shell(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    !last.contains('.')
}

/// Paths inside the frontend root that are not part of the site: npm's files. The SDK is served
/// from its own mount, so nothing under `node_modules/` is reachable through the root mount.
pub fn is_private(relative: &std::path::Path) -> bool {
    let mut components = relative.components();
    let first = components.next().map(|c| c.as_os_str());
    let only = components.next().is_none();
    match first.and_then(|f| f.to_str()) {
        Some("node_modules") => true,
        Some("package.json" | "package-lock.json") => only,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_asset_paths_pass() {
        assert_eq!(screen("/js/app.js"), None);
        assert_eq!(screen("/"), None);
        assert_eq!(screen("/external-api"), None);
        assert_eq!(screen("/img/a%20b.png"), None);
    }

    #[test]
    fn dot_dot_segments_in_any_encoding_are_bad_requests() {
        for p in [
            "/../Cargo.toml",
            "/%2e%2e/Cargo.toml",
            "/%2E%2E/Cargo.toml",
            "/.%2e/Cargo.toml",
            "/js/../../Cargo.toml",
            "/./index.html",
        ] {
            assert_eq!(screen(p), Some(StatusCode::BAD_REQUEST), "{p}");
        }
    }

    #[test]
    fn encoded_separators_are_bad_requests() {
        for p in [
            "/..%2fCargo.toml",
            "/..%2FCargo.toml",
            "/..%5cCargo.toml",
            "/a\\b",
        ] {
            assert_eq!(screen(p), Some(StatusCode::BAD_REQUEST), "{p}");
        }
    }

    #[test]
    fn double_encoding_is_a_bad_request() {
        assert_eq!(
            screen("/%252e%252e/Cargo.toml"),
            Some(StatusCode::BAD_REQUEST)
        );
    }

    #[test]
    fn invalid_utf8_and_nul_are_bad_requests() {
        assert_eq!(screen("/%ff"), Some(StatusCode::BAD_REQUEST));
        assert_eq!(screen("/a%00.js"), Some(StatusCode::BAD_REQUEST));
    }

    #[test]
    fn hidden_segments_are_not_found() {
        assert_eq!(screen("/.env"), Some(StatusCode::NOT_FOUND));
        assert_eq!(screen("/.git/config"), Some(StatusCode::NOT_FOUND));
        assert_eq!(screen("/%2egit/config"), Some(StatusCode::NOT_FOUND));
    }

    #[test]
    fn extensionless_last_segment_wants_the_shell() {
        assert!(wants_spa_shell("/profile"));
        assert!(wants_spa_shell("/"));
        assert!(wants_spa_shell("/a/b/"));
        assert!(!wants_spa_shell("/js/nope.js"));
        assert!(!wants_spa_shell("/favicon.ico"));
    }

    #[test]
    fn npm_files_are_private() {
        use std::path::Path;
        assert!(is_private(Path::new("node_modules/x/index.js")));
        assert!(is_private(Path::new("package.json")));
        assert!(is_private(Path::new("package-lock.json")));
        assert!(!is_private(Path::new("js/package.json")));
        assert!(!is_private(Path::new("index.html")));
    }
}
