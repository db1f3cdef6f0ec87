//! The verified-token cache: RSA verification is most of the cost of a request, and clients
//! send the same access token many times, so a token that verified once is remembered.
//!
//! Rules (each has a test):
//! - Keyed by SHA-256 of the whole token: the cache never holds a token, and a lookup needs
//!   no parsing. A hit skips the signature but still checks `exp`/`nbf` against the clock.
//! - An entry never outlives its token: a hit past `exp` (+ leeway) removes it and fails, and
//!   a sweep every [`SWEEP_EVERY`] inserts drops expired entries nobody asks for.
//! - An entry is tied to the key that verified it (by a fingerprint of the key material): a
//!   hit counts only while that exact key is in the usable key set, and rotation purges the
//!   entries of kids that left the set eagerly.
//! - Bounded (S3-FIFO eviction by `quick_cache`, a small, well-kept concurrent cache: sharded
//!   locks held for a hash-map operation only, never across I/O). Capacity 0 turns it off.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::digest;
use quick_cache::sync::Cache;

use crate::claims::Validity;

/// What a hit needs to answer without the signature work.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The decoded, already checked payload.
    pub payload: Arc<[u8]>,
    pub validity: Validity,
    /// Index of the configured issuer whose key verified it.
    pub issuer: usize,
    pub kid: Option<String>,
    pub key_fingerprint: [u8; 32],
}

pub(crate) type TokenHash = [u8; 32];

pub(crate) struct TokenCache {
    entries: Cache<TokenHash, Arc<Entry>>,
    inserts: AtomicU64,
}

/// Every this many inserts, entries whose token expired are swept out, so an expired token
/// does not linger in memory until eviction even if it is never presented again.
pub(crate) const SWEEP_EVERY: u64 = 256;

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.entries.len())
            .field("capacity", &self.entries.capacity())
            .finish()
    }
}

impl TokenCache {
    /// `None` when `capacity` is 0 (cache off).
    pub fn new(capacity: usize) -> Option<Self> {
        (capacity > 0).then(|| Self {
            entries: Cache::new(capacity),
            inserts: AtomicU64::new(0),
        })
    }

    pub fn hash(token: &str) -> TokenHash {
        let d = digest::digest(&digest::SHA256, token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    pub fn get(&self, hash: &TokenHash) -> Option<Arc<Entry>> {
        self.entries.get(hash)
    }

    /// Inserts a verified token; `now` (seconds since the epoch) drives the periodic sweep.
    pub fn insert(&self, hash: TokenHash, entry: Entry, now: f64, leeway: i64) {
        self.entries.insert(hash, Arc::new(entry));
        if self.inserts.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            self.entries
                .retain(|_, e| e.validity.exp + leeway as f64 > now);
        }
    }

    pub fn remove(&self, hash: &TokenHash) {
        self.entries.remove(hash);
    }

    /// Drops every entry verified by a key of `issuer` whose kid left that issuer's key set.
    pub fn purge_kids(&self, issuer: usize, removed: &[String]) {
        let before = self.entries.len();
        self.entries.retain(|_, e| {
            e.issuer != issuer || !e.kid.as_ref().is_some_and(|k| removed.contains(k))
        });
        tracing::debug!(
            dropped = before.saturating_sub(self.entries.len()),
            "verified-token cache purged after key rotation"
        );
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
