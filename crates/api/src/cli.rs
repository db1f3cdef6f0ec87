//! The `api` binary's settings: flags and environment variables (clap), the secrets read from
//! the environment or a file only, and `auth_config.json` (`app_config`), turned into
//! [`Settings`].
//!
//! In the library rather than in `main.rs` so that tooling can enumerate every variable the
//! binary reads ([`env_names`]: a deployment check compares it with what a manifest sets) and
//! tests can check the rules without starting a process.
//!
//! Secrets never come from a flag: a command line is visible to every user of the machine
//! (`ps`). The DPoP nonce secret is read from `API_DPOP_NONCE_SECRET` or from the file named by
//! `API_DPOP_NONCE_SECRET_FILE` (a mounted secret), never both.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::Duration;

use app_config::ConfigError;
use clap::{CommandFactory as _, Parser};

use crate::Settings;
use crate::replay_store::ReplayStoreKind;
use crate::telemetry::LogFormat;

/// The variable holding the DPoP nonce secret itself.
pub const NONCE_SECRET_VAR: &str = "API_DPOP_NONCE_SECRET";
/// The variable naming a file that holds the DPoP nonce secret.
pub const NONCE_SECRET_FILE_VAR: &str = "API_DPOP_NONCE_SECRET_FILE";

/// Variables read outside clap: the secrets, and the log filter.
const OTHER_VARS: [&str; 3] = [NONCE_SECRET_VAR, NONCE_SECRET_FILE_VAR, "RUST_LOG"];

/// The shortest nonce secret accepted, in bytes.
const MIN_SECRET_BYTES: usize = 32;
/// The fewest distinct bytes a nonce secret must contain: a random string of 32 characters has
/// about 15 (hex) to 25 (base64); a word repeated or a keyboard run has far fewer.
const MIN_DISTINCT_SECRET_BYTES: usize = 10;

/// The protected API of the SPA + API workspace.
#[derive(Debug, Parser)]
#[command(name = "api", version, about)]
pub struct Cli {
    /// Address to listen on (IP address or `localhost`; default 127.0.0.1).
    #[arg(long, env = "API_HOST")]
    pub host: Option<String>,
    /// Port to listen on (default 3001; 0 picks a free one).
    #[arg(long, env = "API_PORT")]
    pub port: Option<String>,
    /// DPoP mode: `allowed` (Bearer for unbound tokens, DPoP for bound ones), `required`
    /// (DPoP only) or `off` (Bearer only).
    #[arg(long = "dpop", env = "API_DPOP", default_value = "allowed")]
    pub dpop: String,
    /// `1` turns DPoP server nonces on, `0` (default) off. The secret they are derived from
    /// comes from the environment only: `API_DPOP_NONCE_SECRET`, or a file named by
    /// `API_DPOP_NONCE_SECRET_FILE` (default: random per process).
    #[arg(long = "dpop-nonce", env = "API_DPOP_NONCE", default_value = "0")]
    pub dpop_nonce: String,
    /// How many DPoP proofs the replay store holds (default 1000000; sizing in docs/dpop.md).
    #[arg(long = "dpop-replay-capacity", env = "API_DPOP_REPLAY_CAPACITY")]
    pub dpop_replay_capacity: Option<String>,
    /// How many DPoP proofs one proof key (`jkt`) may have in the replay store at once; beyond,
    /// that client gets 429 until its oldest proof expires (default 10000).
    #[arg(long = "dpop-replay-per-key", env = "API_DPOP_REPLAY_PER_KEY")]
    pub dpop_replay_per_key: Option<String>,
    /// Where used DPoP proofs are recorded: `memory` (default; this process) or
    /// `redis://[user:pass@]host:port[/db]` (shared by every replica). With a password, prefer
    /// the environment variable: a command line is visible in `ps`.
    #[arg(
        long = "replay-store",
        env = "API_REPLAY_STORE",
        hide_env_values = true
    )]
    pub replay_store: Option<String>,
    /// The longest a DPoP request waits for a shared replay store, in milliseconds (default
    /// 250); then it gets 503 with `Retry-After`.
    #[arg(long = "replay-store-timeout-ms", env = "API_REPLAY_STORE_TIMEOUT_MS")]
    pub replay_store_timeout_ms: Option<String>,
    /// On SIGTERM/SIGINT: for how many seconds `/readyz` answers 503 while requests are still
    /// served, before the graceful stop (default 0; at most 3600).
    #[arg(long = "shutdown-drain-secs", env = "API_SHUTDOWN_DRAIN_SECS")]
    pub shutdown_drain_secs: Option<String>,
    /// Log lines: `text` (default) or `json` (one JSON object a line, with request ids).
    #[arg(long = "log-format", env = "API_LOG_FORMAT", default_value = "text")]
    pub log_format: String,
    /// Address of the `/metrics` listener, `IP:port` (default 127.0.0.1:9464; port 0 picks a
    /// free one), or `off`.
    #[arg(long, env = "API_METRICS_ADDR")]
    pub metrics_addr: Option<String>,
    /// Host names the metrics listener answers besides `localhost` and IP address literals,
    /// comma-separated (e.g. a Service's DNS name Prometheus scrapes by name); others get 421.
    #[arg(long, env = "API_METRICS_HOSTS")]
    pub metrics_hosts: Option<String>,
}

/// Every environment variable the `api` binary reads: its flags' variables, the shared
/// configuration's (`app_config::ENV_VARS`), the secrets and `RUST_LOG`. Sorted, no repeats.
pub fn env_names() -> Vec<&'static str> {
    static COMMAND: OnceLock<clap::Command> = OnceLock::new();
    let command = COMMAND.get_or_init(Cli::command);
    let mut names: Vec<&'static str> = command
        .get_arguments()
        .filter_map(|arg| arg.get_env())
        .filter_map(|name| name.to_str())
        .chain(app_config::ENV_VARS.iter().copied())
        .chain(OTHER_VARS)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

/// Settings resolved from the command line and the environment, plus the warnings to log once
/// logging is set up (a setting that is allowed but probably not what the operator meant).
#[derive(Debug)]
pub struct Resolved {
    /// What to start.
    pub settings: Settings,
    /// One line each, naming the setting.
    pub warnings: Vec<String>,
    /// How log lines are written (`API_LOG_FORMAT`).
    pub log_format: LogFormat,
}

impl Cli {
    /// Parses the command line (and the variables clap reads); `--help` and `--version` print
    /// and exit 0, a bad flag is one line on stderr and exit code 2.
    pub fn parse_or_exit() -> Self {
        match Self::try_parse() {
            Ok(cli) => cli,
            Err(err) if !err.use_stderr() => err.exit(), // --help, --version
            Err(err) => {
                let text = err.to_string();
                let line = text.lines().next().unwrap_or("invalid arguments");
                app_config::exit_on_config_error(&line.trim_start_matches("error: "))
            }
        }
    }

    /// Resolves every setting against the process environment and the configuration file.
    pub fn resolve(&self) -> Result<Resolved, ConfigError> {
        let env = |key: &str| std::env::var(key).ok();
        let config = app_config::AuthConfig::from_env_fn(env)?;
        self.resolve_with(config, &env)
    }

    /// Resolves the settings with `config` loaded and `env` standing in for the environment
    /// (read here only for the secrets, which have no flag).
    pub fn resolve_with(
        &self,
        config: app_config::AuthConfig,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Resolved, ConfigError> {
        let listen = app_config::listen_addr("API", 3001, |key| match key {
            "API_HOST" => self.host.clone(),
            "API_PORT" => self.port.clone(),
            _ => None,
        })?;
        let mut settings = Settings::new(listen, config);
        settings.metrics_listen = metrics_addr(self.metrics_addr.as_deref())?;
        settings.metrics_hosts = metrics_hosts(self.metrics_hosts.as_deref())?;
        if let Some(secs) = &self.shutdown_drain_secs {
            let fix = "use a number of seconds from 0 to 3600, longer than the load balancer needs to see /readyz fail";
            let secs: u64 = secs
                .trim()
                .parse()
                .ok()
                .filter(|s| *s <= 3600)
                .ok_or_else(|| {
                    ConfigError::new(
                        "API_SHUTDOWN_DRAIN_SECS",
                        format!("{secs:?} is not a number of seconds from 0 to 3600"),
                        fix,
                    )
                })?;
            settings.shutdown_drain = Duration::from_secs(secs);
        }
        let log_format = self.log_format.parse().map_err(|problem: String| {
            ConfigError::new("API_LOG_FORMAT", problem, "use text or json")
        })?;
        let mut warnings = Vec::new();
        self.dpop_settings(&mut settings, env, &mut warnings)?;
        Ok(Resolved {
            settings,
            warnings,
            log_format,
        })
    }

    /// `API_DPOP`, `API_DPOP_NONCE`, the nonce secret, `API_DPOP_REPLAY_CAPACITY`.
    fn dpop_settings(
        &self,
        settings: &mut Settings,
        env: &dyn Fn(&str) -> Option<String>,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        settings.dpop_mode = self.dpop.parse().map_err(|problem: String| {
            ConfigError::new("API_DPOP", problem, "use allowed, required or off")
        })?;
        let nonces = match self.dpop_nonce.trim() {
            "1" | "true" => true,
            "0" | "false" => false,
            other => {
                return Err(ConfigError::new(
                    "API_DPOP_NONCE",
                    format!("{other:?} is not 0 or 1"),
                    "use 1 to turn DPoP server nonces on, 0 to leave them off",
                ));
            }
        };
        if let Some(store) = &self.replay_store {
            settings.replay_store = ReplayStoreKind::parse(store)?;
        }
        if let Some(timeout) = &self.replay_store_timeout_ms {
            let millis = positive(
                timeout,
                "API_REPLAY_STORE_TIMEOUT_MS",
                "use a number of milliseconds between 1 and 10000, e.g. 250",
            )?;
            if millis > 10_000 {
                return Err(ConfigError::new(
                    "API_REPLAY_STORE_TIMEOUT_MS",
                    format!("{millis} ms is longer than 10 s"),
                    "use a number of milliseconds between 1 and 10000, e.g. 250",
                ));
            }
            settings.replay_store_timeout = Duration::from_millis(millis as u64);
        }
        let secret = nonce_secret(env)?;
        if nonces && secret.is_none() && settings.replay_store.is_shared() {
            return Err(ConfigError::new(
                NONCE_SECRET_VAR,
                "is required when DPoP nonces are on (API_DPOP_NONCE=1) with a shared replay store (API_REPLAY_STORE=redis://...)",
                format!(
                    "set {NONCE_SECRET_VAR} (or {NONCE_SECRET_FILE_VAR}) to the same random secret of at least 32 characters on every replica"
                ),
            ));
        }
        match (nonces, secret) {
            (true, secret) => {
                let mut nonce = auth::dpop::NonceSettings::random();
                match secret {
                    Some(secret) => nonce.secret = secret,
                    None => warnings.push(format!(
                        "DPoP nonces use a random secret of this process: replicas behind one \
                         load balancer would refuse each other's nonces; set {NONCE_SECRET_VAR} \
                         (or {NONCE_SECRET_FILE_VAR}) to the same secret on every replica"
                    )),
                }
                settings.dpop.nonce = Some(nonce);
            }
            (false, Some(_)) => warnings.push(format!(
                "{NONCE_SECRET_VAR} is set but DPoP nonces are off (API_DPOP_NONCE=0): the \
                 secret is unused; set API_DPOP_NONCE=1 to use it, or remove the secret"
            )),
            (false, None) => {}
        }
        let bounds = [
            (
                &self.dpop_replay_capacity,
                &mut settings.dpop.replay_capacity,
                "API_DPOP_REPLAY_CAPACITY",
                "use the number of DPoP proofs to remember, e.g. 1000000",
            ),
            (
                &self.dpop_replay_per_key,
                &mut settings.dpop.replay_per_key,
                "API_DPOP_REPLAY_PER_KEY",
                "use the number of DPoP proofs one client key may hold at once, e.g. 10000",
            ),
        ];
        for (value, bound, setting, fix) in bounds {
            if let Some(value) = value {
                *bound = positive(value, setting, fix)?;
            }
        }
        Ok(())
    }
}

/// A positive whole number, or an error naming `setting`.
fn positive(value: &str, setting: &str, fix: &str) -> Result<usize, ConfigError> {
    value.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
        ConfigError::new(setting, format!("{value:?} is not a positive number"), fix)
    })
}

/// The nonce secret from `API_DPOP_NONCE_SECRET` or the file `API_DPOP_NONCE_SECRET_FILE`
/// names (a trailing line break in the file is not part of it), checked for strength.
fn nonce_secret(env: &dyn Fn(&str) -> Option<String>) -> Result<Option<Vec<u8>>, ConfigError> {
    let inline = env(NONCE_SECRET_VAR).filter(|s| !s.is_empty());
    let file = env(NONCE_SECRET_FILE_VAR).filter(|s| !s.trim().is_empty());
    let (secret, setting) = match (inline, file) {
        (None, None) => return Ok(None),
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                NONCE_SECRET_VAR,
                format!("both {NONCE_SECRET_VAR} and {NONCE_SECRET_FILE_VAR} are set"),
                "set one of them",
            ));
        }
        (Some(secret), None) => (secret.into_bytes(), NONCE_SECRET_VAR),
        (None, Some(path)) => {
            let mut bytes = std::fs::read(path.trim()).map_err(|e| {
                ConfigError::new(
                    NONCE_SECRET_FILE_VAR,
                    format!("cannot read {:?}: {e}", path.trim()),
                    "name a readable file that holds the secret",
                )
            })?;
            while bytes.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                bytes.pop();
            }
            (bytes, NONCE_SECRET_FILE_VAR)
        }
    };
    check_secret_strength(&secret).map_err(|problem| {
        ConfigError::new(
            setting,
            problem,
            "use a random string of at least 32 characters, the same on every replica, e.g. the output of `openssl rand -base64 32`",
        )
    })?;
    Ok(Some(secret))
}

/// Refuses a secret that is obviously guessable: too short, or made of too few distinct bytes
/// (one character repeated, a short word repeated). The problem text never shows the secret.
pub fn check_secret_strength(secret: &[u8]) -> Result<(), String> {
    if secret.len() < MIN_SECRET_BYTES {
        return Err(format!(
            "is shorter than {MIN_SECRET_BYTES} bytes ({} given)",
            secret.len()
        ));
    }
    let mut seen = [false; 256];
    for byte in secret {
        seen[usize::from(*byte)] = true;
    }
    let distinct = seen.iter().filter(|s| **s).count();
    if distinct < MIN_DISTINCT_SECRET_BYTES {
        return Err(format!(
            "is too weak: {distinct} distinct characters (at least {MIN_DISTINCT_SECRET_BYTES} needed)"
        ));
    }
    Ok(())
}

/// `API_METRICS_HOSTS`: comma-separated host names (no scheme, port or path), blanks ignored.
fn metrics_hosts(value: Option<&str>) -> Result<Vec<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    value
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(|name| {
            let plain = url::Url::parse(&format!("http://{name}/"))
                .ok()
                .and_then(|u| u.domain().map(str::to_owned))
                .is_some_and(|domain| domain.eq_ignore_ascii_case(name.trim_end_matches('.')));
            if plain {
                Ok(name.to_owned())
            } else {
                Err(ConfigError::new(
                    "API_METRICS_HOSTS",
                    format!("{name:?} is not a host name"),
                    "list host names only, comma-separated, e.g. api-metrics.monitoring.svc (no scheme, port or path; addresses are always answered)",
                ))
            }
        })
        .collect()
}

/// `API_METRICS_ADDR`: `IP:port` (`localhost:port` too), or `off` to serve no metrics.
fn metrics_addr(value: Option<&str>) -> Result<Option<SocketAddr>, ConfigError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(Some(crate::startup::DEFAULT_METRICS_ADDR));
    };
    if value.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let loopback = value
        .strip_prefix("localhost:")
        .map(|port| format!("127.0.0.1:{port}"));
    loopback
        .as_deref()
        .unwrap_or(value)
        .parse()
        .map(Some)
        .map_err(|_| {
            ConfigError::new(
                "API_METRICS_ADDR",
                format!("{value:?} is not an IP address with a port"),
                "use an address such as 127.0.0.1:9464 (port 0 picks a free one), or off",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_list_flags_config_and_secrets() {
        let names = env_names();
        for expected in [
            "API_HOST",
            "API_PORT",
            "API_DPOP",
            "API_DPOP_NONCE",
            "API_DPOP_REPLAY_CAPACITY",
            "API_METRICS_ADDR",
            "API_METRICS_HOSTS",
            "API_REPLAY_STORE",
            "API_REPLAY_STORE_TIMEOUT_MS",
            "API_DPOP_REPLAY_PER_KEY",
            "API_SHUTDOWN_DRAIN_SECS",
            "API_LOG_FORMAT",
            "AUTH_CONFIG",
            "AUTH0_DOMAIN",
            "API_ORIGIN",
            NONCE_SECRET_VAR,
            NONCE_SECRET_FILE_VAR,
            "RUST_LOG",
        ] {
            assert!(
                names.contains(&expected),
                "{expected} missing from {names:?}"
            );
        }
        let mut sorted = names.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(names, sorted);
    }

    #[test]
    fn api_metrics_hosts_are_host_names_and_anything_else_is_refused_naming_the_setting() {
        assert_eq!(
            metrics_hosts(Some(" api-metrics.monitoring.svc, ,metrics.example ")).ok(),
            Some(vec![
                "api-metrics.monitoring.svc".to_owned(),
                "metrics.example".to_owned()
            ])
        );
        for bad in [
            "https://metrics.example",
            "metrics.example:9464",
            "metrics.example/x",
        ] {
            let err = metrics_hosts(Some(bad)).expect_err(bad);
            assert!(err.to_string().contains("API_METRICS_HOSTS"), "{err}");
        }
    }

    #[test]
    fn the_nonce_secret_has_no_flag() {
        let command = Cli::command();
        assert!(
            command
                .get_arguments()
                .all(|arg| arg.get_env().and_then(|e| e.to_str()) != Some(NONCE_SECRET_VAR)),
            "a secret on the command line is visible in ps"
        );
        assert!(
            Cli::try_parse_from(["api", "--dpop-nonce-secret", "x"]).is_err(),
            "the flag must not exist"
        );
    }

    #[test]
    fn a_secret_of_one_repeated_character_is_refused() {
        let problem = check_secret_strength(&[b'a'; 64]).expect_err("weak");
        assert_eq!(
            problem,
            "is too weak: 1 distinct characters (at least 10 needed)"
        );
    }

    #[test]
    fn a_secret_with_few_distinct_bytes_is_refused() {
        assert!(check_secret_strength(b"abcabcabcabcabcabcabcabcabcabcabcabc").is_err());
    }

    #[test]
    fn a_short_secret_is_refused() {
        assert_eq!(
            check_secret_strength(b"0123456789abcdef"),
            Err("is shorter than 32 bytes (16 given)".to_owned())
        );
    }

    #[test]
    fn a_random_looking_secret_is_accepted() {
        assert_eq!(
            check_secret_strength(b"q4Yc1Zr8mP0vX7tL2sN9bK6wH3jF5dGa"),
            Ok(())
        );
    }
}
