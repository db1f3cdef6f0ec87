//! Several API instances sharing one DPoP replay store in a real Redis: a proof is accepted
//! once across all of them, the store fails closed (503) and recovers without a restart, one
//! client's key is bounded (429), and nonces issued by one instance are accepted by another.

use std::time::{Duration, Instant};

use api::Settings;
use api::replay_store::ReplayStoreKind;
use serde_json::Value;

use test_support::api::{TestApp, spawn_app_with};
use test_support::header;
use test_support::{MockIssuer, config_for, eventually};

use crate::helpers::DpopClient;
use crate::redis_server::RedisServer;

const SECRET: &[u8] = b"q4Yc1Zr8mP0vX7tL2sN9bK6wH3jF5dGa";

/// Settings for an instance using the Redis at `url`, trusting `issuer`.
fn shared(url: &str, issuer: Option<&MockIssuer>) -> impl FnOnce(&mut Settings) {
    let url = url.to_owned();
    let trusted = issuer.map(|issuer| Settings::for_tests(config_for(issuer.base())));
    move |settings: &mut Settings| {
        if let Some(trusted) = trusted {
            settings.config = trusted.config;
            settings.verifier.issuer = trusted.verifier.issuer;
            settings.verifier.issuers = trusted.verifier.issuers;
        }
        settings.replay_store = ReplayStoreKind::Redis(url);
        settings.replay_store_timeout = Duration::from_millis(250);
    }
}

/// Two ready instances on the Redis at `url`, the second trusting the first's issuer.
async fn two_instances(url: &str) -> (TestApp, TestApp) {
    let a = spawn_app_with(true, shared(url, None)).await;
    let b = spawn_app_with(true, shared(url, Some(&a.issuer))).await;
    a.wait_until_ready().await;
    b.wait_until_ready().await;
    (a, b)
}

/// A Redis, two instances on it and a client bound to a key by the first's issuer.
async fn on_shared_redis() -> (RedisServer, TestApp, TestApp, DpopClient) {
    let redis = RedisServer::start().await;
    let (a, b) = two_instances(&redis.url()).await;
    let client = DpopClient::bound(&a);
    (redis, a, b, client)
}

/// Whether `client`'s DPoP requests to `app` pass again within 10 s.
async fn works_within_10_s(app: &TestApp, client: &DpopClient) -> bool {
    eventually(Duration::from_secs(10), || async {
        client.status_fresh(app).await == 200
    })
    .await
}

#[tokio::test]
async fn the_same_proof_at_two_instances_sharing_redis_is_accepted_once() {
    let (_redis, a, b, client) = on_shared_redis().await;
    let proof = client.fresh_proof();
    assert_eq!(client.status(&a, &proof).await, 200);
    let replayed = client.send(&b, &proof).await;
    assert_eq!(replayed.status(), 401);
    let body: Value = replayed.json().await.expect("JSON body");
    assert_eq!(
        body["error_description"],
        "DPoP proof has already been used"
    );
}

#[tokio::test]
async fn the_same_proof_sent_to_two_instances_at_once_is_accepted_once() {
    let (_redis, a, b, client) = on_shared_redis().await;
    for _ in 0..20 {
        let proof = client.fresh_proof();
        let (at_a, at_b, again_a, again_b) = tokio::join!(
            client.send(&a, &proof),
            client.send(&b, &proof),
            client.send(&a, &proof),
            client.send(&b, &proof),
        );
        let statuses = [at_a, at_b, again_a, again_b].map(|r| r.status().as_u16());
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "statuses {statuses:?}"
        );
        assert_eq!(
            statuses.iter().filter(|s| **s == 401).count(),
            3,
            "statuses {statuses:?}"
        );
    }
}

#[tokio::test]
async fn every_key_the_api_writes_expires_within_the_proof_window() {
    let (redis, a, _b, client) = on_shared_redis().await;
    let proof = client.fresh_proof();
    assert_eq!(client.status(&a, &proof).await, 200);
    let mut connection = redis.connection().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg("api:dpop:*")
        .query_async(&mut connection)
        .await
        .expect("KEYS");
    assert_eq!(keys.len(), 2, "the proof and its key's set: {keys:?}");
    for name in keys {
        let ttl: i64 = redis::cmd("PTTL")
            .arg(&name)
            .query_async(&mut connection)
            .await
            .expect("PTTL");
        // The proof's iat is now: its window ends in 60 s (never more than 60 s + 30 s).
        assert!(ttl > 0 && ttl <= 60_001, "{name} has PTTL {ttl}");
    }
}

#[tokio::test]
async fn with_redis_stopped_dpop_gets_503_with_retry_after_and_bearer_and_readyz_still_work() {
    let (mut redis, a, _b, client) = on_shared_redis().await;
    assert_eq!(client.status_fresh(&a).await, 200);
    redis.stop();
    let started = Instant::now();
    let response = client.send(&a, &client.fresh_proof()).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 503);
    assert_eq!(
        response.headers().get("retry-after").map(|v| v.as_bytes()),
        Some(&b"1"[..])
    );
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(body["error"], "temporarily_unavailable");
    assert!(took < Duration::from_secs(2), "took {took:?}");
    let bearer = a.get_with_token("/api/external", &a.token().sign()).await;
    assert_eq!(bearer.status(), 200);
    assert_eq!(a.get("/readyz").await.status(), 200);
}

#[tokio::test]
async fn a_redis_slower_than_the_timeout_gets_503_within_the_timeout() {
    let (redis, a, _b, client) = on_shared_redis().await;
    // Up but busy: the server answers nothing for 3 s.
    redis.block_for(Duration::from_secs(3)).await;
    let started = Instant::now();
    let response = client.send(&a, &client.fresh_proof()).await;
    let took = started.elapsed();
    assert_eq!(response.status(), 503);
    assert!(
        took < Duration::from_millis(1500),
        "answered after {took:?}, not within the 250 ms timeout"
    );
}

#[tokio::test]
async fn when_redis_comes_back_dpop_works_again_without_a_restart() {
    let (mut redis, a, _b, client) = on_shared_redis().await;
    redis.stop();
    assert_eq!(client.status_fresh(&a).await, 503);
    redis.start_again().await;
    assert!(
        works_within_10_s(&a, &client).await,
        "DPoP did not work again within 10 s of Redis coming back"
    );
}

#[tokio::test]
async fn the_api_starts_with_redis_down_and_uses_it_once_it_is_up() {
    let url = RedisServer::unused_url();
    let a = spawn_app_with(true, shared(&url, None)).await;
    a.wait_until_ready().await;
    let client = DpopClient::bound(&a);
    assert_eq!(client.status_fresh(&a).await, 503);
    let port: u16 = url
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("port");
    let redis = RedisServer::start_on(port).await;
    assert!(
        works_within_10_s(&a, &client).await,
        "DPoP did not work within 10 s of Redis starting"
    );
    drop(redis);
}

#[tokio::test]
async fn a_nonce_issued_by_one_instance_is_accepted_by_another_with_the_same_secret() {
    let redis = RedisServer::start().await;
    let with_nonces = |settings: &mut Settings| {
        settings.dpop.nonce = Some(auth::dpop::NonceSettings {
            secret: SECRET.to_vec(),
            slot: Duration::from_secs(60),
        });
    };
    let url = redis.url();
    let a = spawn_app_with(true, |s: &mut Settings| {
        shared(&url, None)(s);
        with_nonces(s);
    })
    .await;
    let b = spawn_app_with(true, |s: &mut Settings| {
        shared(&url, Some(&a.issuer))(s);
        with_nonces(s);
    })
    .await;
    a.wait_until_ready().await;
    b.wait_until_ready().await;
    let client = DpopClient::bound(&a);
    let first = client.send(&a, &client.fresh_proof()).await;
    assert_eq!(first.status(), 401);
    let nonce = header(&first, "dpop-nonce")
        .expect("instance A hands out a nonce")
        .to_owned();
    let at_b = client.proof().nonce(&nonce).sign();
    assert_eq!(client.status(&b, &at_b).await, 200);
}

#[tokio::test]
async fn a_key_over_its_bound_in_redis_gets_429_with_retry_after_and_other_keys_pass() {
    let redis = RedisServer::start().await;
    let url = redis.url();
    let a = spawn_app_with(true, |s: &mut Settings| {
        shared(&url, None)(s);
        s.dpop.replay_per_key = 2;
    })
    .await;
    a.wait_until_ready().await;
    assert_key_bound(&a).await;
}

#[tokio::test]
async fn a_key_over_its_bound_in_memory_gets_429_with_retry_after_and_other_keys_pass() {
    let a = spawn_app_with(true, |s: &mut Settings| s.dpop.replay_per_key = 2).await;
    a.wait_until_ready().await;
    assert_key_bound(&a).await;
}

/// With a bound of 2: two proofs pass, the third is 429 with a `Retry-After` of about the
/// window (the key's oldest proof was just recorded), another client still passes.
async fn assert_key_bound(app: &TestApp) {
    let client = DpopClient::bound(app);
    for _ in 0..2 {
        let proof = client.fresh_proof();
        assert_eq!(client.status(app, &proof).await, 200);
    }
    let refused = client.send(app, &client.fresh_proof()).await;
    assert_eq!(refused.status(), 429);
    assert!(refused.headers().get("www-authenticate").is_none());
    let retry_after: u64 = header(&refused, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("a Retry-After in seconds");
    assert!(
        (55..=61).contains(&retry_after),
        "Retry-After {retry_after}"
    );
    let body: Value = refused.json().await.expect("JSON body");
    assert_eq!(body["error"], "too_many_requests");
    let other = DpopClient::bound(app);
    assert_eq!(other.status_fresh(app).await, 200);
}

#[tokio::test]
async fn replay_checks_are_counted_by_outcome_in_metrics() {
    let (_redis, a, _b, client) = on_shared_redis().await;
    let proof = client.fresh_proof();
    assert_eq!(client.status(&a, &proof).await, 200);
    assert_eq!(client.status(&a, &proof).await, 401);
    a.assert_metrics_have(&[
        "api_dpop_replay_checks_total{outcome=\"fresh\"} 1",
        "api_dpop_replay_checks_total{outcome=\"replay\"} 1",
        "api_dpop_replay_checks_total{outcome=\"error\"} 0",
        "api_dpop_replay_check_seconds_count 2",
    ])
    .await;
}
