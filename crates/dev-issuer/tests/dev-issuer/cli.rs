//! The binary's start-up rules: loopback only, a valid tenant file, and it says it is for
//! development.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn project_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn non_loopback_host_is_refused_with_exit_code_2_and_one_clear_line() {
    let output = Command::new(env!("CARGO_BIN_EXE_dev-issuer"))
        .current_dir(project_root())
        .env("ISSUER_HOST", "0.0.0.0")
        .env("ISSUER_PORT", "0")
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("error: invalid setting ISSUER_HOST: 0.0.0.0 is not a loopback address"),
        "{stderr}"
    );
}

#[test]
fn non_local_issuer_domain_is_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = Command::new(env!("CARGO_BIN_EXE_dev-issuer"))
        .current_dir(project_root())
        .env("ISSUER_PORT", "0")
        .env("AUTH0_DOMAIN", "tenant.eu.auth0.com")
        .env("ISSUER_KEY_FILE", dir.path().join("keys.json"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("serves a loopback domain only"), "{stderr}");
}

#[test]
fn start_up_says_it_is_for_development_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = Command::new(env!("CARGO_BIN_EXE_dev-issuer"))
        .current_dir(project_root())
        .env("ISSUER_PORT", "0")
        .env("ISSUER_KEY_FILE", dir.path().join("keys.json"))
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let stderr = child.stderr.take().expect("piped");
    let first_line = BufReader::new(stderr).lines().next().and_then(Result::ok);
    child.kill().expect("stops");
    child.wait().expect("reaped");
    assert_eq!(
        first_line.as_deref(),
        Some("dev-issuer: FOR LOCAL DEVELOPMENT ONLY - never use it in production.")
    );
}

#[test]
fn a_misspelt_tenant_file_field_is_refused_with_exit_code_2_naming_the_setting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tenant = dir.path().join("dev-tenant.json");
    std::fs::write(&tenant, r#"{"api": {"enableRBAC": true}}"#).expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_dev-issuer"))
        .current_dir(project_root())
        .env("ISSUER_PORT", "0")
        .env("ISSUER_TENANT_FILE", &tenant)
        .env("ISSUER_KEY_FILE", dir.path().join("keys.json"))
        // Were the tenant file ignored, the missing users file would stop the start instead
        // (with another message): the test fails rather than waiting on a running server.
        .env("ISSUER_USERS_FILE", dir.path().join("missing-users.json"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let error = stderr
        .lines()
        .find(|l| l.starts_with("error: "))
        .unwrap_or_default();
    assert!(
        error.contains("invalid setting ISSUER_TENANT_FILE") && error.contains("enableRBAC"),
        "{stderr}"
    );
}

#[test]
fn an_access_token_lifetime_beyond_auth0s_maximum_is_refused_at_start_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tenant = dir.path().join("dev-tenant.json");
    // Once accepted: `now + lifetime` overflowed when a token was minted.
    std::fs::write(
        &tenant,
        r#"{"api": {"tokenExpiration": 18446744073709551615}}"#,
    )
    .expect("write");
    let output = Command::new(env!("CARGO_BIN_EXE_dev-issuer"))
        .current_dir(project_root())
        .env("ISSUER_PORT", "0")
        .env("ISSUER_TENANT_FILE", &tenant)
        .env("ISSUER_KEY_FILE", dir.path().join("keys.json"))
        // As above: were the file accepted, the missing users file would stop the start.
        .env("ISSUER_USERS_FILE", dir.path().join("missing-users.json"))
        .output()
        .expect("runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(
            "api.tokenExpiration is 18446744073709551615 s; Auth0 allows at most 2592000 s"
        ),
        "{stderr}"
    );
}
