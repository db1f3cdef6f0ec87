//! How DPoP proofs are checked: the allow-list of proof algorithms, the `iat` window, size
//! caps, the in-memory replay store's size and the server nonces, validated once when a
//! [`ProofVerifier`](super::ProofVerifier) is built.

use std::time::Duration;

use super::replay::DEFAULT_PER_KEY;
use crate::{Algorithm, BuildError};

/// Server-nonce settings (RFC 9449 §9).
#[derive(Clone)]
pub struct NonceSettings {
    /// The secret nonces are derived from; replicas that share it accept each other's nonces.
    /// At least 32 bytes.
    pub secret: Vec<u8>,
    /// Length of a nonce slot (default 60 s); a nonce is accepted in its slot and the next.
    pub slot: Duration,
}

impl std::fmt::Debug for NonceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NonceSettings {{ slot: {:?}, .. }}", self.slot)
    }
}

impl NonceSettings {
    /// Nonces from a fresh random secret: fine for one process, not for replicas.
    pub fn random() -> Self {
        let mut secret = vec![0u8; 32];
        // aws-lc-rs's generator (already linked for the signatures), as the key store's jitter;
        // like any CSPRNG front end it can only fail when the OS has no randomness to give, and
        // a nonce secret must not be made up then.
        aws_lc_rs::rand::fill(&mut secret[..]).expect("the OS random number generator failed");
        Self {
            secret,
            slot: Duration::from_secs(60),
        }
    }
}

/// How proofs are checked. Defaults: ES256 only, `iat` within 60 s in the past and 30 s in the
/// future, `jti` up to 128 bytes, proofs up to 8 KiB, a replay store for 1,000,000 proofs, no
/// nonces.
#[derive(Debug, Clone)]
pub struct DpopConfig {
    /// Allowed proof algorithms. `none` and HMAC are never accepted.
    pub algorithms: Vec<Algorithm>,
    /// How old a proof's `iat` may be.
    pub max_age: Duration,
    /// How far in the future a proof's `iat` may be (client clock ahead of ours).
    pub future_leeway: Duration,
    /// Longest accepted `jti`, in bytes.
    pub max_jti_bytes: usize,
    /// Longest accepted proof, in bytes.
    pub max_proof_bytes: usize,
    /// How many proofs the in-memory replay store holds (see [`DpopConfig::replay_window`]).
    pub replay_capacity: usize,
    /// How many proofs one key (`jkt`) may have in the replay store at once; beyond, that
    /// key's proofs are refused until its oldest expire (default [`DEFAULT_PER_KEY`]).
    pub replay_per_key: usize,
    /// Server nonces, if on.
    pub nonce: Option<NonceSettings>,
}

impl Default for DpopConfig {
    fn default() -> Self {
        Self {
            algorithms: vec![Algorithm::ES256],
            max_age: Duration::from_secs(60),
            future_leeway: Duration::from_secs(30),
            max_jti_bytes: 128,
            max_proof_bytes: 8 * 1024,
            replay_capacity: 1_000_000,
            replay_per_key: DEFAULT_PER_KEY,
            nonce: None,
        }
    }
}

/// The algorithms a DPoP proof may be configured to use.
pub const SUPPORTED_ALGORITHMS: [Algorithm; 7] = [
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::RS256,
    Algorithm::EdDSA,
];

impl DpopConfig {
    /// How long a proof id must be remembered: the whole time its `iat` is acceptable.
    pub fn replay_window(&self) -> Duration {
        self.max_age + self.future_leeway
    }

    pub(super) fn validate(&self) -> Result<(), BuildError> {
        let invalid = |setting, problem: &str| BuildError::InvalidSetting {
            setting,
            problem: problem.into(),
        };
        if self.algorithms.is_empty() {
            return Err(invalid(
                "dpop.algorithms",
                "at least one algorithm is required",
            ));
        }
        if let Some(alg) = self
            .algorithms
            .iter()
            .find(|a| !SUPPORTED_ALGORITHMS.contains(a))
        {
            return Err(BuildError::InvalidSetting {
                setting: "dpop.algorithms",
                problem: format!(
                    "{alg:?} is not a DPoP proof algorithm (use ES256, ES384, PS256, RS256 or EdDSA)"
                ),
            });
        }
        if self.max_age.is_zero() || self.max_age > Duration::from_secs(3600) {
            return Err(invalid("dpop.max_age", "must be between 1 s and 1 h"));
        }
        if self.future_leeway > Duration::from_secs(600) {
            return Err(invalid("dpop.future_leeway", "must be at most 10 minutes"));
        }
        if self.max_jti_bytes == 0 || self.max_jti_bytes > 1024 {
            return Err(invalid("dpop.max_jti_bytes", "must be between 1 and 1024"));
        }
        if self.max_proof_bytes < 256 {
            return Err(invalid("dpop.max_proof_bytes", "must be at least 256"));
        }
        if self.replay_capacity == 0 {
            return Err(invalid("dpop.replay_capacity", "must be positive"));
        }
        if self.replay_per_key == 0 {
            return Err(invalid("dpop.replay_per_key", "must be positive"));
        }
        if let Some(nonce) = &self.nonce {
            if nonce.secret.len() < 32 {
                return Err(invalid("dpop.nonce.secret", "must be at least 32 bytes"));
            }
            if nonce.slot < Duration::from_secs(1) {
                return Err(invalid("dpop.nonce.slot", "must be at least 1 s"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_and_none_cannot_be_configured() {
        for alg in [Algorithm::HS256, Algorithm::HS512] {
            let config = DpopConfig {
                algorithms: vec![alg],
                ..DpopConfig::default()
            };
            assert!(config.validate().is_err());
        }
    }

    #[test]
    fn a_short_nonce_secret_is_refused() {
        let config = DpopConfig {
            nonce: Some(NonceSettings {
                secret: vec![1; 16],
                slot: Duration::from_secs(60),
            }),
            ..DpopConfig::default()
        };
        assert!(matches!(
            config.validate(),
            Err(BuildError::InvalidSetting {
                setting: "dpop.nonce.secret",
                ..
            })
        ));
    }
}
