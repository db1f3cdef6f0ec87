//! The cluster plan, HAProxy's configuration and the children's command lines, as values.

use super::*;
use std::collections::HashMap;
use std::ffi::OsString;

const TEMPLATE: &str = include_str!("../../../../deploy/haproxy/haproxy.cfg");

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |key| map.get(key).cloned()
}

fn addr(text: &str) -> SocketAddr {
    text.parse().expect("a socket address")
}

#[test]
fn the_default_plan_is_haproxy_on_3001_three_replicas_from_3101_and_redis_on_6390() {
    let plan = ClusterPlan::from_env(env(&[])).expect("defaults");
    assert_eq!(plan.public, addr("127.0.0.1:3001"));
    assert_eq!(plan.stats, addr("127.0.0.1:3100"));
    assert_eq!(plan.redis, addr("127.0.0.1:6390"));
    let replicas: Vec<(&str, SocketAddr, SocketAddr)> = plan
        .replicas
        .iter()
        .map(|r| (r.name.as_str(), r.listen, r.metrics))
        .collect();
    assert_eq!(
        replicas,
        [
            ("api-1", addr("127.0.0.1:3101"), addr("127.0.0.1:3201")),
            ("api-2", addr("127.0.0.1:3102"), addr("127.0.0.1:3202")),
            ("api-3", addr("127.0.0.1:3103"), addr("127.0.0.1:3203")),
        ]
    );
    assert_eq!(plan.redis_url(), "redis://127.0.0.1:6390");
}

#[test]
fn cluster_replicas_sets_how_many_replicas_run() {
    let plan = ClusterPlan::from_env(env(&[("CLUSTER_REPLICAS", "5")])).expect("valid");
    assert_eq!(plan.replicas.len(), 5);
    assert_eq!(plan.replicas[4].name, "api-5");
    assert_eq!(plan.replicas[4].listen, addr("127.0.0.1:3105"));
}

#[test]
fn every_port_can_be_moved_for_tests() {
    let plan = ClusterPlan::from_env(env(&[
        ("API_PORT", "40001"),
        ("CLUSTER_REPLICA_PORT", "40101"),
        ("CLUSTER_STATS_PORT", "40100"),
        ("CLUSTER_REDIS_PORT", "40390"),
        ("CLUSTER_REPLICAS", "2"),
    ]))
    .expect("valid");
    assert_eq!(plan.public, addr("127.0.0.1:40001"));
    assert_eq!(plan.stats, addr("127.0.0.1:40100"));
    assert_eq!(plan.redis, addr("127.0.0.1:40390"));
    assert_eq!(plan.replicas[1].listen, addr("127.0.0.1:40102"));
    assert_eq!(plan.replicas[1].metrics, addr("127.0.0.1:40202"));
}

#[test]
fn a_replica_count_outside_1_to_16_is_refused_naming_cluster_replicas() {
    for bad in ["0", "17", "three", ""] {
        let err = ClusterPlan::from_env(env(&[("CLUSTER_REPLICAS", bad)])).expect_err("refused");
        assert_eq!(err.setting, "CLUSTER_REPLICAS", "{bad:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "invalid setting CLUSTER_REPLICAS: {bad:?} is not a number from 1 to 16; \
                 fix: use the number of API replicas to run, e.g. 3"
            )
        );
    }
}

#[test]
fn a_first_replica_port_without_room_for_the_metrics_ports_is_refused() {
    let err =
        ClusterPlan::from_env(env(&[("CLUSTER_REPLICA_PORT", "65500")])).expect_err("refused");
    assert_eq!(err.setting, "CLUSTER_REPLICA_PORT");
}

#[test]
fn a_port_that_is_not_a_number_is_refused_naming_it() {
    let err = ClusterPlan::from_env(env(&[("CLUSTER_REDIS_PORT", "redis")])).expect_err("refused");
    assert_eq!(
        err.to_string(),
        "invalid setting CLUSTER_REDIS_PORT: \"redis\" is not a port number; fix: use a number from 1 to 65535"
    );
}

#[test]
fn the_default_plan_runs_the_repository_haproxy_file_unchanged() {
    let plan = ClusterPlan::from_env(env(&[])).expect("defaults");
    assert_eq!(haproxy_config(TEMPLATE, &plan).expect("renders"), TEMPLATE);
}

#[test]
fn the_haproxy_file_gets_one_server_line_per_replica_and_the_plan_addresses() {
    let plan = ClusterPlan::new(
        addr("127.0.0.1:40001"),
        addr("127.0.0.1:40100"),
        addr("127.0.0.1:40390"),
        2,
        40101,
    );
    let config = haproxy_config(TEMPLATE, &plan).expect("renders");
    let lines: Vec<&str> = config
        .lines()
        .filter(|l| {
            let t = l.trim_start();
            t.starts_with("bind ") || t.starts_with("server ")
        })
        .map(str::trim)
        .collect();
    assert_eq!(
        lines,
        [
            "bind 127.0.0.1:40001",
            "server api-1 127.0.0.1:40101",
            "server api-2 127.0.0.1:40102",
            "bind 127.0.0.1:40100",
        ]
    );
    // Nothing else moves.
    let others = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                let t = l.trim_start();
                !t.starts_with("bind ") && !t.starts_with("server ")
            })
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(others(&config), others(TEMPLATE));
}

#[test]
fn options_after_the_first_server_address_are_kept_on_every_server_line() {
    let template = "frontend api\n    bind 1.2.3.4:80\nbackend api\n    server a 10.0.0.1:80 weight 10 maxconn 50\n    server b 10.0.0.2:80\nfrontend stats\n    bind 1.2.3.4:81\n";
    let plan = ClusterPlan::new(
        addr("127.0.0.1:1"),
        addr("127.0.0.1:2"),
        addr("127.0.0.1:3"),
        2,
        4000,
    );
    assert_eq!(
        haproxy_config(template, &plan).expect("renders"),
        "frontend api\n    bind 127.0.0.1:1\nbackend api\n    server api-1 127.0.0.1:4000 weight 10 maxconn 50\n    server api-2 127.0.0.1:4001 weight 10 maxconn 50\nfrontend stats\n    bind 127.0.0.1:2\n"
    );
}

#[test]
fn a_template_without_server_lines_is_an_error_naming_what_is_missing() {
    let template = "frontend api\n    bind 1.2.3.4:80\nbackend api\n    balance roundrobin\nfrontend stats\n    bind 1.2.3.4:81\n";
    let plan = ClusterPlan::from_env(env(&[])).expect("defaults");
    assert_eq!(
        haproxy_config(template, &plan)
            .expect_err("refused")
            .to_string(),
        "deploy/haproxy/haproxy.cfg has no `server` line in `backend api`; restore it from the repository"
    );
}

#[test]
fn the_haproxy_file_retries_only_failed_connections_and_checks_readyz() {
    // A re-sent request could carry a DPoP proof that was already used: a replay.
    let directives: Vec<&str> = TEMPLATE
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#'))
        .collect();
    assert!(directives.contains(&"retry-on conn-failure"));
    assert!(directives.contains(&"option redispatch 1"));
    assert!(directives.contains(&"balance roundrobin"));
    assert!(
        directives
            .contains(&"http-check send meth GET uri /readyz ver HTTP/1.1 hdr Host localhost")
    );
    assert!(directives.contains(&"http-check expect status 200"));
}

#[test]
fn the_drain_outlasts_haproxys_detection_time() {
    // `inter 1s fall 2`: a replica answering 503 is out of the rotation within 2 s.
    assert!(TEMPLATE.contains("default-server check inter 1s fall 2 rise 2"));
    assert!(Duration::from_secs(DEFAULT_DRAIN_SECS) > Duration::from_secs(2));
}

/// The environment of server `index` of the default plan, the user's environment being
/// `vars`: a lookup by name.
fn replica_env(vars: &[(&str, &str)], index: usize) -> impl Fn(&str) -> Option<String> {
    let plan = ClusterPlan::from_env(env(&[])).expect("defaults");
    let spec = servers(&plan, env(vars)).swap_remove(index).spec;
    move |name| env_of(&spec, name)
}

fn servers(plan: &ClusterPlan, env_fn: impl Fn(&str) -> Option<String>) -> Vec<Server> {
    let programs = Programs {
        api: "/bin/api".into(),
        redis: "/usr/bin/redis-server".into(),
        haproxy: "/usr/sbin/haproxy".into(),
    };
    let shared = Shared {
        origin: "http://localhost:3001".into(),
        nonce_secret: "s".repeat(64),
    };
    cluster_servers(
        plan,
        &programs,
        Path::new("/p/target/cluster"),
        &shared,
        &[PathBuf::from("/p/auth_config.json")],
        env_fn,
    )
}

fn env_of(spec: &ChildSpec, key: &str) -> Option<String> {
    spec.env
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.to_string_lossy().into_owned())
}

#[test]
fn redis_then_the_replicas_then_haproxy_start_in_that_order() {
    let plan = ClusterPlan::from_env(env(&[])).expect("defaults");
    let names: Vec<String> = servers(&plan, env(&[]))
        .into_iter()
        .map(|s| s.spec.name)
        .collect();
    assert_eq!(names, ["redis", "api-1", "api-2", "api-3", "haproxy"]);
}

#[test]
fn every_replica_shares_the_origin_the_store_the_secret_and_the_drain() {
    let plan = ClusterPlan::from_env(env(&[])).expect("defaults");
    let servers = servers(&plan, env(&[]));
    for (server, port) in servers[1..4].iter().zip([3101, 3102, 3103]) {
        let spec = &server.spec;
        assert_eq!(spec.program, Path::new("/bin/api"));
        assert_eq!(env_of(spec, "API_PORT"), Some(port.to_string()));
        assert_eq!(
            env_of(spec, "API_METRICS_ADDR"),
            Some(format!("127.0.0.1:{}", port + 100))
        );
        assert_eq!(
            env_of(spec, "API_ORIGIN").as_deref(),
            Some("http://localhost:3001")
        );
        assert_eq!(
            env_of(spec, "API_REPLAY_STORE").as_deref(),
            Some("redis://127.0.0.1:6390")
        );
        assert_eq!(env_of(spec, "API_DPOP_NONCE_SECRET"), Some("s".repeat(64)));
        assert_eq!(
            env_of(spec, "API_SHUTDOWN_DRAIN_SECS").as_deref(),
            Some("5")
        );
        assert_eq!(env_of(spec, "API_DPOP_NONCE").as_deref(), Some("1"));
        assert_eq!(spec.ready_addr, Some(addr(&format!("127.0.0.1:{port}"))));
        assert_eq!(spec.hidden, HEALTH_CHECK_LINES);
        let rotation = server.rotation.as_ref().expect("behind HAProxy");
        assert_eq!(rotation.server, spec.name);
        assert_eq!(rotation.backend, "api");
        assert_eq!(rotation.stats, addr("127.0.0.1:3100"));
        assert_eq!(rotation.replica, addr(&format!("127.0.0.1:{port}")));
        assert_eq!(server.reads, [PathBuf::from("/p/auth_config.json")]);
    }
}

#[test]
fn the_memory_store_can_be_chosen_to_show_what_sharing_prevents() {
    let replica = replica_env(&[("API_REPLAY_STORE", "memory")], 2);
    assert_eq!(replica("API_REPLAY_STORE").as_deref(), Some("memory"));
}

#[test]
fn nonces_stay_off_when_the_user_turns_them_off() {
    let replica = replica_env(&[("API_DPOP_NONCE", "0")], 1);
    assert_eq!(replica("API_DPOP_NONCE").as_deref(), Some("0"));
}

#[test]
fn redis_runs_on_its_written_configuration_and_a_change_to_it_restarts_redis() {
    let plan = ClusterPlan::from_env(env(&[])).expect("defaults");
    let redis = &servers(&plan, env(&[]))[0];
    assert_eq!(
        redis.spec.args,
        [OsString::from("/p/target/cluster/redis.conf")]
    );
    assert_eq!(redis.reads, [PathBuf::from("/p/target/cluster/redis.conf")]);
    assert_eq!(redis.spec.ready_addr, Some(addr("127.0.0.1:6390")));
}

#[test]
fn redis_listens_on_loopback_with_an_append_only_file_and_no_snapshots() {
    assert_eq!(
        redis_config(addr("127.0.0.1:6390"), Path::new("/p/target/cluster/redis")),
        "# Written by the dev-runner for `cargo make cluster`; touch it to restart Redis.\n\
         bind 127.0.0.1\nport 6390\ndaemonize no\nprotected-mode yes\nappendonly yes\n\
         save \"\"\nlogfile \"\"\ndir \"/p/target/cluster/redis\"\n"
    );
}

#[test]
fn a_data_folder_with_quotes_is_escaped_in_the_redis_configuration() {
    let config = redis_config(addr("127.0.0.1:6390"), Path::new("/tmp/a \"b\\c"));
    assert!(config.ends_with("dir \"/tmp/a \\\"b\\\\c\"\n"), "{config}");
}

#[test]
fn haproxy_runs_in_the_foreground_on_the_written_configuration() {
    let plan = ClusterPlan::from_env(env(&[])).expect("defaults");
    let haproxy = &servers(&plan, env(&[]))[4].spec;
    assert_eq!(haproxy.program, Path::new("/usr/sbin/haproxy"));
    assert_eq!(
        haproxy.args,
        ["-db", "-f", "/p/target/cluster/haproxy.cfg"].map(OsString::from)
    );
    assert_eq!(haproxy.ready_addr, Some(addr("127.0.0.1:3001")));
    assert_eq!(haproxy.hidden, [HAPROXY_STATE_WARNING]);
    let copy =
        "[WARNING]  (22532) : Server api/api-2 is DOWN, reason: Layer7 wrong status, code: 503";
    let logged = "Server api/api-2 is DOWN, reason: Layer7 wrong status, code: 503";
    let alert = "[ALERT]    (22532) : backend 'api' has no server available!";
    assert!(copy.contains(HAPROXY_STATE_WARNING));
    assert!(!logged.contains(HAPROXY_STATE_WARNING));
    assert!(!alert.contains(HAPROXY_STATE_WARNING));
}

#[test]
fn a_nonce_secret_is_64_hex_characters_and_new_each_time() {
    let a = nonce_secret().expect("random");
    let b = nonce_secret().expect("random");
    assert_eq!(a.len(), 64);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn programs_are_found_on_path_and_in_usr_sbin() {
    let dir = tempfile::tempdir().expect("tempdir");
    let program = dir.path().join("fake-tool");
    std::fs::write(&program, "#!/bin/sh\n").expect("write");
    std::fs::set_permissions(
        &program,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    assert_eq!(
        find_program("fake-tool", Some(dir.path().as_os_str())),
        Some(program)
    );
    assert_eq!(
        find_program("no-such-tool-anywhere", Some(dir.path().as_os_str())),
        None
    );
}

#[test]
fn passing_health_checks_are_hidden_in_both_log_formats_and_failing_ones_are_not() {
    let hidden = |line: &str| HEALTH_CHECK_LINES.iter().any(|h| line.contains(h));
    assert!(hidden(
        "2026-12-04T16:20:23.687092Z  INFO api::telemetry: request method=GET path=/readyz status=200 latency_us=40"
    ));
    assert!(hidden(
        r#"{"time":"2026-12-04T17:01:02.123456Z","level":"INFO","target":"api::telemetry","message":"request","request_id":"5f3a9c1e-17","method":"GET","path":"/readyz","status":200,"latency_us":41}"#
    ));
    assert!(!hidden(
        "2026-12-04T16:20:23.687092Z  INFO api::telemetry: request method=GET path=/readyz status=503 latency_us=40"
    ));
    assert!(!hidden(
        r#"{"message":"request","method":"GET","path":"/readyz","status":503,"latency_us":41}"#
    ));
    assert!(!hidden(
        "INFO api::telemetry: request method=GET path=/api/external status=200 latency_us=40"
    ));
}
