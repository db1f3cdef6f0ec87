//! Measures what each trusted issuer costs in memory: `cargo run --release -p auth --example
//! issuer_memory [ISSUERS]` (default 64, the most a verifier accepts).
//!
//! The issuers (discovery + a JWKS of two RSA-2048 keys, like an Auth0 tenant) run in a child
//! process, so that their own memory is not counted. This process measures its resident set
//! (`/proc/self/statm`) before and after building a verifier trusting one issuer, then after a
//! second verifier trusting all of them, each loaded (every key set fetched and parsed). The
//! verified-token cache is off in both: it is shared by all issuers, not a per-issuer cost.
//! The resident set moves in pages and includes allocator slack, so the per-issuer figure is
//! an estimate from the slope over many issuers, not an exact heap count. Linux only.
#![allow(clippy::unwrap_used, clippy::print_stdout, missing_docs)] // a measuring tool

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use auth::{Verifier, VerifierConfig};
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use url::Url;
use wiremock::matchers::path;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    if args.get(1).map(String::as_str) == Some("serve") {
        let count = args[2].parse().unwrap();
        runtime.block_on(serve(count));
        return;
    }
    let count: usize = args.get(1).map_or(64, |n| n.parse().unwrap());
    runtime.block_on(measure(count));
}

/// Child: starts `count` issuers, prints their URLs on one line, serves until stdin closes.
async fn serve(count: usize) {
    let keys: Vec<Value> = (0..2)
        .map(|i| {
            let pair = KeyPair::generate(KeySize::Rsa2048).unwrap();
            let public = pair.public_key();
            json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": format!("key-{i}"),
                   "n": URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero()),
                   "e": URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero())})
        })
        .collect();
    let mut servers = Vec::new();
    let mut urls = Vec::new();
    for _ in 0..count {
        let server = MockServer::builder()
            .disable_request_recording()
            .start()
            .await;
        let issuer = format!("{}/", server.uri());
        Mock::given(path("/.well-known/openid-configuration"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({
                "issuer": issuer,
                "jwks_uri": format!("{issuer}.well-known/jwks.json"),
            })))
            .mount(&server)
            .await;
        Mock::given(path("/.well-known/jwks.json"))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "keys": keys })))
            .mount(&server)
            .await;
        urls.push(issuer);
        servers.push(server);
    }
    println!("{}", urls.join(" "));
    std::io::stdout().flush().unwrap();
    tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    })
    .await
    .unwrap();
}

/// Resident set size of this process in bytes.
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

async fn loaded_verifier(issuers: &[Url]) -> Verifier {
    let mut config = VerifierConfig::new(issuers[0].clone(), vec!["https://api.test".into()]);
    config.issuers = issuers[1..].to_vec();
    config.token_cache_bytes = 0;
    let verifier = Verifier::new(config).unwrap();
    let start = Instant::now();
    while !verifier.is_ready() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "keys never loaded: {:?}",
            verifier.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    verifier
}

async fn measure(count: usize) {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["serve", &count.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let issuers: Vec<Url> = line
        .split_whitespace()
        .map(|u| u.parse().unwrap())
        .collect();
    assert_eq!(issuers.len(), count);

    // A first verifier warms what every verifier shares once per process (TLS roots, the
    // runtime's I/O driver, lazy statics), so that the slope below is the per-issuer part.
    let warm = loaded_verifier(&issuers[..1]).await;
    let before_one = resident_bytes();
    let one = loaded_verifier(&issuers[..1]).await;
    let after_one = resident_bytes();
    let all = loaded_verifier(&issuers).await;
    let after_all = resident_bytes();

    let per_issuer = after_all.saturating_sub(after_one) as f64 / count as f64;
    println!("issuers: {count}");
    println!(
        "verifier with 1 issuer: {} KiB",
        after_one.saturating_sub(before_one) / 1024
    );
    println!(
        "verifier with {count} issuers: {} KiB",
        after_all.saturating_sub(after_one) / 1024
    );
    println!("per issuer (slope): {:.1} KiB", per_issuer / 1024.0);
    drop((warm, one, all));
    drop(child.stdin.take());
    let _ = child.wait();
}
