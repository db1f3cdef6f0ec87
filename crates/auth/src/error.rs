//! Verification errors and their mapping to RFC 6750 error codes.
//!
//! One enum says exactly what failed; the API maps it to HTTP in one place through
//! [`VerifyError::code`], [`VerifyError::description`] and [`VerifyError::retry_after`].
//! Every message is a fixed string written here, so no token byte can ever reach a response
//! header or a log line through an error.

use std::time::Duration;

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
    ///
    /// The messages are fixed strings already; the filter is a second line of defence so that
    /// a future variant cannot break a quoted `error_description` parameter.
    pub fn description(&self) -> String {
        self.to_string()
            .chars()
            .filter(|c| (' '..='~').contains(c) && *c != '"' && *c != '\\')
            .collect()
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
        OUTCOME_LABELS[self.outcome_index()]
    }

    /// Index into [`OUTCOME_LABELS`], used by the lock-free counters.
    pub(crate) fn outcome_index(&self) -> usize {
        match self {
            Self::Malformed(_) => 1,
            Self::TooLarge => 2,
            Self::UnsupportedType => 3,
            Self::Algorithm => 4,
            Self::CriticalHeader => 5,
            Self::UnknownKey => 6,
            Self::Signature => 7,
            Self::Expired => 8,
            Self::NotYetValid => 9,
            Self::IssuedInFuture => 10,
            Self::Issuer => 11,
            Self::Audience => 12,
            Self::Claim(_) => 13,
            Self::KeySetUnavailable { .. } => 14,
        }
    }
}

/// Every outcome label, `ok` first; [`VerifyError::outcome_index`] indexes into it.
pub(crate) const OUTCOME_LABELS: [&str; 15] = [
    "ok",
    "malformed",
    "too_large",
    "unsupported_type",
    "algorithm",
    "critical_header",
    "unknown_key",
    "signature",
    "expired",
    "not_yet_valid",
    "issued_in_future",
    "issuer",
    "audience",
    "claim",
    "key_set_unavailable",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn every_variant() -> Vec<VerifyError> {
        vec![
            VerifyError::Malformed("header"),
            VerifyError::TooLarge,
            VerifyError::UnsupportedType,
            VerifyError::Algorithm,
            VerifyError::CriticalHeader,
            VerifyError::UnknownKey,
            VerifyError::Signature,
            VerifyError::Expired,
            VerifyError::NotYetValid,
            VerifyError::IssuedInFuture,
            VerifyError::Issuer,
            VerifyError::Audience,
            VerifyError::Claim("exp"),
            VerifyError::KeySetUnavailable {
                retry_after: Duration::from_secs(5),
            },
        ]
    }

    #[test]
    fn descriptions_are_safe_inside_a_quoted_header_parameter() {
        for e in every_variant() {
            let d = e.description();
            assert!(!d.is_empty());
            assert!(
                d.chars()
                    .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\'),
                "{d}"
            );
        }
    }

    #[test]
    fn outcome_labels_are_distinct_and_never_ok() {
        let labels: Vec<_> = every_variant().iter().map(|e| e.outcome_label()).collect();
        let mut unique = labels.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), labels.len());
        assert!(!labels.contains(&"ok"));
    }

    #[test]
    fn only_key_set_unavailable_maps_to_temporarily_unavailable() {
        for e in every_variant() {
            let expected = if matches!(e, VerifyError::KeySetUnavailable { .. }) {
                ErrorCode::TemporarilyUnavailable
            } else {
                ErrorCode::InvalidToken
            };
            assert_eq!(e.code(), expected, "{e:?}");
            assert_eq!(
                e.retry_after().is_some(),
                expected == ErrorCode::TemporarilyUnavailable
            );
        }
    }
}
