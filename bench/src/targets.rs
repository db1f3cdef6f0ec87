//! The ratios between servers and the performance targets (bench/README.md), checked against
//! one run's records.

use serde::Serialize;

use crate::floor::Floor;
use crate::options::ServerKind;
use crate::report::RunRecord;
use crate::scenario::Scenario;

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

/// For each scenario: ours/calibration, ours over each peer (express-seed, express-oauth2,
/// jwt-authorizer), and ours-auth/ours-public.
pub fn ratios(records: &[RunRecord]) -> Vec<Ratio> {
    use ServerKind::*;
    let mut out = Vec::new();
    for peer in [Calibration, ExpressSeed, ExpressOauth2, JwtAuthorizer] {
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

/// The floor targets: (e)'s and (d)'s CPU per request against one signature verification plus
/// a cached-Bearer request (a) of the same run ([`Floor`]).
pub fn check_floors(records: &[RunRecord], floor: Option<&Floor>) -> Vec<TargetCheck> {
    let cases = [
        (Scenario::Dpop, "ES256", 1.1, floor.map(|f| f.es256_us)),
        (
            Scenario::LargePool,
            "RS256",
            1.25,
            floor.map(|f| f.rs256_us),
        ),
    ];
    cases
        .into_iter()
        .map(|(scenario, algorithm, limit, signature_us)| {
            let target = format!(
                "{} ours CPU/request <= {limit}x floor ({algorithm} verification + (a))",
                scenario.short()
            );
            let cpu = |s| {
                find(records, ServerKind::Ours, s).and_then(|r| r.server_cpu_us_per_request)
            };
            match (signature_us, cpu(Scenario::OneToken), cpu(scenario)) {
                (Some(signature_us), Some(bearer_us), Some(ours_us)) => {
                    let floor_us = signature_us + bearer_us;
                    let ratio = ours_us / floor_us;
                    TargetCheck {
                        target,
                        measured: format!(
                            "floor = signature {signature_us:.1} µs + cached-Bearer request (a) {bearer_us:.1} µs = {floor_us:.1} µs; {} {ours_us:.1} µs = {ratio:.2}x",
                            scenario.short()
                        ),
                        met: Some(ratio <= limit),
                    }
                }
                _ => TargetCheck {
                    target,
                    measured: "not measured (needs the floor, (a) and this scenario)".to_owned(),
                    met: None,
                },
            }
        })
        .chain(std::iter::once(dpop_against_calibration(records)))
        .collect()
}

/// (e)'s CPU per request against the calibration server's in (e), where that bare handler
/// verifies each proof's signature and nothing else: the same floor, measured under load.
fn dpop_against_calibration(records: &[RunRecord]) -> TargetCheck {
    let target = "(e) ours CPU/request <= 1.1x calibration's (e) (a bare handler verifying each proof's signature)".to_owned();
    let cpu =
        |server| find(records, server, Scenario::Dpop).and_then(|r| r.server_cpu_us_per_request);
    match (cpu(ServerKind::Calibration), cpu(ServerKind::Ours)) {
        (Some(floor_us), Some(ours_us)) if floor_us > 0.0 => {
            let ratio = ours_us / floor_us;
            TargetCheck {
                target,
                measured: format!(
                    "calibration {floor_us:.1} µs, ours {ours_us:.1} µs = {ratio:.2}x"
                ),
                met: Some(ratio <= 1.1),
            }
        }
        _ => TargetCheck {
            target,
            measured: "not measured (needs the calibration server and ours in (e))".to_owned(),
            met: None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixtures::{full_run, record};

    /// The check whose target starts with `prefix`.
    fn check<'a>(checks: &'a [TargetCheck], prefix: &str) -> &'a TargetCheck {
        checks
            .iter()
            .find(|c| c.target.starts_with(prefix))
            .expect("present")
    }

    /// Whether `run` met the target starting with `prefix`, and what it measured.
    fn verdict(run: &[RunRecord], prefix: &str) -> (Option<bool>, String) {
        let c = check(&check_targets(run), prefix).clone();
        (c.met, c.measured)
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
        let met = |prefix: &str| check(&t, prefix).met;
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
        assert_eq!(
            verdict(&run, "zero errors"),
            (Some(false), "failures in: express-seed (a)".to_owned())
        );
    }

    #[test]
    fn missing_peer_makes_its_targets_not_applicable() {
        let run: Vec<RunRecord> = full_run()
            .into_iter()
            .filter(|r| r.server == ServerKind::Ours)
            .collect();
        assert_eq!(
            verdict(&run, "(a) ours >= 40x express-seed"),
            (None, "not measured".to_owned())
        );
    }

    #[test]
    fn bearer_scenarios_alone_count_for_the_peak_rss_target() {
        let mut run = full_run();
        run[3].peak_rss_mib = 50.0; // ours, /api/public
        assert_eq!(
            verdict(&run, "ours peak RSS"),
            (Some(true), "20.0 MiB".to_owned())
        );
    }

    #[test]
    fn the_dpop_floor_target_compares_cpu_with_es256_plus_a_cached_bearer_request() {
        let mut run = full_run();
        run.push(record(ServerKind::Ours, Scenario::Dpop, 1.0));
        let at = run.len() - 1;
        run[at].server_cpu_us_per_request = Some(60.0);
        let one_token = run
            .iter_mut()
            .find(|r| r.server == ServerKind::Ours && r.scenario == Scenario::OneToken)
            .unwrap();
        one_token.server_cpu_us_per_request = Some(10.0);
        let floor = Floor {
            es256_us: 45.0,
            rs256_us: 17.0,
        };
        let checks = check_floors(&run, Some(&floor));
        assert_eq!(checks[0].met, Some(true)); // 60 / 55 = 1.09
        assert!(
            checks[0].measured.ends_with("(e) 60.0 µs = 1.09x"),
            "{}",
            checks[0].measured
        );
        run[at].server_cpu_us_per_request = Some(61.0);
        assert_eq!(check_floors(&run, Some(&floor))[0].met, Some(false)); // 1.11
    }

    #[test]
    fn without_a_floor_the_floor_targets_are_not_applicable() {
        let checks = check_floors(&full_run(), None);
        assert_eq!(checks.len(), 3);
        assert!(checks.iter().all(|c| c.met.is_none()));
    }

    #[test]
    fn the_dpop_target_under_load_compares_cpu_with_the_calibration_servers_in_e() {
        let mut run = full_run();
        for (server, cpu) in [(ServerKind::Calibration, 60.0), (ServerKind::Ours, 66.6)] {
            let mut r = record(server, Scenario::Dpop, 1.0);
            r.server_cpu_us_per_request = Some(cpu);
            run.push(r);
        }
        let check = check_floors(&run, None).pop().expect("three checks");
        assert_eq!(check.met, Some(false)); // 66.6 / 60 = 1.11
        assert_eq!(check.measured, "calibration 60.0 µs, ours 66.6 µs = 1.11x");
        run.last_mut().expect("ours").server_cpu_us_per_request = Some(65.4);
        let check = check_floors(&run, None).pop().expect("three checks");
        assert_eq!(check.met, Some(true)); // 1.09
    }
}
