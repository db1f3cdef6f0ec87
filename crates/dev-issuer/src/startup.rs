//! Building and running the server (the zero2prod shape the end-to-end tests rely on).
//!
//! The loopback rules live here because every entry point passes through: the listening
//! socket must be loopback, and so must the issuer named in the configuration — this issuer
//! must never be able to mint tokens that claim to come from a real tenant.

use std::net::{SocketAddr, TcpListener};

use actix_web::dev::{Server, ServerHandle};
use actix_web::middleware::{DefaultHeaders, from_fn};
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::host::{self, AcceptedHosts};
use crate::issuer::Issuer;
use crate::keys::KeyError;
use crate::request_log::PathOnlySpan;
use crate::routes;
use crate::settings::Settings;
use crate::users::UsersError;

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The listen address is not loopback.
    #[error(
        "invalid setting ISSUER_HOST: {ip} is not a loopback address; fix: the dev issuer is for local development only, use 127.0.0.1, ::1 or localhost",
        ip = .0.ip()
    )]
    NotLoopback(SocketAddr),
    /// The configured issuer is not on this machine.
    #[error(
        "refusing to issue tokens as {0}: the dev issuer serves a loopback domain only (e.g. AUTH0_DOMAIN=http://localhost:3002)"
    )]
    IssuerNotLocal(String),
    /// The users file is unusable.
    #[error(transparent)]
    Users(#[from] UsersError),
    /// The signing keys are unusable.
    #[error(transparent)]
    Keys(#[from] KeyError),
    /// The DPoP proof settings are invalid (a programming error, never user input).
    #[error("cannot set up DPoP: {0}")]
    Dpop(String),
    /// Binding or serving failed.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

/// A dev issuer bound to its port, ready to serve.
pub struct Application {
    port: u16,
    server: Server,
    issuer: Issuer,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (port, issuer) = (self.port, self.issuer.issuer());
        write!(f, "Application {{ port: {port}, issuer: {issuer:?}, .. }}")
    }
}

impl Application {
    /// Binds `settings.listen` (port 0 picks a free port) and builds the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        if !settings.listen.ip().is_loopback() {
            return Err(StartupError::NotLoopback(settings.listen));
        }
        let listener = TcpListener::bind(settings.listen)?;
        Self::from_listener(settings, listener)
    }

    /// Builds the server on a socket the caller bound (so tests can learn ports first).
    pub fn from_listener(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        let local = listener.local_addr()?;
        if !local.ip().is_loopback() {
            return Err(StartupError::NotLoopback(local));
        }
        if !settings.config.issuer_is_local() {
            return Err(StartupError::IssuerNotLocal(
                settings.config.issuer.to_string(),
            ));
        }
        let issuer = Issuer::new(&settings)?;
        let data = web::Data::new(issuer.clone());
        let hosts = web::Data::new(AcceptedHosts::new(&settings.config));
        let origins = settings.allowed_origins.clone();
        let dev_endpoints = settings.dev_endpoints;
        let server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(host::check_host))
                .wrap(
                    DefaultHeaders::new()
                        .add(("X-Content-Type-Options", "nosniff"))
                        .add(("Referrer-Policy", "no-referrer")),
                )
                .wrap(TracingLogger::<PathOnlySpan>::new())
                .app_data(data.clone())
                .app_data(hosts.clone())
                .app_data(web::PayloadConfig::new(64 * 1024))
                .configure(|cfg| routes::configure(cfg, &origins, dev_endpoints))
        })
        .workers(2)
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        tracing::warn!(
            issuer = %settings.config.issuer,
            port = local.port(),
            dev_endpoints,
            "dev-issuer is for local development only: never use it in production"
        );
        Ok(Self {
            port: local.port(),
            server,
            issuer,
        })
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server (`handle.stop(true).await`).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// The issuer core, for minting tokens in-process (tests, benchmarks).
    pub fn issuer(&self) -> Issuer {
        self.issuer.clone()
    }

    /// Serves until stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
