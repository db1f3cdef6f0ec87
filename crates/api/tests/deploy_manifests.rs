//! The Kubernetes manifests of `deploy/k8s`, as rendered for the base and every overlay,
//! checked against the API itself: the probes name routes the API serves on the port it listens
//! on, the scrape annotations name the metrics listener, the termination grace period covers
//! the whole shutdown, every variable set on the API container is one the binary reads, and the
//! nonce secret comes from a Secret.
//!
//! `cargo make deploy-check` renders the manifests with `kubectl kustomize` into
//! `target/deploy-check/<name>.json` (the directory `DEPLOY_MANIFESTS` names, if set), then runs
//! these tests with `--ignored`. A plain `cargo test` skips them: it has no renderings, and
//! `kubectl` is not a build dependency.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use reqwest::header::HOST;
use serde_json::Value;
use test_support::api::{TestApp, spawn_app_with};

/// One rendered kustomization: its name (`base`, `local`) and its resources.
struct Rendering {
    name: String,
    resources: Vec<Value>,
}

fn renderings() -> Vec<Rendering> {
    let dir = std::env::var_os("DEPLOY_MANIFESTS").map_or_else(
        || {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/deploy-check"
            ))
        },
        PathBuf::from,
    );
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "no renderings in {} ({e}): run `cargo make deploy-check`",
            dir.display()
        )
    });
    let mut found: Vec<Rendering> = entries
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("rendering readable");
            Rendering {
                name: path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                resources: serde_json::from_str(&text).expect("rendering is a JSON array"),
            }
        })
        .collect();
    found.sort_by(|a, b| a.name.cmp(&b.name));
    let names: Vec<&str> = found.iter().map(|r| r.name.as_str()).collect();
    assert!(
        names.contains(&"base") && names.contains(&"local"),
        "renderings found in {}: {names:?}; run `cargo make deploy-check`",
        dir.display()
    );
    found
}

impl Rendering {
    fn find(&self, kind: &str, name: &str) -> &Value {
        self.resources
            .iter()
            .find(|r| r["kind"] == kind && r["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("{}: no {kind} {name}", self.name))
    }

    fn api_deployment(&self) -> &Value {
        self.find("Deployment", "api")
    }

    fn api_container(&self) -> &Value {
        containers(self.api_deployment())
            .iter()
            .find(|c| c["name"] == "api")
            .unwrap_or_else(|| panic!("{}: the api Deployment has no container `api`", self.name))
    }

    /// Every variable the API container gets, with where its value comes from: `env` entries
    /// and every key of the ConfigMaps and Secrets named in `envFrom`.
    fn api_env(&self) -> BTreeMap<String, EnvSource> {
        let container = self.api_container();
        let mut env = BTreeMap::new();
        for from in array(&container["envFrom"]) {
            let (kind, reference) = if from["configMapRef"].is_object() {
                ("ConfigMap", &from["configMapRef"])
            } else {
                ("Secret", &from["secretRef"])
            };
            let name = reference["name"]
                .as_str()
                .expect("envFrom names its source");
            let source = self.find(kind, name);
            let keys = source["data"]
                .as_object()
                .into_iter()
                .chain(source["stringData"].as_object())
                .flat_map(|data| data.iter());
            for (key, value) in keys {
                let from = match kind {
                    "ConfigMap" => EnvSource::ConfigMap(value.as_str().unwrap_or("").to_owned()),
                    _ => EnvSource::Secret,
                };
                env.insert(key.clone(), from);
            }
        }
        for var in array(&container["env"]) {
            let name = var["name"]
                .as_str()
                .expect("env entries have a name")
                .to_owned();
            let source = if let Some(value) = var["value"].as_str() {
                EnvSource::Literal(value.to_owned())
            } else if var["valueFrom"]["secretKeyRef"].is_object() {
                EnvSource::Secret
            } else {
                EnvSource::Other
            };
            env.insert(name, source);
        }
        env
    }

    /// The value of a variable set in the manifest (literally or through a ConfigMap).
    fn api_setting(&self, name: &str) -> String {
        match self.api_env().remove(name) {
            Some(EnvSource::Literal(value) | EnvSource::ConfigMap(value)) => value,
            other => panic!(
                "{}: {name} is not set to a plain value: {other:?}",
                self.name
            ),
        }
    }

    /// The container port a probe or Service names (a number, or a port's name).
    fn api_port(&self, port: &Value) -> u64 {
        if let Some(number) = port.as_u64() {
            return number;
        }
        array(&self.api_container()["ports"])
            .iter()
            .find(|p| p["name"] == *port)
            .and_then(|p| p["containerPort"].as_u64())
            .unwrap_or_else(|| panic!("{}: the api container has no port {port}", self.name))
    }
}

#[derive(Debug)]
enum EnvSource {
    Literal(String),
    ConfigMap(String),
    Secret,
    Other,
}

fn array(value: &Value) -> &[Value] {
    value.as_array().map_or(&[], Vec::as_slice)
}

fn containers(workload: &Value) -> &[Value] {
    array(&workload["spec"]["template"]["spec"]["containers"])
}

fn probe<'a>(container: &'a Value, kind: &str) -> &'a Value {
    let probe = &container[kind]["httpGet"];
    assert!(probe.is_object(), "the api container has no HTTP {kind}");
    probe
}

/// The API against an issuer that is down: its signing keys never load, so only the readiness
/// route tells (503) from the liveness route (200).
async fn spawn_unready_api() -> TestApp {
    spawn_app_with(false, |_| {}).await
}

#[tokio::test]
#[ignore = "reads the renderings of `cargo make deploy-check`, which runs it"]
async fn probes_name_the_apis_liveness_and_readiness_routes() {
    let api = spawn_unready_api().await;
    for rendering in renderings() {
        let container = rendering.api_container();
        for kind in ["startupProbe", "livenessProbe"] {
            let path = probe(container, kind)["path"].as_str().expect("probe path");
            assert_eq!(api.get(path).await.status(), 200, "{kind} {path}");
        }
        // Not live-but-unready: without signing keys the readiness route answers 503.
        let path = probe(container, "readinessProbe")["path"]
            .as_str()
            .expect("probe path");
        assert_eq!(api.get(path).await.status(), 503, "readiness {path}");
    }
}

#[test]
#[ignore = "reads the renderings of `cargo make deploy-check`, which runs it"]
fn probes_and_the_service_target_the_port_the_api_listens_on() {
    for rendering in renderings() {
        let listen: u64 = rendering
            .api_setting("API_PORT")
            .parse()
            .expect("API_PORT is a number");
        let container = rendering.api_container();
        for kind in ["startupProbe", "readinessProbe", "livenessProbe"] {
            let port = rendering.api_port(&probe(container, kind)["port"]);
            assert_eq!(port, listen, "{}: {kind}", rendering.name);
        }
        let service = rendering.find("Service", "api");
        for port in array(&service["spec"]["ports"]) {
            assert_eq!(
                rendering.api_port(&port["targetPort"]),
                listen,
                "{}",
                rendering.name
            );
        }
    }
}

#[tokio::test]
#[ignore = "reads the renderings of `cargo make deploy-check`, which runs it"]
async fn scrape_annotations_name_the_metrics_listener_on_every_interface() {
    let api = spawn_unready_api().await;
    for rendering in renderings() {
        let address: SocketAddr = rendering
            .api_setting("API_METRICS_ADDR")
            .parse()
            .expect("API_METRICS_ADDR is IP:port");
        assert!(
            address.ip().is_unspecified(),
            "{}: {address}",
            rendering.name
        );
        let annotations =
            &rendering.api_deployment()["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/scrape"], "true");
        assert_eq!(
            annotations["prometheus.io/port"],
            address.port().to_string(),
            "{}",
            rendering.name
        );
        assert_eq!(
            rendering.api_port(&Value::from("metrics")),
            u64::from(address.port())
        );
        // Prometheus' pod discovery scrapes `<pod IP>:<port>`, which is then the Host.
        let path = annotations["prometheus.io/path"].as_str().expect("path");
        let scrape = api
            .client
            .get(format!("{}{path}", api.metrics_address))
            .header(HOST, format!("10.244.1.7:{}", address.port()))
            .send()
            .await
            .expect("scrape answered");
        assert_eq!(scrape.status(), 200, "{}: {path}", rendering.name);
    }
}

#[test]
#[ignore = "reads the renderings of `cargo make deploy-check`, which runs it"]
fn termination_grace_outlasts_pre_stop_drain_and_graceful_stop() {
    for rendering in renderings() {
        let pod = &rendering.api_deployment()["spec"]["template"]["spec"];
        let grace = pod["terminationGracePeriodSeconds"]
            .as_u64()
            .expect("terminationGracePeriodSeconds set");
        let pre_stop = rendering.api_container()["lifecycle"]["preStop"]["sleep"]["seconds"]
            .as_u64()
            .expect("a preStop sleep");
        let drain: u64 = rendering
            .api_setting("API_SHUTDOWN_DRAIN_SECS")
            .parse()
            .expect("API_SHUTDOWN_DRAIN_SECS is a number");
        let stop = api::startup::GRACEFUL_STOP_SECS;
        assert!(
            grace > pre_stop + drain + stop,
            "{}: grace {grace} s <= preStop {pre_stop} + drain {drain} + stop {stop}",
            rendering.name
        );
    }
}

#[test]
#[ignore = "reads the renderings of `cargo make deploy-check`, which runs it"]
fn every_variable_set_on_the_api_container_is_one_the_api_reads() {
    let known = api::cli::env_names();
    for rendering in renderings() {
        let unknown: Vec<String> = rendering
            .api_env()
            .into_keys()
            .filter(|name| !known.contains(&name.as_str()))
            .collect();
        assert!(
            unknown.is_empty(),
            "{}: the api binary does not read {unknown:?}",
            rendering.name
        );
    }
}

#[test]
#[ignore = "reads the renderings of `cargo make deploy-check`, which runs it"]
fn the_nonce_secret_comes_from_a_secret() {
    for rendering in renderings() {
        let source = rendering.api_env().remove("API_DPOP_NONCE_SECRET");
        assert!(
            matches!(source, Some(EnvSource::Secret)),
            "{}: API_DPOP_NONCE_SECRET comes from {source:?}",
            rendering.name
        );
    }
}

#[test]
#[ignore = "reads the renderings of `cargo make deploy-check`, which runs it"]
fn every_container_runs_as_non_root_read_only_without_privileges() {
    for rendering in renderings() {
        let workloads = rendering
            .resources
            .iter()
            .filter(|r| r["kind"] == "Deployment" || r["kind"] == "StatefulSet");
        for workload in workloads {
            let name = &workload["metadata"]["name"];
            let pod = &workload["spec"]["template"]["spec"];
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}");
            for container in containers(workload) {
                let context = &container["securityContext"];
                let which = format!("{}: {name}/{}", rendering.name, container["name"]);
                assert_eq!(context["readOnlyRootFilesystem"], true, "{which}");
                assert_eq!(context["allowPrivilegeEscalation"], false, "{which}");
                assert_eq!(
                    context["capabilities"]["drop"],
                    serde_json::json!(["ALL"]),
                    "{which}"
                );
                assert!(container["resources"]["limits"].is_object(), "{which}");
                assert!(container["resources"]["requests"].is_object(), "{which}");
            }
        }
    }
}

#[test]
#[ignore = "reads the renderings of `cargo make deploy-check`, which runs it"]
fn the_api_keeps_two_replicas_through_scaling_and_disruptions() {
    for rendering in renderings() {
        let replicas = rendering.api_deployment()["spec"]["replicas"].as_u64();
        assert!(
            replicas >= Some(2),
            "{}: replicas {replicas:?}",
            rendering.name
        );
        let hpa = rendering.find("HorizontalPodAutoscaler", "api");
        assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "api");
        assert!(
            hpa["spec"]["minReplicas"].as_u64() >= Some(2),
            "{}",
            rendering.name
        );
        let pdb = rendering.find("PodDisruptionBudget", "api");
        assert_eq!(
            pdb["spec"]["selector"]["matchLabels"],
            rendering.api_deployment()["spec"]["selector"]["matchLabels"]
        );
    }
}
