//! What the protected resources' successful answers carry besides the body:
//! `Cache-Control: no-store` and, when due, the next `DPoP-Nonce`.

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use actix_web::HttpMessage;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{CACHE_CONTROL, HeaderName, HeaderValue};
use pin_project_lite::pin_project;

use crate::error::DPOP_NONCE;

/// A fresh server nonce the client should switch to, sent in `DPoP-Nonce` on the response.
/// Left in the request extensions by the token middleware.
#[derive(Debug, Clone)]
pub(super) struct NextNonce(pub(super) String);

/// Middleware around the protected resources, for what their answers carry besides the body:
/// - `Cache-Control: no-store`: an answer is for the token holder alone and may carry user
///   data, so no cache may store it (RFC 9111 §5.2.2.5). Refusals set it themselves
///   (`crate::error`) and are left alone;
/// - `DPoP-Nonce`, the next server nonce, when the client's proof used the previous one, so it
///   switches before that expires (actix-web-httpauth's validator sees only the request).
///
/// One layer for both, and a `Transform` of its own rather than
/// `actix_web::middleware::from_fn`, which boxes two futures per request. It sits inside
/// [`token_auth`](super::token_auth), right around the handler: it sees only authenticated
/// requests (a refusal never reaches it and sets its own headers).
#[derive(Debug, Clone, Copy, Default)]
pub struct ProtectedResponse;

impl<S, B> Transform<S, ServiceRequest> for ProtectedResponse
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = ProtectedResponseMiddleware<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(ProtectedResponseMiddleware { service }))
    }
}

/// The service [`ProtectedResponse`] makes.
#[derive(Debug)]
pub struct ProtectedResponseMiddleware<S> {
    service: S,
}

impl<S, B> Service<ServiceRequest> for ProtectedResponseMiddleware<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = ProtectedAnswer<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        ProtectedAnswer {
            answer: self.service.call(req),
        }
    }
}

pin_project! {
    /// The inner answer, given its headers when it is ready.
    #[derive(Debug)]
    pub struct ProtectedAnswer<F> {
        #[pin]
        answer: F,
    }
}

impl<F, B> Future for ProtectedAnswer<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let response = ready!(self.project().answer.poll(cx));
        Poll::Ready(response.map(protect))
    }
}

fn protect<B>(mut response: ServiceResponse<B>) -> ServiceResponse<B> {
    let nonce = response.request().extensions_mut().remove::<NextNonce>();
    let headers = response.headers_mut();
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    if let Some(NextNonce(nonce)) = nonce
        && let Ok(value) = HeaderValue::from_str(&nonce)
    {
        headers.insert(HeaderName::from_static(DPOP_NONCE), value);
    }
    response
}
