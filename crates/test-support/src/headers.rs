//! Reading response headers as text.

use reqwest::Response;

/// The value of header `name`, if it is present and visible ASCII.
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Every value of header `name`, in order (unreadable ones as `?`).
pub fn header_values(response: &Response, name: &str) -> Vec<String> {
    response
        .headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap_or("?").to_owned())
        .collect()
}

/// The comma-separated members of header `name`, trimmed and lowercased (`Vary`,
/// `Access-Control-*`).
pub fn header_list(response: &Response, name: &str) -> Vec<String> {
    header(response, name)
        .unwrap_or_default()
        .split(',')
        .map(|m| m.trim().to_ascii_lowercase())
        .filter(|m| !m.is_empty())
        .collect()
}
