//! The deadline engine: an item turns overdue when the clock passes its due time, with no event.

use chrono::Duration;
use ioc_tests::events::*;
use ioc_tests::{now, TestServer};
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "../server/migrations")]
async fn an_item_turns_overdue_when_its_due_time_passes_with_no_event(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = now();
    let due = t + Duration::seconds(3);
    server
        .ingest_ok(&json!([
            dossier_received("1", "00004", "D1", t, due),
            dossier_assigned("2", "00004", "D1", t, ("cb-1", "Vũ Thị Mai")),
        ]))
        .await;
    let mut client = server.live().await;
    client.subscribe("001", "today").await;
    let (first_version, first) = client
        .snapshot_where(std::time::Duration::from_secs(20), |s| s.dossiers.open == 1)
        .await;
    if chrono::Utc::now() < due {
        assert_eq!(first.dossiers.overdue, 0);
        assert_eq!(first.officers.late, 0);
    }
    // Nothing is ingested from here on: the server must notice time passing by itself.
    let (version, later) = client
        .snapshot_where(std::time::Duration::from_secs(15), |s| s.dossiers.overdue == 1)
        .await;
    assert!(chrono::Utc::now() >= due);
    assert!(version > first_version || first.dossiers.overdue == 1);
    assert_eq!(later.officers.late, 1);
    assert_eq!(later.officers.top_late[0].name, "Vũ Thị Mai");
    assert_eq!(later.children.iter().find(|c| c.code == "00004").unwrap().overdue, 1);
    let over_http = server.summary("01", "24h").await;
    assert_eq!(over_http.dossiers.overdue, 1);
    server.cleanup().await;
}
