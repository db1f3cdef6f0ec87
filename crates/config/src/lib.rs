//! The one configuration shared by the SPA server, the API and the dev issuer.
//!
//! Every binary resolves the same settings the same way: `auth_config.json` (path from
//! `AUTH_CONFIG`, default `auth_config.json` in the working directory), then the environment
//! overrides `AUTH0_DOMAIN`, `AUTH0_CLIENT_ID`, `AUTH0_AUDIENCE`, `APP_ORIGIN`, `API_ORIGIN`,
//! `AUTH0_DPOP`, `AUTH0_ISSUERS`, `AUTH0_AUDIENCES` (the last two comma-separated lists).
//! Validation happens once, here, at the edge: what comes out is an [`AuthConfig`] whose URLs are
//! parsed and whose issuers all obey the "plain http only on loopback" rule. A mistake is a
//! [`ConfigError`] that names the setting and the fix in one line; binaries print it with
//! [`exit_on_config_error`] and exit with code 2.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use url::{Host, Url};

/// Default path of the configuration file, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "auth_config.json";

/// Every environment variable [`AuthConfig::load`] reads, for tools that list a binary's
/// settings.
pub const ENV_VARS: [&str; 9] = [
    "AUTH_CONFIG",
    "AUTH0_DOMAIN",
    "AUTH0_CLIENT_ID",
    "AUTH0_AUDIENCE",
    "APP_ORIGIN",
    "API_ORIGIN",
    "AUTH0_DPOP",
    "AUTH0_ISSUERS",
    "AUTH0_AUDIENCES",
];

/// A configuration mistake: which setting, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid setting {setting}: {problem}; fix: {fix}")]
pub struct ConfigError {
    /// The setting, as the user writes it (`domain` / `AUTH0_DOMAIN`, `API_PORT`, ...).
    pub setting: String,
    /// What is wrong with it.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl ConfigError {
    /// Builds an error for `setting`.
    pub fn new(
        setting: impl Into<String>,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) -> Self {
        Self {
            setting: setting.into(),
            problem: problem.into(),
            fix: fix.into(),
        }
    }
}

/// Prints `error: <message>` as one line on stderr and exits with code 2.
///
/// The only way binaries report configuration mistakes: no panic, no backtrace.
pub fn exit_on_config_error(err: &dyn fmt::Display) -> ! {
    eprintln!("error: {err}");
    std::process::exit(2)
}

/// The resolved, validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// `domain` as written (`tenant.eu.auth0.com` or `http://localhost:3002`); auth0-spa-js
    /// takes it as is.
    pub domain: String,
    /// The issuer identifier: the domain's origin with a trailing slash, as Auth0 writes `iss`.
    pub issuer: Url,
    /// The SPA's OAuth client id.
    pub client_id: String,
    /// The API identifier: the `aud` access tokens must carry.
    pub audience: String,
    /// Origin of the SPA, without trailing slash (`http://localhost:3000`).
    pub app_origin: String,
    /// Origin of the API, without trailing slash (`http://localhost:3001`).
    pub api_origin: String,
    /// Whether the SPA asks for DPoP-bound access tokens and calls the API with DPoP proofs
    /// (`dpop`, env `AUTH0_DPOP`; default `false`).
    pub dpop: bool,
    /// Further issuers the API trusts besides [`AuthConfig::issuer`] (`issuers` /
    /// `AUTH0_ISSUERS`): exact `iss` values such as an Auth0 custom domain's
    /// `https://login.example.com/`. Validated like `domain`, without duplicates.
    pub issuers: Vec<Url>,
    /// Further audiences the API accepts besides [`AuthConfig::audience`] (`audiences` /
    /// `AUTH0_AUDIENCES`), without duplicates.
    pub audiences: Vec<String>,
}

/// The file's shape: the same keys as Auth0's quickstart `auth_config.json`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawConfig {
    domain: Option<String>,
    client_id: Option<String>,
    audience: Option<String>,
    app_origin: Option<String>,
    api_origin: Option<String>,
    dpop: Option<bool>,
    issuers: Option<Vec<String>>,
    audiences: Option<Vec<String>>,
}

impl AuthConfig {
    /// Resolves the configuration from the process environment and the file it names.
    pub fn load() -> Result<Self, ConfigError> {
        Self::from_env_fn(|key| std::env::var(key).ok())
    }

    /// Resolves the configuration with `env` standing in for the process environment.
    ///
    /// The file is read from `AUTH_CONFIG` (default [`DEFAULT_CONFIG_PATH`]). A missing default
    /// file is an error too: every setting must come from somewhere.
    pub fn from_env_fn(env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let path = env("AUTH_CONFIG")
            .filter(|p| !p.trim().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH));
        let raw = read_file(&path)?;
        let pick = |file: Option<String>, var: &str| env(var).or(file);
        let dpop = match env("AUTH0_DPOP") {
            Some(value) => parse_bool(&value, "dpop / AUTH0_DPOP")?,
            None => raw.dpop.unwrap_or(false),
        };
        let pick_list = |file: Option<Vec<String>>, var: &str| {
            env(var)
                .map(|v| split_list(&v, var))
                .transpose()
                .map(|from_env| from_env.or(file).unwrap_or_default())
        };
        let issuers = pick_list(raw.issuers, "AUTH0_ISSUERS")?;
        let audiences = pick_list(raw.audiences, "AUTH0_AUDIENCES")?;
        let config = Self::from_values(
            pick(raw.domain, "AUTH0_DOMAIN"),
            pick(raw.client_id, "AUTH0_CLIENT_ID"),
            pick(raw.audience, "AUTH0_AUDIENCE"),
            pick(raw.app_origin, "APP_ORIGIN"),
            pick(raw.api_origin, "API_ORIGIN"),
        )?
        .with_issuers(&issuers)?
        .with_audiences(&audiences)?;
        Ok(Self { dpop, ..config })
    }

    /// Validates already-gathered values (file merged with environment).
    pub fn from_values(
        domain: Option<String>,
        client_id: Option<String>,
        audience: Option<String>,
        app_origin: Option<String>,
        api_origin: Option<String>,
    ) -> Result<Self, ConfigError> {
        let domain = required(
            domain,
            "domain / AUTH0_DOMAIN",
            "your Auth0 tenant domain, e.g. \"tenant.eu.auth0.com\", or \"http://localhost:3002\" for the dev issuer",
        )?;
        let client_id = required(
            client_id,
            "clientId / AUTH0_CLIENT_ID",
            "the Client ID of your Auth0 single-page application",
        )?;
        let audience = required(
            audience,
            "audience / AUTH0_AUDIENCE",
            "the Identifier of your Auth0 API, e.g. \"https://api.local.test\"",
        )?;
        let app_origin = required(
            app_origin,
            "appOrigin / APP_ORIGIN",
            "the SPA's origin, e.g. \"http://localhost:3000\"",
        )?;
        let api_origin = required(
            api_origin,
            "apiOrigin / API_ORIGIN",
            "the API's origin, e.g. \"http://localhost:3001\"",
        )?;
        Ok(Self {
            issuer: issuer_from_domain(&domain)?,
            app_origin: parse_origin(&app_origin, "appOrigin / APP_ORIGIN")?,
            api_origin: parse_origin(&api_origin, "apiOrigin / API_ORIGIN")?,
            domain,
            client_id,
            audience,
            dpop: false,
            issuers: Vec::new(),
            audiences: Vec::new(),
        })
    }

    /// Adds further trusted issuers (`issuers` / `AUTH0_ISSUERS`), each validated like `domain`:
    /// a host name or an origin, https unless loopback. The main issuer and repeats are dropped,
    /// so every issuer appears once in [`AuthConfig::all_issuers`].
    pub fn with_issuers(mut self, issuers: &[String]) -> Result<Self, ConfigError> {
        for value in issuers {
            let url = parse_issuer(value.trim(), ISSUERS_SETTING)?;
            if url != self.issuer && !self.issuers.contains(&url) {
                self.issuers.push(url);
            }
        }
        Ok(self)
    }

    /// Adds further accepted audiences (`audiences` / `AUTH0_AUDIENCES`); an empty one is
    /// refused, the main audience and repeats are dropped.
    pub fn with_audiences(mut self, audiences: &[String]) -> Result<Self, ConfigError> {
        for value in audiences {
            let value = value.trim();
            if value.is_empty() {
                return Err(ConfigError::new(
                    AUDIENCES_SETTING,
                    "an entry is empty",
                    "list API identifiers such as \"https://api.example.com\", without empty entries",
                ));
            }
            if value != self.audience && !self.audiences.iter().any(|a| a == value) {
                self.audiences.push(value.to_owned());
            }
        }
        Ok(self)
    }

    /// Every trusted issuer: [`AuthConfig::issuer`] first, then [`AuthConfig::issuers`].
    pub fn all_issuers(&self) -> impl Iterator<Item = &Url> {
        std::iter::once(&self.issuer).chain(&self.issuers)
    }

    /// Every accepted audience: [`AuthConfig::audience`] first, then [`AuthConfig::audiences`].
    pub fn all_audiences(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.audience.as_str()).chain(self.audiences.iter().map(String::as_str))
    }

    /// The issuer without its trailing slash: the base for endpoint URLs and the SPA's `domain`.
    pub fn issuer_origin(&self) -> String {
        self.issuer.as_str().trim_end_matches('/').to_owned()
    }

    /// Whether the issuer lives on this machine, i.e. the embedded dev issuer is meant.
    pub fn issuer_is_local(&self) -> bool {
        self.issuer.host().is_some_and(|h| is_loopback_host(&h))
    }

    /// The JSON the SPA reads from `GET /auth_config.json`: public values only.
    pub fn public_json(&self) -> serde_json::Value {
        serde_json::json!({
            "domain": self.issuer_origin(),
            "clientId": self.client_id,
            "audience": self.audience,
            "appOrigin": self.app_origin,
            "apiOrigin": self.api_origin,
            "dpop": self.dpop,
        })
    }
}

/// `true`/`false` (also `1`/`0`), the only spellings a boolean setting takes.
fn parse_bool(value: &str, setting: &str) -> Result<bool, ConfigError> {
    match value.trim().to_ascii_lowercase().as_str() {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(ConfigError::new(
            setting,
            format!("{other:?} is not a boolean"),
            "use true or false",
        )),
    }
}

fn read_file(path: &Path) -> Result<RawConfig, ConfigError> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| {
        ConfigError::new(
            "AUTH_CONFIG",
            format!("cannot read {shown}: {e}"),
            "run from the project root or set AUTH_CONFIG to the path of auth_config.json",
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        ConfigError::new(
            "AUTH_CONFIG",
            format!("{shown} is not a valid configuration: {e}"),
            "write a JSON object with the keys domain, clientId, audience, appOrigin, apiOrigin (optionally dpop: a boolean; issuers, audiences: arrays of strings)",
        )
    })
}

const ISSUERS_SETTING: &str = "issuers / AUTH0_ISSUERS";
const AUDIENCES_SETTING: &str = "audiences / AUTH0_AUDIENCES";

/// A comma-separated list from the environment. An empty or blank value is the empty list (so
/// the variable can clear what the file says); an empty entry (`a,,b`, a trailing comma) is
/// refused rather than guessed at.
fn split_list(value: &str, var: &str) -> Result<Vec<String>, ConfigError> {
    if value.trim().is_empty() {
        return Ok(Vec::new());
    }
    value
        .split(',')
        .map(|item| {
            let item = item.trim();
            if item.is_empty() {
                Err(ConfigError::new(
                    var,
                    format!("{value:?} has an empty entry"),
                    "separate the entries with single commas, without a trailing comma",
                ))
            } else {
                Ok(item.to_owned())
            }
        })
        .collect()
}

fn required(value: Option<String>, setting: &str, what: &str) -> Result<String, ConfigError> {
    match value.map(|v| v.trim().to_owned()) {
        Some(v) if !v.is_empty() => Ok(v),
        _ => Err(ConfigError::new(
            setting,
            "missing or empty",
            format!("set it in auth_config.json or the environment to {what}"),
        )),
    }
}

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
fn parse_issuer(domain: &str, setting: &str) -> Result<Url, ConfigError> {
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

fn parse_origin(value: &str, setting: &str) -> Result<String, ConfigError> {
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
    use std::collections::HashMap;

    fn dev_values() -> [Option<String>; 5] {
        [
            Some("http://localhost:3002".into()),
            Some("local-dev-spa".into()),
            Some("https://api.local.test".into()),
            Some("http://localhost:3000".into()),
            Some("http://localhost:3001".into()),
        ]
    }

    fn resolve(values: [Option<String>; 5]) -> Result<AuthConfig, ConfigError> {
        let [d, c, a, app, api] = values;
        AuthConfig::from_values(d, c, a, app, api)
    }

    #[test]
    fn loopback_origin_domain_becomes_issuer_with_trailing_slash() {
        let cfg = resolve(dev_values()).expect("dev defaults are valid");
        assert_eq!(cfg.issuer.as_str(), "http://localhost:3002/");
        assert_eq!(cfg.issuer_origin(), "http://localhost:3002");
        assert!(cfg.issuer_is_local());
    }

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

    #[test]
    fn empty_audience_names_the_setting() {
        let mut v = dev_values();
        v[2] = Some("  ".into());
        let err = resolve(v).expect_err("must refuse");
        assert_eq!(err.setting, "audience / AUTH0_AUDIENCE");
    }

    #[test]
    fn app_origin_is_normalised_without_trailing_slash() {
        let mut v = dev_values();
        v[3] = Some("http://localhost:3000/".into());
        assert_eq!(
            resolve(v).expect("valid").app_origin,
            "http://localhost:3000"
        );
    }

    #[test]
    fn app_origin_with_path_is_refused() {
        let mut v = dev_values();
        v[3] = Some("http://localhost:3000/app".into());
        assert_eq!(
            resolve(v).expect_err("must refuse").setting,
            "appOrigin / APP_ORIGIN"
        );
    }

    #[test]
    fn environment_overrides_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cfg.json");
        std::fs::write(
            &path,
            r#"{"domain":"http://localhost:3002","clientId":"file-client","audience":"https://a","appOrigin":"http://localhost:3000","apiOrigin":"http://localhost:3001"}"#,
        )
        .expect("write");
        let env: HashMap<&str, String> = HashMap::from([
            ("AUTH_CONFIG", path.display().to_string()),
            ("AUTH0_CLIENT_ID", "env-client".to_owned()),
        ]);
        let cfg = AuthConfig::from_env_fn(|k| env.get(k).cloned()).expect("valid");
        assert_eq!(cfg.client_id, "env-client");
        assert_eq!(cfg.audience, "https://a");
    }

    #[test]
    fn unreadable_file_names_auth_config() {
        let err = AuthConfig::from_env_fn(|k| {
            (k == "AUTH_CONFIG").then(|| "/nonexistent/auth_config.json".to_owned())
        })
        .expect_err("must refuse");
        assert_eq!(err.setting, "AUTH_CONFIG");
    }

    #[test]
    fn unknown_key_in_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cfg.json");
        std::fs::write(&path, r#"{"domian":"x"}"#).expect("write");
        let err =
            AuthConfig::from_env_fn(|k| (k == "AUTH_CONFIG").then(|| path.display().to_string()))
                .expect_err("must refuse");
        assert!(err.problem.contains("domian"), "{err}");
    }

    #[test]
    fn public_json_has_exactly_the_six_public_keys() {
        let cfg = resolve(dev_values()).expect("valid");
        let json = cfg.public_json();
        let keys: Vec<_> = json.as_object().expect("object").keys().cloned().collect();
        assert_eq!(
            keys,
            [
                "apiOrigin",
                "appOrigin",
                "audience",
                "clientId",
                "domain",
                "dpop"
            ]
        );
        assert_eq!(json["dpop"], serde_json::Value::Bool(false));
    }

    fn with_file(contents: &str, vars: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cfg.json");
        std::fs::write(&path, contents).expect("write");
        let mut env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.insert("AUTH_CONFIG".into(), path.display().to_string());
        AuthConfig::from_env_fn(|k| env.get(k).cloned())
    }

    const DEV_FILE: &str = r#"{"domain":"http://localhost:3002","clientId":"c","audience":"https://a","appOrigin":"http://localhost:3000","apiOrigin":"http://localhost:3001"}"#;

    #[test]
    fn dpop_defaults_to_false() {
        assert!(!with_file(DEV_FILE, &[]).expect("valid").dpop);
    }

    #[test]
    fn dpop_is_read_from_the_file() {
        let file = DEV_FILE.replace('}', r#","dpop":true}"#);
        assert!(with_file(&file, &[]).expect("valid").dpop);
    }

    #[test]
    fn auth0_dpop_overrides_the_file() {
        let file = DEV_FILE.replace('}', r#","dpop":true}"#);
        assert!(
            !with_file(&file, &[("AUTH0_DPOP", "false")])
                .expect("valid")
                .dpop
        );
        assert!(
            with_file(DEV_FILE, &[("AUTH0_DPOP", "true")])
                .expect("valid")
                .dpop
        );
    }

    #[test]
    fn auth0_dpop_that_is_not_a_boolean_names_the_setting() {
        let err = with_file(DEV_FILE, &[("AUTH0_DPOP", "yes please")]).expect_err("must refuse");
        assert_eq!(err.setting, "dpop / AUTH0_DPOP");
    }

    fn write_config(dir: &tempfile::TempDir, extra: &str) -> String {
        let path = dir.path().join("cfg.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"domain":"http://localhost:3002","clientId":"c","audience":"https://api.local.test","appOrigin":"http://localhost:3000","apiOrigin":"http://localhost:3001"{extra}}}"#
            ),
        )
        .expect("write");
        path.display().to_string()
    }

    fn load_with(path: &str, vars: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        let mut env: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        env.insert("AUTH_CONFIG".into(), path.to_owned());
        AuthConfig::from_env_fn(|k| env.get(k).cloned())
    }

    #[test]
    fn env_vars_lists_every_variable_load_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(&dir, "");
        let read = std::sync::Mutex::new(Vec::new());
        AuthConfig::from_env_fn(|k| {
            read.lock().expect("lock").push(k.to_owned());
            (k == "AUTH_CONFIG").then(|| path.clone())
        })
        .expect("valid");
        let read = read.into_inner().expect("lock");
        for name in &read {
            assert!(
                ENV_VARS.contains(&name.as_str()),
                "{name} is read but not listed"
            );
        }
        assert_eq!(read.len(), ENV_VARS.len(), "read: {read:?}");
    }

    #[test]
    fn issuers_and_audiences_default_to_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = load_with(&write_config(&dir, ""), &[]).expect("valid");
        assert!(cfg.issuers.is_empty());
        assert!(cfg.audiences.is_empty());
        let all: Vec<_> = cfg.all_issuers().map(Url::as_str).collect();
        assert_eq!(all, ["http://localhost:3002/"]);
        assert_eq!(
            cfg.all_audiences().collect::<Vec<_>>(),
            ["https://api.local.test"]
        );
    }

    #[test]
    fn issuers_from_the_file_are_normalised_like_domain() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(
            &dir,
            r#","issuers":["login.example.com","https://tenant.eu.auth0.com/","http://127.0.0.1:3002"]"#,
        );
        let cfg = load_with(&path, &[]).expect("valid");
        let all: Vec<_> = cfg.all_issuers().map(Url::as_str).collect();
        assert_eq!(
            all,
            [
                "http://localhost:3002/",
                "https://login.example.com/",
                "https://tenant.eu.auth0.com/",
                "http://127.0.0.1:3002/"
            ]
        );
    }

    #[test]
    fn auth0_issuers_is_a_comma_separated_override_of_the_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(&dir, r#","issuers":["https://file.example.com/"]"#);
        let cfg = load_with(
            &path,
            &[(
                "AUTH0_ISSUERS",
                " https://login.example.com/ , https://login2.example.com",
            )],
        )
        .expect("valid");
        let issuers: Vec<_> = cfg.issuers.iter().map(Url::as_str).collect();
        assert_eq!(
            issuers,
            ["https://login.example.com/", "https://login2.example.com/"]
        );
    }

    #[test]
    fn blank_auth0_issuers_clears_the_file_list() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(&dir, r#","issuers":["https://file.example.com/"]"#);
        let cfg = load_with(&path, &[("AUTH0_ISSUERS", "")]).expect("valid");
        assert!(cfg.issuers.is_empty());
    }

    #[test]
    fn plain_http_public_issuer_is_refused_naming_issuers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load_with(
            &write_config(&dir, ""),
            &[("AUTH0_ISSUERS", "http://login.example.com")],
        )
        .expect_err("must refuse");
        assert_eq!(err.setting, "issuers / AUTH0_ISSUERS");
        assert!(err.fix.contains("use https"), "{err}");
    }

    #[test]
    fn issuer_with_a_path_is_refused_naming_issuers() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(&dir, r#","issuers":["https://login.example.com/tenant"]"#);
        let err = load_with(&path, &[]).expect_err("must refuse");
        assert_eq!(err.setting, "issuers / AUTH0_ISSUERS");
    }

    #[test]
    fn empty_list_entry_in_the_environment_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = load_with(
            &write_config(&dir, ""),
            &[("AUTH0_AUDIENCES", "https://a.example,")],
        )
        .expect_err("must refuse");
        assert_eq!(err.setting, "AUTH0_AUDIENCES");
    }

    #[test]
    fn repeats_of_the_main_issuer_and_audience_are_dropped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let cfg = load_with(
            &write_config(&dir, ""),
            &[
                (
                    "AUTH0_ISSUERS",
                    "http://localhost:3002/,http://127.0.0.1:3002,http://127.0.0.1:3002/",
                ),
                (
                    "AUTH0_AUDIENCES",
                    "https://api.local.test,https://other.test,https://other.test",
                ),
            ],
        )
        .expect("valid");
        let issuers: Vec<_> = cfg.issuers.iter().map(Url::as_str).collect();
        assert_eq!(issuers, ["http://127.0.0.1:3002/"]);
        assert_eq!(cfg.audiences, ["https://other.test"]);
    }

    #[test]
    fn empty_audience_entry_in_the_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err =
            load_with(&write_config(&dir, r#","audiences":[" "]"#), &[]).expect_err("must refuse");
        assert_eq!(err.setting, "audiences / AUTH0_AUDIENCES");
    }

    #[test]
    fn issuers_of_the_wrong_json_type_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(&dir, r#","issuers":"https://login.example.com/""#);
        let err = load_with(&path, &[]).expect_err("must refuse");
        assert_eq!(err.setting, "AUTH_CONFIG");
    }

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
