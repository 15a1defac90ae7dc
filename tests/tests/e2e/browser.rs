//! The dashboard in a real headless Chromium: it shows the figures, changes without a reload
//! when an event is ingested, and drills down to a district.

use chrono::Duration;
use fantoccini::{Client, ClientBuilder, Locator};
use ioc_tests::events::*;
use ioc_tests::{now, TestServer};
use serde_json::json;
use sqlx::PgPool;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

/// A chromedriver process on a free port, killed on drop.
struct Driver {
    process: Child,
    port: u16,
    profile: std::path::PathBuf,
}

impl Driver {
    fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let process = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver not found: run scripts/test.sh, which installs chromium-driver");
        let profile = std::env::temp_dir().join(format!("ioc-chromium-{port}-{}", rand::random::<u32>()));
        Driver { process, port, profile }
    }

    async fn client(&self) -> Client {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({"args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1920,1080",
                format!("--user-data-dir={}", self.profile.display())]}),
        );
        let url = format!("http://127.0.0.1:{}", self.port);
        for _ in 0..50 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            if let Ok(client) = ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                return client;
            }
            tokio::time::sleep(StdDuration::from_millis(200)).await;
        }
        panic!("chromedriver did not accept a session on {url}");
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

async fn text_of(client: &Client, css: &str) -> Option<String> {
    client.find(Locator::Css(css)).await.ok()?.text().await.ok()
}

async fn wait_for_text(client: &Client, css: &str, wanted: &str) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
    loop {
        let text = text_of(client, css).await;
        if text.as_deref() == Some(wanted) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "`{css}` shows {text:?}, never `{wanted}`");
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

#[sqlx::test(migrations = "../server/migrations")]
async fn the_dashboard_shows_live_figures_and_drills_down(pool: PgPool) {
    assert!(
        ioc_tests::web_dir().join("index.html").exists(),
        "the dashboard is not built: run scripts/test.sh (it builds dist/)"
    );
    let server = TestServer::start(&pool).await;
    let t = now();
    let mut batch = Vec::new();
    for i in 0..1234 {
        batch.push(dossier_received(&format!("d{i}"), "00004", &format!("D{i}"), t - Duration::minutes(30), t + Duration::hours(4)));
    }
    server.ingest_ok(&json!(batch)).await;
    server.settle().await;

    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/?unit=01&window=24h", server.base)).await.unwrap();
    // Vietnamese number format: 1.234.
    wait_for_text(&client, "[data-tile=dossiers-received] .tile-value", "1.234").await;
    wait_for_text(&client, "[data-tile=on-time-rate] .tile-value", "Chưa có dữ liệu").await;
    wait_for_text(&client, ".conn", "Trực tuyến").await;
    let crumbs = text_of(&client, ".crumbs").await.unwrap_or_default();
    assert!(crumbs.contains("Thành phố Hà Nội"), "{crumbs}");

    // An event arrives: the screen changes without a reload.
    server.ingest_ok(&json!([dossier_received("new", "00004", "NEW", t, t + Duration::hours(4))])).await;
    wait_for_text(&client, "[data-tile=dossiers-received] .tile-value", "1.235").await;

    // Drill down: click Quận Ba Đình in the ranking; the URL follows.
    client.find(Locator::Css("tr.child[data-unit='001']")).await.unwrap().click().await.unwrap();
    wait_for_text(&client, ".crumbs a.current", "Quận Ba Đình").await;
    let url = client.current_url().await.unwrap();
    assert!(url.as_str().contains("unit=001"), "{url}");
    wait_for_text(&client, "tr.child[data-unit='00004'] td.num", "1.235").await;

    client.close().await.unwrap();
    server.cleanup().await;
}
