//! The key-set cache: lock-free reads, single-flight refreshes, refresh-ahead, stale grace.
//!
//! Concurrency, who holds what:
//! - `current` is an [`ArcSwapOption`]: a verification loads the snapshot without any lock and
//!   never waits on I/O when the token's key is in it.
//! - `refresh` (a Tokio mutex) is the single-flight guard. Whoever holds it is the only one
//!   fetching; everyone else who needs a fetch queues on it and, once in, first looks whether
//!   the set changed while they waited (then they use it and do not fetch). It is held during
//!   I/O, which is why the hot path never takes it.
//! - Requests whose `kid` the usable set lacks first pass the [`KidGate`], two atomics read
//!   without any lock: only the one request that claims the cooldown's fetch (and requests
//!   following that very fetch) ever wait; the rest are answered at once.
//! - The background task (spawned by [`KeyStore::spawn_refresher`]) refreshes ahead of expiry
//!   and retries failures with exponential backoff and jitter. It holds only a `Weak` to the
//!   store and ends when the last `Verifier` clone is dropped.
//!
//! Rules: a failed fetch never replaces a good set; a set keeps serving up to `stale_grace`
//! past its expiry; an unknown `kid` triggers at most one fetch per cooldown. A kid is called
//! unknown (401) only when the set at hand was fetched after the token's key must have been
//! published (see [`KeyStore::settle`]); until such a fetch has happened, or when it failed, the
//! answer is "unavailable, retry" (503) with a `Retry-After` no shorter than the wait for the
//! next fetch the API will really make: the token may be valid and must not be thrown away.
//! Instants are computed with checked arithmetic: configuration bounds keep them far from
//! overflow, and should one overflow anyway the result errs towards expiring early.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use tokio::sync::{Mutex, watch};

use crate::config::CacheSettings;
use crate::fetch::{FetchError, Fetcher};
use crate::jws::PublicKey;
use crate::key_set::{KeySet, Wanted, later};
use crate::kid_gate::{KidGate, Pass};
use crate::stats::Counters;
use crate::untrusted::Untrusted;
use crate::{Algorithm, VerifyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    /// No usable set at all (first load, or past the stale grace).
    NoUsableSet,
    /// A token named a kid the current set lacks.
    UnknownKid,
    /// Refresh-ahead or retry from the background task.
    Background,
}

/// Failure bookkeeping, guarded by the single-flight mutex.
#[derive(Debug, Default)]
struct RefreshState {
    consecutive_failures: u32,
    /// Do not start another demand-driven fetch before this (backoff after a failure).
    retry_not_before: Option<Instant>,
    generation: u64,
}

/// A key set's lifetime: the server's `max-age` clamped to `[min_ttl, max_ttl]`, else the default.
fn lifetime(max_age: Option<Duration>, s: &CacheSettings) -> Duration {
    max_age.map_or(s.default_ttl, |age| age.clamp(s.min_ttl, s.max_ttl))
}

/// `Retry-After` is whole seconds: round the wait up (never earlier than the API looks again),
/// at least 1 s. The waits are bounded by the configuration (cooldown and backoff at most 1 h).
fn retry_after(wait: Duration) -> Duration {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Duration::from_secs(secs.max(1))
}

/// A uniform draw from [0, 1) for the jitter, from aws-lc-rs's generator (already linked for the
/// signatures, so no second random-number crate). Should the OS generator fail, the midpoint: a
/// jitter-free retry is still a retry.
pub(crate) fn unit_random() -> f64 {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return 0.5;
    }
    // The top 53 bits fill an f64 mantissa exactly.
    (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64
}

/// Called with the kids that left the set on every rotation (the token cache purges them).
pub(crate) type RotationHook = Box<dyn Fn(&[String]) + Send + Sync>;

pub(crate) struct KeyStore {
    current: ArcSwapOption<KeySet>,
    refresh: Mutex<RefreshState>,
    kid_gate: KidGate,
    fetcher: Fetcher,
    settings: CacheSettings,
    allowed: Vec<Algorithm>,
    counters: Arc<Counters>,
    on_rotation: Option<RotationHook>,
}

impl std::fmt::Debug for KeyStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyStore")
            .field("fetcher", &self.fetcher)
            .field("keys", &self.current.load().as_ref().map(|s| s.len()))
            .finish_non_exhaustive()
    }
}

impl KeyStore {
    pub fn new(
        fetcher: Fetcher,
        settings: CacheSettings,
        allowed: Vec<Algorithm>,
        counters: Arc<Counters>,
        on_rotation: Option<RotationHook>,
    ) -> Self {
        Self {
            current: ArcSwapOption::const_empty(),
            refresh: Mutex::new(RefreshState::default()),
            kid_gate: KidGate::new(settings.unknown_kid_cooldown),
            fetcher,
            settings,
            allowed,
            counters,
            on_rotation,
        }
    }

    /// The current snapshot if it may still be used (fresh, or stale within the grace).
    pub fn usable_snapshot(&self) -> Option<Arc<KeySet>> {
        self.current.load_full().filter(|s| s.is_usable())
    }

    /// Runs `f` on the current snapshot if it may still be used, without taking a reference
    /// count on it: the per-request path (a token-cache hit) would otherwise bump and drop one
    /// shared counter per request, a cache line every worker thread writes.
    pub fn with_usable<R>(&self, f: impl FnOnce(&KeySet) -> R) -> Option<R> {
        let guard = self.current.load();
        guard.as_deref().filter(|s| s.is_usable()).map(f)
    }

    /// The current snapshot, usable or not (for stats).
    pub fn snapshot(&self) -> Option<Arc<KeySet>> {
        self.current.load_full()
    }

    /// The key for a token's `kid` if the usable set settles it without waiting: the key, or
    /// [`VerifyError::UnknownKey`] for a token without a `kid` that the set cannot match (a
    /// fetch would not help). `None` when the answer needs [`KeyStore::key_for`]: there is no
    /// usable set, or the set lacks the `kid`.
    pub fn key_now(&self, kid: Option<&str>) -> Option<Result<Arc<PublicKey>, VerifyError>> {
        self.with_usable(|set| match (set.find(kid), kid) {
            (Some(key), _) => Some(Ok(key.clone())),
            (None, None) => Some(Err(VerifyError::UnknownKey)),
            (None, Some(_)) => None,
        })
        .flatten()
    }

    /// The key for a token. Never touches the refresh guard when the key is in a usable set.
    ///
    /// `published_by` is the latest time (seconds since the Unix epoch, our clock) at which the
    /// token's key must have been public: the request's arrival, or earlier for a token whose
    /// `iat` says it is older. A kid the set lacks is [`VerifyError::UnknownKey`] only when the
    /// set was fetched after that time; before, the key may simply be newer than our set.
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        published_by: f64,
    ) -> Result<Arc<PublicKey>, VerifyError> {
        let snapshot = self.current.load_full();
        let seen = snapshot.as_ref().map_or(0, |s| s.generation);
        match snapshot {
            Some(set) if set.is_usable() => {
                if let Some(key) = set.find(kid) {
                    return Ok(key.clone());
                }
                let Some(kid) = kid else {
                    // No kid and not exactly one key: refetching would not help.
                    return Err(VerifyError::UnknownKey);
                };
                self.key_for_unknown_kid(Wanted { kid, published_by }, seen)
                    .await
            }
            _ => match self.refresh(Reason::NoUsableSet, seen, None).await {
                Ok(set) => match kid {
                    // A set another request's fetch installed while this one queued may have
                    // been fetched before this token arrived: then the kid goes through the
                    // gate like any the set lacks (a fetch of its own if the cooldown allows).
                    Some(kid) => {
                        let wanted = Wanted { kid, published_by };
                        if wanted.settled_by(&set) {
                            self.settle(wanted)
                        } else {
                            self.key_for_unknown_kid(wanted, set.generation).await
                        }
                    }
                    None => set.find(None).cloned().ok_or(VerifyError::UnknownKey),
                },
                Err(wait) => Err(VerifyError::KeySetUnavailable {
                    retry_after: retry_after(wait),
                }),
            },
        }
    }

    /// A kid the usable set lacks: through the [`KidGate`], at most one fetch per cooldown.
    async fn key_for_unknown_kid(
        &self,
        wanted: Wanted<'_>,
        seen: u64,
    ) -> Result<Arc<PublicKey>, VerifyError> {
        match self.kid_gate.enter() {
            Pass::Fetch(ticket) => {
                tracing::debug!(
                    kid = ?Untrusted(wanted.kid),
                    "token names an unknown kid; refreshing the key set"
                );
                // A failure is answered by `settle` like any unsettled kid.
                let _ = self.refresh(Reason::UnknownKid, seen, Some(wanted)).await;
                drop(ticket);
            }
            Pass::Follow(mut done) => {
                // Bounded by the fetch's timeouts; the ticket wakes us however the fetch ends.
                let _ = done.changed().await;
            }
            Pass::Wait => {}
        }
        self.settle(wanted)
    }

    /// The answer for a kid once no fetch is running for it: the key if the usable set holds
    /// it; [`VerifyError::UnknownKey`] if that set was fetched after the key must have been
    /// published; otherwise the key may be newer than every set we fetched (or the fetch
    /// failed), so the client must keep its token and come back when the API may fetch again:
    /// [`VerifyError::KeySetUnavailable`] with that wait. A client that returns then claims
    /// (or follows) that fetch, which settles its token, so a bogus kid is not 503 forever;
    /// an attacker's kids change only their own answers, and never the number of fetches.
    fn settle(&self, wanted: Wanted<'_>) -> Result<Arc<PublicKey>, VerifyError> {
        if let Some(set) = self.usable_snapshot() {
            if let Some(key) = set.find(Some(wanted.kid)) {
                return Ok(key.clone());
            }
            if wanted.settled_by(&set) {
                return Err(VerifyError::UnknownKey);
            }
        }
        Err(VerifyError::KeySetUnavailable {
            retry_after: retry_after(self.kid_gate.next_fetch_in()),
        })
    }

    /// Single-flight refresh. `seen` is the generation the caller saw; if the set moved on
    /// while the caller queued for the guard, the new set is the answer and nothing is fetched
    /// (for an unknown kid, only if that set settles `wanted`: the caller holds the cooldown's
    /// claim, so fetching anyway keeps the bound). The error is the suggested wait before
    /// retrying.
    async fn refresh(
        &self,
        reason: Reason,
        seen: u64,
        wanted: Option<Wanted<'_>>,
    ) -> Result<Arc<KeySet>, Duration> {
        let mut state = self.refresh.lock().await;
        let now = Instant::now();
        if let Some(set) = self.usable_snapshot()
            && set.generation != seen
            && reason != Reason::Background
            && wanted.is_none_or(|w| w.settled_by(&set))
        {
            return Ok(set);
        }
        // Unknown-kid fetches are rationed by the KidGate before they get here.
        if reason == Reason::NoUsableSet
            && let Some(t) = state.retry_not_before
            && now < t
        {
            return Err(t - now);
        }
        let fetch_started = crate::clock::now_secs();
        match self.fetch_and_parse().await {
            Ok((keys, ttl, skipped)) => {
                state.generation += 1;
                state.consecutive_failures = 0;
                state.retry_not_before = None;
                let set = Arc::new(KeySet::new(
                    keys,
                    self.current.load().as_deref(),
                    fetch_started,
                    ttl,
                    self.settings.stale_grace,
                    state.generation,
                ));
                let old = self.current.swap(Some(set.clone()));
                self.log_install(old.as_deref(), &set, skipped, ttl, reason);
                Ok(set)
            }
            Err(err) => {
                Counters::bump(&self.counters.fetch_failures);
                state.consecutive_failures = state.consecutive_failures.saturating_add(1);
                let wait = self.backoff(state.consecutive_failures);
                state.retry_not_before = Some(later(Instant::now(), wait));
                let serving_stale = self.usable_snapshot().is_some();
                tracing::warn!(
                    error = %err,
                    failures = state.consecutive_failures,
                    retry_in_ms = wait.as_millis() as u64,
                    serving_stale,
                    "JWKS fetch failed; keeping the last good key set"
                );
                Err(wait)
            }
        }
    }

    async fn fetch_and_parse(&self) -> Result<(Vec<Arc<PublicKey>>, Duration, usize), FetchError> {
        let fetched = self.fetcher.fetch_jwks(&self.counters).await?;
        let (keys, skipped) = KeySet::parse(&fetched.body, &self.allowed)?;
        let ttl = lifetime(fetched.max_age, &self.settings);
        tracing::debug!(url = %fetched.url, bytes = fetched.body.len(), "JWKS fetched");
        Ok((keys, ttl, skipped))
    }

    fn log_install(
        &self,
        old: Option<&KeySet>,
        new: &KeySet,
        skipped: usize,
        ttl: Duration,
        reason: Reason,
    ) {
        let new_kids = new.kids();
        let (added, removed): (Vec<String>, Vec<String>) = match old {
            None => (
                new_kids.iter().map(|k| (*k).to_owned()).collect(),
                Vec::new(),
            ),
            Some(old) => {
                let old_kids = old.kids();
                (
                    new_kids
                        .difference(&old_kids)
                        .map(|k| (*k).to_owned())
                        .collect(),
                    old_kids
                        .difference(&new_kids)
                        .map(|k| (*k).to_owned())
                        .collect(),
                )
            }
        };
        if old.is_some() && (!added.is_empty() || !removed.is_empty()) {
            let shown = |kids: &[String]| -> Vec<String> {
                kids.iter().map(|k| format!("{:?}", Untrusted(k))).collect()
            };
            tracing::info!(
                added = ?shown(&added),
                removed = ?shown(&removed),
                keys = new.len(),
                "signing keys rotated"
            );
        }
        if !removed.is_empty()
            && let Some(hook) = &self.on_rotation
        {
            hook(&removed);
        }
        tracing::info!(
            keys = new.len(),
            skipped,
            ttl_s = ttl.as_secs(),
            reason = ?reason,
            generation = new.generation,
            "key set loaded"
        );
    }

    /// Exponential backoff with "equal jitter": half fixed, half random, so that many
    /// instances that failed together do not retry together.
    fn backoff(&self, failures: u32) -> Duration {
        let s = &self.settings;
        let exp = s
            .retry_initial_backoff
            .saturating_mul(1u32 << failures.saturating_sub(1).min(20))
            .min(s.retry_max_backoff);
        let half = exp / 2;
        half + half.mul_f64(unit_random())
    }

    /// When the background task should next act.
    async fn next_background_delay(&self) -> Duration {
        let state = self.refresh.lock().await;
        let now = Instant::now();
        if let Some(t) = state.retry_not_before {
            return t.saturating_duration_since(now);
        }
        match self.current.load_full() {
            None => Duration::ZERO,
            Some(set) => set.refresh_due().saturating_duration_since(now),
        }
    }

    /// Starts the refresh-ahead task. It stops when `shutdown`'s sender is dropped (with the
    /// last verifier) or the store is gone.
    pub fn spawn_refresher(store: Weak<Self>, mut shutdown: watch::Receiver<()>) {
        tokio::spawn(async move {
            loop {
                let delay = match store.upgrade() {
                    Some(s) => s.next_background_delay().await,
                    None => return,
                };
                if !delay.is_zero() {
                    tokio::select! {
                        () = tokio::time::sleep(delay) => {}
                        _ = shutdown.changed() => return,
                    }
                    // The set may have been refreshed on demand while we slept: recompute.
                    let Some(s) = store.upgrade() else { return };
                    if !s.next_background_delay().await.is_zero() {
                        continue;
                    }
                }
                let Some(s) = store.upgrade() else { return };
                let seen = s.current.load().as_ref().map_or(0, |set| set.generation);
                tokio::select! {
                    _ = s.refresh(Reason::Background, seen, None) => {}
                    _ = shutdown.changed() => return,
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_draws_stay_in_the_unit_interval_and_vary() {
        let draws: Vec<f64> = (0..64).map(|_| unit_random()).collect();
        assert!(draws.iter().all(|d| (0.0..1.0).contains(d)), "{draws:?}");
        assert!(draws.iter().any(|d| *d != draws[0]), "{draws:?}");
    }

    #[test]
    fn retry_after_is_the_wait_rounded_up_to_whole_seconds_and_at_least_one() {
        assert_eq!(retry_after(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            retry_after(Duration::from_millis(1500)),
            Duration::from_secs(2)
        );
        // A long cooldown is not shortened: the client would come back before the API looks.
        assert_eq!(
            retry_after(Duration::from_secs(600)),
            Duration::from_secs(600)
        );
    }

    #[test]
    fn default_lifetime_caps_an_issuers_day_long_max_age_at_one_hour() {
        let day = Duration::from_secs(24 * 3600);
        assert_eq!(
            lifetime(Some(day), &CacheSettings::default()),
            Duration::from_secs(3600)
        );
    }

    #[test]
    fn lifetime_without_max_age_is_the_default() {
        assert_eq!(
            lifetime(None, &CacheSettings::default()),
            Duration::from_secs(600)
        );
    }
}
