//! `ioc-load`: the load tool behind BENCHMARKS.md.
//!
//! Against a running server it measures
//! 1. ingest throughput: `--events` dossier events in batches of `--batch`, `--concurrency`
//!    requests in flight, reported as events per second and per-request latency;
//! 2. event-to-screen latency: with a WebSocket subscribed to one ward, it posts one event at a
//!    time and times how long until a snapshot showing it arrives, `--samples` times.
//!
//! 3. with `--fanout-clients N`, only the fan-out: N WebSocket clients subscribed to
//!    `--fanout-unit` / `--fanout-window` while a separate loader (its own thread and runtime,
//!    so busy clients cannot slow it) posts `--fanout-rate` events/s in batches of
//!    `--fanout-batch` for `--fanout-seconds`. Latency is measured per (client, batch): from
//!    posting the batch to the first message on that client whose figures include it (the
//!    batch's cumulative count of dossiers received). Also deliveries/s, bytes/s, and with
//!    `--server-pid` the server's CPU seconds per 1,000 deliveries.
//!
//! Every request loop is bounded by the counts given; the tool only talks to `--url`.
#![allow(clippy::unwrap_used)]

use chrono::{Duration, Utc};
use clap::Parser;
use futures_util::{SinkExt, StreamExt};
use ioc_shared::live::{ScopeFigures, ServerMessage};
use serde_json::{json, Value};
use std::time::Instant;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug, Parser)]
#[command(
    name = "ioc-load",
    about = "Measure ingest throughput and event-to-screen latency of an IOC server"
)]
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
    /// What the throughput phase sends. `city` (the default): items over every ward of the
    /// catalog, 600 procedures in a Zipf law, every kind through its life (dossiers received →
    /// assigned → some paused → resumed → resolved, complaints with fields and channels,
    /// tasks), due times that leave 5–10 % of the open items overdue; timed until the city's
    /// summary shows them all. `micro`: only `dossier.received`, one procedure, 8 wards (every
    /// ward with `--until-visible`): a micro-benchmark of the ingest path.
    #[arg(long, value_enum, default_value_t = Workload::City)]
    workload: Workload,
    /// Events to ingest in the throughput phase.
    #[arg(long, default_value_t = 100_000)]
    events: usize,
    /// Events per request.
    #[arg(long, default_value_t = 1_000)]
    batch: usize,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Spread the throughput phase's events over every ward of the catalog (not 8), and time
    /// until all of them are visible in the city's summary (durable *and* visible).
    #[arg(long)]
    until_visible: bool,
    /// Event-to-screen latency samples.
    #[arg(long, default_value_t = 50)]
    samples: usize,
    /// Pause between latency samples, in ms. The server coalesces a unit's updates to at most
    /// one per 150 ms (more with many screens), so samples closer than that measure the
    /// coalescing, not the path.
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
    /// Fan-out mode (nothing else runs): this many WebSocket clients.
    #[arg(long, default_value_t = 0)]
    fanout_clients: usize,
    /// Events per second the loader posts during the fan-out.
    #[arg(long, default_value_t = 1_000)]
    fanout_rate: usize,
    /// Events per request of the loader.
    #[arg(long, default_value_t = 100)]
    fanout_batch: usize,
    /// How long the loader posts.
    #[arg(long, default_value_t = 15)]
    fanout_seconds: u64,
    #[arg(long, default_value = "01")]
    fanout_unit: String,
    #[arg(long, default_value = "24h")]
    fanout_window: String,
    /// Ask for whole snapshots at every change (clients written before deltas).
    #[arg(long)]
    snapshots_only: bool,
    /// Fan-out clients keep the whole document and apply every delta to it, as a dashboard
    /// does. By default they follow only the version chain and the received count: with
    /// thousands of clients on the server's own cores, applying whole documents made the load
    /// client the bottleneck (its allocations, not the server's work).
    #[arg(long)]
    full_clients: bool,
    /// The server's process id, to report its CPU time per 1,000 deliveries (repeat for
    /// several server processes: their CPU is added up).
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Further servers of the same deployment (same PostgreSQL and Redis): fan-out clients
    /// connect to `--url` and these in turn, and the loader posts to each in turn.
    #[arg(long)]
    also_url: Vec<String>,
    /// Unit catalog whose wards the events spread over (default: the built-in Hanoi catalog;
    /// the fan-out loader then uses 8 wards).
    #[arg(long)]
    units: Option<std::path::PathBuf>,
    /// History mode (nothing else runs): post this many hours of past work, ending now, at
    /// `--history-rate` events per hour over every ward, so that Redis holds what that much
    /// operation leaves (read its memory afterwards).
    #[arg(long, default_value_t = 0)]
    history_hours: u64,
    /// Events per hour of the history.
    #[arg(long, default_value_t = 10_000)]
    history_rate: u64,
    /// List dossiers are assigned to this many officers in turn (0: none), so that the late
    /// officers of a summary are the worst case.
    #[arg(long, default_value_t = 0)]
    list_officers: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Workload {
    City,
    Micro,
}

/// The figures a city workload must move in the city's 24-hour summary.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Moves {
    dossiers_received: u64,
    dossiers_resolved: u64,
    complaints_received: u64,
    tasks_assigned: u64,
}

impl Moves {
    fn of(summary: &Value) -> Moves {
        let n = |path: &str| path.split('.').fold(summary, |v, k| &v[k]).as_u64().unwrap_or(0);
        Moves {
            dossiers_received: n("dossiers.received"),
            dossiers_resolved: n("dossiers.resolved"),
            complaints_received: n("complaints.received"),
            tasks_assigned: n("tasks.assigned"),
        }
    }

    fn plus(self, other: Moves) -> Moves {
        Moves {
            dossiers_received: self.dossiers_received + other.dossiers_received,
            dossiers_resolved: self.dossiers_resolved + other.dossiers_resolved,
            complaints_received: self.complaints_received + other.complaints_received,
            tasks_assigned: self.tasks_assigned + other.tasks_assigned,
        }
    }

    fn reached(self, target: Moves) -> bool {
        self.dossiers_received >= target.dossiers_received
            && self.dossiers_resolved >= target.dossiers_resolved
            && self.complaints_received >= target.complaints_received
            && self.tasks_assigned >= target.tasks_assigned
    }
}

const PROCEDURES: usize = 600;
const FIELDS: [&str; 12] = [
    "Hộ tịch",
    "Đất đai",
    "Xây dựng",
    "Kinh doanh",
    "Môi trường",
    "Giao thông",
    "Y tế",
    "Giáo dục",
    "Lao động",
    "Tư pháp",
    "Văn hóa",
    "Thuế",
];
const CHANNELS: [&str; 5] = ["zalo", "hotline", "app", "portal", "direct"];

/// The city workload: about `events` events of items over `wards`, in the order their times
/// put them (an item's later events come later), and what they move in the city's summary.
/// Items start over the last two hours; a dossier is assigned, one in ten paused and resumed,
/// seven in ten resolved; complaints are assigned and six in ten resolved; tasks six in ten
/// completed. About one open item in fourteen is already past its due time.
fn city_events(run: &str, events: usize, wards: &[String]) -> (Vec<Value>, Moves) {
    use rand::{Rng, SeedableRng};
    let mut random = rand::rngs::StdRng::seed_from_u64(22);
    let now = Utc::now() - Duration::seconds(5);
    let mut timed: Vec<(chrono::DateTime<Utc>, Value)> = Vec::with_capacity(events + 8);
    let mut moves = Moves::default();
    let mut n = 0;
    while timed.len() < events {
        n += 1;
        let unit = &wards[random.random_range(0..wards.len())];
        let start = now - Duration::seconds(random.random_range(600..7_200));
        let officer =
            json!({"id": format!("cb-{unit}-{}", random.random_range(0..6)), "name": "Cán bộ"});
        // Past its due time (while open) for about one item in fourteen.
        let due = if random.random_bool(0.07) {
            start + Duration::seconds(random.random_range(60..500))
        } else {
            now + Duration::hours(random.random_range(2..240))
        };
        let time = |at: chrono::DateTime<Utc>| at.to_rfc3339();
        let mut push = |suffix: &str, at: chrono::DateTime<Utc>, body: Value| {
            let mut event = body;
            event["id"] = json!(format!("city-{run}-{n}-{suffix}"));
            event["source"] = json!("ioc-load");
            event["at"] = json!(time(at));
            event["unit"] = json!(unit);
            timed.push((at, event));
        };
        // The item's later events, a minute or so apart.
        let gap = random.random_range(30..90);
        let step = |k: i64| start + Duration::seconds(k * gap);
        match random.random_range(0..10) {
            0..=5 => {
                let item = format!("HS-{run}-{n}");
                // Procedure k with weight 1/k (Zipf) over PROCEDURES.
                let k = (PROCEDURES as f64).powf(random.random::<f64>()) as usize;
                let procedure = format!("Thủ tục {k:03}");
                let field = FIELDS[k % FIELDS.len()];
                let (assigned, paused, resumed, resolved) = (step(1), step(2), step(3), step(4));
                push(
                    "r",
                    start,
                    json!({"type": "dossier.received", "dossier": item,
                    "procedure": procedure, "field": field, "channel": "online", "due": time(due)}),
                );
                push(
                    "a",
                    assigned,
                    json!({"type": "dossier.assigned", "dossier": item, "officer": officer}),
                );
                if random.random_bool(0.1) {
                    push("p", paused, json!({"type": "dossier.paused", "dossier": item}));
                    push("u", resumed, json!({"type": "dossier.resumed", "dossier": item}));
                }
                moves.dossiers_received += 1;
                if random.random_bool(0.7) {
                    push(
                        "d",
                        resolved,
                        json!({"type": "dossier.resolved", "dossier": item, "outcome": "completed"}),
                    );
                    moves.dossiers_resolved += 1;
                }
            }
            6..=8 => {
                let item = format!("PA-{run}-{n}");
                let field = FIELDS[random.random_range(0..FIELDS.len())];
                let channel = CHANNELS[random.random_range(0..CHANNELS.len())];
                push(
                    "r",
                    start,
                    json!({"type": "complaint.received", "complaint": item,
                    "field": field, "channel": channel, "due": time(due), "summary": "Phản ánh"}),
                );
                push(
                    "a",
                    step(1),
                    json!({"type": "complaint.assigned", "complaint": item, "officer": officer}),
                );
                moves.complaints_received += 1;
                if random.random_bool(0.6) {
                    push(
                        "d",
                        step(2),
                        json!({"type": "complaint.resolved", "complaint": item, "satisfaction": "satisfied"}),
                    );
                }
            }
            _ => {
                let item = format!("NV-{run}-{n}");
                push(
                    "r",
                    start,
                    json!({"type": "task.assigned", "task": item, "title": "Kiểm tra",
                    "officer": officer, "due": time(due)}),
                );
                moves.tasks_assigned += 1;
                if random.random_bool(0.6) {
                    push("d", step(1), json!({"type": "task.completed", "task": item}));
                }
            }
        }
    }
    timed.sort_by_key(|(at, _)| *at);
    (timed.into_iter().map(|(_, event)| event).collect(), moves)
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

fn main() {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    if args.history_hours > 0 {
        runtime.block_on(post_history(&args));
    } else if args.fanout_clients > 0 {
        runtime.block_on(fanout::run(&args));
    } else {
        runtime.block_on(measure(args));
    }
}

async fn measure(args: Args) {
    let run = format!("{:x}", Utc::now().timestamp_millis());
    let http = reqwest::Client::new();
    let endpoint = format!("{}/api/v1/events", args.url);

    // Phase 1: throughput.
    let city = args.workload == Workload::City;
    let wards = load_wards(&args, args.until_visible || city);
    let (events, moves) = if city {
        city_events(&run, args.events, &wards)
    } else {
        let events: Vec<Value> =
            (0..args.events).map(|i| dossier(&run, i, &wards[i % wards.len()])).collect();
        (events, Moves { dossiers_received: args.events as u64, ..Moves::default() })
    };
    let total = events.len();
    let batches: Vec<Vec<Value>> =
        events.chunks(args.batch.max(1)).map(<[Value]>::to_vec).collect();
    let until_visible = args.until_visible || city;
    let visible_cookie = if until_visible { Some(log_in(&http, &args).await) } else { None };
    let city_moves = |cookie: String| {
        let http = http.clone();
        let url = format!("{}/api/v1/units/01/summary?window=24h", args.url);
        async move {
            let summary: Value =
                http.get(&url).header("cookie", cookie).send().await.unwrap().json().await.unwrap();
            Moves::of(&summary)
        }
    };
    let base = match &visible_cookie {
        Some(cookie) => city_moves(cookie.clone()).await,
        None => Moves::default(),
    };
    println!("workload {:?}: {total} events over {} wards ({moves:?})", args.workload, wards.len());
    let started = Instant::now();
    let mut request_ms: Vec<f64> = futures_util::stream::iter(batches)
        .map(|batch| {
            let http = http.clone();
            let endpoint = endpoint.clone();
            let token = args.token.clone();
            async move {
                let sent = Instant::now();
                let response =
                    http.post(&endpoint).bearer_auth(&token).json(&batch).send().await.unwrap();
                assert_eq!(
                    response.status().as_u16(),
                    200,
                    "{}",
                    response.text().await.unwrap_or_default()
                );
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
    println!(
        "ingest: {} events in {:.2} s = {:.0} events/s (batch {}, concurrency {})",
        total,
        elapsed,
        total as f64 / elapsed,
        args.batch,
        args.concurrency
    );
    println!(
        "ingest request latency: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        percentile(&request_ms, 0.5),
        percentile(&request_ms, 0.99),
        request_ms.last().copied().unwrap_or(f64::NAN)
    );
    if let Some(cookie) = visible_cookie {
        // Durable and visible: every event acknowledged above is in the city's figures.
        let target = base.plus(moves);
        while !city_moves(cookie.clone()).await.reached(target) {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        let visible = started.elapsed().as_secs_f64();
        println!("visible in the city summary: {} events over {} wards in {:.2} s = {:.0} events/s (first POST → summary showing all)",
            total, wards.len(), visible, total as f64 / visible);
    }

    // Phase 2: event-to-screen latency on a quiet ward.
    let cookie = log_in(&http, &args).await;
    let ws_url = format!("{}/api/v1/live", args.url.replacen("http", "ws", 1));
    let mut socket = connect(&ws_url, &cookie).await;
    let unit = "00004";
    let subscribe = json!({"type": "subscribe", "unit": unit, "window": "24h"}).to_string();
    socket.send(Message::text(subscribe)).await.unwrap();
    let mut figures = fanout::Tracker::Full(None);
    let mut received = next_received(&mut socket, &mut figures).await;
    let mut latencies = Vec::with_capacity(args.samples);
    for sample in 0..args.samples {
        tokio::time::sleep(std::time::Duration::from_millis(args.pause_ms)).await;
        let event = dossier(&run, args.events + sample, unit);
        let sent = Instant::now();
        let response = http
            .post(&endpoint)
            .bearer_auth(&args.token)
            .json(&json!([event]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        loop {
            let now_received = next_received(&mut socket, &mut figures).await;
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
        hold_idle_connections(
            &ws_url,
            &cookie,
            &args.idle_unit,
            args.idle_connections,
            args.hold_seconds,
        )
        .await;
    }
    if args.list_open > 0 {
        time_lists(&args, &run, &cookie).await;
    }
}

/// History mode: items started evenly over the last `--history-hours` hours, each walked
/// through its life — a dossier received, assigned and resolved (60 %), a complaint received,
/// assigned and resolved (30 %), a task assigned and completed (10 %) — resolved 1 to 48 hours
/// later unless that is still ahead (then open) or it is one of the 5 % left open for good.
/// About 2.9 events per item, so `--history-rate` events per hour make rate / 2.9 items.
async fn post_history(args: &Args) {
    use rand::{Rng, SeedableRng};
    let mut random = rand::rngs::StdRng::seed_from_u64(2026);
    let run = format!("{:x}", Utc::now().timestamp_millis());
    let wards = ward_codes(args);
    let now = Utc::now();
    let start = now - Duration::hours(args.history_hours as i64);
    let items = (args.history_hours * args.history_rate * 10 / 29) as usize;
    let step_ms = (args.history_hours * 3_600_000) as f64 / items.max(1) as f64;
    let time = |at: chrono::DateTime<Utc>| at.to_rfc3339();
    let mut events: Vec<Value> = Vec::with_capacity(items * 3);
    for n in 0..items {
        let at = start + Duration::milliseconds((n as f64 * step_ms) as i64);
        let unit = &wards[random.random_range(0..wards.len())];
        let officer =
            json!({"id": format!("cb-{unit}-{}", random.random_range(0..8)), "name": "Cán bộ"});
        let assigned_at = at + Duration::minutes(5);
        let done_at = at + Duration::minutes(random.random_range(60..48 * 60));
        let done = done_at < now && !random.random_bool(0.05);
        let due = at + Duration::hours(random.random_range(4..72));
        let id = |suffix: &str| format!("hist-{run}-{n}-{suffix}");
        // (kind, its first event, its closing event and what that event carries)
        let (kind, first, closing, closing_fields) = match random.random_range(0..10) {
            0..=5 => (
                "dossier",
                json!({"type": "dossier.received", "procedure": "Đăng ký khai sinh", "field": "Hộ tịch", "channel": "online"}),
                "dossier.resolved",
                json!({"outcome": "completed"}),
            ),
            6..=8 => (
                "complaint",
                json!({"type": "complaint.received", "field": "Môi trường", "channel": "hotline", "summary": "Rác thải"}),
                "complaint.resolved",
                json!({"satisfaction": "satisfied"}),
            ),
            _ => (
                "task",
                json!({"type": "task.assigned", "title": "Kiểm tra", "officer": officer}),
                "task.completed",
                json!({}),
            ),
        };
        let item = format!("H{}-{run}-{n}", kind[..1].to_uppercase());
        // The fields every event of the item shares, then its own.
        let event = |suffix: &str, kind_type: &str, when: chrono::DateTime<Utc>, fields: &Value| {
            let mut event = json!({"id": id(suffix), "source": "ioc-load", "type": kind_type, "at": time(when), "unit": unit, kind: item});
            for (name, value) in fields.as_object().into_iter().flatten() {
                event[name] = value.clone();
            }
            event
        };
        let mut opening = first.clone();
        opening["due"] = json!(time(due));
        events.push(event("r", first["type"].as_str().unwrap_or_default(), at, &opening));
        if kind != "task" && assigned_at < now {
            events.push(event(
                "a",
                &format!("{kind}.assigned"),
                assigned_at,
                &json!({"officer": officer}),
            ));
        }
        if done {
            events.push(event("d", closing, done_at, &closing_fields));
        }
    }
    let total = events.len();
    let endpoint = format!("{}/api/v1/events", args.url);
    let http = reqwest::Client::new();
    let started = Instant::now();
    let batches: Vec<Vec<Value>> =
        events.chunks(args.batch.max(1)).map(<[Value]>::to_vec).collect();
    post_all(&http, &endpoint, &args.token, batches, args.concurrency).await;
    println!("history: {items} items, {total} events over the last {} h ({:.0} events/h) across {} wards, posted in {:.1} s",
        args.history_hours, total as f64 / args.history_hours as f64, wards.len(), started.elapsed().as_secs_f64());
}

/// The wards load events go to: every ward of `--units` when given (or when `every` asks for
/// the whole built-in catalog), otherwise the 8 wards of [`WARDS`].
fn load_wards(args: &Args, every: bool) -> Vec<String> {
    if every || args.units.is_some() {
        ward_codes(args)
    } else {
        WARDS.iter().map(|w| w.to_string()).collect()
    }
}

/// Posts batches of events, `concurrency` requests at a time, insisting that every event of
/// every batch is accepted.
async fn post_all(
    http: &reqwest::Client,
    endpoint: &str,
    token: &str,
    batches: Vec<Vec<Value>>,
    concurrency: usize,
) {
    futures_util::stream::iter(batches)
        .for_each_concurrent(concurrency.max(1), |batch| async move {
            let response =
                http.post(endpoint).bearer_auth(token).json(&batch).send().await.unwrap();
            assert_eq!(response.status().as_u16(), 200);
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["accepted"].as_u64(), Some(batch.len() as u64), "{body}");
        })
        .await;
}

/// Every ward (and commune) code of `--units` or the built-in catalog.
fn ward_codes(args: &Args) -> Vec<String> {
    let text = match &args.units {
        Some(path) => std::fs::read_to_string(path).unwrap(),
        None => ioc_server::catalog::DEFAULT_CATALOG_JSON.to_owned(),
    };
    serde_json::from_str::<Vec<Value>>(&text)
        .unwrap()
        .into_iter()
        .filter(|u| u["kind"] == "ward" || u["kind"] == "commune" || u["kind"] == "township")
        .filter_map(|u| u["code"].as_str().map(str::to_owned))
        .collect()
}

/// Phase 3: `list_open` open dossiers over every ward of the catalog (`list_overdue` of them
/// overdue), then the first page of the city's lists, timed end to end (request sent → JSON
/// received), one request at a time.
async fn time_lists(args: &Args, run: &str, cookie: &str) {
    let http = reqwest::Client::new();
    let endpoint = format!("{}/api/v1/events", args.url);
    let wards = ward_codes(args);
    let now = Utc::now();
    let batches: Vec<Vec<Value>> = (0..args.list_open)
        .collect::<Vec<_>>()
        .chunks(1000)
        .map(|chunk| {
            chunk
                .iter()
                .flat_map(|i| {
                    let unit = &wards[i % wards.len()];
                    let due = if *i < args.list_overdue { now - Duration::hours(1 + (*i % 500) as i64) } else { now + Duration::days(3) };
                    let received = json!({"id": format!("list-{run}-{i}"), "source": "ioc-load", "type": "dossier.received",
                           "at": (now - Duration::days(1)).to_rfc3339(), "unit": unit, "dossier": format!("LIST-{run}-{i}"),
                           "procedure": "Đăng ký khai sinh", "field": "Hộ tịch", "channel": "online", "due": due.to_rfc3339()});
                    let assigned = (args.list_officers > 0).then(|| {
                        let officer = i % args.list_officers;
                        json!({"id": format!("list-{run}-{i}-a"), "source": "ioc-load", "type": "dossier.assigned",
                               "at": (now - Duration::days(1)).to_rfc3339(), "unit": unit, "dossier": format!("LIST-{run}-{i}"),
                               "officer": {"id": format!("cb-load-{officer}"), "name": format!("Cán bộ {officer}")}})
                    });
                    std::iter::once(received).chain(assigned)
                })
                .collect()
        })
        .collect();
    post_all(&http, &endpoint, &args.token, batches, 4).await;
    println!(
        "lists: {} open dossiers ingested ({} overdue, {} officers)",
        args.list_open, args.list_overdue, args.list_officers
    );
    for query in
        ["kind=dossier&state=overdue", "kind=dossier&state=open", "kind=dossier&state=due_soon"]
    {
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

/// Signs in; the session cookie (`name=value`).
async fn log_in(http: &reqwest::Client, args: &Args) -> String {
    let login = http
        .post(format!("{}/api/v1/login", args.url))
        .header("origin", args.url.as_str())
        .json(&json!({"username": args.username, "password": args.password}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status().as_u16(), 200, "login failed");
    login
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("ioc_session="))
        .and_then(|v| v.split(';').next())
        .unwrap()
        .to_owned()
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
async fn hold_idle_connections(
    ws_url: &str,
    cookie: &str,
    unit: &str,
    count: usize,
    hold_seconds: u64,
) {
    let mut sockets = Vec::with_capacity(count);
    for _ in 0..count {
        let mut socket = connect(ws_url, cookie).await;
        if unit != "none" {
            let subscribe =
                json!({"type": "subscribe", "unit": unit, "window": "today"}).to_string();
            socket.send(Message::text(subscribe)).await.unwrap();
            next_received(&mut socket, &mut fanout::Tracker::Full(None)).await;
        }
        sockets.push(socket);
    }
    println!("holding {count} idle connections (subscribed to: {unit}) for {hold_seconds} s (read the server's RSS now)");
    tokio::time::sleep(std::time::Duration::from_secs(hold_seconds)).await;
    drop(sockets);
}

/// Dossiers received after the next snapshot or delta of the one subscription on `socket`.
async fn next_received<S>(socket: &mut S, figures: &mut fanout::Tracker) -> u64
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
            if let Some(received) = fanout::apply(&text, figures) {
                return received;
            }
        }
    }
}

mod fanout {
    use super::*;
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    use std::sync::{Arc, Mutex};

    /// What a client keeps of its scope's figures.
    pub enum Tracker {
        /// The whole document, every delta applied to it (as a dashboard does).
        Full(Option<ScopeFigures>),
        /// The version and the received count only: each delta must start from the version
        /// last seen (nothing lost), and the count follows its `/dossiers/received` change.
        Light { version: Option<u64>, received: u64 },
    }

    /// The parts of a server message a light client reads; the rest is skipped unparsed.
    #[derive(serde::Deserialize)]
    struct LightMessage<'a> {
        #[serde(rename = "type", borrow)]
        kind: &'a str,
        version: Option<u64>,
        base: Option<u64>,
        data: Option<LightData>,
        #[serde(borrow)]
        changes: Option<Vec<LightChange<'a>>>,
    }

    #[derive(serde::Deserialize)]
    struct LightData {
        dossiers: LightDossiers,
    }

    #[derive(serde::Deserialize)]
    struct LightDossiers {
        received: u64,
    }

    #[derive(serde::Deserialize)]
    struct LightChange<'a> {
        #[serde(borrow)]
        path: std::borrow::Cow<'a, str>,
        #[serde(borrow)]
        value: Option<&'a serde_json::value::RawValue>,
    }

    /// Applies a snapshot or delta to `figures`; the dossiers received it then shows.
    pub fn apply(text: &str, figures: &mut Tracker) -> Option<u64> {
        match figures {
            Tracker::Full(figures) => {
                match serde_json::from_str::<ServerMessage>(text).ok()? {
                    ServerMessage::Snapshot { version, data, .. } => {
                        *figures = Some(ScopeFigures::from_snapshot(version, &data).unwrap());
                    }
                    ServerMessage::Delta { base, version, changes, .. } => {
                        figures
                            .as_mut()?
                            .apply(base, version, &changes)
                            .expect("a delta that does not fit: a message was lost");
                    }
                    _ => return None,
                }
                figures.as_ref()?.document.pointer("/dossiers/received")?.as_u64()
            }
            Tracker::Light { version, received } => {
                let message: LightMessage = serde_json::from_str(text).ok()?;
                match message.kind {
                    "snapshot" => *received = message.data?.dossiers.received,
                    "delta" => {
                        assert_eq!(
                            message.base, *version,
                            "a delta that does not fit: a message was lost"
                        );
                        for change in message.changes.unwrap_or_default() {
                            let Some(value) = change.value else { continue };
                            match change.path.as_ref() {
                                "/dossiers/received" => {
                                    *received = serde_json::from_str(value.get()).unwrap()
                                }
                                "/dossiers" => {
                                    *received = serde_json::from_str::<LightDossiers>(value.get())
                                        .unwrap()
                                        .received
                                }
                                "" => {
                                    *received = serde_json::from_str::<LightData>(value.get())
                                        .unwrap()
                                        .dossiers
                                        .received
                                }
                                _ => {}
                            }
                        }
                    }
                    _ => return None,
                }
                *version = message.version;
                Some(*received)
            }
        }
    }

    /// What the clients share with the loader and the report.
    struct Shared {
        /// When each batch was posted, in µs since `start` (0: not yet).
        posted_us: Vec<AtomicU64>,
        start: Instant,
        deliveries: AtomicU64,
        bytes: AtomicU64,
        /// Latencies of (client, batch) pairs, in ms.
        latencies: Mutex<Vec<f64>>,
        /// Clients that have seen every batch.
        complete: AtomicUsize,
    }

    pub async fn run(args: &Args) {
        let http = reqwest::Client::new();
        let cookie = log_in(&http, args).await;
        let urls: Vec<String> =
            std::iter::once(args.url.clone()).chain(args.also_url.iter().cloned()).collect();
        let ws_urls: Vec<String> = urls
            .iter()
            .map(|url| format!("{}/api/v1/live", url.replacen("http", "ws", 1)))
            .collect();
        let wards = load_wards(args, false);
        let batches = (args.fanout_rate as u64 * args.fanout_seconds)
            .div_ceil(args.fanout_batch as u64) as usize;
        let shared = Arc::new(Shared {
            posted_us: (0..batches).map(|_| AtomicU64::new(0)).collect(),
            start: Instant::now(),
            deliveries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            latencies: Mutex::new(Vec::with_capacity(batches * args.fanout_clients)),
            complete: AtomicUsize::new(0),
        });
        let subscribe = json!({"type": "subscribe", "unit": args.fanout_unit, "window": args.fanout_window, "deltas": !args.snapshots_only}).to_string();
        // Connect and subscribe every client (64 at a time), each reading its first snapshot.
        let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel::<u64>(args.fanout_clients);
        let (go_tx, go_rx) = tokio::sync::watch::channel(false);
        let connected = Arc::new(tokio::sync::Semaphore::new(64));
        let mut clients = Vec::with_capacity(args.fanout_clients);
        for client in 0..args.fanout_clients {
            let (ws_url, cookie, subscribe, shared, ready_tx, mut go_rx, connected) = (
                ws_urls[client % ws_urls.len()].clone(),
                cookie.clone(),
                subscribe.clone(),
                shared.clone(),
                ready_tx.clone(),
                go_rx.clone(),
                connected.clone(),
            );
            let batch = args.fanout_batch as u64;
            let full = args.full_clients;
            clients.push(tokio::spawn(async move {
                let permit = connected.acquire_owned().await.unwrap();
                let mut socket = connect(&ws_url, &cookie).await;
                socket.send(Message::text(subscribe)).await.unwrap();
                let mut figures = if full {
                    Tracker::Full(None)
                } else {
                    Tracker::Light { version: None, received: 0 }
                };
                let base = next_received(&mut socket, &mut figures).await;
                drop(permit);
                ready_tx.send(base).await.unwrap();
                let _ = go_rx.wait_for(|go| *go).await;
                let mut seen_batches = 0usize;
                let mut latencies = Vec::with_capacity(shared.posted_us.len());
                while seen_batches < shared.posted_us.len() {
                    let Ok(Some(Ok(message))) =
                        tokio::time::timeout(std::time::Duration::from_secs(60), socket.next())
                            .await
                    else {
                        break;
                    };
                    let Message::Text(text) = message else { continue };
                    let Some(received) = apply(&text, &mut figures) else { continue };
                    let now_us = shared.start.elapsed().as_micros() as u64;
                    shared.deliveries.fetch_add(1, Ordering::Relaxed);
                    shared.bytes.fetch_add(text.len() as u64, Ordering::Relaxed);
                    let visible = (received.saturating_sub(base) / batch) as usize;
                    while seen_batches < visible.min(shared.posted_us.len()) {
                        let posted = shared.posted_us[seen_batches].load(Ordering::Acquire);
                        latencies.push(now_us.saturating_sub(posted) as f64 / 1000.0);
                        seen_batches += 1;
                    }
                }
                if seen_batches == shared.posted_us.len() {
                    shared.complete.fetch_add(1, Ordering::Relaxed);
                }
                shared.latencies.lock().unwrap().extend(latencies);
                drop(socket);
            }));
        }
        drop(ready_tx);
        let mut bases = std::collections::BTreeSet::new();
        for _ in 0..args.fanout_clients {
            bases.insert(ready_rx.recv().await.unwrap());
        }
        assert_eq!(
            bases.len(),
            1,
            "clients started from different figures: is something else ingesting? {bases:?}"
        );
        println!("fan-out: {} clients over {} server(s) subscribed to {} {} ({}), loader: {} events/s over {} wards in batches of {} for {} s",
            args.fanout_clients, urls.len(), args.fanout_unit, args.fanout_window, if args.snapshots_only { "snapshots only" } else { "deltas" },
            args.fanout_rate, wards.len(), args.fanout_batch, args.fanout_seconds);
        let cpu_before = cpu_seconds(&args.server_pid);
        let load_started = Instant::now();
        let _ = go_tx.send(true);

        // The loader, on its own thread and runtime.
        let loader = {
            let (shared, endpoints, token, run, rate, batch) = (
                shared.clone(),
                urls.iter().map(|url| format!("{url}/api/v1/events")).collect::<Vec<_>>(),
                args.token.clone(),
                format!("{:x}", Utc::now().timestamp_millis()),
                args.fanout_rate,
                args.fanout_batch,
            );
            std::thread::spawn(move || {
                let runtime =
                    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async move {
                    let http = reqwest::Client::new();
                    let every = std::time::Duration::from_secs_f64(batch as f64 / rate as f64);
                    let mut ticks = tokio::time::interval(every);
                    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                    let mut requests = Vec::new();
                    for index in 0..shared.posted_us.len() {
                        ticks.tick().await;
                        let events: Vec<Value> = (0..batch)
                            .map(|i| {
                                dossier(
                                    &run,
                                    index * batch + i,
                                    &wards[(index * batch + i) % wards.len()],
                                )
                            })
                            .collect();
                        let endpoint = endpoints[index % endpoints.len()].clone();
                        let (http, token, shared) = (http.clone(), token.clone(), shared.clone());
                        requests.push(tokio::spawn(async move {
                            shared.posted_us[index].store(
                                shared.start.elapsed().as_micros() as u64,
                                Ordering::Release,
                            );
                            let response = http
                                .post(&endpoint)
                                .bearer_auth(&token)
                                .json(&events)
                                .send()
                                .await
                                .unwrap();
                            assert_eq!(response.status().as_u16(), 200);
                        }));
                    }
                    for request in requests {
                        request.await.unwrap();
                    }
                });
            })
        };
        loader.join().unwrap();
        let posted_in = load_started.elapsed().as_secs_f64();
        for client in clients {
            let _ = client.await;
        }
        let elapsed = load_started.elapsed().as_secs_f64();
        let cpu = match (cpu_before, cpu_seconds(&args.server_pid)) {
            (Some(before), Some(after)) => Some(after - before),
            _ => None,
        };
        let mut latencies = std::mem::take(&mut *shared.latencies.lock().unwrap());
        latencies.sort_by(f64::total_cmp);
        let deliveries = shared.deliveries.load(Ordering::Relaxed);
        println!(
            "posted {} events in {:.1} s; every client saw every batch: {} of {}",
            shared.posted_us.len() * args.fanout_batch,
            posted_in,
            shared.complete.load(Ordering::Relaxed),
            args.fanout_clients
        );
        println!("latency (batch posted → first message on a client including it), {} (client, batch) pairs: p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
            latencies.len(), percentile(&latencies, 0.5), percentile(&latencies, 0.99), latencies.last().copied().unwrap_or(f64::NAN));
        println!(
            "deliveries: {} in {:.1} s = {:.0}/s, {:.1} MB/s, {:.0} bytes each",
            deliveries,
            elapsed,
            deliveries as f64 / elapsed,
            shared.bytes.load(Ordering::Relaxed) as f64 / elapsed / 1e6,
            shared.bytes.load(Ordering::Relaxed) as f64 / deliveries.max(1) as f64
        );
        if let Some(cpu) = cpu {
            println!(
                "server CPU: {:.1} s, {:.3} s per 1,000 deliveries",
                cpu,
                cpu * 1000.0 / deliveries.max(1) as f64
            );
        }
    }

    /// User + system CPU seconds of the processes together (`None` for none).
    fn cpu_seconds(pids: &[u32]) -> Option<f64> {
        if pids.is_empty() {
            return None;
        }
        pids.iter().map(|pid| process_cpu_seconds(*pid)).sum()
    }

    /// User + system CPU seconds of a process, from /proc.
    fn process_cpu_seconds(pid: u32) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        let after_name = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        let ticks: f64 =
            fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }
}
