//! The handlers that are not plain files: the generated configuration and the SPA shell.

use std::path::PathBuf;

use actix_files::NamedFile;
use actix_web::{
    HttpRequest, HttpResponse,
    dev::{ServiceRequest, ServiceResponse},
    http::{Method, header},
    web,
};

use crate::{dev_reload::DevReload, paths};

/// `GET /auth_config.json`: the public half of the resolved configuration, serialised once at
/// startup. It is generated rather than read from disk so that environment overrides reach the
/// browser too.
pub async fn auth_config(body: web::Data<PublicConfig>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(header::ContentType::json())
        .insert_header(header::CacheControl(vec![header::CacheDirective::NoCache]))
        .body(body.0.clone())
}

/// The serialised `AuthConfig::public_json()`.
#[derive(Debug, Clone)]
pub struct PublicConfig(pub String);

/// The root mount's default: `index.html` for app routes, a 404 for missing files. With live
/// reload on, the shell carries its script.
pub async fn fallback(
    index_html: PathBuf,
    dev_reload: Option<DevReload>,
    req: ServiceRequest,
) -> Result<ServiceResponse, actix_web::Error> {
    let (req, _) = req.into_parts();
    let res = if matches!(*req.method(), Method::GET | Method::HEAD)
        && paths::wants_spa_shell(req.path())
    {
        match dev_reload {
            Some(reload) => reload.shell().await?,
            None => spa_shell(&index_html, &req)?,
        }
    } else {
        not_found()
    };
    Ok(ServiceResponse::new(req, res))
}

fn spa_shell(index_html: &PathBuf, req: &HttpRequest) -> std::io::Result<HttpResponse> {
    // A blocking open of one small, already-checked file: cheaper than a trip to the thread pool.
    let file = NamedFile::open(index_html).inspect_err(|e| {
        tracing::error!(error = %e, path = %index_html.display(), "index.html vanished after startup");
    })?;
    Ok(file.disable_content_disposition().into_response(req))
}

/// A missing file: a short plain-text 404 that echoes nothing of the request.
pub fn not_found() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body("Not Found")
}
