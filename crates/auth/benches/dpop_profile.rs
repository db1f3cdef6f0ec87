//! A fixed workload for instruction counts (callgrind), not timing: 500 DPoP proofs signed
//! first, then checked by `verify_all`, and the same proofs' bare ES256 signatures checked by
//! `signature_floor` with one aws-lc-rs key parsed up front. Count each function on its own:
//!
//! ```text
//! cargo bench -p auth --features micro-bench --bench dpop_profile --no-run
//! valgrind --tool=callgrind --toggle-collect='*verify_all*' target/release/deps/dpop_profile-*
//! valgrind --tool=callgrind --toggle-collect='*signature_floor*' target/release/deps/dpop_profile-*
//! ```
//!
//! Instructions per proof = the total `Ir` / 500. See `docs/performance.md`.
#![allow(clippy::unwrap_used, missing_docs)] // benchmark set-up: a failure aborts the run

use std::hint::black_box;

use aws_lc_rs::signature::{ECDSA_P256_SHA256_FIXED, ParsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use test_support::ClientKey;

const PROOFS: usize = 500;
const URI: &str = "https://api.bench/api/external";
const TOKEN: &str = "bench.access.token";

#[inline(never)]
fn verify_all(
    runtime: &tokio::runtime::Runtime,
    verifier: &auth::dpop::ProofVerifier,
    proofs: &[String],
    jkt: &str,
) -> usize {
    let mut accepted = 0;
    for proof in proofs {
        let request = auth::dpop::ProofRequest {
            proofs: &[black_box(proof.as_bytes())],
            method: "GET",
            uri: URI,
            access_token: Some(TOKEN),
            jkt: Some(jkt),
        };
        if runtime.block_on(verifier.verify(&request)).is_ok() {
            accepted += 1;
        }
    }
    accepted
}

#[inline(never)]
fn signature_floor(key: &ParsedPublicKey, proofs: &[String]) -> usize {
    let mut accepted = 0;
    for proof in proofs {
        let (input, signature) = proof.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        if key.verify_sig(input.as_bytes(), &signature).is_ok() {
            accepted += 1;
        }
    }
    accepted
}

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let key = ClientKey::generate();
    let proofs: Vec<String> = (0..PROOFS)
        .map(|_| key.proof("GET", URI).token(TOKEN).sign())
        .collect();
    let verifier = auth::dpop::ProofVerifier::new(auth::dpop::DpopConfig::default()).unwrap();
    let coordinate = |name: &str| {
        URL_SAFE_NO_PAD
            .decode(key.jwk[name].as_str().unwrap())
            .unwrap()
    };
    let point = [vec![4u8], coordinate("x"), coordinate("y")].concat();
    let parsed = ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point).unwrap();
    assert_eq!(signature_floor(&parsed, &proofs), PROOFS);
    assert_eq!(verify_all(&runtime, &verifier, &proofs, &key.jkt), PROOFS);
}
