//! The application's URL allow-lists: "Allowed Callback URLs" for `redirect_uri` and "Allowed
//! Logout URLs" for `returnTo`, as in an Auth0 application's settings.

/// Whether `url` is on `allowed`; `https://app` and `https://app/` count as the same URL.
pub(crate) fn url_allowed(url: &str, allowed: &[String]) -> bool {
    let trim = |s: &str| s.strip_suffix('/').unwrap_or(s).to_owned();
    let url = trim(url);
    !url.is_empty() && allowed.iter().any(|a| trim(a) == url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allowed_urls_match_exactly_modulo_one_trailing_slash() {
        let allowed = vec!["http://localhost:3000".to_owned()];
        assert!(url_allowed("http://localhost:3000", &allowed));
        assert!(url_allowed("http://localhost:3000/", &allowed));
        assert!(!url_allowed("http://localhost:3000/callback", &allowed));
        assert!(!url_allowed("http://localhost:3000.evil.test", &allowed));
        assert!(!url_allowed("", &allowed));
    }
}
