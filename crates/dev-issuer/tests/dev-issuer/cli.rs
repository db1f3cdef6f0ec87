//! The binary's start-up rules: loopback only, a valid tenant file, and it says it is for
//! development.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};

/// The binary, run from the project root on port 0.
fn dev_issuer() -> Command {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut command = Command::new(env!("CARGO_BIN_EXE_dev-issuer"));
    command.current_dir(root).env("ISSUER_PORT", "0");
    command
}

/// The binary run with keys in `dir`.
fn with_keys_in(dir: &Path) -> Command {
    let mut command = dev_issuer();
    command.env("ISSUER_KEY_FILE", dir.join("keys.json"));
    command
}

/// The binary's run with `tenant` as its tenant file and keys in `dir`. Were the tenant file
/// ignored or accepted, the missing users file would stop the start instead (with another
/// message): the test fails rather than waiting on a running server.
fn run_with_tenant_file(dir: &Path, tenant: &str) -> Output {
    let file = dir.join("dev-tenant.json");
    std::fs::write(&file, tenant).expect("write");
    with_keys_in(dir)
        .env("ISSUER_TENANT_FILE", &file)
        .env("ISSUER_USERS_FILE", dir.join("missing-users.json"))
        .output()
        .expect("runs")
}

/// Asserts that the run ended with exit code 2; returns what it wrote to stderr.
fn refused(output: &Output) -> String {
    assert_eq!(output.status.code(), Some(2));
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn non_loopback_host_is_refused_with_exit_code_2_and_one_clear_line() {
    let output = dev_issuer()
        .env("ISSUER_HOST", "0.0.0.0")
        .output()
        .expect("runs");
    let stderr = refused(&output);
    let line = "error: invalid setting ISSUER_HOST: 0.0.0.0 is not a loopback address";
    assert!(stderr.contains(line), "{stderr}");
}

#[test]
fn non_local_issuer_domain_is_refused_with_exit_code_2() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = with_keys_in(dir.path())
        .env("AUTH0_DOMAIN", "tenant.eu.auth0.com")
        .output()
        .expect("runs");
    let stderr = refused(&output);
    assert!(stderr.contains("serves a loopback domain only"), "{stderr}");
}

#[test]
fn start_up_says_it_is_for_development_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut child = with_keys_in(dir.path())
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
    let output = run_with_tenant_file(dir.path(), r#"{"api": {"enableRBAC": true}}"#);
    let stderr = refused(&output);
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
    // Once accepted: `now + lifetime` overflowed when a token was minted.
    let tenant = r#"{"api": {"tokenExpiration": 18446744073709551615}}"#;
    let stderr = refused(&run_with_tenant_file(dir.path(), tenant));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    let message = "api.tokenExpiration is 18446744073709551615 s; Auth0 allows at most 2592000 s";
    assert!(stderr.contains(message), "{stderr}");
}
