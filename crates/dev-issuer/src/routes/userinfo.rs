//! `GET|POST /userinfo`: the profile behind an access token, as OIDC Core §5.3 describes.
//!
//! The token must be one of ours (current or previous key), unexpired, with the userinfo URL in
//! its `aud`. It is read from the Authorization header only and never logged. A DPoP-bound
//! token (`cnf.jkt`) is accepted only with the DPoP scheme and a proof of its key.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use auth::authorization::{
    AuthScheme, AuthorizationError, Credentials, is_b64token, parse_authorization,
};
use jsonwebtoken::{Algorithm, Validation};

use super::dpop::verify_proof;
use crate::error::{ErrorCode, OAuthError};
use crate::host::RequestIssuer;
use crate::issuer::Issuer;

#[derive(serde::Deserialize)]
struct AccessClaims {
    sub: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    cnf: Option<Confirmation>,
}

#[derive(serde::Deserialize)]
struct Confirmation {
    #[serde(default)]
    jkt: Option<String>,
}

/// The credentials, read by the workspace's one `Authorization` parser (`auth::authorization`).
fn credentials(req: &HttpRequest) -> Result<Credentials<'_>, OAuthError> {
    let values = req
        .headers()
        .get_all(header::AUTHORIZATION)
        .map(HeaderValue::as_bytes);
    let credentials = parse_authorization(values).map_err(|err| match err {
        AuthorizationError::Repeated => {
            OAuthError::invalid_request("more than one Authorization header")
        }
        AuthorizationError::EmptyToken(scheme) => {
            OAuthError::invalid_request(format!("empty {scheme} token"))
        }
        AuthorizationError::MalformedToken(_) => OAuthError::invalid_token("malformed token"),
        AuthorizationError::Missing | AuthorizationError::UnsupportedScheme => OAuthError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidRequest,
            "a Bearer or DPoP access token is required",
        ),
    })?;
    if !is_b64token(credentials.token.as_bytes()) {
        return Err(OAuthError::invalid_token("malformed token"));
    }
    Ok(credentials)
}

pub(crate) async fn userinfo(
    req: HttpRequest,
    issuer: web::Data<Issuer>,
    through: RequestIssuer,
) -> Result<HttpResponse, OAuthError> {
    let credentials = credentials(&req)?;
    let token = credentials.token;
    let kid = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|h| h.kid)
        .ok_or_else(|| OAuthError::invalid_token("malformed token"))?;
    let key = issuer
        .keys()
        .find(&kid)
        .ok_or_else(|| OAuthError::invalid_token("unknown signing key"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[through.iss()]);
    validation.set_audience(&[format!("{}userinfo", through.iss())]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<AccessClaims>(token, key.decoding_key(), &validation)
        .map_err(|_| OAuthError::invalid_token("the access token is invalid or expired"))?
        .claims;
    // RFC 9449 §7: a bound token only with its proof, an unbound one never as DPoP.
    match (credentials.scheme, claims.cnf.as_ref()) {
        (AuthScheme::Bearer, None) => {}
        (AuthScheme::Bearer, Some(_)) => {
            return Err(OAuthError::invalid_token(
                "a DPoP-bound access token must be sent with the DPoP scheme",
            ));
        }
        (AuthScheme::Dpop, Some(Confirmation { jkt: Some(jkt) })) => {
            verify_proof(
                &req,
                &issuer,
                &format!("{}/userinfo", through.base()),
                Some(token),
                Some(jkt),
                StatusCode::UNAUTHORIZED,
            )
            .await?;
        }
        (AuthScheme::Dpop, _) => {
            return Err(OAuthError::invalid_token(
                "the access token is not DPoP-bound",
            ));
        }
    }
    let scopes: Vec<&str> = claims.scope.split_whitespace().collect();
    let profile = issuer
        .userinfo(&claims.sub, &scopes)
        .ok_or_else(|| OAuthError::invalid_token("the user no longer exists"))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(profile))
}
