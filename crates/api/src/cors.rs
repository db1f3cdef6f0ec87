//! CORS for the SPA, by actix-cors, for the requests CORS is about.
//!
//! Browsers send `Origin` on every cross-origin request and on every preflight (`OPTIONS`); a
//! request without it (curl, a backend, a same-origin page load) is not a CORS request and no
//! CORS header in its answer means anything to anyone. actix-cors still adds
//! `Access-Control-Expose-Headers` and a three-name `Vary` to every answer: 150 bytes and two
//! header inserts per request that every client parses (their cost is in
//! docs/performance.md). [`OriginCors`] therefore hands the requests that carry `Origin`, and
//! every `OPTIONS`, to actix-cors and lets the others past it, adding only `Vary: Origin`: the
//! answer would differ with an `Origin`, so a shared cache must not hand this one to a browser
//! that sends one (the other two `Vary` names matter to preflight answers only, which always go
//! through actix-cors).
//!
//! The policy itself ([`cors`]): only `appOrigin`, credentials in the `Authorization` header and
//! the DPoP proof in `DPoP`, the challenge and the server nonce readable by scripts (the SDK's
//! nonce retry needs `DPoP-Nonce`).

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};

use actix_cors::{Cors, CorsMiddleware};
use actix_web::Error;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::Method;
use actix_web::http::header::{self, HeaderMap, HeaderValue};

use pin_project_lite::pin_project;

use crate::authentication::DPOP;
use crate::error::DPOP_NONCE;

/// A boxed future on one thread, the type actix-cors's middleware answers with.
type LocalBoxFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The API's CORS policy for `app_origin`, applied to the requests that carry `Origin`.
pub fn cors(app_origin: &str) -> OriginCors {
    OriginCors(
        Cors::default()
            .allowed_origin(app_origin)
            .allowed_methods([Method::GET])
            .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, DPOP])
            .expose_headers([
                header::WWW_AUTHENTICATE,
                header::RETRY_AFTER,
                header::HeaderName::from_static(DPOP_NONCE),
            ])
            .max_age(600),
    )
}

/// actix-cors for requests with `Origin` and for `OPTIONS`; `Vary: Origin` alone for the rest.
#[derive(Debug)]
pub struct OriginCors(Cors);

/// The services [`OriginCors`] wraps: actix's requests and answers, and `'static`, as
/// actix-cors needs them.
pub trait Inner:
    Service<ServiceRequest, Response = ServiceResponse<Self::Body>, Error = Error, Future: 'static>
    + 'static
{
    /// The body of the inner service's answers.
    type Body: MessageBody + 'static;
}

impl<S, B: MessageBody + 'static> Inner for S
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error, Future: 'static>
        + 'static,
{
    type Body = B;
}

impl<S: Inner> Transform<S, ServiceRequest> for OriginCors {
    type Response = ServiceResponse<EitherBody<S::Body>>;
    type Error = Error;
    type Transform = OriginCorsMiddleware<S>;
    type InitError = ();
    type Future = LocalBoxFuture<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        let service = Rc::new(service);
        let cors = self.0.new_transform(Shared {
            inner: Rc::clone(&service),
        });
        Box::pin(async move {
            Ok(OriginCorsMiddleware {
                cors: cors.await?,
                service,
            })
        })
    }
}

/// The service [`OriginCors`] makes: both ways to the same inner service.
pub struct OriginCorsMiddleware<S> {
    cors: CorsMiddleware<Shared<S>>,
    service: Rc<S>,
}

impl<S> std::fmt::Debug for OriginCorsMiddleware<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginCorsMiddleware")
            .finish_non_exhaustive()
    }
}

impl<S: Inner> Service<ServiceRequest> for OriginCorsMiddleware<S> {
    type Response = ServiceResponse<EitherBody<S::Body>>;
    type Error = Error;
    type Future = OriginCorsAnswer<S::Future, S::Body>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        if req.method() == Method::OPTIONS || req.headers().contains_key(header::ORIGIN) {
            return OriginCorsAnswer::Cors {
                answer: self.cors.call(req),
            };
        }
        OriginCorsAnswer::Direct {
            answer: self.service.call(req),
        }
    }
}

pin_project! {
    /// The answer of [`OriginCorsMiddleware`]: actix-cors's, or the inner service's with
    /// `Vary: Origin` (in place, not boxed: that is every request without `Origin`).
    #[project = OriginCorsAnswerProjection]
    pub enum OriginCorsAnswer<F, B> {
        /// A CORS request, answered through actix-cors.
        Cors { answer: LocalBoxFuture<Result<ServiceResponse<EitherBody<B>>, Error>> },
        /// Any other request, answered by the inner service.
        Direct {
            #[pin]
            answer: F,
        },
    }
}

impl<F, B> std::fmt::Debug for OriginCorsAnswer<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Cors { .. } => "OriginCorsAnswer::Cors",
            Self::Direct { .. } => "OriginCorsAnswer::Direct",
        })
    }
}

impl<F, B> Future for OriginCorsAnswer<F, B>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = Result<ServiceResponse<EitherBody<B>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answer = match self.project() {
            OriginCorsAnswerProjection::Cors { answer } => return answer.as_mut().poll(cx),
            OriginCorsAnswerProjection::Direct { answer } => ready!(answer.poll(cx)),
        };
        Poll::Ready(match answer {
            Ok(mut response) => {
                vary_on_origin(response.headers_mut());
                Ok(response.map_into_left_body())
            }
            Err(mut err) => {
                err.add_response_mapper(|mut response| {
                    vary_on_origin(response.headers_mut());
                    response
                });
                Err(err)
            }
        })
    }
}

fn vary_on_origin(headers: &mut HeaderMap) {
    headers.append(header::VARY, HeaderValue::from_static("Origin"));
}

/// The inner service, shared by both ways through [`OriginCorsMiddleware`].
pub struct Shared<S> {
    inner: Rc<S>,
}

impl<S> std::fmt::Debug for Shared<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

impl<S: Service<ServiceRequest>> Service<ServiceRequest> for Shared<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    forward_ready!(inner);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        self.inner.call(req)
    }
}
