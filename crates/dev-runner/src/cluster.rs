//! `cargo make cluster`: the one-machine picture of a deployment, planned as data.
//!
//! What runs, in start order: the dev issuer, Redis (the DPoP replay store every replica
//! shares), the API replicas `api-1` to `api-N`, HAProxy in front of them on the API's public
//! port, and the SPA server. This module decides the addresses, each child's command line and
//! environment, and HAProxy's configuration, without running anything, so all of it is tested
//! as plain values; `main.rs` adds the dev issuer and the SPA server as `cargo make dev` runs
//! them, and [`crate::dev_loop`] runs the lot (including how a replica is rolled over after a
//! rebuild: drained first, back in HAProxy's rotation before the next one goes).
//!
//! HAProxy's configuration is the repository's `deploy/haproxy/haproxy.cfg`, which a user can
//! copy to production: [`haproxy_config`] rewrites only its addresses (the two `bind` lines and
//! the `server` lines), so with the default ports and three replicas the file runs unchanged.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use app_config::ConfigError;

use crate::ChildSpec;
use crate::balancer::Rotation;
use crate::dev_loop::Server;

/// Where HAProxy's configuration lives, relative to the project root.
pub const HAPROXY_TEMPLATE: &str = "deploy/haproxy/haproxy.cfg";
/// The HAProxy backend (and frontend) that holds the replicas, as the file names it.
pub const BACKEND: &str = "api";
/// Replicas when `CLUSTER_REPLICAS` is not set.
pub const DEFAULT_REPLICAS: usize = 3;
/// The most replicas a cluster runs: more shows nothing new on one machine.
pub const MAX_REPLICAS: usize = 16;
/// How far above a replica's port its `/metrics` listener is (3101 → 3201).
pub const METRICS_OFFSET: u16 = 100;
/// `API_SHUTDOWN_DRAIN_SECS` for the replicas unless set: longer than HAProxy's detection time
/// (`inter 1s fall 2` in the configuration, 2 s), so a draining replica leaves the rotation
/// before it stops serving.
pub const DEFAULT_DRAIN_SECS: u64 = 5;
/// What a replica's request-log line for a passing health check contains, in the text and in
/// the JSON log format: HAProxy sends one a second per replica, so they are not shown (a failing
/// one is).
pub const HEALTH_CHECK_LINES: [&str; 2] = [
    "path=/readyz status=200",
    r#""path":"/readyz","status":200,"#,
];

/// What HAProxy's standard-error copy of a replica's state change contains (`[WARNING]
/// (1234) : Server api/api-2 is DOWN, ...`): the same news is on its log (`Server api/api-2 is
/// DOWN, ...`), so this copy is not shown. Its other warnings and alerts are.
pub const HAPROXY_STATE_WARNING: &str = ") : Server ";

/// Every address of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterPlan {
    /// HAProxy's public listener: the API's public origin points here.
    pub public: SocketAddr,
    /// HAProxy's statistics page (loopback).
    pub stats: SocketAddr,
    /// Redis.
    pub redis: SocketAddr,
    /// The API replicas, in start order.
    pub replicas: Vec<Replica>,
    /// `API_SHUTDOWN_DRAIN_SECS` of every replica.
    pub drain: Duration,
}

/// One API replica.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replica {
    /// `api-1`, `api-2`, ...: its log prefix and its `server` name in HAProxy.
    pub name: String,
    /// Where it listens (loopback; only HAProxy talks to it).
    pub listen: SocketAddr,
    /// Where its `/metrics` listens.
    pub metrics: SocketAddr,
}

impl ClusterPlan {
    /// `count` replicas on consecutive loopback ports from `first_port`, each with its
    /// `/metrics` [`METRICS_OFFSET`] ports above.
    pub fn new(
        public: SocketAddr,
        stats: SocketAddr,
        redis: SocketAddr,
        count: usize,
        first_port: u16,
    ) -> Self {
        let replicas = (0..count)
            .filter_map(|i| {
                let port = first_port.checked_add(u16::try_from(i).ok()?)?;
                Some(Replica {
                    name: format!("api-{}", i + 1),
                    listen: loopback(port),
                    metrics: loopback(port.checked_add(METRICS_OFFSET)?),
                })
            })
            .collect();
        Self {
            public,
            stats,
            redis,
            replicas,
            drain: Duration::from_secs(DEFAULT_DRAIN_SECS),
        }
    }

    /// The plan from the environment: `CLUSTER_REPLICAS` (default 3), `API_HOST`/`API_PORT`
    /// for HAProxy (the API's public address, default 127.0.0.1:3001),
    /// `CLUSTER_REPLICA_PORT` (the first replica's, default 3101), `CLUSTER_STATS_PORT`
    /// (3100) and `CLUSTER_REDIS_PORT` (6390); `API_SHUTDOWN_DRAIN_SECS` (default
    /// [`DEFAULT_DRAIN_SECS`]).
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let count = match env("CLUSTER_REPLICAS") {
            None => DEFAULT_REPLICAS,
            Some(value) => value
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_REPLICAS).contains(n))
                .ok_or_else(|| {
                    ConfigError::new(
                        "CLUSTER_REPLICAS",
                        format!("{value:?} is not a number from 1 to {MAX_REPLICAS}"),
                        "use the number of API replicas to run, e.g. 3",
                    )
                })?,
        };
        let public = app_config::listen_addr("API", 3001, &env)?;
        let port = |key: &str, default: u16| -> Result<u16, ConfigError> {
            match env(key) {
                None => Ok(default),
                Some(value) => value
                    .trim()
                    .parse()
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or_else(|| {
                        ConfigError::new(
                            key,
                            format!("{value:?} is not a port number"),
                            "use a number from 1 to 65535",
                        )
                    }),
            }
        };
        let first = port("CLUSTER_REPLICA_PORT", 3101)?;
        let stats = port("CLUSTER_STATS_PORT", 3100)?;
        let redis = port("CLUSTER_REDIS_PORT", 6390)?;
        let last_metrics = usize::from(first) + count - 1 + usize::from(METRICS_OFFSET);
        if last_metrics > usize::from(u16::MAX) {
            return Err(ConfigError::new(
                "CLUSTER_REPLICA_PORT",
                format!(
                    "{first} leaves no room for {count} replicas and their /metrics ports \
                     ({METRICS_OFFSET} above each)"
                ),
                "use a lower port, such as 3101",
            ));
        }
        let drain = match env("API_SHUTDOWN_DRAIN_SECS") {
            None => DEFAULT_DRAIN_SECS,
            Some(value) => value.trim().parse().map_err(|_| {
                ConfigError::new(
                    "API_SHUTDOWN_DRAIN_SECS",
                    format!("{value:?} is not a number of seconds"),
                    format!(
                        "use more than HAProxy's 2 s detection time, e.g. {DEFAULT_DRAIN_SECS}"
                    ),
                )
            })?,
        };
        Ok(Self {
            drain: Duration::from_secs(drain),
            ..Self::new(public, loopback(stats), loopback(redis), count, first)
        })
    }

    /// `redis://host:port`, the replicas' `API_REPLAY_STORE`.
    pub fn redis_url(&self) -> String {
        format!("redis://{}", self.redis)
    }

    /// Every address the cluster listens on, named, for the check that they are free.
    pub fn addresses(&self) -> Vec<(String, SocketAddr)> {
        let mut list = vec![
            ("HAProxy".to_owned(), self.public),
            ("HAProxy's statistics page".to_owned(), self.stats),
            ("Redis".to_owned(), self.redis),
        ];
        for replica in &self.replicas {
            list.push((replica.name.clone(), replica.listen));
            list.push((format!("{}'s /metrics", replica.name), replica.metrics));
        }
        list
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)
}

/// What the template lacks for [`haproxy_config`] to fill it in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{HAPROXY_TEMPLATE} has no {0}; restore it from the repository")]
pub struct TemplateError(&'static str);

/// HAProxy's configuration for `plan`: `template` (the repository's
/// [`HAPROXY_TEMPLATE`]) with the `bind` line of `frontend api` set to the public address, the
/// one of `frontend stats` to the statistics page, and the `server` lines of `backend api`
/// replaced by one line per replica, shaped like the template's first one (whatever follows
/// its address is kept). Every other line is kept as written.
pub fn haproxy_config(template: &str, plan: &ClusterPlan) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(template.len() + 64 * plan.replicas.len());
    let mut section = String::new();
    let (mut public_bind, mut stats_bind, mut servers) = (false, false, false);
    for line in template.lines() {
        let trimmed = line.trim_start();
        let indent = &line[..line.len() - trimmed.len()];
        if indent.is_empty() && !trimmed.is_empty() && !trimmed.starts_with('#') {
            section = trimmed.split_whitespace().collect::<Vec<_>>().join(" ");
        }
        let mut words = trimmed.split_whitespace();
        match (section.as_str(), words.next()) {
            ("frontend api", Some("bind")) => {
                public_bind = true;
                out.push_str(&format!("{indent}bind {}\n", plan.public));
            }
            ("frontend stats", Some("bind")) => {
                stats_bind = true;
                out.push_str(&format!("{indent}bind {}\n", plan.stats));
            }
            ("backend api", Some("server")) => {
                if !servers {
                    servers = true;
                    // The name and address are ours; any options after them are the file's.
                    let options: Vec<&str> = words.skip(2).collect();
                    for replica in &plan.replicas {
                        out.push_str(&format!(
                            "{indent}server {} {}",
                            replica.name, replica.listen
                        ));
                        for option in &options {
                            out.push(' ');
                            out.push_str(option);
                        }
                        out.push('\n');
                    }
                }
            }
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    match (public_bind, stats_bind, servers) {
        (false, _, _) => Err(TemplateError("`bind` line in `frontend api`")),
        (_, false, _) => Err(TemplateError("`bind` line in `frontend stats`")),
        (_, _, false) => Err(TemplateError("`server` line in `backend api`")),
        _ => Ok(out),
    }
}

/// The programs a cluster runs.
#[derive(Debug, Clone)]
pub struct Programs {
    /// The `api` binary (built next to the dev-runner).
    pub api: PathBuf,
    /// Debian's `redis-server`.
    pub redis: PathBuf,
    /// Debian's `haproxy`.
    pub haproxy: PathBuf,
}

/// What every replica shares besides the store.
#[derive(Debug, Clone)]
pub struct Shared {
    /// The API's public origin (`apiOrigin`, HAProxy's address as the browser writes it):
    /// every replica checks a DPoP proof's `htu` against it.
    pub origin: String,
    /// `API_DPOP_NONCE_SECRET`: a nonce one replica issues is accepted by all.
    pub nonce_secret: String,
}

/// Redis, the replicas and HAProxy, in start order, as the development loop runs them.
///
/// `dir` holds the cluster's files (`target/cluster/`): Redis's append-only file under
/// `redis/`, and the configurations the caller writes: Redis's ([`redis_config`]) to
/// [`redis_config_path`], whose change restarts Redis (`touch` it to start a stopped Redis
/// again), and HAProxy's to [`haproxy_config_path`]. `reads` are the files every replica reads at start (the configuration), whose change
/// restarts them. Variables the user set win over the defaults here for `API_DPOP_NONCE` and
/// `API_REPLAY_STORE`; the origin, the secret and the drain are always the shared ones.
pub fn cluster_servers(
    plan: &ClusterPlan,
    programs: &Programs,
    dir: &Path,
    shared: &Shared,
    reads: &[PathBuf],
    env: impl Fn(&str) -> Option<String>,
) -> Vec<Server> {
    let redis = ChildSpec::new("redis", &programs.redis)
        .arg(redis_config_path(dir))
        .ready_when_listening(plan.redis);
    let mut servers = vec![Server {
        spec: redis,
        reads: vec![redis_config_path(dir)],
        rotation: None,
    }];
    let nonces = env("API_DPOP_NONCE").unwrap_or_else(|| "1".to_owned());
    // `API_REPLAY_STORE=memory` shows what the shared store prevents (docs/cluster.md).
    let store = env("API_REPLAY_STORE").unwrap_or_else(|| plan.redis_url());
    for replica in &plan.replicas {
        let spec = ChildSpec::new(replica.name.clone(), &programs.api)
            .env("API_HOST", replica.listen.ip().to_string())
            .env("API_PORT", replica.listen.port().to_string())
            .env("API_METRICS_ADDR", replica.metrics.to_string())
            .env("API_ORIGIN", &shared.origin)
            .env("API_REPLAY_STORE", &store)
            .env("API_DPOP_NONCE", &nonces)
            .env("API_DPOP_NONCE_SECRET", &shared.nonce_secret)
            .env("API_SHUTDOWN_DRAIN_SECS", plan.drain.as_secs().to_string())
            .hide_lines_containing(HEALTH_CHECK_LINES[0])
            .hide_lines_containing(HEALTH_CHECK_LINES[1])
            .ready_when_listening(replica.listen);
        servers.push(Server {
            spec,
            reads: reads.to_vec(),
            rotation: Some(Rotation {
                replica: replica.listen,
                stats: plan.stats,
                backend: BACKEND.to_owned(),
                server: replica.name.clone(),
                drain: plan.drain,
            }),
        });
    }
    let haproxy = ChildSpec::new("haproxy", &programs.haproxy)
        // In the foreground, configuration from the file written for this run.
        .arg("-db")
        .arg("-f")
        .arg(haproxy_config_path(dir))
        .hide_lines_containing(HAPROXY_STATE_WARNING)
        .ready_when_listening(plan.public);
    servers.push(Server {
        spec: haproxy,
        reads: Vec::new(),
        rotation: None,
    });
    servers
}

/// Where the cluster's HAProxy configuration is written.
pub fn haproxy_config_path(dir: &Path) -> PathBuf {
    dir.join("haproxy.cfg")
}

/// Where the cluster's Redis configuration is written.
pub fn redis_config_path(dir: &Path) -> PathBuf {
    dir.join("redis.conf")
}

/// The configuration of Debian's `redis-server` for the cluster: on `addr` only, in the
/// foreground, logging to standard output, persisting with an append-only file in `data` (no
/// snapshots), so the proofs recorded before a restart are still refused after it.
pub fn redis_config(addr: SocketAddr, data: &Path) -> String {
    let data = data
        .display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"");
    format!(
        "# Written by the dev-runner for `cargo make cluster`; touch it to restart Redis.\n\
         bind {}\nport {}\ndaemonize no\nprotected-mode yes\nappendonly yes\nsave \"\"\n\
         logfile \"\"\ndir \"{data}\"\n",
        addr.ip(),
        addr.port()
    )
}

/// A fresh `API_DPOP_NONCE_SECRET`: 32 random bytes from the kernel, as 64 hexadecimal
/// characters.
pub fn nonce_secret() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0_u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// `name` on `PATH`, or in the system folders Debian installs daemons to (`/usr/sbin` is not
/// on an ordinary user's `PATH`, and that is where `haproxy` lives).
pub fn find_program(name: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    let dirs = path
        .map(|p| std::env::split_paths(p).collect::<Vec<_>>())
        .unwrap_or_default();
    dirs.into_iter()
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests;
