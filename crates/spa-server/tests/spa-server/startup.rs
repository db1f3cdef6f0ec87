//! Refusing to start without a frontend or without npm's packages; the binary's exit code and
//! its use of the environment.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use spa_server::{Application, FrontendError, SDK_DIST, Settings, StartupError};

use test_support::dev_config;
use test_support::spa_server::fake_frontend;

const BIN: &str = env!("CARGO_BIN_EXE_spa-server");

fn dev_config_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("auth_config.json");
    std::fs::write(
        &path,
        r#"{"domain":"http://localhost:3002","clientId":"local-dev-spa","audience":"https://api.local.test","appOrigin":"http://localhost:3000","apiOrigin":"http://localhost:3001"}"#,
    )
    .expect("write");
    path
}

#[tokio::test]
async fn missing_root_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = Application::build(Settings::new(dev_config(), dir.path().join("nope")))
        .await
        .expect_err("must refuse");
    assert!(
        matches!(err, StartupError::Frontend(FrontendError::RootMissing(_))),
        "{err}"
    );
}

#[tokio::test]
async fn root_without_index_html_is_refused() {
    let frontend = fake_frontend();
    std::fs::remove_file(frontend.root.join("index.html")).expect("rm");
    let err = Application::build(Settings::new(dev_config(), &frontend.root))
        .await
        .expect_err("must refuse");
    assert!(
        matches!(err, StartupError::Frontend(FrontendError::IndexMissing(_))),
        "{err}"
    );
}

#[tokio::test]
async fn missing_sdk_is_refused_with_the_npm_ci_fix() {
    let frontend = fake_frontend();
    std::fs::remove_dir_all(frontend.root.join(SDK_DIST)).expect("rm");
    let err = Application::build(Settings::new(dev_config(), &frontend.root))
        .await
        .expect_err("must refuse");
    assert!(
        matches!(err, StartupError::Frontend(FrontendError::SdkMissing(_))),
        "{err}"
    );
    assert!(
        err.to_string().contains("run `npm ci` in frontend/"),
        "{err}"
    );
}

fn run_binary(root: &std::path::Path, config: &std::path::Path) -> std::process::Output {
    Command::new(BIN)
        .env_clear()
        .env("AUTH_CONFIG", config)
        .env("SPA_ROOT", root)
        .env("SPA_PORT", "0")
        .env("NO_COLOR", "1")
        .output()
        .expect("run spa-server")
}

#[test]
fn binary_exits_2_with_one_line_when_root_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dev_config_file(dir.path());
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
    let config = dev_config_file(frontend.dir.path());
    let out = run_binary(&frontend.root, &config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("run `npm ci` in frontend/"), "{stderr}");
}

#[test]
fn binary_exits_2_on_a_bad_port() {
    let frontend = fake_frontend();
    let config = dev_config_file(frontend.dir.path());
    let out = Command::new(BIN)
        .env_clear()
        .env("AUTH_CONFIG", &config)
        .env("SPA_ROOT", &frontend.root)
        .env("SPA_PORT", "eighty")
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

#[tokio::test]
async fn binary_serves_environment_overrides_in_auth_config() {
    let frontend = fake_frontend();
    let config = dev_config_file(frontend.dir.path());
    let mut child = KillOnDrop(
        Command::new(BIN)
            .env_clear()
            .env("AUTH_CONFIG", &config)
            .env("SPA_ROOT", &frontend.root)
            .env("SPA_PORT", "0")
            .env("AUTH0_CLIENT_ID", "from-env")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let stderr = child.0.stderr.take().expect("piped");
    // The startup log names the bound address; read it on a thread with a deadline, and keep
    // draining stderr so the child never writes into a closed pipe.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("serving the SPA on http://").nth(1) {
                let addr: String = rest.chars().take_while(|c| !c.is_whitespace()).collect();
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
    let body: serde_json::Value = reqwest::get(format!("http://{addr}/auth_config.json"))
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(body["clientId"], "from-env");
}

#[tokio::test]
async fn binary_keeps_serving_after_its_log_pipe_closes() {
    let frontend = fake_frontend();
    let config = dev_config_file(frontend.dir.path());
    let mut child = KillOnDrop(
        Command::new(BIN)
            .env_clear()
            .env("AUTH_CONFIG", &config)
            .env("SPA_ROOT", &frontend.root)
            .env("SPA_PORT", "0")
            .env("NO_COLOR", "1")
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn"),
    );
    let mut lines = BufReader::new(child.0.stderr.take().expect("piped")).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.split("serving the SPA on http://").nth(1).map(|rest| {
                rest.chars()
                    .take_while(|c| !c.is_whitespace())
                    .collect::<String>()
            })
        })
        .expect("startup line");
    drop(lines); // the reading end goes away, as with `spa-server 2>&1 | head`
    for _ in 0..2 {
        let res = reqwest::get(format!("http://{addr}/js/app.js"))
            .await
            .expect("request");
        assert_eq!(res.status(), reqwest::StatusCode::OK);
    }
}
