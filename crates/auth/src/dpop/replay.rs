//! The replay store: each proof (a `jti` under one key) is accepted once within the window.
//!
//! Behind the [`ReplayStore`] trait so that replicas can share one store (a network store that
//! answers "was this id new?" with one atomic operation; the API has a Redis one);
//! [`MemoryReplayStore`] is the in-process one and the default.
//!
//! Bounded and fail-closed: the in-memory store holds at most `capacity` ids. When it is full of
//! ids that have not yet expired it answers [`ReplayVerdict::Unavailable`] and the proof is
//! refused. An evicting cache would be cheaper to write and wrong: an evicted id could be
//! replayed.
//!
//! One client cannot exhaust the store for everyone: a proof key (`jkt`) may hold at most
//! `per_key` ids at once; beyond that only that key's proofs are refused
//! ([`ReplayVerdict::KeyLimit`], with the time until its oldest id expires). The bound on the
//! whole store is global (one atomic count), not per shard, so no shard can be filled on its
//! own; and shards are picked by a keyed hash of the proof key under a per-process random key
//! (std's `RandomState`, SipHash), so nobody outside the process can aim at one.
//!
//! Concurrency: 16 shards, each a `std::sync::Mutex` held only for a map lookup and insert plus
//! the removal of expired ids at the front of its queue (never across an `.await`). All ids of
//! one key live in one shard, so the per-key count is kept under the same lock. Each shard's
//! queue is in insertion order; expiries are nearly monotone (a proof's window ends 60 s after
//! its `iat`, and clients send fresh proofs), so sweeping the front is amortised O(1) per proof;
//! an id whose window ends before an older neighbour's is released when that neighbour is.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_lc_rs::digest;

/// The identity of one proof: SHA-256 over the key's thumbprint and the proof's `jti` (so that
/// two keys may use the same `jti` and the store never holds attacker-sized strings), and
/// SHA-256 of the thumbprint alone, which names the client for the per-key bound.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofId {
    id: [u8; 32],
    key: [u8; 32],
}

impl ProofId {
    /// The id of the proof `jti` made with the key whose RFC 7638 thumbprint is `jkt`.
    pub fn new(jkt: &str, jti: &str) -> Self {
        Self::with_key_digest(Self::key_digest(jkt), jkt, jti)
    }

    /// [`ProofId::new`] for a caller that kept the key's [`ProofId::key_digest`] (it is the
    /// same for every proof of one key). Crate-private: it trusts `key` to be `jkt`'s digest,
    /// which only the proof verifier's key cache can promise.
    pub(crate) fn with_key_digest(key: [u8; 32], jkt: &str, jti: &str) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&(jkt.len() as u64).to_be_bytes());
        ctx.update(jkt.as_bytes());
        ctx.update(jti.as_bytes());
        let mut id = [0u8; 32];
        id.copy_from_slice(ctx.finish().as_ref());
        Self { id, key }
    }

    /// SHA-256 of the thumbprint `jkt`: what [`ProofId::key_bytes`] gives for its proofs.
    pub fn key_digest(jkt: &str) -> [u8; 32] {
        let mut key = [0u8; 32];
        key.copy_from_slice(digest::digest(&digest::SHA256, jkt.as_bytes()).as_ref());
        key
    }

    /// The proof's digest, for stores that key on bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.id
    }

    /// The digest of the proof key's thumbprint: the same for every proof of one client.
    pub fn key_bytes(&self) -> &[u8; 32] {
        &self.key
    }
}

impl fmt::Debug for ProofId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProofId({:02x}{:02x}..)", self.id[0], self.id[1])
    }
}

/// What a store says about a proof id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// First sighting; the id is now recorded.
    Fresh,
    /// Already seen within the window: a replay.
    Replayed,
    /// The proof's key already holds as many ids as one key may: refuse this client only.
    KeyLimit {
        /// How long until the key's oldest id is released.
        retry_after: Duration,
    },
    /// The id could not be recorded (store full, unreachable or too slow): refuse, never let
    /// it through.
    Unavailable,
}

/// The future a [`ReplayStore`] answers with.
pub type ReplayFuture<'a> = Pin<Box<dyn Future<Output = ReplayVerdict> + Send + 'a>>;

/// Where seen proof ids live. One atomic operation: record `id` until `expires_at_ms` if it is
/// new (and its key is under its bound), and say whether it was.
pub trait ReplayStore: Send + Sync + fmt::Debug {
    /// Checks and records `id` in one step. Times are milliseconds since the Unix epoch;
    /// `expires_at_ms` is the end of the proof's acceptance window, after which the id must
    /// not be kept.
    fn check_and_record(&self, id: ProofId, now_ms: u64, expires_at_ms: u64) -> ReplayFuture<'_>;

    /// [`ReplayStore::check_and_record`]'s verdict when the store can give it without waiting
    /// (the in-memory store always can), so that the caller needs no future; `None`, having
    /// recorded nothing, when the caller must ask `check_and_record` instead. The default is
    /// always `None`.
    fn check_and_record_now(
        &self,
        id: ProofId,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Option<ReplayVerdict> {
        let _ = (id, now_ms, expires_at_ms);
        None
    }

    /// How many ids are held (for metrics); `None` if the store cannot tell cheaply.
    fn entries(&self) -> Option<usize> {
        None
    }
}

const SHARDS: usize = 16;

/// How many ids one proof key may hold unless configured otherwise: 110 proofs a second
/// sustained over a 91 s window, far beyond what one browser or service sends.
pub const DEFAULT_PER_KEY: usize = 10_000;

/// The in-process [`ReplayStore`]: bounded (in all and per key), sharded, fail-closed.
pub struct MemoryReplayStore {
    shards: Box<[Mutex<Shard>]>,
    /// Picks a key's shard: per-process random, so the placement cannot be predicted.
    shard_hasher: RandomState,
    capacity: usize,
    per_key: usize,
    len: AtomicUsize,
}

type Id = [u8; 16];
type Key = [u8; 16];

#[derive(Default)]
struct Shard {
    expiry: HashMap<Id, u64>,
    /// Every held slot in insertion order: (expiry, id, key).
    order: VecDeque<(u64, Id, Key)>,
    /// Per key, the expiries of its held slots in insertion order (the same order as `order`,
    /// so releasing the front of `order` releases the front of its key's queue).
    keys: HashMap<Key, VecDeque<u64>>,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &self.capacity)
            .field("per_key", &self.per_key)
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish()
    }
}

impl MemoryReplayStore {
    /// A store for at most `capacity` ids, at most [`DEFAULT_PER_KEY`] of them per proof key.
    pub fn new(capacity: usize) -> Self {
        Self::with_per_key(capacity, DEFAULT_PER_KEY)
    }

    /// A store for at most `capacity` ids, at most `per_key` of them per proof key.
    pub fn with_per_key(capacity: usize, per_key: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            shard_hasher: RandomState::new(),
            capacity: capacity.max(1),
            per_key: per_key.max(1),
            len: AtomicUsize::new(0),
        }
    }

    /// The most ids it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    fn record(&self, proof: ProofId, now: u64, expires_at: u64) -> ReplayVerdict {
        // The first 16 bytes of a SHA-256 are as good a key as all 32 (a collision needs ~2^64
        // ids) and keep an entry small.
        let mut id = [0u8; 16];
        id.copy_from_slice(&proof.as_bytes()[..16]);
        let mut key = [0u8; 16];
        key.copy_from_slice(&proof.key_bytes()[..16]);
        let shard_index = (self.shard_hasher.hash_one(key) % SHARDS as u64) as usize;
        // A poisoned lock means a panic while holding it; the map is still consistent (every
        // step below leaves it so), so keep serving rather than refuse every proof forever.
        let mut shard = match self.shards[shard_index].lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let released = shard.release_expired(now);
        if released > 0 {
            self.len.fetch_sub(released, Ordering::Relaxed);
        }
        // Each map is hashed once: the id's entry serves the replay check and the insert.
        let Shard {
            expiry,
            order,
            keys,
        } = &mut *shard;
        let slot = match expiry.entry(id) {
            Entry::Occupied(held) if *held.get() > now => return ReplayVerdict::Replayed,
            slot => slot,
        };
        let held = keys.entry(key).or_default();
        if held.len() >= self.per_key {
            let oldest = held.front().copied().unwrap_or(now);
            return ReplayVerdict::KeyLimit {
                retry_after: Duration::from_millis(oldest.saturating_sub(now).max(1)),
            };
        }
        if self.len.fetch_add(1, Ordering::Relaxed) >= self.capacity {
            self.len.fetch_sub(1, Ordering::Relaxed);
            if held.is_empty() {
                keys.remove(&key);
            }
            return ReplayVerdict::Unavailable;
        }
        held.push_back(expires_at);
        // An id expired but not yet released (its window ended before an older neighbour's, or
        // the clock moved back) is free again: it takes a new slot, and its old slot is
        // released in turn without touching the map (the expiry no longer matches).
        match slot {
            Entry::Occupied(mut expired) => {
                expired.insert(expires_at);
            }
            Entry::Vacant(new) => {
                new.insert(expires_at);
            }
        }
        order.push_back((expires_at, id, key));
        ReplayVerdict::Fresh
    }
}

impl Shard {
    /// Releases the slots at the front of the queue whose window has ended; returns how many.
    fn release_expired(&mut self, now: u64) -> usize {
        let mut released = 0;
        while let Some(&(expiry, id, key)) = self.order.front() {
            if expiry > now {
                break;
            }
            self.order.pop_front();
            released += 1;
            if let Entry::Occupied(held) = self.expiry.entry(id)
                && *held.get() == expiry
            {
                held.remove();
            }
            if let Some(held) = self.keys.get_mut(&key) {
                held.pop_front();
                if held.is_empty() {
                    self.keys.remove(&key);
                }
            }
        }
        released
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_record(&self, id: ProofId, now_ms: u64, expires_at_ms: u64) -> ReplayFuture<'_> {
        let verdict = self.record(id, now_ms, expires_at_ms);
        Box::pin(std::future::ready(verdict))
    }

    fn check_and_record_now(
        &self,
        id: ProofId,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Option<ReplayVerdict> {
        Some(self.record(id, now_ms, expires_at_ms))
    }

    fn entries(&self) -> Option<usize> {
        Some(self.len.load(Ordering::Relaxed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u32) -> ProofId {
        ProofId::new("thumb", &n.to_string())
    }

    #[test]
    fn an_id_made_from_a_kept_key_digest_is_the_id_made_from_the_thumbprint() {
        let kept = ProofId::key_digest("thumb");
        assert_eq!(
            ProofId::with_key_digest(kept, "thumb", "7"),
            ProofId::new("thumb", "7")
        );
    }

    /// The verdict on id 1 recorded again at `now` (until `expires_at`) after a first record
    /// at 10 (until 70), which is fresh; the store holds one entry either way.
    fn second_record_of_one_id(now: u64, expires_at: u64) -> ReplayVerdict {
        let store = MemoryReplayStore::new(100);
        assert_eq!(store.record(id(1), 10, 70), ReplayVerdict::Fresh);
        let verdict = store.record(id(1), now, expires_at);
        assert_eq!(store.entries(), Some(1));
        verdict
    }

    #[test]
    fn an_id_is_fresh_once_then_replayed() {
        assert_eq!(second_record_of_one_id(11, 71), ReplayVerdict::Replayed);
    }

    #[test]
    fn the_same_jti_under_two_keys_is_two_proofs() {
        let store = MemoryReplayStore::new(100);
        assert_eq!(
            store.record(ProofId::new("a", "j"), 10, 70),
            ReplayVerdict::Fresh
        );
        assert_eq!(
            store.record(ProofId::new("b", "j"), 10, 70),
            ReplayVerdict::Fresh
        );
    }

    #[test]
    fn an_expired_id_is_forgotten() {
        assert_eq!(second_record_of_one_id(70, 130), ReplayVerdict::Fresh);
    }

    #[test]
    fn a_full_store_refuses_new_ids_until_old_ones_expire() {
        let store = MemoryReplayStore::with_per_key(10, 100);
        for n in 0..10 {
            assert_eq!(store.record(id(n), 10, 70), ReplayVerdict::Fresh);
        }
        assert_eq!(store.record(id(10), 10, 70), ReplayVerdict::Unavailable);
        assert_eq!(store.entries(), Some(10));
        assert_eq!(
            store.record(id(10), 70, 130),
            ReplayVerdict::Fresh,
            "expired ids free their slots"
        );
    }

    #[test]
    fn the_capacity_is_shared_by_all_shards() {
        // Ids of many keys land on every shard; the bound is the whole store's.
        let store = MemoryReplayStore::with_per_key(20, 1);
        let fresh = (0..100u32)
            .filter(|n| {
                store.record(ProofId::new(&n.to_string(), "j"), 10, 70) == ReplayVerdict::Fresh
            })
            .count();
        assert_eq!(fresh, 20);
    }

    #[test]
    fn a_key_over_its_bound_is_refused_with_the_time_until_its_oldest_id_expires() {
        let store = MemoryReplayStore::with_per_key(100, 3);
        assert_eq!(store.record(id(1), 1_000, 61_000), ReplayVerdict::Fresh);
        assert_eq!(store.record(id(2), 2_000, 62_000), ReplayVerdict::Fresh);
        assert_eq!(store.record(id(3), 3_000, 63_000), ReplayVerdict::Fresh);
        assert_eq!(
            store.record(id(4), 4_000, 64_000),
            ReplayVerdict::KeyLimit {
                retry_after: Duration::from_millis(57_000)
            }
        );
        assert_eq!(
            store.record(ProofId::new("another key", "4"), 4_000, 64_000),
            ReplayVerdict::Fresh,
            "other keys are not affected"
        );
        assert_eq!(store.record(id(4), 61_000, 121_000), ReplayVerdict::Fresh);
    }

    #[test]
    fn a_replay_is_reported_as_a_replay_even_at_the_key_bound() {
        let store = MemoryReplayStore::with_per_key(100, 1);
        assert_eq!(store.record(id(1), 10, 70), ReplayVerdict::Fresh);
        assert_eq!(store.record(id(1), 11, 70), ReplayVerdict::Replayed);
    }

    #[test]
    fn shard_placement_differs_between_stores() {
        // Keyed per store (per process in practice): some key lands elsewhere in another store.
        let a = MemoryReplayStore::new(10);
        let b = MemoryReplayStore::new(10);
        let differs =
            (0..64u8).any(|n| a.shard_hasher.hash_one([n; 16]) != b.shard_hasher.hash_one([n; 16]));
        assert!(differs);
    }
}
