//! A small process supervisor: the `npm-run-all` of `cargo make dev`.
//!
//! Why it exists: cargo-make's parallel tasks neither prefix output nor stop their siblings when
//! one dies, and on Ctrl-C they can leave servers running in the background, still holding ports
//! 3000–3002. [`supervise`] starts the children in order (waiting until each one that has an
//! address accepts connections, so the API never starts before the issuer it fetches keys from),
//! prefixes every output line with the child's name, and stops everything together: on the
//! shutdown signal, or as soon as any child exits on its own.
//!
//! Every child is the leader of its own process group. That is what lets a stop reach whatever a
//! child started in turn, and it keeps the terminal's Ctrl-C away from the children: only this
//! process receives it and then stops them in a known order, so the last lines on screen say
//! what happened instead of three servers racing to print their shutdown.

use std::ffi::OsString;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout, timeout_at};

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
    /// When set, the next child starts only once this address accepts TCP connections.
    pub ready_addr: Option<SocketAddr>,
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

/// Why the supervised group stopped other than by the shutdown signal.
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

/// A started child, as the supervisor tracks it. The `Child` itself lives in a waiter task.
#[derive(Debug)]
struct Running {
    name: String,
    group: Pid,
    exited: bool,
}

/// A child's exit, reported by its waiter task: index into the `Running` list and a description.
type ExitReport = (usize, String);

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
    let width = specs.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let colour = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let (exit_tx, mut exit_rx) = mpsc::unbounded_channel::<ExitReport>();
    let mut running: Vec<Running> = Vec::new();
    let mut forwarders: Vec<JoinHandle<()>> = Vec::new();
    tokio::pin!(shutdown);

    let outcome: Result<(), SupervisorError> = async {
        for (index, spec) in specs.into_iter().enumerate() {
            let prefix = prefix(&spec.name, width, index, colour);
            let mut command = Command::new(&spec.program);
            command
                .args(&spec.args)
                .envs(spec.env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .process_group(0)
                .kill_on_drop(true);
            let mut child = command.spawn().map_err(|source| SupervisorError::Spawn {
                name: spec.name.clone(),
                program: spec.program.display().to_string(),
                source,
            })?;
            // `id()` is `None` only once the child has been reaped, which cannot have happened
            // yet; 0 would make killpg address our own group, so it is never used.
            let Some(pid) = child.id().and_then(|id| i32::try_from(id).ok()) else {
                return Err(SupervisorError::ExitedWhileStarting {
                    name: spec.name,
                    status: "no process id".to_owned(),
                });
            };
            if let Some(out) = child.stdout.take() {
                forwarders.push(forward(out, prefix.clone(), false));
            }
            if let Some(err) = child.stderr.take() {
                forwarders.push(forward(err, prefix, true));
            }
            let tx = exit_tx.clone();
            tokio::spawn(async move {
                let status = match child.wait().await {
                    Ok(status) => describe(status),
                    Err(e) => format!("wait failed: {e}"),
                };
                // The receiver outlives every waiter (it is dropped only after all are reaped).
                let _ = tx.send((index, status));
            });
            running.push(Running {
                name: spec.name.clone(),
                group: Pid::from_raw(pid),
                exited: false,
            });

            if let Some(addr) = spec.ready_addr {
                tokio::select! {
                    ready = wait_listening(addr, timing.ready_timeout) => {
                        if !ready {
                            return Err(SupervisorError::NotReady {
                                name: spec.name,
                                addr,
                                seconds: timing.ready_timeout.as_secs(),
                            });
                        }
                    }
                    Some((i, status)) = exit_rx.recv() => {
                        running[i].exited = true;
                        return Err(SupervisorError::ExitedWhileStarting {
                            name: running[i].name.clone(),
                            status,
                        });
                    }
                    () = &mut shutdown => return Ok(()),
                }
            }
        }
        on_ready();
        tokio::select! {
            Some((i, status)) = exit_rx.recv() => {
                running[i].exited = true;
                Err(SupervisorError::ChildExited { name: running[i].name.clone(), status })
            }
            () = &mut shutdown => Ok(()),
        }
    }
    .await;

    stop_all(&mut running, &mut exit_rx, timing.grace).await;
    // Pipes close once every process of a group is gone; the bound only guards against a
    // descendant that left the group and kept the pipe open.
    for forwarder in forwarders {
        let _ = timeout(Duration::from_secs(2), forwarder).await;
    }
    outcome
}

/// SIGTERM to every group, SIGKILL to whatever is left after `grace`, then reap everything.
async fn stop_all(
    running: &mut [Running],
    exits: &mut mpsc::UnboundedReceiver<ExitReport>,
    grace: Duration,
) {
    // Exited leaders too: their groups may still hold processes they started.
    for child in running.iter() {
        let _ = killpg(child.group, Signal::SIGTERM);
    }
    let deadline = Instant::now() + grace;
    while running.iter().any(|c| !c.exited) {
        match timeout_at(deadline, exits.recv()).await {
            Ok(Some((i, _))) => running[i].exited = true,
            Ok(None) | Err(_) => break,
        }
    }
    for child in running.iter() {
        // Also sweeps descendants of children that did exit in time.
        let _ = killpg(child.group, Signal::SIGKILL);
    }
    // SIGKILL cannot be ignored, so this wait ends promptly; the bound is a last resort.
    let deadline = Instant::now() + Duration::from_secs(5);
    while running.iter().any(|c| !c.exited) {
        match timeout_at(deadline, exits.recv()).await {
            Ok(Some((i, _))) => running[i].exited = true,
            Ok(None) | Err(_) => break,
        }
    }
}

/// Polls `addr` until it accepts a TCP connection; `false` after `bound`.
async fn wait_listening(addr: SocketAddr, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if let Ok(Ok(_)) = timeout(Duration::from_secs(1), TcpStream::connect(addr)).await {
            return true;
        }
        sleep(Duration::from_millis(100)).await;
    }
    false
}

fn describe(status: ExitStatus) -> String {
    status.to_string()
}

fn prefix(name: &str, width: usize, index: usize, colour: bool) -> String {
    const COLOURS: [&str; 4] = ["36", "35", "33", "32"];
    if colour {
        let code = COLOURS[index % COLOURS.len()];
        format!("\x1b[{code}m{name:>width$} |\x1b[0m ")
    } else {
        format!("{name:>width$} | ")
    }
}

/// Copies `reader` line by line to our stdout or stderr, each line behind `prefix`.
fn forward<R>(reader: R, prefix: String, to_stderr: bool) -> JoinHandle<()>
where
    R: AsyncRead + Unpin + Send + 'static,
{
    tokio::spawn(async move {
        let mut reader = BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    // Lossy: a child's stray non-UTF-8 byte must not stop its log.
                    let text = String::from_utf8_lossy(&buf);
                    let line = format!("{prefix}{}\n", text.trim_end_matches(['\n', '\r']));
                    // One write per line, under the lock, so lines of different children never
                    // interleave; a closed terminal is not worth stopping the servers for.
                    let _ = if to_stderr {
                        std::io::stderr().lock().write_all(line.as_bytes())
                    } else {
                        std::io::stdout().lock().write_all(line.as_bytes())
                    };
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn sh(name: &str, script: &str) -> ChildSpec {
        ChildSpec::new(name, "/bin/sh").arg("-c").arg(script)
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
        let dir = tempfile::tempdir().unwrap();
        let pids = dir.path().join("sleeper.pid");
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
        let specs = vec![
            sh("a", &format!("echo $$ > {}; exec sleep 60", a.display())),
            sh("b", &format!("echo $$ > {}; exec sleep 60", b.display())),
        ];
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
    async fn a_child_ignoring_sigterm_is_killed_after_the_grace_period() {
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("stubborn.pid");
        let spec = sh(
            "stubborn",
            &format!(
                "trap '' TERM; echo $$ > {}; while true; do sleep 0.1; done",
                pid.display()
            ),
        );
        let p2 = pid.clone();
        let shutdown = async move {
            pid_in(&p2).await;
        };
        let timing = Timing {
            ready_timeout: Duration::from_secs(1),
            grace: Duration::from_millis(300),
        };
        let result = timeout(
            Duration::from_secs(20),
            supervise(vec![spec], timing, shutdown, || {}),
        )
        .await
        .expect("supervise must return");
        assert!(result.is_ok(), "{result:?}");
        assert!(!alive(pid_in(&pid).await).await);
    }

    #[tokio::test]
    async fn a_child_that_never_listens_fails_readiness_and_is_stopped() {
        // A port that was free a moment ago and that nobody listens on.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let pid = dir.path().join("mute.pid");
        let spec = sh(
            "mute",
            &format!("echo $$ > {}; exec sleep 60", pid.display()),
        )
        .ready_when_listening(addr);
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
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("second-started");
        let first = sh("first", "exit 2").ready_when_listening(addr);
        let second = sh(
            "second",
            &format!("touch {}; exec sleep 60", marker.display()),
        );
        let result = supervise(vec![first, second], quick(), std::future::pending(), || {}).await;
        match result {
            Err(SupervisorError::ExitedWhileStarting { name, status }) => {
                assert_eq!(name, "first");
                assert_eq!(status, "exit status: 2");
            }
            other => panic!("expected ExitedWhileStarting, got {other:?}"),
        }
        assert!(!marker.exists());
    }

    #[tokio::test]
    async fn a_missing_program_is_a_spawn_error_naming_it() {
        let spec = ChildSpec::new("ghost", "/nonexistent/dev-issuer");
        let result = supervise(vec![spec], quick(), std::future::pending(), || {}).await;
        match result {
            Err(SupervisorError::Spawn { name, program, .. }) => {
                assert_eq!(name, "ghost");
                assert_eq!(program, "/nonexistent/dev-issuer");
            }
            other => panic!("expected Spawn, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_next_child_waits_until_the_previous_one_listens() {
        // Reserve a port, then free it: nothing listens until the test binds it again below.
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("second.pid");
        // The first child only sleeps; its readiness is the listener the test opens later.
        let first = sh("first", "exec sleep 60").ready_when_listening(addr);
        let second = sh(
            "second",
            &format!("echo $$ > {}; exec sleep 60", marker.display()),
        );
        let m2 = marker.clone();
        let shutdown = async move {
            sleep(Duration::from_millis(400)).await;
            let early = m2.exists();
            let listener = std::net::TcpListener::bind(addr).unwrap();
            pid_in(&m2).await;
            drop(listener);
            early
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let shutdown = async move {
            let _ = tx.send(shutdown.await);
        };
        let timing = Timing {
            ready_timeout: Duration::from_secs(10),
            grace: Duration::from_secs(2),
        };
        let result = timeout(
            Duration::from_secs(20),
            supervise(vec![first, second], timing, shutdown, || {}),
        )
        .await
        .expect("supervise must return");
        assert!(result.is_ok(), "{result:?}");
        assert!(
            !rx.await.unwrap(),
            "second started before first accepted connections"
        );
    }

    #[test]
    fn prefixes_are_right_aligned_to_the_longest_name() {
        assert_eq!(prefix("api", 6, 0, false), "   api | ");
        assert_eq!(prefix("issuer", 6, 1, false), "issuer | ");
    }
}
