//! DPoP (RFC 9449) at the API: modes, binding rules, proof refusals, nonces, replay, CORS and
//! metrics. Proofs are built here with aws-lc-rs and hand-written JSON, independent of the
//! `auth` crate's verifier.

use api::Settings;
use api::authentication::DpopMode;
use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use api::routes::EXTERNAL_BODY;

use crate::helpers::{APP_ORIGIN, TestApp, assert_refusal, spawn_app_with};

/// The API's public origin in the test configuration: proofs name it, whatever address the
/// test server really listens on.
const API_ORIGIN: &str = "http://localhost:3001";
const ALGS: &str = "ES256";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A client's DPoP key: a P-256 pair, its public JWK and its RFC 7638 thumbprint.
struct ClientKey {
    pair: EcdsaKeyPair,
    jwk: Value,
    jkt: String,
}

impl ClientKey {
    fn generate() -> Self {
        let pair = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
            .expect("P-256 key generation");
        let point = pair.public_key().as_ref();
        let (x, y) = (b64(&point[1..33]), b64(&point[33..65]));
        let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
        let jkt = b64(digest::digest(&digest::SHA256, canonical.as_bytes()));
        Self {
            pair,
            jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}),
            jkt,
        }
    }

    /// A proof for `GET url` with `token`, plus `extra` claims (which may override).
    fn proof(&self, url: &str, token: &str, extra: Value) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.jwk});
        let mut claims = json!({
            "jti": b64(rand_bytes()),
            "htm": "GET",
            "htu": url,
            "iat": crate::helpers::now(),
            "ath": b64(digest::digest(&digest::SHA256, token.as_bytes())),
        });
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
        let signature = self
            .pair
            .sign(&SystemRandom::new(), input.as_bytes())
            .expect("sign");
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

fn rand_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes).expect("random bytes");
    bytes
}

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
    response
        .headers()
        .get_all("www-authenticate")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn a_bound_token_with_a_valid_proof_gets_the_seed_message() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof(&external(), &token, json!({}));
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
    let proof = key.proof(&external(), &token, json!({}));
    let accepted = call(&app, "/api/external", "DPoP", &token, &[&proof]).await;
    assert_eq!(accepted.status(), 200);
    assert_refused_as_bearer(&app, &token).await;
}

#[tokio::test]
async fn an_unbound_token_sent_as_dpop_is_invalid_token() {
    let app = spawn(DpopMode::Allowed, false).await;
    let key = ClientKey::generate();
    let token = app.token().sign();
    let proof = key.proof(&external(), &token, json!({}));
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
    let proof = key.proof(&external(), &token, json!({}));
    let accepted = call(&app, "/api/external", "DPoP", &token, &[&proof]).await;
    assert_eq!(accepted.status(), 200);
    let response = call(&app, "/api/external", "Bearer", &token, &[]).await;
    assert_eq!(response.status(), 401);
    assert_eq!(challenges(&response), [format!(r#"DPoP algs="{ALGS}""#)]);
}

#[tokio::test]
async fn in_required_mode_a_dpop_request_passes() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Required, false).await;
    let proof = key.proof(&external(), &token, json!({}));
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
    let proof = key.proof(&external(), &token, json!({}));
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
    let a = key.proof(&external(), &token, json!({}));
    let b = key.proof(&external(), &token, json!({}));
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
    let by_host = key.proof(&app.url("/api/external"), &token, json!({}));
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&by_host]).await,
        "DPoP proof htu does not match the request URI",
    )
    .await;
}

#[tokio::test]
async fn a_proof_for_another_path_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof(
        &format!("{API_ORIGIN}/api/private-scoped"),
        &token,
        json!({}),
    );
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof htu does not match the request URI",
    )
    .await;
}

#[tokio::test]
async fn a_query_string_does_not_change_the_htu() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof(&external(), &token, json!({}));
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
    let proof = key.proof(&external(), &token, json!({"htm": "POST"}));
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
    let proof = thief.proof(&external(), &token, json!({}));
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof key does not match the bound key",
    )
    .await;
}

#[tokio::test]
async fn a_proof_for_another_token_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof(&external(), "another.access.token", json!({}));
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof ath does not match the access token",
    )
    .await;
}

#[tokio::test]
async fn a_stale_proof_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof(
        &external(),
        &token,
        json!({"iat": crate::helpers::now() - 600}),
    );
    assert_invalid_proof(
        call(&app, "/api/external", "DPoP", &token, &[&proof]).await,
        "DPoP proof is too old",
    )
    .await;
}

#[tokio::test]
async fn a_replayed_proof_is_refused() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, false).await;
    let proof = key.proof(&external(), &token, json!({}));
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
    let proof = key.proof(&url, &token, json!({}));
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
    let first = key.proof(&external(), &token, json!({}));
    let response = call(&app, "/api/external", "DPoP", &token, &[&first]).await;
    let nonce = response
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
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
    let retry = key.proof(&external(), &token, json!({"nonce": nonce}));
    let response = call(&app, "/api/external", "DPoP", &token, &[&retry]).await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn with_nonces_on_a_forged_nonce_gets_use_dpop_nonce() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, true).await;
    let proof = key.proof(&external(), &token, json!({"nonce": b64([0u8; 24])}));
    let response = call(&app, "/api/external", "DPoP", &token, &[&proof]).await;
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("dpop-nonce"));
}

#[tokio::test]
async fn preflight_allows_the_dpop_header() {
    let app = spawn(DpopMode::Allowed, false).await;
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/external"))
        .header("Origin", APP_ORIGIN)
        .header("Access-Control-Request-Method", "GET")
        .header("Access-Control-Request-Headers", "authorization,dpop")
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), 200);
    let allowed = response
        .headers()
        .get("access-control-allow-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(allowed.split(',').any(|h| h.trim() == "dpop"), "{allowed}");
}

#[tokio::test]
async fn refusals_expose_dpop_nonce_and_the_challenge_to_scripts() {
    let app = spawn(DpopMode::Allowed, true).await;
    let response = app
        .client
        .get(app.url("/api/external"))
        .header("Origin", APP_ORIGIN)
        .send()
        .await
        .expect("request");
    let exposed = response
        .headers()
        .get("access-control-expose-headers")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    let exposed: Vec<&str> = exposed.split(',').map(str::trim).collect();
    assert!(exposed.contains(&"dpop-nonce"), "{exposed:?}");
    assert!(exposed.contains(&"www-authenticate"), "{exposed:?}");
}

#[tokio::test]
async fn metrics_count_dpop_outcomes_and_nonces() {
    let (app, key, token) = spawn_with_bound_token(DpopMode::Allowed, true).await;
    let first = key.proof(&external(), &token, json!({}));
    let nonce = call(&app, "/api/external", "DPoP", &token, &[&first])
        .await
        .headers()
        .get("dpop-nonce")
        .and_then(|v| v.to_str().ok())
        .expect("nonce")
        .to_owned();
    let proof = key.proof(&external(), &token, json!({"nonce": nonce}));
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
