//! `POST /api/v1/events`: what is stored, what is refused and why, and what is never lost.

use chrono::Duration;
use ioc_tests::events::*;
use ioc_tests::{TestServer, TOKEN};
use serde_json::{json, Value};
use sqlx::PgPool;

const WARD: &str = "00004"; // Phường Trúc Bạch, Quận Ba Đình

#[sqlx::test(migrations = "../server/migrations")]
async fn a_valid_batch_is_stored_and_counted(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let (status, body) = server
        .ingest(&json!([
            dossier_received("e1", WARD, "D1", t - Duration::hours(1), t + Duration::hours(5)),
            complaint_received(
                "e2",
                WARD,
                "C1",
                t - Duration::hours(1),
                t + Duration::hours(5),
                "Môi trường",
                "zalo"
            ),
            task_assigned(
                "e3",
                WARD,
                "T1",
                t - Duration::hours(1),
                t + Duration::hours(5),
                ("o1", "Lê Văn Tám")
            ),
        ]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!({"accepted": 3, "duplicates": 0, "rejected": []}));
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 3);
    let summary = server.summary(WARD, "24h").await;
    assert_eq!(
        (summary.dossiers.received, summary.complaints.received, summary.tasks.assigned),
        (1, 1, 1)
    );
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn ndjson_is_accepted_and_a_bad_line_is_reported_by_index(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let body = format!(
        "{}\nthis is not json\n\n{}\n",
        dossier_received("n1", WARD, "D1", t, t + Duration::hours(5)),
        dossier_received("n2", WARD, "D2", t, t + Duration::hours(5)),
    );
    let response = server
        .http
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2);
    assert_eq!(body["rejected"][0]["index"], 1);
    assert!(body["rejected"][0]["error"].as_str().unwrap().contains("not valid JSON"));
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_repeated_event_is_a_duplicate_counted_once(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let event = dossier_received("dup-1", WARD, "D1", t, t + Duration::hours(5));
    let (_, first) = server.ingest(&json!([event.clone(), event.clone()])).await;
    assert_eq!(first, json!({"accepted": 1, "duplicates": 1, "rejected": []}));
    let (_, again) = server.ingest(&json!([event])).await;
    assert_eq!(again, json!({"accepted": 0, "duplicates": 1, "rejected": []}));
    // The same id from another source is another event (ids are unique within their source).
    let mut other_source = dossier_received("dup-1", WARD, "D2", t, t + Duration::hours(5));
    other_source["source"] = json!("other-system");
    let (_, other) = server.ingest(&json!([other_source])).await;
    assert_eq!(other["accepted"], 1);
    let summary = server.summary(WARD, "24h").await;
    assert_eq!(summary.dossiers.received, 2);
    assert_eq!(summary.dossiers.open, 2);
    server.cleanup().await;
}

/// The same events of one dossier, in order and reversed, give the same figures.
#[sqlx::test(migrations = "../server/migrations")]
async fn out_of_order_events_give_the_same_figures_as_in_order(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now() - Duration::hours(10);
    let history = |prefix: &str, unit: &str| {
        let d = format!("{prefix}-D");
        vec![
            dossier_received(&format!("{prefix}1"), unit, &d, t, t + Duration::hours(2)),
            dossier_assigned(
                &format!("{prefix}2"),
                unit,
                &d,
                t + Duration::minutes(5),
                ("o9", "Phạm Thị Hoa"),
            ),
            dossier_paused(&format!("{prefix}3"), unit, &d, t + Duration::hours(1)),
            dossier_resumed(&format!("{prefix}4"), unit, &d, t + Duration::hours(4)),
            dossier_resolved(
                &format!("{prefix}5"),
                unit,
                &d,
                t + Duration::hours(4) + Duration::minutes(30),
                "completed",
            ),
        ]
    };
    for event in history("in", "00001") {
        server.ingest_ok(&json!([event])).await;
    }
    let mut reversed = history("rev", "00004");
    reversed.reverse();
    for event in reversed {
        server.ingest_ok(&json!([event])).await;
    }
    let in_order = server.summary("00001", "24h").await;
    let out_of_order = server.summary("00004", "24h").await;
    assert_eq!(in_order.dossiers, out_of_order.dossiers);
    // 3 h paused moves the due time to t+5h; resolved at t+4h30 is on time.
    assert_eq!(in_order.dossiers.resolved_on_time, 1);
    assert_eq!(in_order.dossiers.open, 0);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn each_rejection_names_its_reason_and_valid_events_are_kept(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received("first", WARD, "D-owned", t, t + Duration::hours(1))]))
        .await;
    let mut no_due = dossier_received("r2", WARD, "D2", t, t);
    no_due.as_object_mut().unwrap().remove("due");
    let mut bad_channel = complaint_received("r8", WARD, "C1", t, t, "Môi trường", "fax");
    bad_channel["channel"] = json!("fax");
    let batch = json!([
        dossier_received("ok-1", WARD, "D1", t, t + Duration::hours(1)),          // 0 valid
        "just a string",                                                          // 1
        no_due,                                                                   // 2
        {"id": "r3", "type": "dossier.exploded", "at": t.to_rfc3339(), "unit": WARD}, // 3
        dossier_received("r4", WARD, "D4", t, t).as_object().map(|o| { let mut o = o.clone(); o.insert("at".into(), json!("22/11/2026 09:00")); Value::Object(o) }).unwrap(), // 4
        dossier_received("r5", WARD, "D5", t + Duration::hours(1), t + Duration::hours(2)), // 5 future
        dossier_received("r6", "99999", "D6", t, t + Duration::hours(1)),         // 6 unknown unit
        dossier_resolved("r7", "00001", "D-owned", t, "completed"),              // 7 unit differs
        bad_channel,                                                              // 8
        dossier_received(&"x".repeat(129), WARD, "D9", t, t + Duration::hours(1)), // 9 id too long
        dossier_resolved("r10", WARD, "D1", t, "lost"),                          // 10 bad outcome
        {"id": "r11", "type": "task.assigned", "at": t.to_rfc3339(), "unit": WARD, "task": "T", "due": t.to_rfc3339(), "officer": "Nguyễn Văn A"}, // 11
        dossier_received("ok-2", WARD, "D12", t, t + Duration::hours(1)),        // 12 valid
    ]);
    let (status, body) = server.ingest(&batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    let rejected = body["rejected"].as_array().unwrap();
    let reasons: Vec<(u64, &str)> = rejected
        .iter()
        .map(|r| (r["index"].as_u64().unwrap(), r["error"].as_str().unwrap()))
        .collect();
    let expected: [(u64, &str); 11] = [
        (1, "must be a JSON object"),
        (2, "missing field `due`"),
        (3, "unknown event type `dossier.exploded`"),
        (4, "`at` is not an RFC 3339 time"),
        (5, "in the future"),
        (6, "unknown unit code `99999`"),
        (7, "differs from unit `00004` of dossier `D-owned`"),
        (8, "`channel` must be one of zalo, hotline, app, portal, direct"),
        (9, "at most 128"),
        (10, "`outcome` must be one of completed, rejected, withdrawn"),
        (11, "`officer` must be an object"),
    ];
    assert_eq!(reasons.len(), expected.len(), "{body}");
    for ((index, reason), (want_index, want)) in reasons.iter().zip(expected) {
        assert_eq!(*index, want_index, "{body}");
        assert!(reason.contains(want), "index {index}: `{reason}` should contain `{want}`");
    }
    let unit_clash = rejected.iter().find(|r| r["index"] == 7).unwrap();
    assert_eq!(unit_clash["id"], "r7", "the rejection names the event");
    let summary = server.summary(WARD, "24h").await;
    assert_eq!(summary.dossiers.received, 3, "the two valid events and the earlier one");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn oversized_requests_are_refused_with_413(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let too_many: Vec<Value> = (0..10_001).map(|i| json!({"id": format!("e{i}")})).collect();
    let (status, body) = server.ingest(&json!(too_many)).await;
    assert_eq!(status, 413);
    assert!(body["error"].as_str().unwrap().contains("at most 10000"), "{body}");
    let huge = format!("[{}]", "\"x\",".repeat(3_000_000));
    let response = server
        .http
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(TOKEN)
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn an_unparseable_body_is_refused_with_400(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let response = server
        .http
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(TOKEN)
        .body("[{\"id\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("not valid JSON"), "{body}");
    let (status, _) = server.ingest(&json!({"id": "a single object"})).await;
    assert_eq!(status, 400);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_bad_or_missing_token_is_refused_with_401_and_nothing_is_stored(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let batch = json!([dossier_received("e1", WARD, "D1", t, t + Duration::hours(1))]);
    let url = format!("{}/api/v1/events", server.base);
    let wrong =
        server.http.post(&url).bearer_auth("not-the-token").json(&batch).send().await.unwrap();
    assert_eq!(wrong.status().as_u16(), 401);
    let missing = server.http.post(&url).json(&batch).send().await.unwrap();
    assert_eq!(missing.status().as_u16(), 401);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 0);
    server.cleanup().await;
}

/// With PostgreSQL unreachable the server answers 503 and acknowledges nothing.
#[tokio::test]
async fn storage_down_answers_503() {
    let mut settings = ioc_tests::settings(&ioc_tests::fresh_prefix());
    settings.database_url = "postgres://ioc:ioc@127.0.0.1:1/ioc".to_owned(); // nothing listens on port 1
    settings.database_timeout = std::time::Duration::from_secs(1);
    let state =
        ioc_server::AppState::new(settings, ioc_server::catalog::Catalog::load(None).unwrap())
            .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, ioc_server::app(state)).await });
    let t = ioc_tests::now(); // the state above runs on the system clock
    let response = reqwest::Client::new()
        .post(format!("http://{addr}/api/v1/events"))
        .bearer_auth(TOKEN)
        .json(&json!([dossier_received("e1", WARD, "D1", t, t + Duration::hours(1))]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 503);
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"],
        "storage unavailable: nothing in this request was stored; retry later"
    );
    let health = reqwest::get(format!("http://{addr}/api/v1/health")).await.unwrap();
    assert_eq!(health.status().as_u16(), 503);
    server.abort();
}

/// Regression: a NUL in a complaint's `summary` (PostgreSQL text and jsonb refuse U+0000), a
/// due past year 9999 in UTC, or a NUL in a task's `title` answered 500 and lost the whole
/// batch. Each is now refused on its own with a reason; the valid events beside them are kept.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_nul_or_an_unstorable_time_is_refused_per_event_and_the_batch_is_kept(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let mut nul_summary =
        complaint_received("bad1", WARD, "C1", t, t + Duration::hours(5), "Môi trường", "zalo");
    nul_summary["summary"] = json!("rác thải\u{0} chưa thu gom");
    let mut nul_title =
        task_assigned("bad2", WARD, "T1", t, t + Duration::hours(5), ("o1", "Lê Văn Tám"));
    nul_title["title"] = json!("\u{0}");
    let mut far_due = dossier_received("bad3", WARD, "D9", t, t);
    far_due["due"] = json!("9999-12-31T23:59:59-23:59");
    let mut nul_officer = dossier_assigned("bad4", WARD, "D1", t, ("o\u{0}2", "Tên"));
    nul_officer["officer"]["name"] = json!("Trần\u{0}");
    let long_id = "x".repeat(500);
    let mut long = dossier_received(&long_id, WARD, "D8", t, t + Duration::hours(5));
    long["at"] = json!("not a time");
    let batch = json!([
        dossier_received("ok1", WARD, "D1", t, t + Duration::hours(5)),
        nul_summary,
        nul_title,
        far_due,
        nul_officer,
        long,
        dossier_received("ok2", WARD, "D2", t, t + Duration::hours(5)),
    ]);
    let (status, body) = server.ingest(&batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], 2, "{body}");
    let rejected: Vec<u64> =
        body["rejected"].as_array().unwrap().iter().map(|r| r["index"].as_u64().unwrap()).collect();
    assert_eq!(rejected, [1, 2, 3, 4, 5], "{body}");
    let reasons: Vec<&str> =
        body["rejected"].as_array().unwrap().iter().map(|r| r["error"].as_str().unwrap()).collect();
    assert!(reasons[0].contains("`summary` contains a NUL character"), "{}", reasons[0]);
    assert!(reasons[1].contains("`title` contains a NUL character"), "{}", reasons[1]);
    assert!(reasons[2].contains("outside the supported range"), "{}", reasons[2]);
    // A refused id is echoed at most 128 characters long.
    assert_eq!(body["rejected"][4]["id"].as_str().unwrap().chars().count(), 128);

    // The same through NDJSON, including a line that is not JSON at all.
    let ndjson = format!(
        "{}\n{}\n{{\"id\": \"raw\u{1}\n{}\n",
        dossier_received("ok3", WARD, "D3", t, t + Duration::hours(5)),
        batch[1].to_string().replace("bad1", "bad5"),
        dossier_received("ok4", WARD, "D4", t, t + Duration::hours(5)),
    );
    let response = server
        .http
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(TOKEN)
        .header("content-type", "application/x-ndjson")
        .body(ndjson)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["accepted"], 2, "{body}");
    assert_eq!(body["rejected"].as_array().unwrap().len(), 2, "{body}");
    assert_eq!(server.summary(WARD, "today").await.dossiers.received, 4);
    server.cleanup().await;
}

/// Random garbage next to valid events, many times over: never a 5xx, every valid event kept.
#[sqlx::test(migrations = "../server/migrations")]
async fn random_garbage_batches_never_answer_5xx_and_keep_the_valid_events(pool: PgPool) {
    use rand::{Rng, SeedableRng};
    let server = TestServer::start(&pool).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x10C_2026);
    let t = server.now();
    let nasty: Vec<Value> = vec![
        json!(null),
        json!(true),
        json!(-1),
        json!(1e308),
        json!(""),
        json!("\u{0}"),
        json!("a\u{0}b"),
        json!("x".repeat(3000)),
        json!("9999-12-31T23:59:59-23:59"),
        json!("+10000-01-01T00:00:00Z"),
        json!("1969-01-01T00:00:00Z"),
        json!("2026-11-22T08:00:00+07:00"),
        json!([1, [2, [3]]]),
        json!({"id": "\u{0}", "name": "\u{0}"}),
        json!({"id": 7}),
        json!("\u{1b}[2J\u{7}"),
        json!("online"),
        json!("🙂".repeat(150)),
        json!("\\u0000"),
    ];
    let fields = [
        "id",
        "source",
        "type",
        "at",
        "unit",
        "dossier",
        "procedure",
        "field",
        "channel",
        "due",
        "officer",
        "summary",
        "title",
        "complaint",
        "task",
    ];
    let mut acknowledged = 0_u64;
    for batch_no in 0..25 {
        let mut batch = Vec::new();
        let mut valid_indices = Vec::new();
        for i in 0..40 {
            let kind = rng.random_range(0..3);
            let id = format!("v{batch_no}-{i}");
            let event = match kind {
                0 => dossier_received(
                    &id,
                    WARD,
                    &format!("D{batch_no}-{i}"),
                    t,
                    t + Duration::hours(3),
                ),
                1 => complaint_received(
                    &id,
                    WARD,
                    &format!("C{batch_no}-{i}"),
                    t,
                    t + Duration::hours(3),
                    "Môi trường",
                    "zalo",
                ),
                _ => task_assigned(
                    &id,
                    WARD,
                    &format!("T{batch_no}-{i}"),
                    t,
                    t + Duration::hours(3),
                    ("o1", "Lê Văn Tám"),
                ),
            };
            if rng.random_bool(0.5) {
                valid_indices.push(batch.len());
                batch.push(event);
            } else {
                // A garbled copy with ids of its own, so it never collides with a valid item.
                let mut garbled = event;
                for (key, value) in garbled.as_object_mut().unwrap().iter_mut() {
                    if ["dossier", "complaint", "task", "id"].contains(&key.as_str()) {
                        *value = json!(format!("g-{}", value.as_str().unwrap_or("")));
                    }
                }
                for _ in 0..rng.random_range(1..4) {
                    let field = fields[rng.random_range(0..fields.len())];
                    garbled[field] = nasty[rng.random_range(0..nasty.len())].clone();
                }
                batch.push(if rng.random_bool(0.1) {
                    nasty[rng.random_range(0..nasty.len())].clone()
                } else {
                    garbled
                });
            }
        }
        let (status, body) = server.ingest(&Value::Array(batch)).await;
        assert_eq!(status, 200, "batch {batch_no}: {body}");
        let rejected: Vec<u64> = body["rejected"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["index"].as_u64().unwrap())
            .collect();
        for index in &valid_indices {
            assert!(
                !rejected.contains(&(*index as u64)),
                "batch {batch_no}: valid event {index} rejected: {body}"
            );
        }
        assert!(body["accepted"].as_u64().unwrap() >= valid_indices.len() as u64, "{body}");
        acknowledged += body["accepted"].as_u64().unwrap();
    }
    // Bodies that are not batches at all are refused whole, as client errors.
    for garbage in [
        &b"\x00\x01\x02"[..],
        b"[",
        b"{\"id\": \"\\ud800\"}",
        b"[\"\\ud800\"]",
        &[0xff, 0xfe, b'[', b']'],
    ] {
        let response = server
            .http
            .post(format!("{}/api/v1/events", server.base))
            .bearer_auth(TOKEN)
            .body(garbage.to_vec())
            .send()
            .await
            .unwrap();
        assert!(
            response.status().is_client_error() || response.status().is_success(),
            "{:?} → {}",
            garbage,
            response.status()
        );
    }
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await.unwrap();
    assert_eq!(stored as u64, acknowledged, "exactly the acknowledged events are stored");
    server.settle().await;
    server.cleanup().await;
}

/// Batches sent at once to two replicas, sharing items (a dossier's received, assigned and
/// resolved events in different batches) and events (every fourth event sent twice): each
/// answer counts its own batch, every event is stored once, and the figures count each item
/// once. One replica stores the batches waiting together in one transaction (group commit);
/// the two replicas race to create the same new items.
#[sqlx::test(migrations = "../server/migrations")]
async fn concurrent_batches_on_two_replicas_sharing_items_count_every_event_once(pool: PgPool) {
    let first = TestServer::start(&pool).await;
    let second = TestServer::start_with_prefix(&pool, &first.prefix).await;
    let t = first.now() - Duration::hours(3);
    const DOSSIERS: usize = 60;
    const BATCHES: usize = 12;
    let mut events = Vec::new();
    for d in 0..DOSSIERS {
        let dossier = format!("G-{d}");
        let at = t + Duration::seconds(d as i64);
        events.push(dossier_received(
            &format!("g{d}r"),
            WARD,
            &dossier,
            at,
            at + Duration::hours(8),
        ));
        events.push(dossier_assigned(
            &format!("g{d}a"),
            WARD,
            &dossier,
            at + Duration::minutes(1),
            ("o1", "Lê Văn Tám"),
        ));
        if d % 3 != 0 {
            events.push(dossier_resolved(
                &format!("g{d}d"),
                WARD,
                &dossier,
                at + Duration::minutes(2),
                "completed",
            ));
        }
    }
    let unique = events.len();
    let mut batches: Vec<Vec<Value>> = vec![Vec::new(); BATCHES];
    for (k, event) in events.iter().enumerate() {
        batches[(k * 7) % BATCHES].push(event.clone());
        if k % 4 == 0 {
            batches[(k * 7 + 5) % BATCHES].push(event.clone());
        }
    }
    let sent: usize = batches.iter().map(Vec::len).sum();
    let bodies: Vec<Value> = batches.iter().map(|batch| json!(batch)).collect();
    let answers = futures_util::future::join_all(bodies.iter().enumerate().map(|(b, body)| {
        let server = if b % 2 == 0 { &first } else { &second };
        server.ingest(body)
    }))
    .await;
    let (mut accepted, mut duplicates) = (0, 0);
    for ((status, body), batch) in answers.iter().zip(&batches) {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body["rejected"], json!([]), "{body}");
        let (a, d) = (body["accepted"].as_u64().unwrap(), body["duplicates"].as_u64().unwrap());
        assert_eq!((a + d) as usize, batch.len(), "each answer counts its own batch: {body}");
        accepted += a as usize;
        duplicates += d as usize;
    }
    assert_eq!((accepted, duplicates), (unique, sent - unique));
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM events").fetch_one(&pool).await.unwrap();
    assert_eq!(stored as usize, unique);
    let items: i64 =
        sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(&pool).await.unwrap();
    assert_eq!(items as usize, DOSSIERS);
    let resolved = (0..DOSSIERS).filter(|d| d % 3 != 0).count() as u64;
    first.settle().await;
    second.settle().await;
    for server in [&first, &second] {
        let summary = server.summary(WARD, "24h").await;
        assert_eq!(summary.dossiers.received, DOSSIERS as u64);
        assert_eq!(summary.dossiers.resolved, resolved);
        assert_eq!(summary.dossiers.open, DOSSIERS as u64 - resolved);
    }
    // Sent again, all of it is a duplicate.
    let (_, again) = second.ingest(&json!(events)).await;
    assert_eq!(again, json!({"accepted": 0, "duplicates": unique, "rejected": []}));
    second.cleanup().await;
    first.cleanup().await;
}
