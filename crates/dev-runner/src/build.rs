//! Running the build, and telling which binaries it changed.
//!
//! The build is `cargo build` with exactly the arguments of `cargo make build`, so that it
//! resolves the same features and reuses what that task (and `cargo make test`) compiled. Its
//! output is captured, not streamed: a good build has nothing to say while the servers log, and
//! a failed one is printed whole under a banner (see `main.rs`).
//!
//! Whether a server must restart is read from its binary, not guessed from the changed paths:
//! cargo writes a binary only when it links a new one, so a changed file's identity (inode,
//! size, modification time) means a new binary, and an edit that changes no binary (a test, a
//! comment in a crate no server uses) restarts nothing.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use tokio::process::Command;
use tokio::sync::oneshot;

/// The arguments of `cargo make build` (Makefile.toml, task `build`); a test keeps them equal.
pub const CARGO_BUILD_ARGS: &[&str] = &[
    "build",
    "--locked",
    "-p",
    "dev-runner",
    "-p",
    "api",
    "-p",
    "spa-server",
    "-p",
    "dev-issuer",
];

/// What to run to build, and where.
#[derive(Debug, Clone)]
pub struct BuildCommand {
    /// The program (`cargo`).
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<OsString>,
    /// Variables added to the inherited environment.
    pub env: Vec<(OsString, OsString)>,
    /// The working directory (the project root).
    pub dir: PathBuf,
}

impl BuildCommand {
    /// `cargo build` as `cargo make build` runs it, in `dir`. `$CARGO` (set by `cargo run`)
    /// names the cargo that started us; otherwise `cargo` from `PATH`.
    pub fn cargo(dir: impl Into<PathBuf>, colour: bool) -> Self {
        let program =
            std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
        let colour = if colour { "always" } else { "never" };
        Self {
            program,
            args: CARGO_BUILD_ARGS.iter().map(OsString::from).collect(),
            // Colour and quiet through the environment, so that the arguments stay exactly
            // those of `cargo make build`.
            env: vec![
                ("CARGO_TERM_COLOR".into(), colour.into()),
                ("CARGO_TERM_QUIET".into(), "true".into()),
            ],
            dir: dir.into(),
        }
    }

    /// Starts the build in a process group of its own (so a stop reaches every compiler it
    /// started) with its output captured.
    pub fn start(&self) -> Result<RunningBuild, BuildError> {
        let child = Command::new(&self.program)
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| BuildError::Spawn {
                program: self.program.display().to_string(),
                source,
            })?;
        let group = child
            .id()
            .and_then(|id| i32::try_from(id).ok())
            .map(Pid::from_raw);
        let started = Instant::now();
        let (tx, done) = oneshot::channel();
        tokio::spawn(async move {
            let outcome = match child.wait_with_output().await {
                Ok(out) => {
                    // cargo writes its diagnostics to stderr; stdout is kept in case a build
                    // script or wrapper prints there.
                    let mut output = String::from_utf8_lossy(&out.stderr).into_owned();
                    output.push_str(&String::from_utf8_lossy(&out.stdout));
                    BuildOutcome {
                        success: out.status.success(),
                        status: out.status.to_string(),
                        output,
                        elapsed: started.elapsed(),
                    }
                }
                Err(e) => BuildOutcome {
                    success: false,
                    status: format!("wait failed: {e}"),
                    output: String::new(),
                    elapsed: started.elapsed(),
                },
            };
            let _ = tx.send(outcome);
        });
        Ok(RunningBuild { group, done })
    }
}

/// Why a build could not even start.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The build program could not be run.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program, as given.
        program: String,
        /// What the operating system said.
        #[source]
        source: std::io::Error,
    },
}

/// How a finished build went.
#[derive(Debug, Clone)]
pub struct BuildOutcome {
    /// Whether it exited 0.
    pub success: bool,
    /// How it ended (`exit status: 101`).
    pub status: String,
    /// Everything it printed, stderr first.
    pub output: String,
    /// From start to exit.
    pub elapsed: Duration,
}

/// A build in progress.
#[derive(Debug)]
pub struct RunningBuild {
    group: Option<Pid>,
    done: oneshot::Receiver<BuildOutcome>,
}

impl RunningBuild {
    /// Waits for the build to end. Cancel-safe: a dropped wait leaves the build running (stop
    /// it with [`Self::cancel`]).
    pub async fn finished(&mut self) -> BuildOutcome {
        match (&mut self.done).await {
            Ok(outcome) => outcome,
            Err(_) => BuildOutcome {
                success: false,
                status: "the build's waiter ended".to_owned(),
                output: String::new(),
                elapsed: Duration::ZERO,
            },
        }
    }

    /// Stops the build and every compiler it started (SIGTERM, SIGKILL after `grace`), and
    /// waits until the build process has been reaped.
    pub async fn cancel(mut self, grace: Duration) {
        let Some(group) = self.group else { return };
        let _ = killpg(group, Signal::SIGTERM);
        if tokio::time::timeout(grace, &mut self.done).await.is_err() {
            let _ = killpg(group, Signal::SIGKILL);
            let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.done).await;
        }
        // Whatever of the group outlived its leader (a compiler between two signals).
        let _ = killpg(group, Signal::SIGKILL);
    }
}

/// A file's identity: a binary cargo has written anew differs in at least one of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    inode: u64,
    size: u64,
    modified_ns: i128,
}

/// The identities of a set of binaries at one moment (`None`: missing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprints(BTreeMap<PathBuf, Option<Identity>>);

impl Fingerprints {
    /// Reads the identity of each of `paths`.
    pub fn take<'a>(paths: impl IntoIterator<Item = &'a Path>) -> Self {
        Self(
            paths
                .into_iter()
                .map(|p| (p.to_path_buf(), identity(p)))
                .collect(),
        )
    }

    /// Whether `path` is different now from when these were taken.
    pub fn changed(&self, path: &Path) -> bool {
        self.0.get(path).is_none_or(|then| *then != identity(path))
    }
}

fn identity(path: &Path) -> Option<Identity> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Identity {
        inode: meta.ino(),
        size: meta.size(),
        modified_ns: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewritten_file_is_changed_and_an_untouched_one_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (dir.path().join("a"), dir.path().join("b"));
        std::fs::write(&a, "one").unwrap();
        std::fs::write(&b, "one").unwrap();
        let before = Fingerprints::take([a.as_path(), b.as_path()]);
        // As cargo does: a new file put in place, so a new inode even with the same bytes.
        std::fs::write(dir.path().join("a.new"), "one").unwrap();
        std::fs::rename(dir.path().join("a.new"), &a).unwrap();
        assert!(before.changed(&a));
        assert!(!before.changed(&b));
    }

    #[test]
    fn a_binary_that_appears_is_changed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        let before = Fingerprints::take([a.as_path()]);
        assert!(!before.changed(&a));
        std::fs::write(&a, "new").unwrap();
        assert!(before.changed(&a));
    }

    #[test]
    fn the_build_arguments_are_those_of_cargo_make_build() {
        let makefile = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Makefile.toml"),
        )
        .unwrap();
        let task = makefile
            .split("\n[tasks.build]\n")
            .nth(1)
            .expect("Makefile.toml has a [tasks.build] table");
        let task = task.split("\n[").next().unwrap_or(task);
        let args_line = task
            .lines()
            .find(|l| l.trim_start().starts_with("args"))
            .expect("the build task has args");
        let quoted: Vec<&str> = args_line.split('"').skip(1).step_by(2).collect();
        assert!(task.contains("command = \"cargo\""), "{task}");
        assert_eq!(quoted, CARGO_BUILD_ARGS);
    }
}
