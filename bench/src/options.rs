//! The runner's knobs: flags mirrored by `BENCH_*` environment variables, each bounded so that
//! a typo cannot start an endless or machine-filling run.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// The servers the benchmark can measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ServerKind {
    /// `bench/src/bin/calibration.rs`: a bare actix-web handler with our answers, the ceiling.
    Calibration,
    /// Our actix-web `api` binary.
    Ours,
    /// Our `api` binary with its DPoP replay store in Redis (`API_REPLAY_STORE`), a
    /// `redis-server` the runner starts on loopback, as every replica of a cluster shares it:
    /// the DPoP scenario only, next to ours with the in-memory store.
    OursRedis,
    /// `bench/express-seed.js`: the seed's express-jwt + jwks-rsa server.
    ExpressSeed,
    /// `bench/express-oauth2.js`: Auth0's express-oauth2-jwt-bearer, DPoP on.
    ExpressOauth2,
    /// `bench/peers/jwt-authorizer`: axum with the jwt-authorizer crate, the Rust peer.
    JwtAuthorizer,
}

impl ServerKind {
    /// The name used in the table and the JSON.
    pub fn label(self) -> &'static str {
        match self {
            Self::Calibration => "calibration",
            Self::Ours => "ours",
            Self::OursRedis => "ours-redis",
            Self::ExpressSeed => "express-seed",
            Self::ExpressOauth2 => "express-oauth2",
            Self::JwtAuthorizer => "jwt-authorizer",
        }
    }

    /// Whether it runs on Node.js (and needs `bench/node_modules`).
    pub fn runs_on_node(self) -> bool {
        matches!(self, Self::ExpressSeed | Self::ExpressOauth2)
    }

    /// Whether it is a peer: a server a user would pick instead of ours (settings `HOST`,
    /// `PORT`, `AUTH0_DOMAIN`, `AUTH0_AUDIENCE`, as the seed's).
    pub fn is_peer(self) -> bool {
        matches!(
            self,
            Self::ExpressSeed | Self::ExpressOauth2 | Self::JwtAuthorizer
        )
    }

    /// Whether it is our `api` binary (with either replay store).
    pub fn is_ours(self) -> bool {
        matches!(self, Self::Ours | Self::OursRedis)
    }
}

/// Runs the load benchmark: a bare actix-web calibration server, our API, the seed's Express
/// server, express-oauth2-jwt-bearer and axum with jwt-authorizer, side by side against one local dev issuer, with wrk on
/// loopback.
#[derive(Debug, Parser)]
#[command(name = "bench", version)]
pub struct Options {
    /// Seconds of warm-up load before each measurement (results discarded).
    #[arg(long, env = "BENCH_WARMUP", default_value_t = 5, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub warmup_secs: u64,

    /// Seconds of measured load per server and scenario.
    #[arg(long, env = "BENCH_DURATION", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=600))]
    pub measure_secs: u64,

    /// Rounds of each scenario against the calibration server and ours, measured in
    /// alternation; each row is the round with the median requests/s. The peers and
    /// the DPoP scenario (no ceiling to compare with) are measured once.
    #[arg(long, env = "BENCH_ROUNDS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,

    /// Open connections held by wrk.
    #[arg(long, env = "BENCH_CONNECTIONS", default_value_t = 64, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub connections: u32,

    /// wrk threads (the machine has 2 cores, shared with the server under test).
    #[arg(long, env = "BENCH_THREADS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub threads: u32,

    /// Number of distinct valid tokens in scenario (b), and of bad-signature tokens in (c).
    #[arg(long, env = "BENCH_POOL", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub pool_size: u32,

    /// Number of distinct valid tokens in scenario (d), larger than our verified-token cache so
    /// that nearly every request is an RSA verification; 0 skips (d).
    #[arg(long, env = "BENCH_LARGE_POOL", default_value_t = 50_000, value_parser = clap::value_parser!(u32).range(0..=200_000))]
    pub large_pool_size: u32,

    /// Upper bound on our requests/s in the DPoP scenario (e): the runner makes this many fresh
    /// proofs per second of each wrk run (a run that would need more stops with an error) and
    /// sizes our replay store for it; 0 skips (e).
    #[arg(long, env = "BENCH_DPOP_MAX_RATE", default_value_t = 30_000, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub dpop_max_rate: u32,

    /// Servers to measure, comma-separated.
    #[arg(
        long,
        env = "BENCH_SERVERS",
        value_delimiter = ',',
        default_value = "calibration,ours,ours-redis,express-seed,express-oauth2,jwt-authorizer"
    )]
    pub servers: Vec<ServerKind>,

    /// Scenarios to run, comma-separated: `public`, `a`, `b`, `c`, `d`, `e` (e.g. `e` with
    /// `--servers ours,ours-redis` compares the two DPoP replay stores alone).
    #[arg(
        long,
        env = "BENCH_SCENARIOS",
        value_delimiter = ',',
        default_value = "public,a,b,c,d,e"
    )]
    pub scenarios: Vec<crate::scenario::Scenario>,

    /// Where results.json, the token files and the server logs go (default: `<target dir>/bench`).
    #[arg(long, env = "BENCH_OUT")]
    pub out: Option<PathBuf>,

    /// Use the already-built release binaries instead of running `cargo build --release`.
    #[arg(long, env = "BENCH_SKIP_BUILD")]
    pub skip_build: bool,
}

impl Options {
    /// Warm-up length.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs(self.warmup_secs)
    }

    /// Measurement length.
    pub fn measure(&self) -> Duration {
        Duration::from_secs(self.measure_secs)
    }

    /// How many tokens to mint: enough for the larger pool.
    pub fn tokens_to_mint(&self) -> usize {
        usize::try_from(self.pool_size.max(self.large_pool_size)).unwrap_or(usize::MAX)
    }

    /// The servers to run, in the given order, each once.
    pub fn servers(&self) -> Vec<ServerKind> {
        let mut seen = Vec::new();
        for s in &self.servers {
            if !seen.contains(s) {
                seen.push(*s);
            }
        }
        seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let o = Options::try_parse_from(["bench"]).expect("defaults parse");
        assert_eq!(o.warmup_secs, 5);
        assert_eq!(o.measure_secs, 15);
        assert_eq!(o.rounds, 3);
        assert_eq!(o.connections, 64);
        assert_eq!(o.threads, 2);
        assert_eq!(o.pool_size, 10_000);
        assert_eq!(o.large_pool_size, 50_000);
        assert_eq!(o.dpop_max_rate, 30_000);
        assert_eq!(o.scenarios, crate::scenario::Scenario::ALL);
        assert_eq!(
            o.servers(),
            [
                ServerKind::Calibration,
                ServerKind::Ours,
                ServerKind::OursRedis,
                ServerKind::ExpressSeed,
                ServerKind::ExpressOauth2,
                ServerKind::JwtAuthorizer
            ]
        );
    }

    #[test]
    fn measurement_longer_than_ten_minutes_is_refused() {
        assert!(Options::try_parse_from(["bench", "--measure-secs", "601"]).is_err());
    }

    #[test]
    fn scenarios_are_chosen_by_their_short_names() {
        use crate::scenario::Scenario;
        let o = Options::try_parse_from(["bench", "--scenarios", "e,a"]).expect("valid");
        assert_eq!(o.scenarios, [Scenario::Dpop, Scenario::OneToken]);
        assert!(Options::try_parse_from(["bench", "--scenarios", "f"]).is_err());
    }

    #[test]
    fn repeated_server_is_run_once() {
        let o = Options::try_parse_from(["bench", "--servers", "ours,express-seed,ours"])
            .expect("valid");
        assert_eq!(o.servers(), [ServerKind::Ours, ServerKind::ExpressSeed]);
    }
}
