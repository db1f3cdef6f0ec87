//! The application's URL allow-lists: "Allowed Callback URLs" for `redirect_uri`, "Allowed
//! Logout URLs" for `returnTo` and "Allowed Web Origins" for `web_message`, as in an Auth0
//! application's settings.
//!
//! Matching is exact string equality, as Auth0's is: `http://localhost:3000/` is not
//! `http://localhost:3000`. Being more forgiving here would let an app that works against the
//! dev issuer fail on its first login against the real tenant.

/// Whether `url` is on `allowed`, character for character.
pub(crate) fn url_allowed(url: &str, allowed: &[String]) -> bool {
    !url.is_empty() && allowed.iter().any(|a| a == url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_urls_match_exactly_even_a_trailing_slash() {
        let allowed = vec!["http://localhost:3000".to_owned()];
        assert!(url_allowed("http://localhost:3000", &allowed));
        assert!(!url_allowed("http://localhost:3000/", &allowed));
        assert!(!url_allowed("HTTP://localhost:3000", &allowed));
        assert!(!url_allowed("http://localhost:3000/callback", &allowed));
        assert!(!url_allowed("http://localhost:3000.evil.test", &allowed));
        assert!(!url_allowed("", &allowed));
    }
}
