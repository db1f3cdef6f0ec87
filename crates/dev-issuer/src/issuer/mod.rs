//! The issuer's core, shared by every route: the tenant's settings, users, keys, the in-memory
//! grant store, and token minting.
//!
//! Split by concern: [`store`] holds the state and its one lock, [`sessions`] the logged-in
//! browsers and shown login forms, [`grants`] the token endpoint's grants, [`scopes`] what a
//! request is granted (Auth0's RBAC), [`claims`] what the tokens say, and [`hooks`] minting
//! for tests. The pure rules they use live outside, in `crate::pkce`, `crate::urls` and
//! `crate::secrets`.

mod claims;
mod grants;
mod hooks;
mod scopes;
mod sessions;
mod store;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

pub(crate) use grants::GrantError;
pub use hooks::MintError;
pub(crate) use store::Session;

use crate::keys::KeyStore;
use crate::settings::{ApiSettings, Lifetimes, Settings};
use crate::urls::url_allowed;
use crate::users::Users;
use crate::{Clock, StartupError};

/// How an authorization response travels back to the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    /// A 302 to `redirect_uri` with the result in the query.
    Query,
    /// An HTML page that `postMessage`s the result to the opener or parent window.
    WebMessage,
}

/// A validated `/authorize` request.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: String,
    pub response_mode: ResponseMode,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    /// `dpop_jkt` (RFC 9449 §10): the thumbprint of the DPoP key the code is bound to.
    pub dpop_jkt: Option<String>,
}

/// The issuer core. Cheap to clone; clones share keys and state.
#[derive(Debug, Clone)]
pub struct Issuer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    issuer: String,
    client_id: String,
    audience: String,
    users: Users,
    keys: KeyStore,
    lifetimes: Lifetimes,
    clock: Clock,
    allowed_callback_urls: Vec<String>,
    allowed_logout_urls: Vec<String>,
    allowed_web_origins: Vec<String>,
    api: ApiSettings,
    state: Mutex<store::State>,
    /// DPoP proofs at the token endpoint and `/userinfo`, with server nonces as Auth0 requires
    /// of public clients.
    dpop: auth::dpop::ProofVerifier,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

impl Issuer {
    pub(crate) fn new(settings: &Settings) -> Result<Self, StartupError> {
        let users = Users::load(&settings.users_file)?;
        let keys = KeyStore::open(settings.key_file.as_deref())?;
        Ok(Self {
            inner: Arc::new(Inner {
                issuer: settings.config.issuer.as_str().to_owned(),
                client_id: settings.config.client_id.clone(),
                audience: settings.config.audience.clone(),
                users,
                keys,
                lifetimes: settings.lifetimes.clone(),
                clock: settings.clock.clone(),
                allowed_callback_urls: settings.allowed_callback_urls.clone(),
                allowed_logout_urls: settings.allowed_logout_urls.clone(),
                allowed_web_origins: settings.allowed_web_origins.clone(),
                api: settings.api.clone(),
                state: Mutex::new(store::State::default()),
                dpop: auth::dpop::ProofVerifier::new(auth::dpop::DpopConfig {
                    nonce: Some(auth::dpop::NonceSettings::random()),
                    ..auth::dpop::DpopConfig::default()
                })
                .map_err(|e| StartupError::Dpop(e.to_string()))?,
            }),
        })
    }

    /// The grant store. A panic while it was held cannot leave a map half-changed (each
    /// change is one map call), so a poisoned lock is taken over rather than failing forever.
    fn state(&self) -> MutexGuard<'_, store::State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The DPoP proof verifier (ES256 proofs, server nonces on).
    pub(crate) fn dpop(&self) -> &auth::dpop::ProofVerifier {
        &self.inner.dpop
    }

    /// The issuer identifier, with its trailing slash (`http://localhost:3002/`).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    pub(crate) fn client_known(&self, client_id: &str) -> bool {
        client_id == self.inner.client_id
    }

    pub(crate) fn audience_known(&self, audience: &str) -> bool {
        audience == self.inner.audience
    }

    pub(crate) fn callback_allowed(&self, redirect_uri: &str) -> bool {
        url_allowed(redirect_uri, &self.inner.allowed_callback_urls)
    }

    pub(crate) fn logout_allowed(&self, return_to: &str) -> bool {
        url_allowed(return_to, &self.inner.allowed_logout_urls)
    }

    /// Whether `origin` (as `scheme://host[:port]`) may receive `web_message` answers.
    pub(crate) fn web_origin_allowed(&self, origin: &str) -> bool {
        url_allowed(origin, &self.inner.allowed_web_origins)
    }

    pub(crate) fn users(&self) -> &crate::users::Users {
        &self.inner.users
    }

    pub(crate) fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }
}
