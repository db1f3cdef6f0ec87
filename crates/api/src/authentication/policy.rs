//! The API's DPoP policy (`API_DPOP`): which schemes it accepts, and which challenges a refusal
//! carries as a consequence.
//!
//! Registered once as app data by `startup`; the credentials extractor and the middleware read
//! it per request.

use std::sync::Arc;

use auth::authorization::AuthScheme;
use auth::dpop::ProofVerifier;

use crate::error::Challenges;

/// Which schemes the API accepts (`API_DPOP`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DpopMode {
    /// Bearer for unbound tokens, DPoP for bound ones (the default).
    #[default]
    Allowed,
    /// DPoP only: Bearer requests are refused with the DPoP challenge.
    Required,
    /// Bearer only: the DPoP scheme is refused as an unsupported scheme.
    Off,
}

impl std::str::FromStr for DpopMode {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value.trim().to_ascii_lowercase().as_str() {
            "allowed" => Ok(Self::Allowed),
            "required" => Ok(Self::Required),
            "off" => Ok(Self::Off),
            other => Err(format!(
                "{other:?} is not a DPoP mode; use allowed, required or off"
            )),
        }
    }
}

/// The DPoP side of authentication, registered as app data by `startup`.
#[derive(Debug, Clone)]
pub struct DpopPolicy {
    pub(super) mode: DpopMode,
    pub(super) proofs: ProofVerifier,
    /// The API's public origin (`apiOrigin`), the base of every proof's expected `htu`.
    pub(super) api_origin: Arc<str>,
    algs: Arc<str>,
}

impl DpopPolicy {
    /// A policy for `mode`, checking proofs with `proofs` against `api_origin` + path.
    pub fn new(mode: DpopMode, proofs: ProofVerifier, api_origin: &str) -> Self {
        Self {
            mode,
            algs: proofs.algorithms_text().into(),
            proofs,
            api_origin: api_origin.trim_end_matches('/').into(),
        }
    }

    /// The mode.
    pub fn mode(&self) -> DpopMode {
        self.mode
    }

    /// The proof verifier (for its counters).
    pub fn proofs(&self) -> &ProofVerifier {
        &self.proofs
    }

    /// The challenges for a request without usable credentials.
    pub(super) fn offer(&self) -> Challenges {
        match self.mode {
            DpopMode::Off => Challenges::Bearer,
            DpopMode::Allowed => Challenges::BearerAndDpop {
                algs: self.algs.clone(),
            },
            DpopMode::Required => Challenges::Dpop {
                algs: self.algs.clone(),
            },
        }
    }

    /// The challenge for a refusal of a request that used `scheme`.
    pub(super) fn challenge_for(&self, scheme: AuthScheme) -> Challenges {
        match scheme {
            AuthScheme::Bearer => Challenges::Bearer,
            AuthScheme::Dpop => Challenges::Dpop {
                algs: self.algs.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_case_insensitively_and_refuse_others() {
        assert_eq!("Required".parse(), Ok(DpopMode::Required));
        assert_eq!("off".parse(), Ok(DpopMode::Off));
        assert_eq!(" allowed ".parse(), Ok(DpopMode::Allowed));
        assert!("on".parse::<DpopMode>().is_err());
    }
}
