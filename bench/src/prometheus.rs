//! Our verifier's counters from `/metrics` (Prometheus text format), read before and after a
//! measurement to tell what share of it the verified-token cache answered. Only the two
//! counters we need are parsed; a Prometheus client library would be more than this needs.

/// The verifier's counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheCounters {
    /// `api_token_cache_hits_total`.
    pub hits: u64,
    /// The sum of `api_token_verifications_total` over every outcome.
    pub verifications: u64,
}

impl CacheCounters {
    /// Scrapes `url`; `None` when it cannot be read or lacks the counters.
    pub async fn scrape(client: &reqwest::Client, url: &str) -> Option<Self> {
        let text = client.get(url).send().await.ok()?.text().await.ok()?;
        Self::parse(&text)
    }

    /// Reads the counters from exposition text.
    pub fn parse(text: &str) -> Option<Self> {
        let value = |line: &str| {
            line.rsplit_once(' ')
                .and_then(|(_, v)| v.trim().parse::<f64>().ok())
        };
        let mut hits = None;
        let mut verifications = 0.0;
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if line.starts_with("api_token_cache_hits_total") {
                hits = value(line);
            } else if line.starts_with("api_token_verifications_total") {
                verifications += value(line).unwrap_or(0.0);
            }
        }
        Some(Self {
            hits: hits? as u64,
            verifications: verifications as u64,
        })
    }

    /// The share of verifications between `self` and `later` that the cache answered.
    pub fn hit_ratio_until(self, later: Self) -> Option<f64> {
        let verifications = later.verifications.checked_sub(self.verifications)?;
        (verifications > 0)
            .then(|| later.hits.saturating_sub(self.hits) as f64 / verifications as f64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_counters_sum_every_verification_outcome() {
        let text = "# HELP api_token_cache_hits_total x\n# TYPE api_token_cache_hits_total counter\n\
api_token_cache_hits_total 90\n\
api_token_verifications_total{outcome=\"ok\"} 100\n\
api_token_verifications_total{outcome=\"signature\"} 20\n";
        let c = CacheCounters::parse(text).expect("parses");
        assert_eq!(c.hits, 90);
        assert_eq!(c.verifications, 120);
    }

    #[test]
    fn metrics_without_the_cache_counter_give_nothing() {
        assert!(
            CacheCounters::parse("api_token_verifications_total{outcome=\"ok\"} 1\n").is_none()
        );
    }

    #[test]
    fn hit_ratio_is_over_the_verifications_in_between() {
        let before = CacheCounters {
            hits: 10,
            verifications: 20,
        };
        let after = CacheCounters {
            hits: 85,
            verifications: 120,
        };
        assert_eq!(before.hit_ratio_until(after), Some(0.75));
        assert_eq!(before.hit_ratio_until(before), None);
    }
}
