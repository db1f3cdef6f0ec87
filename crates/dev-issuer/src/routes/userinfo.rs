//! `GET|POST /userinfo`: the profile behind an access token, as OIDC Core §5.3 describes.
//!
//! The token must be one of ours (current or previous key), unexpired, with the userinfo URL in
//! its `aud`. It is read from the Authorization header only and never logged.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use jsonwebtoken::{Algorithm, Validation};

use crate::error::{ErrorCode, OAuthError};
use crate::issuer::Issuer;

#[derive(serde::Deserialize)]
struct AccessClaims {
    sub: String,
    #[serde(default)]
    scope: String,
}

fn bearer(req: &HttpRequest) -> Result<&str, OAuthError> {
    let mut values = req.headers().get_all(header::AUTHORIZATION);
    let value = values.next();
    if values.next().is_some() {
        return Err(OAuthError::invalid_request(
            "more than one Authorization header",
        ));
    }
    let missing = || {
        OAuthError::new(
            actix_web::http::StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidRequest,
            "a Bearer token is required",
        )
    };
    let text = value.and_then(|v| v.to_str().ok()).ok_or_else(missing)?;
    let (scheme, token) = text.split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(OAuthError::invalid_request("empty Bearer token"));
    }
    Ok(token)
}

pub(crate) async fn userinfo(
    req: HttpRequest,
    issuer: web::Data<Issuer>,
) -> Result<HttpResponse, OAuthError> {
    let token = bearer(&req)?;
    let kid = jsonwebtoken::decode_header(token)
        .ok()
        .and_then(|h| h.kid)
        .ok_or_else(|| OAuthError::invalid_token("malformed token"))?;
    let key = issuer
        .keys()
        .find(&kid)
        .ok_or_else(|| OAuthError::invalid_token("unknown signing key"))?;
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_issuer(&[issuer.issuer()]);
    validation.set_audience(&[format!("{}userinfo", issuer.issuer())]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    let claims = jsonwebtoken::decode::<AccessClaims>(token, key.decoding_key(), &validation)
        .map_err(|_| OAuthError::invalid_token("the access token is invalid or expired"))?
        .claims;
    let scopes: Vec<&str> = claims.scope.split_whitespace().collect();
    let profile = issuer
        .userinfo(&claims.sub, &scopes)
        .ok_or_else(|| OAuthError::invalid_token("the user no longer exists"))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(profile))
}
