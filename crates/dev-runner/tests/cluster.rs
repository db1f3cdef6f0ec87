//! The cluster as the development loop runs it, with Debian's real `redis-server` and `haproxy`
//! on free loopback ports, and two stand-in API replicas.
//!
//! The stand-in (the ignored `stand_in_replica` below, this very test binary run again) behaves
//! like the API where the cluster depends on it: it listens on `API_HOST:API_PORT`, answers
//! every request 200 with its port, and on SIGTERM answers `/readyz` 503 while it keeps serving
//! for `API_SHUTDOWN_DRAIN_SECS`, then exits (a second SIGTERM exits at once). So the tests see
//! HAProxy spread requests over the replicas, a rolling restart drain each one out of the
//! rotation without a failed request, and a stop leave nothing listening.
//!
//! A missing `redis-server` or `haproxy` fails the tests, naming the package: they exist to
//! check the dev-runner against those very programs. Every wait is bounded.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use dev_runner::balancer::Rotation;
use dev_runner::build::BuildCommand;
use dev_runner::cluster::{self, ClusterPlan, Programs, Replica, Shared};
use dev_runner::dev_loop::{DevLoop, Event};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{Running, free_addr};

mod common;

/// What the stand-in replica reads: its address and its drain.
const REPLICA_VARS: [&str; 3] = ["API_HOST", "API_PORT", "API_SHUTDOWN_DRAIN_SECS"];
const BOUND: Duration = Duration::from_secs(60);
/// The stand-ins' drain: longer than HAProxy's 2 s detection time, as the cluster's is.
const DRAIN: Duration = Duration::from_secs(3);

/// Not a test: the API replica the cluster tests start (see the module documentation).
#[test]
#[ignore = "a helper process the cluster tests start, not a test of its own"]
fn stand_in_replica() {
    let Some([host, port, drain]) = common::stand_in_vars(REPLICA_VARS) else {
        return;
    };
    let drain = Duration::from_secs(drain.parse().expect("drain seconds"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(format!("{host}:{port}"))
            .await
            .expect("the stand-in binds");
        let draining = Arc::new(AtomicBool::new(false));
        let serving = draining.clone();
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let draining = serving.clone();
                let port = port.clone();
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0_u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let readyz = request.starts_with(b"GET /readyz ");
                    let status = if readyz && draining.load(Ordering::SeqCst) {
                        "503 Service Unavailable"
                    } else {
                        "200 OK"
                    };
                    let answer = format!(
                        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{port}",
                        port.len()
                    );
                    let _ = stream.write_all(answer.as_bytes()).await;
                });
            }
        });
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("a SIGTERM handler");
        term.recv().await;
        draining.store(true, Ordering::SeqCst);
        let _ = tokio::time::timeout(drain, term.recv()).await;
    });
}

struct Cluster {
    dir: TempDir,
    plan: ClusterPlan,
    config: PathBuf,
    running: Running,
}

fn program(name: &str) -> PathBuf {
    cluster::find_program(name, std::env::var_os("PATH").as_deref()).unwrap_or_else(|| {
        panic!(
            "`{name}` is not installed: this test runs Debian's {name}; install it with \
             `apt-get install -y {name}` (`cargo make test` does, as root)"
        )
    })
}

impl Cluster {
    /// Redis, two stand-in replicas and HAProxy on free ports, run by the development loop;
    /// returns once the loop reports them started and HAProxy routes to both replicas.
    async fn start() -> Self {
        let (redis, haproxy) = (program("redis-server"), program("haproxy"));
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path().canonicalize().expect("canonical tempdir");
        let stand_in = root.join("api");
        std::fs::write(
            &stand_in,
            format!(
                "#!/bin/sh\nexec \"{}\" --ignored --exact stand_in_replica --test-threads=1 -q >/dev/null\n",
                std::env::current_exe().expect("test binary").display()
            ),
        )
        .expect("write");
        std::fs::set_permissions(
            &stand_in,
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        let config = root.join("auth_config.json");
        std::fs::write(&config, "{}\n").expect("write");
        std::fs::create_dir_all(root.join("src")).expect("mkdir");
        std::fs::create_dir_all(root.join("redis")).expect("mkdir");

        let plan = ClusterPlan {
            public: free_addr(),
            stats: free_addr(),
            redis: free_addr(),
            replicas: (1..=2)
                .map(|i| Replica {
                    name: format!("api-{i}"),
                    listen: free_addr(),
                    metrics: free_addr(),
                })
                .collect(),
            drain: DRAIN,
        };
        let template = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../..")
                .join(cluster::HAPROXY_TEMPLATE),
        )
        .expect("the repository's HAProxy configuration");
        std::fs::write(
            cluster::haproxy_config_path(&root),
            cluster::haproxy_config(&template, &plan).expect("renders"),
        )
        .expect("write");
        std::fs::write(
            cluster::redis_config_path(&root),
            cluster::redis_config(plan.redis, &root.join("redis")),
        )
        .expect("write");
        let servers = cluster::cluster_servers(
            &plan,
            &Programs {
                api: stand_in,
                redis,
                haproxy,
            },
            &root,
            &Shared {
                origin: format!("http://localhost:{}", plan.public.port()),
                nonce_secret: "s".repeat(64),
            },
            std::slice::from_ref(&config),
            |_| None,
        );
        let dev = DevLoop {
            servers,
            build: BuildCommand {
                program: "/bin/true".into(),
                args: Vec::new(),
                env: Vec::new(),
                dir: root.clone(),
            },
            sources: vec![root.join("src")],
            debounce: Duration::from_millis(200),
            timing: common::timing(),
            own_binary: None,
        };
        let cluster = Self {
            dir,
            plan,
            config,
            running: Running::start(dev, BOUND).await,
        };
        for replica in &cluster.plan.replicas {
            assert!(
                cluster.rotation(replica).wait_up(BOUND).await,
                "HAProxy did not route to {}",
                replica.name
            );
        }
        cluster
    }

    fn rotation(&self, replica: &Replica) -> Rotation {
        Rotation {
            replica: replica.listen,
            stats: self.plan.stats,
            backend: cluster::BACKEND.to_owned(),
            server: replica.name.clone(),
            drain: self.plan.drain,
        }
    }

    /// Waits for the first event matching `wanted`; returns it and every event before it.
    async fn until(&mut self, wanted: impl Fn(&Event) -> bool) -> Vec<Event> {
        self.running.until(wanted).await
    }

    /// Sends the shutdown signal and waits (bounded) for the loop to end.
    async fn stop(&mut self) {
        self.running.stop().await;
    }

    /// Every address of the plan.
    fn addresses(&self) -> Vec<(String, SocketAddr)> {
        self.plan
            .addresses()
            .into_iter()
            .filter(|(name, _)| !name.ends_with("/metrics"))
            .collect()
    }
}

/// `GET /api/external` through HAProxy: the status and the body (the replica's port).
async fn get(addr: SocketAddr) -> (u16, String) {
    let exchange = async {
        let mut stream = tokio::net::TcpStream::connect(addr).await?;
        stream
            .write_all(
                b"GET /api/external HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
            )
            .await?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await?;
        Ok::<_, std::io::Error>(String::from_utf8_lossy(&response).into_owned())
    };
    let text = match tokio::time::timeout(Duration::from_secs(10), exchange).await {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => return (0, e.to_string()),
        Err(_) => return (0, "no answer in 10 s".to_owned()),
    };
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_owned();
    (status, body)
}

#[tokio::test]
async fn haproxy_spreads_requests_over_the_replicas_and_a_stop_leaves_nothing_listening() {
    let mut cluster = Cluster::start().await;
    let mut answered_by = Vec::new();
    for _ in 0..4 {
        let (status, body) = get(cluster.plan.public).await;
        assert_eq!(status, 200, "{body}");
        answered_by.push(body);
    }
    let ports: Vec<String> = cluster
        .plan
        .replicas
        .iter()
        .map(|r| r.listen.port().to_string())
        .collect();
    for port in &ports {
        assert!(
            answered_by.contains(port),
            "no request reached the replica on {port}: {answered_by:?}"
        );
    }
    let addresses = cluster.addresses();
    cluster.stop().await;
    for (name, addr) in addresses {
        assert!(
            tokio::net::TcpStream::connect(addr).await.is_err(),
            "{name} still listens on {addr} after the stop"
        );
    }
    assert!(cluster.dir.path().join("redis").is_dir());
}

#[tokio::test]
async fn a_restart_rolls_the_replicas_one_at_a_time_through_their_drain_without_a_failed_request() {
    let mut cluster = Cluster::start().await;
    let public = cluster.plan.public;
    let done = Arc::new(AtomicBool::new(false));
    let client_done = done.clone();
    let client = tokio::spawn(async move {
        let mut failures = Vec::new();
        let mut answered = 0_u32;
        while !client_done.load(Ordering::SeqCst) {
            let (status, body) = get(public).await;
            if status == 200 {
                answered += 1;
            } else {
                failures.push(format!("{status} {body}"));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (answered, failures)
    });

    // The replicas read this file: its change restarts them (no build involved).
    std::fs::write(&cluster.config, "{\"changed\": true}\n").expect("write");
    let events = cluster
        .until(|e| matches!(e, Event::Restarted { name, .. } if name == "api-2"))
        .await;
    done.store(true, Ordering::SeqCst);
    let (answered, failures) = client.await.expect("the client task");

    let steps: Vec<String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Draining { name, .. } => Some(format!("draining {name}")),
            Event::Restarted { name, .. } => Some(format!("restarted {name}")),
            Event::StartFailed { name, error } => Some(format!("failed {name}: {error}")),
            _ => None,
        })
        .collect();
    assert_eq!(
        steps,
        [
            "draining api-1",
            "restarted api-1",
            "draining api-2",
            "restarted api-2"
        ]
    );
    for event in &events {
        if let Event::Restarted { restart, .. } = event {
            assert!(
                *restart >= DRAIN,
                "a replica came back before its drain was over: {restart:?}"
            );
        }
    }
    assert!(
        failures.is_empty(),
        "failed requests during the roll: {failures:?}"
    );
    assert!(answered > 0);
    cluster.stop().await;
}
