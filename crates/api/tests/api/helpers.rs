//! What several files of this binary repeat: a DPoP client (a key and a token bound to it),
//! the 503 of unavailable signing keys and the `Retry-After` reader.

use serde_json::json;

use test_support::api::{TestApp, assert_refusal};
use test_support::{API_ORIGIN, ClientKey, Proof, header};

/// `{API_ORIGIN}/api/external`, the `htu` of a proof for `/api/external`.
pub fn external() -> String {
    format!("{API_ORIGIN}/api/external")
}

/// A DPoP client: its key and an access token bound to it (`cnf.jkt`).
pub struct DpopClient {
    pub key: ClientKey,
    pub token: String,
}

impl DpopClient {
    /// A fresh key and a token from `app`'s issuer bound to it.
    pub fn bound(app: &TestApp) -> Self {
        let key = ClientKey::generate();
        let token = app.token().claim("cnf", json!({"jkt": key.jkt})).sign();
        Self { key, token }
    }

    /// A proof for `GET /api/external` with this client's token, to be adjusted.
    pub fn proof(&self) -> Proof {
        self.key.proof("GET", &external()).token(&self.token)
    }

    /// A fresh, signed proof for `GET /api/external`.
    pub fn fresh_proof(&self) -> String {
        self.proof().sign()
    }

    /// GET `path` with `Authorization: DPoP <token>` and one `DPoP` header per proof.
    pub async fn get(&self, app: &TestApp, path: &str, proofs: &[&str]) -> reqwest::Response {
        let authorization = format!("DPoP {}", self.token);
        app.get_with(path, |mut request| {
            request = request.header("Authorization", authorization);
            for proof in proofs {
                request = request.header("DPoP", *proof);
            }
            request
        })
        .await
    }

    /// GET `/api/external` with `proof`.
    pub async fn send(&self, app: &TestApp, proof: &str) -> reqwest::Response {
        self.get(app, "/api/external", &[proof]).await
    }

    /// The status of GET `/api/external` with `proof`.
    pub async fn status(&self, app: &TestApp, proof: &str) -> u16 {
        self.send(app, proof).await.status().as_u16()
    }

    /// The status of GET `/api/external` with a fresh proof.
    pub async fn status_fresh(&self, app: &TestApp) -> u16 {
        self.status(app, &self.fresh_proof()).await
    }
}

/// The `Retry-After` of a response, in whole seconds.
pub fn retry_after_secs(response: &reqwest::Response) -> u64 {
    header(response, "retry-after")
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in whole seconds")
}

/// Asserts the 503 of signing keys the API cannot get (challenge and JSON body).
pub async fn assert_keys_unavailable(response: reqwest::Response) {
    let description = "signing keys unavailable";
    assert_refusal(
        response,
        503,
        &format!(
            r#"Bearer realm="api", error="temporarily_unavailable", error_description="{description}""#
        ),
        "temporarily_unavailable",
        description,
    )
    .await;
}
