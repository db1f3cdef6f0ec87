//! The whole stack in-process: dev issuer, API and SPA server on free loopback ports.
//!
//! All three listeners are bound first, so that the one configuration naming every origin
//! (`http://localhost:<port>`, as a browser sees them) exists before any server is built — the
//! same `auth_config.json` shape a developer has, with ports the OS chose. The servers are the
//! crates' own `Application::from_listener`, exactly what their binaries run.
//!
//! [`shared`] is one stack per test binary for scenarios that do not disturb each other (each
//! still gets its own browser, so sessions never mix). [`Stack::start`] gives a scenario a stack
//! of its own, for anything that changes issuer state others rely on, such as its signing key.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use app_config::AuthConfig;
use test_support::{config_with_origins, eventually};

/// The API identifier the stack's tokens are for (the dev default).
pub use test_support::AUDIENCE;

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// A loopback port could not be bound.
    #[error("cannot bind a loopback port: {0}")]
    Bind(#[from] std::io::Error),
    /// The configuration built from the ports is invalid.
    #[error(transparent)]
    Config(#[from] app_config::ConfigError),
    /// A server refused to build.
    #[error("{server} did not start: {message}")]
    Server {
        /// Which one.
        server: &'static str,
        /// Its error.
        message: String,
    },
    /// The API never reported that it had the issuer's keys.
    #[error("the API was not ready (GET /readyz) within {0} s")]
    NotReady(u64),
}

/// A running stack: the origins a browser uses, and the issuer core for minting tokens.
#[derive(Debug)]
pub struct Stack {
    /// The shared configuration every server was built from.
    pub config: AuthConfig,
    /// `http://localhost:<port>` of the SPA server.
    pub app: String,
    /// `http://localhost:<port>` of the API.
    pub api: String,
    /// `http://127.0.0.1:<port>` of the API's `/metrics` listener.
    pub api_metrics: String,
    /// The dev issuer's domain the SPA logs in through (`http://localhost:<port>`, or the
    /// second domain for [`Stack::start_with_second_domain`]).
    pub issuer: String,
    /// The dev issuer's core, to mint tokens in-process.
    pub issuer_core: dev_issuer::Issuer,
    handles: Vec<ServerHandle>,
}

impl Stack {
    /// Starts the three servers on the current Tokio runtime and waits until the API has loaded
    /// the issuer's keys.
    pub async fn start() -> Result<Self, StackError> {
        Self::start_inner(false, false).await
    }

    /// Like [`Stack::start`], with the dev issuer also serving `http://127.0.0.1:<port>` (an
    /// entry of `issuers`, as an Auth0 custom domain) and the SPA logging in through that
    /// second domain; the API trusts both.
    pub async fn start_with_second_domain() -> Result<Self, StackError> {
        Self::start_inner(true, false).await
    }

    /// Like [`Stack::start`], with `dpop` on in the shared configuration: the SPA then asks for
    /// DPoP-bound tokens and calls the API with proofs.
    pub async fn start_with_dpop() -> Result<Self, StackError> {
        Self::start_inner(false, true).await
    }

    async fn start_inner(second_domain: bool, dpop: bool) -> Result<Self, StackError> {
        let issuer_listener = TcpListener::bind("127.0.0.1:0")?;
        let api_listener = TcpListener::bind("127.0.0.1:0")?;
        let spa_listener = TcpListener::bind("127.0.0.1:0")?;
        let origin = |l: &TcpListener| -> Result<String, StackError> {
            Ok(format!("http://localhost:{}", l.local_addr()?.port()))
        };
        let (issuer, api, app) = (
            origin(&issuer_listener)?,
            origin(&api_listener)?,
            origin(&spa_listener)?,
        );
        let config = AuthConfig {
            dpop,
            ..config_with_origins(&issuer, &app, &api)
        };
        let (config, spa_config, issuer) = if second_domain {
            let second = format!("http://127.0.0.1:{}", issuer_listener.local_addr()?.port());
            let config = config.with_issuers(std::slice::from_ref(&second))?;
            let spa_config = AuthConfig {
                issuer: app_config::issuer_from_domain(&second)?,
                domain: second.clone(),
                ..config.clone()
            };
            (config, spa_config, second)
        } else {
            (config.clone(), config, issuer)
        };

        let issuer_app = dev_issuer::Application::from_listener(
            dev_issuer::Settings::for_tests(config.clone()),
            issuer_listener,
        )
        .map_err(|e| server_error("dev issuer", e))?;
        let api_app =
            api::Application::from_listener(api::Settings::for_tests(config.clone()), api_listener)
                .map_err(|e| server_error("api", e))?;
        let spa_app = spa_server::Application::from_listener(
            spa_server::Settings::new(spa_config, frontend_dir()),
            spa_listener,
        )
        .map_err(|e| server_error("spa-server", e))?;

        let issuer_core = issuer_app.issuer();
        let api_metrics = format!(
            "http://127.0.0.1:{}",
            api_app
                .metrics_port()
                .ok_or_else(|| server_error("api", "no /metrics listener"))?
        );
        let handles = vec![issuer_app.handle(), api_app.handle(), spa_app.handle()];
        tokio::spawn(issuer_app.run_until_stopped());
        tokio::spawn(api_app.run_until_stopped());
        tokio::spawn(spa_app.run_until_stopped());

        let stack = Self {
            config,
            app,
            api,
            api_metrics,
            issuer,
            issuer_core,
            handles,
        };
        stack.wait_until_ready().await?;
        Ok(stack)
    }

    /// `GET /readyz` on the API answers 200 once it holds the issuer's signing keys.
    async fn wait_until_ready(&self) -> Result<(), StackError> {
        const BOUND: Duration = Duration::from_secs(20);
        let client = http_client();
        let url = format!("{}/readyz", self.api);
        let ready = eventually(BOUND, || async {
            client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == reqwest::StatusCode::OK)
        })
        .await;
        if ready {
            Ok(())
        } else {
            Err(StackError::NotReady(BOUND.as_secs()))
        }
    }

    /// `origin` + `path`, for the SPA.
    pub fn app_url(&self, path: &str) -> String {
        format!("{}{path}", self.app)
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // `stop` sends the command at once; the returned future only reports completion.
        for handle in &self.handles {
            drop(handle.stop(false));
        }
    }
}

fn server_error(server: &'static str, e: impl std::fmt::Display) -> StackError {
    StackError::Server {
        server,
        message: e.to_string(),
    }
}

/// The project's `frontend/` folder (with its `node_modules/`, installed by `cargo make test`).
pub fn frontend_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend")
}

/// A SPA server with live reload on, serving a copy of `frontend/` (so a test may edit it), for
/// the stack's issuer and API. Its files are `frontend` (the copy's root); dropping it stops
/// the server and removes the copy.
#[derive(Debug)]
pub struct LiveReloadSpa {
    /// `http://localhost:<port>` of this SPA server.
    pub app: String,
    /// The root of the frontend copy it serves and watches.
    pub frontend: PathBuf,
    handle: ServerHandle,
    _copy: tempfile::TempDir,
}

impl LiveReloadSpa {
    /// Starts it on a free loopback port, on the current Tokio runtime.
    pub fn start(stack: &Stack) -> Result<Self, StackError> {
        let copy = tempfile::Builder::new().prefix("e2e-frontend-").tempdir()?;
        let frontend = copy.path().join("frontend");
        copy_frontend(&frontend_dir(), &frontend)?;
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let app = format!("http://localhost:{}", listener.local_addr()?.port());
        let config = config_with_origins(&stack.issuer, &app, &stack.api);
        let mut settings = spa_server::Settings::new(config, &frontend);
        settings.dev_reload = true;
        let spa = spa_server::Application::from_listener(settings, listener)
            .map_err(|e| server_error("spa-server (live reload)", e))?;
        let handle = spa.handle();
        tokio::spawn(spa.run_until_stopped());
        Ok(Self {
            app,
            frontend,
            handle,
            _copy: copy,
        })
    }
}

impl Drop for LiveReloadSpa {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

/// Copies the site's own files; `node_modules` becomes a link to the original (it is large,
/// and only read).
fn copy_frontend(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_name() == "node_modules" {
            std::os::unix::fs::symlink(entry.path(), target)?;
        } else if entry.file_type()?.is_dir() {
            copy_frontend(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// An HTTP client for talking to the stack directly (no browser).
pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// The stack shared by every scenario of this test binary, started on first use.
///
/// It runs on a thread and runtime of its own: each `#[tokio::test]` has a runtime that ends
/// with the test, and the shared servers must outlive all of them. They end with the process.
pub fn shared() -> &'static Stack {
    static SHARED: OnceLock<Result<Stack, String>> = OnceLock::new();
    let started = SHARED.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("shared-stack".into())
            .spawn(move || {
                let mut runtime = tokio::runtime::Builder::new_multi_thread();
                match runtime.worker_threads(2).enable_all().build() {
                    Ok(runtime) => runtime.block_on(async move {
                        let stack = Stack::start().await.map_err(|e| e.to_string());
                        let _ = tx.send(stack);
                        std::future::pending::<()>().await;
                    }),
                    Err(e) => {
                        let _ = tx.send(Err(format!("cannot build a runtime: {e}")));
                    }
                }
            });
        match spawned {
            Ok(_) => rx
                .recv()
                .unwrap_or_else(|_| Err("the shared stack thread died".to_owned())),
            Err(e) => Err(format!("cannot spawn the shared stack thread: {e}")),
        }
    });
    match started {
        Ok(stack) => stack,
        Err(e) => panic!("the shared stack did not start: {e}"),
    }
}
