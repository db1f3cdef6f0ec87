//! Single requests before any load: is a server up, and does it answer each scenario as
//! expected? The preflight checks the status wrk will see, and for a valid call the seed's
//! message, so that every server is shown to do the same job before its speed is compared.

use std::path::Path;

use crate::options::ServerKind;
use crate::scenario::Scenario;

/// What a valid call to `/api/external` answers, on every server (the seed's text).
pub const EXTERNAL_MSG: &str = "Your Access Token was successfully validated!";

/// A server that did not answer a scenario's first request as expected.
#[derive(Debug, thiserror::Error)]
#[error("{server} {scenario}: preflight expected {expected}, got {got}")]
pub struct PreflightError {
    server: &'static str,
    scenario: &'static str,
    expected: String,
    got: String,
}

/// `Ok` when `GET url` (with `token` as bearer, if any) answers `status`; the error says what
/// came instead, for a readiness loop's last word.
pub async fn expect_status(
    client: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    status: u16,
) -> Result<(), String> {
    let mut req = client.get(url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    match req.send().await {
        Ok(r) if r.status().as_u16() == status => Ok(()),
        Ok(r) => Err(format!("status {}", r.status().as_u16())),
        Err(e) => Err(e.to_string()),
    }
}

/// The first token of a token file (`None` for the empty file of `/api/public`).
fn first_token(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .next()
        .map(str::to_owned)
}

/// One request of `scenario` to `kind` at `base`, with the first token of `tokens`, sent as
/// `Authorization: DPoP` with `dpop_proof` when there is one, as Bearer otherwise.
pub async fn preflight(
    client: &reqwest::Client,
    kind: ServerKind,
    scenario: Scenario,
    base: &str,
    tokens: &Path,
    dpop_proof: Option<&str>,
) -> Result<(), PreflightError> {
    let expected = scenario.expected_status(kind);
    let fail = |expected: String, got: String| PreflightError {
        server: kind.label(),
        scenario: scenario.label(),
        expected,
        got,
    };
    let mut req = client.get(format!("{base}{}", scenario.path()));
    match (first_token(tokens), dpop_proof) {
        (Some(t), Some(proof)) => {
            req = req
                .header(reqwest::header::AUTHORIZATION, format!("DPoP {t}"))
                .header("DPoP", proof);
        }
        (Some(t), None) => req = req.bearer_auth(t),
        (None, _) => {}
    }
    let resp = req
        .send()
        .await
        .map_err(|e| fail(expected.to_string(), e.to_string()))?;
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    if status != expected {
        return Err(fail(expected.to_string(), format!("status {status}")));
    }
    if scenario.path() == "/api/external" && status == 200 && !body.contains(EXTERNAL_MSG) {
        return Err(fail(format!("a body with {EXTERNAL_MSG:?}"), body));
    }
    Ok(())
}
