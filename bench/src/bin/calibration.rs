//! The benchmark's calibration server: the HTTP ceiling of this machine for our API's answers.
//!
//! A bare actix-web handler that answers `GET /api/public` and `GET /api/external` with the same
//! JSON bodies and content type as our `api`, on the same actix-web version, features, worker
//! count (actix-web's default, as `api` uses) and release profile, but with no middleware, no
//! logging, no metrics and no token check: every request to `/api/external` is answered 200,
//! whatever its `Authorization` header. Measured with the same requests in the same run, it says
//! how much of the machine the HTTP stack alone takes, so `ours / calibration` is the share of
//! that ceiling our API reaches with everything it adds (logging, metrics, CORS, verification).
//!
//! Never a real server: it accepts any token. Settings: `CALIBRATION_HOST` (default 127.0.0.1),
//! `CALIBRATION_PORT` (default 3001; 0 picks a free one).

use actix_web::http::header::ContentType;
use actix_web::{App, HttpResponse, HttpServer, web};
use api::routes::{EXTERNAL_BODY, PUBLIC_BODY};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let listen = app_config::listen_addr("CALIBRATION", 3001, |key| std::env::var(key).ok())
        .unwrap_or_else(|e| app_config::exit_on_config_error(&e));
    let server = HttpServer::new(|| {
        App::new()
            .route("/api/public", web::get().to(public))
            .route("/api/external", web::get().to(external))
    })
    .bind(listen)
    .unwrap_or_else(|e| {
        app_config::exit_on_config_error(&format!(
            "invalid setting CALIBRATION_HOST / CALIBRATION_PORT: cannot listen on {listen}: {e}; fix: choose a free port"
        ))
    });
    server.run().await
}

async fn public() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(PUBLIC_BODY)
}

async fn external() -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(EXTERNAL_BODY)
}
