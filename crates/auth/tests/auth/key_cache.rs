//! The key-set cache: rotation, the unknown-kid storm, cooldown, outages, refresh-ahead.

use std::sync::Arc;
use std::time::Duration;

use auth::{Verifier, VerifyError};
use futures_util::future::join_all;

use crate::helpers::*;

#[tokio::test]
async fn rotated_in_key_is_fetched_at_once() {
    let old = SigningKey::rsa(0, "old");
    let new = SigningKey::rsa(1, "new");
    let issuer = MockIssuer::start(&[&old]).await;
    let v = ready_verifier(issuer.config()).await;
    issuer.serve(&[&old, &new]);
    assert!(v.verify(&new.sign(&issuer.claims())).await.is_ok());
    assert_eq!(issuer.jwks_requests(), 2);
}

#[tokio::test]
async fn kid_that_left_the_set_is_rejected_after_a_refetch() {
    let old = SigningKey::rsa(0, "old");
    let new = SigningKey::rsa(1, "new");
    let issuer = MockIssuer::start(&[&old]).await;
    let v = ready_verifier(issuer.config()).await;
    let old_token = old.sign(&issuer.claims());
    assert!(v.verify(&old_token).await.is_ok());
    issuer.serve(&[&new]);
    // The new kid triggers the refetch; the old kid is gone from the new set.
    assert!(v.verify(&new.sign(&issuer.claims())).await.is_ok());
    assert_eq!(refusal(&v, &old_token).await, VerifyError::UnknownKey);
}

#[tokio::test]
async fn unknown_kid_storm_causes_at_most_one_fetch() {
    let (issuer, _key, v) = one_rsa_key().await;
    let before = issuer.jwks_requests();
    let stranger = SigningKey::rsa(1, "stranger");
    // Issued before the fetch the storm causes: that fetch settles every request.
    let token: Arc<str> = stranger.sign(&issued_ago(&issuer, 120)).into();
    let tasks = (0..1000).map(|_| {
        let v = v.clone();
        let token = token.clone();
        tokio::spawn(async move { v.verify(&token).await })
    });
    for result in join_all(tasks).await {
        assert_eq!(result.unwrap().unwrap_err(), VerifyError::UnknownKey);
    }
    assert_eq!(issuer.jwks_requests() - before, 1);
}

#[tokio::test]
async fn unknown_kid_refetch_waits_for_the_cooldown() {
    let (issuer, _key, v) = one_rsa_key().await;
    let before = issuer.jwks_requests();
    for kid in ["x1", "x2", "x3"] {
        let token = SigningKey::rsa(1, kid).sign(&issued_ago(&issuer, 120));
        assert_eq!(refusal(&v, &token).await, VerifyError::UnknownKey);
    }
    assert_eq!(issuer.jwks_requests() - before, 1);
}

#[tokio::test]
async fn unknown_kid_refetches_again_after_the_cooldown() {
    let (issuer, _key, v) =
        one_rsa_key_with(|c| c.cache.unknown_kid_cooldown = Duration::from_millis(200)).await;
    let before = issuer.jwks_requests();
    let token = SigningKey::rsa(1, "x").sign(&issuer.claims());
    let _ = v.verify(&token).await;
    tokio::time::sleep(Duration::from_millis(250)).await;
    let _ = v.verify(&token).await;
    assert_eq!(issuer.jwks_requests() - before, 2);
}

#[tokio::test]
async fn outage_keeps_serving_the_stale_set_within_the_grace() {
    let (issuer, key, v) =
        one_rsa_key_with(|c| c.cache = fast_cache_lasting(Duration::from_millis(200))).await;
    issuer.set(Behaviour::Status(503));
    // Past the 200 ms lifetime, with refreshes failing.
    let failures_before = v.stats().jwks_fetch_failures;
    assert!(
        eventually(Duration::from_secs(5), || async {
            v.stats().jwks_fetch_failures > failures_before + 1
        })
        .await
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert!(v.is_ready());
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
}

#[tokio::test]
async fn outage_past_the_grace_is_key_set_unavailable_with_retry_after() {
    let (issuer, key, v) = one_rsa_key_with(|c| {
        c.cache = fast_cache_lasting(Duration::from_millis(150));
        c.cache.stale_grace = Duration::from_millis(150);
    })
    .await;
    issuer.set(Behaviour::Status(503));
    assert!(eventually(Duration::from_secs(5), || async { !v.is_ready() }).await);
    let err = refusal(&v, &key.sign(&issuer.claims())).await;
    let retry_after = retry_after_of(&err);
    assert!(retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(60));
    assert_eq!(err.code(), auth::ErrorCode::TemporarilyUnavailable);
}

#[tokio::test]
async fn issuer_down_at_start_is_unavailable_then_recovers() {
    let key = SigningKey::rsa(0, "k1");
    let (issuer, v) = issuer_down_at_start().await;
    let token = key.sign(&issuer.claims());
    assert!(is_unavailable(v.verify(&token).await));
    assert!(!v.is_ready());
    issuer.serve(&[&key]);
    // The background task retries with backoff; no request is needed to recover.
    assert!(eventually(Duration::from_secs(5), || async { v.is_ready() }).await);
    assert!(v.verify(&token).await.is_ok());
}

#[tokio::test]
async fn failed_fetch_never_replaces_a_good_set() {
    let (issuer, key, v) = one_rsa_key().await;
    issuer.set(Behaviour::Garbage);
    // An unknown kid forces a refetch, which fails.
    let _ = v
        .verify(&SigningKey::rsa(1, "x").sign(&issuer.claims()))
        .await;
    assert!(v.stats().jwks_fetch_failures >= 1);
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
    assert_eq!(v.stats().keys_loaded, 1);
}

#[tokio::test]
async fn key_set_is_refreshed_in_the_background_without_requests() {
    let (issuer, _key, _v) =
        one_rsa_key_with(|c| c.cache = fast_cache_lasting(Duration::from_millis(400))).await;
    // No request is made; the set is refreshed by itself. (That it happens before expiry, at
    // 60 to 75 % of the lifetime, is a unit test of the key store: timing it here would
    // depend on how busy the machine is.)
    assert!(jwks_requests_reach(&issuer, 3, Duration::from_secs(10)).await);
}

#[tokio::test]
async fn cache_control_max_age_is_clamped_to_the_minimum() {
    let issuer = issuer_with_cache_control(&SigningKey::rsa(0, "k1"), "public, max-age=0").await;
    let mut config = issuer.config();
    config.cache = fast_cache_lasting(Duration::from_secs(600));
    config.cache.min_ttl = Duration::from_millis(200);
    let _v = ready_verifier(config).await;
    // Lifetime = clamp(0) = 200 ms, so refreshes come every ~150 ms, not every 10 min.
    assert!(jwks_requests_reach(&issuer, 3, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn cache_control_max_age_sets_the_lifetime() {
    let issuer = issuer_with_cache_control(&SigningKey::rsa(0, "k1"), "max-age=3600").await;
    let mut config = issuer.config();
    config.cache = fast_cache(); // default 600 ms would refresh several times below
    let _v = ready_verifier(config).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(issuer.jwks_requests(), 1);
}

#[tokio::test]
async fn known_key_verification_never_waits_for_a_slow_refresh() {
    let (issuer, key, v) = one_rsa_key_with(|c| {
        c.cache = fast_cache_lasting(Duration::from_millis(200));
        c.fetch.total_timeout = Duration::from_secs(120);
    })
    .await;
    // The refresh hangs far longer than the verifications can take, even on a busy machine.
    issuer.set(Behaviour::Hang(Duration::from_secs(60)));
    let hits = issuer.jwks_requests();
    // Wait until the background refresh is in flight (the server has the request).
    assert!(jwks_requests_reach(&issuer, hits + 1, Duration::from_secs(5)).await);
    let token = key.sign(&issuer.claims());
    for _ in 0..20 {
        assert!(v.verify(&token).await.is_ok());
    }
    // Had a verification waited for the refresh, the refresh would have ended (answered or
    // failed) by now; it is still in flight.
    let stats = v.stats();
    assert_eq!(stats.jwks_fetch_failures, 0);
    assert_eq!(issuer.jwks_requests(), hits + 1);
    // The refresh began at 60 to 75 % of the 200 ms lifetime; the set is at least that old.
    assert!(
        stats
            .key_set_age
            .is_some_and(|age| age >= Duration::from_millis(120)),
        "the key set was replaced: {:?}",
        stats.key_set_age
    );
}

#[tokio::test]
async fn dropping_the_last_verifier_stops_the_refresh_task() {
    let (issuer, _key, v) =
        one_rsa_key_with(|c| c.cache = fast_cache_lasting(Duration::from_millis(100))).await;
    let clone = v.clone();
    drop(v);
    // A clone keeps it alive.
    let hits = issuer.jwks_requests();
    assert!(jwks_requests_reach(&issuer, hits + 2, Duration::from_secs(3)).await);
    drop(clone);
    // The refresh task (and the HTTP connections it kept) are the only tasks this test's
    // runtime runs (the mock issuer has a runtime of its own): once none is alive, nothing can
    // fetch again.
    let runtime = tokio::runtime::Handle::current().metrics();
    assert!(
        eventually(Duration::from_secs(5), || async {
            runtime.num_alive_tasks() == 0
        })
        .await,
        "{} tasks still alive",
        runtime.num_alive_tasks()
    );
}

#[tokio::test]
async fn unknown_kid_in_the_cooldown_is_answered_without_waiting_for_an_in_flight_refresh() {
    let (issuer, _key, v) = one_rsa_key_with(|c| {
        c.cache = fast_cache_lasting(Duration::from_millis(200));
        c.fetch.total_timeout = Duration::from_secs(30);
    })
    .await;
    // One unknown kid starts the cooldown (30 s).
    let first = SigningKey::rsa(1, "x1").sign(&issued_ago(&issuer, 120));
    assert_eq!(refusal(&v, &first).await, VerifyError::UnknownKey);
    // Then a background refresh hangs in I/O, holding the refresh guard.
    issuer.set(Behaviour::Hang(Duration::from_secs(30)));
    let hits = issuer.jwks_requests();
    assert!(jwks_requests_reach(&issuer, hits + 1, Duration::from_secs(3)).await);
    let second = SigningKey::rsa(1, "x2").sign(&issued_ago(&issuer, 120));
    let answer = tokio::time::timeout(Duration::from_secs(10), v.verify(&second)).await;
    assert_eq!(
        answer
            .expect("answered while the refresh still hangs")
            .unwrap_err(),
        VerifyError::UnknownKey
    );
}

#[tokio::test]
async fn failed_unknown_kid_refetch_is_key_set_unavailable_not_unknown_key() {
    let (issuer, key, v) = one_rsa_key().await;
    issuer.set(Behaviour::Status(503));
    let token = SigningKey::rsa(1, "rotated-in").sign(&issuer.claims());
    let retry_after = retry_after_of(&refusal(&v, &token).await);
    assert!(retry_after >= Duration::from_secs(1) && retry_after <= Duration::from_secs(60));
    // The known key keeps working from the last good set.
    assert!(v.verify(&key.sign(&issuer.claims())).await.is_ok());
}

#[tokio::test]
async fn unknown_kid_in_the_cooldown_after_a_failed_refetch_is_key_set_unavailable() {
    let (issuer, _key, v) = one_rsa_key().await;
    issuer.set(Behaviour::Status(503));
    let first = SigningKey::rsa(1, "x1").sign(&issuer.claims());
    assert!(is_unavailable(v.verify(&first).await));
    // Within the cooldown nothing is fetched for x2, and nothing says x1 or x2 is not the
    // issuer's: the answer stays "retry later".
    let second = SigningKey::rsa(1, "x2").sign(&issuer.claims());
    assert!(is_unavailable(v.verify(&second).await));
}

#[tokio::test]
async fn unknown_kid_is_unknown_key_again_once_a_later_refresh_succeeds() {
    let (issuer, key, v) =
        one_rsa_key_with(|c| c.cache = fast_cache_lasting(Duration::from_millis(200))).await;
    issuer.set(Behaviour::Status(503));
    let first = SigningKey::rsa(1, "x1").sign(&issuer.claims());
    assert!(is_unavailable(v.verify(&first).await));
    issuer.serve(&[&key]);
    // The background task fetches a good set again: once a second request arrives after the
    // switch, the first one (served with keys) has been installed (refreshes are sequential).
    let hits = issuer.jwks_requests();
    assert!(jwks_requests_reach(&issuer, hits + 2, Duration::from_secs(5)).await);
    // Issued before that refresh: the refresh settles it.
    let second = SigningKey::rsa(1, "x2").sign(&issued_ago(&issuer, 120));
    assert_eq!(refusal(&v, &second).await, VerifyError::UnknownKey);
}

#[tokio::test]
async fn requests_following_an_in_flight_unknown_kid_fetch_get_the_rotated_in_key() {
    let old = SigningKey::rsa(0, "old");
    let new = SigningKey::rsa(1, "new");
    let issuer = MockIssuer::start(&[&old]).await;
    let v = ready_verifier(issuer.config()).await;
    let before = issuer.jwks_requests();
    issuer.serve(&[&old, &new]);
    let token: Arc<str> = new.sign(&issuer.claims()).into();
    let tasks = (0..50).map(|_| {
        let v = v.clone();
        let token = token.clone();
        tokio::spawn(async move { v.verify(&token).await })
    });
    for result in join_all(tasks).await {
        assert!(result.unwrap().is_ok());
    }
    assert_eq!(issuer.jwks_requests() - before, 1);
}

#[tokio::test]
async fn issuers_long_max_age_is_clamped_to_max_ttl() {
    let issuer = issuer_with_cache_control(&SigningKey::rsa(0, "k1"), "max-age=86400").await;
    let mut config = issuer.config();
    config.cache = fast_cache_lasting(Duration::from_millis(300));
    config.cache.max_ttl = Duration::from_millis(300);
    let _v = ready_verifier(config).await;
    // Lifetime = min(1 day, 300 ms): refreshes come every ~225 ms, not once a day.
    assert!(jwks_requests_reach(&issuer, 3, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn absurd_stale_grace_is_refused_at_build_instead_of_overflowing_later() {
    let issuer = MockIssuer::start(&[]).await;
    let err = build_error(&issuer, |c| c.cache.stale_grace = Duration::MAX);
    assert!(err.contains("cache.stale_grace"), "{err}");
}

#[tokio::test]
async fn zero_unknown_kid_cooldown_is_refused_at_build() {
    let issuer = MockIssuer::start(&[]).await;
    let err = build_error(&issuer, |c| c.cache.unknown_kid_cooldown = Duration::ZERO);
    assert!(err.contains("cache.unknown_kid_cooldown"), "{err}");
}

/// Claims of a token issued `secs` seconds ago (still valid: it expires five minutes after now).
fn issued_ago(issuer: &MockIssuer, secs: i64) -> serde_json::Value {
    issuer.claims_with("iat", serde_json::json!(now() - secs))
}

#[tokio::test]
async fn retry_after_a_failed_unknown_kid_fetch_lasts_until_the_next_fetch_is_allowed() {
    // Backoff 50 ms, cooldown 30 s: no unknown kid can make the API fetch again for 30 s.
    let (issuer, _key, v) = one_rsa_key().await;
    issuer.set(Behaviour::Status(503));
    let token = SigningKey::rsa(1, "rotated-in").sign(&issuer.claims());
    let retry_after = retry_after_of(&refusal(&v, &token).await);
    assert!(
        retry_after >= Duration::from_secs(29) && retry_after <= Duration::from_secs(30),
        "{retry_after:?}"
    );
}

#[tokio::test]
async fn a_key_published_just_after_a_fetch_is_unavailable_until_the_next_fetch_not_unknown() {
    let (issuer, key, v) = one_rsa_key().await;
    let new = SigningKey::rsa(1, "new");
    // A bogus kid claims the cooldown's fetch (30 s)...
    let bogus = SigningKey::rsa(2, "bogus").sign(&issuer.claims());
    let _ = v.verify(&bogus).await;
    let hits = issuer.jwks_requests();
    // ...then the issuer publishes a key and signs with it.
    issuer.serve(&[&key, &new]);
    let err = refusal(&v, &new.sign(&issuer.claims())).await;
    let VerifyError::KeySetUnavailable { retry_after } = err else {
        panic!("a valid token was called invalid: {err:?}");
    };
    assert!(
        retry_after >= Duration::from_secs(29) && retry_after <= Duration::from_secs(30),
        "{retry_after:?}"
    );
    assert_eq!(issuer.jwks_requests(), hits, "the cooldown was not kept");
}

#[tokio::test]
async fn an_unknown_kid_is_unknown_key_once_a_fetch_after_its_arrival_lacks_it() {
    let (issuer, _key, v) =
        one_rsa_key_with(|c| c.cache.unknown_kid_cooldown = Duration::from_millis(300)).await;
    let first = SigningKey::rsa(1, "x1").sign(&issuer.claims());
    let second = SigningKey::rsa(1, "x2").sign(&issuer.claims());
    // x1 claims the fetch, which starts after x1 arrived: x1 is not the issuer's.
    assert_eq!(refusal(&v, &first).await, VerifyError::UnknownKey);
    // x2, just issued, arrives after that fetch started: it may be newer than the fetch.
    assert!(is_unavailable(v.verify(&second).await));
    // Back after the cooldown, x2 claims a fetch of its own, which settles it.
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(refusal(&v, &second).await, VerifyError::UnknownKey);
}

#[tokio::test]
async fn a_storm_of_fresh_bogus_kids_in_the_cooldown_causes_no_fetch() {
    let (issuer, _key, v) = one_rsa_key().await;
    let _ = v
        .verify(&SigningKey::rsa(1, "x0").sign(&issuer.claims()))
        .await;
    let hits = issuer.jwks_requests();
    for n in 0..200 {
        let token = SigningKey::rsa(1, &format!("x{}", n + 1)).sign(&issuer.claims());
        assert!(is_unavailable(v.verify(&token).await));
    }
    assert_eq!(issuer.jwks_requests(), hits);
}

#[tokio::test]
async fn an_unknown_kid_arriving_during_the_first_fetch_is_settled_by_a_fetch_after_it() {
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start(&[&key]).await;
    // Every key-set answer takes 300 ms, so that a request can arrive while one is in flight.
    wiremock::Mock::given(wiremock::matchers::path("/.well-known/jwks.json"))
        .respond_with(
            wiremock::ResponseTemplate::new(200)
                .set_body_json(jwks(&[&key]))
                .set_delay(Duration::from_millis(300)),
        )
        .with_priority(1)
        .mount(&issuer.server)
        .await;
    let v = Verifier::new(issuer.config()).unwrap();
    let jwks_requests = || issuer.requests_to("/.well-known/jwks.json");
    // The background task's first fetch is in flight (the issuer has the request).
    assert!(
        eventually(Duration::from_secs(5), || async {
            jwks_requests().await >= 1
        })
        .await
    );
    let token = SigningKey::rsa(1, "x").sign(&issuer.claims());
    // That fetch was sent before the token arrived, so it cannot settle it; one after it does.
    assert_eq!(refusal(&v, &token).await, VerifyError::UnknownKey);
    assert_eq!(jwks_requests().await, 2);
}
