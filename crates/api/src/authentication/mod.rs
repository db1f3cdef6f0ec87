//! Access-token authentication for the protected routes, Bearer and DPoP, on top of
//! actix-web-httpauth. One file per step of a request:
//!
//! 1. `credentials`: [`AccessCredentials`] reads the credentials (the scheme, the token and, for
//!    DPoP, the `DPoP` proof headers); [`Dpop`] and [`DpopChallengeConfig`] are the DPoP scheme
//!    on actix-web-httpauth's `Scheme` and `AuthExtractorConfig` traits.
//! 2. `policy`: the API's [`DpopMode`] and [`DpopPolicy`] (app data): which schemes are
//!    accepted and which challenges a refusal offers.
//! 3. `middleware`: [`token_auth`], an actix-web-httpauth `HttpAuthentication` whose validator
//!    applies the mode, hands the token to [`auth::Verifier`], checks the DPoP proof of bound
//!    tokens with [`auth::dpop::ProofVerifier`], and stores the verified claims in the request
//!    extensions.
//! 4. `response`: [`ProtectedResponse`], what a successful answer carries besides the body
//!    (`Cache-Control: no-store`, the next `DPoP-Nonce`).
//! 5. `extractors`: handlers ask for the claims through [`VerifiedClaims`] and
//!    [`RequireScope`].
//!
//! Every refusal is a [`Refusal`](crate::error::Refusal): an
//! [`ApiError`](crate::error::ApiError) with the challenges to send, turned into an RFC 6750 /
//! RFC 9449 response in one place (`crate::error`), with the `WWW-Authenticate` challenges
//! rendered by `challenge` ([`BearerChallenge`], [`DpopChallenge`]).

pub(crate) mod challenge;
mod credentials;
mod extractors;
mod middleware;
mod policy;
mod response;

pub use challenge::{BearerChallenge, DpopChallenge, REALM};
pub use credentials::{AccessCredentials, DPOP, Dpop, DpopChallengeConfig};
pub use extractors::{ReadMessages, RequireScope, Scope, VerifiedClaims};
pub use middleware::{Validator, ValidatorFuture, token_auth};
pub use policy::{DpopMode, DpopPolicy};
pub use response::{ProtectedAnswer, ProtectedResponse, ProtectedResponseMiddleware};
