//! The processes under test: started with their output going to a log file, waited for with a
//! bounded poll, and always stopped — the guard kills and reaps its child when dropped, so an
//! error half-way through a run leaves nothing listening.

use std::fs::OpenOptions;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Why a server could not be started or did not come up.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The executable could not be run.
    #[error("cannot start {name}: {source}")]
    Spawn {
        /// Which server.
        name: String,
        /// Why.
        source: std::io::Error,
    },
    /// The log file could not be opened.
    #[error("cannot open log {0}: {1}")]
    Log(PathBuf, std::io::Error),
    /// The process exited while we waited for it.
    #[error("{name} exited ({status}) before it was ready; see {log}")]
    Exited {
        /// Which server.
        name: String,
        /// Its exit status.
        status: std::process::ExitStatus,
        /// Its log.
        log: String,
    },
    /// It did not answer as expected in time.
    #[error("{name} was not ready within {limit:?} ({last}); see {log}")]
    NotReady {
        /// Which server.
        name: String,
        /// How long we waited.
        limit: Duration,
        /// The last thing seen.
        last: String,
        /// Its log.
        log: String,
    },
    /// No free port.
    #[error("cannot find a free loopback port: {0}")]
    Port(std::io::Error),
}

/// A free TCP port on 127.0.0.1: bound to port 0, read, released. Another socket could take it
/// before the server binds it; the runner then starts the server again on other ports.
pub fn free_port() -> Result<u16, ProcessError> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).map_err(ProcessError::Port)?;
    Ok(listener.local_addr().map_err(ProcessError::Port)?.port())
}

/// A running child process that is killed and reaped when dropped.
#[derive(Debug)]
pub struct Server {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Server {
    /// Starts `command` with stdout and stderr appended to `log` (truncated first).
    pub fn spawn(name: &str, mut command: Command, log: &Path) -> Result<Self, ProcessError> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|e| ProcessError::Log(log.to_owned(), e))?;
        }
        // Append mode, so that truncating the file between scenarios (to bound its size) keeps
        // later writes at the new end instead of leaving a hole.
        let out = OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|e| ProcessError::Log(log.to_owned(), e))?;
        out.set_len(0)
            .map_err(|e| ProcessError::Log(log.to_owned(), e))?;
        let err = out
            .try_clone()
            .map_err(|e| ProcessError::Log(log.to_owned(), e))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(|source| ProcessError::Spawn {
                name: name.to_owned(),
                source,
            })?;
        Ok(Self {
            name: name.to_owned(),
            child,
            log: log.to_owned(),
        })
    }

    /// The process id, for `/proc` sampling.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Current size of the log in bytes.
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// Empties the log (the server keeps appending to it).
    pub fn truncate_log(&self) {
        if let Ok(f) = OpenOptions::new().write(true).open(&self.log) {
            let _ = f.set_len(0);
        }
    }

    /// Newlines in the log once it has stopped growing (a buffered writer may still be
    /// flushing when the load ends): waits until two reads 200 ms apart agree, 3 s at most.
    pub async fn settled_log_lines(&self) -> u64 {
        let mut last = self.log_len();
        for _ in 0..15 {
            tokio::time::sleep(Duration::from_millis(200)).await;
            let now = self.log_len();
            if now == last {
                break;
            }
            last = now;
        }
        count_lines(&self.log).unwrap_or(0)
    }

    /// Polls `probe` every 100 ms until it returns `Ok`, the process exits, or `limit` passes.
    /// `probe` returns `Err(description)` for "not yet".
    pub async fn wait_until<F, Fut>(
        &mut self,
        limit: Duration,
        mut probe: F,
    ) -> Result<(), ProcessError>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(ProcessError::Exited {
                    name: self.name.clone(),
                    status,
                    log: self.log.display().to_string(),
                });
            }
            let last = match probe().await {
                Ok(()) => return Ok(()),
                Err(e) => e,
            };
            if started.elapsed() > limit {
                return Err(ProcessError::NotReady {
                    name: self.name.clone(),
                    limit,
                    last,
                    log: self.log.display().to_string(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

fn count_lines(path: &Path) -> std::io::Result<u64> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 1 << 16];
    let mut lines = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(lines);
        }
        lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn free_port_is_a_nonzero_port_that_can_be_bound() {
        let port = free_port().expect("port");
        assert_ne!(port, 0);
        assert!(TcpListener::bind((Ipv4Addr::LOCALHOST, port)).is_ok());
    }

    #[tokio::test]
    async fn server_output_goes_to_its_log_and_the_process_is_killed_on_drop() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("s.log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; exec sleep 30"]);
        let mut server = Server::spawn("sleeper", cmd, &log).expect("spawns");
        let pid = server.pid();
        let log_path = log.clone();
        server
            .wait_until(Duration::from_secs(5), || {
                let log_path = log_path.clone();
                async move {
                    match std::fs::read_to_string(&log_path) {
                        Ok(t) if t.contains("started") => Ok(()),
                        _ => Err("no output yet".to_owned()),
                    }
                }
            })
            .await
            .expect("ready");
        drop(server);
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "child still alive"
        );
    }

    #[test]
    fn lines_are_counted_across_read_chunks() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("l.log");
        std::fs::write(&path, "x\n".repeat(100_000)).expect("write");
        assert_eq!(count_lines(&path).expect("count"), 100_000);
    }

    #[tokio::test]
    async fn waiting_on_a_process_that_exits_reports_the_exit() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "exit 3"]);
        let mut server = Server::spawn("quitter", cmd, &dir.path().join("q.log")).expect("spawns");
        let err = server
            .wait_until(Duration::from_secs(5), || async { Err("never".to_owned()) })
            .await
            .expect_err("must fail");
        assert!(matches!(err, ProcessError::Exited { .. }), "{err}");
    }
}
