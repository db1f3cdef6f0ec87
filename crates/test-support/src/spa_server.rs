//! The SPA server under test: a fake frontend folder, the server on port 0, and a raw HTTP
//! client for paths that reqwest would normalise away.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use actix_web::dev::ServerHandle;
use app_config::AuthConfig;
use reqwest::RequestBuilder;
use serde_json::Value;

use crate::config::dev_config;
use crate::responses::{json_body, send};
use ::spa_server::{Application, SDK_DIST, SDK_ENTRY, Settings};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Content of files that must never be served; tests assert that no response contains them.
pub const SECRET_OUTSIDE_ROOT: &str = "SECRET-OUTSIDE-ROOT-7f3a";
pub const SECRET_DOTFILE: &str = "SECRET-DOTFILE-91cd";
pub const SECRET_NPM: &str = "SECRET-NPM-MANIFEST-2b8e";
pub const INDEX_MARKER: &str = "<title>fake spa shell</title>";
pub const APP_JS: &str = "export const answer = 42;\n";
pub const SDK_JS: &str = "export class Auth0Client {}\n";

/// `<tmp>/frontend` with index.html, js/app.js, css/app.css, a dotfile, an npm manifest and the
/// SDK entry; `<tmp>/Cargo.toml` and `<tmp>/secret.txt` sit outside the root.
#[derive(Debug)]
pub struct FakeFrontend {
    /// The temporary folder (removed when dropped).
    pub dir: TempDir,
    /// `<tmp>/frontend`, the root the server serves.
    pub root: PathBuf,
}

pub fn fake_frontend() -> FakeFrontend {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("frontend");
    let write = |rel: &str, content: &str| {
        let path = root.join(rel);
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("mkdir");
        std::fs::write(path, content).expect("write");
    };
    write(
        "index.html",
        &format!("<!doctype html><html><head>{INDEX_MARKER}</head><body>Log in</body></html>"),
    );
    write("js/app.js", APP_JS);
    write("css/app.css", "body { color: black; }\n");
    write(".env", SECRET_DOTFILE);
    write(".git/config", SECRET_DOTFILE);
    write("package.json", SECRET_NPM);
    write("package-lock.json", SECRET_NPM);
    write(&format!("{SDK_DIST}/{SDK_ENTRY}"), SDK_JS);
    write("node_modules/@auth0/auth0-spa-js/package.json", SECRET_NPM);
    std::fs::write(dir.path().join("Cargo.toml"), SECRET_OUTSIDE_ROOT).expect("write");
    std::fs::write(dir.path().join("secret.txt"), SECRET_OUTSIDE_ROOT).expect("write");
    FakeFrontend { dir, root }
}

/// The SPA server under test. Stops it when dropped.
#[derive(Debug)]
pub struct TestApp {
    /// Its loopback address.
    pub addr: SocketAddr,
    /// `http://<addr>`.
    pub base: String,
    /// A client that never follows redirects.
    pub client: reqwest::Client,
    handle: ServerHandle,
    /// Keeps the fake frontend alive as long as the server.
    pub frontend: Option<FakeFrontend>,
}

impl Drop for TestApp {
    /// Stops the worker threads, so a long test run does not pile them up. The stop command is
    /// sent at once; awaiting its completion is not needed.
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.get_with(path, |r| r).await
    }

    /// GET `path`, the request first adjusted by `build` (a header).
    pub async fn get_with(
        &self,
        path: &str,
        build: impl FnOnce(RequestBuilder) -> RequestBuilder,
    ) -> reqwest::Response {
        send(build(self.client.get(self.url(path)))).await
    }

    /// The JSON body of `GET path`.
    pub async fn get_json(&self, path: &str) -> Value {
        json_body(self.get(path).await).await
    }

    /// `POST path` without a body.
    pub async fn post(&self, path: &str) -> reqwest::Response {
        send(self.client.post(self.url(path))).await
    }

    /// `HEAD path`.
    pub async fn head(&self, path: &str) -> reqwest::Response {
        send(self.client.head(self.url(path))).await
    }

    /// Sends `path` byte for byte, as a browser never would, and returns (status, whole response).
    pub async fn raw_get(&self, path: &str) -> (u16, String) {
        raw_get(self.addr, path).await
    }
}

/// A server over a fresh fake frontend with the dev configuration.
pub async fn spawn_app() -> TestApp {
    spawn_app_with_config(dev_config()).await
}

pub async fn spawn_app_with_config(config: AuthConfig) -> TestApp {
    let frontend = fake_frontend();
    let mut app = spawn_app_on(Settings::new(config, &frontend.root)).await;
    app.frontend = Some(frontend);
    app
}

pub async fn spawn_app_on(settings: Settings) -> TestApp {
    let app = Application::build(settings).await.expect("server builds");
    let port = app.port();
    let handle = app.handle();
    tokio::spawn(app.run_until_stopped());
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TestApp {
        addr,
        base: format!("http://{addr}"),
        client: crate::client(),
        handle,
        frontend: None,
    }
}

pub async fn raw_get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(10),
        stream.read_to_end(&mut buf),
    )
    .await
    .expect("response within 10 s")
    .expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    (status, text)
}

/// The project's real `frontend/` folder.
pub fn real_frontend_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../frontend")
}
