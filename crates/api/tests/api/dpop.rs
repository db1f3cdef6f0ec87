//! DPoP (RFC 9449) at the API: modes, binding rules, proof refusals, nonces, replay, CORS and
//! metrics. Proofs come from `test_support` (hand-written JSON, thumbprints computed by hand),
//! independent of the `auth` crate's verifier.

use api::Settings;
use api::authentication::DpopMode;
use serde_json::{Value, json};

use api::routes::EXTERNAL_BODY;

use test_support::api::{TestApp, assert_refusal, spawn_app_with};
use test_support::{API_ORIGIN, APP_ORIGIN, ClientKey, b64, header, header_list, header_values};

const ALGS: &str = "ES256";

async fn spawn(mode: DpopMode, nonces: bool) -> TestApp {
    let app = spawn_app_with(true, |settings: &mut Settings| {
        settings.dpop_mode = mode;
        if nonces {
            settings.dpop.nonce = Some(auth::dpop::NonceSettings::random());
        }
    })
    .await;
    app.wait_until_ready().await;
    app
}

/// A token bound to `key`.
fn bound_token(app: &TestApp, key: &ClientKey) -> String {
    app.token().claim("cnf", json!({"jkt": key.jkt})).sign()
}

/// The common start: an API in `mode`, a fresh client key and a token bound to it.
async fn spawn_with_bound_token(mode: DpopMode, nonces: bool) -> (TestApp, ClientKey, String) {
    let app = spawn(mode, nonces).await;
    let key = ClientKey::generate();
    let token = bound_token(&app, &key);
    (app, key, token)
}

fn external() -> String {
    format!("{API_ORIGIN}/api/external")
}

/// `GET path` with `Authorization: <scheme> <token>` and one `DPoP` header per proof.
async fn call(
    app: &TestApp,
    path: &str,
    scheme: &str,
    token: &str,
    proofs: &[&str],
) -> reqwest::Response {
    let mut request = app
        .client
        .get(app.url(path))
        .header("Authorization", format!("{scheme} {token}"));
    for proof in proofs {
        request = request.header("DPoP", *proof);
    }
    request.send().await.expect("request succeeds")
}

fn dpop_challenge(error: &str, description: &str) -> String {
    format!(r#"DPoP algs="{ALGS}", error="{error}", error_description="{description}""#)
}

async fn assert_invalid_proof(response: reqwest::Response, description: &str) {
    assert_refusal(
        response,
        401,
        &dpop_challenge("invalid_dpop_proof", description),
        "invalid_dpop_proof",
        description,
    )
    .await;
}

fn challenges(response: &reqwest::Response) -> Vec<String> {
    header_values(response, "www-authenticate")
}

#[tokio::test]
async fn a_bound_token_with_a_valid_proof_gets_the_seed_message() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof("GET", &external()).token(&token).sign();
    let response = call(&app, "/api/external", "DPoP", &token, &[&proof]).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.expect("body"), EXTERNAL_BODY);
}

/// Sends the bound `token` as Bearer and checks the refusal RFC 9449 §7 asks for.
async fn assert_refused_as_bearer(app: &TestApp, token: &str) {
    let description = "a DPoP-bound access token must be sent with the DPoP scheme and a proof";
    assert_refusal(
        call(app, "/api/external", "Bearer", token, &[]).await,
        401,
        &format!(r#"Bearer realm="api", error="invalid_token", error_description="{description}""#),
        "invalid_token",
        description,
    )
    .await;
}

#[tokio::test]
async fn a_bound_token_sent_as_bearer_is_invalid_token() {
    let app = spawn(DpopMode::Allowed, false).await;
    let token = bound_token(&app, &ClientKey::generate());
    assert_refused_as_bearer(&app, &token).await;
}

#[tokio::test]
async fn a_bound_token_the_cache_knows_is_still_refused_as_bearer() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof("GET", &external()).token(&token).sign();
    let accepted = call(&app, "/api/external", "DPoP", &token, &[&proof]).await;
    assert_eq!(accepted.status(), 200);
    assert_refused_as_bearer(&app, &token).await;
}

#[tokio::test]
async fn an_unbound_token_sent_as_dpop_is_invalid_token() {
    let app = spawn(DpopMode::Allowed, false).await;
    let key = ClientKey::generate();
    let token = app.token().sign();
    let proof = key.proof("GET", &external()).token(&token).sign();
    let description = "the access token is not DPoP-bound; send it with the Bearer scheme";
    assert_refusal(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        401,
        &dpop_challenge("invalid_token", description),
        "invalid_token",
        description,
    )
    .await;
}

#[tokio::test]
async fn in_allowed_mode_an_unbound_bearer_token_still_works() {
    let app = spawn(DpopMode::Allowed, false).await;
    let token = app.token().sign();
    let response = call(&app, "/api/external", "Bearer", &token, &[]).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn in_allowed_mode_no_credentials_get_both_challenges() {
    let app = spawn(DpopMode::Allowed, false).await;
    let response = app.get("/api/external").await;
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
    let app = spawn(DpopMode::Required, false).await;
    let token = app.token().sign();
    let response = call(&app, "/api/external", "Bearer", &token, &[]).await;
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
    let (app, key, token) = spawn_with_bound_token(DpopMode::Required, false).await;
    let proof = key.proof("GET", &external()).token(&token).sign();
    let accepted = call(&app, "/api/external", "DPoP", &token, &[&proof]).await;
    assert_eq!(accepted.status(), 200);
    let response = call(&app, "/api/external", "Bearer", &token, &[]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenges(&response), [format!(r#"DPoP algs="{ALGS}""#)]);
}

#[tokio::test]
async fn in_required_mode_a_dpop_request_passes() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Required, false).await;
    let proof = key.proof("GET", &external()).token(&token).sign();
    assert_eq!(
        call(&app, "/api/external", "DPoP", &token, &[&proof])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn in_off_mode_the_dpop_scheme_is_refused_like_any_other_scheme() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Off, false).await;
    let proof = key.proof("GET", &external()).token(&token).sign();
    assert_refusal(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        401,
        r#"Bearer realm="api""#,
        "unauthorized",
        "the Authorization header does not use the Bearer scheme",
    )
    .await;
}

#[tokio::test]
async fn in_off_mode_no_credentials_get_only_the_bearer_challenge() {
    let app = spawn(DpopMode::Off, false).await;
    let response = app.get("/api/external").await;
    assert_eq!(challenges(&response), [r#"Bearer realm="api""#]);
}

#[tokio::test]
async fn a_dpop_request_without_proof_is_refused() {
    let app = spawn(DpopMode::Allowed, false).await;
    let token = bound_token(&app, &ClientKey::generate());
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[]).await,
        "a DPoP proof is required in the DPoP header",
    )
    .await;
}

#[tokio::test]
async fn two_proof_headers_are_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let a = key.proof("GET", &external()).token(&token).sign();
    let b = key.proof("GET", &external()).token(&token).sign();
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&a, &b]).await,
        "more than one DPoP proof",
    )
    .await;
}

#[tokio::test]
async fn htu_is_checked_against_the_api_origin_not_the_host_header() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    // The address the request really went to, as a Host-header-trusting server would see it.
    let by_host = key
        .proof("GET", &app.url("/api/external"))
        .token(&token)
        .sign();
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&by_host]).await,
        "DPoP proof htu does not match the request URI",
    )
    .await;
}

#[tokio::test]
async fn a_proof_for_another_path_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key
        .proof("GET", &format!("{API_ORIGIN}/api/private-scoped"))
        .token(&token)
        .sign();
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof htu does not match the request URI",
    )
    .await;
}

#[tokio::test]
async fn a_query_string_does_not_change_the_htu() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof("GET", &external()).token(&token).sign();
    assert_eq!(
        call(&app, "/api/external?x=1", "DPoP", &token, &[&proof])
            .await
            .status(),
        200
    );
}

#[tokio::test]
async fn a_proof_for_another_method_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key
        .proof("GET", &external())
        .token(&token)
        .claim("htm", "POST")
        .sign();
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof htm does not match the request method",
    )
    .await;
}

#[tokio::test]
async fn a_proof_by_another_key_is_refused() {
    let app = spawn(DpopMode::Allowed, false).await;
    let token = bound_token(&app, &ClientKey::generate());
    let thief = ClientKey::generate();
    let proof = thief.proof("GET", &external()).token(&token).sign();
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof key does not match the bound key",
    )
    .await;
}

#[tokio::test]
async fn a_proof_for_another_token_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key
        .proof("GET", &external())
        .token("another.access.token")
        .sign();
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof ath does not match the access token",
    )
    .await;
}

#[tokio::test]
async fn a_stale_proof_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key
        .proof("GET", &external())
        .token(&token)
        .claim("iat", test_support::now() - 600)
        .sign();
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof is too old",
    )
    .await;
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof("GET", &external()).token(&token).sign();
    assert_eq!(
        call(&app, "/api/external", "DPoP", &token, &[&proof])
            .await
            .status(),
        200
    );
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof has already been used",
    )
    .await;
}

#[tokio::test]
async fn a_dpop_token_without_the_scope_is_403_with_the_dpop_challenge() {
    let app = spawn(DpopMode::Allowed, false).await;
    let key = ClientKey::generate();
    let token = app
        .token()
        .claim("cnf", json!({"jkt": key.jkt}))
        .claim("scope", "openid")
        .sign();
    let url = format!("{API_ORIGIN}/api/private-scoped");
    let proof = key.proof("GET", &url).token(&token).sign();
    let response = call(&app, "/api/private-scoped", "DPoP", &token, &[&proof]).await;
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
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, true).await;
    let first = key.proof("GET", &external()).token(&token).sign();
    let response = call(&app, "/api/external", "DPoP", &token, &[&first]).await;
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
    let retry = key
        .proof("GET", &external())
        .token(&token)
        .nonce(&nonce)
        .sign();
    let response = call(&app, "/api/external", "DPoP", &token, &[&retry]).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn with_nonces_on_a_forged_nonce_gets_use_dpop_nonce() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, true).await;
    let proof = key
        .proof("GET", &external())
        .token(&token)
        .nonce(&b64([0u8; 24]))
        .sign();
    let response = call(&app, "/api/external", "DPoP", &token, &[&proof]).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("dpop-nonce"));
}

#[tokio::test]
async fn preflight_allows_the_dpop_header() {
    let app = spawn(DpopMode::Allowed, false).await;
    let response = app
        .preflight("/api/external", APP_ORIGIN, "authorization,dpop")
        .await;
    assert_eq!(response.status(), 200);
    let allowed = header_list(&response, "access-control-allow-headers");
    assert!(allowed.iter().any(|h| h == "dpop"), "{allowed:?}");
}

#[tokio::test]
async fn refusals_expose_dpop_nonce_and_the_challenge_to_scripts() {
    let app = spawn(DpopMode::Allowed, true).await;
    let response = app.get_from_origin("/api/external", APP_ORIGIN).await;
    let exposed = header_list(&response, "access-control-expose-headers");
    assert!(exposed.iter().any(|h| h == "dpop-nonce"), "{exposed:?}");
    assert!(
        exposed.iter().any(|h| h == "www-authenticate"),
        "{exposed:?}"
    );
}

#[tokio::test]
async fn metrics_count_dpop_outcomes_and_nonces() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, true).await;
    let first = key.proof("GET", &external()).token(&token).sign();
    let first = call(&app, "/api/external", "DPoP", &token, &[&first]).await;
    let nonce = header(&first, "dpop-nonce").expect("nonce").to_owned();
    let proof = key
        .proof("GET", &external())
        .token(&token)
        .nonce(&nonce)
        .sign();
    for _ in 0..2 {
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await;
    }
    let text = app
        .get_metrics_listener("/metrics")
        .await
        .text()
        .await
        .expect("metrics");
    for line in [
        r#"api_dpop_proofs_total{outcome="ok"} 1"#,
        r#"api_dpop_proofs_total{outcome="replayed"} 1"#,
        r#"api_dpop_proofs_total{outcome="use_nonce"} 1"#,
        "api_dpop_nonces_issued_total 1",
        "api_dpop_replay_entries 1",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing {line:?} in\n{text}"
        );
    }
}
