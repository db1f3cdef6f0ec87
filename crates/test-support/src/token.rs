//! Access tokens for tests: the usual claims, adjusted one by one, signed by a [`SigningKey`].

use serde_json::{Value, json};

use crate::jose::{now, remove_member};
use crate::keys::SigningKey;

/// The claims of an ordinary valid access token: `iss`, `sub` (alice), `aud`, `iat` now, `exp`
/// `lifetime_secs` later and `scope`.
pub fn access_claims(issuer: &str, audience: Value, lifetime_secs: i64, scope: &str) -> Value {
    let now = now();
    json!({
        "iss": issuer,
        "sub": "auth0|alice",
        "aud": audience,
        "iat": now,
        "exp": now + lifetime_secs,
        "scope": scope,
    })
}

/// A token being built: a key, a header and claims, each adjustable, then [`TokenBuilder::sign`].
#[derive(Debug, Clone)]
pub struct TokenBuilder {
    key: SigningKey,
    header: Value,
    claims: Value,
}

impl TokenBuilder {
    /// `claims` under `key`'s usual header (`alg`, `typ: JWT`, `kid`).
    pub fn new(key: &SigningKey, claims: Value) -> Self {
        Self {
            header: key.header(),
            key: key.clone(),
            claims,
        }
    }

    /// Sets claim `name`.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims[name] = value.into();
        self
    }

    /// Removes claim `name`.
    pub fn without(mut self, name: &str) -> Self {
        remove_member(&mut self.claims, name);
        self
    }

    /// Signs with `key`, under its usual header.
    pub fn signed_by(mut self, key: &SigningKey) -> Self {
        self.header = key.header();
        self.key = key.clone();
        self
    }

    /// Names `kid` in the header, whatever key signs.
    pub fn kid(self, kid: &str) -> Self {
        self.header("kid", kid)
    }

    /// Sets header member `name`.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header[name] = value.into();
        self
    }

    /// The claims as they stand.
    pub fn claims(&self) -> &Value {
        &self.claims
    }

    /// The compact JWS.
    pub fn sign(&self) -> String {
        self.key.sign_raw(&self.header, &self.claims)
    }

    /// Signs `payload` bytes as they are instead of the claims (for payloads serde would never
    /// produce).
    pub fn sign_raw_payload(&self, payload: &[u8]) -> String {
        self.key.sign_bytes(&self.header, payload)
    }
}
