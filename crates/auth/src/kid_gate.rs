//! The gate in front of key-set fetches that tokens trigger by naming an unknown `kid`.
//!
//! Anyone can send a token with a made-up kid, so these fetches are rationed: at most one per
//! cooldown, whatever the kids. The gate is a pair of atomics, read without any lock, so a
//! flood of bogus kids is answered at once and never queues behind the key store's refresh
//! guard (which is held during I/O, possibly by a slow background refresh).
//!
//! [`KidGate::enter`] gives a request whose kid the usable set lacks one of three answers:
//! - [`Pass::Fetch`]: no unknown-kid fetch in the cooldown, this request claims one. Its
//!   [`Ticket`] ends the in-flight state when dropped, also if the request is cancelled, so
//!   followers can never wait for a fetch nobody runs.
//! - [`Pass::Follow`]: such a fetch is in flight; wait for it and look again. A rotation seen
//!   by many clients at once must not fail all of them but the first.
//! - [`Pass::Wait`]: in the cooldown, nothing in flight: no fetch may happen before
//!   [`KidGate::next_fetch_in`]. The key store decides from the set it has whether the kid is
//!   settled (the set was fetched after the token's key must have been published: 401) or
//!   still pending (503, `Retry-After` = the time until the next fetch may be claimed).
//!
//! Why no per-kid negative cache: the cooldown is global, so one bogus kid or a million cause
//! the same single fetch per cooldown, and every request in between is answered from two
//! atomic loads; remembering kids would add memory an attacker controls and save nothing.
//! What a kid is waiting for is read from its own token instead (see `KeyStore::settle`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// `state` bit: an unknown-kid fetch is running.
const IN_FLIGHT: u64 = 1;
/// `state` keeps the claim time (milliseconds since `epoch`, plus one so that 0 is "never")
/// above the flag bit.
const TIME_SHIFT: u32 = 1;

/// See the module documentation.
#[derive(Debug)]
pub(crate) struct KidGate {
    epoch: Instant,
    cooldown_ms: u64,
    state: AtomicU64,
    /// Notified whenever an unknown-kid fetch ends, however it ends.
    done: watch::Sender<()>,
}

/// What a request with an unknown kid does next (see the module documentation).
#[derive(Debug)]
pub(crate) enum Pass<'a> {
    Fetch(Ticket<'a>),
    Follow(watch::Receiver<()>),
    Wait,
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
            done: watch::channel(()).0,
        }
    }

    fn now_ms(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX >> TIME_SHIFT)
            .saturating_add(1)
    }

    /// When the cooldown of a claim made at `claimed_at` ends (0: never claimed).
    fn cooldown_end(&self, claimed_at: u64) -> u64 {
        if claimed_at == 0 {
            0
        } else {
            claimed_at.saturating_add(self.cooldown_ms)
        }
    }

    /// Decides what a request whose kid the usable set lacks does; never blocks.
    pub fn enter(&self) -> Pass<'_> {
        loop {
            // Subscribed before the state is read, so the end of a fetch seen as in flight
            // here cannot be missed.
            let done = self.done.subscribe();
            let state = self.state.load(Ordering::Acquire);
            let now = self.now_ms();
            if now < self.cooldown_end(state >> TIME_SHIFT) {
                return if state & IN_FLIGHT != 0 {
                    Pass::Follow(done)
                } else {
                    Pass::Wait
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

    /// How long until the next unknown-kid fetch may be claimed: a request arriving then
    /// claims it (or follows it), so this is when the API really looks again.
    pub fn next_fetch_in(&self) -> Duration {
        let state = self.state.load(Ordering::Acquire);
        let end = self.cooldown_end(state >> TIME_SHIFT);
        Duration::from_millis(end.saturating_sub(self.now_ms()))
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
        assert!(matches!(gate.enter(), Pass::Wait));
    }

    #[test]
    fn the_next_fetch_is_due_when_the_cooldown_of_the_last_claim_ends() {
        let gate = KidGate::new(Duration::from_secs(30));
        assert_eq!(gate.next_fetch_in(), Duration::ZERO);
        drop(gate.enter());
        let wait = gate.next_fetch_in();
        assert!(
            wait <= Duration::from_secs(30) && wait > Duration::from_secs(29),
            "{wait:?}"
        );
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
