//! The development loop against real files and processes.
//!
//! Each test gets a small project in a temporary folder: `crates/api` and `crates/spa` with one
//! source file each, a configuration file, and a `build.sh` standing in for cargo that
//! "compiles" each source into `bin/<name>`, rewriting a binary only when its source changed
//! (as cargo relinks only what changed), and fails like rustc on a source holding
//! `compile_error`. The "binaries" it writes run this very test binary as a small TCP server
//! (the ignored `stand_in_server` below) that answers every connection with the source it was
//! built from, and writes its pid to a file. So a test can tell, over a socket, which build of
//! which server answers, and from the pid files, which processes were restarted.
//!
//! Every wait is on something observable (an event of the loop, a pid file, a process gone),
//! always bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use dev_runner::ChildSpec;
use dev_runner::build::BuildCommand;
use dev_runner::dev_loop::{DevLoop, Event, Server};
use tempfile::TempDir;
use test_support::eventually;

use common::{Running, free_addr};

mod common;

/// What the stand-in server reads: its port, the version it answers and its pid file.
const SERVER_VARS: [&str; 3] = ["STAND_IN_PORT", "STAND_IN_VERSION", "STAND_IN_PID"];
const BOUND: Duration = Duration::from_secs(30);

const BUILD_SH: &str = r#"#!/bin/sh
# Stands in for cargo: one line in builds.log per build, one "binary" per crate.
cd "$(dirname "$0")"
echo build >> builds.log
failed=
for name in api spa; do
  if grep -q compile_error "crates/$name/src/main.rs"; then
    echo "error: cannot compile $name: $(cat "crates/$name/src/main.rs")" >&2
    failed=1
  fi
done
[ -n "$failed" ] && exit 101
mkdir -p bin
for name in api spa; do
  version=$(cat "crates/$name/src/main.rs")
  printf '#!/bin/sh\nexec env STAND_IN_VERSION="%s" "%s" --ignored --exact stand_in_server --test-threads=1 -q >/dev/null\n' \
    "$version" "$STAND_IN_EXE" > "bin/$name.new"
  if cmp -s "bin/$name.new" "bin/$name"; then
    rm "bin/$name.new"
  else
    chmod +x "bin/$name.new"
    mv "bin/$name.new" "bin/$name"
  fi
done
"#;

/// Not a test: the server the fake builds produce. It answers every connection with
/// `STAND_IN_VERSION`; it writes its pid to `STAND_IN_PID` just before it listens.
#[test]
#[ignore = "a helper process the dev-loop tests start, not a test of its own"]
fn stand_in_server() {
    let Some([port, version, pid_file]) = common::stand_in_vars(SERVER_VARS) else {
        return;
    };
    // The pid is in place before the port accepts connections (the runner's sign that the
    // server is up), and whole: written aside and renamed, so a reader never sees it half done.
    let partial = format!("{pid_file}.partial");
    std::fs::write(&partial, std::process::id().to_string()).expect("pid file");
    std::fs::rename(&partial, &pid_file).expect("pid file in place");
    let listener = TcpListener::bind(format!("127.0.0.1:{port}")).expect("stand-in binds");
    for mut stream in listener.incoming().flatten() {
        let _ = stream.write_all(version.as_bytes());
    }
}

struct Project {
    _dir: TempDir,
    root: PathBuf,
    api: SocketAddr,
    spa: SocketAddr,
}

impl Project {
    /// A project with both crates at `v1`, built once (as `cargo make build` does before
    /// `cargo make dev`).
    fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical tempdir");
        for name in ["api", "spa"] {
            std::fs::create_dir_all(root.join(format!("crates/{name}/src"))).expect("mkdir");
            std::fs::write(root.join(format!("crates/{name}/src/main.rs")), "v1").expect("write");
        }
        std::fs::write(root.join("Cargo.toml"), "[workspace]\n").expect("write");
        std::fs::write(root.join("config.json"), "{}\n").expect("write");
        std::fs::write(root.join("build.sh"), BUILD_SH).expect("write");
        let status = std::process::Command::new("/bin/sh")
            .arg(root.join("build.sh"))
            .env(
                "STAND_IN_EXE",
                std::env::current_exe().expect("test binary"),
            )
            .status()
            .expect("first build runs");
        assert!(status.success());
        Self {
            _dir: dir,
            root,
            api: free_addr(),
            spa: free_addr(),
        }
    }

    fn write(&self, relative: &str, content: &str) {
        std::fs::write(self.root.join(relative), content).expect("write");
    }

    fn builds(&self) -> usize {
        std::fs::read_to_string(self.root.join("builds.log"))
            .map(|s| s.lines().count())
            .unwrap_or(0)
    }

    fn pid_file(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.pid"))
    }

    fn server(&self, name: &str, addr: SocketAddr) -> Server {
        Server {
            spec: ChildSpec::new(name, self.root.join("bin").join(name))
                .env("STAND_IN_PORT", addr.port().to_string())
                .env("STAND_IN_PID", self.pid_file(name))
                .ready_when_listening(addr),
            reads: if name == "api" {
                vec![self.root.join("config.json")]
            } else {
                Vec::new()
            },
            rotation: None,
        }
    }

    fn dev_loop(&self, build: BuildCommand, debounce: Duration) -> DevLoop {
        DevLoop {
            servers: vec![self.server("api", self.api), self.server("spa", self.spa)],
            build,
            sources: vec![self.root.join("crates"), self.root.join("Cargo.toml")],
            debounce,
            timing: common::timing(),
            own_binary: None,
        }
    }

    fn fake_cargo(&self) -> BuildCommand {
        BuildCommand {
            program: "/bin/sh".into(),
            args: vec![self.root.join("build.sh").into()],
            env: vec![(
                "STAND_IN_EXE".into(),
                std::env::current_exe().expect("test binary").into(),
            )],
            dir: self.root.clone(),
        }
    }

    /// Starts the loop with a 200 ms quiet time; returns once every server has started.
    async fn start(&self, build: BuildCommand) -> Running {
        self.start_with(build, Duration::from_millis(200)).await
    }

    async fn start_with(&self, build: BuildCommand, debounce: Duration) -> Running {
        Running::start(self.dev_loop(build, debounce), BOUND).await
    }
}

fn restarted(name: &'static str) -> impl Fn(&Event) -> bool {
    move |e| matches!(e, Event::Restarted { name: n, .. } if n == name)
}

/// What the server at `addr` answers: the source it was built from.
fn ask(addr: SocketAddr) -> String {
    let mut stream = TcpStream::connect(addr).expect("the server accepts connections");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("an answer");
    answer
}

fn pid(file: &Path) -> u32 {
    std::fs::read_to_string(file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("a pid")
}

fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.split_whitespace().nth(2) != Some("Z"))
}

/// Waits (bounded) for `pid` to be gone; `false` if it is still running after the bound. A
/// killed grandchild is reaped by init, not by the test, so it may take a moment.
async fn gone(pid: u32) -> bool {
    eventually(BOUND, || async { !running(pid) }).await
}

/// Waits (bounded) until `file` holds a pid.
async fn pid_written(file: &Path) -> u32 {
    let deadline = tokio::time::Instant::now() + BOUND;
    while tokio::time::Instant::now() < deadline {
        if let Some(pid) = std::fs::read_to_string(file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return pid;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no pid written to {}", file.display());
}

#[tokio::test]
async fn a_saved_source_rebuilds_and_restarts_only_the_server_whose_binary_changed() {
    let project = Project::new();
    let mut dev = project.start(project.fake_cargo()).await;
    let api_before = pid(&project.pid_file("api"));
    let spa_before = pid(&project.pid_file("spa"));
    assert_eq!(ask(project.api), "v1");

    project.write("crates/api/src/main.rs", "v2");
    let events = dev.until(restarted("api")).await;

    assert_eq!(ask(project.api), "v2");
    assert_ne!(pid(&project.pid_file("api")), api_before);
    assert_eq!(ask(project.spa), "v1");
    assert_eq!(pid(&project.pid_file("spa")), spa_before);
    assert!(
        !events.iter().any(restarted("spa")),
        "spa was restarted: {events:?}"
    );
    assert!(
        gone(api_before).await,
        "the old api process is still running"
    );
    dev.stop().await;
}

#[tokio::test]
async fn a_failing_build_keeps_the_old_server_serving_and_the_next_good_build_replaces_it() {
    let project = Project::new();
    let mut dev = project.start(project.fake_cargo()).await;
    let api_before = pid(&project.pid_file("api"));

    project.write("crates/api/src/main.rs", "compile_error v2");
    let events = dev.until(|e| matches!(e, Event::BuildFailed { .. })).await;
    let Some(Event::BuildFailed { output, status, .. }) = events.last() else {
        unreachable!("until returns the matching event last");
    };
    assert_eq!(output, "error: cannot compile api: compile_error v2\n");
    assert_eq!(status, "exit status: 101");
    assert_eq!(ask(project.api), "v1");
    assert_eq!(pid(&project.pid_file("api")), api_before);

    project.write("crates/api/src/main.rs", "v3");
    dev.until(restarted("api")).await;
    assert_eq!(ask(project.api), "v3");
    dev.stop().await;
}

#[tokio::test]
async fn a_burst_of_saves_gives_one_build() {
    let project = Project::new();
    // A quiet time far above the gaps below, so that a stalled test thread on a busy machine
    // cannot split the burst.
    let mut dev = project
        .start_with(project.fake_cargo(), Duration::from_secs(1))
        .await;
    let builds_before = project.builds();

    // Saves of several files 20 ms apart: what "save all" or a formatter does.
    for (file, version) in [
        ("crates/api/src/main.rs", "v2"),
        ("crates/api/src/routes.rs", "routes"),
        ("crates/spa/src/lib.rs", "lib"),
        ("crates/api/src/main.rs", "v3"),
        ("Cargo.toml", "[workspace]\nmembers = []\n"),
        ("crates/api/src/main.rs", "v6"),
    ] {
        project.write(file, version);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let events = dev.until(restarted("api")).await;
    assert_eq!(ask(project.api), "v6");
    // A later, separate save: once its build is done, every build the burst caused is done too.
    project.write("crates/spa/src/main.rs", "v2");
    let later = dev.until(restarted("spa")).await;

    let building: Vec<&Event> = events
        .iter()
        .chain(&later)
        .filter(|e| matches!(e, Event::Building { .. }))
        .collect();
    assert_eq!(building.len(), 2, "{events:?} {later:?}");
    // The one build of the burst names each of the four saved files once.
    assert!(
        matches!(building[0], Event::Building { others: 3, .. }),
        "{building:?}"
    );
    assert_eq!(project.builds() - builds_before, 2);
    dev.stop().await;
}

#[tokio::test]
async fn a_configuration_change_restarts_the_servers_that_read_it_without_a_build() {
    let project = Project::new();
    let mut dev = project.start(project.fake_cargo()).await;
    let builds_before = project.builds();
    let api_before = pid(&project.pid_file("api"));
    let spa_before = pid(&project.pid_file("spa"));

    project.write("config.json", "{\"changed\": true}\n");
    let events = dev.until(restarted("api")).await;

    let Some(Event::Restarted { build, because, .. }) = events.last() else {
        unreachable!("until returns the matching event last");
    };
    assert_eq!(*build, None);
    assert_eq!(
        because.as_deref(),
        Some(project.root.join("config.json").as_path())
    );
    assert_ne!(pid(&project.pid_file("api")), api_before);
    assert_eq!(pid(&project.pid_file("spa")), spa_before);
    assert_eq!(project.builds(), builds_before);
    dev.stop().await;
}

#[tokio::test]
async fn the_shutdown_signal_during_a_build_leaves_no_process_running() {
    let project = Project::new();
    let build_pid = project.root.join("build.pid");
    let compiler_pid = project.root.join("compiler.pid");
    // A build that takes long, with a child of its own, as cargo has rustc.
    let slow = BuildCommand {
        program: "/bin/sh".into(),
        args: vec![
            "-c".into(),
            format!(
                "echo $$ > {}; sleep 300 & echo $! > {}; wait",
                build_pid.display(),
                compiler_pid.display()
            )
            .into(),
        ],
        env: Vec::new(),
        dir: project.root.clone(),
    };
    let mut dev = project.start(slow).await;
    let api = pid(&project.pid_file("api"));
    let spa = pid(&project.pid_file("spa"));

    project.write("crates/api/src/main.rs", "v2");
    dev.until(|e| matches!(e, Event::Building { .. })).await;
    let build = pid_written(&build_pid).await;
    let compiler = pid_written(&compiler_pid).await;
    dev.stop().await;

    for (what, pid) in [
        ("the build", build),
        ("the compiler", compiler),
        ("api", api),
        ("spa", spa),
    ] {
        assert!(gone(pid).await, "{what} (pid {pid}) is still running");
    }
}
