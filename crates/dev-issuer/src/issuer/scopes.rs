//! What a request is granted, as Auth0 decides it for an API with "Enable RBAC" and "Add
//! Permissions in the Access Token".
//!
//! The OIDC scopes (`openid profile email`) and `offline_access` are granted to whoever asks.
//! API scopes count only when an API (`audience`) was asked for, and only those the API
//! defines: with RBAC on, the ones the user also holds as permissions; with RBAC off, all of
//! them. Anything else asked for is dropped, as Auth0 drops it.

use super::Issuer;
use crate::users::User;

/// Scopes granted to anyone who asks, whatever the API's settings.
const ALWAYS_GRANTED: [&str; 4] = ["openid", "profile", "email", "offline_access"];

impl Issuer {
    /// The scopes a request for `requested` (and `audience`) gets, in the asked order, once each.
    pub(super) fn granted_scopes(
        &self,
        user: &User,
        requested: &[String],
        audience: Option<&str>,
    ) -> Vec<String> {
        let api = &self.inner.api;
        let mut granted: Vec<String> = Vec::with_capacity(requested.len());
        for scope in requested {
            let allowed = ALWAYS_GRANTED.contains(&scope.as_str())
                || (audience.is_some()
                    && api.permissions.contains(scope)
                    && (!api.enable_rbac || user.holds(scope)));
            if allowed && !granted.contains(scope) {
                granted.push(scope.clone());
            }
        }
        granted
    }

    /// The access token's `permissions` claim: all the user's permissions for the API, whatever
    /// was asked for; `None` (no claim) without an API or unless RBAC puts them in the token.
    pub(super) fn permissions_claim(
        &self,
        user: &User,
        audience: Option<&str>,
    ) -> Option<Vec<String>> {
        let api = &self.inner.api;
        (audience.is_some() && api.enable_rbac && api.add_permissions_in_the_access_token).then(
            || {
                api.permissions
                    .iter()
                    .filter(|p| user.holds(p))
                    .cloned()
                    .collect()
            },
        )
    }
}
