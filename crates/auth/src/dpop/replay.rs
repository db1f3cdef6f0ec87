//! The replay store: each proof (a `jti` under one key) is accepted once within the window.
//!
//! Behind the [`ReplayStore`] trait so that replicas can later share one store (a network cache
//! answering "was this id new?" atomically); [`MemoryReplayStore`] is the in-process one.
//!
//! Bounded and fail-closed: the in-memory store holds at most `capacity` ids. When it is full of
//! ids that have not yet expired it answers [`ReplayVerdict::Full`] and the proof is refused. An
//! evicting cache would be cheaper to write and wrong: an evicted id could be replayed.
//!
//! Concurrency: 16 shards, each a `std::sync::Mutex` held only for a map lookup and insert plus
//! the removal of expired ids at the front of its queue (never across an `.await`), so replicas
//! of the hot path rarely meet on one lock. Ids are entered with `expires_at = now + window`, so
//! each shard's queue is in expiry order and sweeping it is amortised O(1) per proof.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use aws_lc_rs::digest;

/// The identity of one proof: SHA-256 over the key's thumbprint and the proof's `jti`, so that
/// two keys may use the same `jti` and the store never holds attacker-sized strings.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ProofId([u8; 32]);

impl ProofId {
    /// The id of the proof `jti` made with the key whose RFC 7638 thumbprint is `jkt`.
    pub fn new(jkt: &str, jti: &str) -> Self {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&(jkt.len() as u64).to_be_bytes());
        ctx.update(jkt.as_bytes());
        ctx.update(jti.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Self(out)
    }

    /// The raw digest, for stores that key on bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for ProofId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProofId({:02x}{:02x}..)", self.0[0], self.0[1])
    }
}

/// What a store says about a proof id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayVerdict {
    /// First sighting; the id is now recorded.
    Fresh,
    /// Already seen within the window: a replay.
    Replayed,
    /// The id could not be recorded (store full or unreachable): refuse, never let it through.
    Unavailable,
}

/// The future a [`ReplayStore`] answers with.
pub type ReplayFuture<'a> = Pin<Box<dyn Future<Output = ReplayVerdict> + Send + 'a>>;

/// Where seen proof ids live. One atomic operation: record `id` until `expires_at` (seconds since
/// the epoch) if it is new, and say whether it was.
pub trait ReplayStore: Send + Sync + fmt::Debug {
    /// Checks and records `id` in one step; `now` and `expires_at` are seconds since the epoch.
    fn check_and_record(&self, id: ProofId, now: u64, expires_at: u64) -> ReplayFuture<'_>;

    /// How many ids are held (for metrics); `None` if the store cannot tell cheaply.
    fn entries(&self) -> Option<usize> {
        None
    }
}

const SHARDS: usize = 16;

/// The in-process [`ReplayStore`]: bounded, sharded, fail-closed.
pub struct MemoryReplayStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    len: AtomicUsize,
}

#[derive(Default)]
struct Shard {
    expiry: HashMap<[u8; 16], u64>,
    order: VecDeque<(u64, [u8; 16])>,
}

impl fmt::Debug for MemoryReplayStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemoryReplayStore")
            .field("capacity", &(self.per_shard * SHARDS))
            .field("len", &self.len.load(Ordering::Relaxed))
            .finish()
    }
}

impl MemoryReplayStore {
    /// A store for at most `capacity` ids (rounded up to a multiple of the shard count).
    pub fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            len: AtomicUsize::new(0),
        }
    }

    /// The most ids it holds.
    pub fn capacity(&self) -> usize {
        self.per_shard * SHARDS
    }

    fn record(&self, id: ProofId, now: u64, expires_at: u64) -> ReplayVerdict {
        // The first 16 bytes of a SHA-256 are as good a key as all 32 (a collision needs ~2^64
        // ids) and keep an entry small; byte 16 picks the shard, independent of the key bytes.
        let bytes = id.as_bytes();
        let mut key = [0u8; 16];
        key.copy_from_slice(&bytes[..16]);
        let shard_index = usize::from(bytes[16]) % SHARDS;
        // A poisoned lock means a panic while holding it; the map is still consistent (every
        // step below leaves it so), so keep serving rather than refuse every proof forever.
        let mut shard = match self.shards[shard_index].lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let mut removed = 0;
        while let Some(&(expiry, old)) = shard.order.front() {
            if expiry > now {
                break;
            }
            shard.order.pop_front();
            if shard.expiry.get(&old) == Some(&expiry) {
                shard.expiry.remove(&old);
                removed += 1;
            }
        }
        let verdict = if let Some(&expiry) = shard.expiry.get(&key) {
            if expiry > now {
                ReplayVerdict::Replayed
            } else {
                // Expired but not yet swept (clock moved back): the slot is free again.
                shard.expiry.insert(key, expires_at);
                shard.order.push_back((expires_at, key));
                ReplayVerdict::Fresh
            }
        } else if shard.expiry.len() >= self.per_shard {
            ReplayVerdict::Unavailable
        } else {
            shard.expiry.insert(key, expires_at);
            shard.order.push_back((expires_at, key));
            self.len.fetch_add(1, Ordering::Relaxed);
            ReplayVerdict::Fresh
        };
        drop(shard);
        if removed > 0 {
            self.len.fetch_sub(removed, Ordering::Relaxed);
        }
        verdict
    }
}

impl ReplayStore for MemoryReplayStore {
    fn check_and_record(&self, id: ProofId, now: u64, expires_at: u64) -> ReplayFuture<'_> {
        let verdict = self.record(id, now, expires_at);
        Box::pin(std::future::ready(verdict))
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
    fn an_id_is_fresh_once_then_replayed() {
        let store = MemoryReplayStore::new(100);
        assert_eq!(store.record(id(1), 10, 70), ReplayVerdict::Fresh);
        assert_eq!(store.record(id(1), 11, 71), ReplayVerdict::Replayed);
        assert_eq!(store.entries(), Some(1));
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
        let store = MemoryReplayStore::new(100);
        assert_eq!(store.record(id(1), 10, 70), ReplayVerdict::Fresh);
        assert_eq!(store.record(id(1), 70, 130), ReplayVerdict::Fresh);
        assert_eq!(store.entries(), Some(1));
    }

    #[test]
    fn a_full_store_refuses_new_ids_until_old_ones_expire() {
        let store = MemoryReplayStore::new(SHARDS);
        // Fill until some shard refuses; the refusal must come before any unbounded growth.
        let refused = (0..10_000u32)
            .find(|n| store.record(id(*n), 10, 70) == ReplayVerdict::Unavailable)
            .expect("a bounded store refuses eventually");
        assert!(store.entries().unwrap_or(0) <= store.capacity());
        assert_eq!(
            store.record(id(refused), 70, 130),
            ReplayVerdict::Fresh,
            "expired ids free their slots"
        );
    }
}
