//! The gate in front of key-set fetches that tokens trigger by naming an unknown `kid`.
//!
//! Anyone can send a token with a made-up kid, so these fetches are rationed: at most one per
//! cooldown, whatever the kids. The gate is a pair of atomics, read without any lock, so a
//! flood of bogus kids is answered at once and never queues behind the key store's refresh
//! guard (which is held during I/O, possibly by a slow background refresh).
//!
//! [`KidGate::enter`] gives a request whose kid the usable set lacks one of four answers:
//! - [`Pass::Fetch`]: no unknown-kid fetch in the cooldown, this request claims one. Its
//!   [`Ticket`] ends the in-flight state when dropped, also if the request is cancelled, so
//!   followers can never wait for a fetch nobody runs.
//! - [`Pass::Follow`]: such a fetch is in flight; wait for it and look again. A rotation seen
//!   by many clients at once must not fail all of them but the first.
//! - [`Pass::Unknown`]: in the cooldown and the last fetch succeeded: the kid is not the
//!   issuer's (401).
//! - [`Pass::Unavailable`]: in the cooldown and the last fetch failed, with no key set installed
//!   since: we cannot tell whether the kid is the issuer's, so the client must keep its token
//!   and retry (503 with `Retry-After`), not throw it away.
//!
//! Why no per-kid negative cache: the cooldown is global, so one bogus kid or a million cause
//! the same single fetch per cooldown, and every request in between is answered from two
//! atomic loads; remembering kids would add memory an attacker controls and save nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// `state` bit: an unknown-kid fetch is running.
const IN_FLIGHT: u64 = 1;
/// `state` bit: the last unknown-kid fetch failed and no key set was installed since.
const FAILED: u64 = 2;
/// `state` keeps the claim time (milliseconds since `epoch`, plus one so that 0 is "never")
/// above the two flag bits.
const TIME_SHIFT: u32 = 2;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct KidGate {
    epoch: Instant,
    cooldown_ms: u64,
    state: AtomicU64,
    /// When the failed fetch may be retried (milliseconds since `epoch`), for `Retry-After`.
    retry_at_ms: AtomicU64,
    /// Notified whenever an unknown-kid fetch ends, however it ends.
    done: watch::Sender<()>,
}

/// What a request with an unknown kid does next (see the module documentation).
#[derive(Debug)]
pub(crate) enum Pass<'a> {
    Fetch(Ticket<'a>),
    Follow(watch::Receiver<()>),
    Unknown,
    Unavailable { retry_in: Duration },
}

/// The claim of the one unknown-kid fetch of a cooldown; dropping it ends the fetch.
#[derive(Debug)]
pub(crate) struct Ticket<'a> {
    gate: &'a KidGate,
}

impl Drop for Ticket<'_> {
    fn drop(&mut self) {
        self.gate.state.fetch_and(!IN_FLIGHT, Ordering::AcqRel);
        // `send_modify` wakes every receiver, even with no receiver or no change of value.
        self.gate.done.send_modify(|()| {});
    }
}

impl KidGate {
    pub fn new(cooldown: Duration) -> Self {
        Self {
            epoch: Instant::now(),
            cooldown_ms: u64::try_from(cooldown.as_millis()).unwrap_or(u64::MAX),
            state: AtomicU64::new(0),
            retry_at_ms: AtomicU64::new(0),
            done: watch::channel(()).0,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX >> TIME_SHIFT)
            .saturating_add(1)
    }

    /// Decides what a request whose kid the usable set lacks does; never blocks.
    pub fn enter(&self) -> Pass<'_> {
        loop {
            // Subscribed before the state is read, so the end of a fetch seen as in flight
            // here cannot be missed.
            let done = self.done.subscribe();
            let state = self.state.load(Ordering::Acquire);
            let now = self.now_ms();
            let claimed_at = state >> TIME_SHIFT;
            if claimed_at != 0 && now < claimed_at.saturating_add(self.cooldown_ms) {
                return if state & IN_FLIGHT != 0 {
                    Pass::Follow(done)
                } else {
                    self.verdict_for(state, now)
                };
            }
            let claim = (now << TIME_SHIFT) | IN_FLIGHT;
            if self
                .state
                .compare_exchange(state, claim, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                return Pass::Fetch(Ticket { gate: self });
            }
            // Another request claimed the fetch between our load and now: look again.
        }
    }

    /// The answer once the fetch a request followed has ended (and its kid is still unknown).
    pub fn verdict(&self) -> Pass<'_> {
        self.verdict_for(self.state.load(Ordering::Acquire), self.now_ms())
    }

    fn verdict_for(&self, state: u64, now: u64) -> Pass<'_> {
        if state & FAILED == 0 {
            return Pass::Unknown;
        }
        let retry_at = self.retry_at_ms.load(Ordering::Acquire);
        Pass::Unavailable {
            retry_in: Duration::from_millis(retry_at.saturating_sub(now)),
        }
    }

    /// The claimed fetch failed; it may be retried in `retry_in`. Called under the key store's
    /// refresh guard, so no later successful install can be overtaken by this mark.
    pub fn fetch_failed(&self, retry_in: Duration) {
        let retry_in = u64::try_from(retry_in.as_millis()).unwrap_or(u64::MAX);
        self.retry_at_ms
            .store(self.now_ms().saturating_add(retry_in), Ordering::Release);
        self.state.fetch_or(FAILED, Ordering::AcqRel);
    }

    /// A key set was installed (by any fetch): an earlier failure no longer stands.
    pub fn key_set_installed(&self) {
        self.state.fetch_and(!FAILED, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_unknown_kid_claims_the_fetch_and_the_next_follows_it() {
        let gate = KidGate::new(Duration::from_secs(30));
        let ticket = gate.enter();
        assert!(matches!(ticket, Pass::Fetch(_)));
        assert!(matches!(gate.enter(), Pass::Follow(_)));
        drop(ticket);
        assert!(matches!(gate.enter(), Pass::Unknown));
    }

    #[test]
    fn a_failed_fetch_makes_the_cooldown_answer_unavailable_until_a_set_is_installed() {
        let gate = KidGate::new(Duration::from_secs(30));
        let ticket = gate.enter();
        gate.fetch_failed(Duration::from_secs(5));
        drop(ticket);
        let Pass::Unavailable { retry_in } = gate.enter() else {
            panic!("expected Unavailable");
        };
        assert!(retry_in <= Duration::from_secs(5) && retry_in > Duration::from_secs(4));
        gate.key_set_installed();
        assert!(matches!(gate.enter(), Pass::Unknown));
    }

    #[test]
    fn followers_are_woken_when_the_ticket_is_dropped() {
        let gate = KidGate::new(Duration::from_secs(30));
        let ticket = gate.enter();
        let Pass::Follow(done) = gate.enter() else {
            panic!("expected Follow");
        };
        assert!(!done.has_changed().unwrap_or(true));
        drop(ticket);
        assert!(done.has_changed().unwrap_or(false));
    }

    #[test]
    fn a_new_fetch_may_be_claimed_once_the_cooldown_has_passed() {
        let gate = KidGate::new(Duration::from_millis(1));
        drop(gate.enter());
        let start = Instant::now();
        // Bounded: the cooldown is 1 ms.
        while start.elapsed() < Duration::from_secs(1) {
            if matches!(gate.enter(), Pass::Fetch(_)) {
                return;
            }
        }
        panic!("the cooldown never ended");
    }
}
