//! [`Verifier`]: the one object an API builds at start-up and calls per request.
//!
//! The order of checks is deliberate: size cap, header (shape, `crit`, `alg` allow-list,
//! `typ`) before any key work; key lookup; signature; only then is the payload decoded and
//! the claims checked. So an attacker-controlled payload is never parsed unless the issuer
//! signed it, and nothing in a token can make us fetch anything but the issuer's key set.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::claims::{self, ClaimPolicy};
use crate::config::VerifierConfig;
use crate::fetch::Fetcher;
use crate::jws::{Compact, PublicKey};
use crate::keystore::KeyStore;
use crate::stats::{Counters, Stats};
use crate::token_cache::{Entry, TokenCache};
use crate::{Algorithm, BuildError, Claims, VerifyError};

/// Verifies access tokens. Cheap to clone; build once at start-up.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    policy: ClaimPolicy,
    allowed: Vec<Algorithm>,
    require_at_jwt: bool,
    max_token_bytes: usize,
    store: Arc<KeyStore>,
    counters: Arc<Counters>,
    token_cache: Option<Arc<TokenCache>>,
    // Dropped with the last Verifier clone, which tells the refresh task to stop.
    _shutdown: watch::Sender<()>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("issuer", &self.inner.policy.issuer)
            .field("audiences", &self.inner.policy.audiences)
            .field("algorithms", &self.inner.allowed)
            .field("store", &self.inner.store)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// Validates `config` and starts loading keys in the background (needs a Tokio runtime).
    /// Never fails because the issuer is down: it keeps retrying.
    pub fn new(config: VerifierConfig) -> Result<Self, BuildError> {
        config.validate()?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(BuildError::InvalidSetting {
                setting: "runtime",
                problem: "Verifier::new must be called inside a Tokio runtime".into(),
            });
        }
        let fetcher = Fetcher::new(
            config.issuer.clone(),
            config.jwks_uri.clone(),
            &config.fetch,
        )
        .map_err(|e| BuildError::InvalidSetting {
            setting: "fetch",
            problem: format!("cannot build the HTTP client: {e}"),
        })?;
        let counters = Arc::new(Counters::default());
        let mut allowed = config.algorithms.clone();
        allowed.dedup();
        let token_cache = TokenCache::new(config.token_cache_capacity).map(Arc::new);
        let on_rotation = token_cache.clone().map(|cache| {
            Box::new(move |removed: &[String]| cache.purge_kids(removed))
                as crate::keystore::RotationHook
        });
        let store = Arc::new(KeyStore::new(
            fetcher,
            config.cache.clone(),
            allowed.clone(),
            counters.clone(),
            on_rotation,
        ));
        let (shutdown, watcher) = watch::channel(());
        KeyStore::spawn_refresher(Arc::downgrade(&store), watcher);
        tracing::info!(issuer = %config.issuer, algorithms = ?allowed, "token verifier started");
        Ok(Self {
            inner: Arc::new(Inner {
                policy: ClaimPolicy {
                    issuer: config.issuer.to_string(),
                    audiences: config.audiences,
                    leeway_secs: config.leeway.as_secs() as i64,
                },
                allowed,
                require_at_jwt: config.require_at_jwt,
                max_token_bytes: config.max_token_bytes,
                store,
                counters,
                token_cache,
                _shutdown: shutdown,
            }),
        })
    }

    /// Verifies `token` (the bare token, no `Bearer `) and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_as(token).await
    }

    /// Verifies `token` and deserializes its claims into the caller's type.
    pub async fn verify_as<T: DeserializeOwned>(&self, token: &str) -> Result<T, VerifyError> {
        let result = self.verify_payload(token).await.and_then(|payload| {
            serde_json::from_slice::<T>(&payload).map_err(|_| VerifyError::Malformed("claims"))
        });
        match &result {
            Ok(_) => self.inner.counters.record_outcome(0),
            Err(e) => {
                self.inner.counters.record_outcome(e.outcome_index());
                tracing::debug!(outcome = e.outcome_label(), "token rejected");
            }
        }
        result
    }

    async fn verify_payload(&self, token: &str) -> Result<Arc<[u8]>, VerifyError> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(VerifyError::TooLarge);
        }
        let cached = inner
            .token_cache
            .as_deref()
            .map(|cache| (cache, TokenCache::hash(token)));
        if let Some((cache, hash)) = &cached
            && let Some(entry) = cache.get(hash)
        {
            if self.key_still_trusted(&entry) {
                return match entry.validity.check(now_secs(), inner.policy.leeway_secs) {
                    Ok(()) => {
                        Counters::bump(&inner.counters.token_cache_hits);
                        Ok(entry.payload.clone())
                    }
                    Err(e) => {
                        cache.remove(hash);
                        Err(e)
                    }
                };
            }
            // Its key left the set (or the set is unusable): verify from scratch.
            cache.remove(hash);
        }
        let (compact, key) = self.header_and_key(token).await?;
        compact.verify_signature(&key)?;
        let payload = compact.payload()?;
        let validity = claims::check(&payload, &inner.policy, now_secs())?;
        let payload: Arc<[u8]> = payload.into();
        if let Some((cache, hash)) = cached {
            cache.insert(
                hash,
                Entry {
                    payload: payload.clone(),
                    validity,
                    kid: compact.kid().map(str::to_owned),
                    key_fingerprint: key.fingerprint(),
                },
                now_secs(),
                inner.policy.leeway_secs,
            );
        }
        Ok(payload)
    }

    /// Whether the exact key that verified a cached token is still in the usable key set.
    fn key_still_trusted(&self, entry: &Entry) -> bool {
        self.inner.store.usable_snapshot().is_some_and(|set| {
            set.find(entry.kid.as_deref())
                .is_some_and(|k| k.fingerprint() == entry.key_fingerprint)
        })
    }

    /// Number of entries in the verified-token cache (0 when it is off).
    pub fn token_cache_len(&self) -> usize {
        self.inner.token_cache.as_ref().map_or(0, |c| c.len())
    }

    /// Checks everything a verification checks before the signature (size, header, `typ`,
    /// key lookup) and stops there. For benchmarks of the non-cryptographic part; it proves
    /// nothing about the token.
    #[doc(hidden)]
    pub async fn check_up_to_signature(&self, token: &str) -> Result<(), VerifyError> {
        if token.len() > self.inner.max_token_bytes {
            return Err(VerifyError::TooLarge);
        }
        self.header_and_key(token).await.map(|_| ())
    }

    /// The steps before the signature, shared by verification and the benchmark hook: parse
    /// the header under the allow-list, check `typ`, and find the key (which may wait on a
    /// single-flight refetch for an unknown `kid`).
    async fn header_and_key<'t>(
        &self,
        token: &'t str,
    ) -> Result<(Compact<'t>, Arc<PublicKey>), VerifyError> {
        let inner = &*self.inner;
        let compact = Compact::parse(token, &inner.allowed)?;
        check_typ(compact.typ(), inner.require_at_jwt)?;
        let key = inner.store.key_for(compact.kid()).await?;
        Ok((compact, key))
    }

    /// Whether a usable key set is loaded (fresh, or stale within the grace period).
    pub fn is_ready(&self) -> bool {
        self.inner.store.usable_snapshot().is_some()
    }

    /// The trusted issuer.
    pub fn issuer(&self) -> &str {
        &self.inner.policy.issuer
    }

    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.counters.snapshot();
        if let Some(set) = self.inner.store.snapshot() {
            stats.key_set_age = Some(set.fetched_at.elapsed());
            stats.keys_loaded = set.len();
        }
        stats
    }
}

/// `typ` per RFC 8725 §3.11 / RFC 9068 §4: media types compare case-insensitively and may
/// carry the `application/` prefix. Absent is accepted unless strict RFC 9068 mode is on
/// (Auth0 access tokens carry `JWT`; many issuers omit it).
fn check_typ(typ: Option<&str>, require_at_jwt: bool) -> Result<(), VerifyError> {
    let Some(typ) = typ else {
        return if require_at_jwt {
            Err(VerifyError::UnsupportedType)
        } else {
            Ok(())
        };
    };
    let lower = typ.to_ascii_lowercase();
    let bare = lower.strip_prefix("application/").unwrap_or(&lower);
    match bare {
        "at+jwt" => Ok(()),
        "jwt" if !require_at_jwt => Ok(()),
        _ => Err(VerifyError::UnsupportedType),
    }
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_jwt_and_at_jwt_are_accepted_by_default() {
        assert_eq!(check_typ(Some("JWT"), false), Ok(()));
        assert_eq!(check_typ(Some("at+jwt"), false), Ok(()));
        assert_eq!(check_typ(Some("application/AT+JWT"), false), Ok(()));
        assert_eq!(check_typ(None, false), Ok(()));
    }

    #[test]
    fn strict_mode_requires_at_jwt() {
        assert_eq!(
            check_typ(Some("JWT"), true),
            Err(VerifyError::UnsupportedType)
        );
        assert_eq!(check_typ(None, true), Err(VerifyError::UnsupportedType));
        assert_eq!(check_typ(Some("at+jwt"), true), Ok(()));
    }

    #[test]
    fn other_typ_is_refused() {
        assert_eq!(
            check_typ(Some("JWS"), false),
            Err(VerifyError::UnsupportedType)
        );
        assert_eq!(
            check_typ(Some("id_token+jwt"), false),
            Err(VerifyError::UnsupportedType)
        );
    }

    #[test]
    fn new_outside_a_runtime_is_a_clear_error() {
        let config =
            VerifierConfig::new("https://t.example/".parse().expect("url"), vec!["a".into()]);
        let err = Verifier::new(config).expect_err("no runtime");
        assert!(err.to_string().contains("Tokio runtime"), "{err}");
    }
}
