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

use std::sync::Arc;

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
    entries: Cache<Box<str>, Arc<ProofKey>>,
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
            entries: Cache::new(ENTRIES),
        }
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
}
