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
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use auth::{Algorithm, Verifier, VerifierConfig};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use tokio::runtime::Runtime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const AUDIENCE: &str = "https://api.bench";

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn sign(header: &Value, claims: &Value, signer: impl Fn(&[u8]) -> Vec<u8>) -> String {
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig = signer(input.as_bytes());
    format!("{input}.{}", b64(sig))
}

struct Setup {
    runtime: Runtime,
    _server: MockServer,
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
    let rsa = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let ec = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let ed = Ed25519KeyPair::generate().unwrap();
    let rsa_pub = rsa.public_key();
    let point = ec.public_key().as_ref().to_vec();
    let jwks = json!({"keys": [
        {"kty":"RSA","kid":"rsa","use":"sig",
         "n": b64(rsa_pub.modulus().big_endian_without_leading_zero()),
         "e": b64(rsa_pub.exponent().big_endian_without_leading_zero())},
        {"kty":"EC","kid":"ec","use":"sig","crv":"P-256","x":b64(&point[1..33]),"y":b64(&point[33..65])},
        {"kty":"OKP","kid":"ed","use":"sig","crv":"Ed25519","x":b64(ed.public_key().as_ref())},
    ]});
    let server = runtime.block_on(async {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/.well-known/jwks.json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
            .mount(&server)
            .await;
        server
    });
    let issuer: url::Url = format!("{}/", server.uri()).parse().unwrap();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    // A realistic Auth0 access token body (~600 bytes encoded).
    let claims = json!({
        "iss": issuer.as_str(), "sub": "auth0|5f7c8ec7c33c6c004bbafe82", "aud": [AUDIENCE, "https://tenant.auth0.com/userinfo"],
        "iat": now, "exp": now + 24 * 3600, "azp": "local-dev-spa", "scope": "openid profile email read:messages",
        "permissions": ["read:messages"],
    });
    let rng = SystemRandom::new();
    let rs256 = sign(
        &json!({"alg":"RS256","typ":"JWT","kid":"rsa"}),
        &claims,
        |m| {
            let mut s = vec![0; rsa.public_modulus_len()];
            rsa.sign(&signature::RSA_PKCS1_SHA256, &rng, m, &mut s)
                .unwrap();
            s
        },
    );
    let es256 = sign(
        &json!({"alg":"ES256","typ":"JWT","kid":"ec"}),
        &claims,
        |m| ec.sign(&rng, m).unwrap().as_ref().to_vec(),
    );
    let eddsa = sign(
        &json!({"alg":"EdDSA","typ":"JWT","kid":"ed"}),
        &claims,
        |m| ed.sign(m).as_ref().to_vec(),
    );
    Setup {
        runtime,
        _server: server,
        issuer,
        rs256,
        es256,
        eddsa,
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

/// A fresh ES256 DPoP proof for `GET https://api.bench/api/external` with `token`.
fn dpop_proof(key: &EcdsaKeyPair, jwk: &Value, token: &str, n: u64) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": jwk});
    let claims = json!({
        "jti": format!("bench-{n}"),
        "htm": "GET",
        "htu": "https://api.bench/api/external",
        "iat": now,
        "ath": b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes())),
    });
    let input = format!("{}.{}", b64(header.to_string()), b64(claims.to_string()));
    let sig = key.sign(&SystemRandom::new(), input.as_bytes()).unwrap();
    format!("{input}.{}", b64(sig.as_ref()))
}

fn dpop_benches(c: &mut Criterion) {
    let runtime = Runtime::new().unwrap();
    let key = EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING).unwrap();
    let point = key.public_key().as_ref().to_vec();
    let jwk = json!({"kty":"EC","crv":"P-256","x":b64(&point[1..33]),"y":b64(&point[33..65])});
    let proofs = auth::dpop::ProofVerifier::new(auth::dpop::DpopConfig::default()).unwrap();
    let jkt = auth::dpop::thumbprint(&jwk).unwrap();
    let token = "bench.access.token";
    let mut n = 0u64;
    c.bench_function("dpop_proof_es256", |b| {
        b.iter_batched(
            || {
                n += 1;
                dpop_proof(&key, &jwk, token, n)
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
