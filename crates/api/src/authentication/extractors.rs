//! What handlers ask for: [`VerifiedClaims`] (any valid token) and [`RequireScope`] (a valid
//! token holding one scope). Both read what the token middleware left in the request
//! extensions and fail closed without it.

use std::future::{Ready, ready};
use std::marker::PhantomData;
use std::ops::Deref;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use auth::authorization::AuthScheme;

use super::policy::DpopPolicy;
use crate::error::{ApiError, Challenges, Refusal};

/// The verified claims of the request's access token, for handlers behind
/// [`token_auth`](super::token_auth). Derefs to [`auth::Claims`].
///
/// Extraction fails closed: on a route without the middleware there are no claims, and the
/// request is refused as unauthenticated.
#[derive(Debug, Clone)]
pub struct VerifiedClaims {
    claims: Arc<auth::Claims>,
    scheme: AuthScheme,
}

impl Deref for VerifiedClaims {
    type Target = auth::Claims;

    fn deref(&self) -> &auth::Claims {
        &self.claims
    }
}

impl VerifiedClaims {
    /// What the middleware stores for an accepted request.
    pub(super) fn new(claims: Arc<auth::Claims>, scheme: AuthScheme) -> Self {
        Self { claims, scheme }
    }

    /// The scheme the token came with (`Bearer` or `DPoP`).
    pub fn scheme(&self) -> AuthScheme {
        self.scheme
    }

    fn of(req: &HttpRequest) -> Result<Self, Refusal> {
        req.extensions().get::<Self>().cloned().ok_or_else(|| {
            ApiError::MissingCredentials("an access token is required in the Authorization header")
                .with_challenges(Challenges::Bearer)
        })
    }
}

impl FromRequest for VerifiedClaims {
    type Error = Refusal;
    type Future = Ready<Result<Self, Refusal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::of(req))
    }
}

/// A scope a route can demand through [`RequireScope`].
pub trait Scope {
    /// The scope value, as it appears in the token's `scope` claim.
    const NAME: &'static str;
}

/// The `read:messages` scope of `/api/private-scoped`.
#[derive(Debug, Clone, Copy)]
pub struct ReadMessages;

impl Scope for ReadMessages {
    const NAME: &'static str = "read:messages";
}

/// Extractor that admits the request only if its verified token holds scope `S` in its `scope`
/// claim or in Auth0's RBAC `permissions` claim (the `access_token_authz` dialect); otherwise
/// 403 `insufficient_scope` (or 401 if there are no claims at all). Declaring it in a
/// handler's signature is the whole scope check.
#[derive(Debug, Clone)]
pub struct RequireScope<S: Scope> {
    claims: VerifiedClaims,
    _scope: PhantomData<S>,
}

impl<S: Scope> RequireScope<S> {
    /// The verified claims.
    pub fn claims(&self) -> &VerifiedClaims {
        &self.claims
    }
}

impl<S: Scope> FromRequest for RequireScope<S> {
    type Error = Refusal;
    type Future = Ready<Result<Self, Refusal>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(VerifiedClaims::of(req).and_then(|claims| {
            if claims.has_scope(S::NAME) || claims.has_permission(S::NAME) {
                Ok(Self {
                    claims,
                    _scope: PhantomData,
                })
            } else {
                // Asked of the policy only for a refusal: an accepted request never touches
                // the policy's shared `algs`, whose reference count every worker would write.
                let challenges = req
                    .app_data::<web::Data<DpopPolicy>>()
                    .map_or(Challenges::Bearer, |p| p.challenge_for(claims.scheme));
                Err(ApiError::InsufficientScope { scope: S::NAME }.with_challenges(challenges))
            }
        }))
    }
}
