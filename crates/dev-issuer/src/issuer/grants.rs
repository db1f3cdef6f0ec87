//! The token endpoint's two grants — `authorization_code` (with PKCE) and `refresh_token`
//! (with rotation and reuse detection) — and the token set they both end in.

use serde_json::{Value, json};

use super::claims::{AccessToken, IdToken};
use super::store::{CodeGrant, RefreshRecord, Session, SpentCode};
use super::{AuthRequest, Issuer, secs};
use crate::pkce;
use crate::secrets::{random_secret, storage_key};
use crate::users::User;

/// Why a grant at the token endpoint failed; the route maps each to an RFC 6749 §5.2 answer.
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

/// What a successful grant returns, before it is written as JSON.
#[derive(Debug)]
pub(crate) struct TokenSet {
    pub json: Value,
}

/// Everything a token set is made from.
struct Grant<'a> {
    user: &'a User,
    client_id: &'a str,
    audience: Option<&'a str>,
    scopes: &'a [String],
    nonce: Option<&'a str>,
    session: &'a Session,
    /// The refresh-token family to extend, when `offline_access` was granted.
    family: Option<String>,
    /// The DPoP key the tokens are bound to.
    dpop_jkt: Option<&'a str>,
}

impl Issuer {
    /// Issues a single-use code for `request`, bound to its client, redirect_uri and challenge.
    pub(crate) fn issue_code(&self, request: AuthRequest, session: &Session) -> Option<String> {
        let now = self.now();
        let code = random_secret();
        let mut state = self.state();
        if state.full(now) {
            return None;
        }
        state.codes.insert(
            storage_key(&code),
            CodeGrant {
                request,
                session: session.clone(),
                expires_at: now + secs(self.inner.lifetimes.code),
            },
        );
        Some(code)
    }

    /// The `authorization_code` grant. The code is consumed by any attempt, right or wrong, so
    /// it cannot be guessed at; a second attempt also revokes the refresh tokens the first one
    /// produced. `proof_jkt` is the key of a verified DPoP proof: the tokens are bound to it,
    /// and a code bound by `dpop_jkt` is redeemed only with a proof of that key.
    pub(crate) fn redeem_code(
        &self,
        code: &str,
        client_id: &str,
        redirect_uri: Option<&str>,
        verifier: &str,
        proof_jkt: Option<&str>,
    ) -> Result<TokenSet, GrantError> {
        let now = self.now();
        let key = storage_key(code);
        let grant = {
            let mut state = self.state();
            match state.codes.remove(&key) {
                Some(grant) => {
                    state.spent_codes.insert(
                        key.clone(),
                        SpentCode {
                            family: None,
                            forget_at: now + secs(self.inner.lifetimes.refresh_token),
                        },
                    );
                    grant
                }
                None => {
                    if let Some(spent) = state.spent_codes.get(&key) {
                        if let Some(family) = spent.family.clone() {
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
        let scopes = grant_scopes(&user, &grant.request.scopes);
        let family = scopes
            .iter()
            .any(|s| s == "offline_access")
            .then(random_secret);
        if let Some(family) = &family
            && let Some(spent) = self.state().spent_codes.get_mut(&key)
        {
            spent.family = Some(family.clone());
        }
        self.token_set(Grant {
            user: &user,
            client_id,
            audience: grant.request.audience.as_deref(),
            scopes: &scopes,
            nonce: grant.request.nonce.as_deref(),
            session: &grant.session,
            family,
            dpop_jkt: proof_jkt,
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
        proof_jkt: Option<&str>,
    ) -> Result<TokenSet, GrantError> {
        let now = self.now();
        let record = {
            let mut state = self.state();
            let key = storage_key(token);
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
        self.token_set(Grant {
            user: &user,
            client_id,
            audience: record.audience.as_deref(),
            scopes: &scopes,
            nonce: None,
            session: &record.session,
            family: Some(record.family),
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
            user: grant.user,
            client_id: grant.client_id,
            audience: grant.audience,
            scopes: grant.scopes,
            issued_at: now,
            lifetime: self.inner.lifetimes.access_token,
            dpop_jkt: grant.dpop_jkt,
        });
        let id = self.id_claims(&IdToken {
            user: grant.user,
            client_id: grant.client_id,
            scopes: grant.scopes,
            nonce: grant.nonce,
            session: grant.session,
            issued_at: now,
        });
        let access_token = key.sign_jwt(&access).map_err(|_| GrantError::Signing)?;
        let id_token = key.sign_jwt(&id).map_err(|_| GrantError::Signing)?;
        let mut json = json!({
            "access_token": access_token,
            "id_token": id_token,
            "scope": grant.scopes.join(" "),
            "expires_in": secs(self.inner.lifetimes.access_token),
            "token_type": if grant.dpop_jkt.is_some() { "DPoP" } else { "Bearer" },
        });
        if let Some(family) = grant.family {
            let refresh = random_secret();
            let mut state = self.state();
            if state.full(now) {
                return Err(GrantError::Full);
            }
            state.refresh.insert(
                storage_key(&refresh),
                RefreshRecord {
                    family,
                    client_id: grant.client_id.to_owned(),
                    username: grant.user.username.clone(),
                    scopes: grant.scopes.to_vec(),
                    audience: grant.audience.map(str::to_owned),
                    session: grant.session.clone(),
                    expires_at: now + secs(self.inner.lifetimes.refresh_token),
                    used: false,
                    dpop_jkt: grant.dpop_jkt.map(str::to_owned),
                },
            );
            json["refresh_token"] = Value::String(refresh);
        }
        Ok(TokenSet { json })
    }
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
