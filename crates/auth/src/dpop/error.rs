//! Why a DPoP proof was refused, and the error code each refusal maps to.
//!
//! Like [`VerifyError`](crate::VerifyError): one variant per rule, fixed messages (no proof or
//! token byte can reach a header or a log line), a stable metrics label per variant.

use std::time::Duration;

/// The error code a refusal maps to (RFC 9449 §7.1, §8, §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DpopErrorCode {
    /// `invalid_dpop_proof` (401 at a resource server, 400 at a token endpoint).
    InvalidDpopProof,
    /// `use_dpop_nonce`: retry with the nonce sent in `DPoP-Nonce`.
    UseDpopNonce,
    /// `temporarily_unavailable`: the replay store could not record the proof.
    TemporarilyUnavailable,
    /// `too_many_requests`: the proof's key holds as many replay-store slots as one key may.
    TooManyRequests,
}

impl DpopErrorCode {
    /// The wire form, e.g. `invalid_dpop_proof`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::TooManyRequests => "too_many_requests",
        }
    }
}

/// What exactly is wrong with a proof.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DpopError {
    /// No `DPoP` header.
    #[error("a DPoP proof is required in the DPoP header")]
    Missing,
    /// More than one `DPoP` header (or several proofs in one).
    #[error("more than one DPoP proof")]
    Multiple,
    /// Longer than the proof size cap.
    #[error("DPoP proof too large")]
    TooLarge,
    /// Not a compact JWS, bad base64 or bad JSON; the str says which part.
    #[error("malformed DPoP proof: {0}")]
    Malformed(&'static str),
    /// Header `typ` is not `dpop+jwt`.
    #[error("DPoP proof typ must be dpop+jwt")]
    Type,
    /// `alg` not in the allow-list, or does not fit the key.
    #[error("DPoP proof algorithm not allowed")]
    Algorithm,
    /// The header lists a `crit` extension.
    #[error("DPoP proof has an unsupported critical header")]
    CriticalHeader,
    /// No `jwk` header, or one that is not a usable public key.
    #[error("DPoP proof jwk is missing or not a usable public key")]
    Key,
    /// The `jwk` header holds private key members.
    #[error("DPoP proof jwk contains a private key")]
    PrivateKey,
    /// The signature does not verify with the header's key.
    #[error("DPoP proof signature is invalid")]
    Signature,
    /// A required claim (`jti`, `htm`, `htu`, `iat`) is absent or of the wrong type.
    #[error("DPoP proof claim {0} is missing or invalid")]
    Claim(&'static str),
    /// `jti` longer than allowed.
    #[error("DPoP proof jti is too long")]
    JtiTooLong,
    /// `htm` is not the request's method.
    #[error("DPoP proof htm does not match the request method")]
    Method,
    /// `htu` is not the request's URI.
    #[error("DPoP proof htu does not match the request URI")]
    Uri,
    /// `iat` is older than the acceptance window.
    #[error("DPoP proof is too old")]
    Stale,
    /// `iat` is further in the future than the leeway.
    #[error("DPoP proof is issued in the future")]
    IssuedInFuture,
    /// `ath` is absent or not the hash of the presented access token.
    #[error("DPoP proof ath does not match the access token")]
    AccessTokenHash,
    /// The proof's key is not the key the token (or grant) is bound to.
    #[error("DPoP proof key does not match the bound key")]
    KeyMismatch,
    /// The proof was already used.
    #[error("DPoP proof has already been used")]
    Replayed,
    /// The proof could not be recorded against replay (store full or down): refused.
    #[error("DPoP proofs cannot be checked for replay right now")]
    ReplayStoreUnavailable {
        /// Suggested `Retry-After`.
        retry_after: Duration,
    },
    /// The proof's key already has as many proofs in the replay store as one key may hold:
    /// only this client is refused, until its oldest proof expires.
    #[error("too many DPoP proofs from this key within the replay window")]
    TooManyProofs {
        /// When the key's oldest proof expires (`Retry-After`).
        retry_after: Duration,
    },
    /// Nonces are on and the proof has no nonce, or not a current one.
    #[error("a fresh DPoP nonce is required")]
    UseNonce {
        /// The nonce the client must use (send it in `DPoP-Nonce`).
        nonce: String,
    },
}

impl DpopError {
    /// The error code.
    pub fn code(&self) -> DpopErrorCode {
        match self {
            Self::UseNonce { .. } => DpopErrorCode::UseDpopNonce,
            Self::ReplayStoreUnavailable { .. } => DpopErrorCode::TemporarilyUnavailable,
            Self::TooManyProofs { .. } => DpopErrorCode::TooManyRequests,
            _ => DpopErrorCode::InvalidDpopProof,
        }
    }

    /// Short, header-safe description (no quotes, backslashes or proof bytes).
    pub fn description(&self) -> String {
        self.to_string()
            .chars()
            .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
            .collect()
    }

    /// The nonce to send in `DPoP-Nonce`, for [`DpopError::UseNonce`].
    pub fn nonce(&self) -> Option<&str> {
        match self {
            Self::UseNonce { nonce } => Some(nonce),
            _ => None,
        }
    }

    /// `Retry-After` for [`DpopError::ReplayStoreUnavailable`] and
    /// [`DpopError::TooManyProofs`].
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::ReplayStoreUnavailable { retry_after } | Self::TooManyProofs { retry_after } => {
                Some(*retry_after)
            }
            _ => None,
        }
    }

    /// A stable label for metrics (`replayed`, `signature`, ...).
    pub fn outcome_label(&self) -> &'static str {
        DPOP_OUTCOME_LABELS[self.outcome_index()]
    }

    pub(crate) fn outcome_index(&self) -> usize {
        match self {
            Self::Missing => 1,
            Self::Multiple => 2,
            Self::TooLarge => 3,
            Self::Malformed(_) => 4,
            Self::Type => 5,
            Self::Algorithm => 6,
            Self::CriticalHeader => 7,
            Self::Key => 8,
            Self::PrivateKey => 9,
            Self::Signature => 10,
            Self::Claim(_) => 11,
            Self::JtiTooLong => 12,
            Self::Method => 13,
            Self::Uri => 14,
            Self::Stale => 15,
            Self::IssuedInFuture => 16,
            Self::AccessTokenHash => 17,
            Self::KeyMismatch => 18,
            Self::Replayed => 19,
            Self::ReplayStoreUnavailable { .. } => 20,
            Self::UseNonce { .. } => 21,
            Self::TooManyProofs { .. } => 22,
        }
    }
}

/// Every proof outcome label, `ok` first; [`DpopError::outcome_index`] indexes into it.
pub(crate) const DPOP_OUTCOME_LABELS: [&str; 23] = [
    "ok",
    "missing",
    "multiple",
    "too_large",
    "malformed",
    "type",
    "algorithm",
    "critical_header",
    "key",
    "private_key",
    "signature",
    "claim",
    "jti_too_long",
    "method",
    "uri",
    "stale",
    "issued_in_future",
    "access_token_hash",
    "key_mismatch",
    "replayed",
    "replay_store_unavailable",
    "use_nonce",
    "too_many_proofs",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<DpopError> {
        vec![
            DpopError::Missing,
            DpopError::Multiple,
            DpopError::TooLarge,
            DpopError::Malformed("header"),
            DpopError::Type,
            DpopError::Algorithm,
            DpopError::CriticalHeader,
            DpopError::Key,
            DpopError::PrivateKey,
            DpopError::Signature,
            DpopError::Claim("jti"),
            DpopError::JtiTooLong,
            DpopError::Method,
            DpopError::Uri,
            DpopError::Stale,
            DpopError::IssuedInFuture,
            DpopError::AccessTokenHash,
            DpopError::KeyMismatch,
            DpopError::Replayed,
            DpopError::ReplayStoreUnavailable {
                retry_after: Duration::from_secs(1),
            },
            DpopError::UseNonce { nonce: "n".into() },
            DpopError::TooManyProofs {
                retry_after: Duration::from_secs(1),
            },
        ]
    }

    #[test]
    fn outcome_labels_are_distinct_and_never_ok() {
        let labels: Vec<_> = every_variant().iter().map(|e| e.outcome_label()).collect();
        let mut unique = labels.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), labels.len());
        assert_eq!(labels.len(), DPOP_OUTCOME_LABELS.len() - 1);
        assert!(!labels.contains(&"ok"));
    }

    #[test]
    fn descriptions_are_safe_inside_a_quoted_header_parameter() {
        for e in every_variant() {
            let d = e.description();
            assert!(!d.is_empty());
            assert!(
                d.chars()
                    .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\')
            );
        }
    }

    #[test]
    fn only_nonce_store_and_key_bound_refusals_have_their_own_codes() {
        for e in every_variant() {
            let expected = match e {
                DpopError::UseNonce { .. } => "use_dpop_nonce",
                DpopError::ReplayStoreUnavailable { .. } => "temporarily_unavailable",
                DpopError::TooManyProofs { .. } => "too_many_requests",
                _ => "invalid_dpop_proof",
            };
            assert_eq!(e.code().as_str(), expected, "{e:?}");
        }
    }
}
