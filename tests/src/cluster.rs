//! `cargo make cluster`'s topology in one test: API replicas behind a real HAProxy, sharing a
//! real Redis.
//!
//! The dev issuer, the SPA server and the replicas run in-process on free loopback ports (the
//! crates' own `Application`s, as in [`crate::stack`]); HAProxy and Redis are Debian's programs,
//! started here as children with the very configuration `cargo make cluster` uses: HAProxy runs
//! the repository's `deploy/haproxy/haproxy.cfg` with its addresses rewritten by the
//! dev-runner's own `haproxy_config`, Redis the dev-runner's `redis_config`. Every replica shares
//! the public origin (HAProxy's), the nonce secret and the store, as the cluster's do.
//!
//! A missing `haproxy` or `redis-server` is an error naming the package, never a skip: the
//! scenario exists to show that the promises hold through those very programs.
//!
//! The children are leaders of their own process groups, killed with their groups when the
//! [`Cluster`] is dropped (also when a test panics); their output goes to files in the
//! cluster's temporary folder, named in the errors.

use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use app_config::AuthConfig;
use dev_runner::balancer::Rotation;
use dev_runner::cluster::{self, ClusterPlan, Replica};
use test_support::config_with_origins;

use crate::stack::{StackError, frontend_dir, http_client};

/// How long HAProxy and Redis get to come up, and HAProxy to route to every replica.
const BOUND: Duration = Duration::from_secs(30);

/// Why the cluster could not start.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// A program the cluster runs is not installed.
    #[error(
        "`{program}` is not installed: this test runs Debian's {package}; install it with \
         `apt-get install -y {package}` (`cargo make test` does, as root)"
    )]
    Missing {
        /// The program looked for.
        program: &'static str,
        /// The Debian package that holds it.
        package: &'static str,
    },
    /// The in-process servers could not start.
    #[error(transparent)]
    Stack(#[from] StackError),
    /// A child process could not be started, or did not become ready.
    #[error("{0}")]
    Child(String),
}

impl From<std::io::Error> for ClusterError {
    fn from(e: std::io::Error) -> Self {
        Self::Stack(StackError::Bind(e))
    }
}

impl From<app_config::ConfigError> for ClusterError {
    fn from(e: app_config::ConfigError) -> Self {
        Self::Stack(StackError::Config(e))
    }
}

/// One replica, as a test sees it.
#[derive(Debug, Clone)]
pub struct ReplicaView {
    /// `api-1`, `api-2`, ...
    pub name: String,
    /// `http://127.0.0.1:<port>` of its `/metrics` listener.
    pub metrics: String,
}

/// The running cluster.
#[derive(Debug)]
pub struct Cluster {
    /// The configuration every server was built from (`dpop` on).
    pub config: AuthConfig,
    /// `http://localhost:<port>` of the SPA server.
    pub app: String,
    /// `http://localhost:<port>` of HAProxy: the API's public origin.
    pub api: String,
    /// `http://localhost:<port>` of the dev issuer.
    pub issuer: String,
    /// The replicas, in HAProxy's order.
    pub replicas: Vec<ReplicaView>,
    /// The addresses, as the dev-runner plans them.
    pub plan: ClusterPlan,
    handles: Vec<ServerHandle>,
    haproxy: Process,
    redis: Process,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts Redis, `replicas` API replicas, HAProxy in front of them, the dev issuer and the
    /// SPA server (DPoP on, server nonces on), on the current Tokio runtime; returns once
    /// HAProxy routes to every replica.
    pub async fn start(replicas: usize) -> Result<Self, ClusterError> {
        let path = std::env::var_os("PATH");
        let find = |program: &'static str, package: &'static str| {
            cluster::find_program(program, path.as_deref())
                .ok_or(ClusterError::Missing { program, package })
        };
        let haproxy_program = find("haproxy", "haproxy")?;
        let redis_program = find("redis-server", "redis-server")?;
        let dir = tempfile::Builder::new().prefix("e2e-cluster-").tempdir()?;

        let issuer_listener = TcpListener::bind("127.0.0.1:0")?;
        let spa_listener = TcpListener::bind("127.0.0.1:0")?;
        let replica_listeners = (0..replicas)
            .map(|_| TcpListener::bind("127.0.0.1:0"))
            .collect::<Result<Vec<_>, _>>()?;
        // HAProxy and Redis bind these themselves; the ports are free a moment before.
        let (public, stats, redis) = (free_addr()?, free_addr()?, free_addr()?);
        let origin = |port: u16| format!("http://localhost:{port}");
        let (issuer, app, api) = (
            origin(issuer_listener.local_addr()?.port()),
            origin(spa_listener.local_addr()?.port()),
            origin(public.port()),
        );
        let config = AuthConfig {
            dpop: true,
            ..config_with_origins(&issuer, &app, &api)
        };

        // The issuer first: the replicas fetch its keys as they start.
        let issuer_app = dev_issuer::Application::from_listener(
            dev_issuer::Settings::for_tests(config.clone()),
            issuer_listener,
        )
        .map_err(|e| server_error("dev issuer", e))?;
        let spa_app = spa_server::Application::from_listener(
            spa_server::Settings::new(config.clone(), frontend_dir()),
            spa_listener,
        )
        .map_err(|e| server_error("spa-server", e))?;
        let mut handles = vec![issuer_app.handle(), spa_app.handle()];
        tokio::spawn(issuer_app.run_until_stopped());
        tokio::spawn(spa_app.run_until_stopped());

        let redis_dir = dir.path().join("redis");
        std::fs::create_dir_all(&redis_dir)?;
        let redis_config = cluster::redis_config_path(dir.path());
        std::fs::write(&redis_config, cluster::redis_config(redis, &redis_dir))?;
        let mut redis_process = Process::spawn(
            "redis",
            Command::new(&redis_program).arg(&redis_config),
            dir.path(),
        )?;
        redis_process.wait_listening(redis).await?;

        let mut views = Vec::new();
        let mut planned = Vec::new();
        let secret = cluster::nonce_secret()?;
        for (index, listener) in replica_listeners.into_iter().enumerate() {
            let listen = listener.local_addr()?;
            let mut settings = api::Settings::for_tests(config.clone());
            let mut nonce = auth::dpop::NonceSettings::random();
            nonce.secret = secret.as_bytes().to_vec();
            settings.dpop.nonce = Some(nonce);
            settings.replay_store =
                api::replay_store::ReplayStoreKind::Redis(plan_redis_url(redis));
            let app = api::Application::from_listener(settings, listener)
                .map_err(|e| server_error("api", e))?;
            let metrics_port = app
                .metrics_port()
                .ok_or_else(|| server_error("api", "no /metrics listener"))?;
            let name = format!("api-{}", index + 1);
            views.push(ReplicaView {
                name: name.clone(),
                metrics: format!("http://127.0.0.1:{metrics_port}"),
            });
            planned.push(Replica {
                name,
                listen,
                metrics: SocketAddr::from(([127, 0, 0, 1], metrics_port)),
            });
            handles.push(app.handle());
            tokio::spawn(app.run_until_stopped());
        }
        let plan = ClusterPlan {
            public,
            stats,
            redis,
            replicas: planned,
            drain: Duration::from_secs(cluster::DEFAULT_DRAIN_SECS),
        };

        let template_path = repository().join(cluster::HAPROXY_TEMPLATE);
        let template = std::fs::read_to_string(&template_path)?;
        let haproxy_config = cluster::haproxy_config(&template, &plan)
            .map_err(|e| ClusterError::Child(e.to_string()))?;
        let config_path = cluster::haproxy_config_path(dir.path());
        std::fs::write(&config_path, haproxy_config)?;
        let haproxy = Process::spawn(
            "haproxy",
            Command::new(&haproxy_program)
                .arg("-db")
                .arg("-f")
                .arg(&config_path),
            dir.path(),
        )?;

        let cluster = Self {
            config,
            app,
            api,
            issuer,
            replicas: views,
            plan,
            handles,
            haproxy,
            redis: redis_process,
            dir,
        };
        cluster.wait_until_routed().await?;
        Ok(cluster)
    }

    /// Waits until HAProxy routes to every replica (each ready, each `UP` on its statistics
    /// page).
    async fn wait_until_routed(&self) -> Result<(), ClusterError> {
        for replica in &self.plan.replicas {
            let rotation = Rotation {
                replica: replica.listen,
                stats: self.plan.stats,
                backend: cluster::BACKEND.to_owned(),
                server: replica.name.clone(),
                drain: self.plan.drain,
            };
            if !rotation.wait_up(BOUND).await {
                let status = rotation.status().await.unwrap_or_else(|e| e);
                return Err(ClusterError::Child(format!(
                    "HAProxy did not route to {} within {} s ({status}); its output: {}",
                    replica.name,
                    BOUND.as_secs(),
                    self.haproxy.log.display()
                )));
            }
        }
        Ok(())
    }

    /// The files HAProxy's and Redis's output went to.
    pub fn logs(&self) -> [PathBuf; 2] {
        [self.haproxy.log.clone(), self.redis.log.clone()]
    }

    /// The cluster's temporary folder.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `api_http_requests_total{route=<route>,status=<status>}` of each replica, in order.
    pub async fn served(&self, route: &str, status: u16) -> Vec<u64> {
        self.sample(&format!(
            "api_http_requests_total{{route=\"{route}\",status=\"{status}\"}}"
        ))
        .await
    }

    /// How many keys Redis holds (`DBSIZE`, spoken in RESP over a plain connection).
    pub async fn redis_keys(&self) -> std::io::Result<u64> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let exchange = async {
            let mut stream = tokio::net::TcpStream::connect(self.plan.redis).await?;
            stream.write_all(b"*1\r\n$6\r\nDBSIZE\r\n").await?;
            let mut reply = vec![0_u8; 64];
            let n = stream.read(&mut reply).await?;
            Ok::<_, std::io::Error>(String::from_utf8_lossy(&reply[..n]).into_owned())
        };
        let reply = tokio::time::timeout(Duration::from_secs(5), exchange)
            .await
            .map_err(|_| std::io::Error::other("no answer within 5 s"))??;
        reply
            .strip_prefix(':')
            .and_then(|n| n.trim_end().parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("unexpected reply {reply:?}")))
    }

    /// `series` (a metric name with its labels, as `/metrics` writes it) of each replica, in
    /// order.
    pub async fn sample(&self, series: &str) -> Vec<u64> {
        let mut counts = Vec::new();
        for replica in &self.replicas {
            counts.push(metric(&replica.metrics, series).await);
        }
        counts
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for handle in &self.handles {
            drop(handle.stop(false));
        }
    }
}

/// `redis://` URL of the Redis at `addr`.
fn plan_redis_url(addr: SocketAddr) -> String {
    format!("redis://{addr}")
}

/// One sample of a replica's `/metrics` (`series` is the name with its labels); 0 when it is
/// absent or unreadable.
async fn metric(metrics: &str, series: &str) -> u64 {
    let Ok(response) = http_client().get(format!("{metrics}/metrics")).send().await else {
        return 0;
    };
    let text = response.text().await.unwrap_or_default();
    let series = format!("{series} ");
    text.lines()
        .find_map(|line| line.strip_prefix(series.as_str()))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// A child program in its own process group, its output in `<dir>/<name>.log`; killed with
/// its group on drop.
#[derive(Debug)]
struct Process {
    name: &'static str,
    child: Child,
    log: PathBuf,
}

impl Process {
    fn spawn(name: &'static str, command: &mut Command, dir: &Path) -> Result<Self, ClusterError> {
        let log = dir.join(format!("{name}.log"));
        let out = std::fs::File::create(&log)?;
        let err = out.try_clone()?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .map_err(|e| ClusterError::Child(format!("cannot start {name}: {e}")))?;
        Ok(Self { name, child, log })
    }

    /// Polls `addr` until it accepts connections, failing early if the program exits.
    async fn wait_listening(&mut self, addr: SocketAddr) -> Result<(), ClusterError> {
        let deadline = Instant::now() + BOUND;
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Ok(());
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Err(ClusterError::Child(format!(
            "{} did not listen on {addr}; its output: {}",
            self.name,
            self.log.display()
        )))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        crate::kill_group(&mut self.child);
    }
}

/// A loopback address that was free a moment ago, for a program that binds it itself.
fn free_addr() -> std::io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

fn server_error(server: &'static str, e: impl std::fmt::Display) -> StackError {
    StackError::Server {
        server,
        message: e.to_string(),
    }
}

/// The repository's root (this package is `tests/`).
fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}
