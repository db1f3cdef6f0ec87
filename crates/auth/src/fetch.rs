//! HTTP access to the issuer: OIDC discovery and the JWKS document, under strict limits.
//!
//! The issuer is trusted for keys but the network is not: every response is bounded in time
//! (connect and total timeouts), in size (the cap is enforced while streaming, so a huge or
//! endless body costs at most the cap), in shape (status 200, a JSON content type) and in
//! place (redirects may not leave the issuer's host or downgrade to http). Nothing a token
//! says ever reaches this module: the URLs come from the configuration or from discovery.

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

/// Talks to one issuer. The discovered JWKS URI is remembered so discovery runs once.
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
        let issuer_host = issuer.host_str().map(str::to_owned);
        let policy = redirect::Policy::custom(move |attempt| {
            let first = attempt.previous().first();
            let host = attempt.url().host_str();
            let same_host = host.is_some()
                && (host == issuer_host.as_deref() || host == first.and_then(|u| u.host_str()));
            let downgrade =
                first.is_some_and(|u| u.scheme() == "https") && attempt.url().scheme() != "https";
            if attempt.previous().len() > 3 {
                attempt.error("too many redirects")
            } else if !same_host || downgrade {
                attempt.error("redirect leaves the issuer's host")
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
            None => {
                let u = self.discover(counters).await?;
                if let Ok(mut slot) = self.resolved_jwks.lock() {
                    *slot = Some(u.clone());
                }
                u
            }
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

    /// OIDC discovery; a 404 means "no discovery here" and falls back to the well-known JWKS path.
    async fn discover(&self, counters: &Counters) -> Result<Url, FetchError> {
        let discovery = well_known(&self.issuer, "openid-configuration");
        let fallback = well_known(&self.issuer, "jwks.json");
        let body = match self.get_json(&discovery, counters).await {
            Ok((body, _)) => body,
            Err(FetchError::Status { status, .. })
                if status == StatusCode::NOT_FOUND || status == StatusCode::GONE =>
            {
                tracing::info!(%discovery, %fallback, "no OIDC discovery document; using the well-known JWKS path");
                return Ok(fallback);
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
        let secure = match (jwks.scheme(), jwks.host()) {
            ("https", Some(_)) => true,
            ("http", Some(h)) => app_config::is_loopback_host(&h),
            _ => false,
        };
        if !secure {
            return Err(FetchError::BadJwksUri(doc.jwks_uri));
        }
        tracing::info!(%jwks, "OIDC discovery resolved the JWKS URI");
        Ok(jwks)
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
