//! Listen addresses: `<PREFIX>_HOST` and `<PREFIX>_PORT`, loopback unless told otherwise.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use crate::ConfigError;

/// Resolves a listen address from `<PREFIX>_HOST` (default 127.0.0.1) and `<PREFIX>_PORT`.
///
/// Binaries usually take these through clap; this is the same rule for code that does not.
pub fn listen_addr(
    prefix: &str,
    default_port: u16,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SocketAddr, ConfigError> {
    let host_var = format!("{prefix}_HOST");
    let port_var = format!("{prefix}_PORT");
    let ip = match env(&host_var) {
        None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(h) if h.eq_ignore_ascii_case("localhost") => IpAddr::V4(Ipv4Addr::LOCALHOST),
        Some(h) => h.parse().map_err(|_| {
            ConfigError::new(
                &host_var,
                format!("{h:?} is not an IP address"),
                "use an address such as 127.0.0.1 or ::1",
            )
        })?,
    };
    let port = match env(&port_var) {
        None => default_port,
        Some(p) => p.parse().map_err(|_| {
            ConfigError::new(
                &port_var,
                format!("{p:?} is not a port number"),
                "use a number from 0 to 65535 (0 picks a free port)",
            )
        })?,
    };
    Ok(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_addr_defaults_to_loopback_and_reads_port() {
        let addr =
            listen_addr("API", 3001, |k| (k == "API_PORT").then(|| "0".to_owned())).expect("valid");
        assert_eq!(addr.to_string(), "127.0.0.1:0");
    }

    #[test]
    fn listen_addr_rejects_bad_port_naming_the_variable() {
        let err = listen_addr("SPA", 3000, |k| (k == "SPA_PORT").then(|| "x".to_owned()))
            .expect_err("must refuse");
        assert_eq!(err.setting, "SPA_PORT");
    }
}
