//! Measures in-process token minting, the way the benchmark fills its token pool:
//! `cargo run -p dev-issuer --release --example mint_tokens -- 10000`.

use std::time::{Duration, Instant};

use app_config::AuthConfig;
use dev_issuer::{Application, Settings};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let count: usize = std::env::args().nth(1).map_or(Ok(10_000), |n| n.parse())?;
    let config = AuthConfig::dev_defaults();
    let app = Application::build(Settings::for_tests(config)).await?;
    let issuer = app.issuer();
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let issuer = issuer.clone();
            std::thread::spawn(move || {
                (t..count)
                    .step_by(threads)
                    .map(|_| {
                        issuer.mint_access_token(
                            "alice@example.com",
                            "https://api.local.test",
                            &["openid", "read:messages"],
                            Duration::from_secs(3600),
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
        })
        .collect();
    let mut tokens = std::collections::HashSet::new();
    for handle in handles {
        tokens.extend(handle.join().map_err(|_| "minting thread panicked")??);
    }
    let elapsed = started.elapsed();
    eprintln!(
        "minted {} distinct tokens on {threads} threads in {:.2?} ({:.0} tokens/s)",
        tokens.len(),
        elapsed,
        tokens.len() as f64 / elapsed.as_secs_f64()
    );
    Ok(())
}
