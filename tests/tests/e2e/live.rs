//! `GET /api/v1/live`: subscriptions, snapshots, versions, errors, and several replicas.

use chrono::Duration;
use ioc_shared::live::ServerMessage;
use ioc_tests::events::*;
use ioc_tests::{now, TestServer};
use serde_json::json;
use sqlx::PgPool;
use std::time::Duration as StdDuration;

const WAIT: StdDuration = StdDuration::from_secs(10);

#[sqlx::test(migrations = "../server/migrations")]
async fn a_subscriber_gets_a_snapshot_then_updates_with_growing_versions(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = now();
    server.ingest_ok(&json!([dossier_received("1", "00004", "D1", t, t + Duration::hours(4))])).await;
    server.settle().await;
    let mut client = server.live().await;
    client.subscribe("001", "24h").await;
    let first = client.next_message(WAIT).await.unwrap();
    let ServerMessage::Snapshot { unit, window, version: v1, data } = first else { panic!("{first:?}") };
    assert_eq!((unit.as_str(), window.as_str(), data.dossiers.received), ("001", "24h", 1));
    // The snapshot is the same object as the summary endpoint's.
    let http = server.summary("001", "24h").await;
    assert_eq!(http.dossiers, data.dossiers);

    server.ingest_ok(&json!([dossier_received("2", "00001", "D2", t, t + Duration::hours(4))])).await;
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

    let t = now();
    first.ingest_ok(&json!([complaint_received("1", "00037", "C1", t, t + Duration::hours(2), "Giao thông", "zalo")])).await;
    let (_, seen_by_second) = on_second.snapshot_where(WAIT, |s| s.complaints.received == 1).await;
    assert_eq!(seen_by_second.complaints.by_channel.get("zalo"), Some(&1));
    on_first.snapshot_where(WAIT, |s| s.complaints.received == 1).await;

    // And the other way round.
    second.ingest_ok(&json!([complaint_received("2", "00004", "C2", t, t + Duration::hours(2), "Y tế", "app")])).await;
    on_first.snapshot_where(WAIT, |s| s.complaints.received == 2).await;
    on_second.snapshot_where(WAIT, |s| s.complaints.received == 2).await;
    first.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn heartbeats_arrive_while_nothing_changes(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut client = server.live().await;
    let text = client.next_text(StdDuration::from_secs(ioc_shared::live::HEARTBEAT_SECONDS + 5)).await.unwrap();
    assert!(text.contains("\"heartbeat\""), "{text}");
    server.cleanup().await;
}
