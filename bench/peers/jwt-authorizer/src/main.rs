//! The `jwt-authorizer` peer of the load benchmark (bench/README.md): `GET /api/external`
//! behind jwt-authorizer 0.15's axum layer, `GET /api/public` without it, with the answers of
//! ours and of the seed.
//!
//! Configured as the crate's documentation shows: keys from the issuer's OpenID Connect
//! discovery document (`JwtAuthorizer::from_oidc`, JWKS fetched on the first token and again
//! when a token names an unknown `kid`), RS256 only, `iss` and `aud` checked (`exp` too, with
//! the default 60 s leeway). Settings as the Express peers': `AUTH0_DOMAIN` (an origin such as
//! `http://127.0.0.1:3002`, or a host name meaning https), `AUTH0_AUDIENCE`, `HOST`, `PORT`.

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::{Router, routing::get};
use jwt_authorizer::{Authorizer, IntoLayer, JwtAuthorizer, RegisteredClaims, Validation};

const PUBLIC: &str =
    r#"{"msg":"Hello from a public endpoint! You don't need to be authenticated to see this."}"#;
const EXTERNAL: &str = r#"{"msg":"Your Access Token was successfully validated!"}"#;

fn setting(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A fixed JSON answer, as ours and the calibration server give it.
fn answer(body: &'static str) -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], body)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let domain = setting("AUTH0_DOMAIN", "http://localhost:3002");
    let origin = if domain.starts_with("http://") || domain.starts_with("https://") {
        domain.trim_end_matches('/').to_owned()
    } else {
        format!("https://{domain}")
    };
    let issuer = format!("{origin}/");
    let audience = setting("AUTH0_AUDIENCE", "https://api.local.test");

    let validation = Validation::new()
        .iss(&[&issuer])
        .aud(&[&audience])
        .algs(vec![jsonwebtoken::Algorithm::RS256]);
    let auth: Authorizer<RegisteredClaims> = JwtAuthorizer::from_oidc(&issuer)
        .validation(validation)
        .build()
        .await?;

    let app = Router::new()
        .route(
            "/api/external",
            get(|| async { answer(EXTERNAL) }).layer(auth.into_layer()),
        )
        .route("/api/public", get(|| async { answer(PUBLIC) }));
    let address = format!(
        "{}:{}",
        setting("HOST", "127.0.0.1"),
        setting("PORT", "3001")
    );
    let listener = tokio::net::TcpListener::bind(&address).await?;
    eprintln!("API listening on {address}");
    axum::serve(listener, app).await?;
    Ok(())
}
