//! The verified-token cache: RSA verification is most of the cost of a request, and clients
//! send the same access token many times, so a token that verified once is remembered.
//!
//! Rules (each has a test):
//! - Keyed by SHA-256 of the whole token: the cache never holds a token, and a lookup needs
//!   no parsing. A hit skips the signature but still checks `exp`/`nbf` against the clock.
//! - An entry holds the claims parsed at verification (shared, `Arc`), so a hit parses no JSON.
//! - An entry never outlives its token: a hit past `exp` (+ leeway) removes it and fails, and
//!   a sweep every [`SWEEP_EVERY`] inserts drops expired entries nobody asks for.
//! - An entry is tied to the key that verified it (by a fingerprint of the key material) and to
//!   the token's `alg`: a hit counts only while that exact key is in the usable key set and
//!   still allows that algorithm, and rotation purges the entries of kids that left the set
//!   eagerly.
//! - Bounded in bytes, not entries (S3-FIFO eviction by `quick_cache`, a small, well-kept
//!   concurrent cache: sharded locks held for a hash-map operation only, never across I/O; its
//!   weigher counts the memory each entry's parsed claims hold plus a fixed overhead). An entry count alone would let
//!   large tokens (up to the size cap) multiply the memory it holds. A budget of 0 turns it off.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::digest;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

use crate::claims::Validity;
use crate::{Algorithm, Claims};

/// What a hit needs to answer without the signature work.
#[derive(Debug)]
pub(crate) struct Entry {
    /// The claims, parsed once when the token verified.
    pub claims: Arc<Claims>,
    pub validity: Validity,
    /// Index of the configured issuer whose key verified it.
    pub issuer: usize,
    pub kid: Option<String>,
    pub key_fingerprint: [u8; 32],
    /// The token's `alg`: the key must still allow it for a hit to count.
    pub alg: Algorithm,
    /// The generation of the issuer's key set last found to hold that key (allowing `alg`);
    /// 0 until the first hit. While the set is the same, a hit need not look the key up again.
    pub checked_generation: AtomicU64,
}

pub(crate) type TokenHash = [u8; 32];

/// What an entry costs besides its claims and kid: the `Arc` and `Entry` themselves, the
/// 32-byte key and the cache's own slot. An estimate on the generous side, so that the budget
/// is an upper bound of the memory held.
pub(crate) const ENTRY_OVERHEAD: u64 = 256;

/// Typical weight of an entry (the claims of a 300 to 600-byte Auth0 access-token payload
/// take about 650 to 950 bytes, plus the overhead), used
/// only to size the cache's hash tables up front.
const TYPICAL_ENTRY_WEIGHT: u64 = 1024;

#[derive(Debug, Clone, Copy)]
struct ByteWeighter;

impl Weighter<TokenHash, Arc<Entry>> for ByteWeighter {
    fn weight(&self, _: &TokenHash, entry: &Arc<Entry>) -> u64 {
        entry_weight(entry)
    }
}

/// The bytes an entry holds, as charged against the budget.
pub(crate) fn entry_weight(entry: &Entry) -> u64 {
    let kid = entry.kid.as_ref().map_or(0, String::len);
    (entry.claims.heap_bytes() + kid) as u64 + ENTRY_OVERHEAD
}

pub(crate) struct TokenCache {
    entries: Cache<TokenHash, Arc<Entry>, ByteWeighter>,
    inserts: AtomicU64,
}

/// Every this many inserts, entries whose token expired are swept out, so an expired token
/// does not linger in memory until eviction even if it is never presented again.
pub(crate) const SWEEP_EVERY: u64 = 256;

impl std::fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.entries.len())
            .field("bytes", &self.entries.weight())
            .field("budget", &self.entries.capacity())
            .finish()
    }
}

impl TokenCache {
    /// A cache holding at most `budget` bytes; `None` when `budget` is 0 (cache off).
    pub fn new(budget: usize) -> Option<Self> {
        let budget = budget as u64;
        (budget > 0).then(|| Self {
            entries: Cache::with_weighter(
                (budget / TYPICAL_ENTRY_WEIGHT).max(1) as usize,
                budget,
                ByteWeighter,
            ),
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

    /// The bytes held, by the same count as the budget.
    pub fn bytes(&self) -> u64 {
        self.entries.weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry whose claims hold a `sub` of `sub_len` bytes.
    fn entry(sub_len: usize, kid: &str) -> Entry {
        let json = format!(r#"{{"iss":"i","exp":0,"sub":"{}"}}"#, "x".repeat(sub_len));
        let claims = Claims::from_json(json.as_bytes()).expect("claims");
        Entry {
            claims: Arc::new(claims),
            validity: Validity {
                exp: f64::MAX,
                nbf: None,
            },
            issuer: 0,
            kid: Some(kid.to_owned()),
            key_fingerprint: [0; 32],
            alg: Algorithm::RS256,
            checked_generation: AtomicU64::new(0),
        }
    }

    #[test]
    fn an_entry_weighs_its_claims_and_kid_plus_the_overhead() {
        let e = entry(1000, "k1");
        assert_eq!(
            entry_weight(&e),
            (e.claims.heap_bytes() + 2) as u64 + ENTRY_OVERHEAD
        );
        assert!(entry_weight(&e) > 1002 + ENTRY_OVERHEAD);
    }

    #[test]
    fn large_payloads_are_held_within_the_byte_budget() {
        let budget = 256 * 1024;
        let cache = TokenCache::new(budget).expect("on");
        for i in 0..100u32 {
            let mut hash = [0u8; 32];
            hash[..4].copy_from_slice(&i.to_be_bytes());
            cache.insert(hash, entry(12 * 1024, "k1"), 0.0, 0);
        }
        assert!(cache.bytes() <= budget as u64, "{} bytes", cache.bytes());
        assert!(
            cache.len() <= budget / (12 * 1024),
            "{} entries",
            cache.len()
        );
        assert!(cache.len() > 0);
    }

    #[test]
    fn a_zero_budget_turns_the_cache_off() {
        assert!(TokenCache::new(0).is_none());
    }
}
