//! The issuer's core, shared by every route: users, keys, in-memory grants, and token minting.
//!
//! Sessions, shown login forms, authorization codes and refresh tokens live in one map set
//! behind one `std::sync::Mutex`. The lock is only ever held for a few map operations and
//! never across an `.await` or a signature, so contention stays trivial. Secrets (session ids,
//! codes, refresh tokens) are stored under their SHA-256 so that a map lookup does not compare
//! secret bytes directly and a memory dump does not hand them out.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_lc_rs::{constant_time, digest, rand as lc_rand};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Map, Value, json};

use crate::keys::{KeyError, KeyStore};
use crate::settings::{Lifetimes, Settings};
use crate::users::{User, Users};
use crate::{Clock, StartupError};

/// Above this many live entries of one kind, new ones are refused rather than letting a loop in
/// a test (or a curious script) grow memory without bound.
const MAX_ENTRIES: usize = 100_000;

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
}

/// A logged-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub username: String,
    pub auth_time: i64,
    expires_at: i64,
}

/// A login form that has been shown and may be posted back once.
#[derive(Debug, Clone)]
pub(crate) struct PendingLogin {
    pub request: AuthRequest,
    /// The browser-binding cookie value the post must carry (login CSRF protection).
    pub browser: String,
    expires_at: i64,
}

#[derive(Debug)]
struct CodeGrant {
    request: AuthRequest,
    username: String,
    auth_time: i64,
    expires_at: i64,
}

#[derive(Debug, Clone)]
struct RefreshRecord {
    family: String,
    client_id: String,
    username: String,
    scopes: Vec<String>,
    audience: Option<String>,
    auth_time: i64,
    expires_at: i64,
    used: bool,
}

#[derive(Debug, Default)]
struct State {
    sessions: HashMap<String, Session>,
    pending: HashMap<String, PendingLogin>,
    codes: HashMap<String, CodeGrant>,
    /// Codes already redeemed: a second attempt revokes what the first one produced (RFC 6749 §4.1.2).
    used_codes: HashMap<String, (Option<String>, i64)>,
    refresh: HashMap<String, RefreshRecord>,
}

impl State {
    fn prune(&mut self, now: i64) {
        self.sessions.retain(|_, s| s.expires_at > now);
        self.pending.retain(|_, p| p.expires_at > now);
        self.codes.retain(|_, c| c.expires_at > now);
        self.used_codes.retain(|_, (_, exp)| *exp > now);
        self.refresh.retain(|_, r| r.expires_at > now);
    }

    fn full(&mut self, now: i64) -> bool {
        let len = |s: &Self| {
            s.sessions.len()
                + s.pending.len()
                + s.codes.len()
                + s.used_codes.len()
                + s.refresh.len()
        };
        if len(self) < MAX_ENTRIES {
            return false;
        }
        self.prune(now);
        len(self) >= MAX_ENTRIES
    }

    fn revoke_family(&mut self, family: &str) {
        self.refresh.retain(|_, r| r.family != family);
    }
}

/// Why a grant at the token endpoint failed; maps to an RFC 6749 §5.2 error.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum GrantError {
    /// `invalid_grant`: the code or refresh token is unknown, used, expired or not for this client.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// `invalid_scope`: a refresh asked for more than was granted.
    #[error("{0}")]
    InvalidScope(&'static str),
    /// `temporarily_unavailable`: the in-memory store is full.
    #[error("too many live grants; restart the dev issuer")]
    Full,
    /// `server_error`: signing failed.
    #[error("token signing failed")]
    Signing,
}

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
    state: Mutex<State>,
}

/// What a successful grant returns, before it is written as JSON.
#[derive(Debug)]
pub(crate) struct TokenSet {
    pub json: Value,
}

fn secs(d: Duration) -> i64 {
    i64::try_from(d.as_secs()).unwrap_or(i64::MAX)
}

/// A fresh 256-bit secret from the OS CSPRNG, base64url.
pub(crate) fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    // aws-lc's RNG only fails if the OS refuses randomness; then nothing here can be trusted.
    lc_rand::fill(&mut bytes).expect("the OS CSPRNG is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hash(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, secret.as_bytes()))
}

/// The S256 PKCE check (RFC 7636 §4.6), comparing in constant time.
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let valid_form = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
    let computed = URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, verifier.as_bytes()));
    valid_form
        && constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes()).is_ok()
}

/// Whether `url` is on `allowed`; `https://app` and `https://app/` count as the same URL.
fn url_allowed(url: &str, allowed: &[String]) -> bool {
    let trim = |s: &str| s.strip_suffix('/').unwrap_or(s).to_owned();
    let url = trim(url);
    !url.is_empty() && allowed.iter().any(|a| trim(a) == url)
}

/// A picture that needs no outside host: an SVG circle with the user's initial, as a data URL.
fn default_picture(user: &User) -> String {
    let initial = user
        .name
        .chars()
        .find(|c| c.is_ascii_alphanumeric())
        .map_or('?', |c| c.to_ascii_uppercase());
    let svg = format!(
        "<svg xmlns='http://www.w3.org/2000/svg' width='64' height='64'><circle cx='32' cy='32' r='32' fill='#4f46e5'/><text x='32' y='43' text-anchor='middle' font-family='sans-serif' font-size='30' fill='#fff'>{initial}</text></svg>"
    );
    format!("data:image/svg+xml;base64,{}", STANDARD.encode(svg))
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
                state: Mutex::new(State::default()),
            }),
        })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The issuer identifier, with its trailing slash (`http://localhost:3002/`).
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The issuer without the trailing slash: the base of endpoint URLs.
    pub(crate) fn base(&self) -> &str {
        self.inner.issuer.trim_end_matches('/')
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

    pub(crate) fn users(&self) -> &Users {
        &self.inner.users
    }

    pub(crate) fn keys(&self) -> &KeyStore {
        &self.inner.keys
    }

    pub(crate) fn now(&self) -> i64 {
        self.inner.clock.now()
    }

    // ---- sessions and shown login forms ------------------------------------------------------

    /// Starts a session for `username`; returns the cookie value and the session.
    pub(crate) fn start_session(&self, username: &str) -> Option<(String, Session)> {
        let now = self.now();
        let id = random_secret();
        let session = Session {
            username: username.to_owned(),
            auth_time: now,
            expires_at: now + secs(self.inner.lifetimes.session),
        };
        let mut state = self.state();
        if state.full(now) {
            return None;
        }
        state.sessions.insert(hash(&id), session.clone());
        Some((id, session))
    }

    /// The live session behind a cookie value.
    pub(crate) fn session(&self, cookie: &str) -> Option<Session> {
        let now = self.now();
        let state = self.state();
        state
            .sessions
            .get(&hash(cookie))
            .filter(|s| s.expires_at > now)
            .filter(|s| self.inner.users.find(&s.username).is_some())
            .cloned()
    }

    pub(crate) fn end_session(&self, cookie: &str) {
        self.state().sessions.remove(&hash(cookie));
    }

    /// Remembers a shown login form; returns its id (the form's hidden `request` field).
    pub(crate) fn remember_login(&self, request: AuthRequest, browser: &str) -> Option<String> {
        let now = self.now();
        let id = random_secret();
        let mut state = self.state();
        if state.full(now) {
            return None;
        }
        state.pending.insert(
            hash(&id),
            PendingLogin {
                request,
                browser: browser.to_owned(),
                expires_at: now + secs(self.inner.lifetimes.login_request),
            },
        );
        Some(id)
    }

    /// The shown login form `id`, if it is live and was shown to this browser.
    pub(crate) fn pending_login(&self, id: &str, browser: &str) -> Option<PendingLogin> {
        let now = self.now();
        let state = self.state();
        state
            .pending
            .get(&hash(id))
            .filter(|p| p.expires_at > now)
            .filter(|p| {
                constant_time::verify_slices_are_equal(p.browser.as_bytes(), browser.as_bytes())
                    .is_ok()
            })
            .cloned()
    }

    pub(crate) fn forget_login(&self, id: &str) {
        self.state().pending.remove(&hash(id));
    }

    // ---- authorization codes -----------------------------------------------------------------

    /// Issues a single-use code for `request`, bound to its client, redirect_uri and challenge.
    pub(crate) fn issue_code(&self, request: AuthRequest, session: &Session) -> Option<String> {
        let now = self.now();
        let code = random_secret();
        let mut state = self.state();
        if state.full(now) {
            return None;
        }
        state.codes.insert(
            hash(&code),
            CodeGrant {
                request,
                username: session.username.clone(),
                auth_time: session.auth_time,
                expires_at: now + secs(self.inner.lifetimes.code),
            },
        );
        Some(code)
    }

    /// The `authorization_code` grant. The code is consumed by any attempt, right or wrong, so
    /// it cannot be guessed at; a second attempt also revokes the refresh tokens the first one
    /// produced.
    pub(crate) fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: &str,
    ) -> Result<TokenSet, GrantError> {
        let now = self.now();
        let key = hash(code);
        let grant = {
            let mut state = self.state();
            match state.codes.remove(&key) {
                Some(grant) => {
                    state.used_codes.insert(
                        key.clone(),
                        (None, now + secs(self.inner.lifetimes.refresh_token)),
                    );
                    grant
                }
                None => {
                    if let Some((family, _)) = state.used_codes.get(&key).cloned() {
                        if let Some(family) = family {
                            state.revoke_family(&family);
                        }
                        return Err(GrantError::InvalidGrant("authorization code already used"));
                    }
                    return Err(GrantError::InvalidGrant("invalid authorization code"));
                }
            }
        };
        if grant.expires_at <= now {
            return Err(GrantError::InvalidGrant("authorization code expired"));
        }
        if grant.request.client_id != client_id {
            return Err(GrantError::InvalidGrant(
                "authorization code was issued to another client",
            ));
        }
        if redirect_uri != Some(grant.request.redirect_uri.as_str()) {
            return Err(GrantError::InvalidGrant(
                "redirect_uri does not match the authorization request",
            ));
        }
        if !pkce_matches(verifier, &grant.request.code_challenge) {
            return Err(GrantError::InvalidGrant(
                "code_verifier does not match the code_challenge",
            ));
        }
        let user = self
            .inner
            .users
            .find(&grant.username)
            .ok_or(GrantError::InvalidGrant("the user no longer exists"))?;
        let scopes = grant_scopes(&user, &grant.request.scopes);
        let family = scopes
            .iter()
            .any(|s| s == "offline_access")
            .then(random_secret);
        if let Some(family) = &family
            && let Some(entry) = self.state().used_codes.get_mut(&key)
        {
            entry.0 = Some(family.clone());
        }
        self.token_set(TokenGrant {
            user: &user,
            client_id,
            audience: grant.request.audience.as_deref(),
            scopes: &scopes,
            nonce: grant.request.nonce.as_deref(),
            auth_time: grant.auth_time,
            family,
        })
    }

    /// The `refresh_token` grant, with rotation: the presented token is spent, a new one of the
    /// same family is returned, and presenting a spent token again revokes the whole family
    /// (Auth0's reuse detection).
    pub(crate) fn redeem_refresh_token(
        &self,
        token: &str,
        client_id: &str,
        scope: Option<&str>,
    ) -> Result<TokenSet, GrantError> {
        let now = self.now();
        let record = {
            let mut state = self.state();
            let key = hash(token);
            let Some(record) = state.refresh.get_mut(&key) else {
                return Err(GrantError::InvalidGrant("unknown or revoked refresh token"));
            };
            if record.used {
                let family = record.family.clone();
                state.revoke_family(&family);
                tracing::warn!("a rotated refresh token was reused; its family is revoked");
                return Err(GrantError::InvalidGrant(
                    "refresh token already used; all tokens of this login are revoked",
                ));
            }
            if record.expires_at <= now {
                return Err(GrantError::InvalidGrant("refresh token expired"));
            }
            if record.client_id != client_id {
                return Err(GrantError::InvalidGrant(
                    "refresh token was issued to another client",
                ));
            }
            record.used = true;
            record.clone()
        };
        let user = self
            .inner
            .users
            .find(&record.username)
            .ok_or(GrantError::InvalidGrant("the user no longer exists"))?;
        let scopes = match scope.map(str::split_whitespace) {
            None => record.scopes.clone(),
            Some(asked) => {
                let asked: Vec<String> = asked.map(str::to_owned).collect();
                if asked.iter().any(|s| !record.scopes.contains(s)) {
                    return Err(GrantError::InvalidScope("a refresh cannot add scopes"));
                }
                dedupe(asked)
            }
        };
        self.token_set(TokenGrant {
            user: &user,
            client_id,
            audience: record.audience.as_deref(),
            scopes: &scopes,
            nonce: None,
            auth_time: record.auth_time,
            family: Some(record.family),
        })
    }

    /// Revokes the family of a refresh token (RFC 7009); unknown tokens are ignored, as the RFC asks.
    pub(crate) fn revoke_refresh_token(&self, token: &str, client_id: &str) {
        let mut state = self.state();
        let family = state
            .refresh
            .get(&hash(token))
            .filter(|r| r.client_id == client_id)
            .map(|r| r.family.clone());
        if let Some(family) = family {
            state.revoke_family(&family);
        }
    }

    fn token_set(&self, grant: TokenGrant<'_>) -> Result<TokenSet, GrantError> {
        let now = self.now();
        let key = self.inner.keys.current();
        let access = self.access_claims(
            grant.user,
            grant.client_id,
            grant.audience,
            grant.scopes,
            now,
            self.inner.lifetimes.access_token,
        );
        let id = self.id_claims(&grant, now);
        let access_token = key.sign_jwt(&access).map_err(|_| GrantError::Signing)?;
        let id_token = key.sign_jwt(&id).map_err(|_| GrantError::Signing)?;
        let mut json = json!({
            "access_token": access_token,
            "id_token": id_token,
            "scope": grant.scopes.join(" "),
            "expires_in": secs(self.inner.lifetimes.access_token),
            "token_type": "Bearer",
        });
        if let Some(family) = grant.family {
            let refresh = random_secret();
            let mut state = self.state();
            if state.full(now) {
                return Err(GrantError::Full);
            }
            state.refresh.insert(
                hash(&refresh),
                RefreshRecord {
                    family,
                    client_id: grant.client_id.to_owned(),
                    username: grant.user.username.clone(),
                    scopes: grant.scopes.to_vec(),
                    audience: grant.audience.map(str::to_owned),
                    auth_time: grant.auth_time,
                    expires_at: now + secs(self.inner.lifetimes.refresh_token),
                    used: false,
                },
            );
            json["refresh_token"] = Value::String(refresh);
        }
        Ok(TokenSet { json })
    }

    /// Access-token claims in Auth0's default profile: `aud` is the API plus the userinfo URL
    /// (when `openid` was granted), or only the userinfo URL when no API was asked for.
    fn access_claims(
        &self,
        user: &User,
        client_id: &str,
        audience: Option<&str>,
        scopes: &[String],
        now: i64,
        lifetime: Duration,
    ) -> Value {
        let userinfo = format!("{}userinfo", self.inner.issuer);
        let aud = match audience {
            Some(api) if scopes.iter().any(|s| s == "openid") => json!([api, userinfo]),
            Some(api) => json!(api),
            None => json!(userinfo),
        };
        json!({
            "iss": self.inner.issuer,
            "sub": user.sub,
            "aud": aud,
            "iat": now,
            "exp": now + secs(lifetime),
            "scope": scopes.join(" "),
            "azp": client_id,
            "jti": random_secret(),
        })
    }

    fn id_claims(&self, grant: &TokenGrant<'_>, now: i64) -> Value {
        let mut claims = Map::new();
        let has = |s: &str| grant.scopes.iter().any(|g| g == s);
        if has("profile") {
            claims.insert("name".into(), json!(grant.user.name));
            claims.insert("nickname".into(), json!(grant.user.nickname));
            let picture = grant
                .user
                .picture
                .clone()
                .unwrap_or_else(|| default_picture(grant.user));
            claims.insert("picture".into(), json!(picture));
            claims.insert("updated_at".into(), json!("2024-01-01T00:00:00.000Z"));
        }
        if has("email") {
            claims.insert("email".into(), json!(grant.user.email()));
            claims.insert("email_verified".into(), json!(grant.user.email_verified));
        }
        claims.insert("iss".into(), json!(self.inner.issuer));
        claims.insert("aud".into(), json!(grant.client_id));
        claims.insert("sub".into(), json!(grant.user.sub));
        claims.insert("iat".into(), json!(now));
        claims.insert(
            "exp".into(),
            json!(now + secs(self.inner.lifetimes.id_token)),
        );
        claims.insert("auth_time".into(), json!(grant.auth_time));
        claims.insert("azp".into(), json!(grant.client_id));
        if let Some(nonce) = grant.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        Value::Object(claims)
    }

    /// The profile claims `/userinfo` returns for `sub`, limited to the token's scopes.
    pub(crate) fn userinfo(&self, sub: &str, scopes: &[&str]) -> Option<Value> {
        let user = self.inner.users.find_by_sub(sub)?;
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.sub));
        if scopes.contains(&"profile") {
            out.insert("name".into(), json!(user.name));
            out.insert("nickname".into(), json!(user.nickname));
            out.insert(
                "picture".into(),
                json!(
                    user.picture
                        .clone()
                        .unwrap_or_else(|| default_picture(&user))
                ),
            );
            out.insert("updated_at".into(), json!("2024-01-01T00:00:00.000Z"));
        }
        if scopes.contains(&"email") {
            out.insert("email".into(), json!(user.email()));
            out.insert("email_verified".into(), json!(user.email_verified));
        }
        Some(Value::Object(out))
    }

    // ---- test hooks ----------------------------------------------------------------------------

    /// Mints an access token for `username` as if it had logged in through the client and asked
    /// for `audience` and `scopes` (taken as given, not limited to the user's grants), valid for
    /// `lifetime`. Every call yields a distinct token. For tests and benchmarks only.
    pub fn mint_access_token(
        &self,
        username: &str,
        audience: &str,
        scopes: &[&str],
        lifetime: Duration,
    ) -> Result<String, MintError> {
        let user = self
            .inner
            .users
            .find(username)
            .ok_or_else(|| MintError::UnknownUser(username.to_owned()))?;
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        let claims = self.access_claims(
            &user,
            &self.inner.client_id,
            Some(audience),
            &scopes,
            self.now(),
            lifetime,
        );
        Ok(self.inner.keys.current().sign_jwt(&claims)?)
    }

    /// Mints an access token for `username` with the default claims (the configured audience,
    /// the user's scopes) overridden or extended by `overrides` — any claim, including `aud`,
    /// `iss`, `exp`. A `null` value removes the claim. For tests only.
    pub fn mint_with_claims(
        &self,
        username: &str,
        overrides: &Map<String, Value>,
    ) -> Result<String, MintError> {
        let user = self
            .inner
            .users
            .find(username)
            .ok_or_else(|| MintError::UnknownUser(username.to_owned()))?;
        let scopes = user.scopes.clone();
        let mut claims = self.access_claims(
            &user,
            &self.inner.client_id,
            Some(&self.inner.audience),
            &scopes,
            self.now(),
            self.inner.lifetimes.access_token,
        );
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

struct TokenGrant<'a> {
    user: &'a User,
    client_id: &'a str,
    audience: Option<&'a str>,
    scopes: &'a [String],
    nonce: Option<&'a str>,
    auth_time: i64,
    family: Option<String>,
}

fn dedupe(scopes: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(scopes.len());
    for s in scopes {
        if !out.contains(&s) {
            out.push(s);
        }
    }
    out
}

/// The scopes a request gets: what it asked for and the user may have, in the asked order.
fn grant_scopes(user: &User, requested: &[String]) -> Vec<String> {
    dedupe(
        requested
            .iter()
            .filter(|s| user.may_have(s))
            .cloned()
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_accepts_the_rfc7636_example() {
        assert!(pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn pkce_refuses_a_different_or_short_verifier() {
        assert!(!pkce_matches(
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

    #[test]
    fn allowed_urls_match_exactly_modulo_one_trailing_slash() {
        let allowed = vec!["http://localhost:3000".to_owned()];
        assert!(url_allowed("http://localhost:3000", &allowed));
        assert!(url_allowed("http://localhost:3000/", &allowed));
        assert!(!url_allowed("http://localhost:3000/callback", &allowed));
        assert!(!url_allowed("http://localhost:3000.evil.test", &allowed));
        assert!(!url_allowed("", &allowed));
    }
}
