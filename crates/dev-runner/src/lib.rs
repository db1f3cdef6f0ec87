//! The supervisor and development loop behind `cargo make dev`: the `npm-run-all` plus
//! `nodemon` of this workspace.
//!
//! Why it exists: cargo-make's parallel tasks neither prefix output nor stop their siblings when
//! one dies, and on Ctrl-C they can leave servers running in the background, still holding ports
//! 3000–3002. Two ways to run:
//!
//! - [`supervise`] (`cargo make dev-once`) starts the children in order (waiting until each one
//!   that has an address accepts connections, so the API never starts before the issuer it
//!   fetches keys from), prefixes every output line with the child's name, and stops everything
//!   together: on the shutdown signal, or as soon as any child exits on its own.
//! - [`dev_loop::run`] (`cargo make dev`) does the same start, then watches the sources: a
//!   change rebuilds and restarts only the servers whose binaries changed, a configuration file
//!   restarts the servers that read it, and a failed build leaves everything running.
//!
//! [`Supervisor`] is the one place that owns child processes; both ways use it.

pub mod balancer;
pub mod build;
pub mod cluster;
pub mod dev_loop;
mod supervisor;
pub mod watch;

use std::ffi::OsString;
use std::future::Future;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub use supervisor::Supervisor;

/// One process to run: what to start and how to tell that it is up.
#[derive(Debug, Clone)]
pub struct ChildSpec {
    /// Short name used as the log prefix and in messages (`issuer`, `api`, `spa`).
    pub name: String,
    /// The executable.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables added to the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// When set, the child counts as started only once this address accepts TCP connections.
    pub ready_addr: Option<SocketAddr>,
    /// Output lines containing any of these are not shown (routine noise, such as a passing
    /// health check once a second).
    pub hidden: Vec<String>,
}

impl ChildSpec {
    /// A child with no arguments, no extra environment and no readiness check.
    pub fn new(name: impl Into<String>, program: impl Into<PathBuf>) -> Self {
        Self {
            name: name.into(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            ready_addr: None,
            hidden: Vec::new(),
        }
    }

    /// Appends one argument.
    pub fn arg(mut self, arg: impl Into<OsString>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Adds one environment variable.
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Leaves out of the output every line that contains `text`.
    pub fn hide_lines_containing(mut self, text: impl Into<String>) -> Self {
        self.hidden.push(text.into());
        self
    }

    /// Waits for `addr` to accept connections before starting the next child.
    pub fn ready_when_listening(mut self, addr: SocketAddr) -> Self {
        self.ready_addr = Some(addr);
        self
    }
}

/// How long to wait for things.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Bound on the wait for a child's `ready_addr`.
    pub ready_timeout: Duration,
    /// Time a child gets to exit after SIGTERM before it gets SIGKILL.
    pub grace: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            ready_timeout: Duration::from_secs(60),
            grace: Duration::from_secs(5),
        }
    }
}

/// Why a child could not be started or kept running.
#[derive(Debug, thiserror::Error)]
pub enum SupervisorError {
    /// The program could not be started at all (missing binary, not executable, ...).
    #[error("cannot start {name} ({program}): {source}")]
    Spawn {
        /// The child's name.
        name: String,
        /// The program path, as given.
        program: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
    /// A child exited before its address accepted connections.
    #[error("{name} exited while starting ({status})")]
    ExitedWhileStarting {
        /// The child's name.
        name: String,
        /// How it ended (`exit status: 2`, `signal: 9 (SIGKILL)`).
        status: String,
    },
    /// A child kept running but never accepted connections in time.
    #[error("{name} did not accept connections on {addr} within {seconds} s")]
    NotReady {
        /// The child's name.
        name: String,
        /// The address that was polled.
        addr: SocketAddr,
        /// The bound that was exceeded.
        seconds: u64,
    },
    /// A child exited on its own after everything had started.
    #[error("{name} stopped unexpectedly ({status})")]
    ChildExited {
        /// The child's name.
        name: String,
        /// How it ended.
        status: String,
    },
}

/// Whether children's output gets coloured prefixes: only on a terminal, and not under
/// `NO_COLOR`.
pub fn colour_output() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// Runs `specs` in order until `shutdown` completes or a child exits, then stops them all.
///
/// `on_ready` is called once every child has started (and each `ready_addr` accepts
/// connections). Returns `Ok(())` when stopped by `shutdown`; any other end is an error naming
/// the child that caused it. In every case all children, and their process groups, have been
/// stopped and reaped when this returns.
pub async fn supervise<S, R>(
    specs: Vec<ChildSpec>,
    timing: Timing,
    shutdown: S,
    on_ready: R,
) -> Result<(), SupervisorError>
where
    S: Future<Output = ()>,
    R: FnOnce(),
{
    let mut supervisor = Supervisor::new(specs.iter().map(|s| s.name.as_str()), colour_output());
    tokio::pin!(shutdown);
    let outcome = async {
        for spec in &specs {
            tokio::select! {
                started = supervisor.start(spec, timing.ready_timeout) => started?,
                () = &mut shutdown => return Ok(()),
            }
        }
        on_ready();
        tokio::select! {
            (name, status) = supervisor.exited() => Err(SupervisorError::ChildExited { name, status }),
            () = &mut shutdown => Ok(()),
        }
    }
    .await;
    supervisor.stop_all(timing.grace).await;
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use supervisor::prefix;
    use tokio::time::{Instant, sleep, timeout};

    fn sh(name: &str, script: &str) -> ChildSpec {
        ChildSpec::new(name, "/bin/sh").arg("-c").arg(script)
    }

    /// `name` in a fresh temporary directory, removed when the guard is dropped.
    fn temp_path(name: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        (dir, path)
    }

    /// A child that writes its pid to `file`, then sleeps.
    fn pid_writer(name: &str, file: &Path) -> ChildSpec {
        sh(
            name,
            &format!("echo $$ > {}; exec sleep 60", file.display()),
        )
    }

    /// A child that creates `marker`, then sleeps.
    fn marker_writer(name: &str, marker: &Path) -> ChildSpec {
        sh(name, &format!("touch {}; exec sleep 60", marker.display()))
    }

    /// A loopback address that was free a moment ago and that nobody listens on.
    fn unused_addr() -> std::net::SocketAddr {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    }

    /// `supervise` with `quick()` timing and no shutdown signal.
    async fn supervise_quick(specs: Vec<ChildSpec>) -> Result<(), SupervisorError> {
        supervise(specs, quick(), std::future::pending(), || {}).await
    }

    /// `supervise` until `shutdown`, which must return within 20 s.
    async fn supervise_until(
        specs: Vec<ChildSpec>,
        timing: Timing,
        shutdown: impl Future<Output = ()>,
    ) -> Result<(), SupervisorError> {
        let supervised = supervise(specs, timing, shutdown, || {});
        let outcome = timeout(Duration::from_secs(20), supervised).await;
        outcome.expect("supervise must return")
    }

    /// Supervises "first", running `script` and ready once it listens on an unused address,
    /// then "second", which creates a marker file: the outcome, and whether "second" started.
    async fn first_then_second(script: &str) -> (Result<(), SupervisorError>, bool) {
        let (_dir, marker) = temp_path("second-started");
        let first = sh("first", script).ready_when_listening(unused_addr());
        let second = marker_writer("second", &marker);
        let result = supervise_quick(vec![first, second]).await;
        (result, marker.exists())
    }

    /// A shutdown signal that comes once `file` holds a pid.
    async fn once_pid_in(file: std::path::PathBuf) {
        pid_in(&file).await;
    }

    /// Readiness within 1 s, `grace` for a child to stop.
    fn with_grace(grace: Duration) -> Timing {
        Timing {
            ready_timeout: Duration::from_secs(1),
            grace,
        }
    }

    fn quick() -> Timing {
        Timing {
            ready_timeout: Duration::from_millis(800),
            grace: Duration::from_secs(2),
        }
    }

    /// Waits (bounded) until `file` holds a pid, written by a child.
    async fn pid_in(file: &Path) -> u32 {
        for _ in 0..200 {
            if let Some(pid) = std::fs::read_to_string(file)
                .ok()
                .and_then(|s| s.trim().parse().ok())
            {
                return pid;
            }
            sleep(Duration::from_millis(25)).await;
        }
        panic!("no pid written to {}", file.display());
    }

    fn running(pid: u32) -> bool {
        Path::new(&format!("/proc/{pid}")).exists()
            && !std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.split_whitespace().nth(2) == Some("Z"))
    }

    /// Whether `pid` is still running 2 s from now. A signalled grandchild is reaped by init,
    /// not by us, so it may take a moment to disappear after `supervise` returns.
    async fn alive(pid: u32) -> bool {
        for _ in 0..40 {
            if !running(pid) {
                return false;
            }
            sleep(Duration::from_millis(50)).await;
        }
        true
    }

    #[tokio::test]
    async fn a_child_that_exits_stops_the_others_and_names_the_culprit() {
        let (_dir, pids) = temp_path("sleeper.pid");
        let sleeper = sh(
            "sleeper",
            &format!("sleep 60 & echo $! > {}; wait", pids.display()),
        );
        let quitter = sh(
            "quitter",
            &format!(
                "while [ ! -s {} ]; do sleep 0.05; done; exit 3",
                pids.display()
            ),
        );
        let started = Instant::now();
        let result = timeout(
            Duration::from_secs(20),
            supervise(
                vec![sleeper, quitter],
                quick(),
                std::future::pending(),
                || {},
            ),
        )
        .await
        .expect("supervise must return once a child exits");
        match result {
            Err(SupervisorError::ChildExited { name, status }) => {
                assert_eq!(name, "quitter");
                assert_eq!(status, "exit status: 3");
            }
            other => panic!("expected ChildExited, got {other:?}"),
        }
        let grandchild = pid_in(&pids).await;
        assert!(
            !alive(grandchild).await,
            "the sleeper's own child must be stopped"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[tokio::test]
    async fn the_shutdown_signal_stops_every_child_and_returns_ok() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.pid");
        let b = dir.path().join("b.pid");
        let specs = vec![pid_writer("a", &a), pid_writer("b", &b)];
        let (a2, b2) = (a.clone(), b.clone());
        let shutdown = async move {
            pid_in(&a2).await;
            pid_in(&b2).await;
        };
        let mut readied = false;
        let result = timeout(
            Duration::from_secs(20),
            supervise(specs, quick(), shutdown, || readied = true),
        )
        .await
        .expect("supervise must return on shutdown");
        assert!(result.is_ok(), "{result:?}");
        assert!(readied, "on_ready runs once everything has started");
        assert!(!alive(pid_in(&a).await).await);
        assert!(!alive(pid_in(&b).await).await);
    }

    #[tokio::test]
    async fn a_child_draining_after_the_first_sigterm_stops_at_the_second_when_all_stop() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("replica.pid");
        let done = dir.path().join("stopped-by-second-signal");
        // Like an API replica: the first SIGTERM starts a long drain, a second ends it.
        let spec = sh(
            "replica",
            &format!(
                "trap 'if [ -n \"$draining\" ]; then touch {}; exit 0; fi; draining=1' TERM; \
                 echo $$ > {}; while true; do sleep 0.05; done",
                done.display(),
                pid.display()
            ),
        );
        let started = Instant::now();
        let timing = with_grace(Duration::from_secs(15));
        let result = supervise_until(vec![spec], timing, once_pid_in(pid.clone())).await;
        assert!(result.is_ok(), "{result:?}");
        assert!(
            done.exists(),
            "the child was not stopped by a second SIGTERM"
        );
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the stop waited out the grace period: {:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
        let (_dir, pid) = temp_path("stubborn.pid");
        let spec = sh(
            "stubborn",
            &format!(
                "trap '' TERM; echo $$ > {}; while true; do sleep 0.1; done",
                pid.display()
            ),
        );
        let timing = with_grace(Duration::from_millis(300));
        let result = supervise_until(vec![spec], timing, once_pid_in(pid.clone())).await;
        assert!(result.is_ok(), "{result:?}");
        assert!(!alive(pid_in(&pid).await).await);
    }

    #[tokio::test]
    async fn a_child_that_never_listens_fails_readiness_and_is_stopped() {
        let addr = unused_addr();
        let (_dir, pid) = temp_path("mute.pid");
        let spec = pid_writer("mute", &pid).ready_when_listening(addr);
        let mut readied = false;
        let result = supervise(vec![spec], quick(), std::future::pending(), || {
            readied = true;
        })
        .await;
        match result {
            Err(SupervisorError::NotReady { name, addr: a, .. }) => {
                assert_eq!(name, "mute");
                assert_eq!(a, addr);
            }
            other => panic!("expected NotReady, got {other:?}"),
        }
        assert!(!readied);
        assert!(!alive(pid_in(&pid).await).await);
    }

    #[tokio::test]
    async fn a_child_that_dies_while_starting_is_reported_and_later_ones_never_start() {
        let (result, second_started) = first_then_second("exit 2").await;
        match result {
            Err(SupervisorError::ExitedWhileStarting { name, status }) => {
                assert_eq!(name, "first");
                assert_eq!(status, "exit status: 2");
            }
            other => panic!("expected ExitedWhileStarting, got {other:?}"),
        }
        assert!(!second_started);
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error_naming_it() {
        let spec = ChildSpec::new("ghost", "/nonexistent/dev-issuer");
        let result = supervise_quick(vec![spec]).await;
        match result {
            Err(SupervisorError::Spawn { name, program, .. }) => {
                assert_eq!(name, "ghost");
                assert_eq!(program, "/nonexistent/dev-issuer");
            }
            other => panic!("expected Spawn, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_next_child_starts_once_the_previous_one_listens() {
        // Nothing listens there until the test binds it again below.
        let addr = unused_addr();
        let dir = tempfile::tempdir().unwrap();
        let first_pid = dir.path().join("first.pid");
        let second_pid = dir.path().join("second.pid");
        // The first child's readiness is the listener the test opens once it has started.
        let first = pid_writer("first", &first_pid).ready_when_listening(addr);
        let second = pid_writer("second", &second_pid);
        let (f2, s2) = (first_pid.clone(), second_pid.clone());
        let shutdown = async move {
            pid_in(&f2).await;
            let listener = std::net::TcpListener::bind(addr).unwrap();
            pid_in(&s2).await;
            drop(listener);
        };
        let timing = Timing {
            ready_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(2),
        };
        let result = supervise_until(vec![first, second], timing, shutdown).await;
        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn the_next_child_never_starts_while_the_previous_one_does_not_listen() {
        let (result, second_started) = first_then_second("exec sleep 60").await;
        assert!(
            matches!(result, Err(SupervisorError::NotReady { ref name, .. }) if name == "first"),
            "{result:?}"
        );
        assert!(!second_started, "second started before first listened");
    }

    #[test]
    fn prefixes_are_right_aligned_to_the_longest_name() {
        assert_eq!(prefix("api", 6, 0, false), "   api | ");
        assert_eq!(prefix("issuer", 6, 1, false), "issuer | ");
    }
}
