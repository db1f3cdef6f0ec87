//! HTTP access to the issuer: OIDC discovery and the JWKS document, under strict limits.
//!
//! The issuer is trusted for keys but the network is not: every response is bounded in time
//! (connect and total timeouts), in size (the cap is enforced while streaming, so a huge or
//! endless body costs at most the cap), in shape (status 200, a JSON content type) and in
//! place (a redirect must stay on the origin, scheme, host and port, of the issuer or of the
//! URL asked for; an https issuer's discovery may not point at plain http or at loopback).
//! Nothing a token says ever reaches this module: the URLs come from the configuration or from
//! discovery.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ACCEPT, CACHE_CONTROL, CONTENT_TYPE};
use reqwest::{StatusCode, redirect};
use serde::Deserialize;
use url::Url;

use crate::config::FetchSettings;
use crate::stats::Counters;

/// Why a fetch failed. Messages name URLs and statuses, never response bodies.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FetchError {
    #[error("request to {url} failed: {source}")]
    Http {
        url: Url,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered status {status}")]
    Status { url: Url, status: StatusCode },
    #[error("{url} answered a non-JSON content type")]
    ContentType { url: Url },
    #[error("{url} answered more than {limit} bytes")]
    TooLarge { url: Url, limit: usize },
    #[error("{url} answered invalid JSON for {what}")]
    Json { url: Url, what: &'static str },
    #[error("discovery document names issuer {found:?}, expected {expected:?}")]
    IssuerMismatch { found: String, expected: String },
    #[error("discovery document names an unacceptable jwks_uri: {0}")]
    BadJwksUri(String),
    #[error("JWKS document is not a JSON object with a keys array")]
    InvalidJwks,
    #[error("key set holds no usable key ({skipped} skipped)")]
    NoUsableKeys { skipped: usize },
}

/// A fetched JWKS body and the lifetime its server asked for.
#[derive(Debug)]
pub(crate) struct FetchedJwks {
    pub body: Vec<u8>,
    pub max_age: Option<Duration>,
    pub url: Url,
}

/// Talks to one issuer. A JWKS URI from a discovery document is remembered, so discovery runs
/// once; the well-known fallback is not, so discovery is tried again on the next refresh (one
/// transient 404 must not pin the fallback until restart).
#[derive(Debug)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    issuer: Url,
    configured_jwks: Option<Url>,
    // Written only under the key store's refresh guard; a std Mutex is enough because it is
    // never held across an await.
    resolved_jwks: Mutex<Option<Url>>,
    max_body: usize,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
}

impl Fetcher {
    pub fn new(
        issuer: Url,
        configured_jwks: Option<Url>,
        settings: &FetchSettings,
    ) -> Result<Self, reqwest::Error> {
        let issuer_origin = issuer.origin();
        let policy = redirect::Policy::custom(move |attempt| {
            // Origins compare scheme, host and port (an opaque origin equals nothing), so a
            // redirect can neither change port on the same host nor downgrade to http.
            let target = attempt.url().origin();
            let first_origin = attempt.previous().first().map(Url::origin);
            let allowed = target.is_tuple()
                && (target == issuer_origin || Some(&target) == first_origin.as_ref());
            if attempt.previous().len() > 3 {
                attempt.error("too many redirects")
            } else if !allowed {
                attempt.error("redirect leaves the origin of the issuer or of the URL asked for")
            } else {
                attempt.follow()
            }
        });
        let client = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .timeout(settings.total_timeout)
            .redirect(policy)
            .user_agent(concat!("auth/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self {
            client,
            issuer,
            configured_jwks,
            resolved_jwks: Mutex::new(None),
            max_body: settings.max_body_bytes,
        })
    }

    /// Fetches the JWKS document, running discovery first if the URI is not known yet.
    pub async fn fetch_jwks(&self, counters: &Counters) -> Result<FetchedJwks, FetchError> {
        let url = match self.jwks_url() {
            Some(u) => u,
            None => match self.discover(counters).await? {
                Discovered::Document(u) => {
                    if let Ok(mut slot) = self.resolved_jwks.lock() {
                        *slot = Some(u.clone());
                    }
                    u
                }
                Discovered::Fallback(u) => u,
            },
        };
        let (body, max_age) = self.get_json(&url, counters).await?;
        Ok(FetchedJwks { body, max_age, url })
    }

    fn jwks_url(&self) -> Option<Url> {
        if let Some(u) = &self.configured_jwks {
            return Some(u.clone());
        }
        self.resolved_jwks.lock().ok().and_then(|g| g.clone())
    }

    /// OIDC discovery; a 404 means "no discovery here (for now)" and falls back to the
    /// well-known JWKS path for this fetch.
    async fn discover(&self, counters: &Counters) -> Result<Discovered, FetchError> {
        let discovery = well_known(&self.issuer, "openid-configuration");
        let fallback = well_known(&self.issuer, "jwks.json");
        let body = match self.get_json(&discovery, counters).await {
            Ok((body, _)) => body,
            Err(FetchError::Status { status, .. })
                if status == StatusCode::NOT_FOUND || status == StatusCode::GONE =>
            {
                tracing::info!(%discovery, %fallback, "no OIDC discovery document; using the well-known JWKS path this time");
                return Ok(Discovered::Fallback(fallback));
            }
            Err(e) => return Err(e),
        };
        let doc: Discovery = serde_json::from_slice(&body).map_err(|_| FetchError::Json {
            url: discovery.clone(),
            what: "OIDC discovery",
        })?;
        if doc.issuer != self.issuer.as_str() {
            return Err(FetchError::IssuerMismatch {
                found: doc.issuer,
                expected: self.issuer.to_string(),
            });
        }
        let jwks =
            Url::parse(&doc.jwks_uri).map_err(|_| FetchError::BadJwksUri(doc.jwks_uri.clone()))?;
        if !acceptable_jwks_uri(&self.issuer, &jwks) {
            return Err(FetchError::BadJwksUri(doc.jwks_uri));
        }
        tracing::info!(%jwks, "OIDC discovery resolved the JWKS URI");
        Ok(Discovered::Document(jwks))
    }

    /// GET with every limit applied; returns the body and any `Cache-Control: max-age`.
    async fn get_json(
        &self,
        url: &Url,
        counters: &Counters,
    ) -> Result<(Vec<u8>, Option<Duration>), FetchError> {
        Counters::bump(&counters.fetches);
        let http = |source| FetchError::Http {
            url: url.clone(),
            source,
        };
        let mut resp = self
            .client
            .get(url.clone())
            .header(ACCEPT, "application/json, application/jwk-set+json")
            .send()
            .await
            .map_err(http)?;
        if resp.status() != StatusCode::OK {
            return Err(FetchError::Status {
                url: url.clone(),
                status: resp.status(),
            });
        }
        let json = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json_media_type);
        if !json {
            return Err(FetchError::ContentType { url: url.clone() });
        }
        let too_large = || FetchError::TooLarge {
            url: url.clone(),
            limit: self.max_body,
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_body as u64)
        {
            return Err(too_large());
        }
        let max_age = resp
            .headers()
            .get(CACHE_CONTROL)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_max_age);
        let mut body = Vec::new();
        // Streamed so that a lying or absent Content-Length cannot make us buffer more than the cap.
        while let Some(chunk) = resp.chunk().await.map_err(http)? {
            if body.len() + chunk.len() > self.max_body {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, max_age))
    }
}

/// Where discovery sent us: a URI from the document (kept), or the fallback (tried this once).
enum Discovered {
    Document(Url),
    Fallback(Url),
}

/// Whether discovery may send us to `jwks` for `issuer`. An https issuer's key set must come
/// over https from a host that is not this machine: the discovery document travels over the
/// network, and one that names `http://` or `https://127.0.0.1/` would turn us into a client
/// of plain text or of local services. Nor may it name a private, link-local or shared address
/// literal (`https://169.254.169.254/`, a cloud's metadata service; 10/8, 100.64/10, fc00::/7,
/// ...) on another host than the issuer's own: the operator chose to trust the issuer's host,
/// not whatever internal address its document names. Only literals are checked: a DNS name
/// that resolves to such an address is not (`docs/configuration.md` says so). A plain-http
/// issuer is a loopback development issuer (the configuration allows nothing else), and may
/// name a loopback http URI.
fn acceptable_jwks_uri(issuer: &Url, jwks: &Url) -> bool {
    let Some(host) = jwks.host() else {
        return false;
    };
    if !jwks.username().is_empty() || jwks.password().is_some() {
        return false;
    }
    let local = is_local_host(&host);
    let own_host = issuer.host() == Some(host.clone());
    match (issuer.scheme(), jwks.scheme()) {
        ("https", "https") => !local && (own_host || !is_internal_address(&host)),
        ("http", "https") => true,
        ("http", "http") => local,
        _ => false,
    }
}

/// Loopback names and addresses, `*.localhost` (RFC 6761) and the unspecified address, which
/// connects to this machine too.
fn is_local_host(host: &url::Host<&str>) -> bool {
    use url::Host;
    crate::loopback::is_loopback_host(host)
        || match host {
            Host::Domain(d) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                d == "localhost" || d.ends_with(".localhost")
            }
            Host::Ipv4(ip) => ip.is_unspecified(),
            Host::Ipv6(ip) => {
                ip.is_unspecified() || ip.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
            }
        }
}

/// An address literal of a private network (10/8, 172.16/12, 192.168/16, fc00::/7), link-local
/// (169.254/16, fe80::/10), shared (100.64/10, carrier-grade NAT), broadcast or multicast;
/// IPv4-mapped IPv6 addresses by their IPv4 rule. Names are not resolved here.
fn is_internal_address(host: &url::Host<&str>) -> bool {
    use std::net::Ipv4Addr;
    use url::Host;
    let v4 = |ip: Ipv4Addr| {
        let [a, b, ..] = ip.octets();
        ip.is_private()
            || ip.is_link_local()
            || ip.is_broadcast()
            || ip.is_multicast()
            || (a == 100 && (64..128).contains(&b))
    };
    match host {
        Host::Domain(_) => false,
        Host::Ipv4(ip) => v4(*ip),
        Host::Ipv6(ip) => match ip.to_ipv4_mapped() {
            Some(mapped) => v4(mapped),
            None => {
                let first = ip.segments()[0];
                (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80 || ip.is_multicast()
            }
        },
    }
}

/// `<issuer>.well-known/<name>`, keeping any issuer path (OIDC Discovery §4).
fn well_known(issuer: &Url, name: &str) -> Url {
    let mut url = issuer.clone();
    let path = format!("{}/.well-known/{name}", issuer.path().trim_end_matches('/'));
    url.set_path(&path);
    url
}

/// `application/json`, or any `+json` structured syntax (`application/jwk-set+json`).
fn is_json_media_type(value: &str) -> bool {
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// `max-age` from a Cache-Control value; `no-cache`/`no-store` count as 0 (then clamped up).
pub(crate) fn parse_max_age(value: &str) -> Option<Duration> {
    let mut result = None;
    for directive in value.split(',') {
        let d = directive.trim().to_ascii_lowercase();
        if d == "no-cache" || d == "no-store" {
            return Some(Duration::ZERO);
        }
        if let Some(secs) = d.strip_prefix("max-age=") {
            result = secs
                .trim_matches('"')
                .parse::<u64>()
                .ok()
                .map(Duration::from_secs);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_age_is_read_among_other_directives() {
        assert_eq!(
            parse_max_age("public, max-age=300, must-revalidate"),
            Some(Duration::from_secs(300))
        );
    }

    #[test]
    fn no_store_counts_as_zero() {
        assert_eq!(parse_max_age("no-store"), Some(Duration::ZERO));
    }

    #[test]
    fn garbage_max_age_is_ignored() {
        assert_eq!(parse_max_age("max-age=soon"), None);
    }

    #[test]
    fn jwk_set_media_type_is_json() {
        assert!(is_json_media_type(
            "application/jwk-set+json; charset=utf-8"
        ));
        assert!(is_json_media_type("Application/JSON"));
        assert!(!is_json_media_type("text/html"));
    }

    fn acceptable(issuer: &str, jwks: &str) -> bool {
        acceptable_jwks_uri(&issuer.parse().expect("url"), &jwks.parse().expect("url"))
    }

    #[test]
    fn https_issuer_discovery_may_not_name_plain_http_keys() {
        assert!(!acceptable(
            "https://tenant.example/",
            "http://127.0.0.1:8080/jwks"
        ));
        assert!(!acceptable(
            "https://tenant.example/",
            "http://keys.example/jwks"
        ));
    }

    #[test]
    fn https_issuer_discovery_may_not_name_keys_on_this_machine() {
        for jwks in [
            "https://127.0.0.1/jwks",
            "https://localhost/jwks",
            "https://LOCALHOST./jwks",
            "https://metadata.localhost/jwks",
            "https://[::1]/jwks",
            "https://[::ffff:127.0.0.1]/jwks",
            "https://0.0.0.0/jwks",
        ] {
            assert!(!acceptable("https://tenant.example/", jwks), "{jwks}");
        }
    }

    #[test]
    fn https_issuer_discovery_may_not_name_keys_on_a_private_link_local_or_shared_address() {
        for jwks in [
            "https://169.254.169.254/latest/meta-data",
            "https://10.1.2.3/jwks",
            "https://172.16.0.1/jwks",
            "https://172.31.255.255/jwks",
            "https://192.168.1.1/jwks",
            "https://100.64.0.1/jwks",
            "https://100.127.255.255/jwks",
            "https://[fc00::1]/jwks",
            "https://[fd12:3456::1]/jwks",
            "https://[fe80::1]/jwks",
            "https://[::ffff:169.254.169.254]/jwks",
            "https://[::ffff:10.0.0.1]/jwks",
        ] {
            assert!(!acceptable("https://tenant.example/", jwks), "{jwks}");
        }
    }

    #[test]
    fn https_issuer_discovery_may_name_keys_on_public_addresses_next_to_the_private_ranges() {
        for jwks in [
            "https://172.32.0.1/jwks",
            "https://100.128.0.1/jwks",
            "https://11.0.0.1/jwks",
            "https://[2001:db9::1]/jwks",
        ] {
            assert!(acceptable("https://tenant.example/", jwks), "{jwks}");
        }
    }

    #[test]
    fn an_issuer_on_a_private_address_may_name_keys_on_its_own_host() {
        // The operator chose to trust that host; discovery does not send us anywhere new.
        assert!(acceptable("https://10.0.0.5/", "https://10.0.0.5/jwks"));
        assert!(!acceptable("https://10.0.0.5/", "https://10.0.0.6/jwks"));
    }

    #[test]
    fn https_issuer_discovery_may_name_keys_on_another_https_host() {
        assert!(acceptable(
            "https://accounts.example/",
            "https://keys.example/oauth2/v3/certs"
        ));
    }

    #[test]
    fn loopback_http_issuer_discovery_may_name_loopback_http_keys() {
        assert!(acceptable(
            "http://localhost:3002/",
            "http://localhost:3002/.well-known/jwks.json"
        ));
        assert!(!acceptable(
            "http://localhost:3002/",
            "http://keys.example/jwks"
        ));
    }

    #[test]
    fn jwks_uri_with_credentials_or_another_scheme_is_refused() {
        assert!(!acceptable(
            "https://tenant.example/",
            "https://user:pw@keys.example/jwks"
        ));
        assert!(!acceptable("https://tenant.example/", "file:///etc/jwks"));
    }

    #[test]
    fn well_known_keeps_the_issuer_path() {
        let u = well_known(
            &"https://t.example/tenant/".parse().expect("url"),
            "jwks.json",
        );
        assert_eq!(u.as_str(), "https://t.example/tenant/.well-known/jwks.json");
        let u = well_known(
            &"https://t.example/".parse().expect("url"),
            "openid-configuration",
        );
        assert_eq!(
            u.as_str(),
            "https://t.example/.well-known/openid-configuration"
        );
    }
}
