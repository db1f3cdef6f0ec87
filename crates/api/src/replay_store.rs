//! Which DPoP replay store the API uses (`API_REPLAY_STORE`), and the counters around it.
//!
//! `memory` (the default) keeps used proofs in this process (`auth::dpop::MemoryReplayStore`);
//! `redis://…` keeps them in Redis ([`crate::redis_store`]), shared by every replica. The Redis
//! store lives here, not in `auth`: `auth` stays free of network clients other than its key
//! fetcher, and only the API binary needs one.
//!
//! [`CountedStore`] wraps whichever store is used and counts each check by outcome and its
//! latency, for `/metrics` (`api_dpop_replay_checks_total`, `api_dpop_replay_check_seconds`).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use app_config::ConfigError;
use auth::counters::PerThreadCounters;
use auth::dpop::{ProofId, ReplayFuture, ReplayStore, ReplayVerdict};

/// The setting's name.
pub const SETTING: &str = "API_REPLAY_STORE";

/// Where used DPoP proofs are recorded.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum ReplayStoreKind {
    /// In this process (each replica has its own).
    #[default]
    Memory,
    /// In the Redis server at this URL (`redis://[user:pass@]host:port[/db]`).
    Redis(String),
}

impl fmt::Debug for ReplayStoreKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Memory => f.write_str("Memory"),
            Self::Redis(url) => write!(f, "Redis({})", crate::redis_store::shown_url(url)),
        }
    }
}

impl ReplayStoreKind {
    /// Parses `API_REPLAY_STORE`: `memory` or a `redis://` URL; any other scheme is refused,
    /// naming it.
    pub fn parse(value: &str) -> Result<Self, ConfigError> {
        let value = value.trim();
        if value.is_empty() || value.eq_ignore_ascii_case("memory") {
            return Ok(Self::Memory);
        }
        let fix = "use memory, or redis://[user:pass@]host:port[/db]";
        let Some((scheme, _)) = value.split_once("://") else {
            return Err(ConfigError::new(
                SETTING,
                format!(
                    "{:?} is neither memory nor a redis:// URL",
                    crate::redis_store::shown_url(value)
                ),
                fix,
            ));
        };
        if !scheme.eq_ignore_ascii_case("redis") {
            return Err(ConfigError::new(
                SETTING,
                format!("the scheme {scheme:?} is not supported"),
                fix,
            ));
        }
        // The client's own error text is not shown: it may quote the URL, password included.
        redis::Client::open(value).map_err(|_| {
            ConfigError::new(
                SETTING,
                format!(
                    "{} is not a valid Redis URL",
                    crate::redis_store::shown_url(value)
                ),
                fix,
            )
        })?;
        Ok(Self::Redis(value.to_owned()))
    }

    /// Whether replicas share it.
    pub fn is_shared(&self) -> bool {
        matches!(self, Self::Redis(_))
    }
}

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 10] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.1, 0.25,
];

/// Outcome labels, in [`Outcome`] order.
const OUTCOMES: [&str; 4] = ["fresh", "replay", "key_limit", "error"];

/// The index of the latency sum in `CountedStore`'s counters, after the outcomes and buckets.
const LATENCY_SUM: usize = OUTCOMES.len() + BUCKETS.len();

/// A replay store with its checks counted by outcome and timed.
pub struct CountedStore {
    inner: Arc<dyn ReplayStore>,
    /// Per thread (`auth::counters`), as every counter bumped on every DPoP request: the
    /// outcomes (`OUTCOMES` order), then the buckets (`BUCKETS` order), then the latency sum in
    /// microseconds.
    counters: PerThreadCounters,
}

impl fmt::Debug for CountedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CountedStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

/// A snapshot of [`CountedStore`]'s counters.
#[derive(Debug, Clone, PartialEq)]
pub struct ReplayCheckStats {
    /// Checks by outcome label (`fresh`, `replay`, `key_limit`, `error`).
    pub outcomes: Vec<(&'static str, u64)>,
    /// Cumulative histogram: (upper bound in seconds, checks at most that slow).
    pub buckets: Vec<(f64, u64)>,
    /// Every check's latency added up, in seconds.
    pub latency_sum_secs: f64,
    /// How many checks (the histogram's `+Inf` bucket).
    pub count: u64,
}

impl CountedStore {
    /// Counts the checks of `inner`.
    pub fn new(inner: Arc<dyn ReplayStore>) -> Self {
        Self {
            inner,
            counters: PerThreadCounters::new(LATENCY_SUM + 1),
        }
    }

    fn observe(&self, verdict: ReplayVerdict, took: Duration) {
        let outcome = match verdict {
            ReplayVerdict::Fresh => 0,
            ReplayVerdict::Replayed => 1,
            ReplayVerdict::KeyLimit { .. } => 2,
            ReplayVerdict::Unavailable => 3,
        };
        self.counters.bump(outcome);
        let secs = took.as_secs_f64();
        if let Some(bucket) = BUCKETS.iter().position(|bound| secs <= *bound) {
            self.counters.bump(OUTCOMES.len() + bucket);
        }
        self.counters.add(
            LATENCY_SUM,
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
        );
    }

    /// The counters now.
    pub fn stats(&self) -> ReplayCheckStats {
        let totals = self.counters.totals();
        let (counts, rest) = totals.split_at(OUTCOMES.len());
        let outcomes: Vec<_> = OUTCOMES
            .iter()
            .copied()
            .zip(counts.iter().copied())
            .collect();
        let mut cumulative = 0;
        let buckets = BUCKETS
            .iter()
            .zip(rest)
            .map(|(bound, count)| {
                cumulative += count;
                (*bound, cumulative)
            })
            .collect();
        ReplayCheckStats {
            count: counts.iter().sum(),
            outcomes,
            buckets,
            latency_sum_secs: rest.get(BUCKETS.len()).copied().unwrap_or(0) as f64 / 1e6,
        }
    }
}

impl ReplayStore for CountedStore {
    fn check_and_record(&self, id: ProofId, now_ms: u64, expires_at_ms: u64) -> ReplayFuture<'_> {
        let started = Instant::now();
        let check = self.inner.check_and_record(id, now_ms, expires_at_ms);
        Box::pin(async move {
            let verdict = check.await;
            self.observe(verdict, started.elapsed());
            verdict
        })
    }

    fn check_and_record_now(
        &self,
        id: ProofId,
        now_ms: u64,
        expires_at_ms: u64,
    ) -> Option<ReplayVerdict> {
        let started = Instant::now();
        let verdict = self.inner.check_and_record_now(id, now_ms, expires_at_ms)?;
        self.observe(verdict, started.elapsed());
        Some(verdict)
    }

    fn entries(&self) -> Option<usize> {
        self.inner.entries()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_is_the_default_and_its_own_name() {
        assert_eq!(ReplayStoreKind::parse(""), Ok(ReplayStoreKind::Memory));
        assert_eq!(
            ReplayStoreKind::parse("memory"),
            Ok(ReplayStoreKind::Memory)
        );
    }

    #[test]
    fn a_redis_url_is_taken_with_credentials_and_database() {
        assert_eq!(
            ReplayStoreKind::parse("redis://user:pw@127.0.0.1:6390/2"),
            Ok(ReplayStoreKind::Redis(
                "redis://user:pw@127.0.0.1:6390/2".into()
            ))
        );
    }

    #[test]
    fn an_unknown_scheme_is_refused_naming_it() {
        let err = ReplayStoreKind::parse("memcached://127.0.0.1:11211").expect_err("refused");
        assert_eq!(err.setting, SETTING);
        assert_eq!(err.problem, "the scheme \"memcached\" is not supported");
    }

    #[test]
    fn a_password_in_a_refused_value_is_not_shown() {
        let err = ReplayStoreKind::parse("redis://u:hunter2@cache:notaport").expect_err("refused");
        assert!(!err.to_string().contains("hunter2"), "{err}");
    }

    #[tokio::test]
    async fn checks_are_counted_by_outcome_and_timed() {
        let store = CountedStore::new(Arc::new(auth::dpop::MemoryReplayStore::new(10)));
        let id = ProofId::new("k", "j");
        assert_eq!(
            store.check_and_record(id, 0, 1000).await,
            ReplayVerdict::Fresh
        );
        assert_eq!(
            store.check_and_record(id, 1, 1000).await,
            ReplayVerdict::Replayed
        );
        let stats = store.stats();
        assert_eq!(
            stats.outcomes,
            [("fresh", 1), ("replay", 1), ("key_limit", 0), ("error", 0)]
        );
        assert_eq!(stats.count, 2);
        assert_eq!(
            stats.buckets.last(),
            Some(&(0.25, 2)),
            "in-memory checks are fast"
        );
    }

    #[test]
    fn checks_answered_at_once_are_counted_and_timed() {
        let store = CountedStore::new(Arc::new(auth::dpop::MemoryReplayStore::new(10)));
        let id = ProofId::new("k", "j");
        assert_eq!(
            store.check_and_record_now(id, 0, 1000),
            Some(ReplayVerdict::Fresh)
        );
        assert_eq!(
            store.check_and_record_now(id, 1, 1000),
            Some(ReplayVerdict::Replayed)
        );
        let stats = store.stats();
        assert_eq!(
            stats.outcomes,
            [("fresh", 1), ("replay", 1), ("key_limit", 0), ("error", 0)]
        );
        assert_eq!(stats.buckets.last(), Some(&(0.25, 2)));
    }
}
