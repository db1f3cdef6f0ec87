//! The load patterns: which route, which tokens, which answer each server must give.
//!
//! Every server gets the same requests for a scenario, so that their figures compare. The
//! calibration server checks no token, so it answers 200 to all of them: in the bad-signature
//! scenario it shows the HTTP ceiling for the same requests, not the same work.

use serde::Serialize;

use crate::options::ServerKind;

/// A load pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
pub enum Scenario {
    /// `/api/public` with no token: the no-auth path.
    #[serde(rename = "public")]
    #[value(name = "public")]
    Public,
    /// (a) one valid token, repeated.
    #[serde(rename = "a-one-token")]
    #[value(name = "a")]
    OneToken,
    /// (b) a pool of distinct valid tokens (as many as our verified-token cache holds), rotated
    /// per request.
    #[serde(rename = "b-distinct-tokens")]
    #[value(name = "b")]
    DistinctTokens,
    /// (c) tokens with a bad signature, rotated per request.
    #[serde(rename = "c-bad-signature")]
    #[value(name = "c")]
    BadSignature,
    /// (d) a pool larger than our verified-token cache: an RSA verification nearly every request.
    #[serde(rename = "d-large-pool")]
    #[value(name = "d")]
    LargePool,
    /// (e) one DPoP-bound token with a fresh DPoP proof per request (ours and
    /// express-oauth2-jwt-bearer: the other servers do not know DPoP).
    #[serde(rename = "e-dpop")]
    #[value(name = "e")]
    Dpop,
}

impl Scenario {
    /// Every scenario, in the order they run and are shown.
    pub const ALL: [Self; 6] = [
        Self::Public,
        Self::OneToken,
        Self::DistinctTokens,
        Self::BadSignature,
        Self::LargePool,
        Self::Dpop,
    ];

    /// Whether `server` runs this scenario. The Express peers have no `/api/public` and verify
    /// every token anyway (no cache), so the large pool would only repeat (b) for them. Ours
    /// and express-oauth2-jwt-bearer know DPoP; ours with the Redis store differs from ours
    /// only there. jwt-authorizer (no DPoP) runs the Bearer scenarios with tokens.
    pub fn applies_to(self, server: ServerKind) -> bool {
        let express = matches!(
            self,
            Self::OneToken | Self::DistinctTokens | Self::BadSignature
        );
        match server {
            ServerKind::Ours => true,
            ServerKind::OursRedis => self == Self::Dpop,
            // In (e) the calibration server verifies each proof's signature and nothing else.
            ServerKind::Calibration => true,
            ServerKind::ExpressSeed => express,
            ServerKind::ExpressOauth2 => express || self == Self::Dpop,
            ServerKind::JwtAuthorizer => self.sends_tokens() && self.is_bearer(),
        }
    }

    /// Short name for the table.
    pub fn label(self) -> &'static str {
        match self {
            Self::Public => "public (no auth)",
            Self::OneToken => "(a) one token",
            Self::DistinctTokens => "(b) token pool",
            Self::LargePool => "(d) large pool",
            Self::BadSignature => "(c) bad signature",
            Self::Dpop => "(e) DPoP proof",
        }
    }

    /// Shortest name, for targets and failure lists.
    pub fn short(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::OneToken => "(a)",
            Self::DistinctTokens => "(b)",
            Self::LargePool => "(d)",
            Self::BadSignature => "(c)",
            Self::Dpop => "(e)",
        }
    }

    /// The route hit.
    pub fn path(self) -> &'static str {
        match self {
            Self::Public => "/api/public",
            _ => "/api/external",
        }
    }

    /// Whether the requests carry a token the issuer signed (the scenario should succeed).
    pub fn sends_valid_tokens(self) -> bool {
        matches!(
            self,
            Self::OneToken | Self::DistinctTokens | Self::LargePool | Self::Dpop
        )
    }

    /// Whether the tokens are sent as `Authorization: Bearer` (every scenario but DPoP); the
    /// Bearer targets are about these.
    pub fn is_bearer(self) -> bool {
        self != Self::Dpop
    }

    /// Whether the requests carry a bearer token at all.
    pub fn sends_tokens(self) -> bool {
        self != Self::Public
    }

    /// The status every response of `server` must have.
    pub fn expected_status(self, server: ServerKind) -> u16 {
        match (self, server) {
            (Self::BadSignature, ServerKind::Calibration) => 200,
            (Self::BadSignature, _) => 401,
            _ => 200,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Scenario::*;

    /// The scenarios `server` runs, in order.
    fn run_by(server: ServerKind) -> Vec<Scenario> {
        Scenario::ALL
            .into_iter()
            .filter(|s| s.applies_to(server))
            .collect()
    }

    #[test]
    fn bad_signatures_are_refused_by_every_server_but_the_calibration() {
        for server in [
            ServerKind::Ours,
            ServerKind::ExpressSeed,
            ServerKind::ExpressOauth2,
            ServerKind::JwtAuthorizer,
        ] {
            assert_eq!(BadSignature.expected_status(server), 401);
        }
        assert_eq!(BadSignature.expected_status(ServerKind::Calibration), 200);
    }

    #[test]
    fn express_peers_skip_public_and_the_large_pool() {
        assert_eq!(
            run_by(ServerKind::ExpressSeed),
            [OneToken, DistinctTokens, BadSignature]
        );
        assert_eq!(
            run_by(ServerKind::ExpressOauth2),
            [OneToken, DistinctTokens, BadSignature, Dpop]
        );
    }

    #[test]
    fn the_calibration_server_runs_every_scenario() {
        assert_eq!(run_by(ServerKind::Calibration), Scenario::ALL);
    }

    #[test]
    fn jwt_authorizer_runs_every_bearer_scenario_with_tokens() {
        assert_eq!(
            run_by(ServerKind::JwtAuthorizer),
            [OneToken, DistinctTokens, BadSignature, LargePool]
        );
    }

    #[test]
    fn the_calibration_ours_with_either_replay_store_and_express_oauth2_run_the_dpop_scenario() {
        let runs_it: Vec<_> = [
            ServerKind::Calibration,
            ServerKind::Ours,
            ServerKind::OursRedis,
            ServerKind::ExpressSeed,
            ServerKind::ExpressOauth2,
            ServerKind::JwtAuthorizer,
        ]
        .into_iter()
        .filter(|k| Dpop.applies_to(*k))
        .collect();
        assert_eq!(
            runs_it,
            [
                ServerKind::Calibration,
                ServerKind::Ours,
                ServerKind::OursRedis,
                ServerKind::ExpressOauth2
            ]
        );
        assert_eq!(Dpop.expected_status(ServerKind::Calibration), 200);
        assert_eq!(Dpop.expected_status(ServerKind::OursRedis), 200);
        assert_eq!(Dpop.expected_status(ServerKind::ExpressOauth2), 200);
    }

    #[test]
    fn ours_with_the_redis_store_runs_the_dpop_scenario_alone() {
        assert_eq!(run_by(ServerKind::OursRedis), [Dpop]);
    }
}
