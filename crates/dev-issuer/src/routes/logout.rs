//! `GET /v2/logout?client_id&returnTo`: Auth0's logout. Ends the issuer session, then returns
//! to `returnTo` only if it is on the client's allowed list; otherwise an error page.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::authorize::{client_of, cookie, page_param};
use super::{Params, SESSION_COOKIE};
use crate::error::{PageError, html_response};
use crate::html;
use crate::issuer::Issuer;

pub(crate) async fn logout(
    req: HttpRequest,
    issuer: web::Data<Issuer>,
) -> Result<HttpResponse, PageError> {
    let params = Params::from_urlencoded(req.query_string().as_bytes());
    let return_to = page_param(&params, "returnTo")?;
    let client_id = client_of(&params, &issuer)?;
    if let Some(return_to) = return_to
        && (client_id.is_none() || !issuer.logout_allowed(return_to))
    {
        return Err(PageError::bad_request(
            "Logout URL mismatch",
            format!(
                "{return_to} is not in the list of allowed logout URLs for this application (send client_id with returnTo)."
            ),
        ));
    }
    if let Some(session) = req.cookie(SESSION_COOKIE) {
        issuer.end_session(session.value());
    }
    let mut removal = cookie(&issuer, SESSION_COOKIE, String::new());
    removal.make_removal();
    let mut response = match return_to {
        Some(url) => {
            let mut builder = HttpResponse::Found();
            builder.insert_header((header::LOCATION, url));
            builder
        }
        None => html_response(StatusCode::OK),
    };
    response
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(removal);
    Ok(match return_to {
        Some(_) => response.finish(),
        None => response.body(html::logged_out_page()),
    })
}
