//! `htu` comparison: RFC 9449 §4.3 compares the proof's `htu` with the request's target URI
//! "without query and fragment parts", after RFC 3986 §6.2.2 syntax-based and §6.2.3
//! scheme-based normalisation.
//!
//! The `url` crate (WHATWG parsing) already lower-cases scheme and host, drops a default port,
//! removes dot segments (also percent-encoded ones) and turns an empty path into `/`. What it
//! leaves, and is done here by hand, is the percent-encoding part of §6.2.2: hex digits are
//! upper-cased and octets of unreserved characters are decoded, so `/%7Euser` and `/~user` are
//! the same resource. Only `http` and `https` URIs with a host and no user information count.

use std::cell::RefCell;

use url::Url;

/// Request URIs longer than this are normalised every time rather than remembered.
const MAX_REMEMBERED: usize = 2048;

thread_local! {
    /// The last request URI this thread found to be a URI (empty for none yet).
    static LAST_URI: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Whether `uri` is an absolute http(s) URI, as [`normalize`] decides. A server asks this for
/// the same few request URIs over and over, so each thread remembers the last one that was:
/// a text compared byte for byte with one that normalised is one too.
pub fn is_uri(uri: &str) -> bool {
    if !uri.is_empty() && LAST_URI.with_borrow(|last| last == uri) {
        return true;
    }
    let ok = normalize(uri).is_some();
    if ok && uri.len() <= MAX_REMEMBERED {
        LAST_URI.with_borrow_mut(|last| {
            last.clear();
            last.push_str(uri);
        });
    }
    ok
}

/// The normalised form of `uri` without query and fragment, or `None` if it is not an absolute
/// http(s) URI.
pub fn normalize(uri: &str) -> Option<String> {
    let url = Url::parse(uri).ok()?;
    if !matches!(url.scheme(), "http" | "https")
        || url.host_str().is_none()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return None;
    }
    let mut out = String::with_capacity(uri.len());
    out.push_str(url.scheme());
    out.push_str("://");
    out.push_str(url.host_str()?);
    if let Some(port) = url.port() {
        out.push(':');
        out.push_str(&port.to_string());
    }
    normalize_percent_encoding(url.path(), &mut out);
    Some(out)
}

/// Appends `path` with upper-case percent-encodings and decoded unreserved octets.
fn normalize_percent_encoding(path: &str, out: &mut String) {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let (Some(hi), Some(lo)) = (
                bytes.get(i + 1).and_then(|b| hex(*b)),
                bytes.get(i + 2).and_then(|b| hex(*b)),
            )
        {
            let octet = hi << 4 | lo;
            if octet.is_ascii_alphanumeric() || matches!(octet, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(octet));
            } else {
                out.push('%');
                out.push(char::from(b"0123456789ABCDEF"[usize::from(hi)]));
                out.push(char::from(b"0123456789ABCDEF"[usize::from(lo)]));
            }
            i += 3;
        } else {
            // `url` serialises paths as ASCII, so byte-wise copying keeps it a valid str; the
            // fallback is for safety, never taken.
            out.push(char::from(bytes[i]));
            i += 1;
        }
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(a: &str, b: &str) -> bool {
        matches!((normalize(a), normalize(b)), (Some(x), Some(y)) if x == y)
    }

    #[test]
    fn scheme_and_host_case_do_not_matter() {
        assert!(same(
            "HTTPS://API.Example.COM/api/external",
            "https://api.example.com/api/external"
        ));
    }

    #[test]
    fn default_port_and_empty_path_are_normalised() {
        assert!(same("https://a.example:443", "https://a.example/"));
        assert!(same("http://localhost:80/x", "http://localhost/x"));
        assert!(!same("http://localhost:3001/x", "http://localhost/x"));
    }

    #[test]
    fn query_and_fragment_are_ignored() {
        assert!(same("https://a.example/x?y=1#z", "https://a.example/x"));
    }

    #[test]
    fn dot_segments_are_removed() {
        assert!(same(
            "https://a.example/a/./b/../c",
            "https://a.example/a/c"
        ));
        assert!(same("https://a.example/a/%2e%2E/c", "https://a.example/c"));
    }

    #[test]
    fn percent_encoding_case_and_unreserved_octets_are_normalised() {
        assert!(same("https://a.example/%7euser", "https://a.example/~user"));
        assert!(same("https://a.example/a%2fb", "https://a.example/a%2Fb"));
        assert!(!same("https://a.example/a%2Fb", "https://a.example/a/b"));
    }

    #[test]
    fn paths_are_case_sensitive() {
        assert!(!same(
            "https://a.example/API/external",
            "https://a.example/api/external"
        ));
    }

    #[test]
    fn a_uri_is_a_uri_again_when_asked_twice_and_a_non_uri_never() {
        assert!(is_uri("https://a.example/x"));
        assert!(is_uri("https://a.example/x"));
        assert!(!is_uri("/x"));
        assert!(!is_uri("/x"));
        assert!(is_uri("http://b.example/y"));
        assert!(!is_uri(""));
    }

    #[test]
    fn non_http_relative_or_credentialed_uris_are_refused() {
        for uri in [
            "/api/external",
            "ftp://a.example/x",
            "https://user@a.example/x",
            "urn:x:y",
            "",
        ] {
            assert_eq!(normalize(uri), None, "{uri}");
        }
    }
}
