//! The claims the issuer signs or returns, in Auth0's default shapes: the access token, the ID
//! token, and the `/userinfo` answer. The profile claims come from one function, so the ID
//! token and `/userinfo` cannot drift apart.

use std::time::Duration;

use serde_json::{Map, Value, json};

use super::store::Session;
use super::{Issuer, secs};
use crate::secrets::random_secret;
use crate::users::User;

/// Auth0 writes the time the profile last changed; ours never changes.
const UPDATED_AT: &str = "2024-01-01T00:00:00.000Z";

/// What an access token says.
pub(crate) struct AccessToken<'a> {
    /// `iss`: the issuer identifier of the domain the request came through.
    pub issuer: &'a str,
    pub user: &'a User,
    pub client_id: &'a str,
    /// The API asked for; `None` gives a token for `/userinfo` only.
    pub audience: Option<&'a str>,
    pub scopes: &'a [String],
    /// Auth0's RBAC `permissions` claim; `None` leaves it out.
    pub permissions: Option<Vec<String>>,
    pub issued_at: i64,
    pub lifetime: Duration,
    /// The DPoP key thumbprint the token is bound to (`cnf.jkt`).
    pub dpop_jkt: Option<&'a str>,
}

/// What an ID token says.
pub(crate) struct IdToken<'a> {
    /// `iss`, as for the access token.
    pub issuer: &'a str,
    pub user: &'a User,
    pub client_id: &'a str,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
    pub session: &'a Session,
    pub issued_at: i64,
}

/// The `profile` and `email` claims of `user` that `has` scope allows.
fn profile_claims(user: &User, has: impl Fn(&str) -> bool) -> Map<String, Value> {
    let mut claims = Map::new();
    if has("profile") {
        claims.insert("name".into(), json!(user.name));
        claims.insert("nickname".into(), json!(user.nickname));
        claims.insert("picture".into(), json!(user.picture_url()));
        claims.insert("updated_at".into(), json!(UPDATED_AT));
    }
    if has("email") {
        claims.insert("email".into(), json!(user.email()));
        claims.insert("email_verified".into(), json!(user.email_verified));
    }
    claims
}

impl Issuer {
    /// Access-token claims in Auth0's default profile: `aud` is the API plus the userinfo URL
    /// (when `openid` was granted), or only the userinfo URL when no API was asked for.
    pub(super) fn access_claims(&self, token: &AccessToken<'_>) -> Value {
        let userinfo = format!("{}userinfo", token.issuer);
        let aud = match token.audience {
            Some(api) if token.scopes.iter().any(|s| s == "openid") => json!([api, userinfo]),
            Some(api) => json!(api),
            None => json!(userinfo),
        };
        let mut claims = json!({
            "iss": token.issuer,
            "sub": token.user.sub,
            "aud": aud,
            "iat": token.issued_at,
            "exp": token.issued_at + secs(token.lifetime),
            "scope": token.scopes.join(" "),
            "azp": token.client_id,
            "jti": random_secret(),
        });
        if let Some(jkt) = token.dpop_jkt {
            claims["cnf"] = json!({ "jkt": jkt });
        }
        if let Some(permissions) = &token.permissions {
            claims["permissions"] = json!(permissions);
        }
        claims
    }

    /// ID-token claims: the profile the scopes allow, then the OIDC Core §2 claims.
    pub(super) fn id_claims(&self, token: &IdToken<'_>) -> Value {
        let mut claims = profile_claims(token.user, |s| token.scopes.iter().any(|g| g == s));
        claims.insert("iss".into(), json!(token.issuer));
        claims.insert("aud".into(), json!(token.client_id));
        claims.insert("sub".into(), json!(token.user.sub));
        claims.insert("iat".into(), json!(token.issued_at));
        claims.insert(
            "exp".into(),
            json!(token.issued_at + secs(self.inner.lifetimes.id_token)),
        );
        claims.insert("auth_time".into(), json!(token.session.auth_time));
        claims.insert("azp".into(), json!(token.client_id));
        claims.insert("sid".into(), json!(token.session.id));
        if let Some(nonce) = token.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        Value::Object(claims)
    }

    /// The profile claims `/userinfo` returns for `sub`, limited to the token's scopes.
    pub(crate) fn userinfo(&self, sub: &str, scopes: &[&str]) -> Option<Value> {
        let user = self.inner.users.find_by_sub(sub)?;
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(user.sub));
        claims.extend(profile_claims(&user, |s| scopes.contains(&s)));
        Some(Value::Object(claims))
    }
}
