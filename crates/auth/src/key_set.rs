//! [`KeySet`]: one fetched, parsed JWK Set, immutable once built, and [`Wanted`], what a token
//! whose kid the set lacks waits for before it can be answered for good.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::Algorithm;
use crate::fetch::FetchError;
use crate::jws::{self, PublicKey};

/// One fetched, parsed key set. Immutable once built; replaced wholesale.
#[derive(Debug)]
pub(crate) struct KeySet {
    by_kid: HashMap<String, Arc<PublicKey>>,
    /// Kids that earlier sets held and this one does not (the latest [`MAX_WITHDRAWN`]): a
    /// token naming one is settled, whenever it was issued, since the issuer withdrew its key.
    withdrawn: HashSet<String>,
    /// The key for tokens without `kid`: set only when the set holds exactly one key.
    only: Option<Arc<PublicKey>>,
    len: usize,
    pub fetched_at: Instant,
    /// When the fetch that produced the set was sent, in seconds since the Unix epoch (wall
    /// clock, comparable with a token's `iat`): every key published before then is in it.
    fetch_started: f64,
    /// The end of the set's lifetime plus the stale grace: past this the set is not used at all.
    usable_until: Instant,
    pub generation: u64,
    /// When the background task refreshes the set (see [`KeySet::refresh_due`]).
    refresh_at: Instant,
}

/// The share of a set's lifetime after which it is refreshed ahead: drawn per set from
/// [`REFRESH_EARLIEST`, `REFRESH_LATEST`], so that replicas started together, which load
/// their first sets at the same moment, do not fetch the JWKS in lockstep ever after.
const REFRESH_LATEST: f64 = 0.75;
const REFRESH_EARLIEST: f64 = 0.60;

impl KeySet {
    /// Builds a set from a JWKS document; an empty usable set is a failed fetch.
    pub fn parse(
        body: &[u8],
        allowed: &[Algorithm],
    ) -> Result<(Vec<Arc<PublicKey>>, usize), FetchError> {
        let parsed = jws::parse_jwk_set(body, allowed).ok_or(FetchError::InvalidJwks)?;
        if parsed.keys.is_empty() {
            return Err(FetchError::NoUsableKeys {
                skipped: parsed.skipped,
            });
        }
        Ok((
            parsed.keys.into_iter().map(Arc::new).collect(),
            parsed.skipped,
        ))
    }

    pub fn new(
        keys: Vec<Arc<PublicKey>>,
        previous: Option<&KeySet>,
        fetch_started: f64,
        ttl: Duration,
        stale_grace: Duration,
        generation: u64,
    ) -> Self {
        let now = Instant::now();
        let expires_at = later(now, ttl);
        let share =
            REFRESH_LATEST - (REFRESH_LATEST - REFRESH_EARLIEST) * crate::keystore::unit_random();
        let refresh_at = later(now, ttl.mul_f64(share));
        let only = (keys.len() == 1).then(|| keys[0].clone());
        let by_kid: HashMap<String, Arc<PublicKey>> = keys
            .iter()
            .filter_map(|k| k.kid().map(|kid| (kid.to_owned(), k.clone())))
            .collect();
        let withdrawn = previous
            .into_iter()
            .flat_map(|p| p.by_kid.keys().chain(&p.withdrawn))
            .filter(|kid| !by_kid.contains_key(kid.as_str()))
            .take(MAX_WITHDRAWN)
            .cloned()
            .collect();
        Self {
            by_kid,
            withdrawn,
            only,
            len: keys.len(),
            fetched_at: now,
            fetch_started,
            usable_until: later(expires_at, stale_grace),
            generation,
            refresh_at,
        }
    }

    /// Whether the set may still be used (fresh, or stale within the grace).
    pub fn is_usable(&self) -> bool {
        Instant::now() < self.usable_until
    }

    /// The key for a token's `kid`; without a kid, the single key if there is exactly one.
    pub fn find(&self, kid: Option<&str>) -> Option<&Arc<PublicKey>> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None => self.only.as_ref(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// When the background task refreshes this set: between 60 % and 75 % of its lifetime
    /// (drawn once per set), early enough that a slow or failing issuer still leaves at least a
    /// quarter of the TTL (plus the grace) to recover, and spread so that replicas do not
    /// refresh together.
    pub fn refresh_due(&self) -> Instant {
        self.refresh_at
    }

    pub fn kids(&self) -> HashSet<&str> {
        self.by_kid.keys().map(String::as_str).collect()
    }
}

/// How many withdrawn kids a set remembers (the issuer's, not a client's: bounded by rotations).
const MAX_WITHDRAWN: usize = 64;

/// `t + d`, or `t` itself in the (configuration-excluded) case that the sum overflows: a
/// deadline that cannot be represented becomes "now", which expires early rather than never.
pub(crate) fn later(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or(t)
}

/// What a request with a kid the set lacks is waiting for: a set that holds `kid`, or one whose
/// fetch was sent no earlier than `published_by`, the latest time (seconds since the Unix
/// epoch, our clock) at which the token's key must have been published.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Wanted<'a> {
    pub kid: &'a str,
    pub published_by: f64,
}

impl Wanted<'_> {
    /// Whether `set` answers the request for good: it holds the key; or the issuer withdrew
    /// the kid; or the set was fetched after the key must have been published and so shows
    /// that the key is not the issuer's.
    pub fn settled_by(&self, set: &KeySet) -> bool {
        set.find(Some(self.kid)).is_some()
            || set.withdrawn.contains(self.kid)
            || set.fetch_started >= self.published_by
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_refresh_is_due_between_60_and_75_percent_of_the_lifetime_and_varies() {
        let due: Vec<Duration> = (0..32)
            .map(|_| {
                let set = KeySet::new(
                    Vec::new(),
                    None,
                    0.0,
                    Duration::from_secs(1000),
                    Duration::ZERO,
                    1,
                );
                set.refresh_due() - set.fetched_at
            })
            .collect();
        for d in &due {
            assert!(
                (Duration::from_secs(600)..=Duration::from_secs(750)).contains(d),
                "{d:?}"
            );
        }
        assert!(
            due.iter().any(|d| *d != due[0]),
            "32 sets all due at the same moment: no jitter"
        );
    }

    #[test]
    fn an_unrepresentable_deadline_expires_early_instead_of_panicking() {
        let now = Instant::now();
        assert_eq!(later(now, Duration::MAX), now);
        assert_eq!(
            later(now, Duration::from_secs(1)),
            now + Duration::from_secs(1)
        );
    }
}
