//! Loading: `auth_config.json` (path from `AUTH_CONFIG`), then the environment overrides, into
//! [`ConfigValues`] for [`AuthConfig::from_values`] to validate.
//!
//! [`ENV_VARS`] is the list of every variable read here; tests that run a binary with a clean
//! environment remove exactly these (plus the binary's own).

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::{AuthConfig, ConfigError, ConfigValues};

/// Default path of the configuration file, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "auth_config.json";

/// Every environment variable [`AuthConfig::load`] reads: the file's path, then one override
/// per key of the file.
pub const ENV_VARS: &[&str] = &[
    AUTH_CONFIG,
    AUTH0_DOMAIN,
    AUTH0_CLIENT_ID,
    AUTH0_AUDIENCE,
    APP_ORIGIN,
    API_ORIGIN,
    AUTH0_DPOP,
    AUTH0_ISSUERS,
    AUTH0_AUDIENCES,
];

const AUTH_CONFIG: &str = "AUTH_CONFIG";
const AUTH0_DOMAIN: &str = "AUTH0_DOMAIN";
const AUTH0_CLIENT_ID: &str = "AUTH0_CLIENT_ID";
const AUTH0_AUDIENCE: &str = "AUTH0_AUDIENCE";
const APP_ORIGIN: &str = "APP_ORIGIN";
const API_ORIGIN: &str = "API_ORIGIN";
const AUTH0_DPOP: &str = "AUTH0_DPOP";
const AUTH0_ISSUERS: &str = "AUTH0_ISSUERS";
const AUTH0_AUDIENCES: &str = "AUTH0_AUDIENCES";

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
    issuers: Option<Vec<IssuerEntry>>,
    audiences: Option<Vec<String>>,
}

/// One entry of `issuers`: a plain issuer, which shares `audience` and `audiences`, or an
/// issuer with audiences of its own.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum IssuerEntry {
    Shared(String),
    Own(OwnAudiences),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct OwnAudiences {
    issuer: String,
    audiences: Vec<String>,
}

/// `issuers` entries with audiences of their own: (issuer, audiences).
type OwnAudienceEntries = Vec<(String, Vec<String>)>;

/// The file's `issuers`: every issuer named, and the entries with audiences of their own.
fn split_issuers(entries: Option<Vec<IssuerEntry>>) -> (Option<Vec<String>>, OwnAudienceEntries) {
    let Some(entries) = entries else {
        return (None, Vec::new());
    };
    let mut names = Vec::new();
    let mut own = Vec::new();
    for entry in entries {
        match entry {
            IssuerEntry::Shared(issuer) => names.push(issuer),
            IssuerEntry::Own(OwnAudiences { issuer, audiences }) => {
                names.push(issuer.clone());
                own.push((issuer, audiences));
            }
        }
    }
    (Some(names), own)
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
        let path = env(AUTH_CONFIG)
            .filter(|p| !p.trim().is_empty())
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_CONFIG_PATH));
        let raw = read_file(&path)?;
        let pick = |file: Option<String>, var: &str| env(var).or(file);
        let dpop = match env(AUTH0_DPOP) {
            Some(value) => parse_bool(&value, "dpop / AUTH0_DPOP")?,
            None => raw.dpop.unwrap_or(false),
        };
        let pick_list = |file: Option<Vec<String>>, var: &str| {
            env(var)
                .map(|v| split_list(&v, var))
                .transpose()
                .map(|from_env| from_env.or(file).unwrap_or_default())
        };
        let (file_issuers, issuer_audiences) = split_issuers(raw.issuers);
        let issuers = pick_list(file_issuers, AUTH0_ISSUERS)?;
        let audiences = pick_list(raw.audiences, AUTH0_AUDIENCES)?;
        Self::from_values(ConfigValues {
            domain: pick(raw.domain, AUTH0_DOMAIN),
            client_id: pick(raw.client_id, AUTH0_CLIENT_ID),
            audience: pick(raw.audience, AUTH0_AUDIENCE),
            app_origin: pick(raw.app_origin, APP_ORIGIN),
            api_origin: pick(raw.api_origin, API_ORIGIN),
            dpop,
            issuers,
            audiences,
            issuer_audiences,
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
            AUTH_CONFIG,
            format!("cannot read {shown}: {e}"),
            "run from the project root or set AUTH_CONFIG to the path of auth_config.json",
        )
    })?;
    serde_json::from_str(&text).map_err(|e| {
        ConfigError::new(
            AUTH_CONFIG,
            format!("{shown} is not a valid configuration: {e}"),
            "write a JSON object with the keys domain, clientId, audience, appOrigin, apiOrigin (optionally dpop: a boolean; audiences: an array of strings; issuers: an array of issuer strings or {\"issuer\": ..., \"audiences\": [...]} objects)",
        )
    })
}

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

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::HashMap;

    use url::Url;

    use super::*;

    /// The repository's own `auth_config.json`.
    fn repository_config_file() -> String {
        format!("{}/../../auth_config.json", env!("CARGO_MANIFEST_DIR"))
    }

    #[test]
    fn dev_defaults_equal_the_repository_auth_config_json() {
        let path = repository_config_file();
        let loaded = AuthConfig::from_env_fn(|k| (k == AUTH_CONFIG).then(|| path.clone()))
            .expect("the repository's auth_config.json is valid");
        assert_eq!(loaded, AuthConfig::dev_defaults());
    }

    #[test]
    fn env_vars_lists_exactly_the_variables_read() {
        let path = repository_config_file();
        let asked = RefCell::new(Vec::new());
        AuthConfig::from_env_fn(|k| {
            asked.borrow_mut().push(k.to_owned());
            (k == AUTH_CONFIG).then(|| path.clone())
        })
        .expect("valid");
        let mut asked = asked.into_inner();
        asked.sort();
        let mut listed: Vec<_> = ENV_VARS.iter().map(|v| (*v).to_owned()).collect();
        listed.sort();
        assert_eq!(asked, listed);
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

    /// The configuration from a file of the required keys and `extra`, and `vars`.
    fn load_file(extra: &str, vars: &[(&str, &str)]) -> Result<AuthConfig, ConfigError> {
        let dir = tempfile::tempdir().expect("tempdir");
        load_with(&write_config(&dir, extra), vars)
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
    fn issuers_and_audiences_default_to_empty() {
        let cfg = load_file("", &[]).expect("valid");
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
        let cfg = load_file(r#","issuers":["login.example.com","https://tenant.eu.auth0.com/","http://127.0.0.1:3002"]"#, &[]).expect("valid");
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
        let cfg = load_file(
            r#","issuers":["https://file.example.com/"]"#,
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
        let cfg = load_file(
            r#","issuers":["https://file.example.com/"]"#,
            &[("AUTH0_ISSUERS", "")],
        )
        .expect("valid");
        assert!(cfg.issuers.is_empty());
    }

    #[test]
    fn plain_http_public_issuer_is_refused_naming_issuers() {
        let err = load_file("", &[("AUTH0_ISSUERS", "http://login.example.com")])
            .expect_err("must refuse");
        assert_eq!(err.setting, "issuers / AUTH0_ISSUERS");
        assert!(err.fix.contains("use https"), "{err}");
    }

    #[test]
    fn issuer_with_a_path_is_refused_naming_issuers() {
        let err = load_file(r#","issuers":["https://login.example.com/tenant"]"#, &[])
            .expect_err("must refuse");
        assert_eq!(err.setting, "issuers / AUTH0_ISSUERS");
    }

    #[test]
    fn empty_list_entry_in_the_environment_is_refused() {
        let err =
            load_file("", &[("AUTH0_AUDIENCES", "https://a.example,")]).expect_err("must refuse");
        assert_eq!(err.setting, "AUTH0_AUDIENCES");
    }

    #[test]
    fn repeats_of_the_main_issuer_and_audience_are_dropped() {
        let cfg = load_file(
            "",
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
        let err = load_file(r#","audiences":[" "]"#, &[]).expect_err("must refuse");
        assert_eq!(err.setting, "audiences / AUTH0_AUDIENCES");
    }

    #[test]
    fn issuers_of_the_wrong_json_type_are_refused() {
        let err =
            load_file(r#","issuers":"https://login.example.com/""#, &[]).expect_err("must refuse");
        assert_eq!(err.setting, "AUTH_CONFIG");
    }

    /// A file with a shared issuer, an issuer with audiences of its own and a shared audience.
    const MIXED_ISSUERS: &str = r#","audiences":["https://shared-api.example.com"],"issuers":["https://shared.example.com/",{"issuer":"login.example.com","audiences":["https://b-api.example.com"]}]"#;

    fn audiences_for<'c>(cfg: &'c AuthConfig, issuer: &str) -> Vec<&'c str> {
        cfg.audiences_for(&issuer.parse().expect("url"))
    }

    #[test]
    fn an_issuer_listed_with_audiences_of_its_own_accepts_only_those() {
        let cfg = load_file(MIXED_ISSUERS, &[]).expect("valid");
        let issuers: Vec<_> = cfg.issuers.iter().map(Url::as_str).collect();
        assert_eq!(
            issuers,
            ["https://shared.example.com/", "https://login.example.com/"]
        );
        assert_eq!(
            audiences_for(&cfg, "https://login.example.com/"),
            ["https://b-api.example.com"]
        );
        let shared = ["https://api.local.test", "https://shared-api.example.com"];
        assert_eq!(audiences_for(&cfg, "https://shared.example.com/"), shared);
        assert_eq!(audiences_for(&cfg, "http://localhost:3002/"), shared);
    }

    #[test]
    fn auth0_issuers_keeps_the_files_own_audiences_of_the_issuers_it_names() {
        let cfg = load_file(
            MIXED_ISSUERS,
            &[("AUTH0_ISSUERS", "https://login.example.com")],
        )
        .expect("valid");
        let issuers: Vec<_> = cfg.issuers.iter().map(Url::as_str).collect();
        assert_eq!(issuers, ["https://login.example.com/"]);
        assert_eq!(
            audiences_for(&cfg, "https://login.example.com/"),
            ["https://b-api.example.com"]
        );
    }

    #[test]
    fn own_audiences_for_the_main_issuer_are_refused_naming_issuers() {
        let err = load_file(
            r#","issuers":[{"issuer":"http://localhost:3002","audiences":["https://x"]}]"#,
            &[],
        )
        .expect_err("must refuse");
        assert_eq!(err.setting, "issuers / AUTH0_ISSUERS");
        assert!(err.to_string().contains("domain"), "{err}");
    }

    #[test]
    fn an_issuer_entry_without_audiences_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        for entry in [
            r#"{"issuer":"login.example.com","audiences":[]}"#,
            r#"{"issuer":"login.example.com","audiences":[" "]}"#,
        ] {
            let path = write_config(&dir, &format!(r#","issuers":[{entry}]"#));
            let err = load_with(&path, &[]).expect_err(entry);
            assert_eq!(err.setting, "issuers / AUTH0_ISSUERS", "{entry}");
        }
        let path = write_config(&dir, r#","issuers":[{"issuer":"login.example.com"}]"#);
        assert_eq!(
            load_with(&path, &[]).expect_err("no audiences").setting,
            "AUTH_CONFIG"
        );
    }
}
