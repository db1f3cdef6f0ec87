//! Test support: signing keys, token minting and a controllable local issuer on loopback.
//!
//! Keys are generated at test start with aws-lc-rs (C, fast even in debug builds); nothing
//! here is a real secret. The issuer is a wiremock server whose JWKS endpoint is driven by a
//! [`JwksControl`]: tests rotate keys, make it fail, hang, or return garbage or huge bodies,
//! and read how many requests it got.
#![allow(dead_code)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use auth::{Algorithm, CacheSettings, Verifier, VerifierConfig};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const AUDIENCE: &str = "https://api.test";
pub const JWKS_PATH: &str = "/.well-known/jwks.json";
pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";

static RSA_KEYS: LazyLock<Vec<Arc<RsaKeyPair>>> = LazyLock::new(|| {
    (0..3)
        .map(|_| Arc::new(RsaKeyPair::generate(KeySize::Rsa2048).expect("rsa keygen")))
        .collect()
});

pub fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signing key with its public JWK.
#[derive(Clone)]
pub struct TestKey {
    pub kid: Option<String>,
    material: Material,
}

#[derive(Clone)]
enum Material {
    Rsa(Arc<RsaKeyPair>),
    Ec(Arc<EcdsaKeyPair>),
    Ed(Arc<Ed25519KeyPair>),
}

impl TestKey {
    /// RSA-2048 key number `n` (0..3) of the shared pool.
    pub fn rsa(n: usize, kid: &str) -> Self {
        Self {
            kid: Some(kid.to_owned()),
            material: Material::Rsa(RSA_KEYS[n].clone()),
        }
    }

    pub fn es256(kid: &str) -> Self {
        let kp =
            EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).expect("ec keygen");
        Self {
            kid: Some(kid.to_owned()),
            material: Material::Ec(Arc::new(kp)),
        }
    }

    pub fn ed25519(kid: &str) -> Self {
        Self {
            kid: Some(kid.to_owned()),
            material: Material::Ed(Arc::new(Ed25519KeyPair::generate().expect("ed keygen"))),
        }
    }

    pub fn without_kid(mut self) -> Self {
        self.kid = None;
        self
    }

    /// The public JWK (no `alg`, `use: sig`).
    pub fn jwk(&self) -> Value {
        let mut jwk = match &self.material {
            Material::Rsa(kp) => {
                let pk = kp.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64(pk.modulus().big_endian_without_leading_zero()),
                    "e": b64(pk.exponent().big_endian_without_leading_zero()),
                })
            }
            Material::Ec(kp) => {
                let point = kp.public_key().as_ref().to_vec();
                json!({"kty":"EC","crv":"P-256","x":b64(&point[1..33]),"y":b64(&point[33..65])})
            }
            Material::Ed(kp) => {
                json!({"kty":"OKP","crv":"Ed25519","x":b64(kp.public_key().as_ref())})
            }
        };
        jwk["use"] = json!("sig");
        if let Some(kid) = &self.kid {
            jwk["kid"] = json!(kid);
        }
        jwk
    }

    pub fn jwk_with(&self, member: &str, value: Value) -> Value {
        let mut jwk = self.jwk();
        jwk[member] = value;
        jwk
    }

    /// The algorithm this key signs with by default.
    pub fn default_alg(&self) -> &'static str {
        match self.material {
            Material::Rsa(_) => "RS256",
            Material::Ec(_) => "ES256",
            Material::Ed(_) => "EdDSA",
        }
    }

    /// Signs `header.claims` with `alg` (which must fit the key) — the header is used as given.
    pub fn sign_raw(&self, header: &Value, claims: &Value) -> String {
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let alg = header["alg"].as_str().unwrap_or("RS256");
        let sig = self.signature(alg, input.as_bytes());
        format!("{input}.{}", b64(sig))
    }

    pub fn signature(&self, alg: &str, msg: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &self.material {
            Material::Rsa(kp) => {
                let enc: &'static dyn signature::RsaEncoding = match alg {
                    "RS384" => &signature::RSA_PKCS1_SHA384,
                    "RS512" => &signature::RSA_PKCS1_SHA512,
                    "PS256" => &signature::RSA_PSS_SHA256,
                    "PS384" => &signature::RSA_PSS_SHA384,
                    "PS512" => &signature::RSA_PSS_SHA512,
                    _ => &signature::RSA_PKCS1_SHA256,
                };
                let mut sig = vec![0; kp.public_modulus_len()];
                kp.sign(enc, &rng, msg, &mut sig).expect("rsa sign");
                sig
            }
            Material::Ec(kp) => kp.sign(&rng, msg).expect("ec sign").as_ref().to_vec(),
            Material::Ed(kp) => kp.sign(msg).as_ref().to_vec(),
        }
    }

    /// A token with the usual header (`alg`, `typ: JWT`, `kid`).
    pub fn sign(&self, claims: &Value) -> String {
        self.sign_raw(&self.header(), claims)
    }

    pub fn header(&self) -> Value {
        let mut h = json!({"alg": self.default_alg(), "typ": "JWT"});
        if let Some(kid) = &self.kid {
            h["kid"] = json!(kid);
        }
        h
    }
}

pub fn jwks(keys: &[&TestKey]) -> Value {
    json!({"keys": keys.iter().map(|k| k.jwk()).collect::<Vec<_>>()})
}

/// What the JWKS endpoint answers next.
#[derive(Clone, Debug)]
pub enum Behaviour {
    Keys {
        body: Value,
        cache_control: Option<String>,
    },
    Status(u16),
    Hang(Duration),
    Garbage,
    Huge(usize),
    WrongContentType,
    Redirect(String),
}

#[derive(Clone)]
pub struct JwksControl {
    behaviour: Arc<Mutex<Behaviour>>,
    hits: Arc<AtomicUsize>,
}

impl JwksControl {
    pub fn set(&self, b: Behaviour) {
        *self.behaviour.lock().unwrap() = b;
    }
    pub fn serve(&self, keys: &[&TestKey]) {
        self.set(Behaviour::Keys {
            body: jwks(keys),
            cache_control: None,
        });
    }
    pub fn serve_json(&self, body: Value) {
        self.set(Behaviour::Keys {
            body,
            cache_control: None,
        });
    }
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

impl Respond for JwksControl {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.hits.fetch_add(1, Ordering::SeqCst);
        match self.behaviour.lock().unwrap().clone() {
            Behaviour::Keys {
                body,
                cache_control,
            } => {
                let mut t = ResponseTemplate::new(200).set_body_json(body);
                if let Some(cc) = cache_control {
                    t = t.insert_header("cache-control", cc.as_str());
                }
                t
            }
            Behaviour::Status(s) => ResponseTemplate::new(s).set_body_json(json!({"error":"down"})),
            Behaviour::Hang(d) => ResponseTemplate::new(200)
                .set_body_json(json!({"keys":[]}))
                .set_delay(d),
            Behaviour::Garbage => {
                ResponseTemplate::new(200).set_body_raw("{\"keys\": [tru", "application/json")
            }
            Behaviour::Huge(n) => {
                let pad = "x".repeat(n);
                ResponseTemplate::new(200).set_body_raw(
                    format!("{{\"keys\":[],\"pad\":\"{pad}\"}}"),
                    "application/json",
                )
            }
            Behaviour::WrongContentType => {
                ResponseTemplate::new(200).set_body_raw("<html>login</html>", "text/html")
            }
            Behaviour::Redirect(to) => {
                ResponseTemplate::new(302).insert_header("location", to.as_str())
            }
        }
    }
}

/// A local issuer: discovery + a controllable JWKS endpoint.
pub struct TestIssuer {
    pub server: MockServer,
    pub jwks: JwksControl,
}

impl TestIssuer {
    /// Starts an issuer that serves `keys` and a discovery document pointing at them.
    pub async fn start(keys: &[&TestKey]) -> Self {
        let issuer = Self::start_bare(keys).await;
        let doc =
            json!({"issuer": issuer.issuer().as_str(), "jwks_uri": issuer.jwks_url().as_str()});
        Mock::given(method("GET"))
            .and(path(DISCOVERY_PATH))
            .respond_with(ResponseTemplate::new(200).set_body_json(doc))
            .mount(&issuer.server)
            .await;
        issuer
    }

    /// Starts an issuer with a JWKS endpoint only (no discovery: 404).
    pub async fn start_bare(keys: &[&TestKey]) -> Self {
        let server = MockServer::start().await;
        let jwks = JwksControl {
            behaviour: Arc::new(Mutex::new(Behaviour::Keys {
                body: self::jwks(keys),
                cache_control: None,
            })),
            hits: Arc::new(AtomicUsize::new(0)),
        };
        Mock::given(method("GET"))
            .and(path(JWKS_PATH))
            .respond_with(jwks.clone())
            .mount(&server)
            .await;
        Self { server, jwks }
    }

    pub fn issuer(&self) -> Url {
        Url::parse(&format!("{}/", self.server.uri())).unwrap()
    }

    pub fn jwks_url(&self) -> Url {
        Url::parse(&format!("{}{JWKS_PATH}", self.server.uri())).unwrap()
    }

    pub async fn requests_to(&self, p: &str) -> usize {
        self.server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|r| r.url.path() == p)
            .count()
    }

    pub fn config(&self) -> VerifierConfig {
        let mut c = VerifierConfig::new(self.issuer(), vec![AUDIENCE.to_owned()]);
        c.fetch.total_timeout = Duration::from_secs(2);
        c.cache.retry_initial_backoff = Duration::from_millis(50);
        c.cache.retry_max_backoff = Duration::from_millis(200);
        c
    }

    /// Standard valid claims for this issuer.
    pub fn claims(&self) -> Value {
        json!({
            "iss": self.issuer().as_str(),
            "sub": "auth0|alice",
            "aud": AUDIENCE,
            "iat": now(),
            "exp": now() + 300,
            "scope": "openid read:messages",
        })
    }

    pub fn claims_with(&self, key: &str, value: Value) -> Value {
        let mut c = self.claims();
        c[key] = value;
        c
    }

    pub fn claims_without(&self, key: &str) -> Value {
        let mut c = self.claims();
        c.as_object_mut().unwrap().remove(key);
        c
    }
}

/// Short lifetimes for refresh tests (clamps lowered so max-age can be tested too).
pub fn fast_cache() -> CacheSettings {
    CacheSettings {
        default_ttl: Duration::from_millis(600),
        min_ttl: Duration::from_millis(100),
        max_ttl: Duration::from_secs(3600),
        stale_grace: Duration::from_secs(3600),
        unknown_kid_cooldown: Duration::from_secs(30),
        retry_initial_backoff: Duration::from_millis(50),
        retry_max_backoff: Duration::from_millis(200),
    }
}

/// Builds a verifier and waits (bounded) until its first key set is loaded.
pub async fn ready_verifier(config: VerifierConfig) -> Verifier {
    let v = Verifier::new(config).expect("valid config");
    assert!(
        eventually(Duration::from_secs(5), || v.is_ready()).await,
        "keys never loaded"
    );
    v
}

/// The common setup: an issuer serving one RSA key (`k1`) and a ready verifier with the
/// default settings trusting it.
pub async fn one_rsa_key() -> (TestIssuer, TestKey, Verifier) {
    let key = TestKey::rsa(0, "k1");
    let issuer = TestIssuer::start(&[&key]).await;
    let v = ready_verifier(issuer.config()).await;
    (issuer, key, v)
}

/// Polls `cond` every 10 ms until it holds or `limit` passes.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    cond()
}

pub fn algorithms(list: &[Algorithm]) -> Vec<Algorithm> {
    list.to_vec()
}
