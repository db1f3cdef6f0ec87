//! The verified-token cache: RSA verification is most of the cost of a request, and clients
//! send the same access token many times, so a token that verified once is remembered.
//!
//! Rules (each has a test):
//! - Keyed by a 128-bit keyed hash of the whole token under a secret drawn at start
//!   ([`TokenKeyer`]): the cache never holds a token, and a lookup needs no parsing. A hit skips
//!   the signature but still checks `exp`/`nbf` against the clock.
//! - An entry holds the claims parsed at verification (shared, `Arc`), so a hit parses no JSON.
//! - An entry never outlives its token: a hit past `exp` (+ leeway) removes it and fails, and
//!   a background task ([`TokenCache::spawn_sweeper`]) drops expired entries nobody asks for
//!   on a timer. Not on the request path: a sweep visits every entry, about 1 ms for a full
//!   cache of 16,000 entries, which a request that triggered it would wait for (and the 31
//!   other connections of its worker behind it).
//! - An entry is tied to the key that verified it (by a fingerprint of the key material) and to
//!   the token's `alg`: a hit counts only while that exact key is in the usable key set and
//!   still allows that algorithm, and rotation purges the entries of kids that left the set
//!   eagerly.
//! - Bounded in bytes, not entries (S3-FIFO eviction by `quick_cache`, a small, well-kept
//!   concurrent cache: sharded locks held for a hash-map operation only, never across I/O; its
//!   weigher counts the memory each entry's parsed claims hold plus a fixed overhead). An entry
//!   count alone would let large tokens (up to the size cap) multiply the memory it holds. A
//!   budget of 0 turns it off.
//! - In front of it, each thread keeps the entries it hit lately ([`LOCAL_SLOTS`] of them, by
//!   key), and for a token it hits again, its own copy of the claims. Why: with one token sent
//!   by many clients, every hit in the shared cache wrote the same cache lines from every core
//!   (the shard's lock, the entry's reference count, and the claims' reference count, which a
//!   request writes four times), and each write waited for the line to come over from the other
//!   core. A hit in the thread's own slots writes nothing shared. It serves under the same
//!   checks as the shared cache (the caller's: key still trusted, `exp`/`nbf`), so it never
//!   serves an entry the shared cache would refuse; what it keeps beyond the byte budget is at
//!   most [`LOCAL_SLOTS`] entries per thread.

use std::cell::RefCell;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Weak};
use std::time::Duration;

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::rand::{SecureRandom as _, SystemRandom};
use quick_cache::Weighter;
use quick_cache::sync::Cache;
use thread_local::ThreadLocal;
use tokio::sync::watch;

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

pub(crate) type TokenHash = [u8; 16];

/// Computes the cache key of a token: GHASH, the polynomial hash of AES-GCM, under a secret
/// hash key drawn when the cache is made.
///
/// Why not SHA-256: a hit costs little else, and GHASH (carry-less multiply instructions) hashes a
/// token about four times faster (`cargo bench -p auth --features micro-bench -- token_key`;
/// docs/performance.md). Why this is as safe for the job: the key only has to make it infeasible
/// for a client to send a token that collides with a different, verified token in the cache (it
/// would be answered with that token's claims). GHASH is a universal hash: for two different inputs
/// of at most `L` 16-byte blocks, at most `L + 1` of the 2^128 hash keys make them collide, so with
/// the hash key secret and uniform a forged token collides with one of `n` cached tokens with
/// probability at most `n (L + 1) / 2^128` (below 2^-100 for 16,000 tokens of 8 KiB). The hash key
/// is drawn from the operating system's generator, lives only in this process, and no key is ever
/// logged, returned or sent; a client learns only whether its token was accepted.
///
/// How: aws-lc-rs offers GHASH only inside AES-GCM, so the key is the GCM tag of an empty
/// message with the token as associated data, under a random AES-256 key and a fixed nonce.
/// The fixed nonce is deliberate and harmless here: it makes the tag `GHASH(token)` XOR a
/// constant (deterministic, as a cache key must be); nonce reuse weakens GCM only when tags or
/// ciphertexts are seen by an attacker, and nothing is ever encrypted with this key.
pub(crate) struct TokenKeyer {
    key: LessSafeKey,
}

impl TokenKeyer {
    /// A keyer with a fresh random secret; `None` if the system generator fails.
    fn new() -> Option<Self> {
        let mut secret = [0u8; 32];
        SystemRandom::new().fill(&mut secret).ok()?;
        let key = UnboundKey::new(&AES_256_GCM, &secret).ok()?;
        Some(Self {
            key: LessSafeKey::new(key),
        })
    }

    /// The cache key of `token`; `None` only if the token were too long for GCM (2^61 bytes).
    fn key_of(&self, token: &str) -> Option<TokenHash> {
        let nonce = Nonce::assume_unique_for_key([0; 12]);
        let tag = self
            .key
            .seal_in_place_separate_tag(nonce, Aad::from(token.as_bytes()), &mut [])
            .ok()?;
        tag.as_ref().try_into().ok()
    }
}

/// What an entry costs besides its claims and kid: the `Arc` and `Entry` themselves, the
/// 16-byte key and the cache's own slot. An estimate on the generous side, so that the budget
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

/// How many entries each thread keeps in front of the shared cache: a slot per value of the
/// key's first 6 bits, so a lookup is one comparison.
pub(crate) const LOCAL_SLOTS: usize = 64;

/// A thread's own slots in front of the shared cache.
#[derive(Default)]
struct Local {
    slots: Vec<Option<LocalEntry>>,
}

struct LocalEntry {
    hash: TokenHash,
    entry: Arc<Entry>,
    /// The shared claims at first, replaced by this thread's own copy on its second hit (a
    /// token seen once per slot visit is not worth the copy).
    claims: Arc<Claims>,
    own: bool,
}

fn slot_of(hash: &TokenHash) -> usize {
    usize::from(hash[0]) % LOCAL_SLOTS
}

pub(crate) struct TokenCache {
    entries: Cache<TokenHash, Arc<Entry>, ByteWeighter>,
    local: ThreadLocal<RefCell<Local>>,
    keyer: TokenKeyer,
}

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
    /// A cache holding at most `budget` bytes; `None` when `budget` is 0 (cache off) or when
    /// no secret could be drawn for its keys (then tokens are simply always verified).
    pub fn new(budget: usize) -> Option<Self> {
        let budget = budget as u64;
        if budget == 0 {
            return None;
        }
        let Some(keyer) = TokenKeyer::new() else {
            tracing::warn!("the system random generator failed; verified-token cache off");
            return None;
        };
        Some(Self {
            entries: Cache::with_weighter(
                (budget / TYPICAL_ENTRY_WEIGHT).max(1) as usize,
                budget,
                ByteWeighter,
            ),
            local: ThreadLocal::new(),
            keyer,
        })
    }

    /// The cache key of `token` (see [`TokenKeyer`]); `None` means "do not cache this one".
    pub fn hash(&self, token: &str) -> Option<TokenHash> {
        self.keyer.key_of(token)
    }

    /// Looks `hash` up, in this thread's slots first, and hands the entry and the claims to
    /// give out to `judge`. The claims are this thread's own copy once it has hit the token
    /// twice. `judge` must not use this cache.
    pub fn with_hit<R>(
        &self,
        hash: &TokenHash,
        judge: impl FnOnce(&Entry, &Arc<Claims>) -> R,
    ) -> Option<R> {
        let local = self.local.get_or_default();
        let Ok(mut local) = local.try_borrow_mut() else {
            // Only if `judge` broke its rule; the shared cache still answers.
            let entry = self.entries.get(hash)?;
            return Some(judge(&entry, &entry.claims));
        };
        if local.slots.is_empty() {
            local.slots.resize_with(LOCAL_SLOTS, || None);
        }
        let slot = local.slots.get_mut(slot_of(hash))?;
        match slot {
            Some(kept) if kept.hash == *hash => {
                if !kept.own {
                    kept.claims = Arc::new(Claims::clone(&kept.claims));
                    kept.own = true;
                }
                Some(judge(&kept.entry, &kept.claims))
            }
            _ => {
                let entry = self.entries.get(hash)?;
                let kept = slot.insert(LocalEntry {
                    hash: *hash,
                    claims: entry.claims.clone(),
                    entry,
                    own: false,
                });
                Some(judge(&kept.entry, &kept.claims))
            }
        }
    }

    /// Inserts a verified token.
    pub fn insert(&self, hash: TokenHash, entry: Entry) {
        self.entries.insert(hash, Arc::new(entry));
    }

    /// Drops every entry whose token has expired at `now` (seconds since the epoch), leeway
    /// included; returns how many.
    pub fn sweep(&self, now: f64, leeway: i64) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|_, e| e.validity.exp + leeway as f64 > now);
        before.saturating_sub(self.entries.len())
    }

    /// Starts the task that sweeps `cache` every `every`, on the runtime of the caller (the
    /// API builds its verifier on the main thread's, not on a worker's). It stops when
    /// `shutdown`'s sender is dropped (with the last verifier) or the cache is gone.
    pub fn spawn_sweeper(
        cache: Weak<Self>,
        every: Duration,
        leeway: i64,
        mut shutdown: watch::Receiver<()>,
    ) {
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticks.tick() => {}
                    _ = shutdown.changed() => return,
                }
                let Some(cache) = cache.upgrade() else { return };
                let dropped = cache.sweep(crate::clock::now_secs(), leeway);
                tracing::debug!(dropped, "verified-token cache swept");
            }
        });
    }

    /// Removes `hash` from the shared cache and from this thread's slots (other threads drop
    /// theirs when their own checks fail).
    pub fn remove(&self, hash: &TokenHash) {
        if let Some(local) = self.local.get()
            && let Ok(mut local) = local.try_borrow_mut()
            && let Some(slot) = local.slots.get_mut(slot_of(hash))
            && slot.as_ref().is_some_and(|kept| kept.hash == *hash)
        {
            *slot = None;
        }
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

    /// Whether one cache gives the two tokens the same key.
    fn same_key(one: &str, two: &str) -> bool {
        let cache = TokenCache::new(1024).expect("on");
        cache.hash(one) == cache.hash(two)
    }

    #[test]
    fn the_same_token_always_gets_the_same_key() {
        assert!(same_key("a.b.c", "a.b.c"));
    }

    #[test]
    fn tokens_differing_in_one_character_get_different_keys() {
        let token = "e".repeat(860);
        let mut other = token.clone();
        other.replace_range(430..431, "f");
        assert!(!same_key(&token, &other));
    }

    #[test]
    fn a_token_and_its_zero_padded_twin_get_different_keys() {
        // GHASH pads the last block with zeros; the length block must still tell them apart.
        assert!(!same_key("abc", "abc\0"));
    }

    #[test]
    fn each_cache_draws_its_own_secret() {
        let (one, two) = (
            TokenCache::new(1024).expect("on"),
            TokenCache::new(1024).expect("on"),
        );
        assert_ne!(one.hash("a.b.c"), two.hash("a.b.c"));
    }

    fn key(i: u32) -> TokenHash {
        let mut hash = [0u8; 16];
        hash[..4].copy_from_slice(&i.to_be_bytes());
        hash
    }

    fn expiring_at(exp: f64) -> Entry {
        let mut e = entry(8, "k1");
        e.validity.exp = exp;
        e
    }

    #[test]
    fn a_sweep_drops_the_expired_entries_only() {
        let cache = TokenCache::new(64 * 1024 * 1024).expect("on");
        for i in 0..600 {
            cache.insert(key(i), expiring_at(100.0));
        }
        for i in 600..1000 {
            cache.insert(key(i), expiring_at(1000.0));
        }
        // With 30 s of leeway, those valid until t=100 still count at t=120 and not at t=200.
        assert_eq!(cache.sweep(120.0, 30), 0);
        assert_eq!(cache.sweep(200.0, 30), 600);
        assert_eq!(cache.len(), 400);
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
            let mut hash = [0u8; 16];
            hash[..4].copy_from_slice(&i.to_be_bytes());
            cache.insert(hash, entry(12 * 1024, "k1"));
        }
        assert!(cache.bytes() <= budget as u64, "{} bytes", cache.bytes());
        assert!(
            cache.len() <= budget / (12 * 1024),
            "{} entries",
            cache.len()
        );
        assert!(cache.len() > 0);
    }

    /// The claims `with_hit` hands out for `hash`, if any.
    fn hit(cache: &TokenCache, hash: &TokenHash) -> Option<Arc<Claims>> {
        cache.with_hit(hash, |_, claims| claims.clone())
    }

    #[test]
    fn the_second_hit_on_a_thread_gets_the_threads_own_copy_of_the_claims() {
        let cache = TokenCache::new(1024 * 1024).expect("on");
        let e = entry(8, "k1");
        let parsed = e.claims.clone();
        cache.insert(key(1), e);
        let first = hit(&cache, &key(1)).expect("hit");
        assert!(Arc::ptr_eq(&first, &parsed));
        let second = hit(&cache, &key(1)).expect("hit");
        assert!(!Arc::ptr_eq(&second, &parsed));
        assert_eq!(second.sub, parsed.sub);
        let third = hit(&cache, &key(1)).expect("hit");
        assert!(Arc::ptr_eq(&third, &second));
    }

    #[test]
    fn each_thread_keeps_its_own_copy() {
        let cache = TokenCache::new(1024 * 1024).expect("on");
        cache.insert(key(1), entry(8, "k1"));
        let here = (hit(&cache, &key(1)), hit(&cache, &key(1)));
        let there = std::thread::scope(|scope| {
            scope
                .spawn(|| (hit(&cache, &key(1)), hit(&cache, &key(1))))
                .join()
                .expect("thread")
        });
        let (here, there) = (here.1.expect("hit"), there.1.expect("hit"));
        assert!(!Arc::ptr_eq(&here, &there));
    }

    #[test]
    fn a_removed_entry_is_not_served_from_this_threads_slots() {
        let cache = TokenCache::new(1024 * 1024).expect("on");
        cache.insert(key(1), entry(8, "k1"));
        hit(&cache, &key(1)).expect("hit");
        hit(&cache, &key(1)).expect("hit");
        cache.remove(&key(1));
        assert!(hit(&cache, &key(1)).is_none());
    }

    #[test]
    fn two_keys_sharing_a_slot_are_told_apart() {
        let cache = TokenCache::new(1024 * 1024).expect("on");
        let (a, mut b) = (key(1), key(2));
        b[0] = a[0];
        assert_eq!(slot_of(&a), slot_of(&b));
        cache.insert(a, entry(8, "a"));
        hit(&cache, &a).expect("hit");
        assert!(hit(&cache, &b).is_none());
        cache.insert(b, entry(8, "b"));
        let seen = cache.with_hit(&b, |e, _| e.kid.clone()).expect("hit");
        assert_eq!(seen.as_deref(), Some("b"));
        let seen = cache.with_hit(&a, |e, _| e.kid.clone()).expect("hit");
        assert_eq!(seen.as_deref(), Some("a"));
    }

    #[test]
    fn a_zero_budget_turns_the_cache_off() {
        assert!(TokenCache::new(0).is_none());
    }
}
