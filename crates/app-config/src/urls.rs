//! The URL rules: an Auth0 `domain` (or a further issuer) becomes an issuer identifier, an
//! origin setting becomes a bare origin, and plain http is allowed only on loopback.

use url::{Host, Url};

use crate::ConfigError;

/// Whether `host` names this machine: `localhost`, 127.0.0.0/8 or `::1`.
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// Turns an Auth0 `domain` into the issuer identifier, as Auth0 and auth0-spa-js do.
///
/// `tenant.eu.auth0.com` → `https://tenant.eu.auth0.com/`; `http://localhost:3002` →
/// `http://localhost:3002/`. Plain http is refused unless the host is loopback; paths, queries,
/// fragments and credentials are refused because an issuer here is an origin.
pub fn issuer_from_domain(domain: &str) -> Result<Url, ConfigError> {
    parse_issuer(domain, "domain / AUTH0_DOMAIN")
}

/// [`issuer_from_domain`]'s rule, with errors naming `setting`.
pub(crate) fn parse_issuer(domain: &str, setting: &str) -> Result<Url, ConfigError> {
    let with_scheme = if domain.contains("://") {
        domain.to_owned()
    } else {
        format!("https://{domain}")
    };
    let bad = |problem: String| {
        ConfigError::new(
            setting,
            problem,
            "use a host name such as \"tenant.eu.auth0.com\" or an origin such as \"http://localhost:3002\"",
        )
    };
    let url =
        Url::parse(&with_scheme).map_err(|e| bad(format!("{domain:?} is not a URL ({e})")))?;
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(bad(format!("{domain:?} has a path, query or fragment")));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(format!("{domain:?} contains credentials")));
    }
    let Some(host) = url.host() else {
        return Err(bad(format!("{domain:?} has no host")));
    };
    match url.scheme() {
        "https" => {}
        "http" if is_loopback_host(&host) => {}
        "http" => {
            return Err(ConfigError::new(
                setting,
                format!("{domain:?} uses plain http on a host that is not loopback"),
                "use https (plain http is only for localhost, 127.0.0.1 or ::1)",
            ));
        }
        other => return Err(bad(format!("scheme {other:?} is not http or https"))),
    }
    Ok(url)
}

/// An http(s) origin (scheme, host, optional port) as its ASCII serialization, without a
/// trailing slash; errors name `setting`.
pub(crate) fn parse_origin(value: &str, setting: &str) -> Result<String, ConfigError> {
    let fix = "write an origin: scheme, host and optional port, e.g. \"http://localhost:3000\"";
    let url = Url::parse(value)
        .map_err(|e| ConfigError::new(setting, format!("{value:?} is not a URL ({e})"), fix))?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host().is_none()
        || url.path() != "/"
        || url.query().is_some()
        || url.fragment().is_some()
    {
        return Err(ConfigError::new(
            setting,
            format!("{value:?} is not an http(s) origin"),
            fix,
        ));
    }
    Ok(url.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_host_domain_becomes_https_issuer() {
        let url = issuer_from_domain("tenant.eu.auth0.com").expect("valid");
        assert_eq!(url.as_str(), "https://tenant.eu.auth0.com/");
    }

    #[test]
    fn plain_http_on_public_host_is_refused() {
        let err = issuer_from_domain("http://tenant.eu.auth0.com").expect_err("must refuse");
        assert_eq!(err.setting, "domain / AUTH0_DOMAIN");
        assert!(err.to_string().contains("use https"), "{err}");
    }

    #[test]
    fn plain_http_on_ipv4_and_ipv6_loopback_is_accepted() {
        assert!(issuer_from_domain("http://127.0.0.1:3002").is_ok());
        assert!(issuer_from_domain("http://[::1]:3002").is_ok());
    }

    #[test]
    fn domain_with_path_is_refused() {
        assert!(issuer_from_domain("https://tenant.auth0.com/oauth").is_err());
    }
}
