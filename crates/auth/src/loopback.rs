//! Which hosts are this machine: the one place plain http is tolerated (a local issuer in
//! development), for the issuer URLs the configuration accepts and the JWKS URIs discovery may
//! name.
//!
//! Auth's own rule, not borrowed from an application's configuration crate, so that the library
//! stands alone; it matches the rule the workspace applies to `domain`.

use url::Host;

/// `localhost` (any case) and loopback addresses (127.0.0.0/8, `::1`).
pub(crate) fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn localhost_and_loopback_addresses_are_loopback() {
        for host in ["localhost", "LocalHost", "127.0.0.1", "127.8.9.10", "[::1]"] {
            let url = url::Url::parse(&format!("http://{host}/")).expect("url");
            assert!(is_loopback_host(&url.host().expect("host")), "{host}");
        }
    }

    #[test]
    fn other_hosts_are_not_loopback() {
        for host in [
            "example.com",
            "localhost.example.com",
            "10.0.0.1",
            "[::2]",
            "0.0.0.0",
        ] {
            let url = url::Url::parse(&format!("http://{host}/")).expect("url");
            assert!(!is_loopback_host(&url.host().expect("host")), "{host}");
        }
    }
}
