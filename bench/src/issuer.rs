//! The dev issuer's test hook that mints access tokens (`POST /dev/tokens`, on only with
//! `ISSUER_DEV_ENDPOINTS=1`): the source of the benchmark's valid tokens, signed with the same
//! keys every server under test fetches from the issuer's JWKS.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde::Deserialize;

/// The user the tokens are minted for (from `dev-users.json`).
pub const BENCH_USER: &str = "alice@example.com";

/// Requests in flight while minting: the issuer signs on its workers, 2 cores here.
const MINT_CONCURRENCY: usize = 4;

/// Why tokens could not be minted.
#[derive(Debug, thiserror::Error)]
pub enum MintError {
    /// The request failed.
    #[error("POST /dev/tokens failed: {0}")]
    Http(#[from] reqwest::Error),
    /// The issuer answered with an error.
    #[error("POST /dev/tokens answered {0}: {1}")]
    Status(u16, String),
    /// The same token came back twice.
    #[error("the issuer minted {distinct} distinct tokens out of {asked}")]
    NotDistinct {
        /// How many were asked for.
        asked: usize,
        /// How many differed.
        distinct: usize,
    },
    /// A worker task died.
    #[error("a minting task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

#[derive(Deserialize)]
struct Minted {
    access_token: String,
}

async fn mint_one(client: &reqwest::Client, url: &str) -> Result<String, MintError> {
    mint_with(client, url, serde_json::json!({ "username": BENCH_USER })).await
}

async fn mint_with(
    client: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
) -> Result<String, MintError> {
    let resp = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body.to_string())
        .send()
        .await?;
    let status = resp.status();
    if !status.is_success() {
        let body = resp.text().await.unwrap_or_default();
        return Err(MintError::Status(status.as_u16(), body));
    }
    Ok(resp.json::<Minted>().await?.access_token)
}

/// Mints `count` distinct valid access tokens from the issuer at `issuer_origin`.
pub async fn mint_tokens(
    client: &reqwest::Client,
    issuer_origin: &str,
    count: usize,
) -> Result<Vec<String>, MintError> {
    let url = format!("{issuer_origin}/dev/tokens");
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for worker in 0..MINT_CONCURRENCY {
        let share = count / MINT_CONCURRENCY + usize::from(worker < count % MINT_CONCURRENCY);
        let client = client.clone();
        let url = url.clone();
        tasks.spawn(async move {
            let mut out = Vec::with_capacity(share);
            for _ in 0..share {
                out.push(mint_one(&client, &url).await?);
            }
            Ok::<_, MintError>(out)
        });
    }
    let mut tokens = Vec::with_capacity(count);
    while let Some(done) = tasks.join_next().await {
        tokens.extend(done??);
    }
    let distinct = tokens.iter().collect::<HashSet<_>>().len();
    if distinct != count {
        return Err(MintError::NotDistinct {
            asked: count,
            distinct,
        });
    }
    eprintln!(
        "bench: minted {count} tokens in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(tokens)
}

/// Mints one access token bound to the DPoP key whose RFC 7638 thumbprint is `jkt` (the
/// `cnf.jkt` claim, RFC 9449 §6.1), through the hook's extra claims.
pub async fn mint_dpop_bound(
    client: &reqwest::Client,
    issuer_origin: &str,
    jkt: &str,
) -> Result<String, MintError> {
    let body = serde_json::json!({
        "username": BENCH_USER,
        "claims": { "cnf": { "jkt": jkt } },
    });
    mint_with(client, &format!("{issuer_origin}/dev/tokens"), body).await
}

/// A client for loopback calls: no proxy from the environment, short timeouts.
pub fn loopback_client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(10))
        .build()
}
