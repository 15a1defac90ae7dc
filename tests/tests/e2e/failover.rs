//! Failover on highly available engines, started by the tests as real processes: a Redis
//! master, its replica and three Sentinels, the master killed with `kill -9` under ingest.

use chrono::Duration;
use ioc_tests::engines::RedisGroup;
use ioc_tests::events::*;
use ioc_tests::TestServer;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

const WARD: &str = "00004"; // Phường Trúc Bạch

/// What the ingest loop saw: the statuses answered and the ids acknowledged.
#[derive(Default)]
struct Ingested {
    statuses: Vec<u16>,
    acknowledged: Vec<String>,
}

impl Ingested {
    /// The statuses and acknowledged ids, insisting every answer was 200 or 503 (`during`
    /// names the failover).
    fn only_200_or_503(record: &Mutex<Ingested>, during: &str) -> (Vec<u16>, Vec<String>) {
        let record = record.lock().unwrap();
        let refused: Vec<&u16> =
            record.statuses.iter().filter(|s| **s != 200 && **s != 503).collect();
        assert!(refused.is_empty(), "only 200 or 503 while {during} failed over: {refused:?}");
        (record.statuses.clone(), record.acknowledged.clone())
    }
}

/// Waits until the ward's 24-hour summary counts `expected` dossiers, failing at `deadline`.
async fn summary_counts(server: &TestServer, expected: u64, deadline: tokio::time::Instant) {
    loop {
        let (status, summary) =
            server.get(&format!("/api/v1/units/{WARD}/summary?window=24h")).await;
        if status == 200 && summary["dossiers"]["received"] == json!(expected) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the figures did not reach {expected} in time: {status} {}",
            summary["dossiers"]
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

/// Sends a batch of five dossiers every 50 ms until `stop`, recording every answer.
fn ingest_continuously(
    server: &TestServer,
    stop: Arc<std::sync::atomic::AtomicBool>,
) -> (Arc<Mutex<Ingested>>, tokio::task::JoinHandle<()>) {
    let record = Arc::new(Mutex::new(Ingested::default()));
    let (http, base, now) = (server.http.clone(), server.base.clone(), server.now());
    let task = tokio::spawn({
        let record = record.clone();
        async move {
            let mut batch = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let ids: Vec<String> = (0..5).map(|n| format!("F{batch}-{n}")).collect();
                let events: Vec<Value> = ids
                    .iter()
                    .map(|id| {
                        let at = now - Duration::minutes(5);
                        dossier_received(id, WARD, &format!("HS-{id}"), at, at + Duration::days(5))
                    })
                    .collect();
                let response = http
                    .post(format!("{base}/api/v1/events"))
                    .bearer_auth(ioc_tests::TOKEN)
                    .json(&events)
                    .timeout(StdDuration::from_secs(20))
                    .send()
                    .await;
                let status = match response {
                    Ok(response) => response.status().as_u16(),
                    // A request that got no answer is not acknowledged; 0 marks it.
                    Err(_) => 0,
                };
                {
                    let mut record = record.lock().unwrap();
                    record.statuses.push(status);
                    if status == 200 {
                        record.acknowledged.extend(ids);
                    }
                }
                batch += 1;
                tokio::time::sleep(StdDuration::from_millis(50)).await;
            }
        }
    });
    (record, task)
}

/// The Redis test: ingest goes on while the master is killed; it is acknowledged
/// throughout (or answered 503), the Sentinels promote the replica, the server follows them
/// (commands, scripts, pub/sub) and within 10 s the figures hold every acknowledged event —
/// on the summary, on a live screen that never reconnected, and equal to PostgreSQL's count.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_redis_master_killed_under_ingest_is_followed_through_sentinel_and_nothing_is_lost(
    pool: PgPool,
) {
    let mut group = RedisGroup::start().await;
    let url = group.sentinel_url();
    let server = TestServer::start_configured(&pool, |settings| settings.redis_url = url).await;
    let mut screen = server.live().await;
    screen.subscribe(WARD, "24h").await;
    screen.snapshot_where(StdDuration::from_secs(10), |_| true).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (record, ingest) = ingest_continuously(&server, stop.clone());
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    let before = record.lock().unwrap().acknowledged.len();
    assert!(before > 0, "ingest works before the failover");
    // The figures are live on the first master before it dies.
    screen.snapshot_where(StdDuration::from_secs(10), |s| s.dossiers.received > 0).await;

    let old_master = group.master_port;
    group.kill_master();
    let killed = tokio::time::Instant::now();
    let promoted = loop {
        if group.master_now().await == Some(group.replica_port) {
            break tokio::time::Instant::now();
        }
        assert!(killed.elapsed() < StdDuration::from_secs(30), "no promotion within 30 s");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    };
    assert_ne!(group.replica_port, old_master);
    // Ingest goes on against the new master for a while.
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    ingest.await.unwrap();

    let (_, acknowledged) = Ingested::only_200_or_503(&record, "Redis");
    assert!(acknowledged.len() > before, "ingest went on after the failover");
    let expected = acknowledged.len() as u64;
    // PostgreSQL holds every acknowledged event (Redis is never on the ingest path).
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM items WHERE kind = 'dossier' AND unit = $1")
            .bind(WARD)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(stored as u64, expected, "every acknowledged event is stored, no other");

    // Within 10 s of the promotion the figures hold them all: on the summary…
    let deadline = promoted + StdDuration::from_secs(10);
    summary_counts(&server, expected, deadline).await;
    // …and on the screen that stayed connected through it.
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    let (_, figures) = screen
        .snapshot_where(left + StdDuration::from_secs(1), |s| s.dossiers.received == expected)
        .await;
    assert_eq!(figures.dossiers.open, expected);
    // The new master holds the figures: a rebuild or a catch-up wrote them there.
    let mut redis = server.server.state.redis.clone();
    let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut redis).await.unwrap();
    assert_eq!(role.first(), Some(&redis::Value::BulkString(b"master".to_vec())));
    server.cleanup().await;
}

/// The PostgreSQL test: a primary and a synchronous streaming standby; ingest goes on
/// while the primary is killed and the standby promoted (`pg_ctl promote`); the server, given
/// both hosts in one libpq-style URL, answers only 200 or 503, resumes by itself within 10 s of
/// the promotion, and every acknowledged event is on the promoted host and in the figures.
#[tokio::test]
async fn a_postgres_primary_killed_under_ingest_moves_to_the_promoted_standby_and_nothing_is_lost()
{
    let mut pair = ioc_tests::engines::PgPair::start().await;
    let mut settings = ioc_tests::settings(&ioc_tests::fresh_prefix());
    // The standby first: the server must still start (migrations write) on the primary.
    settings.database_url = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        pair.standby_port, pair.primary_port
    );
    settings.database_timeout = StdDuration::from_secs(2);
    let state =
        ioc_server::AppState::new(settings, ioc_server::catalog::Catalog::load(None).unwrap())
            .unwrap();
    let server = TestServer::start_state(state).await;

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (record, ingest) = ingest_continuously(&server, stop.clone());
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    assert!(!record.lock().unwrap().acknowledged.is_empty(), "ingest works before the failover");

    pair.kill_primary();
    tokio::time::sleep(StdDuration::from_secs(1)).await;
    pair.promote_standby().await;
    let promoted = tokio::time::Instant::now();
    let at_promotion = record.lock().unwrap().acknowledged.len();
    loop {
        if record.lock().unwrap().acknowledged.len() > at_promotion {
            break;
        }
        assert!(
            promoted.elapsed() < StdDuration::from_secs(10),
            "ingest did not resume within 10 s of the promotion"
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    tokio::time::sleep(StdDuration::from_secs(2)).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    ingest.await.unwrap();

    let (statuses, acknowledged) = Ingested::only_200_or_503(&record, "PostgreSQL");
    assert!(statuses.contains(&200));
    // The old primary is gone: what was acknowledged after the promotion went to the new one
    // (a switch inside the 2 s connection wait is not even seen as a 503).
    let old_primary = pair.url_of(pair.primary_port);
    let reached = <sqlx::PgConnection as sqlx::Connection>::connect(&old_primary).await;
    assert!(reached.is_err(), "the old primary is dead");
    // Synchronous replication: every acknowledged event is on the promoted standby.
    let promoted_host = format!("postgres://postgres@127.0.0.1:{}/postgres", pair.standby_port);
    let standby = sqlx::PgPool::connect(&promoted_host).await.unwrap();
    let found: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_id = ANY($1)")
        .bind(&acknowledged)
        .fetch_one(&standby)
        .await
        .unwrap();
    assert_eq!(found as usize, acknowledged.len(), "an acknowledged event was lost");
    // The figures equal what the promoted host holds (an event stored but answered 503 — the
    // primary died after its commit reached the standby — is counted once, as stored).
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM items WHERE kind = 'dossier' AND unit = $1")
            .bind(WARD)
            .fetch_one(&standby)
            .await
            .unwrap();
    assert!(stored as usize >= acknowledged.len());
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    summary_counts(&server, stored as u64, deadline).await;
    server.cleanup().await;
}

/// How many open dossiers the ward's item list counts.
async fn listed(server: &TestServer) -> u64 {
    let (status, page) =
        server.get(&format!("/api/v1/units/{WARD}/items?kind=dossier&state=open")).await;
    assert_eq!(status, 200, "{page}");
    page["total"].as_u64().unwrap()
}

/// `IOC_DATABASE_READ_URL`: item lists read the replica (and so may lag its replay), the
/// figures read the primary. With the standby's replay paused, a new dossier is in the
/// summary at once and in the list only once replay resumes.
#[tokio::test]
async fn item_lists_read_the_replica_and_figures_the_primary() {
    let pair = ioc_tests::engines::PgPair::start().await;
    let mut settings = ioc_tests::settings(&ioc_tests::fresh_prefix());
    settings.database_url = pair.url_of(pair.primary_port);
    settings.database_read_url = Some(pair.url_of(pair.standby_port));
    let state =
        ioc_server::AppState::new(settings, ioc_server::catalog::Catalog::load(None).unwrap())
            .unwrap();
    let server = TestServer::start_state(state).await;
    let t = server.now() - Duration::minutes(1);
    server
        .ingest_ok(&json!([dossier_received("R1", WARD, "HS-R1", t, t + Duration::days(3))]))
        .await;
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    while listed(&server).await != 1 {
        assert!(tokio::time::Instant::now() < deadline, "the replica did not replay the first");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }

    let standby = sqlx::PgPool::connect(&pair.url_of(pair.standby_port)).await.unwrap();
    sqlx::query("SELECT pg_wal_replay_pause()").execute(&standby).await.unwrap();
    server
        .ingest_ok(&json!([dossier_received("R2", WARD, "HS-R2", t, t + Duration::days(3))]))
        .await;
    summary_counts(&server, 2, tokio::time::Instant::now() + StdDuration::from_secs(10)).await;
    assert_eq!(listed(&server).await, 1, "the list reads the paused replica");

    sqlx::query("SELECT pg_wal_replay_resume()").execute(&standby).await.unwrap();
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    while listed(&server).await != 2 {
        assert!(tokio::time::Instant::now() < deadline, "the replica did not catch up");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    server.cleanup().await;
}
