//! The few HTML pages the issuer serves: the login form, error pages, the web_message response.
//!
//! Built with `format!` and one escaping function instead of a template engine: there are four
//! small pages, and every interpolated value goes through [`escape`] (HTML text and attributes)
//! or [`script_json`] (data inside a `<script>`), which is the whole of what a template engine
//! would do for them here.

use serde_json::Value;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// JSON that is safe inside a `<script>` element: no `</script>`, no `<!--`, no line separators.
pub(crate) fn script_json(value: &Value) -> String {
    value
        .to_string()
        .replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f3f4f6;margin:0;display:flex;justify-content:center}\
main{background:#fff;margin-top:10vh;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:min(22rem,90vw)}\
h1{font-size:1.4rem;margin-top:0}label{display:block;margin-top:1rem;font-weight:600}\
input{width:100%;box-sizing:border-box;padding:.5rem;margin-top:.25rem;font-size:1rem}\
button{margin-top:1.5rem;width:100%;padding:.6rem;font-size:1rem;background:#4f46e5;color:#fff;border:0;border-radius:4px;cursor:pointer}\
.error{color:#b91c1c;background:#fef2f2;padding:.5rem;border-radius:4px}\
.note{color:#6b7280;font-size:.85rem;margin-top:1.5rem}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<main>\n{body}\n</main>\n</body>\n</html>\n",
        title = escape(title),
    )
}

/// The login form. `request` is the id of the shown form (hidden field); `error` is shown above
/// the fields, announced to screen readers.
pub(crate) fn login_page(request: &str, username: &str, error: Option<&str>) -> String {
    let error_html = error
        .map(|e| {
            format!(
                "<p class=\"error\" id=\"login-error\" role=\"alert\">{}</p>\n",
                escape(e)
            )
        })
        .unwrap_or_default();
    let described = if error.is_some() {
        " aria-describedby=\"login-error\" aria-invalid=\"true\""
    } else {
        ""
    };
    let body = format!(
        "<h1>Log in</h1>\n<p>Development issuer: use one of the users from <code>dev-users.json</code>.</p>\n\
{error_html}<form method=\"post\" action=\"/login\">\n\
<input type=\"hidden\" name=\"request\" value=\"{request}\">\n\
<label for=\"username\">Email address</label>\n\
<input id=\"username\" name=\"username\" type=\"email\" autocomplete=\"username\" required autofocus value=\"{username}\"{described}>\n\
<label for=\"password\">Password</label>\n\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{described}>\n\
<button type=\"submit\">Continue</button>\n</form>\n\
<p class=\"note\">For local development only. Never use this issuer in production.</p>",
        request = escape(request),
        username = escape(username),
    );
    page("Log in - dev issuer", &body)
}

/// A page for a request that cannot be answered with a redirect (unknown client, foreign
/// redirect_uri, expired form).
pub(crate) fn error_page(title: &str, message: &str) -> String {
    let body = format!(
        "<h1>{}</h1>\n<p role=\"alert\">{}</p>\n<p class=\"note\">Development issuer: nothing was sent back to the application.</p>",
        escape(title),
        escape(message)
    );
    page(title, &body)
}

/// The page shown after logout when no `returnTo` was given.
pub(crate) fn logged_out_page() -> String {
    page(
        "Logged out",
        "<h1>Logged out</h1>\n<p>You are logged out of the development issuer.</p>",
    )
}

/// The `response_mode=web_message` answer: a page whose script posts
/// `{type: "authorization_response", response}` to the window that opened it (popup) or framed
/// it (silent authentication), restricted to `target_origin`, as Auth0's page does.
pub(crate) fn web_message_page(
    target_origin: &str,
    response: &Value,
    script_nonce: &str,
) -> String {
    let message = serde_json::json!({
        "type": "authorization_response",
        "response": response,
    });
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Authorization response</title>\n</head>\n<body>\n\
<script nonce=\"{nonce}\">\n\
(function () {{\n\
  var targetOrigin = {origin};\n\
  var message = {message};\n\
  var target = window.opener ? window.opener : window.parent;\n\
  target.postMessage(message, targetOrigin);\n\
}})();\n\
</script>\n</body>\n</html>\n",
        nonce = escape(script_nonce),
        origin = script_json(&Value::String(target_origin.to_owned())),
        message = script_json(&message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_neutralises_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x" onclick='y'>&"#),
            "&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;"
        );
    }

    #[test]
    fn script_json_cannot_close_the_script_element() {
        let out = script_json(&Value::String("</script><script>alert(1)</script>".into()));
        assert!(!out.contains("</script"), "{out}");
    }

    #[test]
    fn login_page_escapes_the_echoed_username() {
        let html = login_page(
            "req",
            "\"><script>x</script>",
            Some("Wrong email or password."),
        );
        assert!(!html.contains("<script>x"), "{html}");
        assert!(html.contains("&quot;&gt;&lt;script&gt;"));
    }
}
