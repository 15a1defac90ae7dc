//! `ioc-soak`: two server replicas on highly available engines — a Redis master, its replica
//! and three Sentinels; a PostgreSQL primary and its synchronous standby, all real processes on
//! free ports — under sustained ingest (events over every ward and 500 procedures, mixed kinds)
//! and live screens, while in turn every few minutes the Redis master is killed (`kill -9`,
//! the Sentinels promote its replica), the PostgreSQL primary is killed and its standby
//! promoted, or a server replica restarts (SIGTERM). Each killed engine comes back as the
//! new standby, so the next failover can happen. At the end the figures are compared with a
//! recomputation from PostgreSQL and the acknowledged events with the stored ones.
//!
//! `scripts/soak.sh` builds and runs it (issue 21); its report goes to BENCHMARKS.md.

#![allow(clippy::unwrap_used)]

use clap::Parser;
use ioc_shared::live::{FeedStatus, ScopeFigures, ServerMessage};
use ioc_tests::engines::{PgPair, RedisGroup};
use ioc_tests::events::{complaint_received, dossier_received, dossier_resolved};
use rand::{Rng, SeedableRng};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Parser, Debug)]
struct Args {
    /// How long ingest runs, in seconds.
    #[arg(long, default_value_t = 1800)]
    seconds: u64,
    /// Events per second, sent in batches every 100 ms.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// Live screens subscribed to the city's 24-hour figures, half on each replica.
    #[arg(long, default_value_t = 500)]
    clients: usize,
    /// Seconds between two disruptions (Redis failover, PostgreSQL failover, replica restart,
    /// in turn).
    #[arg(long, default_value_t = 150)]
    every: u64,
    /// The `ioc` binary to run the replicas with.
    #[arg(long)]
    ioc: Option<PathBuf>,
}

const TOKEN: &str = "soak-ingest-token";
const ADMIN: (&str, &str) = ("soak-admin", "soak-admin-password");

/// One server replica as a child process.
struct Replica {
    port: u16,
    child: Option<Child>,
    log: PathBuf,
}

impl Replica {
    fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// How replicas are started: the binary and the engines' addresses.
struct Launcher {
    ioc: PathBuf,
    database_url: String,
    redis_url: String,
}

impl Launcher {
    fn command(&self) -> Command {
        let mut command = Command::new(&self.ioc);
        command
            .env("DATABASE_URL", &self.database_url)
            .env("REDIS_URL", &self.redis_url)
            .env("IOC_INGEST_TOKEN", TOKEN)
            .env("IOC_WEB_DIR", ioc_tests::web_dir())
            .env("IOC_ALERT_DEFAULTS", "false")
            .env("RUST_LOG", "warn");
        command
    }

    fn start(&self, replica: &mut Replica) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&replica.log).unwrap();
        let child = self
            .command()
            .arg("serve")
            .env("IOC_BIND", format!("127.0.0.1:{}", replica.port))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        replica.child = Some(child);
    }

    /// `ioc user add` with the password on standard input.
    fn add_admin(&self) {
        use std::io::Write;
        let mut child = self
            .command()
            .args(["user", "add", ADMIN.0, "--role", "admin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(format!("{}\n", ADMIN.1).as_bytes()).unwrap();
        assert!(child.wait().unwrap().success(), "ioc user add");
    }
}

async fn wait_healthy(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(response) = http.get(format!("{base}/api/v1/health")).send().await {
            if response.status() == 200 {
                return;
            }
        }
        assert!(Instant::now() < deadline, "{base} did not get healthy in 90 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn sigterm(child: &mut Child) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
}

/// What ingest saw.
#[derive(Default)]
struct Ledger {
    /// Every event id acknowledged (200).
    acknowledged: Vec<String>,
    /// Acknowledged `dossier.received` events, and when the count reached each value.
    received: u64,
    samples: VecDeque<(Instant, u64)>,
    /// Answers other than 200, by status (0: no answer).
    refusals: std::collections::BTreeMap<u16, u64>,
    /// Events a 200 answer rejected (must be none).
    rejected: u64,
    /// Longest time between two acknowledged batches.
    longest_pause: Duration,
}

impl Ledger {
    /// Acknowledged `dossier.received` events as of `at`.
    fn received_as_of(&self, at: Instant) -> u64 {
        self.samples.iter().rev().find(|(when, _)| *when <= at).map_or(0, |(_, n)| *n)
    }
}

/// One screen's state, shared with the sampler.
#[derive(Default)]
struct Screen {
    /// The city's dossiers received, as the screen shows them.
    shown: AtomicU64,
    /// Whether its last heartbeat said `live` (and it is connected).
    live: AtomicBool,
    reconnects: AtomicU64,
}

async fn run_screen(
    bases: Arc<Vec<String>>,
    index: usize,
    cookie: String,
    screen: Arc<Screen>,
    stop: Arc<AtomicBool>,
) {
    let mut which = index % bases.len();
    while !stop.load(Ordering::SeqCst) {
        let url = format!("{}/api/v1/live", bases[which].replacen("http", "ws", 1));
        let Ok(mut client) = ioc_tests::LiveClient::connect_as(&url, Some(&cookie), None).await
        else {
            which = (which + 1) % bases.len();
            tokio::time::sleep(Duration::from_millis(500)).await;
            continue;
        };
        client.subscribe("01", "24h").await;
        let mut figures: Option<ScopeFigures> = None;
        while !stop.load(Ordering::SeqCst) {
            let Some(text) = client.next_text(Duration::from_secs(15)).await else { break };
            let Ok(message) = serde_json::from_str::<ServerMessage>(&text) else { continue };
            match message {
                ServerMessage::Snapshot { version, data, .. } => {
                    figures = ScopeFigures::from_snapshot(version, &data).ok();
                }
                ServerMessage::Delta { base, version, changes, .. } => {
                    let applied =
                        figures.as_mut().is_some_and(|f| f.apply(base, version, &changes).is_ok());
                    if !applied {
                        // A gap: ask again (what the dashboard does).
                        figures = None;
                        client.subscribe("01", "24h").await;
                    }
                }
                ServerMessage::Heartbeat { status, .. } => {
                    screen.live.store(status == FeedStatus::Live, Ordering::SeqCst);
                }
                _ => {}
            }
            if let Some(received) =
                figures.as_ref().and_then(|f| f.document["dossiers"]["received"].as_u64())
            {
                screen.shown.store(received, Ordering::SeqCst);
            }
        }
        screen.live.store(false, Ordering::SeqCst);
        screen.reconnects.fetch_add(1, Ordering::SeqCst);
        which = (which + 1) % bases.len();
    }
}

/// A batch of events, `size` of them: new dossiers over every ward and 500 procedures (a
/// Zipf-like law), resolutions of dossiers acknowledged earlier, complaints.
fn batch(
    rng: &mut rand::rngs::StdRng,
    wards: &[String],
    next: &mut u64,
    to_resolve: &mut VecDeque<(String, String)>,
    size: u64,
) -> (Vec<Value>, Vec<(String, String)>, u64) {
    let now = chrono::Utc::now() - chrono::Duration::seconds(1);
    let mut events = Vec::new();
    let mut new_dossiers = Vec::new();
    let mut received = 0;
    for _ in 0..size {
        *next += 1;
        let id = format!("S{next}");
        let ward = &wards[rng.random_range(0..wards.len())];
        let roll = rng.random_range(0..100);
        if roll < 15 {
            if let Some((dossier, unit)) = to_resolve.pop_front() {
                events.push(dossier_resolved(&id, &unit, &dossier, now, "completed"));
                continue;
            }
        }
        if roll < 30 {
            let due = now + chrono::Duration::days(3);
            events.push(complaint_received(
                &id,
                ward,
                &format!("PA-{id}"),
                now,
                due,
                "moi_truong",
                "zalo",
            ));
            continue;
        }
        // Procedure k with weight about 1/k over 500.
        let k = (500.0_f64.powf(rng.random::<f64>())) as u32;
        let due = now + chrono::Duration::hours(rng.random_range(1..240));
        let mut event = dossier_received(&id, ward, &format!("HS-{id}"), now, due);
        event["procedure"] = json!(format!("Thủ tục {k:03}"));
        events.push(event);
        new_dossiers.push((format!("HS-{id}"), ward.clone()));
        received += 1;
    }
    (events, new_dossiers, received)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let ioc = args.ioc.clone().unwrap_or_else(ioc_tests::ioc_binary);
    let started = Instant::now();
    println!("starting the engines (Redis master, replica, 3 Sentinels; PostgreSQL primary and synchronous standby)");
    let mut redis = RedisGroup::start().await;
    let mut postgres = PgPair::start().await;
    let launcher = Launcher { ioc, database_url: postgres.url(), redis_url: redis.sentinel_url() };
    launcher.add_admin();
    let logs = std::env::temp_dir().join(format!("ioc-soak-{}", std::process::id()));
    std::fs::create_dir_all(&logs).unwrap();
    let mut replicas: Vec<Replica> = (0..2)
        .map(|n| Replica {
            port: std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port(),
            child: None,
            log: logs.join(format!("replica-{n}.log")),
        })
        .collect();
    let http = reqwest::Client::new();
    for replica in &mut replicas {
        launcher.start(replica);
        wait_healthy(&http, &replica.base()).await;
    }
    let bases: Arc<Vec<String>> = Arc::new(replicas.iter().map(Replica::base).collect());
    let cookie = ioc_tests::login(&bases[0], ADMIN.0, ADMIN.1).await.expect("the admin logs in");
    println!("two replicas up ({}), logs in {}", bases.join(", "), logs.display());

    let stop_screens = Arc::new(AtomicBool::new(false));
    let screens: Vec<Arc<Screen>> = (0..args.clients).map(|_| Arc::default()).collect();
    let mut screen_tasks = Vec::new();
    for (index, screen) in screens.iter().enumerate() {
        screen_tasks.push(tokio::spawn(run_screen(
            bases.clone(),
            index,
            cookie.clone(),
            screen.clone(),
            stop_screens.clone(),
        )));
    }

    // Ingest: a batch every 100 ms, retried (on the other replica) until acknowledged.
    let catalog = ioc_server::catalog::Catalog::load(None).unwrap();
    let wards: Vec<String> = catalog
        .units()
        .filter(|u| catalog.children(&u.code).is_empty())
        .map(|u| u.code.clone())
        .collect();
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop_ingest = Arc::new(AtomicBool::new(false));
    let ingest = tokio::spawn({
        let (ledger, stop, bases, http) =
            (ledger.clone(), stop_ingest.clone(), bases.clone(), http.clone());
        let size = (args.rate / 10).max(1);
        async move {
            let mut rng = rand::rngs::StdRng::seed_from_u64(21);
            let (mut next, mut to_resolve, mut turn) = (0_u64, VecDeque::new(), 0_usize);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut last_ack = Instant::now();
            while !stop.load(Ordering::SeqCst) {
                tick.tick().await;
                let (events, new_dossiers, received) =
                    batch(&mut rng, &wards, &mut next, &mut to_resolve, size);
                let ids: Vec<String> =
                    events.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect();
                loop {
                    turn += 1;
                    let base = &bases[turn % bases.len()];
                    let answer = http
                        .post(format!("{base}/api/v1/events"))
                        .bearer_auth(TOKEN)
                        .json(&events)
                        .timeout(Duration::from_secs(15))
                        .send()
                        .await;
                    let (status, body) = match answer {
                        Ok(response) => {
                            let status = response.status().as_u16();
                            (status, response.json::<Value>().await.unwrap_or(Value::Null))
                        }
                        Err(_) => (0, Value::Null),
                    };
                    let acknowledged = {
                        let mut ledger = ledger.lock().unwrap();
                        if status == 200 {
                            let now = Instant::now();
                            ledger.longest_pause = ledger.longest_pause.max(now - last_ack);
                            last_ack = now;
                            ledger.rejected +=
                                body["rejected"].as_array().map_or(0, |r| r.len() as u64);
                            ledger.acknowledged.extend(ids.iter().cloned());
                            ledger.received += received;
                            let count = ledger.received;
                            ledger.samples.push_back((now, count));
                            while ledger.samples.len() > 2_000 {
                                ledger.samples.pop_front();
                            }
                        } else {
                            *ledger.refusals.entry(status).or_default() += 1;
                        }
                        status == 200
                    };
                    if acknowledged {
                        to_resolve.extend(new_dossiers);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
    });

    // The sampler: a screen is stale while it says `live` but misses events acknowledged more
    // than 10 s before (what "live" promises); behind while it misses them whatever it says.
    let stop_sampler = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (ledger, screens, stop) = (ledger.clone(), screens.clone(), stop_sampler.clone());
        async move {
            let mut stale_since: Vec<Option<Instant>> = vec![None; screens.len()];
            let mut behind_since: Vec<Option<Instant>> = vec![None; screens.len()];
            let (mut longest_stale, mut longest_behind) = (Duration::ZERO, Duration::ZERO);
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(250)).await;
                let now = Instant::now();
                let expected = ledger.lock().unwrap().received_as_of(now - Duration::from_secs(10));
                for (index, screen) in screens.iter().enumerate() {
                    let behind = screen.shown.load(Ordering::SeqCst) < expected;
                    let stale = behind && screen.live.load(Ordering::SeqCst);
                    for (flag, since, longest) in [
                        (stale, &mut stale_since[index], &mut longest_stale),
                        (behind, &mut behind_since[index], &mut longest_behind),
                    ] {
                        if flag {
                            let since = *since.get_or_insert(now);
                            *longest = (*longest).max(now - since);
                        } else {
                            *since = None;
                        }
                    }
                }
            }
            (longest_stale, longest_behind)
        }
    });

    // The disruptions, in turn.
    let mut disruptions: Vec<String> = Vec::new();
    let end = started + Duration::from_secs(args.seconds);
    let mut turn = 0;
    loop {
        let next = Instant::now() + Duration::from_secs(args.every);
        if next >= end {
            break;
        }
        tokio::time::sleep_until(next).await;
        let t = Instant::now();
        let what = match turn % 3 {
            0 => {
                let (old, new) = (redis.master_port, redis.replica_port);
                redis.kill_master();
                let deadline = Instant::now() + Duration::from_secs(60);
                while redis.master_now().await != Some(new) {
                    assert!(Instant::now() < deadline, "the Sentinels promoted nobody in 60 s");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                let promoted = t.elapsed();
                redis.restart_old_master_as_replica(new).await;
                format!(
                    "Redis master {old} killed, {new} promoted after {:.1} s",
                    promoted.as_secs_f64()
                )
            }
            1 => {
                let (old, new) = (postgres.primary_port, postgres.standby_port);
                postgres.kill_primary();
                tokio::time::sleep(Duration::from_secs(1)).await;
                postgres.promote_standby().await;
                let promoted = t.elapsed();
                postgres.rejoin_as_standby().await;
                format!(
                    "PostgreSQL primary {old} killed, {new} promoted after {:.1} s",
                    promoted.as_secs_f64()
                )
            }
            _ => {
                let replica = &mut replicas[(turn / 3) % 2];
                if let Some(child) = replica.child.as_mut() {
                    sigterm(child);
                }
                launcher.start(replica);
                wait_healthy(&http, &replica.base()).await;
                format!("replica {} restarted in {:.1} s", replica.port, t.elapsed().as_secs_f64())
            }
        };
        println!("[{:>5.0} s] {what}", started.elapsed().as_secs_f64());
        disruptions.push(what);
        turn += 1;
    }
    tokio::time::sleep_until(end).await;
    stop_ingest.store(true, Ordering::SeqCst);
    ingest.await.unwrap();
    let ingest_seconds = started.elapsed().as_secs_f64();

    // The end: the figures against PostgreSQL, the acknowledged events against the stored.
    let primary = sqlx::PgPool::connect(&postgres.url_of(postgres.primary_port)).await.unwrap();
    let recomputed: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE kind = 'dossier'),
                count(*) FILTER (WHERE kind = 'dossier' AND resolved_at IS NOT NULL),
                count(*) FILTER (WHERE kind = 'dossier' AND open),
                count(*) FILTER (WHERE kind = 'complaint')
         FROM items",
    )
    .fetch_one(&primary)
    .await
    .unwrap();
    let expected = json!({"received": recomputed.0, "resolved": recomputed.1, "open": recomputed.2,
                          "complaints": recomputed.3});
    let admin = ioc_tests::client_with_cookie(&bases[0], &cookie);
    let settled = Instant::now();
    let mut shown = Value::Null;
    while settled.elapsed() < Duration::from_secs(60) {
        if let Ok(response) =
            admin.get(format!("{}/api/v1/units/01/summary?window=24h", bases[0])).send().await
        {
            if let Ok(summary) = response.json::<Value>().await {
                shown = json!({"received": summary["dossiers"]["received"],
                               "resolved": summary["dossiers"]["resolved"],
                               "open": summary["dossiers"]["open"],
                               "complaints": summary["complaints"]["received"]});
                if shown == expected {
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let figures_right = shown == expected;
    let settle_seconds = settled.elapsed().as_secs_f64();
    // Screens reach the same figure.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let on_screens =
        screens.iter().filter(|s| s.shown.load(Ordering::SeqCst) == recomputed.0 as u64).count();
    stop_sampler.store(true, Ordering::SeqCst);
    let (longest_stale, longest_behind) = sampler.await.unwrap();
    stop_screens.store(true, Ordering::SeqCst);
    for task in screen_tasks {
        task.abort();
    }
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_id = ANY($1)")
        .bind(&ledger.acknowledged)
        .fetch_one(&primary)
        .await
        .unwrap();
    let lost = ledger.acknowledged.len() as i64 - stored;
    let reconnects: u64 = screens.iter().map(|s| s.reconnects.load(Ordering::SeqCst)).sum();
    let server_errors: u64 =
        ledger.refusals.iter().filter(|(s, _)| **s >= 500 && **s != 503).map(|(_, n)| n).sum();

    println!("\n## Soak report");
    println!("| what | figure |\n|---|---|");
    println!(
        "| run | {:.0} s of ingest at {} events/s, {} live screens, 2 replicas |",
        ingest_seconds, args.rate, args.clients
    );
    println!("| disruptions | {} ({}) |", disruptions.len(), disruptions.join("; "));
    println!("| events acknowledged | {} |", ledger.acknowledged.len());
    println!("| acknowledged events lost | **{lost}** |");
    println!(
        "| answers other than 200 | {:?} (0: no answer; every batch retried until acknowledged) |",
        ledger.refusals
    );
    println!("| server errors other than 503 | **{server_errors}** |");
    println!("| events rejected | {} |", ledger.rejected);
    println!(
        "| longest pause of ingest (between two acknowledged batches) | {:.1} s |",
        ledger.longest_pause.as_secs_f64()
    );
    println!("| longest stale screen (says live, misses events acknowledged > 10 s before) | **{:.1} s** |", longest_stale.as_secs_f64());
    println!(
        "| longest screen behind by > 10 s (whatever it says) | {:.1} s |",
        longest_behind.as_secs_f64()
    );
    println!("| screen reconnections | {reconnects} |");
    println!("| figures at the end vs PostgreSQL | {} (shown {shown}, recomputed {expected}, {:.1} s after ingest stopped) |", if figures_right { "**equal**" } else { "**DIFFERENT**" }, settle_seconds);
    println!("| screens showing the final count | {on_screens} of {} |", args.clients);

    for replica in &mut replicas {
        if let Some(child) = replica.child.as_mut() {
            sigterm(child);
        }
    }
    drop(redis);
    drop(postgres);
    if lost != 0 || !figures_right || server_errors != 0 || ledger.rejected != 0 {
        eprintln!("the soak FAILED");
        std::process::exit(1);
    }
}
