//! Stateless server nonces (RFC 9449 §8, §9).
//!
//! A nonce is `base64url(slot || HMAC-SHA256(secret, label || slot)[..16])`, where `slot` is the
//! current time divided by the slot length. Nothing is stored: any server holding the same secret
//! recognises the nonce, so replicas agree without talking to each other, and a restart with the
//! same secret keeps clients' nonces valid. The current and the previous slot are accepted, so a
//! nonce lives between one and two slot lengths and a client that fetched one just before a slot
//! boundary is not bounced.

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Domain separation: a MAC made for something else with the same secret is never a nonce.
const LABEL: &[u8] = b"dpop-nonce/v1\0";
const TAG_BYTES: usize = 16;
const NONCE_BYTES: usize = 8 + TAG_BYTES;

/// Issues and checks nonces for one secret and slot length.
pub(crate) struct NonceSource {
    key: hmac::Key,
    slot_secs: u64,
}

impl std::fmt::Debug for NonceSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NonceSource {{ slot_secs: {}, .. }}", self.slot_secs)
    }
}

/// How a presented nonce compares with the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NonceCheck {
    /// Made in the current slot.
    Current,
    /// Made in the previous slot: still accepted, but the client should take a new one.
    Previous,
    /// Not ours, or older than the previous slot.
    Invalid,
}

impl NonceSource {
    pub fn new(secret: &[u8], slot_secs: u64) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
            slot_secs: slot_secs.max(1),
        }
    }

    fn tag(&self, slot: u64) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(LABEL);
        ctx.update(&slot.to_be_bytes());
        ctx.sign()
    }

    /// The nonce of the slot `now` (seconds since the epoch) falls in.
    pub fn issue(&self, now: u64) -> String {
        let slot = now / self.slot_secs;
        let mut raw = [0u8; NONCE_BYTES];
        raw[..8].copy_from_slice(&slot.to_be_bytes());
        raw[8..].copy_from_slice(&self.tag(slot).as_ref()[..TAG_BYTES]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Checks `nonce` against the current and the previous slot.
    pub fn check(&self, nonce: &str, now: u64) -> NonceCheck {
        let mut raw = [0u8; NONCE_BYTES];
        // Exact length first: the decoder then never allocates for attacker-sized input.
        if nonce.len() != URL_SAFE_NO_PAD.encode([0u8; NONCE_BYTES]).len()
            || URL_SAFE_NO_PAD.decode_slice(nonce, &mut raw) != Ok(NONCE_BYTES)
        {
            return NonceCheck::Invalid;
        }
        let mut slot_bytes = [0u8; 8];
        slot_bytes.copy_from_slice(&raw[..8]);
        let slot = u64::from_be_bytes(slot_bytes);
        let current = now / self.slot_secs;
        let verdict = if slot == current {
            NonceCheck::Current
        } else if slot.checked_add(1) == Some(current) {
            NonceCheck::Previous
        } else {
            return NonceCheck::Invalid;
        };
        // Constant-time comparison of the truncated tag.
        let expected = self.tag(slot);
        if aws_lc_rs::constant_time::verify_slices_are_equal(
            &expected.as_ref()[..TAG_BYTES],
            &raw[8..],
        )
        .is_ok()
        {
            verdict
        } else {
            NonceCheck::Invalid
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_nonce_is_current_in_its_slot_and_previous_in_the_next() {
        let source = NonceSource::new(SECRET, 60);
        let nonce = source.issue(6000);
        assert_eq!(source.check(&nonce, 6059), NonceCheck::Current);
        assert_eq!(source.check(&nonce, 6060), NonceCheck::Previous);
        assert_eq!(source.check(&nonce, 6120), NonceCheck::Invalid);
    }

    #[test]
    fn a_nonce_from_the_future_is_invalid() {
        let source = NonceSource::new(SECRET, 60);
        assert_eq!(source.check(&source.issue(6060), 6000), NonceCheck::Invalid);
    }

    #[test]
    fn replicas_sharing_the_secret_agree() {
        let a = NonceSource::new(SECRET, 60);
        let b = NonceSource::new(SECRET, 60);
        assert_eq!(b.check(&a.issue(6000), 6001), NonceCheck::Current);
    }

    #[test]
    fn another_secret_does_not_recognise_the_nonce() {
        let a = NonceSource::new(SECRET, 60);
        let b = NonceSource::new(b"another secret of thirty-two b..", 60);
        assert_eq!(b.check(&a.issue(6000), 6001), NonceCheck::Invalid);
    }

    #[test]
    fn a_tampered_slot_or_tag_is_invalid() {
        let source = NonceSource::new(SECRET, 60);
        let nonce = source.issue(6000);
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).expect("b64");
        raw[7] ^= 1;
        assert_eq!(
            source.check(&URL_SAFE_NO_PAD.encode(&raw), 6000),
            NonceCheck::Invalid
        );
        let mut raw = URL_SAFE_NO_PAD.decode(&nonce).expect("b64");
        raw[20] ^= 1;
        assert_eq!(
            source.check(&URL_SAFE_NO_PAD.encode(&raw), 6000),
            NonceCheck::Invalid
        );
        for junk in ["", "x", &"A".repeat(32), &"A".repeat(4000)] {
            assert_eq!(source.check(junk, 6000), NonceCheck::Invalid);
        }
    }
}
