//! Through `cargo make cluster`'s topology: the SPA calls the API at HAProxy, which spreads the
//! calls over several replicas that share one Redis replay store and one nonce secret.
//!
//! With DPoP and server nonces on, round-robin is itself the test of the shared pieces: the
//! nonce the browser got from one replica is presented to the next, and each proof is recorded
//! in the one store, so a call only succeeds when the replicas behave as one API.
//!
//! Two plain tests hold HAProxy's timeouts and the API's consistent: HAProxy lets go of an idle
//! connection before the API closes it, and notices a draining replica before its drain ends.

use std::sync::Arc;
use std::time::{Duration, Instant};

use e2e::browser::{Browser, BrowserError, Page, Step};
use e2e::cluster::Cluster;

const EXTERNAL_OK: &str = "Your Access Token was successfully validated!";
/// Three, as `cargo make cluster` runs by default. Each call is two requests (the CORS
/// preflight, then the GET), so with two replicas round-robin would send every GET to the same
/// one; with three the GETs go round.
const REPLICAS: usize = 3;
/// Calls before the reload: enough for round-robin to reach every replica.
const CALLS: u64 = 5;

/// Logs in from the home page with the issuer's form and waits until the SPA shows the session.
async fn log_in(page: &Page, cluster: &Cluster) -> Step {
    let (user, password) = ("alice@example.com", "alice-password");
    page.log_in(&cluster.app, &cluster.issuer, user, password)
        .await
}

/// Presses `Call API` and waits until the replicas together have answered `/api/external`
/// with 200 `total` times.
async fn call_until_served(page: &Page, cluster: &Cluster, total: u64) -> Step<Vec<u64>> {
    page.click_button("Call API").await?;
    let deadline = Instant::now() + e2e::browser::WAIT;
    loop {
        let served = cluster.served("/api/external", 200).await;
        if served.iter().sum::<u64>() >= total {
            return Ok(served);
        }
        if Instant::now() >= deadline {
            return Err(BrowserError::Unexpected(format!(
                "call {total}: the replicas answered /api/external with 200 {served:?} times; \
                 HAProxy's and Redis's output: {:?}",
                cluster.logs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn with_dpop_through_haproxy_the_calls_land_on_several_replicas_and_work_after_a_reload() {
    let cluster = Arc::new(
        Cluster::start(REPLICAS)
            .await
            .unwrap_or_else(|e| panic!("the cluster did not start: {e}")),
    );
    let c = cluster.clone();
    Browser::run("cluster", move |page| async move {
        let cluster = &*c;
        log_in(&page, cluster).await?;
        page.open_external_api().await?;
        let mut served = Vec::new();
        for call in 1..=CALLS {
            served = call_until_served(&page, cluster, call).await?;
        }
        page.wait_for_text(EXTERNAL_OK).await?;
        let replicas_used = served.iter().filter(|n| **n > 0).count();
        if replicas_used < REPLICAS {
            return Err(BrowserError::Unexpected(format!(
                "{CALLS} calls through HAProxy were answered by {replicas_used} replica(s): \
                 {served:?}; HAProxy's log:\n{}",
                std::fs::read_to_string(&cluster.logs()[0]).unwrap_or_default()
            )));
        }

        // The proofs were recorded in the one Redis (each key lives as long as its proof's
        // acceptance window, far longer than this scenario).
        let keys = cluster
            .redis_keys()
            .await
            .map_err(|e| BrowserError::Unexpected(format!("Redis DBSIZE: {e}")))?;
        if keys < CALLS {
            return Err(BrowserError::Unexpected(format!(
                "{CALLS} DPoP calls, but Redis holds {keys} keys"
            )));
        }

        page.reload_logged_in().await?;
        page.open_external_api().await?;
        call_until_served(&page, cluster, CALLS + 1).await?;
        page.wait_for_text(EXTERNAL_OK).await
    })
    .await;
}

/// The value of `directive` (e.g. `timeout server`) in the repository's HAProxy configuration,
/// in seconds (`30s`, `2s` or milliseconds without a unit, as HAProxy reads them).
fn haproxy_timeout(directive: &str) -> Duration {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(dev_runner::cluster::HAPROXY_TEMPLATE);
    let text = std::fs::read_to_string(&path).expect("the HAProxy configuration");
    let value = text
        .lines()
        .map(str::trim)
        .find_map(|line| line.strip_prefix(directive)?.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `{directive}` in {}", path.display()));
    match value.strip_suffix('s') {
        Some(secs) if !secs.ends_with('m') => Duration::from_secs(secs.parse().expect("seconds")),
        _ => Duration::from_millis(value.trim_end_matches("ms").parse().expect("milliseconds")),
    }
}

#[test]
fn haproxy_lets_go_of_an_idle_replica_connection_before_the_api_closes_it() {
    // HAProxy keeps an idle connection to a replica at most `timeout server`; were the API to
    // close first, HAProxy could send a request on a connection being closed, and must not
    // retry it (its DPoP proof may have been used).
    let haproxy = haproxy_timeout("timeout server");
    assert_eq!(haproxy, Duration::from_secs(30));
    assert!(
        haproxy < api::shutdown::KEEP_ALIVE,
        "timeout server {haproxy:?} must be shorter than the API's keep-alive {:?}",
        api::shutdown::KEEP_ALIVE
    );
}

#[test]
fn a_draining_replica_leaves_haproxys_rotation_before_its_drain_ends() {
    // `inter 1s fall 2`: two failed checks a second apart, each answered within `timeout check`.
    let detection = 2 * (Duration::from_secs(1) + haproxy_timeout("timeout check"));
    assert!(
        detection < Duration::from_secs(dev_runner::cluster::DEFAULT_DRAIN_SECS),
        "HAProxy may take {detection:?} to notice a draining replica"
    );
}
