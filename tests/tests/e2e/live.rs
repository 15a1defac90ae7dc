//! `GET /api/v1/live`: subscriptions, snapshots, versions, errors, and several replicas.

use chrono::Duration;
use ioc_shared::live::ServerMessage;
use ioc_tests::events::*;
use ioc_tests::TestServer;
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration as StdDuration;

const WAIT: StdDuration = StdDuration::from_secs(10);

#[sqlx::test(migrations = "../server/migrations")]
async fn a_subscriber_gets_a_snapshot_then_updates_with_growing_versions(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received("1", "00004", "D1", t, t + Duration::hours(4))]))
        .await;
    server.settle().await;
    let mut client = server.live().await;
    client.subscribe("001", "24h").await;
    let first = client.next_message(WAIT).await.unwrap();
    let ServerMessage::Snapshot { unit, window, version: v1, data } = first else {
        panic!("{first:?}")
    };
    assert_eq!((unit.as_str(), window.as_str(), data.dossiers.received), ("001", "24h", 1));
    // The snapshot is the same object as the summary endpoint's.
    let http = server.summary("001", "24h").await;
    assert_eq!(http.dossiers, data.dossiers);

    server
        .ingest_ok(&json!([dossier_received("2", "00001", "D2", t, t + Duration::hours(4))]))
        .await;
    let (v2, second) = client.snapshot_where(WAIT, |s| s.dossiers.received == 2).await;
    assert!(v2 > v1, "versions only grow: {v1} then {v2}");
    assert_eq!(second.children.iter().find(|c| c.code == "00001").unwrap().dossiers_received, 1);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn subscribers_of_one_scope_receive_the_same_bytes(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut a = server.live().await;
    let mut b = server.live().await;
    a.subscribe("01", "7d").await;
    b.subscribe("01", "7d").await;
    let text_a = loop {
        let text = a.next_text(WAIT).await.unwrap();
        if text.contains("\"snapshot\"") {
            break text;
        }
    };
    let text_b = loop {
        let text = b.next_text(WAIT).await.unwrap();
        if text.contains("\"snapshot\"") {
            break text;
        }
    };
    assert_eq!(text_a, text_b, "one serialization, fanned out");
    assert_eq!(server.server.state.hub.active_scopes(), 1);
    // The writer shards count the scope's viewers (its coalescing interval grows with them).
    let key =
        ("01".to_owned(), ioc_shared::summary::Window::Days7, ioc_shared::live::View::Summary);
    assert_eq!(server.server.state.hub.viewers(&key), 2);
    drop(b);
    ioc_tests::eventually(
        StdDuration::from_secs(20),
        "a closed connection stops counting",
        || async { server.server.state.hub.viewers(&key) == 1 },
    )
    .await;
    drop(a);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn invalid_messages_get_an_error_and_the_connection_stays_up(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut client = server.live().await;
    let cases = [
        ("not json at all", "cannot read message"),
        (r#"{"type":"subscribe","unit":"001","window":"1y"}"#, "unknown variant `1y`"),
        (r#"{"type":"dance"}"#, "cannot read message"),
        (r#"{"type":"subscribe","unit":"99999","window":"today"}"#, "unknown unit `99999`"),
        (r#"{"type":"unsubscribe","unit":"001","window":"today"}"#, "not subscribed"),
    ];
    for (message, expected) in cases {
        client.send_text(message).await;
        match client.next_message(WAIT).await {
            Some(ServerMessage::Error { message: error, .. }) => {
                assert!(error.contains(expected), "{message}: got `{error}`, wanted `{expected}`")
            }
            other => panic!("{message}: expected an error, got {other:?}"),
        }
    }
    client.subscribe("001", "today").await;
    assert!(matches!(client.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
    server.cleanup().await;
}

/// Two replicas share PostgreSQL and Redis: a change ingested on one reaches the clients of both.
#[sqlx::test(migrations = "../server/migrations")]
async fn two_servers_both_push_a_change_ingested_on_one(pool: PgPool) {
    let first = TestServer::start(&pool).await;
    let second = TestServer::start_with_prefix(&pool, &first.prefix).await;
    let mut on_first = first.live().await;
    let mut on_second = second.live().await;
    on_first.subscribe("01", "24h").await;
    on_second.subscribe("01", "24h").await;
    on_first.snapshot_where(WAIT, |s| s.dossiers.received == 0).await;
    on_second.snapshot_where(WAIT, |s| s.dossiers.received == 0).await;

    let t = first.now();
    first
        .ingest_ok(&json!([complaint_received(
            "1",
            "00037",
            "C1",
            t,
            t + Duration::hours(2),
            "Giao thông",
            "zalo"
        )]))
        .await;
    let (_, seen_by_second) = on_second.snapshot_where(WAIT, |s| s.complaints.received == 1).await;
    assert_eq!(seen_by_second.complaints.by_channel.get("zalo"), Some(&1));
    on_first.snapshot_where(WAIT, |s| s.complaints.received == 1).await;

    // And the other way round.
    second
        .ingest_ok(&json!([complaint_received(
            "2",
            "00004",
            "C2",
            t,
            t + Duration::hours(2),
            "Y tế",
            "app"
        )]))
        .await;
    on_first.snapshot_where(WAIT, |s| s.complaints.received == 2).await;
    on_second.snapshot_where(WAIT, |s| s.complaints.received == 2).await;
    first.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn heartbeats_arrive_while_nothing_changes(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut client = server.live().await;
    let text = client
        .next_text(StdDuration::from_secs(ioc_shared::live::HEARTBEAT_SECONDS + 5))
        .await
        .unwrap();
    assert!(text.contains("\"heartbeat\""), "{text}");
    server.cleanup().await;
}

/// Reads both clients until they hold the same version of `scope` (the newer publication wins:
/// the one behind reads on), then returns their documents.
async fn in_step(
    a: &mut ioc_tests::LiveClient,
    b: &mut ioc_tests::LiveClient,
    scope: &(String, ioc_shared::summary::Window),
) -> (serde_json::Value, serde_json::Value) {
    for _ in 0..20 {
        let (va, vb) = (a.figures[scope].version, b.figures[scope].version);
        if va == vb {
            return (a.figures[scope].document.clone(), b.figures[scope].document.clone());
        }
        let behind = if va < vb { &mut *a } else { &mut *b };
        behind.next_raw_message(WAIT).await.expect("the client behind catches up");
    }
    panic!("the two clients never held the same version");
}

/// A dashboard applying deltas over a random sequence of changes (received, assigned, paused,
/// resolved, complaints, tasks, across wards and districts) ends with exactly the figures a
/// new subscriber's snapshot shows.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_subscriber_applying_deltas_ends_with_the_snapshot_a_new_subscriber_gets(pool: PgPool) {
    use rand::{Rng, SeedableRng};
    let server = TestServer::start(&pool).await;
    let mut old = server.live().await;
    old.subscribe("01", "24h").await;
    assert!(matches!(old.next_raw_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
    let wards = ["00001", "00004", "00037", "00091", "00163"];
    let mut random = rand::rngs::StdRng::seed_from_u64(766);
    let t = server.now();
    let mut deltas = 0;
    for round in 0..12 {
        let mut batch = Vec::new();
        for i in 0..random.random_range(1..6) {
            let id = format!("{round}-{i}");
            let ward = wards[random.random_range(0..wards.len())];
            let due = t + Duration::minutes(random.random_range(-600..600));
            match random.random_range(0..4) {
                0 => batch.push(complaint_received(
                    &format!("c{id}"),
                    ward,
                    &format!("C{id}"),
                    t - Duration::hours(2),
                    due,
                    "Giao thông",
                    "zalo",
                )),
                1 => batch.push(task_assigned(
                    &format!("t{id}"),
                    ward,
                    &format!("T{id}"),
                    t - Duration::hours(1),
                    due,
                    ("cb-1", "Nguyễn Văn A"),
                )),
                _ => {
                    let dossier = format!("D{id}");
                    batch.push(dossier_received(
                        &format!("r{id}"),
                        ward,
                        &dossier,
                        t - Duration::hours(3),
                        due,
                    ));
                    match random.random_range(0..4) {
                        0 => batch.push(dossier_assigned(
                            &format!("a{id}"),
                            ward,
                            &dossier,
                            t - Duration::hours(2),
                            ("cb-7", "Trần Thị B"),
                        )),
                        1 => batch.push(dossier_paused(
                            &format!("p{id}"),
                            ward,
                            &dossier,
                            t - Duration::hours(1),
                        )),
                        2 => batch.push(dossier_resolved(
                            &format!("s{id}"),
                            ward,
                            &dossier,
                            t - Duration::minutes(30),
                            "completed",
                        )),
                        _ => {}
                    }
                }
            }
        }
        server.ingest_ok(&json!(batch)).await;
        // Read what arrives for a moment (some rounds coalesce with the next).
        while let Some(message) = old.next_raw_message(StdDuration::from_millis(400)).await {
            deltas += usize::from(matches!(message, ServerMessage::Delta { .. }));
        }
    }
    server.settle().await;
    assert!(deltas > 0, "the changes came as deltas");
    let mut new = server.live().await;
    new.subscribe("01", "24h").await;
    assert!(matches!(new.next_raw_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));
    let scope = ("01".to_owned(), ioc_shared::summary::Window::Hours24);
    let (applied, fresh) = in_step(&mut old, &mut new, &scope).await;
    assert_eq!(applied, fresh);
    // And both equal the summary endpoint's figures, computed separately: `as_of` aside, and
    // the previous period's bounds, which move on when a minute turns in between (a flake seen
    // at 01:54:59).
    let (mut applied, mut http) =
        (applied, serde_json::to_value(server.summary("01", "24h").await).unwrap());
    for figures in [&mut applied, &mut http] {
        figures["as_of"] = json!(null);
        figures["previous"]["from"] = json!(null);
        figures["previous"]["to"] = json!(null);
    }
    assert_eq!(applied, http);
    server.cleanup().await;
}

/// The windows of one unit are computed together, in one atomic read: one task for the unit,
/// every window equal to the summary endpoint's figures, and the figures of "now" (open,
/// overdue, late officers, the children's overdue) the same in every window.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_windows_of_one_unit_are_computed_together_and_agree(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let officer = ("cb-3", "Lê Văn C");
    server
        .ingest_ok(&json!([
            dossier_received(
                "1",
                "00004",
                "D1",
                t - Duration::minutes(30),
                t - Duration::minutes(5)
            ),
            dossier_assigned("2", "00004", "D1", t - Duration::minutes(20), officer),
            dossier_received("3", "00001", "D2", t - Duration::minutes(10), t + Duration::hours(8)),
            complaint_received(
                "4",
                "00037",
                "C1",
                t - Duration::minutes(10),
                t + Duration::hours(8),
                "Giao thông",
                "zalo"
            ),
        ]))
        .await;
    server.settle().await;
    let windows = ["today", "24h", "7d", "30d"];
    let mut client = server.live().await;
    for window in windows {
        client.subscribe("001", window).await;
    }
    while client.figures.len() < windows.len() {
        client.next_raw_message(WAIT).await.expect("a snapshot per window");
    }
    assert_eq!(server.server.state.hub.active_scopes(), 4);
    assert_eq!(
        server.server.state.hub.computing_units(),
        1,
        "one computation for the unit's four windows"
    );

    // A change reaches every window.
    server
        .ingest_ok(&json!([task_assigned(
            "5",
            "00004",
            "T1",
            t - Duration::minutes(5),
            t - Duration::minutes(1),
            officer
        )]))
        .await;
    server.settle().await;
    let done = |client: &ioc_tests::LiveClient| {
        client.figures.len() == windows.len()
            && client.figures.values().all(|f| f.summary().is_ok_and(|s| s.tasks.open == 1))
    };
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(20);
    while !done(&client) {
        assert!(tokio::time::Instant::now() < deadline, "every window shows the new task");
        client.next_raw_message(WAIT).await.expect("the change arrives");
    }
    let now_part = |summary: &ioc_shared::summary::Summary| {
        let mut figures = serde_json::to_value(summary).unwrap();
        json!({
            "open": [figures["dossiers"]["open"].take(), figures["complaints"]["open"].take(), figures["tasks"]["open"].take()],
            "overdue": [figures["dossiers"]["overdue"].take(), figures["complaints"]["overdue"].take(), figures["tasks"]["overdue"].take()],
            "officers": figures["officers"].take(),
            "children_overdue": figures["children"].as_array().unwrap().iter().map(|c| (c["code"].clone(), c["overdue"].clone())).collect::<Vec<_>>(),
        })
    };
    let mut shared = Vec::new();
    for window in windows {
        let window_code = ioc_shared::summary::Window::parse(window).unwrap();
        let live = client.figures[&("001".to_owned(), window_code)].summary().unwrap();
        let (mut live_value, mut http) = (
            serde_json::to_value(&live).unwrap(),
            serde_json::to_value(server.summary("001", window).await).unwrap(),
        );
        for figures in [&mut live_value, &mut http] {
            figures["as_of"] = json!(null);
            figures["previous"]["from"] = json!(null);
            figures["previous"]["to"] = json!(null);
        }
        assert_eq!(live_value, http, "{window}: the live figures are the summary endpoint's");
        shared.push(now_part(&live));
    }
    assert_eq!(shared[0]["overdue"], json!([1, 0, 1]), "{}", shared[0]);
    assert_eq!(shared[0]["officers"]["late"], json!(1));
    assert!(
        shared.iter().all(|part| *part == shared[0]),
        "every window shows the same now: {shared:?}"
    );
    server.cleanup().await;
}

/// The hub remembers the current generation instead of asking for it before every read; after
/// a rebuild switches to a new generation (the old one is still there for 30 s), a screen's
/// figures come from the new one, and after Redis loses everything, from the one rebuilt then.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_screen_follows_a_rebuild_into_the_new_generation(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received(
            "1",
            "00004",
            "D1",
            t - Duration::minutes(10),
            t + Duration::hours(4)
        )]))
        .await;
    server.settle().await;
    let mut client = server.live().await;
    client.subscribe("001", "24h").await;
    client.snapshot_where(WAIT, |s| s.dossiers.received == 1).await;
    let mut applier = server.server.state.applier.clone();
    assert!(applier.rebuild("a test switching generations").await.unwrap(), "the rebuild ran");
    server
        .ingest_ok(&json!([dossier_received(
            "2",
            "00001",
            "D2",
            t - Duration::minutes(5),
            t + Duration::hours(4)
        )]))
        .await;
    let (_, summary) =
        client.snapshot_where(StdDuration::from_secs(30), |s| s.dossiers.received == 2).await;
    assert_eq!((summary.dossiers.open, summary.dossiers.overdue), (2, 0));

    let mut redis = server.server.state.redis.clone();
    ioc_server::aggregate::clear(&mut redis, &server.server.state.keys).await.unwrap();
    server.settle().await;
    server
        .ingest_ok(&json!([dossier_received(
            "3",
            "00001",
            "D3",
            t - Duration::minutes(5),
            t + Duration::hours(4)
        )]))
        .await;
    let (_, summary) =
        client.snapshot_where(StdDuration::from_secs(30), |s| s.dossiers.received == 3).await;
    assert_eq!((summary.dossiers.open, summary.dossiers.overdue), (3, 0));
    server.cleanup().await;
}

/// A client that missed a delta sees that the next one does not fit its copy, subscribes
/// again, and gets the whole snapshot.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_skipped_delta_is_noticed_and_a_new_subscribe_brings_the_snapshot(pool: PgPool) {
    use ioc_shared::live::{DeltaRefused, ScopeFigures};
    let server = TestServer::start(&pool).await;
    let mut client = server.live().await;
    client.subscribe("001", "today").await;
    let Some(ServerMessage::Snapshot { version, data, .. }) = client.next_raw_message(WAIT).await
    else {
        panic!("no snapshot")
    };
    let mut copy = ScopeFigures::from_snapshot(version, &data).unwrap();
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received("1", "00004", "D1", t, t + Duration::hours(4))]))
        .await;
    let missed = client.next_raw_message(WAIT).await.unwrap();
    assert!(matches!(missed, ServerMessage::Delta { .. }), "{missed:?}");
    // That delta is "lost": `copy` never sees it.
    server
        .ingest_ok(&json!([dossier_received("2", "00004", "D2", t, t + Duration::hours(4))]))
        .await;
    let Some(ServerMessage::Delta { base, version, changes, .. }) =
        client.next_raw_message(WAIT).await
    else {
        panic!("no delta")
    };
    assert_eq!(
        copy.apply(base, version, &changes),
        Err(DeltaRefused::OutOfStep { have: copy.version, base })
    );
    client.subscribe("001", "today").await;
    let Some(ServerMessage::Snapshot { version: again, data, .. }) =
        client.next_raw_message(WAIT).await
    else {
        panic!("no snapshot")
    };
    assert_eq!((again, data.dossiers.received), (version, 2));
    assert_eq!(
        server.server.state.hub.active_scopes(),
        1,
        "subscribing again does not add a scope"
    );
    server.cleanup().await;
}

/// A client written before deltas existed asks for snapshots only, and gets whole snapshots
/// at every change.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_client_that_asks_for_snapshots_only_gets_only_snapshots(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut client = server.live().await;
    client.send_text(r#"{"type":"subscribe","unit":"001","window":"today","deltas":false}"#).await;
    let t = server.now();
    let mut seen = Vec::new();
    for i in 1..=3 {
        server
            .ingest_ok(&json!([dossier_received(
                &i.to_string(),
                "00004",
                &format!("D{i}"),
                t,
                t + Duration::hours(4)
            )]))
            .await;
        loop {
            let text = client.next_text(WAIT).await.expect("an update");
            let message: ServerMessage = serde_json::from_str(&text).unwrap();
            match message {
                ServerMessage::Heartbeat { .. } => continue,
                ServerMessage::Snapshot { data, .. } => {
                    seen.push(data.dossiers.received);
                    if data.dossiers.received == i {
                        break;
                    }
                }
                other => panic!("a snapshot-only client got {other:?}"),
            }
        }
    }
    assert_eq!(seen.last(), Some(&3));
    server.cleanup().await;
}

/// A message over the size limit closes the connection with 1009 (message too big): the
/// server tells it from the WebSocket library's error kind, not from the error's wording.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_message_over_the_size_limit_closes_with_1009(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut live = server.live().await;
    let huge = format!(
        "{{\"type\":\"subscribe\",\"unit\":\"{}\",\"window\":\"today\"}}",
        "0".repeat(ioc_shared::live::MAX_CLIENT_MESSAGE_BYTES)
    );
    live.send_text(&huge).await;
    let closed = live.closed_with(StdDuration::from_secs(10)).await;
    assert_eq!(closed.map(|(code, _)| code), Some(1009));
    // A message just under the limit is read (and answered with an error, not a close).
    let mut live = server.live().await;
    live.send_text(&"x".repeat(ioc_shared::live::MAX_CLIENT_MESSAGE_BYTES - 1)).await;
    match live.next_message(StdDuration::from_secs(10)).await {
        Some(ServerMessage::Error { .. }) => {}
        other => panic!("expected an error message, got {other:?}"),
    }
    server.cleanup().await;
}
