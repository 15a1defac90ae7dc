//! The server as a process: what answers which path, supervised background tasks, and an
//! orderly shutdown.

use chrono::Duration;
use ioc_shared::access::Role;
use ioc_tests::events::*;
use ioc_tests::{
    database_url, eventually, fresh_prefix, ioc_binary, login, web_dir, LiveClient, TestServer,
    TOKEN,
};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration as StdDuration;

/// Regression: `GET /api/v1/metrics` answered 200 with the dashboard page.
#[sqlx::test(migrations = "../server/migrations")]
async fn an_unknown_api_path_answers_404_json_never_the_page(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    for path in ["/api/v1/metrics", "/api/v2/units", "/api", "/api/v1/units/001/nothing-here"] {
        let response = server.http.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 404, "{path}");
        let content_type = response.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.starts_with("application/json"), "{path}: {content_type}");
        let body: Value = response.json().await.unwrap();
        assert!(body["error"].as_str().unwrap().contains(path), "{path}: {body}");
    }
    // Anonymous callers get the same 404 (no login wall in front of a wrong path).
    let anonymous = reqwest::get(format!("{}/api/v1/nope", server.base)).await.unwrap();
    assert_eq!(anonymous.status().as_u16(), 404);
    // A known path with a wrong method says so, in JSON too.
    let wrong_method =
        server.http.delete(format!("{}/api/v1/events", server.base)).send().await.unwrap();
    assert_eq!(wrong_method.status().as_u16(), 405);
    assert!(wrong_method.json::<Value>().await.unwrap()["error"].is_string());
    // The page routes serve the dashboard; other unknown paths are 404, not the page.
    for page in ["/", "/wall"] {
        let response = reqwest::get(format!("{}{page}", server.base)).await.unwrap();
        assert_eq!(response.status().as_u16(), 200, "{page}");
        assert!(response.text().await.unwrap().contains("<html"), "{page}");
    }
    let unknown = reqwest::get(format!("{}/no-such-page", server.base)).await.unwrap();
    assert_eq!(unknown.status().as_u16(), 404);
    server.cleanup().await;
}

/// The summary as stored in Redis right now, without applying anything first.
async fn received_without_settling(server: &TestServer) -> u64 {
    let (status, body) = server.get("/api/v1/units/01/summary?window=today").await;
    assert_eq!(status, 200, "{body}");
    body["dossiers"]["received"].as_u64().unwrap()
}

/// Regression: the ingest writer (one per replica, it stores the batches waiting together) was
/// started once; had it stopped, every batch after would have been answered 503 until the
/// server restarted. Now the next batch starts a new writer, and what it stores counts once.
#[sqlx::test(migrations = "../server/migrations")]
async fn regression_a_killed_ingest_writer_is_replaced_and_ingest_goes_on(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    for round in 1..=3_u64 {
        server.server.state.ingestor.kill_writer();
        let id = format!("w{round}");
        let dossier = format!("W{round}");
        let batch = json!([dossier_received(&id, "00004", &dossier, t, t + Duration::hours(4))]);
        // A batch the dying writer still held may be turned away (503, nothing stored); the
        // next is stored by the new writer.
        let mut statuses = Vec::new();
        loop {
            let (status, body) = server.ingest(&batch).await;
            statuses.push(status);
            if status == 200 {
                assert_eq!(body["accepted"], 1, "{body}");
                break;
            }
            assert_eq!(status, 503, "{body}");
            assert!(statuses.len() < 3, "the writer was not replaced: {statuses:?}");
        }
    }
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 3);
    assert_eq!(server.summary("00004", "today").await.dossiers.received, 3);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_killed_applier_is_restarted_and_figures_keep_moving(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    assert!(!server.server.kill_task("no-such-task"));
    for round in 1..=3_u64 {
        assert!(server.server.kill_task("applier"), "the applier is a supervised task");
        let id = format!("e{round}");
        let dossier = format!("D{round}");
        server
            .ingest_ok(&json!([dossier_received(
                &id,
                "00004",
                &dossier,
                t,
                t + Duration::hours(4)
            )]))
            .await;
        // Nothing but the background applier moves figures into Redis here.
        eventually(
            StdDuration::from_secs(10),
            "the restarted applier applies the new event",
            || async { received_without_settling(&server).await == round },
        )
        .await;
    }
    server.cleanup().await;
}

/// A free port on the loopback address (bound and released).
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `ioc serve` as a child process, as an operator runs it.
pub(crate) struct ServeProcess {
    child: std::process::Child,
    pub(crate) base: String,
    pub(crate) addr: String,
}

impl ServeProcess {
    pub(crate) async fn start(pool: &PgPool, prefix: &str) -> ServeProcess {
        ServeProcess::start_on(pool, prefix, free_port()).await
    }

    async fn start_on(pool: &PgPool, prefix: &str, port: u16) -> ServeProcess {
        ServeProcess::start_with(pool, prefix, port, &[]).await
    }

    /// On `port`, with `env` added to the process's environment.
    pub(crate) async fn start_with(
        pool: &PgPool,
        prefix: &str,
        port: u16,
        env: &[(&str, &str)],
    ) -> ServeProcess {
        let addr = format!("127.0.0.1:{port}");
        let child = std::process::Command::new(ioc_binary())
            .args(["serve", "--bind", &addr])
            .env("DATABASE_URL", database_url(pool))
            .env("IOC_REDIS_PREFIX", prefix)
            .env("IOC_INGEST_TOKEN", TOKEN)
            .env("IOC_WEB_DIR", web_dir())
            // The shipped rules would follow every unit of the catalog in every test process.
            .env("IOC_ALERT_DEFAULTS", "false")
            .envs(env.iter().copied())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://{addr}");
        let health = format!("{base}/api/v1/health");
        eventually(StdDuration::from_secs(30), "ioc serve answers", || {
            let health = health.clone();
            async move { reqwest::get(&health).await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        ServeProcess { child, base, addr }
    }

    /// `kill -9`: no shutdown, no cleanup, whatever was in flight.
    pub(crate) fn kill_hard(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    fn terminate(&self) {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the process to exit; its exit status.
    fn wait(&mut self, limit: StdDuration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + limit;
        while std::time::Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            std::thread::sleep(StdDuration::from_millis(20));
        }
        None
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What became of one ingest request sent while the server was stopping.
#[derive(Debug)]
enum Outcome {
    /// Answered 200: these many events were acknowledged.
    Acknowledged(u64),
    /// Never accepted: the connection was refused.
    Refused,
    /// Connected, but closed before the server read the request (it was not in flight yet):
    /// no answer at all, so the sender resends the batch.
    Unanswered,
    /// Anything else: an answer other than 200, or an answer cut halfway.
    Cut(String),
}

#[sqlx::test(migrations = "../server/migrations")]
async fn sigterm_closes_live_connections_with_1012_and_never_cuts_ingest(pool: PgPool) {
    let prefix = fresh_prefix();
    let mut process = ServeProcess::start(&pool, &prefix).await;
    ensure_user_in(&pool, "admin-sigterm").await;
    let cookie = login(&process.base, "admin-sigterm", "admin-sigterm-password").await.unwrap();
    let mut live =
        LiveClient::connect_as(&format!("ws://{}/api/v1/live", process.addr), Some(&cookie), None)
            .await
            .unwrap();
    live.subscribe("01", "today").await;
    assert!(live.next_message(StdDuration::from_secs(10)).await.is_some(), "a first snapshot");

    // Batches in flight when the signal arrives: each one is acknowledged or refused.
    let t = ioc_tests::now();
    let mut requests = Vec::new();
    for batch in 0..12 {
        // 500 events a batch: a debug build on a loaded 2-core CI machine took more than the
        // 5 s storage deadline for 1,500, so every batch was refused and none was ever stored.
        let events: Vec<Value> = (0..500)
            .map(|i| {
                dossier_received(
                    &format!("b{batch}-{i}"),
                    "00004",
                    &format!("D{batch}-{i}"),
                    t,
                    t + Duration::hours(8),
                )
            })
            .collect();
        let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
        let url = format!("{}/api/v1/events", process.base);
        requests.push(tokio::spawn(async move {
            if batch >= 6 {
                // The second half starts while the server is already stopping.
                tokio::time::sleep(StdDuration::from_millis(400)).await;
            }
            match client.post(url).bearer_auth(TOKEN).json(&events).send().await {
                Err(error) if error.is_connect() => Outcome::Refused,
                // `send` fails only before any answer arrived.
                Err(error) if error.is_request() => Outcome::Unanswered,
                Err(error) => Outcome::Cut(error.to_string()),
                Ok(response) if response.status().as_u16() == 200 => {
                    let body: Value = response.json().await.unwrap();
                    Outcome::Acknowledged(body["accepted"].as_u64().unwrap())
                }
                // "Nothing in this request was stored; retry later": a refusal, not a cut
                // (checked below: nothing of it is stored).
                Ok(response) if response.status().as_u16() == 503 => Outcome::Refused,
                Ok(response) => Outcome::Cut(format!("status {}", response.status())),
            }
        }));
    }
    // The signal comes once a first batch is stored, so that requests are surely in flight
    // (a fixed pause was too short on a loaded machine: nothing had arrived yet).
    let first_stored = tokio::time::timeout(StdDuration::from_secs(30), async {
        loop {
            let stored: i64 =
                sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await.unwrap();
            if stored > 0 {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(5)).await;
        }
    })
    .await;
    assert!(first_stored.is_ok(), "no batch was stored within 30 s");
    let signalled_at = std::time::Instant::now();
    process.terminate();

    let closed = live.closed_with(StdDuration::from_secs(10)).await;
    assert_eq!(closed, Some((1012, "service restart".to_owned())));
    // The drain deadline is 10 s; the bound leaves room for a loaded machine and catches a hang.
    let status = process.wait(StdDuration::from_secs(30)).expect("the server exits after SIGTERM");
    assert!(status.success(), "{status:?}");
    eprintln!("exited {:?} after SIGTERM", signalled_at.elapsed());

    let mut acknowledged = 0;
    for (batch, request) in requests.into_iter().enumerate() {
        let outcome = request.await.unwrap();
        // Each batch is stored whole if it was acknowledged and not at all otherwise.
        let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM events WHERE event_id LIKE $1")
            .bind(format!("b{batch}-%"))
            .fetch_one(&pool)
            .await
            .unwrap();
        match outcome {
            Outcome::Acknowledged(n) => {
                assert_eq!((n, stored), (500, 500), "batch {batch}");
                acknowledged += n;
            }
            Outcome::Refused | Outcome::Unanswered => {
                assert_eq!(stored, 0, "batch {batch} was not acknowledged but stored")
            }
            Outcome::Cut(why) => panic!("an ingest request was cut during shutdown: {why}"),
        }
    }
    assert!(acknowledged > 0, "some batches were in flight and finished");
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await.unwrap();
    assert_eq!(stored as u64, acknowledged, "exactly the acknowledged events are stored");
    // The `ioc serve` process used the test prefix; clean it.
    let client = redis::Client::open(ioc_tests::redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    ioc_server::aggregate::write::clear_prefix(&mut redis, &prefix).await.unwrap();
}

/// An admin in the test database (for a server running as a separate process).
pub(crate) async fn ensure_user_in(pool: &PgPool, username: &str) {
    let accounts =
        ioc_server::accounts::Accounts::new(pool.clone(), ioc_shared::time::Clock::system());
    let password = format!("{username}-password");
    match accounts.add_user(username, &password, Role::Admin, None).await {
        Ok(_) | Err(ioc_server::accounts::AccountError::Conflict(_)) => {}
        Err(error) => panic!("{error}"),
    }
}

/// `kill -9` of the server five times during sustained ingest, restarted each time; source
/// systems retry every batch until it is acknowledged. Afterwards the figures equal the
/// acknowledged events exactly: nothing acknowledged was lost, no retried batch counted twice.
#[sqlx::test(migrations = "../server/migrations")]
async fn kill_9_during_sustained_ingest_loses_nothing_and_counts_nothing_twice(pool: PgPool) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    let prefix = fresh_prefix();
    let port = free_port();
    let mut process = ServeProcess::start_on(&pool, &prefix, port).await;
    let base = process.base.clone();
    ensure_user_in(&pool, "admin-chaos").await;

    const WORKERS: usize = 4;
    const BATCHES_PER_WORKER: usize = 30;
    const EVENTS_PER_BATCH: usize = 250;
    let wards = ["00004", "00037", "00001", "00007"];
    let t = ioc_tests::now();
    let retries = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    for worker in 0..WORKERS {
        let url = format!("{base}/api/v1/events");
        let retries = retries.clone();
        workers.push(tokio::spawn(async move {
            let client =
                reqwest::Client::builder().timeout(StdDuration::from_secs(20)).build().unwrap();
            for batch in 0..BATCHES_PER_WORKER {
                let events: Vec<Value> = (0..EVENTS_PER_BATCH)
                    .map(|i| {
                        let id = format!("w{worker}-b{batch}-{i}");
                        dossier_received(
                            &id,
                            wards[i % wards.len()],
                            &id,
                            t,
                            t + Duration::hours(8),
                        )
                    })
                    .collect();
                // A source system: the same batch again until it is acknowledged.
                loop {
                    match client.post(&url).bearer_auth(TOKEN).json(&events).send().await {
                        Ok(response) if response.status().as_u16() == 200 => {
                            let body: Value = response.json().await.unwrap();
                            assert!(body["rejected"].as_array().unwrap().is_empty(), "{body}");
                            break;
                        }
                        Ok(response) => {
                            assert!(response.status().is_server_error(), "{}", response.status())
                        }
                        Err(_) => {}
                    }
                    retries.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(StdDuration::from_millis(100)).await;
                }
            }
        }));
    }
    for kill in 0..5 {
        tokio::time::sleep(StdDuration::from_millis(1200 + 300 * kill)).await;
        process.kill_hard();
        process = ServeProcess::start_on(&pool, &prefix, port).await;
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let sent = (WORKERS * BATCHES_PER_WORKER * EVENTS_PER_BATCH) as i64;
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, sent, "every acknowledged event is stored, once");
    let cookie = ioc_tests::login(&base, "admin-chaos", "admin-chaos-password").await.unwrap();
    let http = ioc_tests::client_with_cookie(&base, &cookie);
    let mut last = Value::Null;
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(30);
    loop {
        let response =
            http.get(format!("{base}/api/v1/units/01/summary?window=today")).send().await.unwrap();
        if response.status().as_u16() == 200 {
            last = response.json().await.unwrap();
            if last["dossiers"]["received"].as_i64() == Some(sent)
                && last["dossiers"]["open"].as_i64() == Some(sent)
            {
                break;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "figures never reached {sent}: {}",
            last["dossiers"]
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
    eprintln!(
        "kill -9 ×5: {sent} events acknowledged after {} retried requests; figures equal exactly",
        retries.load(Ordering::Relaxed)
    );
    drop(process);
    let client = redis::Client::open(ioc_tests::redis_url()).unwrap();
    let mut redis = client.get_multiplexed_async_connection().await.unwrap();
    ioc_server::aggregate::write::clear_prefix(&mut redis, &prefix).await.unwrap();
}

/// The live writer shards are supervised tasks started with the server: one that dies is
/// started again, the connections it held close (their clients reconnect), and new
/// connections are written to as before.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_killed_writer_shard_is_restarted_and_live_screens_reconnect(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let shards: Vec<&str> =
        server.server.task_names().into_iter().filter(|n| n.starts_with("live-writer-")).collect();
    assert!(
        !shards.is_empty(),
        "writer shards run from the start: {:?}",
        server.server.task_names()
    );
    // One connection per shard: connections go to shards in turn.
    let mut screens = Vec::new();
    for _ in 0..shards.len() {
        let mut live = server.live().await;
        live.subscribe("00004", "today").await;
        assert!(matches!(
            live.next_message(StdDuration::from_secs(10)).await,
            Some(ioc_shared::live::ServerMessage::Snapshot { .. })
        ));
        screens.push(live);
    }
    for shard in &shards {
        assert!(server.server.kill_task(shard), "{shard} is supervised");
    }
    for live in &mut screens {
        assert!(
            live.closed_with(StdDuration::from_secs(10)).await.is_some(),
            "a killed shard's connection closes"
        );
    }
    // The restarted shards take new connections.
    eventually(StdDuration::from_secs(10), "a new screen gets its snapshot", || async {
        let Ok(mut live) =
            ioc_tests::LiveClient::connect_as(&server.ws_url(), Some(&server.cookie), None).await
        else {
            return false;
        };
        live.subscribe("00004", "today").await;
        matches!(
            live.next_message(StdDuration::from_secs(3)).await,
            Some(ioc_shared::live::ServerMessage::Snapshot { .. })
        )
    })
    .await;
    server.cleanup().await;
}
