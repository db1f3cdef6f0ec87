//! Lock-free counters behind [`Stats`], the snapshot the API renders on `/metrics`.
//!
//! Relaxed atomics: these are monotonic counters read for monitoring, nothing synchronises on
//! them, so the cheapest ordering is the right one on the hot path.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::OUTCOME_LABELS;

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// JWKS/discovery fetch attempts (HTTP requests).
    pub jwks_fetches: u64,
    /// Failed fetches.
    pub jwks_fetch_failures: u64,
    /// Verifications by outcome label (`ok`, `expired`, ...), every label present.
    pub verifications: Vec<(&'static str, u64)>,
    /// Age of the current key set, if one is loaded.
    pub key_set_age: Option<Duration>,
    /// Number of usable keys loaded.
    pub keys_loaded: usize,
    /// Verified-token cache hits.
    pub token_cache_hits: u64,
    /// Each configured issuer's own figures, the main issuer first. The fetch counts and
    /// `keys_loaded` above are their sums, `key_set_age` the oldest.
    pub issuers: Vec<IssuerStats>,
}

/// One issuer's key-set figures.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IssuerStats {
    /// The issuer identifier, exactly as `iss` must read.
    pub issuer: String,
    /// Its discovery and JWKS fetch attempts.
    pub jwks_fetches: u64,
    /// Its failed fetches.
    pub jwks_fetch_failures: u64,
    /// Age of its current key set, if one is loaded.
    pub key_set_age: Option<Duration>,
    /// Its usable keys.
    pub keys_loaded: usize,
    /// Whether it has a usable key set (fresh, or stale within the grace period).
    pub ready: bool,
}

impl Stats {
    /// The count for one outcome label (0 if unknown).
    pub fn verifications_with(&self, label: &str) -> u64 {
        self.verifications
            .iter()
            .find(|(l, _)| *l == label)
            .map_or(0, |(_, n)| *n)
    }
}

/// The live counters shared by the verifier and the key store.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub fetches: AtomicU64,
    pub fetch_failures: AtomicU64,
    pub token_cache_hits: AtomicU64,
    outcomes: [AtomicU64; OUTCOME_LABELS.len()],
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_outcome(&self, index: usize) {
        if let Some(c) = self.outcomes.get(index) {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> Stats {
        Stats {
            jwks_fetches: self.fetches.load(Ordering::Relaxed),
            jwks_fetch_failures: self.fetch_failures.load(Ordering::Relaxed),
            verifications: OUTCOME_LABELS
                .iter()
                .zip(&self.outcomes)
                .map(|(l, c)| (*l, c.load(Ordering::Relaxed)))
                .collect(),
            key_set_age: None,
            keys_loaded: 0,
            token_cache_hits: self.token_cache_hits.load(Ordering::Relaxed),
            issuers: Vec::new(),
        }
    }
}
