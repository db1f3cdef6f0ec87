//! The one place that owns child processes: start, wait until listening, stop, restart.
//!
//! Every child is the leader of its own process group. That is what lets a stop reach whatever a
//! child started in turn, and it keeps the terminal's Ctrl-C away from the children: only this
//! process receives it and then stops them in a known order, so the last lines on screen say
//! what happened instead of three servers racing to print their shutdown.
//!
//! Who knows what: each child's `Child` lives in a waiter task that reaps it and publishes how
//! it ended twice — on the child's own `watch` channel (what [`Supervisor::stop`] and the
//! readiness wait look at) and on one shared channel (what [`Supervisor::exited`] reads to learn
//! of a child that stopped on its own). A child that was stopped on purpose, or whose failure
//! was already reported by [`Supervisor::start`], is marked so that its exit is not reported a
//! second time.

use std::collections::HashMap;
use std::io::Write;
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::net::TcpStream;
use tokio::process::Command;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep, timeout, timeout_at};

use crate::{ChildSpec, SupervisorError};

/// How often a starting child's address is tried: often enough that a restart is reported
/// within a few tens of milliseconds of the server listening.
const READY_POLL: Duration = Duration::from_millis(25);

/// When everything stops, how long after the first SIGTERM a child still running gets a
/// second one: long enough for its signal handler to have seen the first (signals of one kind
/// that arrive before the handler runs count once).
const SECOND_SIGNAL: Duration = Duration::from_millis(300);

/// A child's exit as the waiter task reports it: the start's id and a description.
type ExitReport = (u64, String);

#[derive(Debug)]
struct Process {
    id: u64,
    name: String,
    group: Pid,
    /// `Some(description)` once the child has been reaped.
    ended: watch::Receiver<Option<String>>,
    /// Its end was already reported (or it was stopped on purpose): not news for `exited`.
    accounted: bool,
    forwarders: Vec<JoinHandle<()>>,
}

/// The running children, by name, with prefixed output.
#[derive(Debug)]
pub struct Supervisor {
    width: usize,
    colours: HashMap<String, usize>,
    colour: bool,
    children: Vec<Process>,
    next_id: u64,
    exit_tx: mpsc::UnboundedSender<ExitReport>,
    exit_rx: mpsc::UnboundedReceiver<ExitReport>,
}

impl Supervisor {
    /// A supervisor for children with these names (they fix the prefix width and colours).
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>, colour: bool) -> Self {
        let names: Vec<&str> = names.into_iter().collect();
        let (exit_tx, exit_rx) = mpsc::unbounded_channel();
        Self {
            width: names.iter().map(|n| n.len()).max().unwrap_or(0),
            colours: names
                .iter()
                .enumerate()
                .map(|(i, n)| ((*n).to_owned(), i))
                .collect(),
            colour,
            children: Vec::new(),
            next_id: 0,
            exit_tx,
            exit_rx,
        }
    }

    /// Whether a child called `name` is running (started and not yet ended).
    pub fn is_running(&self, name: &str) -> bool {
        self.children
            .iter()
            .any(|c| c.name == name && c.ended.borrow().is_none())
    }

    /// Starts `spec` and, when it has a `ready_addr`, waits until that address accepts
    /// connections (at most `ready_timeout`).
    ///
    /// Cancel-safe: the child is registered before the first wait, so dropping this future
    /// leaves it to [`Self::stop_all`].
    pub async fn start(
        &mut self,
        spec: &ChildSpec,
        ready_timeout: Duration,
    ) -> Result<(), SupervisorError> {
        let index = self.colours.get(&spec.name).copied().unwrap_or(0);
        let prefix = prefix(&spec.name, self.width, index, self.colour);
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
                name: spec.name.clone(),
                status: "no process id".to_owned(),
            });
        };
        let mut forwarders = Vec::new();
        if let Some(out) = child.stdout.take() {
            forwarders.push(forward(out, prefix.clone(), spec.hidden.clone(), false));
        }
        if let Some(err) = child.stderr.take() {
            forwarders.push(forward(err, prefix, spec.hidden.clone(), true));
        }
        let id = self.next_id;
        self.next_id += 1;
        let (ended_tx, ended) = watch::channel(None);
        let exits = self.exit_tx.clone();
        tokio::spawn(async move {
            let status = match child.wait().await {
                Ok(status) => status.to_string(),
                Err(e) => format!("wait failed: {e}"),
            };
            let _ = ended_tx.send(Some(status.clone()));
            // The receiver lives in the supervisor; a supervisor already gone needs no news.
            let _ = exits.send((id, status));
        });
        // A previous run of the same name (already stopped) is replaced.
        self.children.retain(|c| c.name != spec.name);
        self.children.push(Process {
            id,
            name: spec.name.clone(),
            group: Pid::from_raw(pid),
            ended: ended.clone(),
            accounted: false,
            forwarders,
        });

        let Some(addr) = spec.ready_addr else {
            return Ok(());
        };
        let mut ended = ended;
        tokio::select! {
            ready = wait_listening(addr, ready_timeout) => {
                if ready {
                    Ok(())
                } else {
                    self.mark_accounted(id);
                    Err(SupervisorError::NotReady {
                        name: spec.name.clone(),
                        addr,
                        seconds: ready_timeout.as_secs(),
                    })
                }
            }
            status = wait_ended(&mut ended) => {
                self.mark_accounted(id);
                Err(SupervisorError::ExitedWhileStarting { name: spec.name.clone(), status })
            }
        }
    }

    /// Stops the child called `name` (SIGTERM to its group, SIGKILL after `grace`), reaps it
    /// and removes it. Nothing happens when there is no such child.
    pub async fn stop(&mut self, name: &str, grace: Duration) {
        let Some(at) = self.children.iter().position(|c| c.name == name) else {
            return;
        };
        let mut child = self.children.remove(at);
        child.accounted = true;
        let _ = killpg(child.group, Signal::SIGTERM);
        let _ = timeout(grace, wait_ended(&mut child.ended)).await;
        // Also sweeps whatever the child started and left behind.
        let _ = killpg(child.group, Signal::SIGKILL);
        // SIGKILL cannot be ignored, so this wait ends promptly; the bound is a last resort.
        let _ = timeout(Duration::from_secs(5), wait_ended(&mut child.ended)).await;
        drain(child.forwarders).await;
    }

    /// Stops every child at once: SIGTERM to every group, a second SIGTERM after `SECOND_SIGNAL`
    /// (300 ms) to what is still running, SIGKILL to what is left after `grace`, then reaps
    /// everything.
    ///
    /// The second signal is for API replicas: the first starts their drain (they keep serving
    /// for a while so a load balancer can move away), a second cuts it short. When everything
    /// stops there is nothing to move to, so waiting out the drain would only delay the stop.
    pub async fn stop_all(&mut self, grace: Duration) {
        let mut children = std::mem::take(&mut self.children);
        // Ended leaders too: their groups may still hold processes they started.
        for child in &children {
            let _ = killpg(child.group, Signal::SIGTERM);
        }
        let deadline = Instant::now() + grace;
        let second = Instant::now() + SECOND_SIGNAL.min(grace);
        for child in &mut children {
            let _ = timeout_at(second, wait_ended(&mut child.ended)).await;
        }
        for child in &children {
            if child.ended.borrow().is_none() {
                let _ = killpg(child.group, Signal::SIGTERM);
            }
        }
        for child in &mut children {
            let _ = timeout_at(deadline, wait_ended(&mut child.ended)).await;
        }
        for child in &children {
            let _ = killpg(child.group, Signal::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for child in &mut children {
            let _ = timeout_at(deadline, wait_ended(&mut child.ended)).await;
        }
        for child in children {
            drain(child.forwarders).await;
        }
    }

    /// Waits for a child to end on its own and returns its name and how it ended. Pending for
    /// as long as no child does.
    pub async fn exited(&mut self) -> (String, String) {
        loop {
            // The supervisor holds a sender, so the channel never closes.
            let Some((id, status)) = self.exit_rx.recv().await else {
                return std::future::pending().await;
            };
            if let Some(child) = self
                .children
                .iter_mut()
                .find(|c| c.id == id && !c.accounted)
            {
                child.accounted = true;
                return (child.name.clone(), status);
            }
        }
    }

    fn mark_accounted(&mut self, id: u64) {
        if let Some(child) = self.children.iter_mut().find(|c| c.id == id) {
            child.accounted = true;
        }
    }
}

/// The description of how the child ended, once it has.
async fn wait_ended(ended: &mut watch::Receiver<Option<String>>) -> String {
    match ended.wait_for(Option::is_some).await {
        Ok(status) => status.clone().unwrap_or_default(),
        // The waiter task always sends before it ends; a dropped sender means it was cancelled
        // with the runtime.
        Err(_) => "ended".to_owned(),
    }
}

/// Pipes close once every process of a group is gone; the bound only guards against a
/// descendant that left the group and kept the pipe open.
async fn drain(forwarders: Vec<JoinHandle<()>>) {
    for forwarder in forwarders {
        let _ = timeout(Duration::from_secs(2), forwarder).await;
    }
}

/// Tries `addr` until it accepts a TCP connection; `false` after `bound`.
async fn wait_listening(addr: SocketAddr, bound: Duration) -> bool {
    let deadline = Instant::now() + bound;
    while Instant::now() < deadline {
        if let Ok(Ok(_)) = timeout(Duration::from_secs(1), TcpStream::connect(addr)).await {
            return true;
        }
        sleep(READY_POLL).await;
    }
    false
}

pub(crate) fn prefix(name: &str, width: usize, index: usize, colour: bool) -> String {
    const COLOURS: [&str; 4] = ["36", "35", "33", "32"];
    if colour {
        let code = COLOURS[index % COLOURS.len()];
        format!("\x1b[{code}m{name:>width$} |\x1b[0m ")
    } else {
        format!("{name:>width$} | ")
    }
}

/// Copies `reader` line by line to our stdout or stderr, each line behind `prefix`, except the
/// lines that contain one of `hidden`.
fn forward<R>(reader: R, prefix: String, hidden: Vec<String>, to_stderr: bool) -> JoinHandle<()>
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
                    if hidden.iter().any(|h| text.contains(h.as_str())) {
                        continue;
                    }
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
