//! Refusing to start without a frontend or without npm's packages; the binary's exit code and
//! its use of the environment.

use std::{
    io::{BufRead, BufReader},
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use spa_server::{Application, FrontendError, SDK_DIST, Settings, StartupError};

use crate::helpers::dev_config_file;
use test_support::spa_server::{FakeFrontend, fake_frontend};
use test_support::{dev_config, json_body};

const BIN: &str = env!("CARGO_BIN_EXE_spa-server");

/// Why the server refuses to build over `root` with the development configuration: a problem
/// with the frontend folder.
async fn refusal(root: &Path) -> FrontendError {
    let err = Application::build(Settings::new(dev_config(), root)).await;
    match err.expect_err("must refuse") {
        StartupError::Frontend(err) => err,
        other => panic!("not a frontend error: {other}"),
    }
}

#[tokio::test]
async fn missing_root_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = refusal(&dir.path().join("nope")).await;
    assert!(matches!(err, FrontendError::RootMissing(_)), "{err}");
}

#[tokio::test]
async fn root_without_index_html_is_refused() {
    let frontend = fake_frontend();
    std::fs::remove_file(frontend.root.join("index.html")).expect("rm");
    let err = refusal(&frontend.root).await;
    assert!(matches!(err, FrontendError::IndexMissing(_)), "{err}");
}

#[tokio::test]
async fn missing_sdk_is_refused_with_the_npm_ci_fix() {
    let frontend = fake_frontend();
    std::fs::remove_dir_all(frontend.root.join(SDK_DIST)).expect("rm");
    let err = refusal(&frontend.root).await;
    assert!(matches!(err, FrontendError::SdkMissing(_)), "{err}");
    let fix = "run `npm ci` in frontend/";
    assert!(err.to_string().contains(fix), "{err}");
}

/// The binary with nothing but `root`, `config` and `port` in its environment (and no colour).
fn binary(root: &Path, config: &Path, port: &str) -> Command {
    let mut command = Command::new(BIN);
    command
        .env_clear()
        .env("AUTH_CONFIG", config)
        .env("SPA_ROOT", root)
        .env("SPA_PORT", port)
        .env("NO_COLOR", "1");
    command
}

fn run_binary(root: &Path, config: &Path) -> std::process::Output {
    binary(root, config, "0").output().expect("run spa-server")
}

#[test]
fn binary_exits_2_with_one_line_when_root_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dev_config_file(dir.path(), "local-dev-spa");
    let out = run_binary(&dir.path().join("nope"), &config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("error: frontend folder"), "{stderr}");
    assert!(stderr.contains("SPA_ROOT"), "{stderr}");
}

#[test]
fn binary_exits_2_naming_npm_ci_when_sdk_is_missing() {
    let frontend = fake_frontend();
    std::fs::remove_dir_all(frontend.root.join("node_modules")).expect("rm");
    let config = dev_config_file(frontend.dir.path(), "local-dev-spa");
    let out = run_binary(&frontend.root, &config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("run `npm ci` in frontend/"), "{stderr}");
}

#[test]
fn binary_exits_2_on_a_bad_port() {
    let frontend = fake_frontend();
    let config = dev_config_file(frontend.dir.path(), "local-dev-spa");
    let out = binary(&frontend.root, &config, "eighty")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SPA_PORT"));
}

/// Kills the child even when an assertion fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The binary on port 0 over a fake frontend with the development configuration file and `env`
/// on top, its stderr piped.
fn spawn_binary(env: &[(&str, &str)]) -> (KillOnDrop, FakeFrontend) {
    let frontend = fake_frontend();
    let config = dev_config_file(frontend.dir.path(), "local-dev-spa");
    let mut command = binary(&frontend.root, &config, "0");
    let child = command.envs(env.iter().copied()).stderr(Stdio::piped());
    (KillOnDrop(child.spawn().expect("spawn")), frontend)
}

/// The address in a startup log line, if `line` is that line.
fn served_address(line: &str) -> Option<String> {
    let rest = line.split("serving the SPA on http://").nth(1)?;
    Some(rest.chars().take_while(|c| !c.is_whitespace()).collect())
}

#[tokio::test]
async fn binary_serves_environment_overrides_in_auth_config() {
    let (mut child, _frontend) = spawn_binary(&[("AUTH0_CLIENT_ID", "from-env")]);
    let stderr = child.0.stderr.take().expect("piped");
    // The startup log names the bound address; read it on a thread with a deadline, and keep
    // draining stderr so the child never writes into a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = served_address(&line) {
                let _ = tx.send(addr);
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        match rx.try_recv() {
            Ok(addr) => break addr,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await
            }
            Err(e) => panic!("no startup line within 30 s: {e}"),
        }
    };
    let response = reqwest::get(format!("http://{addr}/auth_config.json")).await;
    let body = json_body(response.expect("request")).await;
    assert_eq!(body["clientId"], "from-env");
}

#[tokio::test]
async fn binary_keeps_serving_after_its_log_pipe_closes() {
    let (mut child, _frontend) = spawn_binary(&[]);
    let mut lines = BufReader::new(child.0.stderr.take().expect("piped")).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| served_address(&line))
        .expect("startup line");
    drop(lines); // the reading end goes away, as with `spa-server 2>&1 | head`
    for _ in 0..2 {
        let res = reqwest::get(format!("http://{addr}/js/app.js"))
            .await
            .expect("request");
        assert_eq!(res.status(), reqwest::StatusCode::OK);
    }
}
