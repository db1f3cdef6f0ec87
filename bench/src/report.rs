//! What a run produced: one record per server and scenario, the ratios between servers, the
//! performance targets checked against them, and the text table (`results.json` holds the same
//! records).

use std::fmt::Write as _;

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

/// A ratio of two throughputs.
#[derive(Debug, Clone, Serialize)]
pub struct Ratio {
    /// e.g. `ours / express-seed`.
    pub name: String,
    /// Scenario compared.
    pub scenario: Scenario,
    /// Numerator / denominator requests per second.
    pub value: f64,
}

/// A performance target (bench/README.md) and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    /// What is required.
    pub target: String,
    /// What was measured, in words.
    pub measured: String,
    /// `None` when a needed run is missing.
    pub met: Option<bool>,
}

fn find(records: &[RunRecord], server: ServerKind, scenario: Scenario) -> Option<&RunRecord> {
    records
        .iter()
        .find(|r| r.server == server && r.scenario == scenario)
}

fn rps_ratio(
    records: &[RunRecord],
    (a, sa): (ServerKind, Scenario),
    (b, sb): (ServerKind, Scenario),
) -> Option<f64> {
    let num = find(records, a, sa)?.requests_per_sec;
    let den = find(records, b, sb)?.requests_per_sec;
    (den > 0.0).then(|| num / den)
}

/// For each scenario: ours/calibration, ours/express-seed, ours/express-oauth2, and
/// ours-auth/ours-public.
pub fn ratios(records: &[RunRecord]) -> Vec<Ratio> {
    use ServerKind::*;
    let mut out = Vec::new();
    for peer in [Calibration, ExpressSeed, ExpressOauth2] {
        for s in Scenario::ALL {
            if let Some(value) = rps_ratio(records, (Ours, s), (peer, s)) {
                out.push(Ratio {
                    name: format!("ours / {}", peer.label()),
                    scenario: s,
                    value,
                });
            }
        }
    }
    for s in Scenario::ALL.into_iter().filter(|s| s.sends_tokens()) {
        if let Some(value) = rps_ratio(records, (Ours, s), (Ours, Scenario::Public)) {
            out.push(Ratio {
                name: "ours-auth / ours-public".to_owned(),
                scenario: s,
                value,
            });
        }
    }
    out
}

/// Our requests/s over the calibration server's in the same scenario: the share of this
/// machine's HTTP ceiling a row reached.
pub fn of_ceiling(records: &[RunRecord], record: &RunRecord) -> Option<f64> {
    let ceiling = find(records, ServerKind::Calibration, record.scenario)?.requests_per_sec;
    (record.server != ServerKind::Calibration && ceiling > 0.0)
        .then(|| record.requests_per_sec / ceiling)
}

/// The performance targets (bench/README.md), checked.
pub fn check_targets(records: &[RunRecord]) -> Vec<TargetCheck> {
    use Scenario::*;
    use ServerKind::*;
    let mut out = Vec::new();
    let mut ratio_target = |target: &str, a, b, min: f64| {
        let value = rps_ratio(records, a, b);
        out.push(TargetCheck {
            target: target.to_owned(),
            measured: value.map_or_else(|| "not measured".to_owned(), |v| format!("{v:.2}x")),
            met: value.map(|v| v >= min),
        });
    };
    ratio_target(
        "(a) ours >= 0.8x calibration",
        (Ours, OneToken),
        (Calibration, OneToken),
        0.8,
    );
    ratio_target(
        "(a) ours >= 40x express-seed",
        (Ours, OneToken),
        (ExpressSeed, OneToken),
        40.0,
    );
    ratio_target(
        "public ours >= 0.85x calibration",
        (Ours, Public),
        (Calibration, Public),
        0.85,
    );
    ratio_target(
        "(b) ours >= 20x express-seed",
        (Ours, DistinctTokens),
        (ExpressSeed, DistinctTokens),
        20.0,
    );
    // A shared replay store costs one loopback round trip to Redis per DPoP request.
    ratio_target(
        "(e) ours-redis >= 0.7x ours (DPoP replay store in Redis vs memory)",
        (OursRedis, Dpop),
        (Ours, Dpop),
        0.7,
    );
    for s in Scenario::ALL
        .into_iter()
        .filter(|s| s.sends_valid_tokens() && s.is_bearer())
    {
        let r = find(records, Ours, s);
        out.push(TargetCheck {
            target: format!("{} ours p99 <= 10 ms", s.short()),
            measured: r.map_or_else(
                || "not measured".to_owned(),
                |r| format!("{:.2} ms", r.latency_p99_ms),
            ),
            met: r.map(|r| r.latency_p99_ms <= 10.0),
        });
    }
    let redis = find(records, OursRedis, Dpop);
    out.push(TargetCheck {
        target: "(e) ours-redis p99 <= 20 ms".to_owned(),
        measured: redis.map_or_else(
            || "not measured".to_owned(),
            |r| format!("{:.2} ms", r.latency_p99_ms),
        ),
        met: redis.map(|r| r.latency_p99_ms <= 20.0),
    });
    let peak = records
        .iter()
        .filter(|r| r.server == Ours && r.scenario.sends_tokens() && r.scenario.is_bearer())
        .map(|r| r.peak_rss_mib)
        .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))));
    out.push(TargetCheck {
        target: "ours peak RSS <= 40 MiB (Bearer scenarios)".to_owned(),
        measured: peak.map_or_else(|| "not measured".to_owned(), |p| format!("{p:.1} MiB")),
        met: peak.map(|p| p <= 40.0),
    });
    let valid: Vec<&RunRecord> = records.iter().filter(|r| r.expected_status < 400).collect();
    let failing: Vec<String> = valid
        .iter()
        .filter(|r| r.has_failures())
        .map(|r| format!("{} {}", r.server.label(), r.scenario.short()))
        .collect();
    out.push(TargetCheck {
        target: "zero errors and zero non-2xx where 200 is expected".to_owned(),
        measured: if valid.is_empty() {
            "not measured".to_owned()
        } else if failing.is_empty() {
            format!("0 in {} runs", valid.len())
        } else {
            format!("failures in: {}", failing.join(", "))
        },
        met: (!valid.is_empty()).then_some(failing.is_empty()),
    });
    out
}

/// The table, ratios and targets as text for the terminal. Rows are grouped by server, in the
/// order the servers were given; `ceiling` is the row's requests/s over the calibration
/// server's in the same scenario.
pub fn render(records: &[RunRecord], ratios: &[Ratio], targets: &[TargetCheck]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<15} {:<18} {:>6} {:>9} {:>7} {:>7} {:>8} {:>8} {:>6} {:>9} {:>7}  CPU cores server/wrk/other",
        "server",
        "scenario",
        "tokens",
        "req/s",
        "ceiling",
        "p50 ms",
        "p99 ms",
        "non-2xx",
        "errors",
        "peak RSS",
        "us/req",
    );
    let cores = |c: Option<f64>| c.map_or_else(|| "-".to_owned(), |c| format!("{c:.2}"));
    for r in by_server(records) {
        let _ = writeln!(
            s,
            "{:<15} {:<18} {:>6} {:>9.0} {:>7} {:>7.2} {:>8.2} {:>8} {:>6} {:>5.1} MiB {:>7}  {}/{}/{}{}",
            r.server.label(),
            r.scenario.label(),
            r.distinct_tokens,
            r.requests_per_sec,
            of_ceiling(records, r).map_or_else(|| "-".to_owned(), |c| format!("{c:.2}x")),
            r.latency_p50_ms,
            r.latency_p99_ms,
            r.non_2xx,
            r.socket_errors,
            r.peak_rss_mib,
            r.server_cpu_us_per_request
                .map_or_else(|| "-".to_owned(), |u| format!("{u:.1}")),
            cores(r.server_cpu_cores),
            cores(r.wrk_cpu_cores),
            cores(r.other_cpu_cores),
            if r.disturbed() { "  (disturbed)" } else { "" }
        );
    }
    if records.iter().any(RunRecord::disturbed) {
        let _ = writeln!(
            s,
            "(disturbed: other processes used more than {DISTURBED_CORES} of a core during that measurement; rerun on a quiet machine)"
        );
    }
    if records.iter().any(|r| r.rounds.len() > 1) {
        let _ = writeln!(
            s,
            "\nrounds, in the order measured (req/s, p99 ms); each row above is the median round:"
        );
        for r in by_server(records)
            .into_iter()
            .filter(|r| r.rounds.len() > 1)
        {
            let rounds: Vec<String> = r
                .rounds
                .iter()
                .map(|x| format!("{:>7.0} {:>6.2}", x.requests_per_sec, x.latency_p99_ms))
                .collect();
            let _ = writeln!(
                s,
                "  {:<15} {:<18} {}",
                r.server.label(),
                r.scenario.label(),
                rounds.join("  |")
            );
        }
    }
    if !ratios.is_empty() {
        let _ = writeln!(s, "\nratios of requests/s:");
        for r in ratios {
            let _ = writeln!(
                s,
                "  {:<26} {:<20} {:>8.2}x",
                r.name,
                r.scenario.label(),
                r.value
            );
        }
    }
    if !targets.is_empty() {
        let _ = writeln!(s, "\ntargets:");
        for t in targets {
            let mark = match t.met {
                Some(true) => "met",
                Some(false) => "MISSED",
                None => "n/a",
            };
            let _ = writeln!(s, "  {:<7} {:<58} {}", mark, t.target, t.measured);
        }
    }
    s
}

/// The records grouped by server (in order of first appearance), each group in run order.
fn by_server(records: &[RunRecord]) -> Vec<&RunRecord> {
    let mut servers: Vec<ServerKind> = Vec::new();
    for r in records {
        if !servers.contains(&r.server) {
            servers.push(r.server);
        }
    }
    servers
        .into_iter()
        .flat_map(|server| records.iter().filter(move |r| r.server == server))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(server: ServerKind, scenario: Scenario, rps: f64) -> RunRecord {
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

    fn full_run() -> Vec<RunRecord> {
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
    fn ratios_compare_ours_with_each_peer_and_with_public() {
        let r = ratios(&full_run());
        let get = |name: &str, s: Scenario| {
            r.iter()
                .find(|x| x.name == name && x.scenario == s)
                .map(|x| x.value)
        };
        assert_eq!(get("ours / express-seed", Scenario::OneToken), Some(45.0));
        assert_eq!(
            get("ours / express-seed", Scenario::BadSignature),
            Some(18.75)
        );
        assert_eq!(
            get("ours-auth / ours-public", Scenario::OneToken),
            Some(0.9)
        );
        assert_eq!(
            get("ours / calibration", Scenario::DistinctTokens),
            Some(0.5)
        );
        assert_eq!(get("ours / express-oauth2", Scenario::OneToken), None);
    }

    #[test]
    fn every_row_but_the_calibration_shows_its_share_of_the_ceiling() {
        let run = full_run();
        let ceiling = |server, scenario| {
            let r = run
                .iter()
                .find(|r| r.server == server && r.scenario == scenario)
                .expect("present");
            of_ceiling(&run, r)
        };
        assert_eq!(ceiling(ServerKind::Ours, Scenario::OneToken), Some(0.9));
        assert_eq!(
            ceiling(ServerKind::ExpressSeed, Scenario::OneToken),
            Some(0.02)
        );
        assert_eq!(ceiling(ServerKind::Calibration, Scenario::OneToken), None);
        assert_eq!(ceiling(ServerKind::Ours, Scenario::BadSignature), None);
    }

    #[test]
    fn targets_met_and_missed_are_told_apart() {
        let mut run = full_run();
        run[5].requests_per_sec = 10_000.0; // (b) only 10x the seed
        let t = check_targets(&run);
        let met = |prefix: &str| {
            t.iter()
                .find(|c| c.target.starts_with(prefix))
                .and_then(|c| c.met)
        };
        assert_eq!(met("(a) ours >= 40x"), Some(true));
        assert_eq!(met("(a) ours >= 0.8x calibration"), Some(true));
        assert_eq!(met("public ours >= 0.85x calibration"), Some(true));
        assert_eq!(met("(b) ours >= 20x"), Some(false));
        assert_eq!(met("(d) ours p99"), None);
        assert_eq!(met("ours peak RSS"), Some(true));
        assert_eq!(met("zero errors"), Some(true));
    }

    #[test]
    fn a_single_non_2xx_on_a_valid_token_run_fails_the_zero_errors_target() {
        let mut run = full_run();
        run[7].non_2xx = 1;
        let t = check_targets(&run);
        let zero = t
            .iter()
            .find(|c| c.target.starts_with("zero errors"))
            .expect("present");
        assert_eq!(zero.met, Some(false));
        assert_eq!(zero.measured, "failures in: express-seed (a)");
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
    fn missing_peer_makes_its_targets_not_applicable() {
        let run: Vec<RunRecord> = full_run()
            .into_iter()
            .filter(|r| r.server == ServerKind::Ours)
            .collect();
        let t = check_targets(&run);
        let seed = t
            .iter()
            .find(|c| c.target == "(a) ours >= 40x express-seed")
            .expect("present");
        assert_eq!(seed.met, None);
        assert_eq!(seed.measured, "not measured");
    }

    #[test]
    fn run_with_other_load_is_marked_disturbed_in_the_table() {
        let mut run = full_run();
        run[1].other_cpu_cores = Some(0.5);
        assert!(run[1].disturbed());
        assert!(!run[0].disturbed());
        let text = render(&run, &[], &[]);
        assert_eq!(
            text.lines().filter(|l| l.ends_with("(disturbed)")).count(),
            1
        );
    }

    #[test]
    fn bearer_scenarios_alone_count_for_the_peak_rss_target() {
        let mut run = full_run();
        run[3].peak_rss_mib = 50.0; // ours, /api/public
        let t = check_targets(&run);
        let rss = t
            .iter()
            .find(|c| c.target.starts_with("ours peak RSS"))
            .expect("present");
        assert_eq!(rss.met, Some(true));
        assert_eq!(rss.measured, "20.0 MiB");
    }

    #[test]
    fn calibration_answering_200_to_bad_signatures_is_not_a_failure() {
        let r = record(ServerKind::Calibration, Scenario::BadSignature, 1.0);
        assert_eq!(r.expected_status, 200);
        assert!(!r.has_failures());
    }

    #[test]
    fn table_has_one_row_per_record_grouped_by_server() {
        let mut run = full_run();
        run.swap(0, 3); // an ours row first, as a scenario-major run records them
        let text = render(&run, &ratios(&run), &check_targets(&run));
        let servers: Vec<&str> = text
            .lines()
            .skip(1)
            .take(run.len())
            .filter_map(|l| l.split_whitespace().next())
            .collect();
        assert_eq!(
            servers,
            [
                "ours",
                "ours",
                "ours",
                "ours",
                "calibration",
                "calibration",
                "calibration",
                "express-seed",
                "express-seed",
                "express-seed"
            ]
        );
        assert_eq!(text.lines().filter(|l| l.starts_with("ours ")).count(), 4);
        assert_eq!(
            text.lines()
                .filter(|l| l.starts_with("express-seed"))
                .count(),
            3
        );
    }
}
