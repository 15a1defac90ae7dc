//! Fits the city's tools: Prometheus metrics, request ids in the logs, and a readiness check.

use chrono::Duration;
use ioc_tests::events::*;
use ioc_tests::{BlackHole, TestServer};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration as StdDuration;

/// The value of one series (all labels matching) in a scrape parsed by a Prometheus parser.
fn sample(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

async fn scrape(url: &str, token: Option<&str>) -> (u16, Option<prometheus_parse::Scrape>) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let scrape = (status == 200)
        .then(|| prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap());
    (status, scrape)
}

#[sqlx::test(migrations = "../server/migrations")]
async fn metrics_are_prometheus_text_behind_a_token_and_counters_move(pool: PgPool) {
    let bind = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let server = TestServer::start_configured(&pool, |s| {
        s.metrics_token = Some("metrics-secret".into());
        s.metrics_bind = Some(bind);
    })
    .await;
    let url = format!("{}/metrics", server.base);
    assert_eq!(scrape(&url, None).await.0, 401);
    assert_eq!(scrape(&url, Some("wrong")).await.0, 401);
    let (status, before) = scrape(&url, Some("metrics-secret")).await;
    assert_eq!(status, 200);
    let before = before.unwrap();
    let accepted = |s: &prometheus_parse::Scrape| {
        sample(s, "ioc_events_ingested_total", &[("source", "mot-cua"), ("result", "accepted")])
    };
    let rejected = |s: &prometheus_parse::Scrape| {
        sample(s, "ioc_events_ingested_total", &[("result", "rejected")])
    };

    let t = server.now();
    let mut bad = dossier_received("bad", "99999", "DX", t, t + Duration::hours(1));
    bad["source"] = json!("mot-cua");
    server
        .ingest(&json!([dossier_received("m1", "00004", "M1", t, t + Duration::hours(1)), bad]))
        .await;
    let (_, after) = scrape(&url, Some("metrics-secret")).await;
    let after = after.unwrap();
    assert!(accepted(&after) >= accepted(&before) + 1.0, "accepted counter moved");
    assert!(rejected(&after) >= rejected(&before) + 1.0, "rejected counter moved");
    for name in [
        "ioc_ingest_request_duration_seconds_count",
        "ioc_applier_lag_seconds",
        "ioc_outbox_depth",
        "ioc_live_connections",
        "ioc_live_scopes",
        "ioc_summary_compute_duration_seconds_count",
        "ioc_http_requests_total",
        "ioc_rebuilds_total",
        "ioc_snapshots_computed_total",
    ] {
        assert!(after.samples.iter().any(|s| s.metric == name), "{name} missing");
    }
    assert!(
        sample(
            &after,
            "ioc_http_requests_total",
            &[("route", "/api/v1/events"), ("method", "POST"), ("status", "200")]
        ) >= 1.0
    );
    // The separate metrics address needs no token.
    let (status, separate) = scrape(&format!("http://{bind}/metrics"), None).await;
    assert_eq!(status, 200);
    assert!(accepted(&separate.unwrap()) >= 1.0);
    server.cleanup().await;

    // Without a token configured, the main port does not serve metrics at all.
    let plain = TestServer::start(&pool).await;
    assert_eq!(scrape(&format!("{}/metrics", plain.base), None).await.0, 404);
    plain.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn every_request_gets_an_id_that_its_log_lines_carry(pool: PgPool) {
    let logs = ioc_tests::capture_logs();
    let server = TestServer::start(&pool).await;
    let response = server
        .http
        .get(format!("{}/api/v1/units/nope/summary", server.base))
        .header("x-request-id", "req-2026-abc")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req-2026-abc", "a client's id is echoed");
    let made = server
        .http
        .get(format!("{}/api/v1/me", server.base))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    let made_id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(
        made_id.len() == 16 && made_id.chars().all(|c| c.is_ascii_hexdigit()),
        "an unusable id is replaced: {made_id}"
    );
    let text = logs.text();
    assert!(
        text.lines().any(|l| l.contains("req-2026-abc") && l.contains("request done")),
        "no log line carries the id"
    );
    // The lines a request causes inside the server carry it too (here: the audit of a refusal).
    ioc_tests::eventually(StdDuration::from_secs(20), "the id on an inner log line", || async {
        logs.text().lines().any(|l| l.contains(&made_id))
    })
    .await;
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn ready_turns_503_when_redis_is_cut(pool: PgPool) {
    let proxy = BlackHole::start("127.0.0.1:6379").await;
    let redis_url = format!("redis://{}", proxy.addr);
    let server = TestServer::start_configured(&pool, |s| {
        s.redis_url = redis_url;
        s.database_timeout = StdDuration::from_secs(1);
    })
    .await;
    let ready = || async { reqwest::get(format!("{}/api/v1/ready", server.base)).await.unwrap() };
    ioc_tests::eventually(StdDuration::from_secs(10), "ready while everything answers", || async {
        ready().await.status().as_u16() == 200
    })
    .await;
    assert_eq!(
        reqwest::get(format!("{}/api/v1/health", server.base)).await.unwrap().status().as_u16(),
        200
    );
    proxy.passing.store(false, std::sync::atomic::Ordering::SeqCst);
    let response = ready().await;
    assert_eq!(response.status().as_u16(), 503);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["redis"], "down", "{body}");
    proxy.passing.store(true, std::sync::atomic::Ordering::SeqCst);
    server.server.stop();
}

/// The paths (`/…`) that `text` refers to in `="/…"` or `"/…"` imports, in order.
fn referenced_paths(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with('/') && s.len() > 1)
        .map(str::to_owned)
        .collect()
}

/// The dashboard's files are served precompressed by Accept-Encoding; every file but the page
/// carries its content hash and is cached for a year, and the page is revalidated (304), so a
/// reload costs one small answer.
#[sqlx::test(migrations = "../server/migrations")]
async fn dashboard_files_are_precompressed_content_hashed_and_cached(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let web_dir = ioc_tests::web_dir();
    let client = reqwest::Client::new();
    let get = |path: &str, encoding: &str| {
        client
            .get(format!("{}{path}", server.base))
            .header("accept-encoding", encoding.to_owned())
            .send()
    };
    let header = |response: &reqwest::Response, name: &str| {
        response.headers().get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
    };

    let page = get("/", "br, gzip").await.unwrap();
    assert_eq!((page.status().as_u16(), header(&page, "content-encoding").as_str()), (200, "br"));
    assert_eq!(header(&page, "cache-control"), "no-cache");
    let last_modified = header(&page, "last-modified");
    assert!(!last_modified.is_empty());
    let mut first_load = page.bytes().await.unwrap().len();

    // The page names the stylesheet and the boot script; the boot script the glue; the glue the wasm.
    let html = get("/", "identity").await.unwrap().text().await.unwrap();
    let mut files = referenced_paths(&html);
    assert_eq!(files.len(), 3, "{html}");
    let boot_path = files.iter().find(|p| p.starts_with("/boot.")).cloned().unwrap();
    let boot = get(&boot_path, "identity").await.unwrap().text().await.unwrap();
    let glue_path = referenced_paths(&boot).into_iter().next().unwrap();
    let glue = get(&glue_path, "identity").await.unwrap().text().await.unwrap();
    let wasm_name = glue
        .split('\'')
        .find(|s| s.starts_with("ioc_frontend_bg.") && s.ends_with(".wasm"))
        .unwrap();
    files.push(format!("/{wasm_name}"));

    for path in &files {
        assert!(ioc_server::http::is_content_hashed(path), "{path}");
        for (encoding, suffix) in [("br", ".br"), ("gzip", ".gz")] {
            let response = get(path, encoding).await.unwrap();
            assert_eq!(response.status().as_u16(), 200, "{path}");
            assert_eq!(header(&response, "content-encoding"), encoding, "{path}");
            assert_eq!(
                header(&response, "cache-control"),
                "public, max-age=31536000, immutable",
                "{path}"
            );
            assert!(
                header(&response, "vary").to_ascii_lowercase().contains("accept-encoding"),
                "{path}"
            );
            let body = response.bytes().await.unwrap();
            let stored = std::fs::read(web_dir.join(format!("{}{suffix}", &path[1..]))).unwrap();
            assert_eq!(body.as_ref(), stored.as_slice(), "{path} {encoding}");
            if encoding == "br" {
                first_load += body.len();
            }
        }
        // A client that accepts no compression gets the file itself.
        let plain = get(path, "identity").await.unwrap();
        assert_eq!(header(&plain, "content-encoding"), "", "{path}");
        assert_eq!(
            plain.bytes().await.unwrap().as_ref(),
            std::fs::read(web_dir.join(&path[1..])).unwrap().as_slice()
        );
    }
    assert!(first_load <= 200_000, "first load {first_load} bytes with brotli");

    // A reload asks only for the page, which has not changed.
    let reload = client
        .get(format!("{}/", server.base))
        .header("accept-encoding", "br")
        .header("if-modified-since", last_modified)
        .send()
        .await
        .unwrap();
    assert_eq!(reload.status().as_u16(), 304);
    assert!(reload.bytes().await.unwrap().is_empty());
    server.cleanup().await;
}

/// Regression: a repeated `window` (or `period`) answered a plain-text 400 from the framework;
/// every API error is JSON `{"error": …}`, as the OpenAPI document says.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_repeated_query_parameter_is_a_json_400(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    for path in [
        "/api/v1/units/01/summary?window=today&window=24h",
        "/api/v1/units/01/score?period=month&period=year",
    ] {
        let response = server.http.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 400, "{path}");
        assert_eq!(response.headers()["content-type"], "application/json", "{path}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert!(
            body["error"].as_str().is_some_and(|e| e.contains("duplicate field")),
            "{path}: {body}"
        );
    }
    server.cleanup().await;
}
