//! The compiled `api` binary: configuration errors, start-up log, graceful shutdown, and that
//! tokens never reach the log.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use test_support::header;
use test_support::{KEYS, MockIssuer};

fn default_config() -> String {
    format!("{}/../../auth_config.json", env!("CARGO_MANIFEST_DIR"))
}

fn api(vars: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_api"));
    for var in api::cli::env_names() {
        command.env_remove(var);
    }
    command.env("AUTH_CONFIG", default_config());
    // Never the fixed default port: tests run in parallel, and so may other checkouts.
    command.env("API_METRICS_ADDR", "127.0.0.1:0");
    command.envs(vars.iter().copied());
    command
}

/// Runs the binary to completion and returns (exit code, stderr).
fn run_to_exit(vars: &[(&str, &str)]) -> (Option<i32>, String) {
    exit_of(api(vars).env("API_PORT", "0").stdin(Stdio::null()))
}

/// Runs `command` to completion and returns (exit code, stderr).
fn exit_of(command: &mut Command) -> (Option<i32>, String) {
    let output = command.output().expect("run api");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_line_config_error(vars: &[(&str, &str)], naming: &str) {
    let (code, stderr) = run_to_exit(vars);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr}");
    assert!(
        stderr.starts_with("error: invalid setting "),
        "stderr: {stderr}"
    );
    assert!(stderr.contains(naming), "stderr: {stderr}");
}

#[test]
fn unreadable_config_file_is_one_line_and_exit_code_2() {
    assert_one_line_config_error(
        &[("AUTH_CONFIG", "/nonexistent/auth_config.json")],
        "AUTH_CONFIG",
    );
}

#[test]
fn plain_http_domain_on_a_public_host_is_one_line_and_exit_code_2() {
    assert_one_line_config_error(
        &[("AUTH0_DOMAIN", "http://tenant.example.com")],
        "AUTH0_DOMAIN",
    );
}

#[test]
fn empty_audience_is_one_line_and_exit_code_2() {
    assert_one_line_config_error(&[("AUTH0_AUDIENCE", "")], "AUTH0_AUDIENCE");
}

#[test]
fn unknown_dpop_mode_is_one_line_and_exit_code_2() {
    assert_one_line_config_error(&[("API_DPOP", "sometimes")], "API_DPOP");
}

#[test]
fn dpop_nonce_other_than_0_or_1_is_one_line_and_exit_code_2() {
    assert_one_line_config_error(&[("API_DPOP_NONCE", "yes")], "API_DPOP_NONCE");
}

#[test]
fn short_dpop_nonce_secret_is_one_line_and_exit_code_2() {
    assert_one_line_config_error(
        &[("API_DPOP_NONCE", "1"), ("API_DPOP_NONCE_SECRET", "short")],
        "API_DPOP_NONCE_SECRET",
    );
}

#[test]
fn dpop_nonce_secret_of_one_repeated_character_is_one_line_and_exit_code_2() {
    let secret = "x".repeat(48);
    assert_one_line_config_error(
        &[("API_DPOP_NONCE", "1"), ("API_DPOP_NONCE_SECRET", &secret)],
        "API_DPOP_NONCE_SECRET",
    );
}

#[test]
fn weak_dpop_nonce_secret_from_a_file_is_one_line_naming_the_file_setting() {
    let dir = std::env::temp_dir().join(format!("api-secret-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("weak");
    std::fs::write(&path, "abababababababababababababababababab\n").expect("write");
    assert_one_line_config_error(
        &[
            ("API_DPOP_NONCE", "1"),
            ("API_DPOP_NONCE_SECRET_FILE", path.to_str().expect("utf-8")),
        ],
        "API_DPOP_NONCE_SECRET_FILE",
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dpop_nonce_secret_flag_does_not_exist() {
    let output = api(&[])
        .args(["--dpop-nonce-secret", "q4Yc1Zr8mP0vX7tL2sN9bK6wH3jF5dGa"])
        .env("API_PORT", "0")
        .output()
        .expect("run api");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--dpop-nonce-secret"), "stderr: {stderr}");
    assert!(
        !stderr.contains("q4Yc1Zr8"),
        "the secret was echoed: {stderr}"
    );
}

#[test]
fn shared_replay_store_with_nonces_and_no_secret_is_one_line_naming_the_secret() {
    assert_one_line_config_error(
        &[
            ("API_REPLAY_STORE", "redis://127.0.0.1:6390"),
            ("API_DPOP_NONCE", "1"),
        ],
        "API_DPOP_NONCE_SECRET",
    );
}

#[test]
fn unknown_replay_store_scheme_is_one_line_naming_the_setting_and_the_scheme() {
    let (code, stderr) = run_to_exit(&[("API_REPLAY_STORE", "memcached://127.0.0.1:11211")]);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr,
        "error: invalid setting API_REPLAY_STORE: the scheme \"memcached\" is not supported; fix: use memory, or redis://[user:pass@]host:port[/db]\n"
    );
}

#[test]
fn bad_port_is_one_line_and_exit_code_2() {
    let (code, stderr) = exit_of(&mut api(&[("API_PORT", "not-a-port")]));
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.contains("API_PORT"), "stderr: {stderr}");
}

#[test]
fn metrics_address_without_a_port_is_one_line_and_exit_code_2() {
    assert_one_line_config_error(&[("API_METRICS_ADDR", "127.0.0.1")], "API_METRICS_ADDR");
}

#[test]
fn busy_metrics_address_is_one_line_and_exit_code_2() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
    let address = held.local_addr().expect("bound").to_string();
    assert_one_line_config_error(
        &[("API_METRICS_ADDR", address.as_str())],
        "API_METRICS_ADDR",
    );
}

/// A running binary whose stdout lines arrive on a channel.
struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Running {
    fn start(vars: &[(&str, &str)]) -> Self {
        let mut child = api(vars)
            .env("API_PORT", "0")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn api");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (bounded) for a line containing `needle` and returns it.
    fn wait_for(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => break,
            }
        }
        panic!(
            "no log line containing {needle:?}; saw:\n{}",
            self.seen.join("\n")
        );
    }

    /// Waits for the "listening on" line and returns the port it names.
    fn port(&mut self) -> u16 {
        port_of(&self.wait_for("listening on http://127.0.0.1:"))
    }

    /// Sends SIGTERM and waits for the exit: (exit code, the whole log).
    fn terminate(self) -> (Option<i32>, String) {
        self.signal("TERM");
        self.wait_exit()
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit; returns its exit code and the rest of stdout.
    fn wait_exit(mut self) -> (Option<i32>, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                let rest: Vec<String> = self.lines.try_iter().collect();
                self.seen.extend(rest);
                return (status.code(), self.seen.join("\n"));
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the api did not exit within 20 s of the signal");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A mock issuer and the binary trusting it, with `vars` besides `AUTH0_DOMAIN`.
async fn start_with_issuer(vars: &[(&str, &str)]) -> (MockIssuer, Running) {
    let issuer = MockIssuer::start(&[&KEYS.current]).await;
    let mut all = vec![("AUTH0_DOMAIN", issuer.base())];
    all.extend_from_slice(vars);
    let api = Running::start(&all);
    (issuer, api)
}

/// GET `http://127.0.0.1:<port><path>` with a fresh client.
async fn get(port: u16, path: &str) -> reqwest::Response {
    let url = format!("http://127.0.0.1:{port}{path}");
    reqwest::get(url).await.expect("request succeeds")
}

/// Whether `/readyz` on `port` answers 200 within 10 s.
async fn ready_within_10_s(port: u16) -> bool {
    test_support::eventually(Duration::from_secs(10), || async {
        reqwest::get(format!("http://127.0.0.1:{port}/readyz"))
            .await
            .is_ok_and(|r| r.status() == 200)
    })
    .await
}

fn port_of(line: &str) -> u16 {
    line.rsplit(':')
        .next()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"))
}

#[tokio::test]
async fn binary_logs_address_and_issuer_and_stops_gracefully_on_sigterm() {
    let (issuer, mut api) = start_with_issuer(&[]).await;
    api.wait_for(&format!("trusting access tokens from {}", issuer.issuer()));
    assert_eq!(get(api.port(), "/healthz").await.status(), 200);
    api.signal("TERM");
    api.wait_for("SIGTERM received; finishing in-flight requests, then shutting down");
    assert_eq!(api.wait_exit().0, Some(0));
}

#[tokio::test]
async fn binary_stops_gracefully_on_sigint_too() {
    let (_issuer, mut api) = start_with_issuer(&[]).await;
    assert_eq!(get(api.port(), "/healthz").await.status(), 200);
    api.signal("INT");
    api.wait_for("SIGINT received; finishing in-flight requests, then shutting down");
    let (code, _) = api.wait_exit();
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn request_log_has_method_path_status_and_latency_but_never_the_token() {
    let (_issuer, mut api) = start_with_issuer(&[("RUST_LOG", "debug")]).await;
    let port = api.port();
    let client = reqwest::Client::new();
    let response = client
        .get(format!(
            "http://127.0.0.1:{port}/api/external?access_token=sentinel-query-token"
        ))
        .header("Authorization", "Bearer sentinel.header.token")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 401);
    let line = api.wait_for("status=401");
    assert!(line.contains("method=GET"), "{line}");
    assert!(line.contains("path=/api/external"), "{line}");
    assert!(line.contains("latency_us="), "{line}");
    let (_, log) = api.terminate();
    assert!(!log.contains("sentinel"), "a token reached the log:\n{log}");
    assert!(
        !log.to_ascii_lowercase().contains("authorization: "),
        "{log}"
    );
}

#[tokio::test]
async fn sigterm_lets_an_in_flight_request_finish() {
    let (issuer, mut api) = start_with_issuer(&[("AUTH0_AUDIENCE", test_support::AUDIENCE)]).await;
    let port = api.port();
    // Polled through /readyz: the log says when the API listens, not when it has the keys.
    assert!(
        ready_within_10_s(port).await,
        "the API never loaded the issuer's keys"
    );
    let client = reqwest::Client::new();
    // A token signed by a key the API has not seen makes the API refetch the key set while it
    // handles the request; holding that fetch at the issuer keeps the request in flight, and
    // the issuer's request counter says when it is.
    issuer.serve(&[&KEYS.current, &KEYS.next]);
    issuer.set_hold(true);
    let fetches_before = issuer.jwks_requests();
    let token = issuer.token().signed_by(&KEYS.next).sign();
    let in_flight = tokio::spawn(
        client
            .get(format!("http://127.0.0.1:{port}/api/external"))
            .bearer_auth(token)
            .send(),
    );
    assert!(
        test_support::eventually(Duration::from_secs(10), || async {
            issuer.jwks_requests() > fetches_before
        })
        .await,
        "the request never made the API refetch the key set"
    );
    api.signal("TERM");
    api.wait_for("SIGTERM received");
    issuer.set_hold(false);
    let response = in_flight
        .await
        .expect("task")
        .expect("the in-flight request was answered");
    assert_eq!(response.status(), 200);
    let (code, _) = api.wait_exit();
    assert_eq!(code, Some(0));
}

#[tokio::test]
async fn rust_log_sets_the_level() {
    let (_issuer, mut api) = start_with_issuer(&[("RUST_LOG", "warn,api::startup=info")]).await;
    assert_eq!(get(api.port(), "/api/public").await.status(), 200);
    let (code, log) = api.terminate();
    assert_eq!(code, Some(0));
    assert!(
        !log.contains("path=/api/public"),
        "request logged at warn level:\n{log}"
    );
}

#[tokio::test]
async fn with_a_drain_period_sigterm_turns_readyz_503_at_once_keeps_serving_then_exits_0() {
    let (_issuer, mut api) = start_with_issuer(&[("API_SHUTDOWN_DRAIN_SECS", "3")]).await;
    let port = api.port();
    let client = reqwest::Client::new();
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    assert!(ready_within_10_s(port).await, "the API never became ready");
    api.signal("TERM");
    let signalled = Instant::now();
    api.wait_for("SIGTERM received; draining");
    let readyz = client.get(url("/readyz")).send().await.expect("readyz");
    assert_eq!(readyz.status(), 503);
    assert_eq!(
        readyz.text().await.expect("body"),
        r#"{"status":"draining","reason":"shutting down"}"#
    );
    // Requests keep being answered through the drain, until the process is gone.
    let mut last_served = None;
    let code = loop {
        if let Some(status) = api.child.try_wait().expect("try_wait") {
            break status.code();
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(20),
            "the API did not exit within 20 s of SIGTERM"
        );
        if let Ok(response) = client.get(url("/api/public")).send().await {
            assert_eq!(response.status(), 200);
            last_served = Some(signalled.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(code, Some(0));
    let last_served = last_served.expect("no request was served during the drain");
    assert!(
        last_served >= Duration::from_millis(2500),
        "the last request was served {last_served:?} after SIGTERM, before the 3 s drain ended"
    );
}

/// The JSON object of the first line containing `needle`.
fn json_line(api: &mut Running, needle: &str) -> serde_json::Value {
    let line = api.wait_for(needle);
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"))
}

/// GET `path` on `port` with `X-Request-Id: <id>`.
async fn with_request_id(port: u16, path: &str, id: &str) -> reqwest::Response {
    let request = reqwest::Client::new().get(format!("http://127.0.0.1:{port}{path}"));
    let request = request.header("X-Request-Id", id);
    request.send().await.expect("request succeeds")
}

#[tokio::test]
async fn json_log_format_writes_one_object_a_line_with_the_request_fields_and_request_id() {
    let (_issuer, mut api) = start_with_issuer(&[("API_LOG_FORMAT", "json")]).await;
    let listening = json_line(&mut api, "listening on http://127.0.0.1:");
    let port = port_of(listening["message"].as_str().expect("a message"));
    let response = with_request_id(port, "/api/public?q=secret-query", "trace-7f3a.42").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("x-request-id").map(|v| v.as_bytes()),
        Some(&b"trace-7f3a.42"[..])
    );
    let line = json_line(&mut api, "trace-7f3a.42");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["message"], "request");
    assert_eq!(line["request_id"], "trace-7f3a.42");
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/api/public");
    assert_eq!(line["status"], 200);
    assert!(line["latency_us"].is_u64(), "{line}");
    let time = line["time"].as_str().expect("a time");
    assert!(time.len() == 27 && time.ends_with('Z'), "{time}");

    let generated = with_request_id(port, "/healthz", "not well formed").await;
    let id = header(&generated, "x-request-id")
        .expect("a generated request id")
        .to_owned();
    assert_ne!(id, "not well formed");
    assert_eq!(json_line(&mut api, &id)["path"], "/healthz");
    let (code, log) = api.terminate();
    assert_eq!(code, Some(0));
    assert!(!log.contains("secret-query"), "{log}");
    for line in log.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {line}"));
    }
}

#[tokio::test]
async fn nonces_without_a_secret_in_memory_mode_warn_at_start_naming_the_secret() {
    let (_issuer, mut api) = start_with_issuer(&[("API_DPOP_NONCE", "1")]).await;
    let line = api.wait_for("DPoP nonces use a random secret");
    assert!(line.contains(" WARN "), "{line}");
    assert!(line.contains("API_DPOP_NONCE_SECRET"), "{line}");
}

#[tokio::test]
async fn a_nonce_secret_with_nonces_off_warns_at_start() {
    let secret = ("API_DPOP_NONCE_SECRET", "q4Yc1Zr8mP0vX7tL2sN9bK6wH3jF5dGa");
    let (_issuer, mut api) = start_with_issuer(&[secret]).await;
    let line = api.wait_for("API_DPOP_NONCE_SECRET is set but DPoP nonces are off");
    assert!(line.contains(" WARN "), "{line}");
    assert!(
        !line.contains("q4Yc1Zr8"),
        "the secret reached the log: {line}"
    );
}
