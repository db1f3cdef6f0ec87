//! `/dev/`: test hooks that no real issuer has. Only registered when the dev endpoints flag is
//! on (otherwise these paths are plain 404s).
//!
//! Every hook is a POST that insists on `Content-Type: application/json`: a web page cannot send
//! that cross-origin without a CORS preflight, which these paths never grant, so a page in the
//! developer's browser cannot rotate keys or mint tokens behind their back.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::error::{ErrorCode, OAuthError};
use crate::issuer::{Issuer, MintError};

fn require_json(req: &HttpRequest) -> Result<(), OAuthError> {
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        });
    if is_json {
        Ok(())
    } else {
        Err(OAuthError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::InvalidRequest,
            "dev hooks take Content-Type: application/json",
        ))
    }
}

fn server_error(err: impl std::fmt::Display) -> OAuthError {
    OAuthError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::ServerError,
        err.to_string(),
    )
}

/// Makes a new key current; the old one stays published as the previous key.
pub(crate) async fn rotate_key(
    req: HttpRequest,
    issuer: web::Data<Issuer>,
) -> Result<HttpResponse, OAuthError> {
    require_json(&req)?;
    let issuer = issuer.into_inner();
    // Key generation takes a while: off the async executor.
    let (kid, previous) = web::block(move || issuer.keys().rotate())
        .await
        .map_err(server_error)?
        .map_err(server_error)?;
    tracing::info!(%kid, %previous, "signing key rotated");
    Ok(HttpResponse::Ok().json(json!({ "kid": kid, "previous": previous })))
}

/// Stops publishing the previous key.
pub(crate) async fn retire_previous_key(
    req: HttpRequest,
    issuer: web::Data<Issuer>,
) -> Result<HttpResponse, OAuthError> {
    require_json(&req)?;
    let retired = issuer.keys().retire_previous().map_err(server_error)?;
    tracing::info!(?retired, "previous signing key retired");
    Ok(HttpResponse::Ok().json(json!({ "retired": retired })))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MintBody {
    username: String,
    #[serde(default)]
    claims: Map<String, Value>,
}

/// Mints an access token for a user with chosen claims (`{"username", "claims": {...}}`).
pub(crate) async fn mint_token(
    req: HttpRequest,
    body: web::Bytes,
    issuer: web::Data<Issuer>,
) -> Result<HttpResponse, OAuthError> {
    require_json(&req)?;
    let body: MintBody = serde_json::from_slice(&body).map_err(|e| {
        OAuthError::invalid_request(format!("expected {{\"username\", \"claims\"}}: {e}"))
    })?;
    let token = issuer
        .mint_with_claims(&body.username, &body.claims)
        .map_err(|e| match e {
            MintError::UnknownUser(_) => OAuthError::invalid_request(e.to_string()),
            MintError::Key(_) => server_error(e),
        })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(json!({ "access_token": token, "token_type": "Bearer" })))
}
