//! [`Verifier`]: the one object an API builds at start-up and calls per request.
//!
//! The order of checks is deliberate: size cap, header (shape, `crit`, `alg` allow-list,
//! `typ`) before any key work; issuer selection; key lookup; signature; only then are the
//! claims checked. Nothing in a token can make us fetch anything but a configured issuer's
//! key set.
//!
//! Several issuers: each configured issuer gets its own [`KeyStore`] (discovery, JWKS cache,
//! cooldown, background refresh) and counters, built at start-up for the list only, so memory
//! is bounded by the configuration. The token's unverified `iss` selects the store, the way
//! Auth0's own multi-custom-domain middleware does: it is the one payload member read before
//! the signature, with the same duplicate-member refusal as the claim checks, and an `iss`
//! that is not on the list is refused right there, before any key lookup or network access.
//! The signature is then checked only against the selected issuer's keys, and the claim
//! checks compare `iss` again after it, so a key of one issuer never verifies a token claiming
//! another.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::claims::{self, ClaimPolicy};
use crate::clock::now_secs;
use crate::config::VerifierConfig;
use crate::fetch::Fetcher;
use crate::jws::{Compact, PublicKey};
use crate::keystore::KeyStore;
use crate::stats::IssuerStats;
use crate::stats::{Counters, Stats};
use crate::token_cache::{Entry, TokenCache, TokenHash};
use crate::{Algorithm, BuildError, Claims, VerifyError};

/// Verifies access tokens. Cheap to clone; build once at start-up.
#[derive(Clone)]
pub struct Verifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// The configured issuers, the main one first. Searched linearly: the list is short
    /// (bounded by `MAX_ISSUERS`) and a scan of a few string compares beats hashing.
    issuers: Box<[TrustedIssuer]>,
    leeway_secs: i64,
    allowed: Vec<Algorithm>,
    require_at_jwt: bool,
    max_token_bytes: usize,
    /// Outcomes and token-cache hits, over all issuers (a refusal may come before an issuer
    /// is known).
    counters: Arc<Counters>,
    token_cache: Option<Arc<TokenCache>>,
    // Dropped with the last Verifier clone, which tells every refresh task to stop.
    _shutdown: watch::Sender<()>,
}

/// One configured issuer: its exact `iss` (in `policy`), its own key store and fetch counters.
struct TrustedIssuer {
    policy: ClaimPolicy,
    store: Arc<KeyStore>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let issuers: Vec<_> = self.issuers().collect();
        f.debug_struct("Verifier")
            .field("issuers", &issuers)
            .field("audiences", &self.inner.issuers[0].policy.audiences)
            .field("algorithms", &self.inner.allowed)
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
        let mut allowed = config.algorithms.clone();
        allowed.dedup();
        let leeway_secs = config.leeway.as_secs() as i64;
        let token_cache = TokenCache::new(config.token_cache_bytes).map(Arc::new);
        let (shutdown, watcher) = watch::channel(());
        if let Some(cache) = &token_cache {
            TokenCache::spawn_sweeper(
                Arc::downgrade(cache),
                config.token_cache_sweep_every,
                leeway_secs,
                watcher.clone(),
            );
        }
        let issuers = config
            .all_issuers()
            .enumerate()
            .map(|(index, issuer)| {
                // An explicit JWKS URI belongs to the main issuer; the others discover theirs.
                let jwks_uri = if index == 0 {
                    config.jwks_uri.clone()
                } else {
                    None
                };
                let fetcher =
                    Fetcher::new(issuer.clone(), jwks_uri, &config.fetch).map_err(|e| {
                        BuildError::InvalidSetting {
                            setting: "fetch",
                            problem: format!("cannot build the HTTP client: {e}"),
                        }
                    })?;
                let counters = Arc::new(Counters::default());
                let on_rotation = token_cache.clone().map(|cache| {
                    Box::new(move |removed: &[String]| cache.purge_kids(index, removed))
                        as crate::keystore::RotationHook
                });
                let store = Arc::new(KeyStore::new(
                    fetcher,
                    config.cache.clone(),
                    allowed.clone(),
                    counters.clone(),
                    on_rotation,
                ));
                KeyStore::spawn_refresher(Arc::downgrade(&store), watcher.clone());
                Ok(TrustedIssuer {
                    policy: ClaimPolicy {
                        issuer: issuer.to_string(),
                        audiences: config.audiences_for(issuer).to_vec(),
                        leeway_secs,
                    },
                    store,
                    counters,
                })
            })
            .collect::<Result<Box<[_]>, BuildError>>()?;
        let listed: Vec<_> = issuers.iter().map(|i| i.policy.issuer.as_str()).collect();
        tracing::info!(issuers = ?listed, algorithms = ?allowed, "token verifier started");
        Ok(Self {
            inner: Arc::new(Inner {
                issuers,
                leeway_secs,
                allowed,
                require_at_jwt: config.require_at_jwt,
                max_token_bytes: config.max_token_bytes,
                counters: Arc::new(Counters::default()),
                token_cache,
                _shutdown: shutdown,
            }),
        })
    }

    /// Verifies `token` (the bare token, no `Bearer `) and returns its claims.
    ///
    /// The claims are shared: a token answered from the verified-token cache hands out the
    /// claims parsed when it was first verified, so a hit costs no JSON parsing.
    pub async fn verify(&self, token: &str) -> Result<Arc<Claims>, VerifyError> {
        let result = self.verify_claims(token).await;
        self.record(&result);
        result
    }

    /// The answer for `token` if it can be given without waiting, which is every answer but
    /// one that needs a key fetch (no usable key set yet, or a `kid` the set lacks): a
    /// verified-token cache hit, a full verification with a key at hand, or any refusal on
    /// the way. `None` means the token needs [`Verifier::verify`]. An answer is counted in the
    /// statistics like one from `verify`.
    ///
    /// For callers that can skip building a future for the common case (the API's validator
    /// answers such requests without allocating one).
    pub fn verify_now(&self, token: &str) -> Option<Result<Arc<Claims>, VerifyError>> {
        match self.answer_now(token) {
            Now::Answer(answer) => {
                self.record(&answer);
                Some(answer)
            }
            Now::NeedsKey(_) => None,
        }
    }

    /// Verifies `token` and deserializes its claims into the caller's type (read from the
    /// token's own payload, which the verification just vouched for).
    pub async fn verify_as<T: DeserializeOwned>(&self, token: &str) -> Result<T, VerifyError> {
        let result = self.verify_claims(token).await.and_then(|_| {
            let payload = crate::jws::payload_of(token)?;
            serde_json::from_slice::<T>(&payload).map_err(|_| VerifyError::Malformed("claims"))
        });
        self.record(&result);
        result
    }

    fn record<T>(&self, result: &Result<T, VerifyError>) {
        match result {
            Ok(_) => self.inner.counters.record_outcome(0),
            Err(e) => {
                self.inner.counters.record_outcome(e.outcome_index());
                tracing::debug!(outcome = e.outcome_label(), "token rejected");
            }
        }
    }

    /// [`Verifier::verify_now`] without the statistics: the answer, or, for a token whose key
    /// must be fetched, the work done so far.
    fn answer_now<'v, 't>(&'v self, token: &'t str) -> Now<'v, 't> {
        if token.len() > self.inner.max_token_bytes {
            return Now::Answer(Err(VerifyError::TooLarge));
        }
        let cached = self.cache_key(token);
        if let Some((cache, hash)) = &cached
            && let Some(answer) = self.answer_from_cache(cache, hash)
        {
            return Now::Answer(answer);
        }
        // A miss is verified here too when its key is at hand (the usual case: only an unknown
        // `kid` or a missing key set waits on a fetch), so it costs no future and the token
        // is hashed and looked up once.
        let unkeyed = match self.before_key(token) {
            Ok(unkeyed) => unkeyed,
            Err(e) => return Now::Answer(Err(e)),
        };
        let key = match self.inner.issuers[unkeyed.issuer]
            .store
            .key_now(unkeyed.compact.kid())
        {
            Some(Ok(key)) => key,
            Some(Err(e)) => return Now::Answer(Err(e)),
            None => return Now::NeedsKey(Pending { unkeyed, cached }),
        };
        Now::Answer(self.verify_with(unkeyed, &key, cached))
    }

    /// The verified-token cache and this token's key in it, if the cache is on.
    fn cache_key(&self, token: &str) -> Option<(&TokenCache, TokenHash)> {
        let cache = self.inner.token_cache.as_deref()?;
        Some((cache, cache.hash(token)?))
    }

    async fn verify_claims(&self, token: &str) -> Result<Arc<Claims>, VerifyError> {
        match self.answer_now(token) {
            Now::Answer(answer) => answer,
            // Only a token whose key needs a fetch gets here. Boxed so that the future of every
            // other token stays small: the key fetch is a few kilobytes of state that every
            // caller's future would otherwise carry and allocate on every request.
            Now::NeedsKey(pending) => Box::pin(self.verify_after_fetch(pending)).await,
        }
    }

    /// The answer for a cached token: `None` if it is not cached or its key is no longer
    /// trusted (then it must be verified from scratch).
    fn answer_from_cache(
        &self,
        cache: &TokenCache,
        hash: &TokenHash,
    ) -> Option<Result<Arc<Claims>, VerifyError>> {
        let verdict = cache.with_hit(hash, |entry, claims| {
            if !self.key_still_trusted(entry) {
                // Its key left the set (or the set is unusable): verify from scratch.
                return None;
            }
            Some(
                entry
                    .validity
                    .check(now_secs(), self.inner.leeway_secs)
                    .map(|()| claims.clone()),
            )
        })?;
        match verdict {
            Some(Ok(claims)) => {
                self.inner.counters.record_token_cache_hit();
                Some(Ok(claims))
            }
            Some(Err(e)) => {
                cache.remove(hash);
                Some(Err(e))
            }
            None => {
                cache.remove(hash);
                None
            }
        }
    }

    /// Verifies a token whose key [`KeyStore::key_now`] could not give: waits for the key (a
    /// single-flight fetch), then verifies as [`Verifier::answer_now`] does, with the parts and
    /// the cache key that pass already made (the token is not parsed or hashed again).
    async fn verify_after_fetch(
        &self,
        pending: Pending<'_, '_>,
    ) -> Result<Arc<Claims>, VerifyError> {
        let Pending { unkeyed, cached } = pending;
        let published_by = published_by(&unkeyed.payload, self.inner.leeway_secs);
        let key = self.inner.issuers[unkeyed.issuer]
            .store
            .key_for(unkeyed.compact.kid(), published_by)
            .await?;
        self.verify_with(unkeyed, &key, cached)
    }

    /// The signature and the claims of a token the cache could not answer, checked with `key`;
    /// a token that passes is cached under `cached`'s key.
    fn verify_with(
        &self,
        unkeyed: Unkeyed<'_>,
        key: &PublicKey,
        cached: Option<(&TokenCache, TokenHash)>,
    ) -> Result<Arc<Claims>, VerifyError> {
        let inner = &*self.inner;
        let Unkeyed {
            compact,
            payload,
            issuer,
        } = unkeyed;
        compact.verify_signature(key)?;
        let (validity, claims) =
            claims::check_and_read(&payload, &inner.issuers[issuer].policy, now_secs())?;
        let claims = Arc::new(claims);
        if let Some((cache, hash)) = cached {
            cache.insert(
                hash,
                Entry {
                    claims: claims.clone(),
                    validity,
                    issuer,
                    kid: compact.kid().map(str::to_owned),
                    key_fingerprint: key.fingerprint(),
                    alg: compact.alg(),
                    checked_generation: AtomicU64::new(0),
                },
            );
        }
        Ok(claims)
    }

    /// Whether the exact key that verified a cached token is still in its issuer's usable set
    /// and still allows the token's `alg`: the same material republished with another `alg`
    /// must not keep serving hits a fresh verification would refuse. A set is immutable and
    /// every fetch installs a new one with a new generation, so once the key was found in a
    /// set, later hits under that same set skip the lookup.
    fn key_still_trusted(&self, entry: &Entry) -> bool {
        let Some(issuer) = self.inner.issuers.get(entry.issuer) else {
            return false;
        };
        issuer
            .store
            .with_usable(|set| {
                if entry.checked_generation.load(Ordering::Relaxed) == set.generation {
                    return true;
                }
                let trusted = set.find(entry.kid.as_deref()).is_some_and(|k| {
                    k.fingerprint() == entry.key_fingerprint && k.allows(entry.alg)
                });
                if trusted {
                    entry
                        .checked_generation
                        .store(set.generation, Ordering::Relaxed);
                }
                trusted
            })
            .unwrap_or(false)
    }

    /// Number of entries in the verified-token cache (0 when it is off).
    pub fn token_cache_len(&self) -> usize {
        self.inner.token_cache.as_ref().map_or(0, |c| c.len())
    }

    /// Bytes held by the verified-token cache, as counted against `token_cache_bytes`.
    pub fn token_cache_bytes(&self) -> u64 {
        self.inner.token_cache.as_ref().map_or(0, |c| c.bytes())
    }

    /// Computes the verified-token cache's key for `token` and throws it away; `false` with the
    /// cache off. For the benchmark of the key's cost: the key itself never leaves the crate
    /// (its secrecy is what makes it safe, see `token_cache::TokenKeyer`).
    #[doc(hidden)]
    pub fn bench_token_cache_key(&self, token: &str) -> bool {
        self.inner
            .token_cache
            .as_ref()
            .and_then(|cache| cache.hash(token))
            .map(std::hint::black_box)
            .is_some()
    }

    /// Checks everything a verification checks before the signature (size, characters,
    /// header, `typ`, key lookup) and stops there. For benchmarks of the non-cryptographic
    /// part; it proves nothing about the token.
    #[doc(hidden)]
    pub async fn check_up_to_signature(&self, token: &str) -> Result<(), VerifyError> {
        if token.len() > self.inner.max_token_bytes {
            return Err(VerifyError::TooLarge);
        }
        let unkeyed = self.before_key(token)?;
        let store = &self.inner.issuers[unkeyed.issuer].store;
        let published_by = published_by(&unkeyed.payload, self.inner.leeway_secs);
        store
            .key_for(unkeyed.compact.kid(), published_by)
            .await
            .map(|_| ())
    }

    /// The steps before the key, shared by verification and the benchmark hook: the token's
    /// characters, the header under the allow-list, `typ`, and the issuer selected by the
    /// unverified `iss`. No I/O.
    fn before_key<'t>(&self, token: &'t str) -> Result<Unkeyed<'t>, VerifyError> {
        let inner = &*self.inner;
        // Here rather than in the header parser: a cache hit is a token that passed this once.
        if !crate::authorization::is_b64token(token.as_bytes()) {
            return Err(VerifyError::Malformed("characters outside b64token"));
        }
        let compact = Compact::parse(token, &inner.allowed)?;
        check_typ(compact.typ(), inner.require_at_jwt)?;
        let payload = compact.payload()?;
        let issuer = self.select_issuer(&payload)?;
        Ok(Unkeyed {
            compact,
            payload,
            issuer,
        })
    }

    /// The index of the configured issuer the unverified payload names. Refuses, without any
    /// I/O, an `iss` that is not listed.
    fn select_issuer(&self, payload: &[u8]) -> Result<usize, VerifyError> {
        let iss = claims::unverified_issuer(payload)?;
        self.inner
            .issuers
            .iter()
            .position(|i| i.policy.issuer == iss)
            .ok_or(VerifyError::Issuer)
    }

    /// Whether every configured issuer has a usable key set (fresh, or stale within the
    /// grace period). One issuer without keys keeps the whole verifier not ready, so that a
    /// misconfigured issuer shows at deployment rather than as refusals of its users.
    pub fn is_ready(&self) -> bool {
        self.inner
            .issuers
            .iter()
            .all(|i| i.store.usable_snapshot().is_some())
    }

    /// Whether the main issuer (`domain`'s) has a usable key set: what a replica's readiness
    /// follows. A further issuer without keys affects only its own tokens, and every replica
    /// would share that state, so it must not take them all out of a load balancer.
    pub fn is_main_issuer_ready(&self) -> bool {
        self.inner.issuers[0].store.usable_snapshot().is_some()
    }

    /// The main trusted issuer (`domain`'s).
    pub fn issuer(&self) -> &str {
        &self.inner.issuers[0].policy.issuer
    }

    /// Every trusted issuer, the main one first.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.inner.issuers.iter().map(|i| i.policy.issuer.as_str())
    }

    /// A snapshot of the counters: totals over all issuers, and each issuer's own.
    pub fn stats(&self) -> Stats {
        let mut stats = self.inner.counters.snapshot();
        for issuer in &self.inner.issuers {
            let own = issuer.counters.snapshot();
            let set = issuer.store.snapshot();
            let per = IssuerStats {
                issuer: issuer.policy.issuer.clone(),
                jwks_fetches: own.jwks_fetches,
                jwks_fetch_failures: own.jwks_fetch_failures,
                key_set_age: set.as_ref().map(|s| s.fetched_at.elapsed()),
                keys_loaded: set.as_ref().map_or(0, |s| s.len()),
                ready: issuer.store.usable_snapshot().is_some(),
            };
            stats.jwks_fetches += per.jwks_fetches;
            stats.jwks_fetch_failures += per.jwks_fetch_failures;
            stats.keys_loaded += per.keys_loaded;
            stats.key_set_age = stats.key_set_age.max(per.key_set_age);
            stats.issuers.push(per);
        }
        stats
    }
}

/// What [`Verifier::answer_now`] found: an answer, or a token whose key must be fetched.
enum Now<'v, 't> {
    Answer(Result<Arc<Claims>, VerifyError>),
    NeedsKey(Pending<'v, 't>),
}

/// The work done on a token before its key turned out to need a fetch, handed on so that the
/// verification after the fetch starts from it.
struct Pending<'v, 't> {
    unkeyed: Unkeyed<'t>,
    /// The verified-token cache and the token's key in it (the cache missed), if the cache is on.
    cached: Option<(&'v TokenCache, TokenHash)>,
}

/// What the steps before the key produce.
struct Unkeyed<'t> {
    compact: Compact<'t>,
    /// The decoded payload; not trusted until the signature is checked.
    payload: Vec<u8>,
    /// Index of the selected issuer.
    issuer: usize,
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

/// The latest time (seconds since the epoch, our clock) by which the key that signed a token
/// must have been published: now, since the token exists; earlier if its unverified `iat` says
/// it was issued earlier, allowing for the issuer's clock to be `leeway` behind ours and for
/// `iat`'s whole seconds. Only decides between "unknown key" (401) and "retry" (503) for a token
/// whose key we lack: a forged `iat` changes nothing but its own token's answer.
fn published_by(payload: &[u8], leeway_secs: i64) -> f64 {
    let arrival = now_secs();
    match claims::unverified_issued_at(payload) {
        Some(iat) => arrival.min(iat + leeway_secs as f64 + 1.0),
        None => arrival,
    }
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
