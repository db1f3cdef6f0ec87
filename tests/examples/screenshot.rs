//! Regenerates the README's screenshot: the SPA after alice pressed `Call API`.
//!
//! `cargo run -p e2e --example screenshot [-- docs/screenshot.png]`, from the project root. It
//! starts the stack in-process like the browser tests do, so no server needs to be running.

use e2e::browser::{Browser, Step};
use e2e::stack::Stack;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "docs/screenshot.png".to_owned());
    let stack = Stack::start().await?;
    let browser = Browser::open().await?;
    let page = browser.page();
    let shot: Step<Vec<u8>> = async {
        page.client().set_window_size(1100, 720).await?;
        page.goto(&stack.app_url("/")).await?;
        page.click_button("Log in").await?;
        page.submit_login("alice@example.com", "alice-password")
            .await?;
        page.button("Log out").await?;
        page.goto(&stack.app_url("/external-api")).await?;
        page.click_button("Call API").await?;
        page.wait_for_text("Your Access Token was successfully validated!")
            .await?;
        Ok(page.client().screenshot().await?)
    }
    .await;
    let png = shot?;
    browser.close().await?;
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&out, png)?;
    eprintln!("wrote {out}");
    Ok(())
}
