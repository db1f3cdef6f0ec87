//! Building and running the server: [`Settings`] in, a bound [`Application`] out.

use std::{
    net::{Ipv4Addr, SocketAddr, TcpListener},
    path::PathBuf,
};

use actix_files::Files;
use actix_web::{
    App, HttpServer,
    dev::{Server, ServerHandle, ServiceRequest, fn_service},
    middleware::{Compress, from_fn},
    web,
};
use app_config::AuthConfig;

use crate::{
    dev_reload::{self, DevReload},
    frontend::{Frontend, FrontendError, SDK_URL_PREFIX},
    middleware, paths,
    routes::{self, PublicConfig},
};

/// The frontend root used when none is given: `frontend/` in the working directory.
pub const DEFAULT_ROOT: &str = "frontend";

/// Everything the server needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen; port 0 picks a free port.
    pub listen: SocketAddr,
    /// The resolved configuration (its public half becomes `/auth_config.json`).
    pub config: AuthConfig,
    /// The folder holding `index.html`, `js/`, `css/` and npm's `node_modules/`.
    pub root: PathBuf,
    /// Development only: watch the root and reload open pages when a file changes.
    pub dev_reload: bool,
}

impl Settings {
    /// Settings on 127.0.0.1 with a free port: what tests want.
    pub fn new(config: AuthConfig, root: impl Into<PathBuf>) -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            config,
            root: root.into(),
            dev_reload: false,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The frontend root is missing, lacks `index.html`, or npm has not installed the SDK.
    #[error(transparent)]
    Frontend(#[from] FrontendError),
    /// The Content-Security-Policy built from the configuration is not a valid header value.
    #[error("the configured origins do not form a valid Content-Security-Policy header: {0}")]
    Csp(#[from] actix_web::http::header::InvalidHeaderValue),
    /// Live reload was asked for but the frontend root cannot be watched.
    #[error(
        "cannot watch {} for live reload: {source}; fix: raise fs.inotify.max_user_watches, or run without --dev-reload (SPA_DEV_RELOAD)",
        .root.display()
    )]
    Watch {
        /// The frontend root.
        root: PathBuf,
        /// What the watcher said.
        source: notify_debouncer_full::notify::Error,
    },
    /// Binding or starting the listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address we tried.
        addr: SocketAddr,
        /// What the OS said.
        source: std::io::Error,
    },
}

impl StartupError {
    /// Whether the operator can fix this by changing settings or installing packages, as opposed
    /// to an OS-level failure; the binary exits 2 for these.
    pub fn is_setup_error(&self) -> bool {
        !matches!(self, Self::Listen { .. } | Self::Watch { .. })
    }
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Application {{ port: {}, .. }}", self.port)
    }
}

impl Application {
    /// Binds `settings.listen` and builds the server.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let addr = settings.listen;
        let listener =
            TcpListener::bind(addr).map_err(|source| StartupError::Listen { addr, source })?;
        Self::from_listener(settings, listener)
    }

    /// Builds the server on a socket the caller bound (so tests can learn every port first).
    pub fn from_listener(settings: Settings, listener: TcpListener) -> Result<Self, StartupError> {
        let frontend = Frontend::check(&settings.root)?;
        let addr = listener
            .local_addr()
            .map_err(|source| StartupError::Listen {
                addr: settings.listen,
                source,
            })?;
        let csp = middleware::content_security_policy(&settings.config);
        // Validate once here; inside the factory below an error could only panic.
        middleware::security_headers(&csp)?;
        let public = web::Data::new(PublicConfig(settings.config.public_json().to_string()));
        let reload =
            match settings.dev_reload {
                true => Some(DevReload::start(frontend.root()).map_err(|source| {
                    StartupError::Watch {
                        root: frontend.root().to_path_buf(),
                        source,
                    }
                })?),
                false => None,
            };

        tracing::info!(
            root = %frontend.root().display(),
            issuer = %settings.config.issuer_origin(),
            api = %settings.config.api_origin,
            "serving the SPA on http://{addr}"
        );
        if reload.is_some() {
            tracing::info!("live reload on: saving a file under the root reloads open pages");
        }

        let app_reload = reload.clone();
        let server = HttpServer::new(move || {
            let index_html = frontend.index_html();
            let reload = app_reload.clone();
            let dev_routes = app_reload.clone();
            let headers = middleware::security_headers(&csp)
                .unwrap_or_else(|_| actix_web::middleware::DefaultHeaders::new());
            App::new()
                .app_data(public.clone())
                .wrap(Compress::default())
                .wrap(from_fn(middleware::screen_paths))
                .wrap(from_fn(middleware::revalidate_always))
                .wrap(headers)
                .wrap(from_fn(middleware::log_request))
                .configure(|cfg| {
                    if let Some(reload) = &dev_routes {
                        reload.configure(cfg);
                    }
                })
                .service(
                    web::resource("/auth_config.json")
                        .get(routes::auth_config)
                        .head(routes::auth_config),
                )
                .service(
                    Files::new(SDK_URL_PREFIX, frontend.sdk_dist()).default_handler(fn_service(
                        |req: ServiceRequest| async {
                            let (req, _) = req.into_parts();
                            Ok(actix_web::dev::ServiceResponse::new(
                                req,
                                routes::not_found(),
                            ))
                        },
                    )),
                )
                .service(
                    Files::new("/", frontend.root())
                        // Folders (and `/`) answer like app routes: the shell, never a listing.
                        .index_file("index.html")
                        .path_filter(|path, _| !paths::is_private(path))
                        .default_handler(fn_service(move |req: ServiceRequest| {
                            routes::fallback(index_html.clone(), reload.clone(), req)
                        })),
                )
        });
        let server = match reload {
            Some(reload) => server.shutdown_signal(dev_reload::shutdown_signal(reload)),
            None => server,
        };
        let server = server
            .listen(listener)
            .map_err(|source| StartupError::Listen { addr, source })?
            .run();

        Ok(Self {
            port: addr.port(),
            server,
        })
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until stopped (by the handle or a signal).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}
