//! Live reload for development (`--dev-reload`, which `cargo make dev` passes): a saved file
//! under the frontend root reloads every open page.
//!
//! Why it is shaped like this: the browser needs a push from the server, and server-sent events
//! are the smallest push there is: one long `GET /_dev/reload` that the browser's `EventSource`
//! keeps open and reconnects by itself, no protocol upgrade, no client library. The page learns
//! of it from one `<script type="module" src="/_dev/reload.js">` added to the served
//! `index.html`; it comes from our own origin, so the Content-Security-Policy stays exactly as
//! strict as without the flag (`script-src 'self'`, `connect-src 'self'`). Without the flag
//! none of this exists: no watcher, no routes (`/_dev/reload.js` is a 404), no script tag.
//!
//! Who does what: a `notify` watcher (with its debouncer, so one save is one reload however many
//! events the editor makes) runs on its own thread and sends into a broadcast channel; each open
//! event stream holds a receiver. Every stream starts with a `hello` naming this server instance:
//! a page whose stream reconnects to a *different* instance (the SPA server was rebuilt and
//! restarted) reloads too, because the new binary may serve the files differently.
//!
//! Open streams would keep a graceful stop waiting (actix waits for in-flight responses), so in
//! this mode the server takes SIGINT/SIGTERM itself: it first ends every stream, then stops.

use std::{
    path::{Component, Path, PathBuf},
    sync::Arc,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use actix_web::{
    HttpResponse,
    http::header::{self, ContentEncoding},
    web,
};
use notify_debouncer_full::{
    DebounceEventResult, Debouncer, RecommendedCache, new_debouncer,
    notify::{EventKind, RecommendedWatcher, RecursiveMode, event::AccessKind, event::AccessMode},
};
use tokio::sync::broadcast;

/// Where the event stream is served.
pub const EVENTS_PATH: &str = "/_dev/reload";
/// Where the page's reload script is served.
pub const SCRIPT_PATH: &str = "/_dev/reload.js";
/// The tag added to `index.html`, just before `</head>`.
pub const SCRIPT_TAG: &str = r#"<script type="module" src="/_dev/reload.js"></script>"#;

/// Quiet time after the last file event before pages reload: an editor's save is a burst of
/// events (write, rename, attribute change) that must give one reload, well within a second.
const DEBOUNCE: Duration = Duration::from_millis(100);

/// How soon a browser reconnects after the stream ends (the default is about three seconds,
/// which would make a restarted SPA server feel slow to reload the page).
const RETRY_MS: u32 = 250;

const SCRIPT: &str = include_str!("dev_reload.js");

/// What a stream receives: a changed file (relative to the root), or the end of the stream.
#[derive(Debug, Clone)]
enum Signal {
    Changed(String),
    Closing,
}

/// The live-reload state shared by every worker: the broadcast channel and the watcher.
#[derive(Clone)]
pub struct DevReload {
    inner: Arc<Inner>,
}

struct Inner {
    instance: String,
    tx: broadcast::Sender<Signal>,
    index_html: PathBuf,
    /// Kept for its side effect: dropping it stops the watcher thread.
    _watcher: Debouncer<RecommendedWatcher, RecommendedCache>,
}

impl std::fmt::Debug for DevReload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevReload")
            .field("instance", &self.inner.instance)
            .finish_non_exhaustive()
    }
}

impl DevReload {
    /// Starts watching `root` (the checked, absolute frontend root).
    pub fn start(root: &Path) -> Result<Self, notify_debouncer_full::notify::Error> {
        let (tx, _) = broadcast::channel(64);
        let sender = tx.clone();
        let base = root.to_path_buf();
        let mut watcher = new_debouncer(DEBOUNCE, None, move |result: DebounceEventResult| {
            let Ok(events) = result else { return };
            let changed = events
                .iter()
                .filter(|e| is_change(&e.kind))
                .flat_map(|e| e.paths.iter())
                .filter_map(|p| p.strip_prefix(&base).ok())
                .find(|p| is_site_file(p));
            if let Some(path) = changed {
                tracing::info!(path = %path.display(), "frontend changed: reloading open pages");
                // No receiver (no page open) is not an error.
                let _ = sender.send(Signal::Changed(path.display().to_string()));
            }
        })?;
        watcher.watch(root, RecursiveMode::Recursive)?;
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        Ok(Self {
            inner: Arc::new(Inner {
                instance: format!("{}-{nanos:x}", std::process::id()),
                tx,
                index_html: root.join("index.html"),
                _watcher: watcher,
            }),
        })
    }

    /// Registers the two development routes and the injected shell for `/` and `/index.html`
    /// (registered before the file mounts, so they take precedence).
    pub fn configure(&self, cfg: &mut web::ServiceConfig) {
        let state = web::Data::new(self.clone());
        cfg.app_data(state)
            .route(EVENTS_PATH, web::get().to(events))
            .route(SCRIPT_PATH, web::get().to(script))
            .service(
                web::resource(["/", "/index.html"])
                    .get(shell_route)
                    .head(shell_route),
            );
    }

    /// `index.html` with the reload script added: what every app route answers in this mode.
    pub async fn shell(&self) -> std::io::Result<HttpResponse> {
        let html = tokio::fs::read_to_string(&self.inner.index_html).await?;
        Ok(HttpResponse::Ok()
            .content_type(header::ContentType::html())
            .body(inject(&html)))
    }

    /// Ends every open stream, so that a graceful stop does not wait for them.
    pub fn close_streams(&self) {
        let _ = self.inner.tx.send(Signal::Closing);
    }
}

/// Waits for SIGINT or SIGTERM, ends the streams, then lets the server stop gracefully.
pub async fn shutdown_signal(reload: DevReload) {
    use tokio::signal::unix::{SignalKind, signal};

    use app_config::signals::{installed, received};
    let mut interrupt = installed("SIGINT", signal(SignalKind::interrupt()));
    let mut terminate = installed("SIGTERM", signal(SignalKind::terminate()));
    tokio::select! {
        () = received(interrupt.as_mut()) => {}
        () = received(terminate.as_mut()) => {}
    }
    reload.close_streams();
}

/// `index.html` with [`SCRIPT_TAG`] before `</head>` (or at the end when it has none).
pub fn inject(html: &str) -> String {
    match html.find("</head>") {
        Some(at) => format!("{}{SCRIPT_TAG}{}", &html[..at], &html[at..]),
        None => format!("{html}{SCRIPT_TAG}"),
    }
}

/// Content changes only: opening or reading a file (the server itself serving it, for one)
/// must not count, or every page load would trigger the next reload.
fn is_change(kind: &EventKind) -> bool {
    match kind {
        EventKind::Create(_) | EventKind::Remove(_) => true,
        EventKind::Modify(m) => !matches!(
            m,
            notify_debouncer_full::notify::event::ModifyKind::Metadata(_)
        ),
        EventKind::Access(AccessKind::Close(AccessMode::Write)) => true,
        _ => false,
    }
}

/// Whether a path relative to the root is part of the site: not npm's folder (which `npm ci`
/// rewrites wholesale), not a hidden file, not an editor's backup or swap file.
fn is_site_file(relative: &Path) -> bool {
    if relative.starts_with("node_modules") {
        return false;
    }
    relative.components().all(|c| match c {
        Component::Normal(name) => {
            let name = name.to_string_lossy();
            !name.starts_with('.') && !name.ends_with('~') && name != "4913"
        }
        _ => false,
    })
}

async fn shell_route(reload: web::Data<DevReload>) -> std::io::Result<HttpResponse> {
    reload.shell().await
}

async fn script() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/javascript; charset=utf-8")
        .body(SCRIPT)
}

/// `GET /_dev/reload`: `hello` at once, then one `reload` per change, until the server stops.
async fn events(reload: web::Data<DevReload>) -> HttpResponse {
    let rx = reload.inner.tx.subscribe();
    let hello = format!(
        "retry: {RETRY_MS}\nevent: hello\ndata: {}\n\n",
        reload.inner.instance
    );
    let first =
        futures_util::stream::once(
            async move { Ok::<_, actix_web::Error>(web::Bytes::from(hello)) },
        );
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        let frame = match rx.recv().await {
            Ok(Signal::Changed(path)) => format!("event: reload\ndata: {path}\n\n"),
            // A stream that fell behind still owes its page one reload.
            Err(broadcast::error::RecvError::Lagged(_)) => "event: reload\ndata: \n\n".to_owned(),
            Ok(Signal::Closing) | Err(broadcast::error::RecvError::Closed) => return None,
        };
        Some((Ok(web::Bytes::from(frame)), rx))
    });
    HttpResponse::Ok()
        .content_type("text/event-stream")
        // Compression would hold events back in the encoder's buffer.
        .insert_header(ContentEncoding::Identity)
        .insert_header(header::CacheControl(vec![header::CacheDirective::NoStore]))
        .streaming(futures_util::StreamExt::chain(first, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_goes_just_before_the_end_of_head() {
        assert_eq!(
            inject("<html><head><title>x</title></head><body></body></html>"),
            format!("<html><head><title>x</title>{SCRIPT_TAG}</head><body></body></html>")
        );
    }

    #[test]
    fn a_shell_without_head_gets_the_script_at_the_end() {
        assert_eq!(inject("<p>hi</p>"), format!("<p>hi</p>{SCRIPT_TAG}"));
    }

    #[test]
    fn site_files_count_and_npm_hidden_and_backup_files_do_not() {
        for p in ["index.html", "js/app.js", "css/app.css", "img/a b.png"] {
            assert!(is_site_file(Path::new(p)), "{p}");
        }
        for p in [
            "node_modules/@auth0/auth0-spa-js/dist/x.js",
            "node_modules",
            ".git/index",
            "js/.app.js.swp",
            "js/app.js~",
            "js/4913",
        ] {
            assert!(!is_site_file(Path::new(p)), "{p}");
        }
    }

    #[test]
    fn reads_and_attribute_changes_are_not_changes() {
        use notify_debouncer_full::notify::event::{
            CreateKind, DataChange, MetadataKind, ModifyKind,
        };
        for kind in [
            EventKind::Modify(ModifyKind::Data(DataChange::Any)),
            EventKind::Create(CreateKind::File),
            EventKind::Access(AccessKind::Close(AccessMode::Write)),
        ] {
            assert!(is_change(&kind), "{kind:?}");
        }
        for kind in [
            EventKind::Access(AccessKind::Open(AccessMode::Any)),
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            EventKind::Modify(ModifyKind::Metadata(MetadataKind::Any)),
        ] {
            assert!(!is_change(&kind), "{kind:?}");
        }
    }
}
