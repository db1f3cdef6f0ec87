//! The text table of a run for the terminal: the records grouped by server, then the ratios
//! and the targets.

use std::fmt::Write as _;

use crate::options::ServerKind;
use crate::report::{DISTURBED_CORES, RunRecord};
use crate::targets::{Ratio, TargetCheck, of_ceiling};

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
    use crate::report::fixtures::full_run;
    use crate::targets::{check_targets, ratios};

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
