//! Untrusted text in log lines: escaped and cut to a bounded length.
//!
//! A token's header is the sender's to write, up to the size cap: a `kid` of 16 KiB on every
//! bogus request would flood the logs, and a raw newline in it would forge log lines. Such
//! values are logged through [`Untrusted`], whose `Debug` form is Rust's escaped string syntax
//! (so control characters stay inside the quotes) cut after [`MAX_LOGGED_CHARS`] characters,
//! with the full length noted.

use std::fmt;

/// Characters of an untrusted value written to a log line.
pub(crate) const MAX_LOGGED_CHARS: usize = 64;

/// An untrusted string for a log field: log it as `field = ?Untrusted(value)`.
pub(crate) struct Untrusted<'a>(pub &'a str);

impl fmt::Debug for Untrusted<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.char_indices().nth(MAX_LOGGED_CHARS) {
            None => fmt::Debug::fmt(self.0, f),
            Some((cut, _)) => {
                fmt::Debug::fmt(&self.0[..cut], f)?;
                write!(f, "...({} bytes in all)", self.0.len())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_values_are_written_whole_and_quoted() {
        assert_eq!(format!("{:?}", Untrusted("key-1")), r#""key-1""#);
    }

    #[test]
    fn long_values_are_cut_and_their_length_noted() {
        let long = "a".repeat(5000);
        let logged = format!("{:?}", Untrusted(&long));
        assert_eq!(
            logged,
            format!("\"{}\"...(5000 bytes in all)", "a".repeat(MAX_LOGGED_CHARS))
        );
    }

    #[test]
    fn control_characters_stay_escaped() {
        let logged = format!("{:?}", Untrusted("k\n2026-01-01 INFO forged"));
        assert!(!logged.contains('\n'), "{logged}");
    }

    #[test]
    fn multibyte_characters_are_never_split() {
        let long = "é".repeat(100);
        let logged = format!("{:?}", Untrusted(&long));
        assert!(logged.starts_with(&format!("\"{}\"", "é".repeat(MAX_LOGGED_CHARS))));
    }
}
