//! A JWK Set (RFC 7517 §5), reduced to the keys we can use.
//!
//! Two keys under one `kid` are both skipped: we cannot know which one the issuer means, so
//! neither is trusted. An unusable key is skipped alone: one bad key never spoils the others.

use serde::Deserialize;
use serde_json::Value;

use super::PublicKey;
use crate::Algorithm;
use crate::untrusted::Untrusted;

/// A JWK Set reduced to the keys we can use.
#[derive(Debug)]
pub struct ParsedKeySet {
    /// The usable keys, in document order.
    pub keys: Vec<PublicKey>,
    /// How many keys were skipped (unusable, or sharing a kid).
    pub skipped: usize,
}

/// Parses a JWK Set document (`{"keys": [...]}`), skipping every unusable key (see
/// [`PublicKey::from_jwk`]) and every key of a duplicated `kid`: with two keys under one kid
/// we cannot know which the issuer means, so neither is trusted. `None` if the document is
/// not a JWK Set at all. One bad key never spoils the others.
pub fn parse_jwk_set(json: &[u8], allowed: &[Algorithm]) -> Option<ParsedKeySet> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<Value>,
    }
    let doc: Jwks = serde_json::from_slice(json).ok()?;
    let kid_of = |k: &Value| k.get("kid").and_then(Value::as_str).map(str::to_owned);
    let mut kid_counts: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for k in &doc.keys {
        if let Some(kid) = kid_of(k) {
            *kid_counts.entry(kid).or_default() += 1;
        }
    }
    let mut keys = Vec::new();
    let mut skipped = 0;
    for jwk in &doc.keys {
        let kid = kid_of(jwk);
        if kid
            .as_ref()
            .is_some_and(|k| kid_counts.get(k).copied().unwrap_or(0) > 1)
        {
            tracing::warn!(
                kid = ?kid.as_deref().map(Untrusted),
                "JWKS holds a duplicated kid; skipping every key with it"
            );
            skipped += 1;
            continue;
        }
        match PublicKey::from_jwk(jwk, allowed) {
            Ok(key) => keys.push(key),
            Err(reason) => {
                tracing::debug!(kid = ?kid.as_deref().map(Untrusted), %reason, "skipping JWK");
                skipped += 1;
            }
        }
    }
    Some(ParsedKeySet { keys, skipped })
}

/// The key a token's `kid` selects: by kid, or without a kid the only key if there is
/// exactly one (the same rule as the verifier's key cache).
pub fn select_key<'a>(keys: &'a [PublicKey], kid: Option<&str>) -> Option<&'a PublicKey> {
    match kid {
        Some(kid) => keys.iter().find(|k| k.kid() == Some(kid)),
        None if keys.len() == 1 => keys.first(),
        None => None,
    }
}
