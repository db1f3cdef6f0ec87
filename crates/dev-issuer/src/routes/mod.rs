//! The HTTP surface: one module per endpoint family, and the route table.
//!
//! Handlers are thin: they parse parameters, ask [`crate::issuer::Issuer`], and shape the
//! answer. Parameters are parsed from the raw query string or body with `form_urlencoded`
//! (never failing, so a malformed request gets our own error, not a framework default) and a
//! repeated parameter is refused, as RFC 6749 §3.1 requires.

mod authorize;
mod dev;
mod discovery;
mod dpop;
mod logout;
mod token;
mod userinfo;

use actix_cors::Cors;
use actix_web::http::header::{self, HeaderName};
use actix_web::web;

/// Name of the login-session cookie.
pub(crate) const SESSION_COOKIE: &str = "dev_issuer_session";
/// Name of the browser-binding cookie that ties a shown login form to the browser it was shown to.
pub(crate) const BROWSER_COOKIE: &str = "dev_issuer_browser";

/// Registers every route. `dev_endpoints` decides whether `/dev/` exists at all.
pub(crate) fn configure(cfg: &mut web::ServiceConfig, origins: &[String], dev_endpoints: bool) {
    // The endpoints the SDK calls with `fetch` answer the SPA's CORS requests.
    let with_cors = |path: &str, route| web::resource(path).wrap(cors(origins)).route(route);
    let get_userinfo = web::get().to(userinfo::userinfo);
    cfg.service(with_cors(
        "/.well-known/openid-configuration",
        web::get().to(discovery::openid_configuration),
    ))
    .service(with_cors(
        "/.well-known/jwks.json",
        web::get().to(discovery::jwks),
    ))
    .service(web::resource("/authorize").route(web::get().to(authorize::authorize)))
    .service(web::resource("/login").route(web::post().to(authorize::login)))
    .service(with_cors("/oauth/token", web::post().to(token::token)))
    .service(with_cors("/oauth/revoke", web::post().to(token::revoke)))
    .service(with_cors("/userinfo", get_userinfo).route(web::post().to(userinfo::userinfo)))
    .service(web::resource("/v2/logout").route(web::get().to(logout::logout)));
    if dev_endpoints {
        cfg.service(
            web::scope("/dev")
                .route("/keys/rotate", web::post().to(dev::rotate_key))
                .route("/keys/retire", web::post().to(dev::retire_previous_key))
                .route("/tokens", web::post().to(dev::mint_token)),
        );
    }
}

/// CORS for the SPA: the SDK calls these endpoints with `fetch`, sending `Auth0-Client`.
fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("auth0-client"),
            HeaderName::from_static("dpop"),
        ])
        // The SDK reads the nonce of a `use_dpop_nonce` answer from this header.
        .expose_headers([
            HeaderName::from_static("dpop-nonce"),
            header::WWW_AUTHENTICATE,
        ])
        .max_age(86_400);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Request parameters in arrival order.
#[derive(Debug)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn from_urlencoded(bytes: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    /// From a JSON object: string values as they are, numbers and booleans as text, the rest dropped.
    pub(crate) fn from_json(bytes: &[u8]) -> Option<Self> {
        let object: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(bytes).ok()?;
        Some(Self(
            object
                .into_iter()
                .filter_map(|(k, v)| match v {
                    serde_json::Value::String(s) => Some((k, s)),
                    serde_json::Value::Number(n) => Some((k, n.to_string())),
                    serde_json::Value::Bool(b) => Some((k, b.to_string())),
                    _ => None,
                })
                .collect(),
        ))
    }

    /// The value of `name`; `Err` names it if it is repeated. Empty counts as absent.
    pub(crate) fn get(&self, name: &'static str) -> Result<Option<&str>, &'static str> {
        let mut values = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(name);
        }
        Ok(first.filter(|v| !v.is_empty()))
    }
}
