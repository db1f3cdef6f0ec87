//! The token endpoint's two grants — `authorization_code` (with PKCE) and `refresh_token`
//! (with rotation and reuse detection) — and the token set they both end in.
//!
//! Refresh tokens follow Auth0's rotation rules: a family starts when a code is redeemed with
//! `offline_access` granted; its absolute end is fixed then and inherited by every rotation,
//! while each token also ends after the inactivity lifetime unless rotated. A refused refresh
//! token (unknown, expired, revoked, reused, another client's) gets Auth0's one answer, because
//! auth0-spa-js recognises that wording to fall back to silent authentication.

use serde_json::{Value, json};

use super::claims::{AccessToken, IdToken};
use super::store::{CodeGrant, RefreshRecord, Session, SpentCode};
use super::{AuthRequest, Issuer, secs};
use crate::pkce;
use crate::secrets::{random_secret, storage_key};
use crate::users::User;

/// Auth0's description for every refused refresh token.
pub(crate) const INVALID_REFRESH_TOKEN: &str = "Unknown or invalid refresh token.";

/// Why a grant at the token endpoint failed; the route maps each to an RFC 6749 §5.2 answer.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum GrantError {
    /// `invalid_grant` (400): the code is unknown, used, expired or bound to something else, or
    /// a DPoP-bound refresh token came without its key.
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// `invalid_grant` (403, as Auth0 answers): the refresh token is unknown, expired, revoked,
    /// reused or another client's. The reason is logged, not told.
    #[error("{INVALID_REFRESH_TOKEN}")]
    InvalidRefreshToken,
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

/// What a successful grant returns, before it is written as JSON.
#[derive(Debug)]
pub(crate) struct TokenSet {
    pub json: Value,
}

/// How a token set's refresh token is stored, if it gets one.
enum Refresh<'a> {
    /// No refresh token (`offline_access` was not granted).
    None,
    /// The first of a family, from a redeemed code: refused if the code was replayed meanwhile.
    FromCode {
        code_key: &'a str,
        family: String,
        original_scopes: &'a [String],
    },
    /// A rotation within a family.
    Rotated(&'a RefreshRecord),
}

/// Everything a token set is made from.
struct Grant<'a> {
    /// `iss` of the tokens: the issuer of the domain the token request came through.
    issuer: &'a str,
    user: &'a User,
    client_id: &'a str,
    audience: Option<&'a str>,
    /// The scopes of this token set (narrower than the family's on a narrowing refresh).
    scopes: &'a [String],
    nonce: Option<&'a str>,
    session: &'a Session,
    refresh: Refresh<'a>,
    /// The DPoP key the tokens are bound to.
    dpop_jkt: Option<&'a str>,
}

impl Issuer {
    /// Issues a single-use code for `request`, bound to its client, redirect_uri and challenge.
    pub(crate) fn issue_code(&self, request: AuthRequest, session: &Session) -> Option<String> {
        let lifetime = secs(self.inner.lifetimes.code);
        self.store_new(
            |state| &mut state.codes,
            |now| CodeGrant {
                request,
                session: session.clone(),
                expires_at: now + lifetime,
            },
        )
    }

    /// The `authorization_code` grant. The code is consumed by any attempt, right or wrong, so
    /// it cannot be guessed at; a second attempt also revokes the refresh tokens the first one
    /// produced (RFC 6749 §4.1.2), including one it is still producing: see [`Refresh::FromCode`].
    /// `proof_jkt` is the key of a verified DPoP proof: the tokens are bound to it, and a code
    /// bound by `dpop_jkt` is redeemed only with a proof of that key.
    pub(crate) fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: &str,
        proof_jkt: Option<&str>,
        issuer: &str,
    ) -> Result<TokenSet, GrantError> {
        let now = self.now();
        let key = storage_key(code);
        let family = random_secret();
        let grant = {
            let mut state = self.state();
            match state.codes.remove(&key) {
                Some(grant) => {
                    state.spent_codes.insert(
                        key.clone(),
                        SpentCode {
                            family: family.clone(),
                            replayed: false,
                            forget_at: now + secs(self.inner.lifetimes.refresh_token),
                        },
                    );
                    grant
                }
                None => {
                    let Some(spent) = state.spent_codes.get_mut(&key) else {
                        return Err(GrantError::InvalidGrant("invalid authorization code"));
                    };
                    spent.replayed = true;
                    let family = spent.family.clone();
                    state.revoke_family(&family);
                    tracing::warn!(
                        "an authorization code was replayed; its refresh tokens are revoked"
                    );
                    return Err(GrantError::InvalidGrant("authorization code already used"));
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
        if !pkce::verifier_matches(verifier, &grant.request.code_challenge) {
            return Err(GrantError::InvalidGrant(
                "code_verifier does not match the code_challenge",
            ));
        }
        if let Some(bound) = &grant.request.dpop_jkt
            && proof_jkt != Some(bound.as_str())
        {
            return Err(GrantError::InvalidGrant(
                "the authorization code is bound to another DPoP key (dpop_jkt)",
            ));
        }
        let user = self
            .inner
            .users
            .find(&grant.session.username)
            .ok_or(GrantError::InvalidGrant("the user no longer exists"))?;
        let audience = grant.request.audience.as_deref();
        let scopes = self.granted_scopes(&user, &grant.request.scopes, audience);
        let refresh = if scopes.iter().any(|s| s == "offline_access") {
            Refresh::FromCode {
                code_key: &key,
                family,
                original_scopes: &scopes,
            }
        } else {
            Refresh::None
        };
        self.token_set(Grant {
            issuer,
            user: &user,
            client_id,
            audience,
            scopes: &scopes,
            nonce: grant.request.nonce.as_deref(),
            session: &grant.session,
            refresh,
            dpop_jkt: proof_jkt,
        })
    }

    /// The `refresh_token` grant, with rotation: the presented token is spent, a new one of the
    /// same family is returned, and presenting a spent token again revokes the whole family
    /// (Auth0's reuse detection). A `scope` narrows the new access token only; the new refresh
    /// token keeps the original grant (RFC 6749 §6).
    pub(crate) fn redeem_refresh_token(
        &self,
        token: &str,
        client_id: &str,
        scope: Option<&str>,
        proof_jkt: Option<&str>,
        issuer: &str,
    ) -> Result<TokenSet, GrantError> {
        let now = self.now();
        let refused = |reason: &'static str| {
            tracing::info!(reason, "refresh token refused");
            GrantError::InvalidRefreshToken
        };
        let record = {
            let mut state = self.state();
            let key = storage_key(token);
            let Some(record) = state.refresh.get_mut(&key) else {
                return Err(refused("unknown or revoked"));
            };
            if record.used {
                let family = record.family.clone();
                state.revoke_family(&family);
                tracing::warn!("a rotated refresh token was reused; its family is revoked");
                return Err(GrantError::InvalidRefreshToken);
            }
            if record.absolute_expires_at <= now {
                return Err(refused("past its absolute lifetime"));
            }
            if record.idle_expires_at <= now {
                return Err(refused("past its inactivity lifetime"));
            }
            if record.client_id != client_id {
                return Err(refused("issued to another client"));
            }
            // A bound refresh token is useless without its key: a thief gets nothing, and the
            // token is not spent by the attempt.
            if let Some(bound) = &record.dpop_jkt
                && proof_jkt != Some(bound.as_str())
            {
                return Err(GrantError::InvalidGrant(
                    "the refresh token is bound to another DPoP key",
                ));
            }
            record.used = true;
            record.clone()
        };
        let user = self
            .inner
            .users
            .find(&record.username)
            .ok_or_else(|| refused("the user no longer exists"))?;
        let scopes = match scope.map(str::split_whitespace) {
            None => record.scopes.clone(),
            Some(asked) => {
                let mut narrowed: Vec<String> = Vec::new();
                for s in asked {
                    if !record.scopes.iter().any(|g| g == s) {
                        return Err(GrantError::InvalidScope("a refresh cannot add scopes"));
                    }
                    if !narrowed.iter().any(|n| n == s) {
                        narrowed.push(s.to_owned());
                    }
                }
                narrowed
            }
        };
        self.token_set(Grant {
            issuer,
            user: &user,
            client_id,
            audience: record.audience.as_deref(),
            scopes: &scopes,
            nonce: None,
            session: &record.session,
            refresh: Refresh::Rotated(&record),
            dpop_jkt: record.dpop_jkt.as_deref().or(proof_jkt),
        })
    }

    /// Revokes the family of a refresh token (RFC 7009); unknown tokens are ignored, as the RFC asks.
    pub(crate) fn revoke_refresh_token(&self, token: &str, client_id: &str) {
        let mut state = self.state();
        let family = state
            .refresh
            .get(&storage_key(token))
            .filter(|r| r.client_id == client_id)
            .map(|r| r.family.clone());
        if let Some(family) = family {
            state.revoke_family(&family);
        }
    }

    fn token_set(&self, grant: Grant<'_>) -> Result<TokenSet, GrantError> {
        let now = self.now();
        let key = self.inner.keys.current();
        let access = self.access_claims(&AccessToken {
            issuer: grant.issuer,
            user: grant.user,
            client_id: grant.client_id,
            audience: grant.audience,
            scopes: grant.scopes,
            permissions: self.permissions_claim(grant.user, grant.audience),
            issued_at: now,
            lifetime: self.inner.lifetimes.access_token,
            dpop_jkt: grant.dpop_jkt,
        });
        let access_token = key.sign_jwt(&access).map_err(|_| GrantError::Signing)?;
        let mut json = json!({
            "access_token": access_token,
            "scope": grant.scopes.join(" "),
            "expires_in": secs(self.inner.lifetimes.access_token),
            "token_type": if grant.dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
        });
        // OIDC Core §3.1.2.1: an ID token only for an OpenID request.
        if grant.scopes.iter().any(|s| s == "openid") {
            let id = self.id_claims(&IdToken {
                issuer: grant.issuer,
                user: grant.user,
                client_id: grant.client_id,
                scopes: grant.scopes,
                nonce: grant.nonce,
                session: grant.session,
                issued_at: now,
            });
            json["id_token"] = Value::String(key.sign_jwt(&id).map_err(|_| GrantError::Signing)?);
        }
        let (family, scopes, absolute_expires_at) = match &grant.refresh {
            Refresh::None => return Ok(TokenSet { json }),
            Refresh::FromCode {
                family,
                original_scopes,
                ..
            } => (
                family.clone(),
                original_scopes.to_vec(),
                now + secs(self.inner.lifetimes.refresh_token),
            ),
            Refresh::Rotated(previous) => (
                previous.family.clone(),
                previous.scopes.clone(),
                previous.absolute_expires_at,
            ),
        };
        let refresh = random_secret();
        let record = RefreshRecord {
            family,
            client_id: grant.client_id.to_owned(),
            username: grant.user.username.clone(),
            scopes,
            audience: grant.audience.map(str::to_owned),
            session: grant.session.clone(),
            absolute_expires_at,
            idle_expires_at: now + secs(self.inner.lifetimes.refresh_token_idle),
            used: false,
            dpop_jkt: grant.dpop_jkt.map(str::to_owned),
        };
        {
            // One lock for the replay check and the insert: a replay of the code that lands
            // between them would otherwise find nothing to revoke, and this token would live.
            let mut state = self.state();
            if let Refresh::FromCode { code_key, .. } = &grant.refresh
                && state.spent_codes.get(*code_key).is_none_or(|c| c.replayed)
            {
                return Err(GrantError::InvalidGrant("authorization code already used"));
            }
            if let Refresh::Rotated(previous) = &grant.refresh
                && !state.refresh.values().any(|r| r.family == previous.family)
            {
                // The family was revoked (reuse, logout) while this rotation was signing.
                return Err(GrantError::InvalidRefreshToken);
            }
            if state.full(now) {
                return Err(GrantError::Full);
            }
            state.refresh.insert(storage_key(&refresh), record);
        }
        json["refresh_token"] = Value::String(refresh);
        Ok(TokenSet { json })
    }
}
