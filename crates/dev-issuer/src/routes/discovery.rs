//! OpenID Connect discovery and the JWKS: how verifiers (the `auth` crate, auth0-spa-js) find
//! the endpoints and the public keys.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::host::RequestIssuer;
use crate::issuer::Issuer;

/// Short, like Auth0's (15 s): a rotated key shows up quickly in verifiers' caches.
const CACHE: &str = "public, max-age=15";

/// Each domain the issuer serves has its own document, naming itself as issuer and its own
/// endpoints, as an Auth0 custom domain does.
pub(crate) async fn openid_configuration(
    through: RequestIssuer,
    issuer: web::Data<Issuer>,
) -> HttpResponse {
    let base = through.base();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, CACHE))
        .json(json!({
            "issuer": through.iss(),
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/oauth/token"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "jwks_uri": format!("{base}/.well-known/jwks.json"),
            "revocation_endpoint": format!("{base}/oauth/revoke"),
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "response_types_supported": ["code"],
            "response_modes_supported": ["query", "web_message"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "dpop_signing_alg_values_supported": issuer.dpop().algorithms().iter().map(|a| format!("{a:?}")).collect::<Vec<_>>(),
            "token_endpoint_auth_methods_supported": ["none"],
            "claims_supported": [
                "aud", "auth_time", "azp", "email", "email_verified", "exp", "iat", "iss",
                "name", "nickname", "nonce", "picture", "sub", "updated_at"
            ],
            "request_uri_parameter_supported": false,
        }))
}

pub(crate) async fn jwks(issuer: web::Data<Issuer>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, CACHE))
        .json(issuer.keys().jwks())
}
