//! Real headless Chromium, driven over WebDriver by a chromedriver this module starts.
//!
//! Why it is shaped like this: Debian's `/usr/bin/chromedriver` and `/usr/bin/chromium` are used
//! as installed (nothing downloads a browser). Every [`Browser`] gets its own chromedriver on a
//! free port, in its own process group, and a fresh profile directory, so sessions never share
//! cookies or storage and a panicking test still takes its browser down with it (the group is
//! killed on drop; chromium's helper processes are in that group too). Starting chromedriver
//! costs a few tens of milliseconds next to the second or so Chromium itself needs, which is
//! why one per session is worth that isolation.
//!
//! [`Browser::run`] is how tests use it: it runs a scenario and, when it fails or panics, saves
//! a screenshot, the page's HTML and the browser console log under `target/e2e-artifacts/`.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::NewSessionError;
use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

/// How long any single wait in a scenario may take before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

/// Browsers alive at once in one test binary: Chromium is heavy and CI has two cores.
static SESSIONS: Semaphore = Semaphore::const_new(2);

/// What went wrong in a scenario step.
#[derive(Debug, thiserror::Error)]
pub enum BrowserError {
    /// chromedriver could not be started or did not answer.
    #[error("chromedriver: {0}")]
    Driver(String),
    /// The WebDriver session could not be created.
    #[error("cannot open a Chromium session: {0}")]
    Session(#[from] fantoccini::error::NewSessionError),
    /// A WebDriver command failed.
    #[error("webdriver command failed: {0}")]
    Command(#[from] fantoccini::error::CmdError),
    /// A bounded wait ran out.
    #[error("timed out after {seconds} s waiting for {what}")]
    Timeout {
        /// What was awaited, in words.
        what: String,
        /// The bound.
        seconds: u64,
    },
    /// The page showed something other than what the scenario expects.
    #[error("{0}")]
    Unexpected(String),
}

/// Result of a scenario step.
pub type Step<T = ()> = Result<T, BrowserError>;

/// A chromedriver process, leader of its own process group; killed (group and all) on drop.
#[derive(Debug)]
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Step<Self> {
        let program = std::env::var_os("CHROMEDRIVER").unwrap_or_else(|| "chromedriver".into());
        let mut last_error = String::new();
        // A port found free can be taken before chromedriver binds it; a retry covers that race.
        for _ in 0..3 {
            let port = free_port().map_err(|e| BrowserError::Driver(e.to_string()))?;
            let child = Command::new(&program)
                .arg(format!("--port={port}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .process_group(0)
                .spawn()
                .map_err(|e| {
                    BrowserError::Driver(format!(
                        "cannot run {}: {e} (install it: apt-get update && apt-get install -y chromium chromium-driver)",
                        program.to_string_lossy()
                    ))
                })?;
            let mut driver = Self {
                child,
                url: format!("http://127.0.0.1:{port}"),
            };
            match driver.wait_until_up() {
                Ok(()) => return Ok(driver),
                Err(e) => last_error = e,
            }
        }
        Err(BrowserError::Driver(last_error))
    }

    /// Polls chromedriver's port until it accepts connections (bounded).
    fn wait_until_up(&mut self) -> Result<(), String> {
        let addr = self.url.trim_start_matches("http://").to_owned();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("chromedriver exited at start ({status})"));
            }
            if std::net::TcpStream::connect(&addr).is_ok() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Err("chromedriver did not listen within 10 s".to_owned())
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        crate::kill_group(&mut self.child);
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// One headless Chromium session with its own chromedriver and profile.
#[derive(Debug)]
pub struct Browser {
    client: Client,
    driver: Driver,
    session_id: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a fresh headless Chromium. A session request that never got an
    /// answer (the connection failed or dropped: chromedriver died, or the port it was given
    /// went to another process between our probe and its bind) is retried with a fresh
    /// chromedriver, up to three times; a refusal from chromedriver is not.
    pub async fn open() -> Step<Self> {
        let mut attempt = 1;
        loop {
            match Self::open_once().await {
                Err(BrowserError::Session(
                    NewSessionError::Failed(_)
                    | NewSessionError::FailedC(_)
                    | NewSessionError::Lost(_),
                )) if attempt < 3 => attempt += 1,
                outcome => return outcome,
            }
        }
    }

    async fn open_once() -> Step<Self> {
        let driver = Driver::start()?;
        let profile = tempfile::Builder::new()
            .prefix("e2e-chromium-")
            .tempdir()
            .map_err(|e| BrowserError::Driver(format!("cannot create a profile dir: {e}")))?;
        let mut options = json!({
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                // No crash reporter: its handler daemonizes out of the process group, so killing
                // the group on drop would leave it behind.
                "--disable-crash-reporter",
                "--disable-breakpad",
                "--window-size=1280,900",
                format!("--user-data-dir={}", profile.path().display()),
            ],
        });
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        if Path::new(&binary).exists() {
            options["binary"] = Value::String(binary);
        }
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": options,
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let Value::Object(caps) = caps else {
            return Err(BrowserError::Driver(
                "capabilities are not an object".into(),
            ));
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(caps)
            .connect(&driver.url)
            .await?;
        let session_id = client.session_id().await?.unwrap_or_default();
        Ok(Self {
            client,
            driver,
            session_id,
            _profile: profile,
        })
    }

    /// The page of this session.
    pub fn page(&self) -> Page {
        Page {
            client: self.client.clone(),
        }
    }

    /// Ends the WebDriver session (chromedriver and anything left go with `drop`).
    pub async fn close(self) -> Step {
        Ok(self.client.clone().close().await?)
    }

    /// Runs `scenario` in a fresh browser; on failure or panic saves artifacts named `name`,
    /// then fails the test with the scenario's error.
    pub async fn run<F, Fut>(name: &str, scenario: F)
    where
        F: FnOnce(Page) -> Fut,
        Fut: Future<Output = Step> + Send + 'static,
    {
        let _permit = SESSIONS.acquire().await;
        let browser = match Browser::open().await {
            Ok(b) => b,
            Err(e) => panic!("{name}: {e}"),
        };
        let page = Page {
            client: browser.client.clone(),
        };
        // A task, so that a panicking assertion is caught here and the artifacts still get saved.
        let outcome = tokio::spawn(scenario(page)).await;
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(join) => Some(match join.try_into_panic() {
                Ok(payload) => panic_message(payload.as_ref()),
                Err(e) => format!("scenario task failed: {e}"),
            }),
        };
        if let Some(message) = &failure {
            let saved = browser.save_artifacts(name, message).await;
            let _ = browser.client.clone().close().await;
            panic!("{name}: {message}\n(artifacts: {saved})");
        }
        let _ = browser.client.clone().close().await;
    }

    /// Screenshot, HTML, URL and console log of the current page; returns where they went.
    async fn save_artifacts(&self, name: &str, message: &str) -> String {
        let dir = artifacts_dir();
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return format!("cannot create {}: {e}", dir.display());
        }
        let base = dir.join(name);
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(base.with_extension("png"), png);
        }
        if let Ok(html) = self.client.source().await {
            let _ = std::fs::write(base.with_extension("html"), html);
        }
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        let mut log = format!("failure: {message}\nurl: {url}\n\nbrowser console:\n");
        log.push_str(&self.console_log().await);
        let _ = std::fs::write(base.with_extension("console.log"), log);
        format!("{}.{{png,html,console.log}}", base.display())
    }

    /// The browser console, read through chromedriver's log endpoint (not part of W3C
    /// WebDriver, hence not in fantoccini).
    async fn console_log(&self) -> String {
        let url = format!("{}/session/{}/se/log", self.driver.url, self.session_id);
        let response = match reqwest::Client::new()
            .post(&url)
            .json(&json!({ "type": "browser" }))
            .send()
            .await
        {
            Ok(r) => r,
            Err(e) => return format!("(cannot read the console log: {e})\n"),
        };
        let body: Value = match response.json().await {
            Ok(v) => v,
            Err(e) => return format!("(unreadable console log: {e})\n"),
        };
        let mut out = String::new();
        for entry in body["value"].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "[{}] {}\n",
                entry["level"].as_str().unwrap_or("?"),
                entry["message"].as_str().unwrap_or("")
            ));
        }
        out
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_owned()
    }
}

/// `target/e2e-artifacts/` of this workspace (or of `CARGO_TARGET_DIR`).
pub fn artifacts_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("e2e-artifacts")
}

/// What a scenario drives: the page, with waits that are always bounded.
#[derive(Debug, Clone)]
pub struct Page {
    client: Client,
}

impl Page {
    /// The WebDriver client, for what the helpers below do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Navigates to `url`.
    pub async fn goto(&self, url: &str) -> Step {
        Ok(self.client.goto(url).await?)
    }

    /// Reloads the page.
    pub async fn reload(&self) -> Step {
        Ok(self.client.refresh().await?)
    }

    /// The current URL.
    pub async fn url(&self) -> Step<url::Url> {
        Ok(self.client.current_url().await?)
    }

    /// The page's visible text.
    pub async fn text(&self) -> Step<String> {
        let v = self
            .client
            .execute(
                "return document.body ? document.body.innerText : '';",
                vec![],
            )
            .await?;
        Ok(v.as_str().unwrap_or_default().to_owned())
    }

    /// Waits until the visible text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) -> Step {
        self.poll(&format!("the text {needle:?}"), || async {
            Ok(self.text().await?.contains(needle))
        })
        .await
    }

    /// Waits until the current URL satisfies `pred`.
    pub async fn wait_for_url(&self, what: &str, pred: impl Fn(&url::Url) -> bool) -> Step {
        self.poll(what, || async { Ok(pred(&self.url().await?)) })
            .await
    }

    /// Waits until the current URL starts with `prefix`.
    pub async fn wait_for_url_under(&self, what: &str, prefix: &str) -> Step {
        self.wait_for_url(what, |u| u.as_str().starts_with(prefix))
            .await
    }

    /// Reloads the page and waits until the SPA shows the session again (`Log out`).
    pub async fn reload_logged_in(&self) -> Step {
        self.reload().await?;
        self.button("Log out").await?;
        Ok(())
    }

    /// Logs in from the home page of the SPA at `app` with the issuer's form (at `issuer`) and
    /// waits until the SPA shows the session.
    pub async fn log_in(&self, app: &str, issuer: &str, username: &str, password: &str) -> Step {
        self.goto(&format!("{app}/")).await?;
        self.click_button("Log in").await?;
        self.wait_for_url_under("the issuer's login page", issuer)
            .await?;
        self.submit_login(username, password).await?;
        self.wait_for_url_under("the return to the app", app)
            .await?;
        self.button("Log out").await?;
        Ok(())
    }

    /// Waits until `script` (a function body) returns `true` in the page.
    pub async fn wait_for_script(&self, what: &str, script: &str) -> Step {
        self.poll(what, || async {
            Ok(self.eval(script).await? == Value::Bool(true))
        })
        .await
    }

    /// Waits for a visible, enabled button whose label is `label`, and returns it.
    pub async fn button(&self, label: &str) -> Step<Element> {
        let xpath = format!(
            "//button[normalize-space(.)='{label}'] | //input[@type='submit' and @value='{label}']"
        );
        self.visible(Locator::XPath(&xpath), &format!("the {label:?} button"))
            .await
    }

    /// Whether a visible button labelled `label` is on the page right now.
    pub async fn has_button(&self, label: &str) -> Step<bool> {
        let xpath = format!("//button[normalize-space(.)='{label}']");
        for el in self.client.find_all(Locator::XPath(&xpath)).await? {
            if el.is_displayed().await.unwrap_or(false) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Clicks the button labelled `label` once it is visible and enabled.
    pub async fn click_button(&self, label: &str) -> Step {
        Ok(self.button(label).await?.click().await?)
    }

    /// Waits for a visible, enabled element matching `locator`.
    pub async fn visible(&self, locator: Locator<'_>, what: &str) -> Step<Element> {
        let deadline = Instant::now() + WAIT;
        loop {
            for el in self.client.find_all(locator).await? {
                if el.is_displayed().await.unwrap_or(false)
                    && el.is_enabled().await.unwrap_or(false)
                {
                    return Ok(el);
                }
            }
            if Instant::now() >= deadline {
                return Err(timeout(what));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Opens the external-API page through the nav link, as a person would, and waits for its
    /// `Call API` button.
    pub async fn open_external_api(&self) -> Step {
        let link = self
            .visible(Locator::Css("#nav-external-api"), "the External API link")
            .await?;
        link.click().await?;
        self.button("Call API").await?;
        Ok(())
    }

    /// Fills the issuer's login form and presses `Continue`.
    pub async fn submit_login(&self, username: &str, password: &str) -> Step {
        let user = self
            .visible(Locator::Css("input[name='username']"), "the username field")
            .await?;
        user.clear().await?;
        user.send_keys(username).await?;
        let pass = self
            .visible(Locator::Css("input[name='password']"), "the password field")
            .await?;
        pass.clear().await?;
        pass.send_keys(password).await?;
        self.click_button("Continue").await
    }

    /// Evaluates `script` (a function body) in the page.
    pub async fn eval(&self, script: &str) -> Step<Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    async fn poll<F, Fut>(&self, what: &str, mut ready: F) -> Step
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Step<bool>>,
    {
        let deadline = Instant::now() + WAIT;
        loop {
            // A navigation in flight can make one probe fail; only the deadline decides.
            if let Ok(true) = ready().await {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(timeout(what));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn timeout(what: &str) -> BrowserError {
    BrowserError::Timeout {
        what: what.to_owned(),
        seconds: WAIT.as_secs(),
    }
}
