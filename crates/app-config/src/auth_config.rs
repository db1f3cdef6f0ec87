//! [`AuthConfig`], the resolved configuration, and [`ConfigValues`], what it is resolved from.
//!
//! Every way in ends in [`AuthConfig::from_values`]: the loader (file merged with environment),
//! tests and tools alike, so there is one set of rules and one set of error messages.

use url::Url;

use crate::ConfigError;
use crate::urls::{is_loopback_host, parse_issuer, parse_origin};

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
    /// `AUTH0_AUDIENCES`), without duplicates. They are shared: `domain`'s issuer and every
    /// entry of `issuers` without audiences of its own accept `audience` and all of these.
    pub audiences: Vec<String>,
    /// Audiences of their own for some of [`AuthConfig::issuers`] (`issuers` entries written
    /// `{"issuer": ..., "audiences": [...]}`): a token of such an issuer is accepted only for
    /// these, never for the shared ones. See [`AuthConfig::audiences_for`].
    pub issuer_audiences: Vec<(Url, Vec<String>)>,
}

/// The settings as gathered (file merged with environment, or written by a test), before
/// validation. Each field is named after its `auth_config.json` key; the five `Option`s are
/// required, `None` or blank is refused naming the setting.
///
/// Start from [`ConfigValues::dev_defaults`] (or `Default`, nothing set) and change what
/// differs: `ConfigValues { domain: Some(issuer), ..ConfigValues::dev_defaults() }`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigValues {
    /// `domain` / `AUTH0_DOMAIN`: a host name or an origin.
    pub domain: Option<String>,
    /// `clientId` / `AUTH0_CLIENT_ID`.
    pub client_id: Option<String>,
    /// `audience` / `AUTH0_AUDIENCE`.
    pub audience: Option<String>,
    /// `appOrigin` / `APP_ORIGIN`.
    pub app_origin: Option<String>,
    /// `apiOrigin` / `API_ORIGIN`.
    pub api_origin: Option<String>,
    /// `dpop` / `AUTH0_DPOP`.
    pub dpop: bool,
    /// `issuers` / `AUTH0_ISSUERS`: further trusted issuers, see [`AuthConfig::with_issuers`].
    pub issuers: Vec<String>,
    /// `audiences` / `AUTH0_AUDIENCES`: further accepted audiences, see
    /// [`AuthConfig::with_audiences`].
    pub audiences: Vec<String>,
    /// The `issuers` entries with audiences of their own (issuer, audiences), see
    /// [`AuthConfig::with_issuer_audiences`]. An issuer named here must also be in `issuers`.
    pub issuer_audiences: Vec<(String, Vec<String>)>,
}

impl ConfigValues {
    /// The values of the repository's `auth_config.json`: the dev issuer, the SPA and the API on
    /// their default local ports (a test holds the two equal).
    pub fn dev_defaults() -> Self {
        Self {
            domain: Some("http://localhost:3002".into()),
            client_id: Some("local-dev-spa".into()),
            audience: Some("https://api.local.test".into()),
            app_origin: Some("http://localhost:3000".into()),
            api_origin: Some("http://localhost:3001".into()),
            dpop: false,
            issuers: Vec::new(),
            audiences: Vec::new(),
            issuer_audiences: Vec::new(),
        }
    }
}

const ISSUERS_SETTING: &str = "issuers / AUTH0_ISSUERS";
const AUDIENCES_SETTING: &str = "audiences / AUTH0_AUDIENCES";

impl AuthConfig {
    /// Validates gathered values: the one place every setting's rule is applied.
    pub fn from_values(values: ConfigValues) -> Result<Self, ConfigError> {
        let domain = required(
            values.domain,
            "domain / AUTH0_DOMAIN",
            "your Auth0 tenant domain, e.g. \"tenant.eu.auth0.com\", or \"http://localhost:3002\" for the dev issuer",
        )?;
        let client_id = required(
            values.client_id,
            "clientId / AUTH0_CLIENT_ID",
            "the Client ID of your Auth0 single-page application",
        )?;
        let audience = required(
            values.audience,
            "audience / AUTH0_AUDIENCE",
            "the Identifier of your Auth0 API, e.g. \"https://api.local.test\"",
        )?;
        let app_origin = required(
            values.app_origin,
            "appOrigin / APP_ORIGIN",
            "the SPA's origin, e.g. \"http://localhost:3000\"",
        )?;
        let api_origin = required(
            values.api_origin,
            "apiOrigin / API_ORIGIN",
            "the API's origin, e.g. \"http://localhost:3001\"",
        )?;
        Self {
            issuer: parse_issuer(&domain, "domain / AUTH0_DOMAIN")?,
            app_origin: parse_origin(&app_origin, "appOrigin / APP_ORIGIN")?,
            api_origin: parse_origin(&api_origin, "apiOrigin / API_ORIGIN")?,
            domain,
            client_id,
            audience,
            dpop: values.dpop,
            issuers: Vec::new(),
            audiences: Vec::new(),
            issuer_audiences: Vec::new(),
        }
        .with_issuers(&values.issuers)?
        .with_audiences(&values.audiences)?
        .with_issuer_audiences(&values.issuer_audiences)
    }

    /// The configuration of the repository's `auth_config.json` ([`ConfigValues::dev_defaults`]):
    /// what development and most tests run with.
    pub fn dev_defaults() -> Self {
        Self::from_values(ConfigValues::dev_defaults())
            .expect("the dev defaults are valid (a test holds them)")
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

    /// Gives some of [`AuthConfig::issuers`] audiences of their own (`issuers` entries written as
    /// objects). Each issuer is validated like `domain`; `domain`'s own issuer is refused (it
    /// takes `audience` and `audiences`), as are an empty list, an empty entry and an issuer
    /// given twice. An issuer that is not among `issuers` (`AUTH0_ISSUERS` replaced the file's
    /// list and left it out) is skipped: it is not trusted at all.
    pub fn with_issuer_audiences(
        mut self,
        entries: &[(String, Vec<String>)],
    ) -> Result<Self, ConfigError> {
        for (issuer, audiences) in entries {
            let url = parse_issuer(issuer.trim(), ISSUERS_SETTING)?;
            if url == self.issuer {
                return Err(ConfigError::new(
                    ISSUERS_SETTING,
                    format!("{url} is domain's issuer, which takes audience and audiences"),
                    "give domain's issuer no audiences of its own; use audience and audiences",
                ));
            }
            let mut own: Vec<String> = Vec::new();
            for audience in audiences.iter().map(|a| a.trim()) {
                if !audience.is_empty() && !own.iter().any(|a| a == audience) {
                    own.push(audience.to_owned());
                }
            }
            if own.is_empty() || audiences.iter().any(|a| a.trim().is_empty()) {
                return Err(ConfigError::new(
                    ISSUERS_SETTING,
                    format!("the entry for {url} has no audiences or an empty one"),
                    "list its API identifiers in \"audiences\", or write the issuer as a plain string to share audience and audiences",
                ));
            }
            if self
                .issuer_audiences
                .iter()
                .any(|(listed, _)| *listed == url)
            {
                return Err(ConfigError::new(
                    ISSUERS_SETTING,
                    format!("{url} has audiences of its own twice"),
                    "write one entry per issuer",
                ));
            }
            if self.issuers.contains(&url) {
                self.issuer_audiences.push((url, own));
            }
        }
        Ok(self)
    }

    /// The audiences a token of `issuer` may carry: its own (see
    /// [`AuthConfig::issuer_audiences`]), or else `audience` and `audiences`.
    pub fn audiences_for(&self, issuer: &Url) -> Vec<&str> {
        match self
            .issuer_audiences
            .iter()
            .find(|(listed, _)| listed == issuer)
        {
            Some((_, own)) => own.iter().map(String::as_str).collect(),
            None => self.all_audiences().collect(),
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The development defaults changed by `change`, accepted.
    fn accepted(change: impl FnOnce(&mut ConfigValues)) -> AuthConfig {
        let mut values = ConfigValues::dev_defaults();
        change(&mut values);
        AuthConfig::from_values(values).expect("valid")
    }

    /// Asserts that the development defaults changed by `change` are refused naming `setting`.
    fn assert_refused_naming(change: impl FnOnce(&mut ConfigValues), setting: &str) {
        let mut values = ConfigValues::dev_defaults();
        change(&mut values);
        let err = AuthConfig::from_values(values).expect_err("must refuse");
        assert_eq!(err.setting, setting);
    }

    #[test]
    fn loopback_origin_domain_becomes_issuer_with_trailing_slash() {
        let cfg = AuthConfig::dev_defaults();
        assert_eq!(cfg.issuer.as_str(), "http://localhost:3002/");
        assert_eq!(cfg.issuer_origin(), "http://localhost:3002");
        assert!(cfg.issuer_is_local());
    }

    #[test]
    fn empty_audience_names_the_setting() {
        assert_refused_naming(
            |v| v.audience = Some("  ".into()),
            "audience / AUTH0_AUDIENCE",
        );
    }

    #[test]
    fn a_missing_required_value_names_the_setting() {
        assert_refused_naming(|v| v.client_id = None, "clientId / AUTH0_CLIENT_ID");
    }

    #[test]
    fn app_origin_is_normalised_without_trailing_slash() {
        let cfg = accepted(|v| v.app_origin = Some("http://localhost:3000/".into()));
        assert_eq!(cfg.app_origin, "http://localhost:3000");
    }

    #[test]
    fn app_origin_with_path_is_refused() {
        assert_refused_naming(
            |v| v.app_origin = Some("http://localhost:3000/app".into()),
            "appOrigin / APP_ORIGIN",
        );
    }

    #[test]
    fn further_issuers_and_audiences_are_validated_and_deduplicated() {
        let cfg = AuthConfig::from_values(ConfigValues {
            dpop: true,
            issuers: vec!["http://localhost:3002".into(), "login.example.com".into()],
            audiences: vec!["https://api.local.test".into(), "https://other.test".into()],
            ..ConfigValues::dev_defaults()
        })
        .expect("valid");
        assert!(cfg.dpop);
        let issuers: Vec<_> = cfg.issuers.iter().map(Url::as_str).collect();
        assert_eq!(issuers, ["https://login.example.com/"]);
        assert_eq!(cfg.audiences, ["https://other.test"]);
    }

    #[test]
    fn public_json_has_exactly_the_six_public_keys() {
        let json = AuthConfig::dev_defaults().public_json();
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
}
