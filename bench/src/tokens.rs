//! The token pools the scenarios send, and the files wrk's Lua script reads them from.
//!
//! Valid tokens come from the dev issuer (see `issuer.rs`). Invalid ones are those same tokens
//! with one bit of the signature flipped: well-formed, right `kid`, right claims, so each server
//! does the full RSA verification before it says no — the expensive failure, not a parse error.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::scenario::Scenario;

/// Why a token could not be turned into a bad-signature twin.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TamperError {
    /// Not three dot-separated parts.
    #[error("not a compact JWS")]
    NotCompact,
    /// The signature part is not base64url or is empty.
    #[error("signature is not base64url")]
    BadSignatureEncoding,
}

/// The same token with one bit flipped in the middle of its signature.
pub fn with_bad_signature(token: &str) -> Result<String, TamperError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(TamperError::NotCompact);
    };
    let mut sig = URL_SAFE_NO_PAD
        .decode(signature)
        .map_err(|_| TamperError::BadSignatureEncoding)?;
    let middle = sig.len() / 2;
    let byte = sig
        .get_mut(middle)
        .ok_or(TamperError::BadSignatureEncoding)?;
    *byte ^= 0x01;
    Ok(format!(
        "{header}.{payload}.{}",
        URL_SAFE_NO_PAD.encode(&sig)
    ))
}

/// The token files of one run, under the output directory.
#[derive(Debug, Clone)]
pub struct TokenFiles {
    /// Empty: no Authorization header (`/api/public`).
    pub none: PathBuf,
    /// One valid token, repeated (scenario a).
    pub one: PathBuf,
    /// The pool of distinct valid tokens (scenario b).
    pub pool: PathBuf,
    /// The pool with bad signatures (scenario c).
    pub bad: PathBuf,
    /// The large pool of distinct valid tokens (scenario d); empty when (d) is skipped.
    pub large: PathBuf,
    /// The one DPoP-bound token (scenario e), written by [`TokenFiles::write_dpop`].
    pub dpop: PathBuf,
}

impl TokenFiles {
    /// Writes the five files into `dir` (created if needed), readable by the owner only: the
    /// first `pool` of `minted` make the pool (and, tampered with, the bad-signature pool), the
    /// first `large` the large pool.
    pub fn write(
        dir: &Path,
        minted: &[String],
        pool: usize,
        large: usize,
    ) -> Result<Self, WriteError> {
        let pool = minted.get(..pool).filter(|p| !p.is_empty());
        let (Some(pool), Some(large)) = (pool, minted.get(..large)) else {
            return Err(WriteError::TooFew(minted.len()));
        };
        let bad = pool
            .iter()
            .map(|t| with_bad_signature(t))
            .collect::<Result<Vec<_>, _>>()?;
        std::fs::create_dir_all(dir).map_err(|e| WriteError::Io(dir.to_owned(), e))?;
        let files = Self {
            none: dir.join("tokens-none.txt"),
            one: dir.join("tokens-one.txt"),
            pool: dir.join("tokens-pool.txt"),
            bad: dir.join("tokens-bad-signature.txt"),
            large: dir.join("tokens-large-pool.txt"),
            dpop: dir.join("tokens-dpop.txt"),
        };
        write_lines(&files.none, &[])?;
        write_lines(&files.one, &pool[..1])?;
        write_lines(&files.pool, pool)?;
        write_lines(&files.bad, &bad)?;
        write_lines(&files.large, large)?;
        write_lines(&files.dpop, &[])?;
        Ok(files)
    }

    /// Writes the DPoP-bound token of scenario (e).
    pub fn write_dpop(&self, token: &str) -> Result<(), WriteError> {
        write_lines(&self.dpop, &[token.to_owned()])
    }

    /// The file `scenario` sends its tokens from.
    pub fn for_scenario(&self, scenario: Scenario) -> &Path {
        match scenario {
            Scenario::Public => &self.none,
            Scenario::OneToken => &self.one,
            Scenario::DistinctTokens => &self.pool,
            Scenario::BadSignature => &self.bad,
            Scenario::LargePool => &self.large,
            Scenario::Dpop => &self.dpop,
        }
    }
}

/// Why the token files could not be written.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Fewer tokens were minted than a pool needs (or none).
    #[error("only {0} tokens were minted, fewer than a pool needs")]
    TooFew(usize),
    /// A minted token was not a JWS.
    #[error("a minted token cannot be tampered with: {0}")]
    Tamper(#[from] TamperError),
    /// The file system said no.
    #[error("cannot write {0}: {1}")]
    Io(PathBuf, std::io::Error),
}

fn write_lines(path: &Path, lines: &[String]) -> Result<(), WriteError> {
    let io = |e| WriteError::Io(path.to_owned(), e);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(path).map_err(io)?;
    let mut out = std::io::BufWriter::new(file);
    for line in lines {
        out.write_all(line.as_bytes()).map_err(io)?;
        out.write_all(b"\n").map_err(io)?;
    }
    out.flush().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    // A syntactically valid JWS with a 256-byte signature, like an RS256 token.
    fn sample_token() -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#);
        let sig: Vec<u8> = (0..=255u8).collect();
        format!("{header}.{payload}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    #[test]
    fn bad_signature_keeps_header_and_payload_and_changes_exactly_one_signature_bit() {
        let token = sample_token();
        let bad = with_bad_signature(&token).expect("tampers");
        let (good_parts, bad_parts): (Vec<_>, Vec<_>) =
            (token.split('.').collect(), bad.split('.').collect());
        assert_eq!(good_parts[..2], bad_parts[..2]);
        let good_sig = URL_SAFE_NO_PAD.decode(good_parts[2]).expect("b64");
        let bad_sig = URL_SAFE_NO_PAD.decode(bad_parts[2]).expect("b64");
        let differing_bits: u32 = good_sig
            .iter()
            .zip(&bad_sig)
            .map(|(a, b)| (a ^ b).count_ones())
            .sum();
        assert_eq!(differing_bits, 1);
        assert_eq!(good_sig.len(), bad_sig.len());
    }

    #[test]
    fn token_without_three_parts_is_refused() {
        for token in ["a.b", "a.b.c.d"] {
            assert_eq!(with_bad_signature(token), Err(TamperError::NotCompact));
        }
    }

    #[test]
    fn empty_signature_is_refused() {
        assert_eq!(
            with_bad_signature("a.b."),
            Err(TamperError::BadSignatureEncoding)
        );
    }

    #[test]
    fn files_hold_one_token_per_line_and_none_is_empty() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = sample_token();
        let second = first.replace(
            &URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#),
            &URL_SAFE_NO_PAD.encode(br#"{"sub":"y"}"#),
        );
        let third = first.replace(
            &URL_SAFE_NO_PAD.encode(br#"{"sub":"x"}"#),
            &URL_SAFE_NO_PAD.encode(br#"{"sub":"z"}"#),
        );
        let minted = vec![first.clone(), second.clone(), third.clone()];
        let files = TokenFiles::write(dir.path(), &minted, 2, 3).expect("writes");
        let read = |p: &Path| std::fs::read_to_string(p).expect("reads");
        assert_eq!(read(&files.none), "");
        assert_eq!(read(&files.one), format!("{first}\n"));
        assert_eq!(read(&files.pool), format!("{first}\n{second}\n"));
        assert_eq!(read(&files.large), format!("{first}\n{second}\n{third}\n"));
        let bad = read(&files.bad);
        assert_eq!(bad.lines().count(), 2);
        assert!(!bad.contains(&first) && !bad.contains(&second));
    }

    #[test]
    fn a_pool_larger_than_what_was_minted_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let minted = vec![sample_token()];
        let too_few = |minted: &[String], pool, large| match TokenFiles::write(
            dir.path(),
            minted,
            pool,
            large,
        ) {
            Err(WriteError::TooFew(n)) => Some(n),
            _ => None,
        };
        assert_eq!(too_few(&minted, 2, 0), Some(1));
        assert_eq!(too_few(&minted, 1, 2), Some(1));
        assert_eq!(too_few(&[], 0, 0), Some(0));
    }
}
