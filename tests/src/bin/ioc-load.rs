//! `ioc-load`: the load tool behind BENCHMARKS.md.
//!
//! Against a running server it measures
//! 1. ingest throughput: `--events` dossier events in batches of `--batch`, `--concurrency`
//!    requests in flight, reported as events per second and per-request latency;
//! 2. event-to-screen latency: with a WebSocket subscribed to one ward, it posts one event at a
//!    time and times how long until a snapshot showing it arrives, `--samples` times.
//!
//! Every request loop is bounded by the counts given; the tool only talks to `--url`.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use ioc_shared::live::ServerMessage;
use serde_json::{json, Value};
use std::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(name = "ioc-load", about = "Measure ingest throughput and event-to-screen latency of an IOC server")]
struct Args {
    /// Base URL of the server (only loopback servers should be targeted).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// An ingest key of that server (or its bootstrap IOC_INGEST_TOKEN).
    #[arg(long, env = "IOC_INGEST_TOKEN", hide_env_values = true)]
    token: String,
    /// An account to open the WebSocket with (a leader or admin sees every unit).
    #[arg(long, env = "IOC_LOAD_USER")]
    username: String,
    /// Its password.
    #[arg(long, env = "IOC_LOAD_PASSWORD", hide_env_values = true)]
    password: String,
    /// Events to ingest in the throughput phase.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Event-to-screen latency samples.
    #[arg(long, default_value_t = 50)]
    samples: usize,
    /// Pause between latency samples, in ms. The server coalesces a scope's updates to at most
    /// one per 250 ms, so samples closer than that measure the coalescing, not the path.
    #[arg(long, default_value_t = 500)]
    pause_ms: u64,
    /// Then open this many idle WebSocket connections (each subscribed to the city, today) and
    /// hold them for `--hold-seconds`, so the server's memory per connection can be read.
    #[arg(long, default_value_t = 0)]
    idle_connections: usize,
    #[arg(long, default_value_t = 10)]
    hold_seconds: u64,
    /// Unit the idle connections subscribe to (`none`: connect and authenticate only).
    #[arg(long, default_value = "01")]
    idle_unit: String,
    /// List queries: first ingest this many open dossiers across the wards…
    #[arg(long, default_value_t = 0)]
    list_open: usize,
    /// …of which this many are already overdue; then time the first page of the city's lists.
    #[arg(long, default_value_t = 0)]
    list_overdue: usize,
    /// Timed requests per list.
    #[arg(long, default_value_t = 50)]
    list_samples: usize,
}

const WARDS: [&str; 8] = ["00001", "00004", "00006", "00037", "00040", "00091", "00163", "00166"];

fn dossier(run: &str, i: usize, unit: &str) -> Value {
    let now = Utc::now();
    json!({"id": format!("load-{run}-{i}"), "source": "ioc-load", "type": "dossier.received",
           "at": now.to_rfc3339(), "unit": unit, "dossier": format!("LOAD-{run}-{i}"),
           "procedure": "Đăng ký khai sinh", "field": "Hộ tịch", "channel": "online",
           "due": (now + Duration::days(3)).to_rfc3339()})
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let run = format!("{:x}", Utc::now().timestamp_millis());
    let http = reqwest::Client::new();
    let endpoint = format!("{}/api/v1/events", args.url);

    // Phase 1: throughput.
    let batches: Vec<Vec<Value>> = (0..args.events)
        .collect::<Vec<_>>()
        .chunks(args.batch.max(1))
        .map(|chunk| chunk.iter().map(|i| dossier(&run, *i, WARDS[i % WARDS.len()])).collect())
        .collect();
    let started = Instant::now();
    let mut request_ms: Vec<f64> = futures_util::stream::iter(batches)
        .map(|batch| {
            let http = http.clone();
            let endpoint = endpoint.clone();
            let token = args.token.clone();
            async move {
                let sent = Instant::now();
                let response = http.post(&endpoint).bearer_auth(&token).json(&batch).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200, "{}", response.text().await.unwrap_or_default());
                let body: Value = response.json().await.unwrap();
                assert_eq!(body["accepted"].as_u64(), Some(batch.len() as u64), "{body}");
                sent.elapsed().as_secs_f64() * 1000.0
            }
        })
        .buffer_unordered(args.concurrency.max(1))
        .collect()
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    request_ms.sort_by(f64::total_cmp);
    println!("ingest: {} events in {:.2} s = {:.0} events/s (batch {}, concurrency {})",
        args.events, elapsed, args.events as f64 / elapsed, args.batch, args.concurrency);
    println!("ingest request latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&request_ms, 0.5), percentile(&request_ms, 0.99), request_ms.last().copied().unwrap_or(f64::NAN));

    // Phase 2: event-to-screen latency on a quiet ward.
    let login = http
        .post(format!("{}/api/v1/login", args.url))
        .header("origin", args.url.as_str())
        .json(&json!({"username": args.username, "password": args.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200, "login failed");
    let cookie = login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ioc_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned();
    let ws_url = format!("{}/api/v1/live", args.url.replacen("http", "ws", 1));
    let mut socket = connect(&ws_url, &cookie).await;
    let unit = "00004";
    let subscribe = json!({"type": "subscribe", "unit": unit, "window": "24h"}).to_string();
    socket.send(Message::text(subscribe)).await.unwrap();
    let mut received = next_received(&mut socket).await;
    let mut latencies = Vec::with_capacity(args.samples);
    for sample in 0..args.samples {
        tokio::time::sleep(std::time::Duration::from_millis(args.pause_ms)).await;
        let event = dossier(&run, args.events + sample, unit);
        let sent = Instant::now();
        let response = http.post(&endpoint).bearer_auth(&args.token).json(&json!([event])).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 200);
        loop {
            let now_received = next_received(&mut socket).await;
            if now_received > received {
                received = now_received;
                break;
            }
        }
        latencies.push(sent.elapsed().as_secs_f64() * 1000.0);
    }
    latencies.sort_by(f64::total_cmp);
    println!("event-to-screen (POST sent → snapshot received), {} samples {} ms apart: p50 {:.1} ms, p90 {:.1} ms, max {:.1} ms",
        latencies.len(), args.pause_ms, percentile(&latencies, 0.5), percentile(&latencies, 0.9), latencies.last().copied().unwrap_or(f64::NAN));

    if args.idle_connections > 0 {
        hold_idle_connections(&ws_url, &cookie, &args.idle_unit, args.idle_connections, args.hold_seconds).await;
    }
    if args.list_open > 0 {
        time_lists(&args, &run, &cookie).await;
    }
}

/// Phase 3: `list_open` open dossiers over every ward of the catalog (`list_overdue` of them
/// overdue), then the first page of the city's lists, timed end to end (request sent → JSON
/// received), one request at a time.
async fn time_lists(args: &Args, run: &str, cookie: &str) {
    let http = reqwest::Client::new();
    let endpoint = format!("{}/api/v1/events", args.url);
    let wards: Vec<String> = serde_json::from_str::<Vec<Value>>(ioc_server::catalog::DEFAULT_CATALOG_JSON)
        .unwrap()
        .into_iter()
        .filter(|u| u["kind"] == "ward" || u["kind"] == "commune" || u["kind"] == "township")
        .filter_map(|u| u["code"].as_str().map(str::to_owned))
        .collect();
    let now = Utc::now();
    let batches: Vec<Vec<Value>> = (0..args.list_open)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|chunk| {
            chunk
                .iter()
                .map(|i| {
                    let unit = &wards[i % wards.len()];
                    let due = if *i < args.list_overdue { now - Duration::hours(1 + (*i % 500) as i64) } else { now + Duration::days(3) };
                    json!({"id": format!("list-{run}-{i}"), "source": "ioc-load", "type": "dossier.received",
                           "at": (now - Duration::days(1)).to_rfc3339(), "unit": unit, "dossier": format!("LIST-{run}-{i}"),
                           "procedure": "Đăng ký khai sinh", "field": "Hộ tịch", "channel": "online", "due": due.to_rfc3339()})
                })
                .collect()
        })
        .collect();
    futures_util::stream::iter(batches)
        .for_each_concurrent(4, |batch| {
            let http = http.clone();
            let endpoint = endpoint.clone();
            async move {
                let response = http.post(&endpoint).bearer_auth(&args.token).json(&batch).send().await.unwrap();
                assert_eq!(response.status().as_u16(), 200);
            }
        })
        .await;
    println!("lists: {} open dossiers ingested ({} overdue)", args.list_open, args.list_overdue);
    for query in ["kind=dossier&state=overdue", "kind=dossier&state=open", "kind=dossier&state=due_soon"] {
        let url = format!("{}/api/v1/units/01/items?{query}&limit=50", args.url);
        let mut times = Vec::with_capacity(args.list_samples);
        let mut total = 0;
        for _ in 0..args.list_samples {
            let sent = Instant::now();
            let response = http.get(&url).header("cookie", cookie).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let body: Value = response.json().await.unwrap();
            total = body["total"].as_u64().unwrap_or(0);
            times.push(sent.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        println!("first page of the city's list ({query}, total {total}), {} requests: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            times.len(), percentile(&times, 0.5), percentile(&times, 0.99), times.last().copied().unwrap_or(f64::NAN));
    }
}

/// A WebSocket with the session cookie.
async fn connect(
    url: &str,
    cookie: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert("cookie", cookie.parse().unwrap());
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// Opens `count` connections, subscribed to `unit` (after its first snapshot) unless `none`,
/// and holds them.
async fn hold_idle_connections(ws_url: &str, cookie: &str, unit: &str, count: usize, hold_seconds: u64) {
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let mut socket = connect(ws_url, cookie).await;
        if unit != "none" {
            let subscribe = json!({"type": "subscribe", "unit": unit, "window": "today"}).to_string();
            socket.send(Message::text(subscribe)).await.unwrap();
            next_received(&mut socket).await;
        }
        sockets.push(socket);
    }
    println!("holding {count} idle connections (subscribed to: {unit}) for {hold_seconds} s (read the server's RSS now)");
    tokio::time::sleep(std::time::Duration::from_secs(hold_seconds)).await;
    drop(sockets);
}

/// Dossiers received in the next snapshot.
async fn next_received<S>(socket: &mut S) -> u64
where
    S: StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(30), socket.next())
            .await
            .expect("no snapshot within 30 s")
            .expect("socket closed")
            .unwrap();
        if let Message::Text(text) = message {
            if let Ok(ServerMessage::Snapshot { data, .. }) = serde_json::from_str::<ServerMessage>(&text) {
                return data.dossiers.received;
            }
        }
    }
}
