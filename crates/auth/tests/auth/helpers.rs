//! What the `auth` tests add to `test_support`: the verifier's configuration for a mock issuer,
//! short cache lifetimes, and a verifier that has loaded its keys.
#![allow(dead_code, unused_imports)] // shared with `logging.rs`, which uses a part

use std::sync::Arc;
use std::time::Duration;

use auth::{Algorithm, CacheSettings, Claims, Verifier, VerifierConfig, VerifyError};
pub use test_support::issuer::DISCOVERY_PATH;
pub use test_support::{
    AUDIENCE, Behaviour, MockIssuer, SigningKey, TokenBuilder, b64, eventually, jwks, now,
    requests_received,
};

/// The verifier's configuration for a mock issuer.
pub trait IssuerConfig {
    /// Trusts this issuer for [`AUDIENCE`], with short fetch timeouts and retries.
    fn config(&self) -> VerifierConfig;
}

impl IssuerConfig for MockIssuer {
    fn config(&self) -> VerifierConfig {
        let mut c = VerifierConfig::new(self.issuer_url(), vec![AUDIENCE.to_owned()]);
        c.fetch.total_timeout = Duration::from_secs(2);
        c.cache.retry_initial_backoff = Duration::from_millis(50);
        c.cache.retry_max_backoff = Duration::from_millis(200);
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

/// [`fast_cache`] with key sets living `default_ttl` unless the issuer says otherwise.
pub fn fast_cache_lasting(default_ttl: Duration) -> CacheSettings {
    CacheSettings {
        default_ttl,
        ..fast_cache()
    }
}

/// Builds a verifier and waits (bounded) until its first key set is loaded.
pub async fn ready_verifier(config: VerifierConfig) -> Verifier {
    let v = Verifier::new(config).expect("valid config");
    assert!(
        eventually(Duration::from_secs(5), || async { v.is_ready() }).await,
        "keys never loaded"
    );
    v
}

/// The common setup: an issuer serving one RSA key (`k1`) and a ready verifier with the
/// default settings trusting it.
pub async fn one_rsa_key() -> (MockIssuer, SigningKey, Verifier) {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start(&[&key]).await;
    let v = ready_verifier(issuer.config()).await;
    (issuer, key, v)
}

/// [`one_rsa_key`] with the verifier's configuration changed by `tweak` first.
pub async fn one_rsa_key_with(
    tweak: impl FnOnce(&mut VerifierConfig),
) -> (MockIssuer, SigningKey, Verifier) {
    let key = SigningKey::rsa(0, "k1");
    let (issuer, v) = serving(&[&key], tweak).await;
    (issuer, key, v)
}

/// An issuer serving `keys` and a ready verifier trusting it, its configuration changed by
/// `tweak` first.
pub async fn serving(
    keys: &[&SigningKey],
    tweak: impl FnOnce(&mut VerifierConfig),
) -> (MockIssuer, Verifier) {
    let issuer = MockIssuer::start(keys).await;
    let v = ready_verifier_for(&issuer, tweak).await;
    (issuer, v)
}

/// A ready verifier trusting `issuer`, its configuration changed by `tweak` first.
pub async fn ready_verifier_for(
    issuer: &MockIssuer,
    tweak: impl FnOnce(&mut VerifierConfig),
) -> Verifier {
    let mut config = issuer.config();
    tweak(&mut config);
    ready_verifier(config).await
}

/// An issuer publishing `k1` pinned to RS256 (its JWK's `alg`), and a ready verifier allowing
/// RS256 and PS256, its configuration changed by `tweak` too.
pub async fn rs256_pinned_key_with(
    tweak: impl FnOnce(&mut VerifierConfig),
) -> (MockIssuer, SigningKey, Verifier) {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start(&[]).await;
    issuer.serve_json(serde_json::json!({"keys": [key.jwk_with("alg", "RS256".into())]}));
    let v = ready_verifier_for(&issuer, |c| {
        c.algorithms = vec![Algorithm::RS256, Algorithm::PS256];
        tweak(c);
    })
    .await;
    (issuer, key, v)
}

/// An issuer answering every key-set request with 503, and a verifier trusting it that has
/// not waited for keys.
pub async fn issuer_down_at_start() -> (MockIssuer, Verifier) {
    let issuer = MockIssuer::start(&[]).await;
    issuer.set(Behaviour::Status(503));
    let v = Verifier::new(issuer.config()).unwrap();
    (issuer, v)
}

/// An issuer serving `key` with this `Cache-Control` header.
pub async fn issuer_with_cache_control(key: &SigningKey, cache_control: &str) -> MockIssuer {
    let issuer = MockIssuer::start(&[]).await;
    issuer.set(Behaviour::Keys {
        body: jwks(&[key]),
        cache_control: Some(cache_control.into()),
    });
    issuer
}

/// Whether the issuer gets at least `count` key-set requests within `within`.
pub async fn jwks_requests_reach(issuer: &MockIssuer, count: usize, within: Duration) -> bool {
    eventually(within, || async { issuer.jwks_requests() >= count }).await
}

/// Why `v` refuses `token`; an accepted token fails the test.
pub async fn refusal(v: &Verifier, token: &str) -> VerifyError {
    v.verify(token).await.unwrap_err()
}

/// Why the verifier of [`one_rsa_key`] refuses a token of its key with the usual claims and
/// header member `name` set to `value`.
pub async fn refusal_with_header(name: &str, value: impl Into<serde_json::Value>) -> VerifyError {
    let (issuer, key, v) = one_rsa_key().await;
    let token = TokenBuilder::new(&key, issuer.claims()).header(name, value);
    refusal(&v, &token.sign()).await
}

/// Whether a verification ended in `KeySetUnavailable` (try again later).
pub fn is_unavailable(result: Result<Arc<Claims>, VerifyError>) -> bool {
    matches!(result, Err(VerifyError::KeySetUnavailable { .. }))
}

/// The `Retry-After` of a `KeySetUnavailable` error; any other error fails the test.
pub fn retry_after_of(err: &VerifyError) -> Duration {
    let VerifyError::KeySetUnavailable { retry_after } = err else {
        panic!("expected KeySetUnavailable, got {err:?}");
    };
    *retry_after
}

/// The error building a verifier from this issuer's configuration, changed by `tweak`.
pub fn build_error(issuer: &MockIssuer, tweak: impl FnOnce(&mut VerifierConfig)) -> String {
    let mut config = issuer.config();
    tweak(&mut config);
    Verifier::new(config).unwrap_err().to_string()
}

pub fn algorithms(list: &[Algorithm]) -> Vec<Algorithm> {
    list.to_vec()
}

/// The characters of a compact JWS, and a few that are not, for mutating tokens and proofs.
const JWS_CHARS: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ ";

/// One of [`JWS_CHARS`].
pub fn jws_char() -> impl proptest::strategy::Strategy<Value = char> {
    proptest::sample::select(JWS_CHARS.chars().collect::<Vec<_>>())
}

/// `jws` with the character at `pos` replaced by `c`.
pub fn one_character_changed(jws: &str, pos: proptest::sample::Index, c: char) -> String {
    let i = pos.index(jws.len());
    let mut mutated = jws.to_owned();
    mutated.replace_range(i..=i, &c.to_string());
    mutated
}

/// `jws` with up to `cut` characters from `pos` replaced by `insert`.
pub fn cut_or_insertion(
    jws: &str,
    pos: proptest::sample::Index,
    insert: &str,
    cut: usize,
) -> String {
    let i = pos.index(jws.len());
    let end = (i + cut).min(jws.len());
    let mut mutated = jws.to_owned();
    mutated.replace_range(i..end, insert);
    mutated
}
