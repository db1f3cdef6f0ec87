//! OpenID Connect access-token verification: discovery, a JWKS cache and a verifier.
//!
//! INTERFACE SKELETON: the public API below is fixed (the `api` crate codes against it); the
//! bodies are filled in by the auth-crate work. Framework-free: no actix here.
//!
//! ```ignore
//! let verifier = auth::Verifier::new(auth::VerifierConfig::new(issuer, vec![audience]))?;
//! let claims = verifier.verify(token).await?;
//! if claims.has_scope("read:messages") { /* ... */ }
//! ```

use std::time::Duration;

use serde::de::DeserializeOwned;
use url::Url;

pub use jsonwebtoken::Algorithm;

/// Everything the verifier needs, validated by [`Verifier::new`].
#[derive(Debug, Clone)]
pub struct VerifierConfig {
    /// Issuer identifier; `iss` must equal it exactly (e.g. `https://tenant.auth0.com/`).
    pub issuer: Url,
    /// Accepted audiences; a token's `aud` must contain at least one. Must not be empty.
    pub audiences: Vec<String>,
    /// Allowed algorithms (default `[RS256]`). The token's `alg` must be in here and agree with the key.
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
    /// Capacity of the verified-token cache; 0 turns it off.
    pub token_cache_capacity: usize,
}

/// Key-set cache behaviour.
#[derive(Debug, Clone)]
pub struct CacheSettings {
    /// Lifetime when the response has no usable `Cache-Control: max-age` (default 10 min).
    pub default_ttl: Duration,
    /// Lower clamp for `max-age` (default 1 min).
    pub min_ttl: Duration,
    /// Upper clamp for `max-age` (default 24 h).
    pub max_ttl: Duration,
    /// How long past expiry the last good set keeps serving while the issuer is down (default 1 h).
    pub stale_grace: Duration,
    /// Minimum time between refetches triggered by an unknown `kid` (default 30 s).
    pub unknown_kid_cooldown: Duration,
}

/// HTTP fetch limits for discovery and JWKS.
#[derive(Debug, Clone)]
pub struct FetchSettings {
    /// Connect timeout (default 2 s).
    pub connect_timeout: Duration,
    /// Whole-request timeout (default 5 s).
    pub total_timeout: Duration,
    /// Response body cap (default 512 KiB).
    pub max_body_bytes: usize,
}

impl VerifierConfig {
    /// A configuration with the defaults above for `issuer` and `audiences`.
    pub fn new(issuer: Url, audiences: Vec<String>) -> Self {
        let _ = (issuer, audiences);
        unimplemented!("auth skeleton")
    }

    /// The configuration implied by the shared `auth_config.json` settings.
    pub fn from_app_config(config: &app_config::AuthConfig) -> Self {
        Self::new(config.issuer.clone(), vec![config.audience.clone()])
    }
}

/// Why [`Verifier::new`] refused a configuration.
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

/// The RFC 6750 error code a failure maps to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `invalid_token` (401).
    InvalidToken,
    /// `temporarily_unavailable` (503 + Retry-After): the issuer's keys cannot be had.
    TemporarilyUnavailable,
}

impl ErrorCode {
    /// The wire form, e.g. `invalid_token`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidToken => "invalid_token",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }
}

/// What exactly failed. Descriptions are short, safe and never contain the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Not a compact JWS, bad base64 or bad JSON; the str says which part.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// Longer than `max_token_bytes`.
    #[error("token too large")]
    TooLarge,
    /// `typ` is not `JWT` / `at+jwt` (or not `at+jwt` in strict mode).
    #[error("unsupported token type")]
    UnsupportedType,
    /// `alg` not allowed, or disagrees with the key.
    #[error("algorithm not allowed")]
    Algorithm,
    /// The header lists a `crit` extension we do not understand.
    #[error("unsupported critical header")]
    CriticalHeader,
    /// No usable key has the token's `kid` (or no `kid` and not exactly one key).
    #[error("signing key not found")]
    UnknownKey,
    /// Bad signature.
    #[error("invalid signature")]
    Signature,
    /// `exp` passed.
    #[error("token expired")]
    Expired,
    /// `nbf` in the future.
    #[error("token not yet valid")]
    NotYetValid,
    /// `iat` in the future.
    #[error("token issued in the future")]
    IssuedInFuture,
    /// `iss` differs.
    #[error("issuer mismatch")]
    Issuer,
    /// `aud` holds none of ours.
    #[error("audience mismatch")]
    Audience,
    /// A required claim (`iss`, `aud`, `exp`) is absent or of the wrong type.
    #[error("missing or invalid claim {0}")]
    Claim(&'static str),
    /// The key set cannot be had because the issuer is unreachable.
    #[error("signing keys unavailable")]
    KeySetUnavailable {
        /// Suggested `Retry-After`.
        retry_after: Duration,
    },
}

impl VerifyError {
    /// The RFC 6750 code.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::KeySetUnavailable { .. } => ErrorCode::TemporarilyUnavailable,
            _ => ErrorCode::InvalidToken,
        }
    }
    /// Short, header-safe description (no quotes, backslashes or token bytes).
    pub fn description(&self) -> String {
        self.to_string()
    }
    /// `Retry-After` for `temporarily_unavailable`.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::KeySetUnavailable { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
    /// A stable label for metrics (`expired`, `signature`, ...).
    pub fn outcome_label(&self) -> &'static str {
        unimplemented!("auth skeleton")
    }
}

/// Verified access-token claims.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct Claims {
    /// Subject.
    pub sub: Option<String>,
    /// Issuer.
    pub iss: String,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Space-separated scopes.
    #[serde(default)]
    pub scope: Option<String>,
    /// Auth0 RBAC permissions.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Every other claim.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

impl Claims {
    /// Whether `scope` contains `wanted` as a whole word.
    pub fn has_scope(&self, wanted: &str) -> bool {
        self.scope
            .as_deref()
            .is_some_and(|s| s.split(' ').any(|x| x == wanted))
    }
}

/// Counters for `/metrics`.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    /// JWKS/discovery fetch attempts.
    pub jwks_fetches: u64,
    /// Failed fetches.
    pub jwks_fetch_failures: u64,
    /// Verifications by outcome label (`ok`, `expired`, ...).
    pub verifications: Vec<(&'static str, u64)>,
    /// Age of the current key set, if one is loaded.
    pub key_set_age: Option<Duration>,
    /// Number of usable keys loaded.
    pub keys_loaded: usize,
    /// Verified-token cache hits.
    pub token_cache_hits: u64,
}

/// Verifies access tokens. Cheap to clone; build once at start-up.
#[derive(Debug, Clone)]
pub struct Verifier {}

impl Verifier {
    /// Validates `config` and starts loading keys in the background (needs a Tokio runtime).
    /// Never fails because the issuer is down: it keeps retrying.
    pub fn new(config: VerifierConfig) -> Result<Self, BuildError> {
        let _ = config;
        unimplemented!("auth skeleton")
    }
    /// Verifies `token` (the bare token, no `Bearer `) and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        self.verify_as(token).await
    }
    /// Verifies `token` and deserializes its claims into the caller's type.
    pub async fn verify_as<T: DeserializeOwned>(&self, token: &str) -> Result<T, VerifyError> {
        let _ = token;
        unimplemented!("auth skeleton")
    }
    /// Whether a usable key set is loaded (fresh, or stale within the grace period).
    pub fn is_ready(&self) -> bool {
        unimplemented!("auth skeleton")
    }
    /// The trusted issuer.
    pub fn issuer(&self) -> &str {
        unimplemented!("auth skeleton")
    }
    /// A snapshot of the counters.
    pub fn stats(&self) -> Stats {
        unimplemented!("auth skeleton")
    }
}
