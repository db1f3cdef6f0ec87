//! The in-memory grant store: logged-in browsers, shown login forms, authorization codes and
//! refresh tokens.
//!
//! All of it sits in one [`State`] behind one `std::sync::Mutex` owned by the issuer. The lock
//! is held for a few map operations only, never across an `.await` or a signature, so
//! contention stays trivial; and because every check-then-change on a grant happens under one
//! acquisition, two concurrent requests cannot both spend the same code or refresh token.
//! Entries are keyed by [`crate::secrets::storage_key`] of the secret, never by the secret.

use std::collections::HashMap;

use super::{AuthRequest, Issuer};
use crate::secrets::{random_secret, storage_key};

/// Above this many live entries of all kinds, new ones are refused rather than letting a loop in
/// a test (or a curious script) grow memory without bound.
const MAX_ENTRIES: usize = 100_000;

/// A logged-in browser.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// A public identifier of the session, written into the ID token's `sid` as Auth0 does.
    pub id: String,
    pub username: String,
    pub auth_time: i64,
    pub(super) expires_at: i64,
}

/// A login form that has been shown and may be posted back once.
#[derive(Debug, Clone)]
pub(crate) struct PendingLogin {
    pub request: AuthRequest,
    /// The browser-binding cookie value the post must carry (login CSRF protection).
    pub browser: String,
    pub(super) expires_at: i64,
}

/// An authorization code waiting to be redeemed.
#[derive(Debug)]
pub(super) struct CodeGrant {
    pub request: AuthRequest,
    pub session: Session,
    pub expires_at: i64,
}

/// A code that has been redeemed: kept until it could no longer have been valid, so that a
/// second attempt is recognised and revokes what the first one produced (RFC 6749 §4.1.2).
#[derive(Debug)]
pub(super) struct SpentCode {
    /// The refresh-token family the redemption starts (whether or not it gets a refresh token).
    pub family: String,
    /// Set by a second attempt: the first redemption must then not hand out a refresh token.
    pub replayed: bool,
    pub forget_at: i64,
}

/// One refresh token. Rotation spends it and adds its successor to the same family.
#[derive(Debug, Clone)]
pub(super) struct RefreshRecord {
    pub family: String,
    pub client_id: String,
    pub username: String,
    /// The scopes of the original grant; a refresh may narrow its access token, never these.
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub session: Session,
    /// The family's absolute end, fixed when the code was redeemed and inherited by rotation.
    pub absolute_expires_at: i64,
    /// This token's idle end: issue time plus the inactivity lifetime.
    pub idle_expires_at: i64,
    pub used: bool,
    /// The DPoP key the refresh token is bound to: only a proof with it may refresh.
    pub dpop_jkt: Option<String>,
}

impl RefreshRecord {
    pub fn expires_at(&self) -> i64 {
        self.absolute_expires_at.min(self.idle_expires_at)
    }
}

#[derive(Debug, Default)]
pub(super) struct State {
    pub sessions: HashMap<String, Session>,
    pub pending: HashMap<String, PendingLogin>,
    pub codes: HashMap<String, CodeGrant>,
    pub spent_codes: HashMap<String, SpentCode>,
    pub refresh: HashMap<String, RefreshRecord>,
}

impl State {
    fn prune(&mut self, now: i64) {
        self.sessions.retain(|_, s| s.expires_at > now);
        self.pending.retain(|_, p| p.expires_at > now);
        self.codes.retain(|_, c| c.expires_at > now);
        self.spent_codes.retain(|_, c| c.forget_at > now);
        self.refresh.retain(|_, r| r.expires_at() > now);
    }

    fn len(&self) -> usize {
        self.sessions.len()
            + self.pending.len()
            + self.codes.len()
            + self.spent_codes.len()
            + self.refresh.len()
    }

    /// Whether no new entry fits, after dropping the expired ones if needed.
    pub fn full(&mut self, now: i64) -> bool {
        if self.len() < MAX_ENTRIES {
            return false;
        }
        self.prune(now);
        self.len() >= MAX_ENTRIES
    }

    pub fn revoke_family(&mut self, family: &str) {
        self.refresh.retain(|_, r| r.family != family);
    }
}

impl Issuer {
    /// Stores what `entry` makes of the time now in the map `table` picks, under a fresh random
    /// secret; returns the secret, or `None` when the store is full.
    pub(super) fn store_new<T>(
        &self,
        table: impl FnOnce(&mut State) -> &mut HashMap<String, T>,
        entry: impl FnOnce(i64) -> T,
    ) -> Option<String> {
        let now = self.now();
        let secret = random_secret();
        let mut state = self.state();
        if state.full(now) {
            return None;
        }
        table(&mut state).insert(storage_key(&secret), entry(now));
        Some(secret)
    }

    /// The entry behind `secret` in the map `table` picks, if `live` says it is at the time now.
    pub(super) fn find_live<T: Clone>(
        &self,
        table: impl FnOnce(&State) -> &HashMap<String, T>,
        secret: &str,
        live: impl FnOnce(&T, i64) -> bool,
    ) -> Option<T> {
        let now = self.now();
        let state = self.state();
        let entry = table(&state).get(&storage_key(secret))?;
        live(entry, now).then(|| entry.clone())
    }
}
