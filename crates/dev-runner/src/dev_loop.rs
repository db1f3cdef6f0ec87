//! The development loop: start the servers, then rebuild and restart what a saved file changed.
//!
//! One task owns everything (the [`Supervisor`], the build in progress, the pending changes)
//! and reacts to one thing at a time in a `select!`: the shutdown signal, a batch of changed
//! files, a server that stopped on its own, the end of a build, the end of the quiet time.
//! Nothing is shared, so nothing is locked.
//!
//! The rules, in the order a change meets them:
//! - **Debounce.** A change starts (or restarts) a quiet time; only when it has passed with no
//!   further change does anything happen, so a burst of saves (a formatter, a branch switch,
//!   "save all") gives one build.
//! - **Build only for sources.** A source change (`crates/`, `Cargo.toml`, `Cargo.lock`) runs the
//!   build; a change to a file a server only *reads* (`auth_config.json`, the users file)
//!   restarts the servers that read it, without a build.
//! - **One build at a time.** A change during a build is kept; when the build ends its result is
//!   dropped unseen and the next build starts after the quiet time, because only a build of the
//!   latest sources is worth reporting or running.
//! - **Restart what changed.** After a good build, exactly the servers whose binaries cargo
//!   rewrote since the servers were started (see [`crate::build`]) are restarted, in start
//!   order, each waited for until it accepts connections; plus the servers waiting for a
//!   configuration restart and any that had stopped.
//! - **A failed build changes nothing.** Its output is reported and the servers keep running;
//!   whatever was owed a restart is still owed after the next good build.
//! - **Replicas roll.** A server behind the load balancer ([`Server::rotation`]) is stopped
//!   with SIGTERM and given its drain time to leave the rotation and finish (so the balancer
//!   moves away before it closes), and counts as restarted only once the balancer routes to it
//!   again; only then does the next one go. Replicas are consecutive in start order, so a
//!   rebuild of their binary takes them down one at a time and the API never stops answering.
//! - **A server that stops** is reported and started again at the next change, like nodemon's
//!   "waiting for file changes before starting".

use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::time::{Instant, sleep_until};

use crate::balancer::Rotation;
use crate::build::{BuildCommand, BuildOutcome, Fingerprints, RunningBuild};
use crate::watch::{Batch, watch};
use crate::{ChildSpec, Supervisor, Timing, colour_output};

/// One supervised server and the files it reads at start.
#[derive(Debug, Clone)]
pub struct Server {
    /// How to start it; `spec.program` is the binary the build writes.
    pub spec: ChildSpec,
    /// Files whose change restarts it (no build needed): its configuration.
    pub reads: Vec<PathBuf>,
    /// Set for a replica behind a load balancer: a restart drains it first and waits until the
    /// balancer routes to it again.
    pub rotation: Option<Rotation>,
}

/// Everything the loop needs.
#[derive(Debug, Clone)]
pub struct DevLoop {
    /// The servers, in start order.
    pub servers: Vec<Server>,
    /// The build to run on a source change.
    pub build: BuildCommand,
    /// Absolute paths of the sources: folders (watched with everything under them) and files.
    pub sources: Vec<PathBuf>,
    /// The quiet time after the last change before building.
    pub debounce: Duration,
    /// Readiness bound and stop grace.
    pub timing: Timing,
    /// The loop's own binary, when it is one the build writes: it cannot restart itself, but
    /// it can say so.
    pub own_binary: Option<PathBuf>,
}

/// What happened, as the loop reports it (the binary prints these; tests wait for them).
#[derive(Debug, Clone)]
pub enum Event {
    /// Every server has been started once (each either running or reported failed) and the
    /// sources are being watched.
    Started,
    /// A build started because of `trigger` (and `others` more changed files).
    Building {
        /// The first changed file.
        trigger: PathBuf,
        /// How many more changed.
        others: usize,
    },
    /// The build failed; the servers keep running.
    BuildFailed {
        /// The build's output (the compiler's errors).
        output: String,
        /// How it ended.
        status: String,
        /// How long it ran.
        elapsed: Duration,
    },
    /// The build succeeded and changed no server's binary.
    Unchanged {
        /// How long it ran.
        elapsed: Duration,
    },
    /// A server was restarted and accepts connections again.
    Restarted {
        /// Which one.
        name: String,
        /// The build that produced it (`None`: restarted for a configuration change).
        build: Option<Duration>,
        /// From stopping the old process to the new one accepting connections.
        restart: Duration,
        /// Why, when not a new binary: the configuration file that changed.
        because: Option<PathBuf>,
    },
    /// A replica was asked to stop and is draining: out of the balancer's rotation first, then
    /// stopped, then started again.
    Draining {
        /// Which one.
        name: String,
        /// How long it keeps serving after the signal.
        drain: Duration,
    },
    /// A server could not be (re)started; it is tried again after the next change.
    StartFailed {
        /// Which one.
        name: String,
        /// Why.
        error: String,
    },
    /// A server stopped on its own; it is started again after the next change.
    Stopped {
        /// Which one.
        name: String,
        /// How it ended.
        status: String,
    },
    /// The build rewrote the loop's own binary, which only a new run picks up.
    SelfChanged,
    /// The file watcher reported a problem (changes may have been missed).
    WatchError(String),
}

/// Why the loop could not run.
#[derive(Debug, thiserror::Error)]
pub enum DevLoopError {
    /// The sources could not be watched.
    #[error("{0}")]
    Watch(String),
}

/// Runs the loop until `shutdown` completes; then stops every server and any build in progress.
pub async fn run<S, R>(dev: DevLoop, shutdown: S, mut report: R) -> Result<(), DevLoopError>
where
    S: Future<Output = ()>,
    R: FnMut(Event),
{
    let mut watched = dev.sources.clone();
    for server in &dev.servers {
        watched.extend(server.reads.iter().cloned());
    }
    let (_watch, mut changes) = watch(&watched).map_err(DevLoopError::Watch)?;
    let mut supervisor = Supervisor::new(
        dev.servers.iter().map(|s| s.spec.name.as_str()),
        colour_output(),
    );
    let binaries: Vec<&Path> = dev
        .servers
        .iter()
        .map(|s| s.spec.program.as_path())
        .chain(dev.own_binary.as_deref())
        .collect();
    tokio::pin!(shutdown);

    let mut state = State {
        dev: &dev,
        running_since: Fingerprints::take(binaries.iter().copied()),
        binaries,
        sources_changed: Vec::new(),
        owed: vec![None; dev.servers.len()],
        quiet_until: None,
        build: None,
    };

    let finished = async {
        for (index, server) in dev.servers.iter().enumerate() {
            tokio::select! {
                started = supervisor.start(&server.spec, dev.timing.ready_timeout) => {
                    if let Err(e) = started {
                        report(Event::StartFailed { name: server.spec.name.clone(), error: e.to_string() });
                        state.owed[index] = Some(None);
                    }
                }
                () = &mut shutdown => return,
            }
        }
        report(Event::Started);

        loop {
            let quiet = state.quiet_until.filter(|_| state.build.is_none());
            tokio::select! {
                () = &mut shutdown => return,
                Some(batch) = changes.recv() => state.note(batch, &mut report),
                (name, status) = supervisor.exited() => {
                    if let Some(index) = dev.servers.iter().position(|s| s.spec.name == name) {
                        state.owed[index] = Some(None);
                    }
                    report(Event::Stopped { name, status });
                }
                outcome = build_finished(&mut state.build), if state.build.is_some() => {
                    state.build = None;
                    if !state.sources_changed.is_empty() {
                        // Changed while building: this result is already stale.
                        continue;
                    }
                    let done = tokio::select! {
                        () = state.after_build(outcome, &mut supervisor, &mut report) => true,
                        () = &mut shutdown => false,
                    };
                    if !done {
                        return;
                    }
                }
                () = sleep_until(quiet.unwrap_or_else(Instant::now)), if quiet.is_some() => {
                    state.quiet_until = None;
                    if state.sources_changed.is_empty() {
                        let done = tokio::select! {
                            () = state.restart_owed(None, &mut supervisor, &mut report) => true,
                            () = &mut shutdown => false,
                        };
                        if !done {
                            return;
                        }
                    } else {
                        state.start_build(&mut report);
                    }
                }
            }
        }
    };
    finished.await;

    if let Some(build) = state.build.take() {
        build.cancel(dev.timing.grace).await;
    }
    supervisor.stop_all(dev.timing.grace).await;
    Ok(())
}

/// The end of the build in progress; pending while there is none.
async fn build_finished(build: &mut Option<RunningBuild>) -> BuildOutcome {
    match build {
        Some(running) => running.finished().await,
        None => std::future::pending().await,
    }
}

/// What the loop remembers between events.
struct State<'a> {
    dev: &'a DevLoop,
    binaries: Vec<&'a Path>,
    /// The binaries' identities when the running servers were started from them.
    running_since: Fingerprints,
    /// Source changes not yet built.
    sources_changed: Vec<PathBuf>,
    /// Per server: a restart it is owed (`Some(Some(file))`: that configuration file changed;
    /// `Some(None)`: it stopped or failed to start).
    owed: Vec<Option<Option<PathBuf>>>,
    /// When the current quiet time ends.
    quiet_until: Option<Instant>,
    /// The build in progress.
    build: Option<RunningBuild>,
}

impl State<'_> {
    /// Sorts a batch of changed paths into sources (build) and configuration (restart).
    fn note(&mut self, batch: Batch, report: &mut impl FnMut(Event)) {
        let paths = match batch {
            Ok(paths) => paths,
            Err(e) => {
                report(Event::WatchError(e));
                return;
            }
        };
        for path in paths {
            let mut configuration = false;
            for (index, server) in self.dev.servers.iter().enumerate() {
                if server.reads.contains(&path) {
                    configuration = true;
                    if self.owed[index].is_none() {
                        self.owed[index] = Some(Some(path.clone()));
                    }
                }
            }
            if !configuration && !self.sources_changed.contains(&path) {
                self.sources_changed.push(path);
            }
        }
        self.quiet_until = Some(Instant::now() + self.dev.debounce);
    }

    fn start_build(&mut self, report: &mut impl FnMut(Event)) {
        let changed = std::mem::take(&mut self.sources_changed);
        let Some(trigger) = changed.first().cloned() else {
            return;
        };
        report(Event::Building {
            trigger,
            others: changed.len() - 1,
        });
        match self.dev.build.start() {
            Ok(build) => self.build = Some(build),
            Err(e) => report(Event::BuildFailed {
                output: String::new(),
                status: e.to_string(),
                elapsed: Duration::ZERO,
            }),
        }
    }

    async fn after_build(
        &mut self,
        outcome: BuildOutcome,
        supervisor: &mut Supervisor,
        report: &mut impl FnMut(Event),
    ) {
        if !outcome.success {
            report(Event::BuildFailed {
                output: outcome.output,
                status: outcome.status,
                elapsed: outcome.elapsed,
            });
            return;
        }
        if let Some(own) = &self.dev.own_binary
            && self.running_since.changed(own)
        {
            report(Event::SelfChanged);
        }
        let mut any = false;
        for (index, server) in self.dev.servers.iter().enumerate() {
            if self.running_since.changed(&server.spec.program) {
                // A new binary supersedes a configuration restart.
                self.owed[index] = Some(None);
                any = true;
            }
        }
        self.running_since = Fingerprints::take(self.binaries.iter().copied());
        if !any && self.owed.iter().all(Option::is_none) {
            report(Event::Unchanged {
                elapsed: outcome.elapsed,
            });
            return;
        }
        self.restart_owed(Some(outcome.elapsed), supervisor, report)
            .await;
    }

    /// Restarts every server owed a restart, in start order.
    async fn restart_owed(
        &mut self,
        build: Option<Duration>,
        supervisor: &mut Supervisor,
        report: &mut impl FnMut(Event),
    ) {
        for (index, server) in self.dev.servers.iter().enumerate() {
            let Some(because) = self.owed[index].take() else {
                continue;
            };
            let started = Instant::now();
            let mut grace = self.dev.timing.grace;
            // Waiting for the balancer makes sense only while it runs (it may be down itself).
            let mut balanced = false;
            if let Some(rotation) = &server.rotation {
                balanced = rotation.status().await.is_ok();
                // The drain, then the graceful stop's own grace, before SIGKILL.
                grace += rotation.drain;
                if supervisor.is_running(&server.spec.name) {
                    report(Event::Draining {
                        name: server.spec.name.clone(),
                        drain: rotation.drain,
                    });
                }
            }
            supervisor.stop(&server.spec.name, grace).await;
            let mut outcome = supervisor
                .start(&server.spec, self.dev.timing.ready_timeout)
                .await
                .map_err(|e| e.to_string());
            if let (Ok(()), Some(rotation), true) = (&outcome, &server.rotation, balanced)
                && !rotation.wait_up(self.dev.timing.ready_timeout).await
            {
                outcome = Err(format!(
                    "{} listens, but the load balancer did not route to it within {} s ({})",
                    server.spec.name,
                    self.dev.timing.ready_timeout.as_secs(),
                    rotation.status().await.unwrap_or_else(|e| e)
                ));
            }
            match outcome {
                Ok(()) => report(Event::Restarted {
                    name: server.spec.name.clone(),
                    build,
                    restart: started.elapsed(),
                    because,
                }),
                Err(error) => {
                    // Owed again: the next change tries once more.
                    self.owed[index] = Some(None);
                    report(Event::StartFailed {
                        name: server.spec.name.clone(),
                        error,
                    });
                }
            }
        }
    }
}
