//! The dashboard in a real headless Chromium: it shows the figures, changes without a reload
//! when an event is ingested, and drills down to a district.

use chrono::Duration;
use fantoccini::{Client, ClientBuilder, Locator};
use ioc_tests::events::*;
use ioc_shared::access::WallView;
use ioc_shared::summary::Window;
use ioc_tests::{now, ServerThread, TestServer};
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
    // The login page first; a wrong password is refused with a clear message.
    log_in(&client, ioc_tests::ADMIN.0, "not-the-password").await;
    wait_for_text(&client, ".login .error", "Sai tên đăng nhập hoặc mật khẩu.").await;
    log_in(&client, ioc_tests::ADMIN.0, ioc_tests::ADMIN.1).await;
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

    // Logging out ends the session: back to the login page.
    client.find(Locator::Css("button.logout")).await.unwrap().click().await.unwrap();
    wait_for(&client, ".login input[name=username]").await;

    client.close().await.unwrap();
    server.cleanup().await;
}

async fn log_in(client: &Client, username: &str, password: &str) {
    wait_for(client, ".login input[name=username]").await;
    let field = client.find(Locator::Css(".login input[name=username]")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(username).await.unwrap();
    let field = client.find(Locator::Css(".login input[name=password]")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(password).await.unwrap();
    client.find(Locator::Css(".login button[type=submit]")).await.unwrap().click().await.unwrap();
}

async fn wait_for(client: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
    while client.find(Locator::Css(css)).await.is_err() {
        assert!(tokio::time::Instant::now() < deadline, "`{css}` never appeared");
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

async fn wait_until_gone(client: &Client, css: &str, limit: StdDuration) -> StdDuration {
    let started = tokio::time::Instant::now();
    while client.find(Locator::Css(css)).await.is_ok() {
        assert!(started.elapsed() < limit, "`{css}` still there after {limit:?}");
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    started.elapsed()
}

async fn wait_for_text_containing(client: &Client, css: &str, wanted: &str, limit: StdDuration) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let text = text_of(client, css).await;
        if text.as_deref().is_some_and(|t| t.contains(wanted)) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "`{css}` shows {text:?}, never containing `{wanted}`");
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

/// A paired wall shows figures, rotates, shows "Mất kết nối" when the server stops, and is
/// live again by itself when the server is back.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_paired_wall_rotates_and_recovers_from_a_server_restart(pool: PgPool) {
    let prefix = ioc_tests::fresh_prefix();
    let first = ServerThread::spawn(&pool, &prefix, None);
    let addr = first.addr;
    let accounts = ioc_server::accounts::Accounts::new(pool.clone());
    let playlist = vec![
        WallView { unit: "001".into(), window: Window::Today, seconds: 5 },
        WallView { unit: "002".into(), window: Window::Today, seconds: 5 },
    ];
    let (_, code) = accounts.create_display("Tường phòng điều hành", "01", &playlist).await.unwrap();
    let t = now();
    let events: Vec<serde_json::Value> = (0..3)
        .map(|i| dossier_received(&format!("w{i}"), "00004", &format!("W{i}"), t - Duration::minutes(5), t + Duration::hours(4)))
        .collect();
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/events", first.base()))
        .bearer_auth(ioc_tests::TOKEN)
        .json(&events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let driver = Driver::start();
    let client = driver.client().await;
    client.goto(&format!("{}/wall#pair={code}", first.base())).await.unwrap();
    // Paired: live figures of the first view, freshness green.
    wait_for_text_containing(&client, ".wall-view-name", "Quận Ba Đình", StdDuration::from_secs(20)).await;
    wait_for_text(&client, "[data-tile=dossiers-received] .wall-value", "3").await;
    wait_for(&client, ".badge[data-freshness=green]").await;
    let url = client.current_url().await.unwrap();
    assert!(!url.as_str().contains("pair="), "the pairing code leaves the address bar: {url}");
    // Rotates to the second view by itself.
    wait_for_text_containing(&client, ".wall-view-name", "Quận Hoàn Kiếm", StdDuration::from_secs(15)).await;

    // The server stops: the banner comes on and the figures are dimmed.
    first.stop();
    wait_for_text(&client, ".wall-banner", "Mất kết nối").await;
    wait_for(&client, ".wall-figures.stale").await;

    // The server comes back on the same address: live again with no click.
    let second = ServerThread::spawn(&pool, &prefix, Some(addr));
    let recovered_in = wait_until_gone(&client, ".wall-banner", StdDuration::from_secs(20)).await;
    eprintln!("wall live again {recovered_in:?} after the server came back");
    wait_for(&client, ".badge[data-freshness=green]").await;
    wait_until_gone(&client, ".wall-figures.stale", StdDuration::from_secs(5)).await;

    client.close().await.unwrap();
    second.stop();
}
