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
//!
//! The names served are `domain` and the loopback entries of `issuers` on the same scheme and
//! port (`http://localhost:3002` and `http://127.0.0.1:3002`): one server, several domains, as
//! an Auth0 tenant with custom domains. A request through one of them gets that domain's
//! issuer identifier as `iss` ([`RequestIssuer`]), with the same keys.

use std::future::{Ready, ready};
use std::sync::Arc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, web};
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

/// One domain the issuer serves: the authority requests come through and the issuer
/// identifier (`iss`) they get.
#[derive(Debug, Clone)]
pub(crate) struct Domain {
    authority: Authority,
    issuer: Arc<str>,
}

/// The domains the issuer serves: `domain`'s, then every loopback entry of `issuers` that
/// shares its scheme and port (the one socket this server listens on).
pub(crate) fn accepted_hosts(config: &AuthConfig) -> Vec<Domain> {
    let main = &config.issuer;
    config
        .all_issuers()
        .filter(|url| {
            *url == main
                || (url.scheme() == main.scheme()
                    && url.port_or_known_default() == main.port_or_known_default()
                    && url.host().is_some_and(|h| app_config::is_loopback_host(&h)))
        })
        .filter_map(|url| {
            Some(Domain {
                authority: Authority::of(url)?,
                issuer: url.as_str().into(),
            })
        })
        .collect()
}

/// The accepted domains and the scheme a `Host` without a port implies.
#[derive(Debug, Clone)]
pub(crate) struct AcceptedHosts {
    scheme: String,
    domains: Vec<Domain>,
}

impl AcceptedHosts {
    pub(crate) fn new(config: &AuthConfig) -> Self {
        Self {
            scheme: config.issuer.scheme().to_owned(),
            domains: accepted_hosts(config),
        }
    }

    /// Whether a request with this `Host` value is for us.
    pub(crate) fn admits(&self, host: &str) -> bool {
        self.domain_of(host).is_some()
    }

    /// The domain a `Host` value names, if we serve it. Anything that is not a bare
    /// `host[:port]` (userinfo, a path, a query) is refused before parsing.
    fn domain_of(&self, host: &str) -> Option<&Domain> {
        if host.is_empty() || host.contains(['/', '\\', '@', '?', '#', ' ']) {
            return None;
        }
        let authority = Url::parse(&format!("{}://{host}/", self.scheme))
            .ok()
            .and_then(|url| Authority::of(&url))?;
        self.domains.iter().find(|d| d.authority == authority)
    }

    /// The accepted authorities, for the refusal's log line.
    fn list(&self) -> String {
        let names: Vec<String> = self
            .domains
            .iter()
            .map(|d| d.authority.to_string())
            .collect();
        names.join(", ")
    }
}

/// The issuer identifier of the domain a request came through: the `iss` of what it is
/// given, and the base of the endpoint URLs discovery names. Set by [`check_host`]; a request
/// that did not pass it (none in the running server) gets the main issuer.
#[derive(Debug, Clone)]
pub(crate) struct RequestIssuer(Arc<str>);

impl RequestIssuer {
    /// The issuer identifier, with its trailing slash (`http://127.0.0.1:3002/`).
    pub(crate) fn iss(&self) -> &str {
        &self.0
    }

    /// Without the trailing slash: the base of endpoint URLs.
    pub(crate) fn base(&self) -> &str {
        self.0.trim_end_matches('/')
    }
}

impl FromRequest for RequestIssuer {
    type Error = actix_web::Error;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let found = req.extensions().get::<Self>().cloned().or_else(|| {
            req.app_data::<web::Data<crate::issuer::Issuer>>()
                .map(|issuer| Self(issuer.issuer().into()))
        });
        ready(found.ok_or_else(|| {
            actix_web::error::ErrorInternalServerError("the issuer is not configured")
        }))
    }
}

/// The authority a request is for: HTTP/1.1 carries it in Host, HTTP/2 in the request target.
fn authority(req: &ServiceRequest) -> String {
    let host = req.headers().get(header::HOST);
    host.and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()))
        .unwrap_or_default()
        .to_owned()
}

/// Middleware: passes requests for our own authorities on, answers the rest with 421.
pub(crate) async fn check_host(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let host = authority(&req);
    let accepted = req.app_data::<web::Data<AcceptedHosts>>().cloned();
    let domain = accepted
        .as_ref()
        .and_then(|a| a.domain_of(&host))
        .map(|d| d.issuer.clone());
    if let Some(issuer) = domain {
        req.extensions_mut().insert(RequestIssuer(issuer));
    }
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
    use app_config::ConfigValues;

    use super::*;

    fn accepted(domain: &str) -> AcceptedHosts {
        accepted_with(domain, &[])
    }

    fn accepted_with(domain: &str, issuers: &[&str]) -> AcceptedHosts {
        let issuers: Vec<String> = issuers.iter().map(|i| (*i).to_owned()).collect();
        let config = AuthConfig::from_values(ConfigValues {
            domain: Some(domain.into()),
            client_id: Some("client".into()),
            audience: Some("https://api.test".into()),
            issuers,
            ..ConfigValues::dev_defaults()
        })
        .expect("valid config");
        AcceptedHosts::new(&config)
    }

    fn issuer_for(hosts: &AcceptedHosts, host: &str) -> Option<String> {
        hosts.domain_of(host).map(|d| d.issuer.to_string())
    }

    /// Asserts that an issuer with `domain` serves every one of `hosts`.
    fn assert_admitted(domain: &str, hosts: &[&str]) {
        let accepted = accepted(domain);
        for host in hosts {
            assert!(accepted.admits(host), "{host}");
        }
    }

    /// Asserts that an issuer with `domain` refuses every one of `hosts`.
    fn assert_refused(domain: &str, hosts: &[&str]) {
        let accepted = accepted(domain);
        for host in hosts {
            assert!(!accepted.admits(host), "{host}");
        }
    }

    #[test]
    fn loopback_issuers_on_the_same_port_are_served_with_their_own_iss() {
        let hosts = accepted_with(
            "http://localhost:3002",
            &["http://127.0.0.1:3002", "http://[::1]:3002"],
        );
        for (host, issuer) in [
            ("localhost:3002", "http://localhost:3002/"),
            ("127.0.0.1:3002", "http://127.0.0.1:3002/"),
            ("[::1]:3002", "http://[::1]:3002/"),
        ] {
            assert_eq!(issuer_for(&hosts, host).as_deref(), Some(issuer), "{host}");
        }
    }

    #[test]
    fn issuers_on_another_port_or_not_loopback_are_not_served() {
        let hosts = accepted_with(
            "http://localhost:3002",
            &["http://127.0.0.1:4002", "https://login.example.com"],
        );
        assert!(!hosts.admits("127.0.0.1:4002"));
        assert!(!hosts.admits("login.example.com"));
        assert!(!hosts.admits("login.example.com:443"));
        assert!(hosts.admits("localhost:3002"));
    }

    #[test]
    fn the_domain_with_its_port_is_admitted_in_any_case() {
        assert_admitted(
            "http://localhost:3002",
            &["localhost:3002", "LocalHost:3002"],
        );
    }

    #[test]
    fn another_port_or_another_loopback_name_is_refused() {
        let others = ["localhost:3000", "localhost", "127.0.0.1:3002"];
        assert_refused("http://localhost:3002", &others);
    }

    #[test]
    fn a_rebound_name_is_refused() {
        let rebound = ["evil.example:3002", "localhost.evil.example:3002"];
        assert_refused("http://localhost:3002", &rebound);
    }

    #[test]
    fn userinfo_paths_and_empty_values_are_refused() {
        let odd = ["evil.example@localhost:3002", "localhost:3002/x", ""];
        assert_refused("http://localhost:3002", &odd);
    }

    #[test]
    fn a_default_port_may_be_left_out() {
        assert_admitted("http://localhost", &["localhost", "localhost:80"]);
    }

    #[test]
    fn ipv6_loopback_is_compared_in_brackets() {
        assert_admitted(
            "http://[::1]:3002",
            &["[::1]:3002", "[0:0:0:0:0:0:0:1]:3002"],
        );
    }
}
