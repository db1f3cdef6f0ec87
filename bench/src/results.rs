//! `results.json`: every record of a run with the ratios, the targets, the settings and the
//! machine, so that a file read later says by itself what was measured, where and how.
//!
//! Each run writes it twice: `target/bench/results.json` (the latest run, beside its logs) and
//! `bench/results/<UTC time>.json`, a dated copy to commit when a run is worth keeping, so that
//! the history of measurements lives in files rather than in prose (bench/README.md quotes the
//! latest one).

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::floor::Floor;
use crate::machine::MachineInfo;
use crate::options::{Options, ServerKind};
use crate::report::RunRecord;
use crate::targets::{self, Ratio, TargetCheck};

/// How to read the figures; written into every file.
const NOTES: [&str; 6] = [
    "wrk and every server share the same cores: compare ratios, not absolute figures",
    "calibration is a bare actix-web handler with the same answers and no middleware or token check (it answers 200 to every scenario): the machine's HTTP ceiling for the same requests",
    "non_2xx is wrk's count of responses with status >= 400; (c) expects 401 for all but the calibration server",
    "peak_rss_mib is the server's VmHWM, reset at the start of each measurement",
    "server_cpu_us_per_request: the server's CPU time per answered request, the cost of one request whatever share of the cores it got",
    "server/wrk/other_cpu_cores: CPU time during the measurement divided by its length; other > 0.25 marks a disturbed run",
];

/// The whole JSON document.
#[derive(Debug, Serialize)]
pub struct Results {
    timestamp: String,
    unix_time: i64,
    machine: MachineInfo,
    settings: Settings,
    /// One per server and scenario, in the order they ran.
    pub runs: Vec<RunRecord>,
    /// Ratios of requests/s.
    pub ratios: Vec<Ratio>,
    /// The targets, checked.
    pub targets: Vec<TargetCheck>,
    /// One ES256 and one RS256 verification, µs, measured after the servers stopped.
    pub floor: Option<Floor>,
    notes: [&'static str; 6],
}

#[derive(Debug, Serialize)]
struct Settings {
    warmup_secs: u64,
    measure_secs: u64,
    connections: u32,
    wrk_threads: u32,
    pool_size: u32,
    large_pool_size: u32,
    servers: Vec<ServerKind>,
}

/// Why the results could not be written.
#[derive(Debug, thiserror::Error)]
#[error("cannot write {0}: {1}")]
pub struct WriteError(PathBuf, std::io::Error);

impl Results {
    /// The document for `runs`, stamped with the current time and `machine`.
    pub fn new(
        options: &Options,
        machine: MachineInfo,
        runs: Vec<RunRecord>,
        floor: Option<Floor>,
    ) -> Self {
        let (timestamp, unix_time) = crate::machine::now();
        Self {
            timestamp,
            unix_time,
            machine,
            settings: Settings {
                warmup_secs: options.warmup_secs,
                measure_secs: options.measure_secs,
                connections: options.connections,
                wrk_threads: options.threads,
                pool_size: options.pool_size,
                large_pool_size: options.large_pool_size,
                servers: options.servers(),
            },
            ratios: targets::ratios(&runs),
            targets: [
                targets::check_targets(&runs),
                targets::check_floors(&runs, floor.as_ref()),
            ]
            .concat(),
            floor,
            runs,
            notes: NOTES,
        }
    }

    /// Writes the document as pretty JSON to `path`.
    pub fn write(&self, path: &Path) -> Result<(), WriteError> {
        let json = serde_json::to_string_pretty(self)
            .map_err(|e| WriteError(path.to_owned(), e.into()))?;
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).map_err(|e| WriteError(path.to_owned(), e))?;
        }
        std::fs::write(path, json + "\n").map_err(|e| WriteError(path.to_owned(), e))
    }

    /// The dated copy's file name: the run's UTC time with `-` for `:` (a name every file system
    /// takes), e.g. `2026-11-30T16-52-04Z.json`, so the names sort by time.
    pub fn dated_file_name(&self) -> String {
        dated_file_name(&self.timestamp)
    }

    /// The table, ratios and targets as text.
    pub fn render(&self) -> String {
        crate::table::render(&self.runs, &self.ratios, &self.targets)
    }
}

/// `timestamp` (RFC 3339, UTC) as a file name: `:` is not allowed everywhere.
fn dated_file_name(timestamp: &str) -> String {
    format!("{}.json", timestamp.replace(':', "-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_dated_file_is_named_after_the_runs_utc_time_without_colons() {
        assert_eq!(
            dated_file_name("2026-11-30T16:52:04Z"),
            "2026-11-30T16-52-04Z.json"
        );
    }
}
