//! DPoP (RFC 9449) at the API: modes, binding rules, proof refusals, nonces, replay, CORS and
//! metrics. Proofs come from `test_support` (hand-written JSON, thumbprints computed by hand),
//! independent of the `auth` crate's verifier.

use std::time::Duration;

use api::Settings;
use api::authentication::DpopMode;
use serde_json::{Value, json};

use api::routes::EXTERNAL_BODY;

use test_support::api::{
    TestApp, assert_answer, assert_invalid_token, assert_refusal, assert_unauthorized,
    spawn_app_with,
};
use test_support::{
    API_ORIGIN, APP_ORIGIN, ClientKey, KEYS, b64, header, header_list, header_values,
};

use crate::helpers::{DpopClient, external};

const ALGS: &str = "ES256";

/// An API in a DPoP mode, with or without nonces, and a client bound to a fresh key.
struct Dpop {
    app: TestApp,
    client: DpopClient,
}

impl Dpop {
    async fn start(mode: DpopMode, nonces: bool) -> Self {
        let app = spawn_app_with(true, |settings: &mut Settings| {
            settings.dpop_mode = mode;
            if nonces {
                settings.dpop.nonce = Some(auth::dpop::NonceSettings::random());
            }
        })
        .await;
        app.wait_until_ready().await;
        let client = DpopClient::bound(&app);
        Self { app, client }
    }

    /// GET `/api/external` with the bound token and `proofs`.
    async fn send(&self, proofs: &[&str]) -> reqwest::Response {
        self.client.get(&self.app, "/api/external", proofs).await
    }

    /// The status of GET `/api/external` with the bound token and `proof`.
    async fn status(&self, proof: &str) -> u16 {
        self.client.status(&self.app, proof).await
    }

    /// GET `/api/external` with `Authorization: Bearer <token>`.
    async fn as_bearer(&self, token: &str) -> reqwest::Response {
        self.app.get_with_token("/api/external", token).await
    }

    /// Asserts `proofs` are refused as `invalid_dpop_proof` with `description`.
    async fn refuses(&self, proofs: &[&str], description: &str) {
        let challenge = dpop_challenge("invalid_dpop_proof", description);
        let response = self.send(proofs).await;
        assert_refusal(response, 401, &challenge, "invalid_dpop_proof", description).await;
    }

    /// Sends the bound token as Bearer and checks the refusal RFC 9449 §7 asks for.
    async fn assert_refused_as_bearer(&self) {
        let description = "a DPoP-bound access token must be sent with the DPoP scheme and a proof";
        assert_invalid_token(self.as_bearer(&self.client.token).await, description).await;
    }
}

fn dpop_challenge(error: &str, description: &str) -> String {
    format!(r#"DPoP algs="{ALGS}", error="{error}", error_description="{description}""#)
}

fn challenges(response: &reqwest::Response) -> Vec<String> {
    header_values(response, "www-authenticate")
}

#[tokio::test]
async fn a_bound_token_with_a_valid_proof_gets_the_seed_message() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let response = api.send(&[&api.client.fresh_proof()]).await;
    assert_answer(response, 200, EXTERNAL_BODY).await;
}

#[tokio::test]
async fn a_bound_token_sent_as_bearer_is_invalid_token() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    api.assert_refused_as_bearer().await;
}

#[tokio::test]
async fn a_bound_token_the_cache_knows_is_still_refused_as_bearer() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    assert_eq!(api.status(&api.client.fresh_proof()).await, 200);
    api.assert_refused_as_bearer().await;
}

#[tokio::test]
async fn an_unbound_token_sent_as_dpop_is_invalid_token() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let unbound = DpopClient {
        key: ClientKey::generate(),
        token: api.app.token().sign(),
    };
    let description = "the access token is not DPoP-bound; send it with the Bearer scheme";
    assert_refusal(
        unbound.send(&api.app, &unbound.fresh_proof()).await,
        401,
        &dpop_challenge("invalid_token", description),
        "invalid_token",
        description,
    )
    .await;
}

#[tokio::test]
async fn in_allowed_mode_an_unbound_bearer_token_still_works() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let response = api.as_bearer(&api.app.token().sign()).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn in_allowed_mode_no_credentials_get_both_challenges() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let response = api.app.get("/api/external").await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        challenges(&response),
        [
            r#"Bearer realm="api""#.to_owned(),
            format!(r#"DPoP algs="{ALGS}""#)
        ]
    );
}

#[tokio::test]
async fn in_required_mode_a_bearer_request_gets_the_dpop_challenge() {
    let api = Dpop::start(DpopMode::Required, false).await;
    let response = api.as_bearer(&api.app.token().sign()).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenges(&response), [format!(r#"DPoP algs="{ALGS}""#)]);
    let body: Value = response.json().await.expect("json");
    assert_eq!(
        body["error_description"],
        "this API accepts only DPoP-bound access tokens (DPoP scheme)"
    );
}

#[tokio::test]
async fn in_required_mode_a_token_the_cache_knows_gets_the_dpop_challenge_as_bearer() {
    let api = Dpop::start(DpopMode::Required, false).await;
    assert_eq!(api.status(&api.client.fresh_proof()).await, 200);
    let response = api.as_bearer(&api.client.token).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenges(&response), [format!(r#"DPoP algs="{ALGS}""#)]);
}

#[tokio::test]
async fn in_required_mode_a_dpop_request_passes() {
    let api = Dpop::start(DpopMode::Required, false).await;
    assert_eq!(api.status(&api.client.fresh_proof()).await, 200);
}

#[tokio::test]
async fn in_off_mode_the_dpop_scheme_is_refused_like_any_other_scheme() {
    let api = Dpop::start(DpopMode::Off, false).await;
    let response = api.send(&[&api.client.fresh_proof()]).await;
    let description = "the Authorization header does not use the Bearer scheme";
    assert_unauthorized(response, description).await;
}

#[tokio::test]
async fn in_off_mode_no_credentials_get_only_the_bearer_challenge() {
    let api = Dpop::start(DpopMode::Off, false).await;
    let response = api.app.get("/api/external").await;
    assert_eq!(challenges(&response), [r#"Bearer realm="api""#]);
}

#[tokio::test]
async fn a_dpop_request_without_proof_is_refused() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    api.refuses(&[], "a DPoP proof is required in the DPoP header")
        .await;
}

#[tokio::test]
async fn two_proof_headers_are_refused() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let (a, b) = (api.client.fresh_proof(), api.client.fresh_proof());
    api.refuses(&[&a, &b], "more than one DPoP proof").await;
}

#[tokio::test]
async fn htu_is_checked_against_the_api_origin_not_the_host_header() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    // The address the request really went to, as a Host-header-trusting server would see it.
    let by_host = api.app.url("/api/external");
    let proof = api.client.key.proof("GET", &by_host);
    let proof = proof.token(&api.client.token).sign();
    api.refuses(&[&proof], "DPoP proof htu does not match the request URI")
        .await;
}

#[tokio::test]
async fn a_proof_for_another_path_is_refused() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let other_path = format!("{API_ORIGIN}/api/private-scoped");
    let proof = api.client.proof().claim("htu", other_path).sign();
    api.refuses(&[&proof], "DPoP proof htu does not match the request URI")
        .await;
}

#[tokio::test]
async fn a_query_string_does_not_change_the_htu() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let proof = api.client.fresh_proof();
    let with_query = api
        .client
        .get(&api.app, "/api/external?x=1", &[&proof])
        .await;
    assert_eq!(with_query.status(), 200);
}

#[tokio::test]
async fn a_proof_for_another_method_is_refused() {
    refuses_a_proof_for_post(&Dpop::start(DpopMode::Allowed, false).await).await;
}

/// Asserts that `api` refuses a proof for `POST` sent with a `GET`.
async fn refuses_a_proof_for_post(api: &Dpop) {
    let proof = api.client.proof().claim("htm", "POST").sign();
    api.refuses(
        &[&proof],
        "DPoP proof htm does not match the request method",
    )
    .await;
}

#[tokio::test]
async fn a_proof_by_another_key_is_refused() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let thief = ClientKey::generate();
    let proof = thief.proof("GET", &external()).token(&api.client.token);
    api.refuses(
        &[&proof.sign()],
        "DPoP proof key does not match the bound key",
    )
    .await;
}

#[tokio::test]
async fn a_proof_for_another_token_is_refused() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let proof = api.client.proof().token("another.access.token").sign();
    api.refuses(&[&proof], "DPoP proof ath does not match the access token")
        .await;
}

#[tokio::test]
async fn a_stale_proof_is_refused() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let iat = test_support::now() - 600;
    let proof = api.client.proof().claim("iat", iat).sign();
    api.refuses(&[&proof], "DPoP proof is too old").await;
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let proof = api.client.fresh_proof();
    assert_eq!(api.status(&proof).await, 200);
    api.refuses(&[&proof], "DPoP proof has already been used")
        .await;
}

/// An API whose issuer has rotated to `KEYS.next` since the API fetched its keys, and a client
/// whose token that key signed: its first request waits for a key fetch.
async fn after_a_rotation() -> Dpop {
    let app = spawn_app_with(true, |settings: &mut Settings| {
        settings.verifier.cache.unknown_kid_cooldown = Duration::from_millis(1);
    })
    .await;
    app.wait_until_ready().await;
    app.issuer.serve(&[&KEYS.next]);
    let key = ClientKey::generate();
    let token = app
        .token()
        .claim("cnf", json!({"jkt": key.jkt}))
        .signed_by(&KEYS.next)
        .sign();
    Dpop {
        app,
        client: DpopClient { key, token },
    }
}

#[tokio::test]
async fn a_bound_token_whose_key_is_fetched_on_demand_passes_with_its_proof() {
    let api = after_a_rotation().await;
    let response = api.send(&[&api.client.fresh_proof()]).await;
    assert_answer(response, 200, EXTERNAL_BODY).await;
}

#[tokio::test]
async fn a_proof_checked_after_a_key_fetch_cannot_be_replayed() {
    let api = after_a_rotation().await;
    let proof = api.client.fresh_proof();
    assert_eq!(api.status(&proof).await, 200);
    api.refuses(&[&proof], "DPoP proof has already been used")
        .await;
}

#[tokio::test]
async fn a_proof_for_another_method_is_refused_after_a_key_fetch() {
    refuses_a_proof_for_post(&after_a_rotation().await).await;
}

#[tokio::test]
async fn a_dpop_token_without_the_scope_is_403_with_the_dpop_challenge() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let key = ClientKey::generate();
    let token = api.app.token().claim("cnf", json!({"jkt": key.jkt}));
    let client = DpopClient {
        key,
        token: token.claim("scope", "openid").sign(),
    };
    let url = format!("{API_ORIGIN}/api/private-scoped");
    let proof = client.key.proof("GET", &url).token(&client.token).sign();
    let response = client.get(&api.app, "/api/private-scoped", &[&proof]).await;
    assert_eq!(response.status(), 403);
    assert_eq!(
        challenges(&response),
        [format!(
            r#"DPoP algs="{ALGS}", error="insufficient_scope", error_description="the access token lacks the scope read:messages", scope="read:messages""#
        )]
    );
}

#[tokio::test]
async fn with_nonces_on_a_proof_without_nonce_gets_use_dpop_nonce_then_the_retry_passes() {
    let api = Dpop::start(DpopMode::Allowed, true).await;
    let response = api.send(&[&api.client.fresh_proof()]).await;
    let nonce = header(&response, "dpop-nonce")
        .expect("a DPoP-Nonce header")
        .to_owned();
    assert_refusal(
        response,
        401,
        &dpop_challenge("use_dpop_nonce", "a fresh DPoP nonce is required"),
        "use_dpop_nonce",
        "a fresh DPoP nonce is required",
    )
    .await;
    let retry = api.client.proof().nonce(&nonce).sign();
    assert_eq!(api.status(&retry).await, 200);
}

#[tokio::test]
async fn with_nonces_on_a_forged_nonce_gets_use_dpop_nonce() {
    let api = Dpop::start(DpopMode::Allowed, true).await;
    let proof = api.client.proof().nonce(&b64([0u8; 24])).sign();
    let response = api.send(&[&proof]).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("dpop-nonce"));
}

#[tokio::test]
async fn preflight_allows_the_dpop_header() {
    let api = Dpop::start(DpopMode::Allowed, false).await;
    let response = api
        .app
        .preflight("/api/external", APP_ORIGIN, "authorization,dpop")
        .await;
    assert_eq!(response.status(), 200);
    let allowed = header_list(&response, "access-control-allow-headers");
    assert!(allowed.iter().any(|h| h == "dpop"), "{allowed:?}");
}

#[tokio::test]
async fn refusals_expose_dpop_nonce_and_the_challenge_to_scripts() {
    let api = Dpop::start(DpopMode::Allowed, true).await;
    let response = api.app.get_from_origin("/api/external", APP_ORIGIN).await;
    let exposed = header_list(&response, "access-control-expose-headers");
    assert!(exposed.iter().any(|h| h == "dpop-nonce"), "{exposed:?}");
    assert!(
        exposed.iter().any(|h| h == "www-authenticate"),
        "{exposed:?}"
    );
}

#[tokio::test]
async fn metrics_count_dpop_outcomes_and_nonces() {
    let api = Dpop::start(DpopMode::Allowed, true).await;
    let first = api.send(&[&api.client.fresh_proof()]).await;
    let nonce = header(&first, "dpop-nonce").expect("nonce").to_owned();
    let proof = api.client.proof().nonce(&nonce).sign();
    for _ in 0..2 {
        api.send(&[&proof]).await;
    }
    api.app
        .assert_metrics_have(&[
            r#"api_dpop_proofs_total{outcome="ok"} 1"#,
            r#"api_dpop_proofs_total{outcome="replayed"} 1"#,
            r#"api_dpop_proofs_total{outcome="use_nonce"} 1"#,
            "api_dpop_nonces_issued_total 1",
            "api_dpop_replay_entries 1",
        ])
        .await;
}
