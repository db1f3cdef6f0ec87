//! The DNS-rebinding defence: the issuer answers only requests addressed to its own names.
//!
//! A hostile page can make its own host name resolve to 127.0.0.1; the browser then sends that
//! page's requests to the issuer while treating the issuer as the page's own origin, so the
//! page could read the issuer's answers. The `Host` header still carries the page's name, and
//! comparing it with the names the issuer serves stops the attack. Anything else is answered
//! `421 Misdirected Request` (RFC 9110 §15.5.20: this server is not configured for that
//! authority) and logged.
//!
//! The header is parsed with the `url` crate, the same parser that normalised the configured
//! domain, so that both sides agree on case, IPv6 brackets and default ports.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};
use app_config::AuthConfig;
use url::Url;

/// One authority (host and port) the issuer answers for, normalised by the `url` crate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Authority {
    host: String,
    port: u16,
}

impl std::fmt::Display for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl Authority {
    fn of(url: &Url) -> Option<Self> {
        Some(Self {
            host: url.host_str()?.to_ascii_lowercase(),
            port: url.port_or_known_default()?,
        })
    }
}

/// The authorities the issuer serves: the host and port of every domain it issues for.
pub(crate) fn accepted_hosts(config: &AuthConfig) -> Vec<Authority> {
    Authority::of(&config.issuer).into_iter().collect()
}

/// The accepted authorities and the scheme a `Host` without a port implies.
#[derive(Debug, Clone)]
pub(crate) struct AcceptedHosts {
    scheme: String,
    authorities: Vec<Authority>,
}

impl AcceptedHosts {
    pub(crate) fn new(config: &AuthConfig) -> Self {
        Self {
            scheme: config.issuer.scheme().to_owned(),
            authorities: accepted_hosts(config),
        }
    }

    /// Whether a request with this `Host` value is for us. Anything that is not a bare
    /// `host[:port]` (userinfo, a path, a query) is refused before parsing.
    pub(crate) fn admits(&self, host: &str) -> bool {
        if host.is_empty() || host.contains(['/', '\\', '@', '?', '#', ' ']) {
            return false;
        }
        Url::parse(&format!("{}://{host}/", self.scheme))
            .ok()
            .and_then(|url| Authority::of(&url))
            .is_some_and(|authority| self.authorities.contains(&authority))
    }

    /// The accepted authorities, for the refusal's log line.
    fn list(&self) -> String {
        let names: Vec<String> = self.authorities.iter().map(ToString::to_string).collect();
        names.join(", ")
    }
}

/// Middleware: passes requests for our own authorities on, answers the rest with 421.
pub(crate) async fn check_host(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    // HTTP/1.1 carries the authority in Host; HTTP/2 in the request target.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()))
        .unwrap_or_default();
    let accepted = req.app_data::<web::Data<AcceptedHosts>>().cloned();
    match accepted {
        Some(accepted) if !accepted.admits(&host) => {
            tracing::warn!(
                host = %host.escape_debug(),
                accepted = %accepted.list(),
                "refused a request for a host this issuer does not serve (421); a web page may be trying DNS rebinding"
            );
            let response = HttpResponse::build(StatusCode::MISDIRECTED_REQUEST)
                .insert_header((header::CACHE_CONTROL, "no-store"))
                .content_type("text/plain; charset=utf-8")
                .body(
                    "421 Misdirected Request: this dev issuer answers only for its own domain.\n",
                );
            Ok(req.into_response(response))
        }
        _ => Ok(next.call(req).await?.map_into_boxed_body()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepted(domain: &str) -> AcceptedHosts {
        let config = AuthConfig::from_values(
            Some(domain.into()),
            Some("client".into()),
            Some("https://api.test".into()),
            Some("http://localhost:3000".into()),
            Some("http://localhost:3001".into()),
        )
        .expect("valid config");
        AcceptedHosts::new(&config)
    }

    #[test]
    fn the_domain_with_its_port_is_admitted_in_any_case() {
        let hosts = accepted("http://localhost:3002");
        assert!(hosts.admits("localhost:3002"));
        assert!(hosts.admits("LocalHost:3002"));
    }

    #[test]
    fn another_port_or_another_loopback_name_is_refused() {
        let hosts = accepted("http://localhost:3002");
        assert!(!hosts.admits("localhost:3000"));
        assert!(!hosts.admits("localhost"));
        assert!(!hosts.admits("127.0.0.1:3002"));
    }

    #[test]
    fn a_rebound_name_is_refused() {
        let hosts = accepted("http://localhost:3002");
        assert!(!hosts.admits("evil.example:3002"));
        assert!(!hosts.admits("localhost.evil.example:3002"));
    }

    #[test]
    fn userinfo_paths_and_empty_values_are_refused() {
        let hosts = accepted("http://localhost:3002");
        assert!(!hosts.admits("evil.example@localhost:3002"));
        assert!(!hosts.admits("localhost:3002/x"));
        assert!(!hosts.admits(""));
    }

    #[test]
    fn a_default_port_may_be_left_out() {
        let hosts = accepted("http://localhost");
        assert!(hosts.admits("localhost"));
        assert!(hosts.admits("localhost:80"));
    }

    #[test]
    fn ipv6_loopback_is_compared_in_brackets() {
        let hosts = accepted("http://[::1]:3002");
        assert!(hosts.admits("[::1]:3002"));
        assert!(hosts.admits("[0:0:0:0:0:0:0:1]:3002"));
    }
}
