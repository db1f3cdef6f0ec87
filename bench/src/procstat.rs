//! Memory and CPU of the server under test, read from `/proc/<pid>`.
//!
//! Peak RSS per scenario: the kernel's high-water mark `VmHWM` is reset at the start of each
//! measurement (writing `5` to `/proc/<pid>/clear_refs`, Linux ≥ 4.0, same user or root), so
//! at the end it is the exact peak of that measurement. Where the reset is refused, a sampler
//! reading `VmRSS` every 50 ms stands in. CPU time (`utime + stime` from `/proc/<pid>/stat`)
//! tells how much of the 2 cores the server got; the runner's reaped children's time (wrk is
//! the only child reaped during a measurement) tells what wrk took, and `/proc/stat` what the
//! whole machine did — anything beyond server + wrk is other load that disturbs the figures.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

/// Kernel clock ticks per second for `/proc/<pid>/stat` times: 100 on every Linux build that
/// Debian ships (`getconf CLK_TCK`); reading it needs libc's sysconf, not worth a dependency.
const CLOCK_TICKS_PER_SEC: f64 = 100.0;

/// A value in KiB from `/proc/<pid>/status`, e.g. `VmRSS: 12345 kB`.
pub fn status_kib(status: &str, field: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// The sum of two numeric fields of `/proc/<pid>/stat` text, by their index counted from the
/// state (field 3) on. The command name (field 2) is in parentheses and may hold spaces, so the
/// fields are split after the last ')'.
fn stat_sum(stat: &str, first: usize, second: usize) -> Option<u64> {
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let field = |i: usize| fields.get(i)?.parse::<u64>().ok();
    Some(field(first)? + field(second)?)
}

/// `utime + stime` (fields 14 and 15) in clock ticks from the text of `/proc/<pid>/stat`.
pub fn cpu_ticks(stat: &str) -> Option<u64> {
    stat_sum(stat, 11, 12)
}

/// `cutime + cstime` (fields 16 and 17: CPU time of reaped children) in clock ticks from
/// `/proc/<pid>/stat` text.
pub fn children_cpu_ticks(stat: &str) -> Option<u64> {
    stat_sum(stat, 13, 14)
}

/// Busy clock ticks of all CPUs from the text of `/proc/stat` (everything but idle and iowait;
/// guest time is already inside user time).
pub fn machine_busy_ticks(stat: &str) -> Option<u64> {
    let line = stat.lines().find(|l| l.starts_with("cpu "))?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().ok())
        .collect::<Option<_>>()?;
    // user nice system idle iowait irq softirq steal ...
    Some(v.first()? + v.get(1)? + v.get(2)? + v.get(5)? + v.get(6)? + v.get(7).unwrap_or(&0))
}

fn read_children_ticks() -> Option<u64> {
    children_cpu_ticks(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

fn read_machine_ticks() -> Option<u64> {
    machine_busy_ticks(&std::fs::read_to_string("/proc/stat").ok()?)
}

fn read_status(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/status")).ok()
}

fn read_cpu_ticks(pid: u32) -> Option<u64> {
    cpu_ticks(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// Watches one process during a measurement.
#[derive(Debug)]
pub struct Monitor {
    pid: u32,
    hwm_was_reset: bool,
    start_ticks: Option<u64>,
    start_children: Option<u64>,
    start_machine: Option<u64>,
    stop: Arc<AtomicBool>,
    max_rss_kib: Arc<AtomicU64>,
    sampler: Option<JoinHandle<()>>,
}

/// What a [`Monitor`] saw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Usage {
    /// Peak resident set size in KiB during the measurement.
    pub peak_rss_kib: u64,
    /// Whether the peak is the kernel's exact high-water mark (else: the 50 ms samples' maximum).
    pub peak_is_exact: bool,
    /// CPU time used, in cores (1.0 = one core fully busy for the whole measurement).
    pub cpu_cores: Option<f64>,
    /// CPU time of the runner's children reaped meanwhile (wrk), in cores.
    pub load_generator_cores: Option<f64>,
    /// CPU time of the whole machine, in cores.
    pub machine_cores: Option<f64>,
}

impl Monitor {
    /// Resets the peak-RSS mark of `pid` and starts sampling.
    pub fn start(pid: u32) -> Self {
        let hwm_was_reset = std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok();
        let stop = Arc::new(AtomicBool::new(false));
        let max_rss_kib = Arc::new(AtomicU64::new(0));
        let sampler = {
            let stop = Arc::clone(&stop);
            let max = Arc::clone(&max_rss_kib);
            std::thread::spawn(move || {
                // Ends when told to, or when the process is gone.
                while !stop.load(Ordering::Relaxed) {
                    let Some(rss) = read_status(pid).and_then(|s| status_kib(&s, "VmRSS")) else {
                        break;
                    };
                    max.fetch_max(rss, Ordering::Relaxed);
                    std::thread::sleep(Duration::from_millis(50));
                }
            })
        };
        Self {
            pid,
            hwm_was_reset,
            start_ticks: read_cpu_ticks(pid),
            start_children: read_children_ticks(),
            start_machine: read_machine_ticks(),
            stop,
            max_rss_kib,
            sampler: Some(sampler),
        }
    }

    /// Stops sampling and reports; `elapsed` is the measurement's length.
    pub fn finish(mut self, elapsed: Duration) -> Usage {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.sampler.take() {
            let _ = h.join();
        }
        let sampled = self.max_rss_kib.load(Ordering::Relaxed);
        let hwm = read_status(self.pid).and_then(|s| status_kib(&s, "VmHWM"));
        let (peak_rss_kib, peak_is_exact) = match hwm {
            Some(h) if self.hwm_was_reset => (h.max(sampled), true),
            _ => (sampled, false),
        };
        let cores = |start: Option<u64>, end: Option<u64>| match (start, end) {
            (Some(a), Some(b)) if elapsed > Duration::ZERO => {
                Some(b.saturating_sub(a) as f64 / CLOCK_TICKS_PER_SEC / elapsed.as_secs_f64())
            }
            _ => None,
        };
        Usage {
            peak_rss_kib,
            peak_is_exact,
            cpu_cores: cores(self.start_ticks, read_cpu_ticks(self.pid)),
            load_generator_cores: cores(self.start_children, read_children_ticks()),
            machine_cores: cores(self.start_machine, read_machine_ticks()),
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_field_is_read_in_kib() {
        let status = "Name:\tapi\nVmHWM:\t   20480 kB\nVmRSS:\t   10240 kB\n";
        assert_eq!(status_kib(status, "VmRSS"), Some(10240));
        assert_eq!(status_kib(status, "VmHWM"), Some(20480));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn cpu_ticks_survive_a_command_name_with_spaces_and_parens() {
        let stat =
            "4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 1 2 3";
        assert_eq!(cpu_ticks(stat), Some(300));
    }

    #[test]
    fn children_ticks_are_cutime_plus_cstime() {
        let stat = "4242 (bench) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 50 7 3 20 0 3 0 1 2 3";
        assert_eq!(children_cpu_ticks(stat), Some(10));
    }

    #[test]
    fn machine_busy_ticks_leave_out_idle_and_iowait() {
        let stat = "cpu  100 10 50 9000 40 5 6 7 0 0\ncpu0 50 5 25 4500 20 2 3 3 0 0\n";
        assert_eq!(machine_busy_ticks(stat), Some(100 + 10 + 50 + 5 + 6 + 7));
    }

    #[test]
    fn monitor_of_this_process_sees_memory_and_cpu() {
        let monitor = Monitor::start(std::process::id());
        let started = std::time::Instant::now();
        let mut x = 0u64;
        while started.elapsed() < Duration::from_millis(200) {
            x = x.wrapping_add(1);
        }
        std::hint::black_box(x);
        let usage = monitor.finish(started.elapsed());
        assert!(usage.peak_rss_kib > 0);
        let cpu = usage.cpu_cores.expect("cpu time readable");
        assert!(cpu > 0.0, "a busy loop should show CPU use, got {cpu}");
        assert!(usage.machine_cores.is_some_and(|m| m > 0.0));
    }
}
