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

    let (statuses, acknowledged) = {
        let record = record.lock().unwrap();
        (record.statuses.clone(), record.acknowledged.clone())
    };
    let refused: Vec<&u16> = statuses.iter().filter(|s| **s != 200 && **s != 503).collect();
    assert!(refused.is_empty(), "only 200 or 503 while Redis failed over: {refused:?}");
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
    loop {
        let (status, summary) =
            server.get(&format!("/api/v1/units/{WARD}/summary?window=24h")).await;
        if status == 200 && summary["dossiers"]["received"] == json!(expected) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the figures were not right 10 s after the promotion: {status} {}",
            summary["dossiers"]
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
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
    settings.database_url = pair.url();
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
    pair.promote_standby();
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

    let (statuses, acknowledged) = {
        let record = record.lock().unwrap();
        (record.statuses.clone(), record.acknowledged.clone())
    };
    let refused: Vec<&u16> = statuses.iter().filter(|s| **s != 200 && **s != 503).collect();
    assert!(refused.is_empty(), "only 200 or 503 while PostgreSQL failed over: {refused:?}");
    assert!(statuses.contains(&503), "the switch was seen (503), or the test proves nothing");
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
    loop {
        let (status, summary) =
            server.get(&format!("/api/v1/units/{WARD}/summary?window=24h")).await;
        if status == 200 && summary["dossiers"]["received"] == json!(stored) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the figures are not the stored events': {status} {} ≠ {stored}",
            summary["dossiers"]
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    server.cleanup().await;
}
