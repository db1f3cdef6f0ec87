//! Several trusted issuers: the unverified `iss` selects the issuer, each issuer has its own
//! discovery, key cache and readiness, and no issuer's key verifies another's token.

use std::time::Duration;

use auth::{Verifier, VerifierConfig, VerifyError};
use serde_json::json;

use crate::helpers::*;

/// Two issuers with different keys, and a verifier trusting both (`a` is the main one).
struct Two {
    a: MockIssuer,
    a_key: SigningKey,
    b: MockIssuer,
    b_key: SigningKey,
}

impl Two {
    async fn start() -> Self {
        Self::with_keys(SigningKey::rsa(0, "a-key"), SigningKey::rsa(1, "b-key")).await
    }

    async fn with_keys(a_key: SigningKey, b_key: SigningKey) -> Self {
        let a = MockIssuer::start(&[&a_key]).await;
        let b = MockIssuer::start(&[&b_key]).await;
        Self { a, a_key, b, b_key }
    }

    fn config(&self) -> VerifierConfig {
        let mut c = self.a.config();
        c.issuers = vec![self.b.issuer_url()];
        c
    }

    async fn requests(&self) -> (usize, usize) {
        (total_requests(&self.a).await, total_requests(&self.b).await)
    }
}

async fn total_requests(issuer: &MockIssuer) -> usize {
    requests_received(&issuer.server).await
}

/// Whether `v`'s issuer number `n` gets its keys within 5 s.
async fn issuer_ready(v: &Verifier, n: usize) -> bool {
    eventually(Duration::from_secs(5), || async {
        v.stats().issuers[n].ready
    })
    .await
}

/// `two` with `b` answering 503, and a verifier trusting both that has not waited for keys.
fn verifier_with_b_down(two: &Two) -> Verifier {
    two.b.set(Behaviour::Status(503));
    Verifier::new(two.config()).unwrap()
}

#[tokio::test]
async fn tokens_from_each_listed_issuer_verify() {
    let two = Two::start().await;
    let v = ready_verifier(two.config()).await;
    let from_a = v.verify(&two.a_key.sign(&two.a.claims())).await.unwrap();
    let from_b = v.verify(&two.b_key.sign(&two.b.claims())).await.unwrap();
    assert_eq!(from_a.iss, two.a.issuer().as_str());
    assert_eq!(from_b.iss, two.b.issuer().as_str());
}

#[tokio::test]
async fn token_of_an_unlisted_issuer_is_refused_without_any_request() {
    let two = Two::start().await;
    let c_key = SigningKey::rsa(2, "c-key");
    let c = MockIssuer::start(&[&c_key]).await;
    let v = ready_verifier(two.config()).await;
    let before = two.requests().await;

    let result = v.verify(&c_key.sign(&c.claims())).await;

    assert_eq!(result.unwrap_err(), VerifyError::Issuer);
    assert_eq!(
        total_requests(&c).await,
        0,
        "the unlisted issuer was contacted"
    );
    assert_eq!(
        two.requests().await,
        before,
        "an unknown kid of an unlisted issuer made a listed issuer refetch"
    );
    assert_eq!(v.stats().verifications_with("issuer"), 1);
}

#[tokio::test]
async fn unlisted_issuer_is_refused_before_any_key_exists() {
    // Even with no key set loaded yet, a hostile `iss` must not start a fetch anywhere.
    let two = Two::start().await;
    two.a.set(Behaviour::Status(503));
    two.b.set(Behaviour::Status(503));
    let c = MockIssuer::start(&[]).await;
    let v = Verifier::new(two.config()).unwrap();
    let token = two.a_key.sign(&c.claims());
    assert_eq!(refusal(&v, &token).await, VerifyError::Issuer);
    assert_eq!(total_requests(&c).await, 0);
}

#[tokio::test]
async fn issuer_must_match_a_listed_one_exactly() {
    let two = Two::start().await;
    let v = ready_verifier(two.config()).await;
    let before = two.requests().await;
    let without_slash = two.b.issuer().as_str().trim_end_matches('/').to_owned();
    let upper = two.b.issuer().as_str().replace("http://", "HTTP://");
    for iss in [without_slash, upper] {
        let token = two.b_key.sign(&two.b.claims_with("iss", json!(iss)));
        assert_eq!(refusal(&v, &token).await, VerifyError::Issuer, "{iss}");
    }
    assert_eq!(two.requests().await, before);
}

#[tokio::test]
async fn key_of_one_issuer_with_the_iss_of_another_is_refused() {
    let two = Two::start().await;
    let v = ready_verifier(two.config()).await;
    let token = two.a_key.sign(&two.b.claims());
    assert_eq!(refusal(&v, &token).await, VerifyError::UnknownKey);
    let b_requests = total_requests(&two.b).await;
    // The unknown kid makes B (only B) refetch once; A is never asked.
    assert!(b_requests <= 3, "{b_requests}");
}

#[tokio::test]
async fn same_kid_in_two_issuers_never_crosses_over() {
    // Both issuers publish a key named "shared", with different material: the token claiming
    // B must be checked against B's "shared", so A's signature fails.
    let two = Two::with_keys(SigningKey::rsa(0, "shared"), SigningKey::rsa(1, "shared")).await;
    let v = ready_verifier(two.config()).await;
    let (a, a_key, b, b_key) = (&two.a, &two.a_key, &two.b, &two.b_key);

    assert!(v.verify(&b_key.sign(&b.claims())).await.is_ok());
    assert_eq!(
        refusal(&v, &a_key.sign(&b.claims())).await,
        VerifyError::Signature
    );
    assert_eq!(
        refusal(&v, &b_key.sign(&a.claims())).await,
        VerifyError::Signature
    );
}

#[tokio::test]
async fn cached_token_stays_tied_to_its_issuers_key() {
    // A token verified (and cached) for B stops verifying when B drops its key, even though A
    // still publishes a key with the same kid.
    let two = Two::with_keys(SigningKey::rsa(0, "shared"), SigningKey::rsa(1, "shared")).await;
    let b_next = SigningKey::rsa(2, "b-next");
    let mut config = two.config();
    config.cache = fast_cache();
    let v = ready_verifier(config).await;
    let (a, a_key, b, b_key) = (&two.a, &two.a_key, &two.b, &two.b_key);
    let token = b_key.sign(&b.claims());
    assert!(v.verify(&token).await.is_ok());
    assert_eq!(v.token_cache_len(), 1);

    b.serve(&[&b_next]);
    let dropped = eventually(Duration::from_secs(5), || async {
        v.stats().issuers[1].jwks_fetches >= 3 && v.token_cache_len() == 0
    })
    .await;
    assert!(dropped, "B's rotation did not purge the cached token");
    assert_eq!(refusal(&v, &token).await, VerifyError::UnknownKey);
    assert!(v.verify(&a_key.sign(&a.claims())).await.is_ok());
}

#[tokio::test]
async fn one_issuer_down_leaves_the_other_serving() {
    let two = Two::start().await;
    let v = verifier_with_b_down(&two);
    assert!(issuer_ready(&v, 0).await, "A's keys never loaded");

    assert!(v.verify(&two.a_key.sign(&two.a.claims())).await.is_ok());
    let refused = v.verify(&two.b_key.sign(&two.b.claims())).await;
    assert!(
        matches!(refused, Err(VerifyError::KeySetUnavailable { .. })),
        "{refused:?}"
    );
    assert!(!v.is_ready());
}

#[tokio::test]
async fn ready_only_when_every_issuer_has_keys() {
    let two = Two::start().await;
    let v = verifier_with_b_down(&two);
    assert!(issuer_ready(&v, 0).await);
    assert!(!v.is_ready());

    two.b.serve(&[&two.b_key]);
    assert!(
        eventually(Duration::from_secs(5), || async { v.is_ready() }).await,
        "never ready after B came back"
    );
}

#[tokio::test]
async fn each_issuer_runs_its_own_discovery_and_counts_its_own_fetches() {
    let two = Two::start().await;
    let v = ready_verifier(two.config()).await;
    assert!(issuer_ready(&v, 1).await);
    assert_eq!(two.a.requests_to(DISCOVERY_PATH).await, 1);
    assert_eq!(two.b.requests_to(DISCOVERY_PATH).await, 1);
    let stats = v.stats();
    let names: Vec<_> = stats.issuers.iter().map(|i| i.issuer.as_str()).collect();
    assert_eq!(names, [two.a.issuer().as_str(), two.b.issuer().as_str()]);
    for (issuer, own) in [&two.a, &two.b].iter().zip(&stats.issuers) {
        assert_eq!(
            own.jwks_fetches as usize,
            total_requests(issuer).await,
            "{}",
            own.issuer
        );
        assert_eq!(own.keys_loaded, 1);
        assert!(own.ready);
    }
    assert_eq!(
        stats.jwks_fetches,
        stats.issuers.iter().map(|i| i.jwks_fetches).sum::<u64>()
    );
    assert_eq!(stats.keys_loaded, 2);
}

#[tokio::test]
async fn any_of_several_audiences_is_accepted() {
    let (issuer, key, v) =
        one_rsa_key_with(|c| c.audiences.push("https://second.api.test".into())).await;
    for aud in [json!(AUDIENCE), json!("https://second.api.test")] {
        let token = key.sign(&issuer.claims_with("aud", aud.clone()));
        assert!(v.verify(&token).await.is_ok(), "{aud}");
    }
    let token = key.sign(&issuer.claims_with("aud", json!("https://third.api.test")));
    assert_eq!(refusal(&v, &token).await, VerifyError::Audience);
}

#[tokio::test]
async fn a_listed_issuer_whose_discovery_names_another_issuer_never_loads() {
    // B's discovery document claims to be A: B's keys must not load under either name.
    let two = Two::start().await;
    let impostor = MockIssuer::start_bare(&[&two.b_key]).await;
    wiremock::Mock::given(wiremock::matchers::path(DISCOVERY_PATH))
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_json(json!({
            "issuer": two.a.issuer().as_str(),
            "jwks_uri": impostor.jwks_url().as_str(),
        })))
        .mount(&impostor.server)
        .await;
    let mut config = two.a.config();
    config.issuers = vec![impostor.issuer_url()];
    let v = Verifier::new(config).unwrap();
    assert!(issuer_ready(&v, 0).await);
    assert!(!v.stats().issuers[1].ready);
    assert_eq!(impostor.jwks_requests(), 0);
    let refused = v.verify(&two.b_key.sign(&impostor.claims())).await;
    assert!(
        matches!(refused, Err(VerifyError::KeySetUnavailable { .. })),
        "{refused:?}"
    );
}

/// `two`'s configuration where the main issuer `a` accepts the shared audiences (`AUDIENCE`
/// and `https://shared.test`) and `b` only its own `https://b-api.test`.
fn with_b_audiences(two: &Two) -> VerifierConfig {
    let mut c = two.config();
    c.audiences = vec![AUDIENCE.to_owned(), "https://shared.test".to_owned()];
    c.issuer_audiences = vec![(two.b.issuer_url(), vec!["https://b-api.test".to_owned()])];
    c
}

#[tokio::test]
async fn an_issuer_with_audiences_of_its_own_is_refused_for_the_shared_audiences() {
    let two = Two::start().await;
    let v = ready_verifier(with_b_audiences(&two)).await;
    // Before, every listed issuer shared every audience: b could mint tokens for a's API.
    for aud in [AUDIENCE, "https://shared.test"] {
        let token = two.b_key.sign(&two.b.claims_with("aud", json!(aud)));
        assert_eq!(refusal(&v, &token).await, VerifyError::Audience, "{aud}");
    }
}

#[tokio::test]
async fn an_issuer_with_audiences_of_its_own_is_accepted_for_them_and_only_it() {
    let two = Two::start().await;
    let v = ready_verifier(with_b_audiences(&two)).await;
    let b_token = two
        .b_key
        .sign(&two.b.claims_with("aud", json!("https://b-api.test")));
    assert!(v.verify(&b_token).await.is_ok());
    // The main issuer keeps the shared audiences and has no share of b's.
    let a_token = two
        .a_key
        .sign(&two.a.claims_with("aud", json!("https://shared.test")));
    assert!(v.verify(&a_token).await.is_ok());
    let a_for_b = two
        .a_key
        .sign(&two.a.claims_with("aud", json!("https://b-api.test")));
    assert_eq!(refusal(&v, &a_for_b).await, VerifyError::Audience);
}

#[tokio::test]
async fn audiences_of_an_issuer_that_is_not_listed_are_refused_at_build() {
    let two = Two::start().await;
    let mut config = two.config();
    config.issuers.clear();
    config.issuer_audiences = vec![(two.b.issuer_url(), vec!["https://b-api.test".to_owned()])];
    let err = Verifier::new(config).unwrap_err();
    assert!(err.to_string().contains("issuer_audiences"), "{err}");
}
