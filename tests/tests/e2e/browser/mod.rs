//! The screens in a real headless Chromium, one file per screen (`dashboard`, `lists`, `act`,
//! `reports`, `wall`, `public`, `layout`). The steps every test takes are here, once: the
//! driver (a fresh Chromium and chromedriver per test, the console checked for errors and wasm
//! panics), logging in, finding and clicking as one step, and waiting for an element or a text.

use chrono::Duration;
use fantoccini::{Client, ClientBuilder, Locator};
use ioc_shared::access::WallView;
use ioc_shared::summary::Window;
use ioc_tests::events::*;
use ioc_tests::{eventually, ServerThread, TestServer};
use serde_json::json;
use sqlx::PgPool;
use std::process::{Child, Command, Stdio};
use std::time::Duration as StdDuration;

// One file per screen; the shared steps (driver, find-and-click, waits, console check) are here.
mod act;
mod dashboard;
mod layout;
mod lists;
mod public;
mod reports;
mod signin;
mod wall;

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
        let profile =
            std::env::temp_dir().join(format!("ioc-chromium-{port}-{}", rand::random::<u32>()));
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
        // The page's console (errors, warnings, failed requests, wasm panics), read by
        // `Driver::console`.
        capabilities.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let url = format!("http://127.0.0.1:{}", self.port);
        for _ in 0..50 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            if let Ok(client) =
                ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await
            {
                return client;
            }
            tokio::time::sleep(StdDuration::from_millis(200)).await;
        }
        panic!("chromedriver did not accept a session on {url}");
    }
}

impl Driver {
    /// The console entries of `client`'s page at level WARNING or above since the last call
    /// (Chromium logs uncaught exceptions such as a wasm panic, `console.error`/`warn`, and
    /// every failed request there).
    async fn console(&self, client: &Client) -> Vec<String> {
        let session = client.session_id().await.unwrap().expect("a WebDriver session");
        let url = format!("http://127.0.0.1:{}/session/{session}/se/log", self.port);
        let answer: serde_json::Value = reqwest::Client::new()
            .post(url)
            .json(&json!({"type": "browser"}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        answer["value"]
            .as_array()
            .expect("chromedriver returns the browser log")
            .iter()
            .filter(|entry| matches!(entry["level"].as_str(), Some("SEVERE" | "WARNING")))
            .map(|entry| format!("{}: {}", entry["level"], entry["message"]))
            .collect()
    }

    /// Fails on any console problem of the page, but those containing one of `expected`
    /// (a test that provokes a refusal names it).
    async fn assert_console_clean(&self, client: &Client, expected: &[&str]) {
        let problems: Vec<String> = self
            .console(client)
            .await
            .into_iter()
            .filter(|entry| !expected.iter().any(|e| entry.contains(e)))
            .collect();
        assert!(problems.is_empty(), "console problems:\n{}", problems.join("\n"));
    }
}

/// Every process below `pid` (children, their children, …), read from /proc.
fn descendants(pid: u32) -> Vec<u32> {
    let mut parents: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(child) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
            // `pid (comm) state ppid …`: the name may hold spaces, so read after the last `)`.
            let parent = stat
                .rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if let Some(parent) = parent {
                parents.push((child, parent));
            }
        }
    }
    let mut found = vec![pid];
    let mut i = 0;
    while i < found.len() {
        let current = found[i];
        found.extend(
            parents.iter().filter(|(_, parent)| *parent == current).map(|(child, _)| *child),
        );
        i += 1;
    }
    found.remove(0);
    found
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Regression: killing chromedriver alone left its Chromium running (hundreds of
        // processes after a day of test runs). Kill the browsers it started too, by their own
        // process ids (never a process group).
        let browsers = descendants(self.process.id());
        if !browsers.is_empty() {
            let _ = Command::new("kill")
                .arg("-KILL")
                .args(browsers.iter().map(u32::to_string))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Finds `css` and clicks it as one step: an element replaced between the two (by a live
/// update) is found again, for up to 10 s (regression: the inbox test's click landed on a row
/// the update had just replaced, a `StaleElementReference`).
async fn click(client: &Client, css: &str) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    loop {
        let error = match client.find(Locator::Css(css)).await {
            Ok(element) => match element.click().await {
                Ok(()) => return,
                Err(error) => error,
            },
            Err(error) => error,
        };
        assert!(tokio::time::Instant::now() < deadline, "`{css}` could not be clicked: {error}");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
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

async fn log_in(client: &Client, username: &str, password: &str) {
    wait_for(client, ".login input[name=username]").await;
    let field = client.find(Locator::Css(".login input[name=username]")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(username).await.unwrap();
    let field = client.find(Locator::Css(".login input[name=password]")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(password).await.unwrap();
    click(client, ".login button[type=submit]").await;
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
        assert!(
            tokio::time::Instant::now() < deadline,
            "`{css}` shows {text:?}, never containing `{wanted}`"
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

/// What a page must satisfy at any size, checked in the page: no horizontal scroll; nothing
/// clipped (a box whose content is taller or wider than itself scrolls, or ends its text with an
/// ellipsis); every row a panel promises can be scrolled to and is on top where it lands; on
/// touch sizes every link, button and field is at least 44 px each way. Returns the problems.
const LAYOUT_CHECK: &str = r#"
const touch = arguments[0];
const problems = [];
const root = document.documentElement;
if (root.scrollWidth > root.clientWidth) problems.push(`page is ${root.scrollWidth} px wide in ${root.clientWidth}`);
const name = (el) => (el.dataset && (el.dataset.panel || el.dataset.tile)) || el.className || el.tagName;
for (const el of document.querySelectorAll('.screen *, .reports *')) {
  if (el.closest('svg')) continue;
  const style = getComputedStyle(el);
  if (style.display === 'none' || style.display === 'inline') continue;
  const scrolls = (o) => o === 'auto' || o === 'scroll';
  if (el.scrollHeight > el.clientHeight + 1 && !scrolls(style.overflowY) && style.overflowY !== 'visible')
    problems.push(`cut off below: ${name(el)} (${el.scrollHeight} in ${el.clientHeight})`);
  if (el.scrollWidth > el.clientWidth + 1 && !scrolls(style.overflowX) && style.overflowX !== 'visible' && style.textOverflow !== 'ellipsis')
    problems.push(`cut off at the side: ${name(el)} (${el.scrollWidth} in ${el.clientWidth})`);
}
// Scrolled back where they were afterwards, so a screenshot shows the page as a user finds it.
const scrolled = [...document.querySelectorAll('*')].filter((el) => el.scrollTop || el.scrollLeft).map((el) => [el, el.scrollTop, el.scrollLeft]);
const rows = ['.ranking tr.child', '[data-panel=late-officers] li', '[data-panel=most-overdue] tr.item',
  '[data-panel=slow-procedures] tbody tr', '.breakdown li', '.score-children li', '.report-row', '.report tr.child'];
for (const selector of rows) {
  document.querySelectorAll(selector).forEach((row, i) => {
    row.scrollIntoView({block: 'center', inline: 'nearest'});
    const r = row.getBoundingClientRect();
    const hit = document.elementFromPoint(r.left + Math.min(r.width / 2, 30), r.top + r.height / 2);
    if (!hit || !(hit === row || row.contains(hit))) problems.push(`${selector} row ${i + 1} cannot be reached`);
  });
}
for (const el of document.querySelectorAll('*')) { if (el.scrollTop || el.scrollLeft) { el.scrollTop = 0; el.scrollLeft = 0; } }
for (const [el, top, left] of scrolled) { el.scrollTop = top; el.scrollLeft = left; }
window.scrollTo(0, 0);
// Every control in sight: inside the screen's width, unless it sits in a strip that visibly
// scrolls (regression: the phone's "Năm" at x = 386–433 of a 390 px screen, its strip's
// scrollbar hidden).
for (const el of document.querySelectorAll('.screen button, .screen select, .screen input, .topbar a, .reports button, .reports select, .reports input')) {
  const r = el.getBoundingClientRect();
  if (r.width === 0 && r.height === 0) continue;
  let strip = el.parentElement, scrolls = false;
  for (; strip && strip !== document.body; strip = strip.parentElement) {
    const s = getComputedStyle(strip);
    if ((s.overflowX === 'auto' || s.overflowX === 'scroll') && s.scrollbarWidth !== 'none' && strip.scrollWidth > strip.clientWidth) { scrolls = true; break; }
  }
  // The width left of a scroll bar: a control under it is out of sight too.
  if (el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'SELECT' && el.tagName !== 'INPUT')
    problems.push(`text past its control's edge: ${el.tagName} "${el.textContent.trim().slice(0, 30)}" (${el.scrollWidth} in ${el.clientWidth})`);
  if (!scrolls && (r.right > root.clientWidth + 1 || r.left < -1))
    problems.push(`control past the screen's edge: ${el.tagName} "${el.textContent.trim().slice(0, 30)}" at x = ${Math.round(r.left)}–${Math.round(r.right)} of ${root.clientWidth}`);
}
if (touch) {
  for (const el of document.querySelectorAll('.screen a, .screen button, .screen select, .screen input, .screen tr.child, .reports a, .reports button')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0) continue;
    if (r.height < 44 || r.width < 44) problems.push(`tap target ${Math.round(r.width)}×${Math.round(r.height)}: ${el.tagName} "${el.textContent.trim().slice(0, 30)}"`);
  }
  const bar = (document.querySelector('.topbar') || document.querySelector('.reports-head')).getBoundingClientRect();
  if (bar.height > window.innerHeight / 4) problems.push(`the top bar takes ${Math.round(bar.height)} px of ${window.innerHeight}`);
}
return problems;
"#;

/// Every piece of text on the public page is at least 16 px and at WCAG AA contrast (4.5:1)
/// against what is behind it. Returns the problems.
const PUBLIC_READABILITY_CHECK: &str = r#"
const rgb = (text) => (text.match(/[\d.]+/g) || []).map(Number);
const luminance = ([r, g, b]) => {
  const f = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
};
const background = (el) => {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c.slice(0, 3);
  }
  return [255, 255, 255];
};
const problems = [];
for (const el of document.querySelectorAll('.public *')) {
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  if (!own) continue;
  const style = getComputedStyle(el);
  const size = parseFloat(style.fontSize);
  if (size < 16) problems.push(`${size}px: "${el.textContent.trim().slice(0, 30)}"`);
  const [a, b] = [luminance(rgb(style.color).slice(0, 3)), luminance(background(el))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(1)}:1: "${el.textContent.trim().slice(0, 30)}"`);
}
return problems;
"#;

/// `count` overdue dossiers of ward 00004, each held by its own officer (cb-00, cb-01, …).
async fn late_dossiers_each_with_its_officer(server: &TestServer, count: usize) {
    let t = server.now();
    let mut events = Vec::new();
    for i in 0..count {
        let dossier = format!("HS-{i}");
        events.push(dossier_received(
            &format!("r{i}"),
            "00004",
            &dossier,
            t - Duration::hours(30),
            t - Duration::hours(2),
        ));
        events.push(dossier_assigned(
            &format!("a{i}"),
            "00004",
            &dossier,
            t - Duration::hours(29),
            (&format!("cb-{i:02}"), &format!("Cán bộ {i:02}")),
        ));
    }
    server.ingest_ok(&serde_json::Value::Array(events)).await;
}

/// The item ids on a list page, in order.
async fn list_rows(client: &Client) -> Vec<String> {
    let mut ids = Vec::new();
    for row in client.find_all(Locator::Css("[data-page=list] tr.item")).await.unwrap() {
        ids.push(row.attr("data-item").await.unwrap().unwrap_or_default());
    }
    ids
}

/// Words of the screens' own Vietnamese (never in a unit's, officer's or procedure's name in
/// these tests): none may remain on a page in English.
const VIETNAMESE_WORDS: &[&str] = &[
    "quá hạn",
    "Đang tải",
    "Cập nhật",
    "Tiếp theo",
    "cần chú ý",
    "Trang ",
    "Tải CSV",
    "Tổng quan",
    "đúng hạn",
    "Đăng nhập",
    "Mật khẩu",
    "Hôm nay",
    "giây",
    "ít dữ liệu",
    "Chỉ số",
    "Đơn vị",
    "Trực tuyến",
    "Mất kết nối",
    "hồ sơ",
    "phản ánh",
    "Đăng xuất",
    "Không có",
    "điểm",
    "lãnh đạo",
];

/// Words of the screens' English: none may show on a page in Vietnamese.
const ENGLISH_WORDS: &[&str] = &[
    "Overdue",
    "overdue",
    "Loading",
    "Next",
    "Page ",
    "Units needing",
    "Log in",
    "Updated",
    "Download",
    "Overview",
    "on time",
    "Index",
    "dossiers",
    "complaints",
    "Live",
];

/// The page's visible text holds none of the other language's words.
async fn assert_all_in(client: &Client, lang: &str, page: &str) {
    let text = client
        .execute("return document.body.innerText;", vec![])
        .await
        .unwrap()
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let foreign = if lang == "en" { VIETNAMESE_WORDS } else { ENGLISH_WORDS };
    let found: Vec<&&str> = foreign.iter().filter(|word| text.contains(**word)).collect();
    assert!(found.is_empty(), "{page} in {lang} shows {found:?}:\n{text}");
    let html_lang = client.execute("return document.documentElement.lang;", vec![]).await.unwrap();
    assert_eq!(html_lang, json!(lang), "{page}: <html lang>");
}

/// The marks `MARK_ROWS` set that are still on the page.
const KEPT_ROWS: &str = r#"
return [...document.querySelectorAll('[data-kept]')].map((el) => el.dataset.kept);
"#;

/// Marks the first row of each of the selectors passed (its node, not its content).
const MARK_ROWS: &str = r#"
const marked = [];
for (const selector of arguments[0]) {
  const row = document.querySelector(selector);
  if (row) { row.dataset.kept = selector; marked.push(selector); }
}
return marked;
"#;
