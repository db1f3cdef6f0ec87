//! `POST /oauth/token` (authorization_code with PKCE, refresh_token with rotation) and
//! `POST /oauth/revoke`.
//!
//! Bodies are form-urlencoded (auth0-spa-js's default, `useFormData: true`) or JSON (its
//! `useFormData: false`); both are parsed into the same [`Params`]. Errors follow RFC 6749 §5.2.
//!
//! With a `DPoP` header (RFC 9449 §5) the proof is checked first, a server nonce is required as
//! Auth0 requires it of public clients (400 `use_dpop_nonce` + `DPoP-Nonce`, and the client
//! retries), and the tokens are bound to the proof's key: `cnf.jkt` in the access token,
//! `token_type: "DPoP"`, a refresh token that only refreshes with a proof of the same key.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::Params;
use super::dpop::{has_proof, verify_proof};
use crate::error::{ErrorCode, OAuthError};
use crate::host::RequestIssuer;
use crate::issuer::{GrantError, Issuer};

fn params(req: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match content_type.as_str() {
        "application/x-www-form-urlencoded" => Ok(Params::from_urlencoded(body)),
        "application/json" => Params::from_json(body)
            .ok_or_else(|| OAuthError::invalid_request("the body is not a JSON object")),
        _ => Err(OAuthError::invalid_request(
            "send the parameters as application/x-www-form-urlencoded or application/json",
        )),
    }
}

fn required<'a>(params: &'a Params, name: &'static str) -> Result<&'a str, OAuthError> {
    optional(params, name)?.ok_or_else(|| OAuthError::invalid_request(format!("missing {name}")))
}

fn optional<'a>(params: &'a Params, name: &'static str) -> Result<Option<&'a str>, OAuthError> {
    params
        .get(name)
        .map_err(|n| OAuthError::invalid_request(format!("the parameter {n} is repeated")))
}

fn client<'a>(params: &'a Params, issuer: &Issuer) -> Result<&'a str, OAuthError> {
    let client_id = required(params, "client_id")?;
    if !issuer.client_known(client_id) {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::InvalidClient,
            "unknown client",
        ));
    }
    Ok(client_id)
}

impl From<GrantError> for OAuthError {
    fn from(err: GrantError) -> Self {
        let description = err.to_string();
        match err {
            GrantError::InvalidGrant(_) => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidGrant,
                description,
            ),
            // Auth0 answers 403 here, and auth0-spa-js matches the description to fall back
            // to silent authentication.
            GrantError::InvalidRefreshToken => {
                Self::new(StatusCode::FORBIDDEN, ErrorCode::InvalidGrant, description)
            }
            GrantError::InvalidScope(_) => Self::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidScope,
                description,
            ),
            GrantError::Full => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                ErrorCode::TemporarilyUnavailable,
                description,
            ),
            GrantError::Signing => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::ServerError,
                description,
            ),
        }
    }
}

pub(crate) async fn token(
    req: HttpRequest,
    body: web::Bytes,
    issuer: web::Data<Issuer>,
    through: RequestIssuer,
) -> Result<HttpResponse, OAuthError> {
    let params = params(&req, &body)?;
    let grant_type = required(&params, "grant_type")?;
    let client_id = client(&params, &issuer)?;
    let proof_jkt = if has_proof(&req) {
        Some(
            verify_proof(
                &req,
                &issuer,
                &format!("{}/oauth/token", through.base()),
                None,
                None,
                StatusCode::BAD_REQUEST,
            )
            .await?,
        )
    } else {
        None
    };
    let tokens = match grant_type {
        "authorization_code" => issuer.redeem_code(
            required(&params, "code")?,
            client_id,
            optional(&params, "redirect_uri")?,
            required(&params, "code_verifier")?,
            proof_jkt.as_deref(),
            through.iss(),
        )?,
        "refresh_token" => issuer.redeem_refresh_token(
            required(&params, "refresh_token")?,
            client_id,
            optional(&params, "scope")?,
            proof_jkt.as_deref(),
            through.iss(),
        )?,
        other => {
            return Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                ErrorCode::UnsupportedGrantType,
                format!("grant_type {other:?} is not supported"),
            ));
        }
    };
    tracing::info!(grant_type, "tokens issued");
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .insert_header((header::PRAGMA, "no-cache"))
        .json(tokens.json))
}

pub(crate) async fn revoke(
    req: HttpRequest,
    body: web::Bytes,
    issuer: web::Data<Issuer>,
) -> Result<HttpResponse, OAuthError> {
    let params = params(&req, &body)?;
    let client_id = client(&params, &issuer)?;
    issuer.revoke_refresh_token(required(&params, "token")?, client_id);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish())
}
