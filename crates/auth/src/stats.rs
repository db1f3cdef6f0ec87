//! Lock-free counters behind [`Stats`], the snapshot the API renders on `/metrics`.
//!
//! Relaxed atomics: these are monotonic counters read for monitoring, nothing synchronises on
//! them, so the cheapest ordering is the right one on the hot path. The ones bumped on every
//! verification are kept per thread (`crate::counters`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::counters::PerThreadCounters;
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
        count_with(&self.verifications, label)
    }
}

/// The count for one outcome label in a list of (label, count) pairs (0 if absent).
pub(crate) fn count_with(counts: &[(&'static str, u64)], label: &str) -> u64 {
    counts
        .iter()
        .find(|(l, _)| *l == label)
        .map_or(0, |(_, n)| *n)
}

/// The live counters shared by the verifier and the key store.
#[derive(Debug)]
pub(crate) struct Counters {
    pub fetches: AtomicU64,
    pub fetch_failures: AtomicU64,
    /// Bumped on every verification: the outcomes by [`OUTCOME_LABELS`] index, then the
    /// token-cache hits at [`TOKEN_CACHE_HITS`].
    per_request: PerThreadCounters,
}

/// Where the token-cache hit count sits among the per-request counters.
const TOKEN_CACHE_HITS: usize = OUTCOME_LABELS.len();

impl Default for Counters {
    fn default() -> Self {
        Self {
            fetches: AtomicU64::new(0),
            fetch_failures: AtomicU64::new(0),
            per_request: PerThreadCounters::new(OUTCOME_LABELS.len() + 1),
        }
    }
}

impl Counters {
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn record_outcome(&self, index: usize) {
        if index < OUTCOME_LABELS.len() {
            self.per_request.bump(index);
        }
    }

    pub fn record_token_cache_hit(&self) {
        self.per_request.bump(TOKEN_CACHE_HITS);
    }

    pub fn snapshot(&self) -> Stats {
        let totals = self.per_request.totals();
        Stats {
            jwks_fetches: self.fetches.load(Ordering::Relaxed),
            jwks_fetch_failures: self.fetch_failures.load(Ordering::Relaxed),
            verifications: OUTCOME_LABELS.iter().copied().zip(totals.clone()).collect(),
            key_set_age: None,
            keys_loaded: 0,
            token_cache_hits: totals.get(TOKEN_CACHE_HITS).copied().unwrap_or(0),
            issuers: Vec::new(),
        }
    }
}
