//! The proof keys already imported, keyed by the proof's header exactly as sent.
//!
//! A client sends the same header (`typ`, `alg`, `jwk`) with every proof; only the claims and
//! the signature change. Importing its JWK (base64, the EC point's curve check, the RSA
//! modulus checks) and computing its RFC 7638 thumbprint are the same work each time, so the
//! result is kept here and looked up by the header's base64url text.
//!
//! - Keyed by the whole header text, compared byte for byte: an entry is found only for a
//!   header identical to one that was imported, and the import is a function of those bytes
//!   alone (the allowed algorithms are fixed per verifier), so a hit gives exactly what an
//!   import would. No hash stands in for the key, so nothing can collide.
//! - Only keys that imported successfully are kept, and only headers up to
//!   [`MAX_HEADER_BYTES`]; at most [`ENTRIES`] of them (S3-FIFO eviction by `quick_cache`).
//!   A client sending a new header per proof only evicts entries: it pays the import it
//!   would pay anyway, and the memory stays bounded.
//! - An entry is made only for a header that passed the header rules (compact JWS, `alg`
//!   allowed, no `crit`, `typ` of a DPoP proof) and whose key imported, so a hit also stands
//!   for those rules (the header's `alg` is kept for the signature check); they are a
//!   function of the same bytes.
//! - Only the key and the header's verdict are cached, never a proof's: every proof's
//!   signature is still checked with the key, and every claim check still runs.
//! - Each thread also remembers the last header it found and its key, per cache and compared
//!   byte for byte like the cache's keys: a client's proof after proof skips the shared
//!   cache's hash, lock and reference count. One entry per thread, replaced by the next
//!   header.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use quick_cache::sync::Cache;

use super::replay::ProofId;
use crate::Algorithm;
use crate::jws::PublicKey;

/// How many imported keys are kept.
pub(crate) const ENTRIES: usize = 512;
/// Longer headers are imported every time (an RSA-8192 JWK header is about 1,500 bytes).
pub(crate) const MAX_HEADER_BYTES: usize = 2048;

/// A proof key, imported, with its thumbprint and the `alg` of the header it came in.
#[derive(Debug)]
pub(crate) struct ProofKey {
    pub key: PublicKey,
    /// The header's `alg` (checked against the verifier's allowed algorithms).
    pub alg: Algorithm,
    /// The RFC 7638 thumbprint (base64url SHA-256).
    pub jkt: String,
    /// Its digest for the replay store ([`ProofId::key_digest`]).
    pub jkt_digest: [u8; 32],
}

impl ProofKey {
    pub fn new(key: PublicKey, alg: Algorithm, jkt: String) -> Self {
        let jkt_digest = ProofId::key_digest(&jkt);
        Self {
            key,
            alg,
            jkt,
            jkt_digest,
        }
    }
}

/// Imported proof keys by header text. See the module documentation.
pub(crate) struct KeyCache {
    /// Names this cache in each thread's [`LAST`] (never reused in a process).
    id: u64,
    entries: Cache<Box<str>, Arc<ProofKey>>,
}

/// The source of [`KeyCache`] ids.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// A header this thread found in a cache.
struct Remembered {
    cache: u64,
    header: Box<str>,
    key: Arc<ProofKey>,
}

thread_local! {
    /// The last header this thread found in any cache, with that cache's id and the key. A
    /// client sends proof after proof with one header, so most lookups end here: no hash of
    /// the header, no lock and no reference count shared with the other threads.
    static LAST: RefCell<Option<Remembered>> = const { RefCell::new(None) };
}

impl std::fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyCache")
            .field("len", &self.entries.len())
            .finish()
    }
}

impl KeyCache {
    pub fn new() -> Self {
        Self {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            entries: Cache::new(ENTRIES),
        }
    }

    /// Runs `then` with the key of `header_b64`: this thread's last key from this cache if
    /// it came in an identical header (compared byte for byte, like the cache's own keys),
    /// otherwise [`KeyCache::get_or_import`]'s.
    pub fn with_key<T, E>(
        &self,
        header_b64: &str,
        import: impl FnOnce() -> Result<ProofKey, E>,
        then: impl FnOnce(&ProofKey) -> Result<T, E>,
    ) -> Result<T, E> {
        LAST.with(|last| {
            let Ok(mut last) = last.try_borrow_mut() else {
                // Only if `then` came back here: the shared cache alone.
                let key = self.get_or_import(header_b64, import)?;
                return then(&key);
            };
            if let Some(seen) = &*last
                && seen.cache == self.id
                && *seen.header == *header_b64
            {
                return then(&seen.key);
            }
            let key = self.get_or_import(header_b64, import)?;
            if header_b64.len() > MAX_HEADER_BYTES {
                return then(&key);
            }
            let seen = last.insert(Remembered {
                cache: self.id,
                header: header_b64.into(),
                key,
            });
            then(&seen.key)
        })
    }

    /// The key imported from a header identical to `header_b64`, or `import`'s (kept if it
    /// succeeded and the header is not too long to keep).
    pub fn get_or_import<E>(
        &self,
        header_b64: &str,
        import: impl FnOnce() -> Result<ProofKey, E>,
    ) -> Result<Arc<ProofKey>, E> {
        if let Some(hit) = self.entries.get(header_b64) {
            return Ok(hit);
        }
        let key = Arc::new(import()?);
        if header_b64.len() <= MAX_HEADER_BYTES {
            self.entries.insert(header_b64.into(), Arc::clone(&key));
        }
        Ok(key)
    }

    /// How many keys are held.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The P-256 generator as a key, under a made-up thumbprint.
    fn proof_key(jkt: &str) -> ProofKey {
        let jwk = json!({
            "kty": "EC", "crv": "P-256",
            "x": "axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY",
            "y": "T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU",
        });
        let key = PublicKey::from_jwk(&jwk, &[Algorithm::ES256]).expect("a P-256 key");
        ProofKey::new(key, Algorithm::ES256, jkt.to_owned())
    }

    #[test]
    fn a_header_seen_before_is_not_imported_again() {
        let cache = KeyCache::new();
        let first = cache.get_or_import("aGVhZGVy", || Ok::<_, ()>(proof_key("one")));
        let second = cache.get_or_import("aGVhZGVy", || Err(()));
        assert_eq!(second.expect("a hit").jkt, first.expect("imported").jkt);
    }

    #[test]
    fn a_header_differing_in_one_byte_is_imported_on_its_own() {
        let cache = KeyCache::new();
        cache
            .get_or_import("aGVhZGVy", || Ok::<_, ()>(proof_key("one")))
            .expect("imported");
        let other = cache.get_or_import("aGVhZGVz", || Ok::<_, ()>(proof_key("two")));
        assert_eq!(other.expect("imported").jkt, "two");
    }

    #[test]
    fn a_failed_import_is_not_kept() {
        let cache = KeyCache::new();
        assert_eq!(
            cache
                .get_or_import("aGVhZGVy", || Err::<ProofKey, _>(7))
                .err(),
            Some(7)
        );
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn an_overlong_header_is_imported_every_time() {
        let cache = KeyCache::new();
        let long = "a".repeat(MAX_HEADER_BYTES + 1);
        cache
            .get_or_import(&long, || Ok::<_, ()>(proof_key("one")))
            .expect("imported");
        assert_eq!(cache.len(), 0);
    }

    #[test]
    fn the_cache_never_holds_more_than_its_bound() {
        let cache = KeyCache::new();
        for i in 0..ENTRIES * 4 {
            cache
                .get_or_import(&format!("header-{i}"), || Ok::<_, ()>(proof_key("one")))
                .expect("imported");
        }
        assert!(cache.len() <= ENTRIES, "{} entries", cache.len());
    }

    /// The thumbprint of the key `with_key` gives for `header` (importing `jkt`'s if asked).
    fn jkt_with(cache: &KeyCache, header: &str, jkt: &str) -> Result<String, ()> {
        cache.with_key(header, || Ok(proof_key(jkt)), |key| Ok(key.jkt.clone()))
    }

    #[test]
    fn a_header_this_thread_just_used_is_taken_without_an_import() {
        let cache = KeyCache::new();
        assert_eq!(jkt_with(&cache, "aGVhZGVy", "one"), Ok("one".into()));
        let again = cache.with_key("aGVhZGVy", || Err(()), |key| Ok(key.jkt.clone()));
        assert_eq!(again, Ok("one".into()));
    }

    #[test]
    fn a_header_differing_from_the_last_in_one_byte_is_looked_up_on_its_own() {
        let cache = KeyCache::new();
        assert_eq!(jkt_with(&cache, "aGVhZGVy", "one"), Ok("one".into()));
        assert_eq!(jkt_with(&cache, "aGVhZGVz", "two"), Ok("two".into()));
        assert_eq!(jkt_with(&cache, "aGVhZGVy", "three"), Ok("one".into()));
    }

    #[test]
    fn two_caches_never_share_what_a_thread_remembers() {
        let (first, second) = (KeyCache::new(), KeyCache::new());
        assert_eq!(jkt_with(&first, "aGVhZGVy", "one"), Ok("one".into()));
        assert_eq!(jkt_with(&second, "aGVhZGVy", "two"), Ok("two".into()));
        assert_eq!(jkt_with(&first, "aGVhZGVy", "three"), Ok("one".into()));
    }

    #[test]
    fn a_failed_import_is_not_remembered() {
        let cache = KeyCache::new();
        let failed = cache.with_key("aGVhZGVy", || Err(7), |key| Ok(key.jkt.clone()));
        assert_eq!(failed, Err(7));
        assert_eq!(jkt_with(&cache, "aGVhZGVy", "one"), Ok("one".into()));
    }
}
