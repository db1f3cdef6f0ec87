//! The metrics listener answers only requests addressed to it: the defence against DNS
//! rebinding, as the dev issuer has it.
//!
//! A hostile web page can make its own host name resolve to the machine's address; the
//! browser then sends that page's requests to the listener while treating it as the page's
//! own origin, so the page could read the metrics. The `Host` header still carries the page's
//! name, so the listener admits:
//! - `localhost`;
//! - any IP address literal (`127.0.0.1`, `10.244.1.17`, `[fd00::17]`): a rebinding page can
//!   only send its own *name*, never an address, and a Prometheus scrape in Kubernetes sends the
//!   pod's IP and port as `Host`, so a listener bound to `0.0.0.0` works there unchanged;
//! - the names listed in `API_METRICS_HOSTS` (e.g. a Service's DNS name scraped by name).
//!
//! Anything else gets `421 Misdirected Request` and a log line. A request without any `Host`
//! (HTTP/1.0, not a browser) is admitted. The port is not compared: the listener has one.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use url::{Host, Url};

/// The host names the metrics listener admits besides `localhost` and address literals
/// (`API_METRICS_HOSTS`), lowercased, without a trailing dot.
#[derive(Debug, Clone, Default)]
pub(crate) struct MetricsHosts(Vec<String>);

impl MetricsHosts {
    pub(crate) fn new(names: &[String]) -> Self {
        Self(names.iter().map(|n| normalise(n)).collect())
    }

    /// Whether a request with this `Host` value (`name[:port]`, `[v6]:port`, ...) is admitted.
    pub(crate) fn admits(&self, host: &str) -> bool {
        if host.is_empty() {
            return true;
        }
        let Ok(url) = Url::parse(&format!("http://{host}/")) else {
            return false;
        };
        match url.host() {
            Some(Host::Ipv4(_) | Host::Ipv6(_)) => true,
            Some(Host::Domain(name)) => {
                let name = normalise(name);
                name == "localhost" || self.0.contains(&name)
            }
            None => false,
        }
    }
}

fn normalise(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// The middleware (`from_fn`) of the metrics listener; see the module documentation.
pub(crate) async fn check_host(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // HTTP/1.1 carries the authority in Host; HTTP/2 in the request target.
    let host = req
        .headers()
        .get(header::HOST)
        .map(|v| v.to_str().unwrap_or("\u{fffd}").to_owned())
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let admitted = req
        .app_data::<web::Data<MetricsHosts>>()
        .is_none_or(|hosts| hosts.admits(&host));
    if admitted {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    tracing::warn!(
        host = %host.escape_debug(),
        "the metrics listener refused a request for a host it does not serve (421); a web page may be trying DNS rebinding, or API_METRICS_HOSTS lacks a name"
    );
    let response = HttpResponse::build(StatusCode::MISDIRECTED_REQUEST)
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .content_type("text/plain; charset=utf-8")
        .body("421 Misdirected Request: this listener answers only for its own host names.\n");
    Ok(req.into_response(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_address_literals_and_listed_names_are_admitted() {
        let hosts = MetricsHosts::new(&["metrics.example.svc.".into()]);
        for host in [
            "localhost:9464",
            "LOCALHOST",
            "127.0.0.1:9464",
            "10.244.1.17:9464",
            "[::1]:9464",
            "[fd00::17]",
            "metrics.example.svc:9464",
            "Metrics.Example.Svc.",
            "",
        ] {
            assert!(hosts.admits(host), "{host}");
        }
    }

    #[test]
    fn other_names_and_garbage_are_refused() {
        let hosts = MetricsHosts::new(&["metrics.example.svc".into()]);
        for host in [
            "attacker.example",
            "localhost.attacker.example",
            "example.svc",
            "metrics.example.svc.attacker.example",
            "a b",
            "\u{fffd}",
        ] {
            assert!(!hosts.admits(host), "{host}");
        }
    }
}
