//! What the verifier writes to the log when tokens are hostile.
//!
//! A test binary of its own: it installs a global subscriber, which a binary shared with other
//! tests could not do, and a thread-local one misses events whose call sites other test
//! threads already reached without a subscriber.
#![allow(clippy::unwrap_used)] // test helpers: a failed unwrap is a failed test

#[path = "auth/helpers.rs"]
mod helpers;

use std::sync::Arc;

use auth::VerifyError;
use auth::dpop::{
    DpopConfig, DpopError, ProofId, ProofRequest, ProofVerifier, ReplayFuture, ReplayStore,
    ReplayVerdict,
};
use serde_json::json;
use test_support::{CapturedLogs, ClientKey};

use crate::helpers::*;

/// The lines of the global subscriber, installed by the first test that asks.
fn logs() -> &'static CapturedLogs {
    static LOGS: std::sync::OnceLock<CapturedLogs> = std::sync::OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = CapturedLogs::default();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(logs.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}

#[tokio::test]
async fn an_unknown_kid_is_logged_escaped_and_cut_short() {
    let logs = logs();
    let key = SigningKey::rsa(0, "k1");
    let issuer = MockIssuer::start(&[&key]).await;
    let v = ready_verifier(issuer.config()).await;
    let kid = format!("{}\nforged log line", "A".repeat(5000));
    let mut header = key.header();
    header["kid"] = json!(kid);
    let token = key.sign_raw(&header, &issuer.claims());
    assert_eq!(v.verify(&token).await.unwrap_err(), VerifyError::UnknownKey);
    let text = logs.text();
    assert!(
        text.contains(&"A".repeat(64)),
        "the kid was not logged:\n{text}"
    );
    assert!(!text.contains(&"A".repeat(65)), "the kid was logged whole");
    assert!(!text.contains("\nforged log line"));
}

/// A replay store that can never record a proof.
#[derive(Debug)]
struct Unreachable;

impl ReplayStore for Unreachable {
    fn check_and_record(&self, _: ProofId, _: u64, _: u64) -> ReplayFuture<'_> {
        Box::pin(std::future::ready(ReplayVerdict::Unavailable))
    }
}

#[tokio::test]
async fn an_unavailable_replay_store_is_one_warning_not_one_per_refused_proof() {
    let logs = logs();
    let verifier = ProofVerifier::with_store(DpopConfig::default(), Arc::new(Unreachable)).unwrap();
    let key = ClientKey::generate();
    let uri = "https://api.example.com/api/external";
    for _ in 0..5 {
        let proof = key.proof("GET", uri).token("t").sign();
        let proofs = [proof.as_bytes()];
        let refused = verifier
            .verify(&ProofRequest {
                proofs: &proofs,
                method: "GET",
                uri,
                access_token: Some("t"),
                jkt: None,
            })
            .await;
        assert!(matches!(
            refused,
            Err(DpopError::ReplayStoreUnavailable { .. })
        ));
    }
    let warnings = logs
        .text()
        .lines()
        .filter(|l| l.contains("DPoP replay store cannot record proofs"))
        .count();
    assert_eq!(warnings, 1, "{}", logs.text());
}
