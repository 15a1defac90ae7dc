//! `ioc-screenshots`: the README's screenshots, taken in headless Chromium from a running demo
//! (`scripts/screenshots.sh` starts one and passes what it printed): the dashboard at
//! 1920×1080, a chief's phone at 390×844, the wall at 1920×1080, the public page at 1366×768.
#![allow(clippy::unwrap_used)]

use clap::Parser;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Parser)]
#[command(name = "ioc-screenshots", about = "Screenshots of a running IOC demo for the README")]
struct Args {
    /// Base URL of the demo.
    #[arg(long)]
    url: String,
    /// A chromedriver listening here.
    #[arg(long, default_value = "http://127.0.0.1:9515")]
    driver: String,
    /// The leader's and the chief's passwords, as the demo printed them.
    #[arg(long)]
    leader_password: String,
    #[arg(long)]
    chief_password: String,
    /// The wall's pairing code, as the demo printed it.
    #[arg(long)]
    pairing_code: String,
    /// Where the PNG files go.
    #[arg(long, default_value = "docs/screenshots")]
    out: PathBuf,
}

async fn browser(driver: &str, width: u32, height: u32) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({"args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
            "--hide-scrollbars", format!("--window-size={width},{height}")]}),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(driver)
        .await
        .expect("a chromedriver at --driver")
}

async fn wait_for(client: &Client, css: &str) {
    for _ in 0..300 {
        if client.find(Locator::Css(css)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("`{css}` never appeared");
}

async fn log_in(client: &Client, base: &str, page: &str, username: &str, password: &str) {
    client.goto(&format!("{base}{page}")).await.unwrap();
    wait_for(client, "input[name=username]").await;
    client
        .find(Locator::Css("input[name=username]"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    client
        .find(Locator::Css("input[name=password]"))
        .await
        .unwrap()
        .send_keys(password)
        .await
        .unwrap();
    client.find(Locator::Css("button[type=submit]")).await.unwrap().click().await.unwrap();
}

async fn save(client: &Client, out: &std::path::Path, name: &str) {
    // Let the live figures and the panels' data settle.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let path = out.join(name);
    std::fs::write(&path, client.screenshot().await.unwrap()).unwrap();
    println!("wrote {}", path.display());
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out).unwrap();
    let base = args.url.trim_end_matches('/');

    let leader = browser(&args.driver, 1920, 1080).await;
    log_in(&leader, base, "/?unit=01&window=30d", "lanhdao", &args.leader_password).await;
    wait_for(&leader, "[data-panel=most-overdue] tr.item").await;
    wait_for(&leader, "[data-panel=trend] svg.chart").await;
    save(&leader, &args.out, "dashboard-1920x1080.png").await;
    leader.close().await.unwrap();

    let chief = browser(&args.driver, 390, 844).await;
    log_in(&chief, base, "/?unit=001", "truongquan.badinh", &args.chief_password).await;
    wait_for(&chief, "[data-tile=dossiers-overdue]").await;
    save(&chief, &args.out, "phone-390x844.png").await;
    chief.close().await.unwrap();

    let wall = browser(&args.driver, 1920, 1080).await;
    wall.goto(&format!("{base}/wall#pair={}", args.pairing_code)).await.unwrap();
    wait_for(&wall, ".wall-figures").await;
    save(&wall, &args.out, "wall-1920x1080.png").await;
    wall.close().await.unwrap();

    let citizen = browser(&args.driver, 1366, 768).await;
    citizen.goto(&format!("{base}/cong-khai")).await.unwrap();
    wait_for(&citizen, "tr.public-unit").await;
    save(&citizen, &args.out, "public-1366x768.png").await;
    citizen.close().await.unwrap();
}
