//! The verifier's configuration: typed, with safe defaults, validated once by [`Verifier::new`].
//!
//! Validation lives here so that a bad setting is refused at start-up with a message naming
//! it, never discovered at the first request.
//!
//! [`Verifier::new`]: crate::Verifier::new

use std::time::Duration;

use url::Url;

use crate::Algorithm;

/// Everything the verifier needs, validated by [`Verifier::new`](crate::Verifier::new).
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Issuer identifier; `iss` must equal it exactly (e.g. `https://tenant.auth0.com/`).
    pub issuer: Url,
    /// Further trusted issuers (e.g. an Auth0 custom domain `https://login.example.com/`), each
    /// with its own discovery and key cache. A token's `iss` must equal one of `issuer` and
    /// these exactly; at most [`MAX_ISSUERS`] in all. `jwks_uri` applies to `issuer` only.
    pub issuers: Vec<Url>,
    /// Accepted audiences; a token's `aud` must contain at least one. Must not be empty. They
    /// apply to `issuer` and to every entry of `issuers` without a list in `issuer_audiences`.
    pub audiences: Vec<String>,
    /// Audiences of their own for some of `issuers`: a token of such an issuer is accepted only
    /// for these, never for `audiences` (so a second tenant listed for convenience cannot mint
    /// tokens for the first tenant's API). Each issuer must be in `issuers` (not `issuer`), at
    /// most once, with at least one audience. Default empty.
    pub issuer_audiences: Vec<(Url, Vec<String>)>,
    /// Allowed algorithms (default `[RS256]`). The token's `alg` must be in here and agree with the key.
    /// HMAC algorithms are refused: a public key set cannot hold shared secrets.
    pub algorithms: Vec<Algorithm>,
    /// Clock leeway for `exp`, `nbf`, `iat` (default 30 s).
    pub leeway: Duration,
    /// Explicit JWKS URI; `None` = OIDC discovery, falling back to `<issuer>.well-known/jwks.json`.
    pub jwks_uri: Option<Url>,
    /// RFC 9068 strict mode: require `typ: at+jwt`.
    pub require_at_jwt: bool,
    /// Tokens longer than this are rejected before decoding (default 16 KiB).
    pub max_token_bytes: usize,
    /// Key-set cache behaviour.
    pub cache: CacheSettings,
    /// HTTP fetch limits.
    pub fetch: FetchSettings,
    /// Memory budget of the verified-token cache in bytes, claims included; 0 turns it off
    /// (default 16 MiB). Bounded in bytes, not entries, so that large tokens cannot make the
    /// cache grow past it.
    pub token_cache_bytes: usize,
    /// How often a background task drops the verified-token cache's entries whose token has
    /// expired (default 30 s; more than zero, at most 1 h). Off the request path: a sweep
    /// visits every entry.
    pub token_cache_sweep_every: Duration,
}

/// Key-set cache behaviour.
///
/// These settings bound how long a signing key the issuer withdrew (say, because it leaked)
/// is still trusted: with the issuer reachable, until the next refresh, at most three quarters
/// of `max_ttl` after the last fetch (45 min by default); with the issuer unreachable, until
/// the set's lifetime plus `stale_grace` have passed (2 h by default).
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Lifetime when the response has no usable `Cache-Control: max-age` (default 10 min).
    pub default_ttl: Duration,
    /// Lower clamp for `max-age` (default 1 min).
    pub min_ttl: Duration,
    /// Upper clamp for `max-age` (default 1 h, at most 24 h): an issuer's long `max-age` must
    /// not stretch the time a withdrawn key stays trusted.
    pub max_ttl: Duration,
    /// How long past expiry the last good set keeps serving while the issuer is down
    /// (default 1 h, at most 24 h).
    pub stale_grace: Duration,
    /// Minimum time between refetches triggered by an unknown `kid` (default 30 s; more than
    /// zero, at most 1 h).
    pub unknown_kid_cooldown: Duration,
    /// First delay before retrying a failed fetch (default 1 s); doubles per failure, with jitter.
    pub retry_initial_backoff: Duration,
    /// Longest delay between retries of a failed fetch (default 60 s, at most 1 h).
    pub retry_max_backoff: Duration,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            default_ttl: Duration::from_secs(600),
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(3600),
            stale_grace: Duration::from_secs(3600),
            unknown_kid_cooldown: Duration::from_secs(30),
            retry_initial_backoff: Duration::from_secs(1),
            retry_max_backoff: Duration::from_secs(60),
        }
    }
}

/// HTTP fetch limits for discovery and JWKS.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Connect timeout (default 2 s, at most 5 min).
    pub connect_timeout: Duration,
    /// Whole-request timeout, body included (default 5 s, at most 5 min).
    pub total_timeout: Duration,
    /// Response body cap (default 512 KiB), enforced while streaming.
    pub max_body_bytes: usize,
}

impl Default for FetchSettings {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            total_timeout: Duration::from_secs(5),
            max_body_bytes: 512 * 1024,
        }
    }
}

/// Most issuers one verifier trusts. Each costs a key store, a background refresh task and
/// fetches, so the list is bounded; Auth0 allows at most 20 custom domains per tenant.
pub const MAX_ISSUERS: usize = 64;

/// Default cap on a token's length.
pub(crate) const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Default memory budget of the verified-token cache.
pub(crate) const DEFAULT_TOKEN_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Upper bounds of the settings: beyond them a value is a mistake (a unit mix-up, a stray
/// digit), and refusing it at start-up also keeps every `Instant + Duration` far from overflow.
const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);
const MAX_COOLDOWN_OR_BACKOFF: Duration = Duration::from_secs(3600);
const MAX_TIMEOUT: Duration = Duration::from_secs(300);
const MAX_TOKEN_BYTES: usize = 1024 * 1024;
const MAX_TOKEN_CACHE_BYTES: usize = 1024 * 1024 * 1024;

impl VerifierConfig {
    /// A configuration with the defaults above for `issuer` and `audiences`.
    pub fn new(issuer: Url, audiences: Vec<String>) -> Self {
        Self {
            issuer,
            issuers: Vec::new(),
            audiences,
            issuer_audiences: Vec::new(),
            algorithms: vec![Algorithm::RS256],
            leeway: Duration::from_secs(30),
            jwks_uri: None,
            require_at_jwt: false,
            max_token_bytes: DEFAULT_MAX_TOKEN_BYTES,
            cache: CacheSettings::default(),
            fetch: FetchSettings::default(),
            token_cache_bytes: DEFAULT_TOKEN_CACHE_BYTES,
            token_cache_sweep_every: Duration::from_secs(30),
        }
    }

    /// Every trusted issuer, `issuer` first.
    pub fn all_issuers(&self) -> impl Iterator<Item = &Url> {
        std::iter::once(&self.issuer).chain(&self.issuers)
    }

    /// The audiences a token of `issuer` may carry: its own list in `issuer_audiences`, or the
    /// shared `audiences`.
    pub fn audiences_for(&self, issuer: &Url) -> &[String] {
        self.issuer_audiences
            .iter()
            .find(|(listed, _)| listed == issuer)
            .map_or(&self.audiences, |(_, own)| own)
    }

    /// Checks every setting; the first bad one is reported by name.
    pub(crate) fn validate(&self) -> Result<(), BuildError> {
        for (issuer, setting) in self
            .all_issuers()
            .zip(std::iter::once("issuer").chain(std::iter::repeat("issuers")))
        {
            check_http_url(issuer, setting)?;
            if issuer.query().is_some() || issuer.fragment().is_some() {
                return Err(invalid(setting, "must not have a query or fragment"));
            }
        }
        if self.issuers.len() + 1 > MAX_ISSUERS {
            return Err(invalid(
                "issuers",
                format!("at most {MAX_ISSUERS} issuers in all"),
            ));
        }
        if let Some(repeat) = self
            .issuers
            .iter()
            .enumerate()
            .find(|(i, url)| **url == self.issuer || self.issuers[..*i].contains(url))
            .map(|(_, url)| url)
        {
            return Err(invalid("issuers", format!("{repeat} is listed twice")));
        }
        if let Some(uri) = &self.jwks_uri {
            check_http_url(uri, "jwks_uri")?;
        }
        if self.audiences.is_empty() {
            return Err(invalid("audiences", "at least one audience is required"));
        }
        if self.audiences.iter().any(|a| a.trim().is_empty()) {
            return Err(invalid("audiences", "an audience is empty"));
        }
        for (i, (issuer, own)) in self.issuer_audiences.iter().enumerate() {
            if !self.issuers.contains(issuer) {
                return Err(invalid(
                    "issuer_audiences",
                    format!("{issuer} is not one of issuers (the main issuer takes audiences)"),
                ));
            }
            if self.issuer_audiences[..i].iter().any(|(u, _)| u == issuer) {
                return Err(invalid(
                    "issuer_audiences",
                    format!("{issuer} is listed twice"),
                ));
            }
            if own.is_empty() || own.iter().any(|a| a.trim().is_empty()) {
                return Err(invalid(
                    "issuer_audiences",
                    format!("{issuer} needs at least one audience, none of them empty"),
                ));
            }
        }
        if self.algorithms.is_empty() {
            return Err(invalid("algorithms", "at least one algorithm is required"));
        }
        if let Some(alg) = self
            .algorithms
            .iter()
            .find(|a| matches!(a.family(), jsonwebtoken::AlgorithmFamily::Hmac))
        {
            return Err(invalid(
                "algorithms",
                format!(
                    "{alg:?} is symmetric; only public-key algorithms can be verified with a JWKS"
                ),
            ));
        }
        if self.leeway > Duration::from_secs(600) {
            return Err(invalid("leeway", "must be at most 10 minutes"));
        }
        if self.max_token_bytes == 0 || self.max_token_bytes > MAX_TOKEN_BYTES {
            return Err(invalid(
                "max_token_bytes",
                "must lie between 1 byte and 1 MiB",
            ));
        }
        if self.token_cache_bytes > MAX_TOKEN_CACHE_BYTES {
            return Err(invalid("token_cache_bytes", "must be at most 1 GiB"));
        }
        if self.token_cache_sweep_every.is_zero()
            || self.token_cache_sweep_every > MAX_COOLDOWN_OR_BACKOFF
        {
            return Err(invalid(
                "token_cache_sweep_every",
                "must be more than zero and at most 1 hour",
            ));
        }
        let c = &self.cache;
        if c.max_ttl > MAX_LIFETIME {
            return Err(invalid("cache.max_ttl", "must be at most 24 hours"));
        }
        if c.min_ttl.is_zero() || c.min_ttl > c.max_ttl {
            return Err(invalid(
                "cache.min_ttl",
                "must be positive and at most cache.max_ttl",
            ));
        }
        if c.default_ttl < c.min_ttl || c.default_ttl > c.max_ttl {
            return Err(invalid(
                "cache.default_ttl",
                "must lie between cache.min_ttl and cache.max_ttl",
            ));
        }
        if c.stale_grace > MAX_LIFETIME {
            return Err(invalid("cache.stale_grace", "must be at most 24 hours"));
        }
        if c.unknown_kid_cooldown.is_zero() || c.unknown_kid_cooldown > MAX_COOLDOWN_OR_BACKOFF {
            return Err(invalid(
                "cache.unknown_kid_cooldown",
                "must be positive and at most 1 hour",
            ));
        }
        if c.retry_max_backoff > MAX_COOLDOWN_OR_BACKOFF {
            return Err(invalid("cache.retry_max_backoff", "must be at most 1 hour"));
        }
        if c.retry_initial_backoff.is_zero() || c.retry_initial_backoff > c.retry_max_backoff {
            return Err(invalid(
                "cache.retry_initial_backoff",
                "must be positive and at most cache.retry_max_backoff",
            ));
        }
        let f = &self.fetch;
        for (setting, timeout) in [
            ("fetch.connect_timeout", f.connect_timeout),
            ("fetch.total_timeout", f.total_timeout),
        ] {
            if timeout.is_zero() || timeout > MAX_TIMEOUT {
                return Err(invalid(setting, "must be positive and at most 5 minutes"));
            }
        }
        if f.max_body_bytes < 1024 {
            return Err(invalid("fetch.max_body_bytes", "must be at least 1 KiB"));
        }
        Ok(())
    }
}

/// https anywhere; plain http only on loopback (a local development issuer).
fn check_http_url(url: &Url, setting: &'static str) -> Result<(), BuildError> {
    let Some(host) = url.host() else {
        return Err(invalid(setting, "has no host"));
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid(setting, "must not contain credentials"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if crate::loopback::is_loopback_host(&host) => Ok(()),
        "http" => Err(invalid(
            setting,
            "plain http is allowed only for loopback hosts",
        )),
        other => Err(invalid(setting, format!("scheme {other} is not https"))),
    }
}

fn invalid(setting: &'static str, problem: impl Into<String>) -> BuildError {
    BuildError::InvalidSetting {
        setting,
        problem: problem.into(),
    }
}

/// Why [`Verifier::new`](crate::Verifier::new) refused a configuration.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A setting is invalid; the message names it.
    #[error("invalid verifier setting {setting}: {problem}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// What is wrong.
        problem: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(issuer: &str) -> VerifierConfig {
        VerifierConfig::new(issuer.parse().expect("url"), vec!["https://api".into()])
    }

    fn setting_of(result: Result<(), BuildError>) -> &'static str {
        match result {
            Err(BuildError::InvalidSetting { setting, .. }) => setting,
            Ok(()) => "accepted",
        }
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let c = config("https://tenant.auth0.com/");
        assert_eq!(c.algorithms, vec![Algorithm::RS256]);
        assert_eq!(c.leeway, Duration::from_secs(30));
        assert_eq!(c.max_token_bytes, 16 * 1024);
        assert_eq!(c.cache.default_ttl, Duration::from_secs(600));
        assert_eq!(c.cache.max_ttl, Duration::from_secs(3600));
        assert_eq!(c.cache.stale_grace, Duration::from_secs(3600));
        assert_eq!(c.token_cache_bytes, 16 * 1024 * 1024);
        assert_eq!(c.cache.unknown_kid_cooldown, Duration::from_secs(30));
        assert_eq!(c.fetch.max_body_bytes, 512 * 1024);
        assert_eq!(setting_of(c.validate()), "accepted");
    }

    #[test]
    fn plain_http_issuer_off_loopback_is_refused() {
        assert_eq!(
            setting_of(config("http://tenant.auth0.com/").validate()),
            "issuer"
        );
    }

    #[test]
    fn plain_http_issuer_on_loopback_is_accepted() {
        assert_eq!(
            setting_of(config("http://127.0.0.1:3002/").validate()),
            "accepted"
        );
        assert_eq!(
            setting_of(config("http://localhost:3002/").validate()),
            "accepted"
        );
    }

    #[test]
    fn empty_audience_list_is_refused() {
        let mut c = config("https://t/");
        c.audiences.clear();
        assert_eq!(setting_of(c.validate()), "audiences");
    }

    #[test]
    fn hmac_algorithm_is_refused() {
        let mut c = config("https://t/");
        c.algorithms = vec![Algorithm::RS256, Algorithm::HS256];
        assert_eq!(setting_of(c.validate()), "algorithms");
    }

    #[test]
    fn default_ttl_outside_the_clamp_is_refused() {
        let mut c = config("https://t/");
        c.cache.default_ttl = Duration::from_secs(1);
        assert_eq!(setting_of(c.validate()), "cache.default_ttl");
    }

    #[test]
    fn plain_http_further_issuer_off_loopback_is_refused() {
        let mut c = config("https://t/");
        c.issuers = vec!["http://login.example.com/".parse().expect("url")];
        assert_eq!(setting_of(c.validate()), "issuers");
    }

    #[test]
    fn further_issuer_repeating_the_main_one_is_refused() {
        let mut c = config("https://t/");
        c.issuers = vec!["https://t/".parse().expect("url")];
        assert_eq!(setting_of(c.validate()), "issuers");
    }

    #[test]
    fn more_issuers_than_the_cap_are_refused() {
        let mut c = config("https://t/");
        c.issuers = (0..MAX_ISSUERS)
            .map(|i| {
                format!("https://login{i}.example.com/")
                    .parse()
                    .expect("url")
            })
            .collect();
        assert_eq!(setting_of(c.validate()), "issuers");
        c.issuers.pop();
        assert_eq!(setting_of(c.validate()), "accepted");
    }

    #[test]
    fn http_jwks_uri_off_loopback_is_refused() {
        let mut c = config("https://t/");
        c.jwks_uri = Some("http://keys.example/jwks".parse().expect("url"));
        assert_eq!(setting_of(c.validate()), "jwks_uri");
    }

    #[test]
    fn zero_unknown_kid_cooldown_is_refused() {
        let mut c = config("https://t/");
        c.cache.unknown_kid_cooldown = Duration::ZERO;
        assert_eq!(setting_of(c.validate()), "cache.unknown_kid_cooldown");
    }

    #[test]
    fn key_set_lifetime_over_a_day_is_refused() {
        let mut c = config("https://t/");
        c.cache.max_ttl = Duration::from_secs(24 * 3600 + 1);
        assert_eq!(setting_of(c.validate()), "cache.max_ttl");
    }

    #[test]
    fn stale_grace_over_a_day_is_refused() {
        let mut c = config("https://t/");
        c.cache.stale_grace = Duration::MAX;
        assert_eq!(setting_of(c.validate()), "cache.stale_grace");
    }

    #[test]
    fn unknown_kid_cooldown_over_an_hour_is_refused() {
        let mut c = config("https://t/");
        c.cache.unknown_kid_cooldown = Duration::from_secs(3601);
        assert_eq!(setting_of(c.validate()), "cache.unknown_kid_cooldown");
    }

    #[test]
    fn retry_backoff_over_an_hour_is_refused() {
        let mut c = config("https://t/");
        c.cache.retry_max_backoff = Duration::from_secs(3601);
        assert_eq!(setting_of(c.validate()), "cache.retry_max_backoff");
    }

    #[test]
    fn fetch_timeout_over_five_minutes_is_refused() {
        let mut c = config("https://t/");
        c.fetch.total_timeout = Duration::from_secs(301);
        assert_eq!(setting_of(c.validate()), "fetch.total_timeout");
        let mut c = config("https://t/");
        c.fetch.connect_timeout = Duration::ZERO;
        assert_eq!(setting_of(c.validate()), "fetch.connect_timeout");
    }

    #[test]
    fn token_size_cap_over_a_mebibyte_is_refused() {
        let mut c = config("https://t/");
        c.max_token_bytes = 2 * 1024 * 1024;
        assert_eq!(setting_of(c.validate()), "max_token_bytes");
    }

    #[test]
    fn token_cache_budget_over_a_gibibyte_is_refused() {
        let mut c = config("https://t/");
        c.token_cache_bytes = 2 * 1024 * 1024 * 1024;
        assert_eq!(setting_of(c.validate()), "token_cache_bytes");
    }

    #[test]
    fn token_cache_sweep_of_zero_or_over_an_hour_is_refused() {
        let mut c = config("https://t/");
        c.token_cache_sweep_every = Duration::ZERO;
        assert_eq!(setting_of(c.validate()), "token_cache_sweep_every");
        c.token_cache_sweep_every = Duration::from_secs(3601);
        assert_eq!(setting_of(c.validate()), "token_cache_sweep_every");
    }
}
