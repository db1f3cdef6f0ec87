//! Waiting for an observable event, bounded in time (never sleep-and-hope).

use std::time::{Duration, Instant};

/// How often [`eventually`] checks.
const POLL: Duration = Duration::from_millis(10);

/// Checks `check` until it holds or `limit` passes; says whether it held.
pub async fn eventually<F, Fut>(limit: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if check().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}
