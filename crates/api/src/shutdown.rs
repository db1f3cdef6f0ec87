//! Stopping without dropping requests: SIGINT/SIGTERM, the drain period, keep-alive.
//!
//! Behind a load balancer a replica that stops at once loses the requests the balancer still
//! sends it until its health check notices. With `API_SHUTDOWN_DRAIN_SECS=N`, the first signal
//! turns `/readyz` to 503 at once ([`Drain`]) while every request is still served for N seconds,
//! long enough for the balancer's checks to take the replica out; then actix-web's graceful stop
//! closes the listener and lets in-flight requests finish (up to its 30 s shutdown timeout). A
//! second signal during the drain ends it early. With N = 0 the graceful stop starts at once.
//!
//! Idle keep-alive connections are kept for [`KEEP_ALIVE`], longer than the idle timeouts of
//! the proxies in front of an API (nginx 60-75 s, AWS ALB 60 s, HAProxy as configured in
//! `deploy/haproxy/haproxy.cfg`): the proxy closes an idle connection first, so it never sends
//! a request on a connection the API is closing at the same moment.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::signals::Signals;

/// How long an idle keep-alive connection is kept open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(90);

/// Whether the API is draining: `/readyz` answers 503 while requests are still served.
#[derive(Debug, Default)]
pub struct Drain {
    draining: AtomicBool,
}

impl Drain {
    /// Whether a stop was requested and the drain period has begun.
    pub fn is_draining(&self) -> bool {
        self.draining.load(Ordering::Relaxed)
    }

    fn begin(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }
}

/// Resolves when the server should begin its graceful stop: after the first signal and then
/// the drain period (cut short by a second signal).
pub(crate) async fn stop_requested(
    mut signals: Signals,
    drain: std::sync::Arc<Drain>,
    period: Duration,
) {
    let name = signals.next().await;
    if period.is_zero() {
        tracing::info!("{name} received; finishing in-flight requests, then shutting down");
        return;
    }
    drain.begin();
    tracing::info!(
        drain_secs = period.as_secs(),
        "{name} received; draining: /readyz answers 503, requests are served for {} s, then in-flight requests finish",
        period.as_secs()
    );
    tokio::select! {
        () = tokio::time::sleep(period) => {
            tracing::info!("drain period over; finishing in-flight requests, then shutting down");
        }
        second = signals.next() => {
            tracing::info!("{second} received during the drain; finishing in-flight requests, then shutting down");
        }
    }
}
