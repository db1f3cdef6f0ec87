//! A mock OpenID Connect issuer on loopback: discovery and a JWKS endpoint that a test drives.
//!
//! It is a wiremock server (`server`, so a test may mount more routes on it) whose JWKS answer
//! is a [`Behaviour`]: keys (rotated with [`MockIssuer::serve`]), an error status, a slow or
//! garbled or huge body, a redirect. [`MockIssuer::set_up`] takes discovery and JWKS down
//! together (503) and back; [`MockIssuer::set_hold`] keeps JWKS requests waiting until released,
//! so a test can hold a key fetch in flight. Counters say how many requests it got.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::config::AUDIENCE;
use crate::jose::remove_member;
use crate::keys::{KEYS, SigningKey, jwks};
use crate::token::{TokenBuilder, access_claims};

/// Where the JWKS is served.
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
/// Where the discovery document is served.
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

/// How long a held JWKS request waits at most, so a test that forgets to release cannot hang.
const HOLD_LIMIT: Duration = Duration::from_secs(30);

/// What the JWKS endpoint answers next.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// 200 with this JSON body and, if set, this `Cache-Control`.
    Keys {
        /// The body.
        body: Value,
        /// The `Cache-Control` header value.
        cache_control: Option<String>,
    },
    /// This status with a small JSON error body.
    Status(u16),
    /// An empty key set after this delay (a slow issuer).
    Hang(Duration),
    /// Truncated JSON.
    Garbage,
    /// A JSON body of about this many bytes.
    Huge(usize),
    /// An HTML page (a captive portal, a login page).
    WrongContentType,
    /// 302 to this URL.
    Redirect(String),
}

#[derive(Debug)]
struct State {
    behaviour: Mutex<Behaviour>,
    up: AtomicBool,
    held: AtomicBool,
    jwks_requests: AtomicUsize,
    discovery_requests: AtomicUsize,
}

#[derive(Clone, Debug)]
struct Jwks(Arc<State>);

impl Respond for Jwks {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let state = &self.0;
        state.jwks_requests.fetch_add(1, Ordering::SeqCst);
        // wiremock serves each mock server on a thread of its own, so blocking here holds this
        // request (and this issuer) only, never the test's runtime.
        let held_since = Instant::now();
        while state.held.load(Ordering::SeqCst) && held_since.elapsed() < HOLD_LIMIT {
            std::thread::sleep(Duration::from_millis(10));
        }
        if !state.up.load(Ordering::SeqCst) {
            return ResponseTemplate::new(503);
        }
        let behaviour = state.behaviour.lock().expect("behaviour lock").clone();
        match behaviour {
            Behaviour::Keys {
                body,
                cache_control,
            } => {
                let template = ResponseTemplate::new(200).set_body_json(body);
                match cache_control {
                    Some(cc) => template.insert_header("cache-control", cc.as_str()),
                    None => template,
                }
            }
            Behaviour::Status(s) => ResponseTemplate::new(s).set_body_json(json!({"error":"down"})),
            Behaviour::Hang(d) => ResponseTemplate::new(200)
                .set_body_json(json!({"keys": []}))
                .set_delay(d),
            Behaviour::Garbage => {
                ResponseTemplate::new(200).set_body_raw("{\"keys\": [tru", "application/json")
            }
            Behaviour::Huge(n) => ResponseTemplate::new(200).set_body_raw(
                format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(n)),
                "application/json",
            ),
            Behaviour::WrongContentType => {
                ResponseTemplate::new(200).set_body_raw("<html>login</html>", "text/html")
            }
            Behaviour::Redirect(to) => {
                ResponseTemplate::new(302).insert_header("location", to.as_str())
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Discovery {
    state: Arc<State>,
    document: Value,
}

impl Respond for Discovery {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.state.discovery_requests.fetch_add(1, Ordering::SeqCst);
        if self.state.up.load(Ordering::SeqCst) {
            ResponseTemplate::new(200).set_body_json(self.document.clone())
        } else {
            ResponseTemplate::new(503)
        }
    }
}

/// How many requests `server` got, whatever their path: a server a test expects never to be
/// contacted asserts 0.
pub async fn requests_received(server: &MockServer) -> usize {
    server.received_requests().await.unwrap_or_default().len()
}

/// A local issuer: discovery plus a controllable JWKS endpoint. Stops when dropped.
#[derive(Debug)]
pub struct MockIssuer {
    /// The server, for tests that mount routes of their own.
    pub server: MockServer,
    base: String,
    state: Arc<State>,
}

impl MockIssuer {
    /// An issuer that is up, serves `keys` and a discovery document pointing at them.
    pub async fn start(keys: &[&SigningKey]) -> Self {
        let issuer = Self::start_bare(keys).await;
        let document = json!({
            "issuer": issuer.issuer(),
            "jwks_uri": issuer.jwks_url().as_str(),
        });
        Mock::given(method("GET"))
            .and(path(DISCOVERY_PATH))
            .respond_with(Discovery {
                state: issuer.state.clone(),
                document,
            })
            .mount(&issuer.server)
            .await;
        issuer
    }

    /// An issuer with a JWKS endpoint only (discovery answers 404).
    pub async fn start_bare(keys: &[&SigningKey]) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(State {
            behaviour: Mutex::new(Behaviour::Keys {
                body: jwks(keys),
                cache_control: None,
            }),
            up: AtomicBool::new(true),
            held: AtomicBool::new(false),
            jwks_requests: AtomicUsize::new(0),
            discovery_requests: AtomicUsize::new(0),
        });
        Mock::given(method("GET"))
            .and(path(JWKS_PATH))
            .respond_with(Jwks(state.clone()))
            .mount(&server)
            .await;
        Self {
            base: server.uri(),
            server,
            state,
        }
    }

    /// `http://127.0.0.1:<port>`, no trailing slash: the `domain` a configuration names.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The issuer identifier, as `iss` carries it (`base` + `/`).
    pub fn issuer(&self) -> String {
        format!("{}/", self.base)
    }

    /// [`MockIssuer::issuer`] as a URL.
    pub fn issuer_url(&self) -> Url {
        Url::parse(&self.issuer()).expect("a URL")
    }

    /// The JWKS URL.
    pub fn jwks_url(&self) -> Url {
        Url::parse(&format!("{}{JWKS_PATH}", self.base)).expect("a URL")
    }

    /// What the JWKS endpoint answers from now on.
    pub fn set(&self, behaviour: Behaviour) {
        *self.state.behaviour.lock().expect("behaviour lock") = behaviour;
    }

    /// Publishes `keys` from now on (a rotation).
    pub fn serve(&self, keys: &[&SigningKey]) {
        self.serve_json(jwks(keys));
    }

    /// Answers JWKS requests with `body` from now on.
    pub fn serve_json(&self, body: Value) {
        self.set(Behaviour::Keys {
            body,
            cache_control: None,
        });
    }

    /// Down: discovery and JWKS answer 503 until it is up again.
    pub fn set_up(&self, up: bool) {
        self.state.up.store(up, Ordering::SeqCst);
    }

    /// While held, JWKS requests are counted and then wait until released (30 s at most).
    pub fn set_hold(&self, hold: bool) {
        self.state.held.store(hold, Ordering::SeqCst);
    }

    /// How many JWKS requests it got.
    pub fn jwks_requests(&self) -> usize {
        self.state.jwks_requests.load(Ordering::SeqCst)
    }

    /// How many discovery and JWKS requests it got.
    pub fn requests(&self) -> usize {
        self.jwks_requests() + self.state.discovery_requests.load(Ordering::SeqCst)
    }

    /// How many requests to `path` it got (routes a test mounted included).
    pub async fn requests_to(&self, path: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == path)
            .count()
    }

    /// Valid claims from this issuer for [`AUDIENCE`]: alice, `scope` `openid read:messages`,
    /// five minutes to live.
    pub fn claims(&self) -> Value {
        access_claims(&self.issuer(), json!(AUDIENCE), 300, "openid read:messages")
    }

    /// [`MockIssuer::claims`] with claim `name` set to `value`.
    pub fn claims_with(&self, name: &str, value: Value) -> Value {
        let mut claims = self.claims();
        claims[name] = value;
        claims
    }

    /// [`MockIssuer::claims`] without claim `name`.
    pub fn claims_without(&self, name: &str) -> Value {
        let mut claims = self.claims();
        remove_member(&mut claims, name);
        claims
    }

    /// An access token as the SPA gets it (audience plus `/userinfo`, the OIDC scopes only, ten
    /// minutes to live), signed by `KEYS.current`, to be adjusted.
    pub fn token(&self) -> TokenBuilder {
        let audience = json!([AUDIENCE, format!("{}userinfo", self.issuer())]);
        let claims = access_claims(&self.issuer(), audience, 600, "openid profile email");
        TokenBuilder::new(&KEYS.current, claims)
    }
}
