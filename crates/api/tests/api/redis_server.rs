//! A real `redis-server` for the shared replay store's tests: started by the test on a free
//! loopback port with its own temporary directory, nothing persisted, killed when dropped.
//!
//! The binary is `$REDIS_SERVER` or `redis-server` from `PATH` (`cargo make test` installs
//! Debian's). A missing binary fails the test with a message saying so: the store's failure
//! paths must never hide behind a skipped test.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running (or stopped, restartable) `redis-server`.
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    child: Option<Child>,
}

impl RedisServer {
    /// Starts a server on a free port and waits (bounded) until it answers `PING`.
    pub async fn start() -> Self {
        Self::start_on(free_port()).await
    }

    /// Starts a server on `port` and waits (bounded) until it answers `PING`.
    pub async fn start_on(port: u16) -> Self {
        let dir =
            std::env::temp_dir().join(format!("api-redis-test-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the Redis test directory");
        let mut server = Self {
            port,
            dir,
            child: None,
        };
        server.start_again().await;
        server
    }

    /// A port nothing listens on, as the URL of a Redis that is down.
    pub fn unused_url() -> String {
        format!("redis://127.0.0.1:{}", free_port())
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Stops the server (SIGKILL: as abrupt as a crash) and waits until it is gone.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port; waits (bounded) until it answers `PING`.
    pub async fn start_again(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".to_owned());
        let child = Command::new(&binary)
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            // For DEBUG SLEEP: a server that is up but does not answer in time.
            .args(["--enable-debug-command", "local"])
            .arg("--dir")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {binary:?} ({e}): these tests need a real Redis; install it \
                     (apt-get install redis-server, or `cargo make test`, which does) or set \
                     REDIS_SERVER to its path"
                )
            });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.ping().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!(
            "redis-server on port {} did not answer PING within 10 s",
            self.port
        );
    }

    /// A plain connection to the server, for inspecting what the API wrote.
    pub async fn connection(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("the test URL is valid")
            .get_multiplexed_async_connection()
            .await
            .expect("connect to the test Redis")
    }

    /// Blocks the server for `duration` (`DEBUG SLEEP`) and returns once it is blocked (a
    /// `PING` gets no answer within 100 ms), bounded by 5 s.
    pub async fn block_for(&self, duration: Duration) {
        let mut connection = self.connection().await;
        let secs = duration.as_secs_f64();
        tokio::spawn(async move {
            let _: redis::RedisResult<()> = redis::cmd("DEBUG")
                .arg("SLEEP")
                .arg(secs)
                .query_async(&mut connection)
                .await;
        });
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            let pinged = tokio::time::timeout(Duration::from_millis(100), self.ping()).await;
            if pinged.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("DEBUG SLEEP did not block the test Redis");
    }

    async fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.url()) else {
            return false;
        };
        let Ok(mut connection) = client.get_multiplexed_async_connection().await else {
            return false;
        };
        redis::cmd("PING")
            .query_async::<String>(&mut connection)
            .await
            .is_ok()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}
