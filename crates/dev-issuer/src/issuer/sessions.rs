//! Logged-in browsers (behind the session cookie) and shown login forms (behind the form's
//! hidden `request` field and the browser-binding cookie).

use aws_lc_rs::constant_time;

use super::store::{PendingLogin, Session};
use super::{AuthRequest, Issuer, secs};
use crate::secrets::{random_secret, storage_key};

impl Issuer {
    /// Starts a session for `username`; returns the cookie value and the session, or `None`
    /// when the store is full.
    pub(crate) fn start_session(&self, username: &str) -> Option<(String, Session)> {
        let now = self.now();
        let cookie = random_secret();
        let session = Session {
            id: random_secret(),
            username: username.to_owned(),
            auth_time: now,
            expires_at: now + secs(self.inner.lifetimes.session),
        };
        let mut state = self.state();
        if state.full(now) {
            return None;
        }
        state.sessions.insert(storage_key(&cookie), session.clone());
        Some((cookie, session))
    }

    /// The live session behind a cookie value.
    pub(crate) fn session(&self, cookie: &str) -> Option<Session> {
        self.find_live(
            |state| &state.sessions,
            cookie,
            |s, now| s.expires_at > now && self.inner.users.find(&s.username).is_some(),
        )
    }

    pub(crate) fn end_session(&self, cookie: &str) {
        self.state().sessions.remove(&storage_key(cookie));
    }

    /// Remembers a shown login form; returns its id (the form's hidden `request` field).
    pub(crate) fn remember_login(&self, request: AuthRequest, browser: &str) -> Option<String> {
        let lifetime = secs(self.inner.lifetimes.login_request);
        self.store_new(
            |state| &mut state.pending,
            |now| PendingLogin {
                request,
                browser: browser.to_owned(),
                expires_at: now + lifetime,
            },
        )
    }

    /// The shown login form `id`, if it is live and was shown to this browser.
    pub(crate) fn pending_login(&self, id: &str, browser: &str) -> Option<PendingLogin> {
        let same_browser = |p: &PendingLogin| {
            constant_time::verify_slices_are_equal(p.browser.as_bytes(), browser.as_bytes()).is_ok()
        };
        self.find_live(
            |state| &state.pending,
            id,
            |p, now| p.expires_at > now && same_browser(p),
        )
    }

    pub(crate) fn forget_login(&self, id: &str) {
        self.state().pending.remove(&storage_key(id));
    }
}
