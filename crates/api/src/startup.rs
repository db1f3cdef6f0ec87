//! Building and running the server: settings, middleware order, routes.
//!
//! Middleware, outermost first: CORS (`crate::cors`: so that every answer to a CORS request,
//! 401/403/503 included, carries the CORS headers, and preflights are answered before anything
//! else runs), then the request log
//! and counters (`crate::telemetry`), then the router. Only the two protected resources are
//! wrapped in the token authentication middleware (Bearer and DPoP, `crate::authentication`),
//! and inside it in `ProtectedResponse`: their answers also carry `Cache-Control: no-store`
//! (they belong to one token holder) and, when due, the next DPoP nonce.
//!
//! `/metrics` has a listener of its own (`Settings::metrics_listen`, loopback by default): it
//! tells verification outcomes, key-set age and readiness, which is for the operator, not for
//! whoever can reach the API. The public listener answers `/metrics` with 404 like any unknown
//! path; `/healthz` and `/readyz` stay on it, where load balancers probe.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::http::header;
use actix_web::{App, HttpResponse, HttpServer, Resource, web};

use crate::authentication::{DpopMode, DpopPolicy, ProtectedResponse, token_auth};
use crate::cors::cors;
use crate::metrics::Metrics;
use crate::metrics_host::{self, MetricsHosts};
use crate::redis_store::RedisReplayStore;
use crate::replay_store::{CountedStore, ReplayStoreKind};
use crate::routes;
use crate::shutdown::{Drain, KEEP_ALIVE, stop_requested};
use crate::signals::Signals;
use crate::telemetry::RequestLog;
use auth::dpop::{MemoryReplayStore, ReplayStore};

/// Everything the API needs to start.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen (`API_HOST:API_PORT`; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Where `/metrics` listens (`API_METRICS_ADDR`, default [`DEFAULT_METRICS_ADDR`]; port 0
    /// picks a free one); `None` serves no metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// Host names the metrics listener answers besides `localhost` and IP address literals
    /// (`API_METRICS_HOSTS`, comma-separated; default none). Others get 421.
    pub metrics_hosts: Vec<String>,
    /// The shared configuration (`auth_config.json` plus environment).
    pub config: app_config::AuthConfig,
    /// How tokens are verified; [`Settings::new`] derives it from `config`.
    pub verifier: auth::VerifierConfig,
    /// Which schemes are accepted (`API_DPOP`; default `allowed`).
    pub dpop_mode: DpopMode,
    /// How DPoP proofs are checked; `nonce` is set by `API_DPOP_NONCE=1`.
    pub dpop: auth::dpop::DpopConfig,
    /// Where used DPoP proofs are recorded (`API_REPLAY_STORE`; default in memory).
    pub replay_store: ReplayStoreKind,
    /// The longest a request waits for a shared replay store (`API_REPLAY_STORE_TIMEOUT_MS`,
    /// default 250 ms); then the DPoP request is refused with 503.
    pub replay_store_timeout: Duration,
    /// Worker threads; `None` is actix-web's default (one per physical core).
    pub workers: Option<usize>,
    /// On SIGTERM/SIGINT: how long `/readyz` answers 503 while requests are still served,
    /// before the graceful stop (`API_SHUTDOWN_DRAIN_SECS`, default 0).
    pub shutdown_drain: Duration,
    /// Whether SIGINT and SIGTERM stop the server gracefully. Off in tests, where the process
    /// hosts many servers and Ctrl-C must still end the test run.
    pub handle_signals: bool,
}

impl Settings {
    /// Settings for `config`, listening on `listen`, with the default verifier options.
    pub fn new(listen: SocketAddr, config: app_config::AuthConfig) -> Self {
        Self {
            listen,
            metrics_listen: Some(DEFAULT_METRICS_ADDR),
            metrics_hosts: Vec::new(),
            verifier: crate::verifier_config::verifier_config(&config),
            dpop_mode: DpopMode::default(),
            dpop: auth::dpop::DpopConfig::default(),
            replay_store: ReplayStoreKind::Memory,
            replay_store_timeout: DEFAULT_REPLAY_STORE_TIMEOUT,
            shutdown_drain: Duration::ZERO,
            config,
            workers: None,
            handle_signals: true,
        }
    }

    /// Settings for tests: loopback, port 0 for the API and for `/metrics`, one worker.
    pub fn for_tests(config: app_config::AuthConfig) -> Self {
        Self {
            workers: Some(1),
            handle_signals: false,
            metrics_listen: Some(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))),
            ..Self::new(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), config)
        }
    }
}

/// Where `/metrics` listens unless `API_METRICS_ADDR` says otherwise: loopback only, on the
/// port OpenTelemetry's Prometheus exporter uses by default.
pub const DEFAULT_METRICS_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), 9464);

/// How long a request waits for a shared replay store unless `API_REPLAY_STORE_TIMEOUT_MS`
/// says otherwise.
pub const DEFAULT_REPLAY_STORE_TIMEOUT: Duration = Duration::from_millis(250);

/// How long a graceful stop waits for in-flight requests before it drops them (actix-web's
/// default, made explicit: a deployment's termination grace period must cover it, and
/// deploy/k8s is checked against this value).
pub const GRACEFUL_STOP_SECS: u64 = 30;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address cannot be bound.
    #[error(
        "invalid setting API_HOST / API_PORT: cannot listen on {address}: {source}; fix: choose a free port or a local address"
    )]
    Bind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The metrics address cannot be bound.
    #[error(
        "invalid setting API_METRICS_ADDR: cannot listen on {address}: {source}; fix: choose a free port (0 picks one) or `off`"
    )]
    MetricsBind {
        /// The address.
        address: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The verifier refused its configuration.
    #[error(transparent)]
    Verifier(#[from] auth::BuildError),
    /// The replay store's URL was refused by the Redis client.
    #[error("invalid setting API_REPLAY_STORE: {0}; fix: use redis://[user:pass@]host:port[/db]")]
    ReplayStore(String),
    /// actix-web could not take the listener.
    #[error("cannot serve on the listener: {0}")]
    Listener(std::io::Error),
}

/// A bound, not yet running, API server (and its metrics listener).
pub struct Application {
    port: u16,
    server: Server,
    metrics: Option<(u16, Server)>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .field("metrics_port", &self.metrics_port())
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Binds `settings.listen` and builds the server. Needs a Tokio runtime (the verifier starts
    /// loading keys in the background); never fails because the issuer is down.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let listener = TcpListener::bind(settings.listen).map_err(|source| StartupError::Bind {
            address: settings.listen,
            source,
        })?;
        Self::from_listener(settings, listener)
    }

    /// Builds the server on a socket the caller bound; binds `settings.metrics_listen` itself.
    /// Needs a Tokio runtime.
    pub fn from_listener(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        let metrics_listener = settings
            .metrics_listen
            .map(|address| {
                TcpListener::bind(address)
                    .map_err(|source| StartupError::MetricsBind { address, source })
            })
            .transpose()?;
        let verifier = web::Data::new(auth::Verifier::new(settings.verifier.clone())?);
        let replay_store = web::Data::from(Arc::new(CountedStore::new(replay_store(&settings)?)));
        let proofs = auth::dpop::ProofVerifier::with_store(
            settings.dpop.clone(),
            replay_store.clone().into_inner(),
        )?;
        let dpop = web::Data::new(DpopPolicy::new(
            settings.dpop_mode,
            proofs,
            &settings.config.api_origin,
        ));
        let metrics = web::Data::new(Metrics::default());
        let drain = web::Data::new(Drain::default());
        let address = listener.local_addr().map_err(StartupError::Listener)?;
        let app_origin = settings.config.app_origin.clone();
        let metrics_server = metrics_listener
            .map(|l| {
                metrics_server(
                    l,
                    MetricsHosts::new(&settings.metrics_hosts),
                    verifier.clone(),
                    dpop.clone(),
                    metrics.clone(),
                    replay_store.clone(),
                    drain.clone(),
                )
            })
            .transpose()?;

        tracing::info!(
            app_origin = %app_origin,
            "trusting access tokens from {} for audience {}",
            verifier.issuers().collect::<Vec<_>>().join(", "),
            settings.verifier.audiences.join(", ")
        );
        tracing::info!(
            mode = ?settings.dpop_mode,
            nonces = settings.dpop.nonce.is_some(),
            replay_store = ?settings.replay_store,
            algorithms = dpop.proofs().algorithms_text(),
            "DPoP"
        );

        let stop_drain = drain.clone().into_inner();
        let server = HttpServer::new(move || {
            App::new()
                .app_data(verifier.clone())
                .app_data(dpop.clone())
                .app_data(metrics.clone())
                .app_data(drain.clone())
                .wrap(RequestLog)
                .wrap(cors(&app_origin))
                .service(named("/api/public").route(web::get().to(routes::public)))
                .service(
                    named("/api/external")
                        .wrap(ProtectedResponse)
                        .wrap(token_auth())
                        .route(web::get().to(routes::external)),
                )
                .service(
                    named("/api/private-scoped")
                        .wrap(ProtectedResponse)
                        .wrap(token_auth())
                        .route(web::get().to(routes::private_scoped)),
                )
                .service(named("/healthz").route(web::get().to(routes::healthz)))
                .service(named("/readyz").route(web::get().to(routes::readyz)))
                .default_service(web::to(not_found))
        });
        // Longer than a proxy's idle timeout: the proxy closes an idle connection first.
        let server = server.keep_alive(KEEP_ALIVE);
        let server = match settings.workers {
            Some(workers) => server.workers(workers),
            None => server,
        };
        // actix-server's own handlers treat SIGINT as a forced stop that drops in-flight
        // requests; ours make both signals graceful.
        let server = if settings.handle_signals {
            server.shutdown_signal(stop_requested(
                Signals::install(),
                stop_drain,
                settings.shutdown_drain,
            ))
        } else {
            server.disable_signals()
        };
        let server = server
            .shutdown_timeout(GRACEFUL_STOP_SECS)
            .listen(listener)
            .map_err(StartupError::Listener)?
            .run();
        tracing::info!(%address, "listening on http://{address}");
        Ok(Self {
            port: address.port(),
            server,
            metrics: metrics_server,
        })
    }

    /// The port the server listens on (the real one when built with port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The port `/metrics` listens on, if it is served.
    pub fn metrics_port(&self) -> Option<u16> {
        self.metrics.as_ref().map(|(port, _)| *port)
    }

    /// A handle to stop the server; the metrics listener stops with it.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped by the handle or by SIGINT/SIGTERM (graceful: in-flight requests
    /// finish). The metrics listener is stopped once the API has stopped, so it can be scraped
    /// to the end.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let Some((_, metrics)) = self.metrics else {
            return self.server.await;
        };
        let metrics_handle = metrics.handle();
        let api = async {
            let result = self.server.await;
            metrics_handle.stop(true).await;
            result
        };
        let (api, metrics) = tokio::join!(api, metrics);
        api.and(metrics)
    }
}

/// The `/metrics` listener: one route, no CORS, no request log, one worker, no signal handling
/// of its own (it stops when the API does); it answers only its own host names (`hosts`, see
/// `metrics_host`).
fn metrics_server(
    listener: TcpListener,
    hosts: MetricsHosts,
    verifier: web::Data<auth::Verifier>,
    dpop: web::Data<DpopPolicy>,
    metrics: web::Data<Metrics>,
    replay_store: web::Data<CountedStore>,
    drain: web::Data<Drain>,
) -> Result<(u16, Server), StartupError> {
    let address = listener.local_addr().map_err(StartupError::Listener)?;
    let hosts = web::Data::new(hosts);
    let server = HttpServer::new(move || {
        App::new()
            .wrap(actix_web::middleware::from_fn(metrics_host::check_host))
            .app_data(hosts.clone())
            .app_data(verifier.clone())
            .app_data(dpop.clone())
            .app_data(metrics.clone())
            .app_data(replay_store.clone())
            .app_data(drain.clone())
            .route("/metrics", web::get().to(routes::metrics))
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)
    .map_err(StartupError::Listener)?
    .run();
    tracing::info!(%address, "serving /metrics on http://{address}/metrics");
    Ok((address.port(), server))
}

/// The replay store `settings` name, bounded per proof key. A Redis store is created without
/// connecting (the API starts with Redis down); a background `PING` says in the log whether it
/// answers now.
fn replay_store(settings: &Settings) -> Result<Arc<dyn ReplayStore>, StartupError> {
    let capacity = settings.dpop.replay_capacity;
    let per_key = settings.dpop.replay_per_key;
    match &settings.replay_store {
        ReplayStoreKind::Memory => Ok(Arc::new(MemoryReplayStore::with_per_key(capacity, per_key))),
        ReplayStoreKind::Redis(url) => {
            let store = RedisReplayStore::new(url, settings.replay_store_timeout, per_key)
                .map_err(|_| {
                    StartupError::ReplayStore(format!(
                        "the Redis client refused {}",
                        crate::redis_store::shown_url(url)
                    ))
                })?;
            let store = Arc::new(store);
            let probe = store.clone();
            tokio::spawn(async move {
                if probe.ping().await {
                    tracing::info!(
                        store = probe.shown_url(),
                        "DPoP replay store: Redis answers"
                    );
                } else {
                    tracing::warn!(
                        store = probe.shown_url(),
                        "DPoP replay store: Redis does not answer yet; DPoP requests get 503 until it does"
                    );
                }
            });
            Ok(store)
        }
    }
}

/// A resource named after its path: the name is the metrics route label, read without
/// allocating (`HttpRequest::match_name`).
fn named(path: &'static str) -> Resource {
    web::resource(path).name(path)
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type(header::ContentType::json())
        .body(r#"{"error":"not_found","error_description":"no such route"}"#)
}
