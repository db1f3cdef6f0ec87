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

/// Receives from `events` until one matches `wanted` or `limit` passes; returns it and every
/// event before it.
///
/// # Panics
/// When no matching event comes in time (the events seen are in the message).
pub async fn until_received<T: std::fmt::Debug>(
    events: &mut tokio::sync::mpsc::UnboundedReceiver<T>,
    limit: Duration,
    wanted: impl Fn(&T) -> bool,
) -> Vec<T> {
    let mut seen = Vec::new();
    let wait = async {
        while let Some(event) = events.recv().await {
            let done = wanted(&event);
            seen.push(event);
            if done {
                return true;
            }
        }
        false
    };
    let found = tokio::time::timeout(limit, wait).await;
    assert!(
        matches!(found, Ok(true)),
        "the awaited event did not come; events: {seen:?}"
    );
    seen
}
