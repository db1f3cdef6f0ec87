//! The three `/api/*` messages of the API contract (docs/api.md), byte for byte.
//!
//! Bodies are pre-serialised constants: they never change, and a constant costs nothing per
//! request.

use actix_web::HttpResponse;
use actix_web::http::header::ContentType;

use crate::authentication::{ReadMessages, RequireScope, VerifiedClaims};

/// Body of `GET /api/public`.
pub const PUBLIC_BODY: &str =
    r#"{"msg":"Hello from a public endpoint! You don't need to be authenticated to see this."}"#;
/// Body of `GET /api/external` (the seed's, to the letter).
pub const EXTERNAL_BODY: &str = r#"{"msg":"Your Access Token was successfully validated!"}"#;
/// Body of `GET /api/private-scoped`.
pub const PRIVATE_SCOPED_BODY: &str = r#"{"msg":"Hello from a private endpoint! You need to be authenticated and have a scope of read:messages to see this."}"#;

fn json(body: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(body)
}

/// `GET /api/public`: no authentication.
pub async fn public() -> HttpResponse {
    json(PUBLIC_BODY)
}

/// `GET /api/external`: any valid access token.
pub async fn external(_claims: VerifiedClaims) -> HttpResponse {
    json(EXTERNAL_BODY)
}

/// `GET /api/private-scoped`: a valid access token with scope `read:messages`.
pub async fn private_scoped(_scoped: RequireScope<ReadMessages>) -> HttpResponse {
    json(PRIVATE_SCOPED_BODY)
}
