//! What a run produced: one record per server and scenario (`results.json` holds the same
//! records). The targets checked against them are in `targets`, the text table in `table`.

use serde::Serialize;

use crate::options::ServerKind;
use crate::scenario::Scenario;
use crate::wrk::WrkSummary;

/// Other load (in cores) above which a measurement is marked as disturbed.
pub const DISTURBED_CORES: f64 = 0.25;

/// One measurement.
#[derive(Debug, Clone, Serialize)]
pub struct RunRecord {
    /// Which server.
    pub server: ServerKind,
    /// Which scenario.
    pub scenario: Scenario,
    /// Route.
    pub path: &'static str,
    /// Status each response should have.
    pub expected_status: u16,
    /// Distinct tokens sent in rotation (0 for none).
    pub distinct_tokens: usize,
    /// Throughput.
    pub requests_per_sec: f64,
    /// Median latency, ms.
    pub latency_p50_ms: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
    /// Slowest request, ms.
    pub latency_max_ms: f64,
    /// Responses with status ≥ 400 (wrk's count); equals `requests` when 401 is expected.
    pub non_2xx: u64,
    /// Connect, read, write and timeout errors.
    pub socket_errors: u64,
    /// Peak resident set of the server during the measurement, MiB.
    pub peak_rss_mib: f64,
    /// Whether the peak is the kernel's exact mark (else sampled every 50 ms).
    pub peak_rss_exact: bool,
    /// CPU the server used, in cores (of 2, shared with wrk).
    pub server_cpu_cores: Option<f64>,
    /// Server CPU time per answered request, µs: the cost of one request, independent of how
    /// much of the machine the server got.
    pub server_cpu_us_per_request: Option<f64>,
    /// CPU wrk used, in cores.
    pub wrk_cpu_cores: Option<f64>,
    /// CPU used by everything else on the machine, in cores: more than [`DISTURBED_CORES`] means
    /// other work competed with the benchmark and its figures are low.
    pub other_cpu_cores: Option<f64>,
    /// Bytes the server logged during warm-up and measurement (shows logging stayed on).
    pub log_bytes: u64,
    /// Lines the server logged per request answered (warm-up and measurement): about 1 for
    /// ours with one `info` line per request; less means log lines were dropped.
    pub log_lines_per_request: f64,
    /// Share of verifications answered by our verified-token cache (from `/metrics`; ours only).
    pub token_cache_hit_ratio: Option<f64>,
    /// Every round of this server and scenario in the order measured, as requests/s and p99
    /// latency (ms); the row is the round with the median requests/s ([`median_round`]).
    pub rounds: Vec<Round>,
    /// How many of those rounds saw a failure ([`RunRecord::has_failures`]): one failed round
    /// fails the row, whichever round it shows.
    pub failed_rounds: usize,
    /// wrk's raw figures.
    pub wrk: WrkSummary,
}

/// One round's headline figures.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Round {
    /// Throughput.
    pub requests_per_sec: f64,
    /// 99th percentile latency, ms.
    pub latency_p99_ms: f64,
}

/// The record of the round with the median requests/s (with an even count, the slower of the
/// two middle ones), carrying every round's figures and failures. `None` for no rounds.
///
/// Why rounds: on a shared 2-core machine the throughput of one 15-second run moves by 10 %
/// or more from run to run, as much as the ratios the targets are about. Measuring the
/// calibration server and ours in alternation several times and keeping the median round
/// puts both under the same conditions and keeps one outlier from deciding a ratio.
pub fn median_round(mut rounds: Vec<RunRecord>) -> Option<RunRecord> {
    let all: Vec<Round> = rounds
        .iter()
        .map(|r| Round {
            requests_per_sec: r.requests_per_sec,
            latency_p99_ms: r.latency_p99_ms,
        })
        .collect();
    let failed = rounds.iter().filter(|r| r.has_failures()).count();
    rounds.sort_by(|a, b| a.requests_per_sec.total_cmp(&b.requests_per_sec));
    let middle = rounds.len().checked_sub(1)? / 2;
    let mut median = rounds.swap_remove(middle);
    median.rounds = all;
    median.failed_rounds = failed;
    Some(median)
}

impl RunRecord {
    /// Whether other work on the machine took a noticeable share of the CPU meanwhile.
    pub fn disturbed(&self) -> bool {
        self.other_cpu_cores.is_some_and(|c| c > DISTURBED_CORES)
    }

    /// Whether a scenario that expects success saw any failure, in this round or another.
    pub fn has_failures(&self) -> bool {
        let bad_status = if self.expected_status < 400 {
            self.non_2xx
        } else {
            self.wrk.requests.saturating_sub(self.non_2xx)
        };
        bad_status > 0 || self.socket_errors > 0 || self.failed_rounds > 0
    }
}

/// Records for the tests of this module, `targets` and `table`.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub(crate) fn record(server: ServerKind, scenario: Scenario, rps: f64) -> RunRecord {
        RunRecord {
            server,
            scenario,
            path: scenario.path(),
            expected_status: scenario.expected_status(server),
            distinct_tokens: 1,
            requests_per_sec: rps,
            latency_p50_ms: 1.0,
            latency_p99_ms: 5.0,
            latency_max_ms: 9.0,
            non_2xx: 0,
            socket_errors: 0,
            peak_rss_mib: 20.0,
            peak_rss_exact: true,
            server_cpu_cores: Some(1.0),
            server_cpu_us_per_request: Some(1e6 / rps),
            wrk_cpu_cores: Some(0.9),
            other_cpu_cores: Some(0.0),
            log_bytes: 10,
            log_lines_per_request: 1.0,
            token_cache_hit_ratio: None,
            rounds: Vec::new(),
            failed_rounds: 0,
            wrk: WrkSummary {
                requests: 1000,
                duration_us: 1_000_000,
                bytes: 1,
                errors_connect: 0,
                errors_read: 0,
                errors_write: 0,
                errors_timeout: 0,
                status_errors: 0,
                latency_p50_us: 1000,
                latency_p90_us: 2000,
                latency_p99_us: 5000,
                latency_max_us: 9000,
                latency_mean_us: 1100.0,
                proofs_exhausted: 0,
            },
        }
    }

    pub(crate) fn full_run() -> Vec<RunRecord> {
        use Scenario::*;
        use ServerKind::*;
        vec![
            record(Calibration, Public, 55_000.0),
            record(Calibration, OneToken, 50_000.0),
            record(Calibration, DistinctTokens, 48_000.0),
            record(Ours, Public, 50_000.0),
            record(Ours, OneToken, 45_000.0),
            record(Ours, DistinctTokens, 24_000.0),
            record(Ours, BadSignature, 15_000.0),
            record(ExpressSeed, OneToken, 1_000.0),
            record(ExpressSeed, DistinctTokens, 1_000.0),
            record(ExpressSeed, BadSignature, 800.0),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::record;
    use super::*;

    fn rounds_of(rps: &[f64]) -> Vec<RunRecord> {
        rps.iter()
            .map(|&r| record(ServerKind::Ours, Scenario::OneToken, r))
            .collect()
    }

    #[test]
    fn the_row_of_three_rounds_is_the_median_one() {
        let row = median_round(rounds_of(&[90.0, 120.0, 100.0])).expect("a row");
        assert_eq!(row.requests_per_sec, 100.0);
    }

    #[test]
    fn the_row_of_two_rounds_is_the_slower_one() {
        let row = median_round(rounds_of(&[120.0, 100.0])).expect("a row");
        assert_eq!(row.requests_per_sec, 100.0);
    }

    #[test]
    fn the_row_keeps_every_round_in_the_order_measured() {
        let row = median_round(rounds_of(&[90.0, 120.0, 100.0])).expect("a row");
        let rps: Vec<f64> = row.rounds.iter().map(|r| r.requests_per_sec).collect();
        assert_eq!(rps, [90.0, 120.0, 100.0]);
    }

    #[test]
    fn a_failure_in_a_round_not_shown_still_fails_the_row() {
        let mut rounds = rounds_of(&[90.0, 120.0, 100.0]);
        rounds[1].socket_errors = 1;
        let row = median_round(rounds).expect("a row");
        assert_eq!(row.socket_errors, 0);
        assert!(row.has_failures());
    }

    #[test]
    fn no_rounds_make_no_row() {
        assert!(median_round(Vec::new()).is_none());
    }

    #[test]
    fn bad_signature_run_with_all_401_is_not_a_failure() {
        let mut r = record(ServerKind::Ours, Scenario::BadSignature, 1.0);
        r.non_2xx = r.wrk.requests;
        assert!(!r.has_failures());
        r.non_2xx -= 1;
        assert!(r.has_failures());
    }

    #[test]
    fn calibration_answering_200_to_bad_signatures_is_not_a_failure() {
        let r = record(ServerKind::Calibration, Scenario::BadSignature, 1.0);
        assert_eq!(r.expected_status, 200);
        assert!(!r.has_failures());
    }
}
