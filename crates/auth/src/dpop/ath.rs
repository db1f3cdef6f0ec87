//! `ath`, the proof's hash of the access token it is sent with (RFC 9449 §4.2, §7.1).

use std::cell::RefCell;

use aws_lc_rs::digest;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// `ath`: base64url(SHA-256(ASCII access token)) (RFC 9449 §4.2).
pub fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(digest::digest(&digest::SHA256, token.as_bytes()))
}

/// Tokens longer than this are hashed every time rather than remembered.
const MAX_REMEMBERED_TOKEN: usize = 16 * 1024;

thread_local! {
    /// The last access token this thread hashed for `ath`, and its hash.
    static LAST_ATH: RefCell<(String, String)> = const { RefCell::new((String::new(), String::new())) };
}

/// Whether `ath` is [`access_token_hash`]`(token)`. A client sends the same token with proof
/// after proof, so each thread remembers the last token it hashed (compared byte for byte)
/// with its hash instead of hashing an 800-byte token again.
pub(super) fn is_access_token_hash(ath: &str, token: &str) -> bool {
    if token.len() > MAX_REMEMBERED_TOKEN {
        return ath == access_token_hash(token);
    }
    LAST_ATH.with_borrow_mut(|(last_token, last_hash)| {
        if last_hash.is_empty() || last_token != token {
            *last_hash = access_token_hash(token);
            last_token.clear();
            last_token.push_str(token);
        }
        ath == last_hash
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_hash_matches_the_rfc_9449_example() {
        // RFC 9449 §7.1, the access token of the example request.
        let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        assert_eq!(
            access_token_hash(token),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn the_hash_of_a_token_is_its_hash_again_and_not_another_tokens() {
        let token = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
        let hash = "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo";
        assert!(is_access_token_hash(hash, token));
        assert!(is_access_token_hash(hash, token));
        assert!(!is_access_token_hash(hash, "another-token"));
        assert!(!is_access_token_hash("", token));
        assert!(is_access_token_hash(hash, token));
    }
}
