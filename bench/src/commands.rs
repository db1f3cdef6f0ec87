//! The command lines of the processes a run starts: the dev issuer, and each server under test
//! pointed at it, on loopback ports the runner picked.

use std::path::Path;
use std::process::Command;

use crate::layout::Layout;
use crate::options::ServerKind;

/// The audience every server checks and every token carries (the dev default).
pub const AUDIENCE: &str = "https://api.local.test";

/// The dev issuer on `port`, issuing for `origin`, with its `/dev/` hooks on.
pub fn issuer(layout: &Layout, origin: &str, port: u16) -> Command {
    let mut cmd = Command::new(layout.release_bin("dev-issuer"));
    cmd.current_dir(&layout.root)
        .env("AUTH_CONFIG", layout.root.join("auth_config.json"))
        .env("AUTH0_DOMAIN", origin)
        .env("AUTH0_AUDIENCE", AUDIENCE)
        .env("ISSUER_HOST", "127.0.0.1")
        .env("ISSUER_PORT", port.to_string())
        .env("ISSUER_DEV_ENDPOINTS", "1")
        // Its own keys, so that a `cargo make dev` session's key file is left alone.
        .env("ISSUER_KEY_FILE", layout.out.join("dev-issuer-keys.json"))
        .env_remove("RUST_LOG");
    cmd
}

/// The release binary of the `jwt-authorizer` peer (`bench/peers/jwt-authorizer`, built into
/// the same target dir).
pub const JWT_AUTHORIZER_BIN: &str = "bench-jwt-authorizer";

/// The command that starts `kind` on `port`, trusting the issuer at `issuer_origin`. `node` is
/// the Node.js executable, needed only for the Express peers.
pub fn server(
    layout: &Layout,
    kind: ServerKind,
    node: Option<&Path>,
    issuer_origin: &str,
    port: u16,
) -> Command {
    let port = port.to_string();
    let node_script = |script: &str| {
        let mut c = Command::new(node.unwrap_or(Path::new("node")));
        c.arg(layout.bench.join(script));
        c
    };
    let mut cmd = match kind {
        ServerKind::Calibration => {
            let mut c = Command::new(layout.release_bin("calibration"));
            c.env("CALIBRATION_HOST", "127.0.0.1")
                .env("CALIBRATION_PORT", &port);
            c
        }
        ServerKind::Ours | ServerKind::OursRedis => {
            let mut c = Command::new(layout.release_bin("api"));
            c.env("API_HOST", "127.0.0.1")
                .env("API_PORT", &port)
                .env("AUTH_CONFIG", layout.root.join("auth_config.json"));
            c
        }
        ServerKind::ExpressSeed => node_script("express-seed.js"),
        ServerKind::ExpressOauth2 => node_script("express-oauth2.js"),
        ServerKind::JwtAuthorizer => Command::new(layout.release_bin(JWT_AUTHORIZER_BIN)),
    };
    if kind.is_peer() {
        cmd.env("HOST", "127.0.0.1").env("PORT", &port);
    }
    // Default logging for ours: RUST_LOG unset means `info`, as a user would run it.
    cmd.current_dir(&layout.root)
        .env("AUTH0_DOMAIN", issuer_origin)
        .env("AUTH0_AUDIENCE", AUDIENCE)
        .env_remove("RUST_LOG");
    cmd
}

/// Debian's `redis-server` on loopback `port`, in the foreground, persisting as `cargo make
/// cluster`'s does (an append-only file, fsync once a second, no snapshots) in `dir`.
pub fn redis(program: &Path, port: u16, dir: &Path) -> Command {
    let mut c = Command::new(program);
    c.args(["--bind", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--daemonize", "no", "--appendonly", "yes", "--save", ""])
        .arg("--dir")
        .arg(dir);
    c
}

/// The request that tells `kind` is up, and the status it answers then: ours says when its
/// keys are loaded; the peers load theirs on the first token, so their public route (or a
/// refusal, for the Express peers, which have none) is enough.
pub fn readiness(kind: ServerKind) -> (&'static str, u16) {
    match kind {
        ServerKind::Calibration | ServerKind::JwtAuthorizer => ("/api/public", 200),
        ServerKind::Ours | ServerKind::OursRedis => ("/readyz", 200),
        ServerKind::ExpressSeed | ServerKind::ExpressOauth2 => ("/api/external", 401),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(cmd: &Command, key: &str) -> Option<String> {
        cmd.get_envs()
            .find(|(k, _)| *k == key)
            .and_then(|(_, v)| v.map(|v| v.to_string_lossy().into_owned()))
    }

    #[test]
    fn every_server_listens_on_loopback_at_the_given_port() {
        let layout = Layout::new(Some("/tmp/bench-out".into()));
        for (kind, host, port) in [
            (
                ServerKind::Calibration,
                "CALIBRATION_HOST",
                "CALIBRATION_PORT",
            ),
            (ServerKind::Ours, "API_HOST", "API_PORT"),
            (ServerKind::OursRedis, "API_HOST", "API_PORT"),
            (ServerKind::ExpressSeed, "HOST", "PORT"),
            (ServerKind::ExpressOauth2, "HOST", "PORT"),
            (ServerKind::JwtAuthorizer, "HOST", "PORT"),
        ] {
            let cmd = server(&layout, kind, None, "http://127.0.0.1:9", 4242);
            let [host, port, issuer] = [host, port, "AUTH0_DOMAIN"].map(|k| env_of(&cmd, k));
            assert_eq!(
                (host.as_deref(), port.as_deref(), issuer.as_deref()),
                (Some("127.0.0.1"), Some("4242"), Some("http://127.0.0.1:9")),
                "{kind:?}"
            );
        }
    }

    #[test]
    fn redis_listens_on_loopback_only_with_an_append_only_file_in_the_given_folder() {
        let cmd = redis(
            Path::new("/usr/bin/redis-server"),
            4243,
            Path::new("/tmp/r"),
        );
        let args: Vec<String> = cmd
            .get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            args,
            [
                "--bind",
                "127.0.0.1",
                "--port",
                "4243",
                "--daemonize",
                "no",
                "--appendonly",
                "yes",
                "--save",
                "",
                "--dir",
                "/tmp/r"
            ]
        );
    }

    #[test]
    fn servers_run_with_default_logging() {
        let layout = Layout::new(None);
        let cmd = server(&layout, ServerKind::Ours, None, "http://127.0.0.1:9", 1);
        assert!(
            cmd.get_envs().any(|(k, v)| k == "RUST_LOG" && v.is_none()),
            "RUST_LOG must be removed, not inherited"
        );
    }
}
