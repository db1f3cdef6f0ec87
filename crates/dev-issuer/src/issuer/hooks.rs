//! Minting for tests and benchmarks: tokens that did not come through a login. Used in-process
//! by the test suites and, over HTTP, by the `/dev/tokens` hook when it is switched on.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::Issuer;
use super::claims::AccessToken;
use crate::keys::KeyError;
use crate::users::User;

/// Why minting a token through the test hooks failed.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// No such user in the users file.
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    /// Signing failed.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl Issuer {
    /// The user `username` of the users file, or [`MintError::UnknownUser`].
    fn hook_user(&self, username: &str) -> Result<Arc<User>, MintError> {
        self.inner
            .users
            .find(username)
            .ok_or_else(|| MintError::UnknownUser(username.to_owned()))
    }

    /// Mints an access token for `username` as if it had logged in through the client and asked
    /// for `audience` and `scopes` (taken as given, not limited to the user's permissions, and
    /// without a `permissions` claim), valid for `lifetime`. Every call yields a distinct
    /// token. For tests and benchmarks only.
    pub fn mint_access_token(
        &self,
        username: &str,
        audience: &str,
        scopes: &[&str],
        lifetime: Duration,
    ) -> Result<String, MintError> {
        let user = self.hook_user(username)?;
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let claims = self.access_claims(&AccessToken {
            issuer: &self.inner.issuer,
            user: &user,
            client_id: &self.inner.client_id,
            audience: Some(audience),
            scopes: &scopes,
            permissions: None,
            issued_at: self.now(),
            lifetime,
            dpop_jkt: None,
        });
        Ok(self.inner.keys.current().sign_jwt(&claims)?)
    }

    /// Mints an access token for `username` with the claims a login asking for every scope
    /// would get (the configured audience, `openid profile email` plus what RBAC grants, the
    /// `permissions` claim) overridden or extended by `overrides` — any claim, including `aud`,
    /// `iss`, `exp`. A `null` value removes the claim. For tests only.
    pub fn mint_with_claims(
        &self,
        username: &str,
        overrides: &Map<String, Value>,
    ) -> Result<String, MintError> {
        let user = self.hook_user(username)?;
        let audience = Some(self.inner.audience.as_str());
        let everything: Vec<String> = ["openid", "profile", "email"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain(self.inner.api.permissions.iter().cloned())
            .collect();
        let scopes = self.granted_scopes(&user, &everything, audience);
        let mut claims = self.access_claims(&AccessToken {
            issuer: &self.inner.issuer,
            user: &user,
            client_id: &self.inner.client_id,
            audience,
            scopes: &scopes,
            permissions: self.permissions_claim(&user, audience),
            issued_at: self.now(),
            lifetime: self.inner.lifetimes.access_token,
            dpop_jkt: None,
        });
        if let Value::Object(map) = &mut claims {
            for (name, value) in overrides {
                if value.is_null() {
                    map.remove(name);
                } else {
                    map.insert(name.clone(), value.clone());
                }
            }
        }
        Ok(self.inner.keys.current().sign_jwt(&claims)?)
    }
}
