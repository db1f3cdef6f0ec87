//! Criterion benchmarks of the per-request cost: `cargo bench -p auth --features micro-bench`
//! (behind a feature so that `cargo test` never builds criterion).
//!
//! Keys are loaded once from a loopback JWKS server before measuring, so every figure is the
//! warm-cache path a request takes: no I/O, no lock held during I/O.
//! - `verify/rs256_signature`: full verification, verified-token cache off (the RSA bound).
//! - `verify/es256_signature`, `verify/eddsa_signature`: the same with other key types.
//! - `verify/rs256_token_cache_hit`: the same token again with the cache on.
//! - `token_key/sha256`, `token_key/ghash`: the verified-token cache's key of an 860-byte
//!   token, as it was (SHA-256) and as it is (GHASH under a secret key).
//! - `header_parse_and_key_lookup`: size cap, header, `typ`, key lookup; no signature.
//! - `dpop_proof_es256`: one DPoP proof check (a fresh ES256 proof each time, made outside the
//!   measurement): header, key import, signature, claims, thumbprint, replay-store insert.
#![allow(clippy::unwrap_used, missing_docs)] // benchmark set-up: a failure aborts the run

use std::hint::black_box;
use std::time::Duration;

use auth::{Algorithm, Verifier, VerifierConfig};
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::json;
use test_support::{ClientKey, MockIssuer, SigningKey, TokenBuilder, access_claims};
use tokio::runtime::Runtime;

const AUDIENCE: &str = "https://api.bench";

struct Setup {
    runtime: Runtime,
    _issuer: MockIssuer,
    issuer: url::Url,
    rs256: String,
    es256: String,
    eddsa: String,
}

fn setup() -> Setup {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keys = [
        SigningKey::rsa(0, "rsa"),
        SigningKey::es256("ec"),
        SigningKey::ed25519("ed"),
    ];
    let server = runtime.block_on(MockIssuer::start_bare(&[&keys[0], &keys[1], &keys[2]]));
    let issuer = server.issuer_url();
    // A realistic Auth0 access token body (~600 bytes encoded).
    let audience = json!([AUDIENCE, "https://tenant.auth0.com/userinfo"]);
    let claims = access_claims(
        issuer.as_str(),
        audience,
        24 * 3600,
        "openid profile email read:messages",
    );
    let token = |key: &SigningKey| {
        TokenBuilder::new(key, claims.clone())
            .claim("sub", "auth0|5f7c8ec7c33c6c004bbafe82")
            .claim("azp", "local-dev-spa")
            .claim("permissions", json!(["read:messages"]))
            .sign()
    };
    Setup {
        runtime,
        rs256: token(&keys[0]),
        es256: token(&keys[1]),
        eddsa: token(&keys[2]),
        _issuer: server,
        issuer,
    }
}

fn verifier(s: &Setup, token_cache_bytes: usize) -> Verifier {
    let mut config = VerifierConfig::new(s.issuer.clone(), vec![AUDIENCE.into()]);
    config.algorithms = vec![Algorithm::RS256, Algorithm::ES256, Algorithm::EdDSA];
    config.jwks_uri = Some(s.issuer.join(".well-known/jwks.json").unwrap());
    config.token_cache_bytes = token_cache_bytes;
    s.runtime.block_on(async {
        let v = Verifier::new(config).unwrap();
        // Warm the key cache (bounded wait).
        for _ in 0..500 {
            if v.is_ready() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(v.is_ready(), "keys did not load");
        for t in [&s.rs256, &s.es256, &s.eddsa] {
            v.verify(t).await.unwrap();
        }
        v
    })
}

fn benches(c: &mut Criterion) {
    let s = setup();
    let uncached = verifier(&s, 0);
    let cached = verifier(&s, 16 * 1024 * 1024);
    let mut group = c.benchmark_group("verify");
    for (name, token) in [
        ("rs256_signature", &s.rs256),
        ("es256_signature", &s.es256),
        ("eddsa_signature", &s.eddsa),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                s.runtime
                    .block_on(uncached.verify(black_box(token)))
                    .unwrap()
            })
        });
    }
    group.bench_function("rs256_token_cache_hit", |b| {
        b.iter(|| {
            s.runtime
                .block_on(cached.verify(black_box(&s.rs256)))
                .unwrap()
        })
    });
    group.finish();
    let mut group = c.benchmark_group("token_key");
    // The length of a typical Auth0 RS256 access token; the content does not matter.
    let token = "e".repeat(860);
    group.bench_function("sha256", |b| {
        b.iter(|| {
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, black_box(token.as_bytes()))
        })
    });
    group.bench_function("ghash", |b| {
        b.iter(|| assert!(cached.bench_token_cache_key(black_box(&token))))
    });
    group.finish();
    c.bench_function("header_parse_and_key_lookup", |b| {
        b.iter(|| {
            s.runtime
                .block_on(uncached.check_up_to_signature(black_box(&s.rs256)))
                .unwrap()
        })
    });
}

fn dpop_benches(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let key = ClientKey::generate();
    let proofs = auth::dpop::ProofVerifier::new(auth::dpop::DpopConfig::default()).unwrap();
    let jkt = auth::dpop::thumbprint(&key.jwk).unwrap();
    let token = "bench.access.token";
    c.bench_function("dpop_proof_es256", |b| {
        b.iter_batched(
            || {
                key.proof("GET", "https://api.bench/api/external")
                    .token(token)
                    .sign()
            },
            |proof| {
                runtime
                    .block_on(proofs.verify(&auth::dpop::ProofRequest {
                        proofs: &[black_box(proof.as_bytes())],
                        method: "GET",
                        uri: "https://api.bench/api/external",
                        access_token: Some(token),
                        jkt: Some(&jkt),
                    }))
                    .unwrap()
            },
            criterion::BatchSize::SmallInput,
        )
    });
}

criterion_group! {
    name = auth_benches;
    config = Criterion::default()
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    targets = benches, dpop_benches
}
criterion_main!(auth_benches);
