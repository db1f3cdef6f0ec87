//! The dev issuer's own test helpers: verifying what it issues. Everything else (the issuer on
//! a free port, the SDK's requests, PKCE, DPoP proofs) comes from `test_support`.

use serde_json::Value;
pub use test_support::claims_of as claims;
pub use test_support::dev_issuer::*;
pub use test_support::{APP_ORIGIN, AUDIENCE, CLIENT_ID, ClientKey, header, header_of};

/// Verifies `token` against the JWKS as fetched right now (no cache), with jsonwebtoken: RS256, `kid`, `iss`,
/// `exp`, and `audience` in `aud`. Returns the claims.
pub async fn verify_with_jwks(app: &TestApp, token: &str, audience: &str) -> Result<Value, String> {
    let kid = jsonwebtoken::decode_header(token)
        .map_err(|e| e.to_string())?
        .kid
        .ok_or("no kid")?;
    let jwks = app.jwks().await;
    let jwk = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["kid"] == kid.as_str()))
        .ok_or("kid not in the JWKS")?;
    let key = jsonwebtoken::DecodingKey::from_rsa_components(
        jwk["n"].as_str().ok_or("n")?,
        jwk["e"].as_str().ok_or("e")?,
    )
    .map_err(|e| e.to_string())?;
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.set_issuer(&[app.issuer.as_str()]);
    validation.set_audience(&[audience]);
    jsonwebtoken::decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| e.to_string())
}

/// Verifies an access token with the `auth` crate's `Verifier`, exactly as the API does
/// (discovery, JWKS, RS256, `iss`, `aud`, `exp`). Returns the claims as JSON.
pub async fn api_verify(
    app: &TestApp,
    token: &str,
    audience: &str,
) -> Result<Value, auth::VerifyError> {
    let issuer = url::Url::parse(&app.issuer).expect("issuer URL");
    let verifier =
        auth::Verifier::new(auth::VerifierConfig::new(issuer, vec![audience.to_owned()]))
            .expect("verifier config");
    verifier.verify_as::<Value>(token).await
}
