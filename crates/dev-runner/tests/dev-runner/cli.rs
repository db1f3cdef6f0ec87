//! The `dev-runner` binary's refusals: what a developer sees before any server starts.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Output};

/// Runs the binary from the project root (where `auth_config.json` lives) with `env` added.
fn dev_runner(env: &[(&str, String)]) -> Output {
    run(&[], env)
}

/// `dev-runner --cluster`, as `cargo make cluster` runs it.
fn cluster(env: &[(&str, String)]) -> Output {
    run(&["--cluster"], env)
}

fn run(args: &[&str], env: &[(&str, String)]) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dev-runner"));
    cmd.current_dir(root).args(args);
    let listen = [
        "API_HOST",
        "API_PORT",
        "SPA_HOST",
        "SPA_PORT",
        "ISSUER_HOST",
        "ISSUER_PORT",
    ];
    let cluster = [
        "CLUSTER_REPLICAS",
        "CLUSTER_REPLICA_PORT",
        "CLUSTER_STATS_PORT",
        "CLUSTER_REDIS_PORT",
        "API_SHUTDOWN_DRAIN_SECS",
    ];
    for key in app_config::ENV_VARS.iter().chain(&listen).chain(&cluster) {
        cmd.env_remove(key);
    }
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    cmd.output().expect("dev-runner runs")
}

fn busy_port() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let port = listener.local_addr().expect("bound").port().to_string();
    (listener, port)
}

/// Runs the binary with `var`, the SPA on any port and the API's port busy; returns what it
/// did and that port.
fn with_the_api_port_busy(var: (&str, &str)) -> (Output, String) {
    let (_held, port) = busy_port();
    let out = dev_runner(&[
        (var.0, var.1.into()),
        ("SPA_PORT", "0".into()),
        ("API_PORT", port.clone()),
    ]);
    (out, port)
}

/// Asserts exit code 1, `refusal` on stderr and nothing on stdout.
fn assert_refused_before_anything_starts(out: &Output, refusal: &str) {
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(refusal), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing started, nothing printed");
}

#[test]
fn a_missing_config_file_is_one_line_naming_auth_config_and_exit_code_2() {
    let out = dev_runner(&[("AUTH_CONFIG", "/nonexistent/auth_config.json".into())]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("error: invalid setting AUTH_CONFIG"),
        "{stderr}"
    );
}

#[test]
fn a_busy_port_is_refused_before_anything_starts_naming_the_server_and_address() {
    let (out, port) = with_the_api_port_busy(("ISSUER_PORT", "0"));
    let refusal = format!("dev: cannot start the API: 127.0.0.1:{port} is not free");
    assert_refused_before_anything_starts(&out, &refusal);
}

#[test]
fn a_real_tenant_domain_does_not_start_the_dev_issuer() {
    // The busy API port stops the run right after the decision, so no server is started.
    let (out, _port) = with_the_api_port_busy(("AUTH0_DOMAIN", "tenant.example.com"));
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "dev: auth_config.json points at https://tenant.example.com/ (not this machine): the dev issuer is not started"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("the dev issuer:"), "{stderr}");
}

#[test]
fn a_cluster_of_no_replicas_is_one_line_naming_cluster_replicas_and_exit_code_2() {
    let out = cluster(&[("CLUSTER_REPLICAS", "0".into())]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "error: invalid setting CLUSTER_REPLICAS: \"0\" is not a number from 1 to 16; fix: use \
         the number of API replicas to run, e.g. 3\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_busy_replica_port_is_refused_before_anything_starts_naming_the_replica() {
    let (_held, port) = busy_port();
    let free = || busy_port().1;
    let out = cluster(&[
        ("ISSUER_PORT", "0".into()),
        ("SPA_PORT", "0".into()),
        ("API_PORT", free()),
        ("CLUSTER_STATS_PORT", free()),
        ("CLUSTER_REDIS_PORT", free()),
        ("CLUSTER_REPLICA_PORT", port.clone()),
        ("CLUSTER_REPLICAS", "1".into()),
    ]);
    let refusal = format!("dev: cannot start api-1: 127.0.0.1:{port} is not free");
    assert_refused_before_anything_starts(&out, &refusal);
}
