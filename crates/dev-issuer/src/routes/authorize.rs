//! `GET /authorize` and the login form's `POST /login`: where a browser logs in and gets a code.
//!
//! Order matters for safety: the client and `redirect_uri` are checked first, and until both
//! are known good every failure is an error page — never a redirect, so the issuer cannot be
//! used as an open redirector. After that, failures travel back to the client like successes,
//! in the requested response mode.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::StatusCode;
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::{Value, json};
use url::Url;

use super::{BROWSER_COOKIE, Params, SESSION_COOKIE};
use crate::error::{AuthorizeError, ErrorCode, PageError, html_response};
use crate::html;
use crate::issuer::{AuthRequest, Issuer, ResponseMode, Session};
use crate::pkce;
use crate::secrets::random_secret;

const EXPIRED_FORM: &str = "This login form has expired or was opened in another browser. Go back to the application and log in again.";

/// Where and how to answer once the client and redirect_uri are trusted.
struct Reply {
    redirect_uri: String,
    mode: ResponseMode,
    state: Option<String>,
}

impl Reply {
    fn error(&self, error: &AuthorizeError) -> HttpResponse {
        let mut response = json!({
            "error": error.code.as_str(),
            "error_description": error.description,
        });
        if let Some(state) = &self.state {
            response["state"] = json!(state);
        }
        respond(&self.redirect_uri, self.mode, &response, None)
    }
}

/// Query parameter `name` of a page request; a repeated one gets an error page.
pub(super) fn page_param<'a>(
    params: &'a Params,
    name: &'static str,
) -> Result<Option<&'a str>, PageError> {
    params.get(name).map_err(PageError::repeated_parameter)
}

/// The error page for a page request without parameter `name`.
fn missing(name: &str) -> PageError {
    PageError::bad_request(
        "Invalid request",
        format!("The parameter {name} is missing."),
    )
}

/// The `client_id` of a page request, if given; one no application has gets an error page.
pub(super) fn client_of<'a>(
    params: &'a Params,
    issuer: &Issuer,
) -> Result<Option<&'a str>, PageError> {
    let client_id = page_param(params, "client_id")?;
    match client_id {
        Some(client_id) if !issuer.client_known(client_id) => Err(PageError::bad_request(
            "Unknown client",
            format!("No application has the client_id {client_id:?}."),
        )),
        _ => Ok(client_id),
    }
}

pub(crate) async fn authorize(
    req: HttpRequest,
    issuer: web::Data<Issuer>,
) -> Result<HttpResponse, PageError> {
    let params = Params::from_urlencoded(req.query_string().as_bytes());
    client_of(&params, &issuer)?.ok_or_else(|| missing("client_id"))?;
    let redirect_uri =
        page_param(&params, "redirect_uri")?.ok_or_else(|| missing("redirect_uri"))?;
    if !issuer.callback_allowed(redirect_uri) || Url::parse(redirect_uri).is_err() {
        return Err(PageError::bad_request(
            "Callback URL mismatch",
            format!(
                "{redirect_uri} is not in the list of allowed callback URLs for this application."
            ),
        ));
    }
    let state = page_param(&params, "state")?.map(str::to_owned);
    let mode = match page_param(&params, "response_mode")? {
        None | Some("query") => Some(ResponseMode::Query),
        Some("web_message") => Some(ResponseMode::WebMessage),
        Some(_) => None,
    };
    if mode == Some(ResponseMode::WebMessage) {
        // The answer is posted to this origin from a page it may frame: it must be one of the
        // application's "Allowed Web Origins", a list separate from the callback URLs.
        let origin = Url::parse(redirect_uri)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        if !issuer.web_origin_allowed(&origin) {
            return Err(PageError::bad_request(
                "Origin not allowed",
                format!(
                    "{origin} is not in the list of allowed web origins for this application (response_mode=web_message)."
                ),
            ));
        }
    }
    let reply = Reply {
        redirect_uri: redirect_uri.to_owned(),
        mode: mode.unwrap_or(ResponseMode::Query),
        state,
    };
    if mode.is_none() {
        return Ok(reply.error(&AuthorizeError::invalid_request(
            "response_mode must be query or web_message",
        )));
    }
    match validate(&params, &issuer) {
        Ok(validated) => Ok(proceed(&req, &issuer, reply, validated)),
        Err(error) => Ok(reply.error(&error)),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    Default,
    None,
    Login,
}

/// A validated request and how it wants the user's session treated.
struct Validated {
    request: AuthRequest,
    prompt: Prompt,
    max_age: Option<i64>,
}

fn validate(params: &Params, issuer: &Issuer) -> Result<Validated, AuthorizeError> {
    let get = |name: &'static str| {
        params
            .get(name)
            .map_err(|n| AuthorizeError::invalid_request(format!("the parameter {n} is repeated")))
    };
    match get("response_type")? {
        Some("code") => {}
        Some(other) => {
            return Err(AuthorizeError::new(
                ErrorCode::UnsupportedResponseType,
                format!("response_type {other:?} is not supported; use code"),
            ));
        }
        None => return Err(AuthorizeError::invalid_request("missing response_type")),
    }
    let code_challenge = get("code_challenge")?.ok_or_else(|| {
        AuthorizeError::invalid_request(
            "PKCE is required: send code_challenge with code_challenge_method=S256",
        )
    })?;
    if get("code_challenge_method")? != Some("S256") {
        return Err(AuthorizeError::invalid_request(
            "code_challenge_method must be S256",
        ));
    }
    if !pkce::challenge_well_formed(code_challenge) {
        return Err(AuthorizeError::invalid_request(
            "code_challenge must be 43 base64url characters",
        ));
    }
    // A SHA-256 thumbprint is 43 base64url characters, like a PKCE challenge.
    let dpop_jkt = get("dpop_jkt")?;
    if dpop_jkt.is_some_and(|jkt| !pkce::challenge_well_formed(jkt)) {
        return Err(AuthorizeError::invalid_request(
            "dpop_jkt must be a JWK SHA-256 thumbprint (43 base64url characters)",
        ));
    }
    let audience = get("audience")?;
    if let Some(audience) = audience
        && !issuer.audience_known(audience)
    {
        return Err(AuthorizeError::new(
            ErrorCode::AccessDenied,
            format!("Service not found: {audience}"),
        ));
    }
    let prompts: Vec<&str> = get("prompt")?.unwrap_or("").split_whitespace().collect();
    let prompt = if prompts.contains(&"none") {
        if prompts.len() > 1 {
            return Err(AuthorizeError::invalid_request(
                "prompt=none cannot be combined with other values",
            ));
        }
        Prompt::None
    } else if prompts.contains(&"login") {
        Prompt::Login
    } else {
        Prompt::Default
    };
    let max_age = match get("max_age")? {
        None => None,
        Some(text) => Some(
            text.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| {
                    AuthorizeError::invalid_request("max_age must be a non-negative integer")
                })?,
        ),
    };
    let request = AuthRequest {
        client_id: get("client_id")?.unwrap_or_default().to_owned(),
        redirect_uri: get("redirect_uri")?.unwrap_or_default().to_owned(),
        response_mode: match get("response_mode")? {
            Some("web_message") => ResponseMode::WebMessage,
            _ => ResponseMode::Query,
        },
        scopes: get("scope")?
            .unwrap_or("openid")
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
        audience: audience.map(str::to_owned),
        state: get("state")?.map(str::to_owned),
        nonce: get("nonce")?.map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        dpop_jkt: dpop_jkt.map(str::to_owned),
    };
    Ok(Validated {
        request,
        prompt,
        max_age,
    })
}

/// Answers a valid request: a code at once if the browser's session will do, else the form.
fn proceed(req: &HttpRequest, issuer: &Issuer, reply: Reply, validated: Validated) -> HttpResponse {
    let Validated {
        request,
        prompt,
        max_age,
    } = validated;
    let now = issuer.now();
    let session = req
        .cookie(SESSION_COOKIE)
        .and_then(|c| issuer.session(c.value()))
        .filter(|s| max_age.is_none_or(|max| now - s.auth_time <= max))
        .filter(|_| prompt != Prompt::Login);
    match (session, prompt) {
        (Some(session), _) => complete(issuer, request, &session, None),
        (None, Prompt::None) => reply.error(&AuthorizeError::new(
            ErrorCode::LoginRequired,
            "Login required",
        )),
        (None, _) => {
            // An empty value (a cleared cookie) counts as no cookie: binding forms to "" would
            // let any browser without the cookie post them.
            let existing = req
                .cookie(BROWSER_COOKIE)
                .map(|c| c.value().to_owned())
                .filter(|v| !v.is_empty());
            let browser = existing.clone().unwrap_or_else(random_secret);
            let Some(id) = issuer.remember_login(request, &browser) else {
                return reply.error(&AuthorizeError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "too many pending logins; restart the dev issuer",
                ));
            };
            let mut response = html_response(StatusCode::OK);
            if existing.is_none() {
                response.cookie(cookie(issuer, BROWSER_COOKIE, browser));
            }
            response.body(html::login_page(&id, "", None))
        }
    }
}

/// Issues the code and sends it back in the request's response mode.
fn complete(
    issuer: &Issuer,
    request: AuthRequest,
    session: &Session,
    set_cookie: Option<Cookie<'static>>,
) -> HttpResponse {
    let redirect_uri = request.redirect_uri.clone();
    let mode = request.response_mode;
    let state = request.state.clone();
    let Some(code) = issuer.issue_code(request, session) else {
        let reply = Reply {
            redirect_uri,
            mode,
            state,
        };
        return reply.error(&AuthorizeError::new(
            ErrorCode::TemporarilyUnavailable,
            "too many pending codes; restart the dev issuer",
        ));
    };
    let mut response = json!({ "code": code });
    if let Some(state) = state {
        response["state"] = json!(state);
    }
    respond(&redirect_uri, mode, &response, set_cookie)
}

/// Sends `response` (code or error, plus state) to the client: a 302 with a query, or the
/// web_message page.
fn respond(
    redirect_uri: &str,
    mode: ResponseMode,
    response: &Value,
    set_cookie: Option<Cookie<'static>>,
) -> HttpResponse {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        // Unreachable: redirect_uri was parsed before it was accepted.
        return actix_web::ResponseError::error_response(&PageError::bad_request(
            "Invalid request",
            "redirect_uri is not a URL.",
        ));
    };
    let mut builder = match mode {
        ResponseMode::Query => {
            if let Value::Object(fields) = response {
                let mut query = url.query_pairs_mut();
                for (name, value) in fields {
                    query.append_pair(name, value.as_str().unwrap_or_default());
                }
            }
            let mut builder = HttpResponse::Found();
            builder.insert_header((header::LOCATION, url.as_str()));
            builder
        }
        ResponseMode::WebMessage => HttpResponse::Ok(),
    };
    builder.insert_header((header::CACHE_CONTROL, "no-store"));
    if let Some(cookie) = set_cookie {
        builder.cookie(cookie);
    }
    match mode {
        ResponseMode::Query => builder.finish(),
        ResponseMode::WebMessage => {
            let origin = url.origin().ascii_serialization();
            let nonce = random_secret();
            // Framable by the client's origin only: the SDK's silent authentication iframe.
            let csp = format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; frame-ancestors {origin}; base-uri 'none'"
            );
            builder
                .content_type("text/html; charset=utf-8")
                .insert_header((header::CONTENT_SECURITY_POLICY, csp))
                .body(html::web_message_page(&origin, response, &nonce))
        }
    }
}

/// An issuer cookie: HttpOnly, SameSite=Lax (so the SPA's same-site silent-auth iframe sends
/// it), Path=/, and Secure when the issuer is served over https.
pub(crate) fn cookie(issuer: &Issuer, name: &'static str, value: String) -> Cookie<'static> {
    Cookie::build(name, value)
        .http_only(true)
        .same_site(SameSite::Lax)
        .path("/")
        .secure(issuer.issuer().starts_with("https://"))
        .finish()
}

pub(crate) async fn login(
    req: HttpRequest,
    body: web::Bytes,
    issuer: web::Data<Issuer>,
) -> Result<HttpResponse, PageError> {
    let form = Params::from_urlencoded(&body);
    let field = |name: &'static str| {
        form.get(name)
            .map_err(|n| {
                PageError::bad_request("Invalid request", format!("The field {n} is repeated."))
            })
            .map(Option::unwrap_or_default)
    };
    let request_id = field("request")?;
    let username = field("username")?;
    let password = field("password")?;
    let browser = req
        .cookie(BROWSER_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let pending = issuer
        .pending_login(request_id, &browser)
        .ok_or_else(|| PageError::bad_request("Login expired", EXPIRED_FORM))?;
    let Some(user) = issuer.users().authenticate(username, password) else {
        tracing::info!("login failed: wrong email or password");
        return Ok(
            html_response(StatusCode::UNAUTHORIZED).body(html::login_page(
                request_id,
                username,
                Some("Wrong email or password."),
            )),
        );
    };
    issuer.forget_login(request_id);
    let (cookie_value, session) = issuer
        .start_session(&user.username)
        .ok_or_else(|| PageError::unavailable("Too many sessions; restart the dev issuer."))?;
    tracing::info!(sub = %user.sub, "user logged in");
    let session_cookie = cookie(&issuer, SESSION_COOKIE, cookie_value);
    Ok(complete(
        &issuer,
        pending.request,
        &session,
        Some(session_cookie),
    ))
}
