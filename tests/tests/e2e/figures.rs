//! Every figure of the summary on hand-computed cases, the roll-up through the unit tree, and
//! the windows.

use chrono::Duration;
use ioc_tests::events::*;
use ioc_tests::TestServer;
use serde_json::json;
use sqlx::PgPool;
use std::collections::BTreeMap;

const WARD: &str = "00004"; // Phường Trúc Bạch
const SIBLING_WARD: &str = "00001"; // Phường Phúc Xá, also in Quận Ba Đình
const DISTRICT: &str = "001"; // Quận Ba Đình
const CITY: &str = "01";
const OTHER_DISTRICT: &str = "002"; // Quận Hoàn Kiếm
const OTHER_DISTRICT_WARD: &str = "00037"; // Phường Phúc Tân, Quận Hoàn Kiếm

fn within_5_percent(actual: Option<f64>, exact: f64) -> bool {
    actual.is_some_and(|a| (a - exact).abs() <= 0.05 * exact)
}

#[sqlx::test(migrations = "../server/migrations")]
async fn dossier_figures_follow_the_definitions(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let b = server.now() - Duration::hours(20);
    let h = |hours: f64| b + Duration::seconds((hours * 3600.0) as i64);
    server
        .ingest_ok(&json!([
            // D1: resolved after 1 h, due at 2 h → on time.
            dossier_received("1a", WARD, "D1", b, h(2.0)),
            dossier_resolved("1b", WARD, "D1", h(1.0), "completed"),
            // D2: resolved after 5 h, due at 2 h → late (rejected still counts as judged).
            dossier_received("2a", WARD, "D2", b, h(2.0)),
            dossier_resolved("2b", WARD, "D2", h(5.0), "rejected"),
            // D3: due at 2 h, paused 1 h → 5 h (4 h for the citizen) → due at 6 h; resolved at 5.5 h → on time.
            dossier_received("3a", WARD, "D3", b, h(2.0)),
            dossier_paused("3b", WARD, "D3", h(1.0)),
            dossier_resumed("3c", WARD, "D3", h(5.0)),
            dossier_resolved("3d", WARD, "D3", h(5.5), "completed"),
            // D4: withdrawn after 3 h: resolved, but neither on time nor late.
            dossier_received("4a", WARD, "D4", b, h(1.0)),
            dossier_resolved("4b", WARD, "D4", h(3.0), "withdrawn"),
            // D5: open, due tomorrow → not overdue.
            dossier_received("5a", WARD, "D5", b, server.now() + Duration::hours(24)),
            // D6: open, due long past → overdue.
            dossier_received("6a", WARD, "D6", b, h(1.0)),
            // D7: open, due past, but paused (waiting for the citizen) → not overdue.
            dossier_received("7a", WARD, "D7", b, h(1.0)),
            dossier_paused("7b", WARD, "D7", h(0.5)),
            // D8: open, paused then resumed; due 1 h + 10 h paused = 11 h, passed → overdue.
            dossier_received("8a", WARD, "D8", b, h(1.0)),
            dossier_paused("8b", WARD, "D8", h(0.5)),
            dossier_resumed("8c", WARD, "D8", h(10.5)),
        ]))
        .await;
    let d = server.summary(WARD, "24h").await.dossiers;
    assert_eq!(d.received, 8);
    assert_eq!(d.resolved, 4);
    assert_eq!(d.resolved_on_time, 2);
    assert_eq!(d.resolved_late, 1);
    assert_eq!(d.on_time_rate, Some(2.0 / 3.0));
    assert_eq!(d.open, 4);
    assert_eq!(d.overdue, 2);
    // Processing times 1, 5, 5.5, 3 h → nearest rank: p50 = 3 h, p90 = 5.5 h.
    assert!(within_5_percent(d.processing_hours.p50, 3.0), "{:?}", d.processing_hours);
    assert!(within_5_percent(d.processing_hours.p90, 5.5), "{:?}", d.processing_hours);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_scope_with_nothing_to_rate_has_null_rates(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let summary = server.summary(WARD, "today").await;
    assert_eq!(summary.dossiers.on_time_rate, None);
    assert_eq!(summary.dossiers.processing_hours.p50, None);
    assert_eq!(summary.complaints.satisfaction_rate, None);
    assert_eq!(summary.officers.late, 0);
    assert_eq!(summary.unit.name, "Phường Trúc Bạch");
    assert!(summary.children.is_empty());
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn complaint_figures_follow_the_definitions(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let b = server.now() - Duration::hours(20);
    server
        .ingest_ok(&json!([
            complaint_received("c1a", WARD, "C1", b, b + Duration::hours(10), "Môi trường", "zalo"),
            complaint_resolved("c1b", WARD, "C1", b + Duration::hours(2), Some("satisfied")),
            complaint_received(
                "c2a",
                WARD,
                "C2",
                b,
                b + Duration::hours(1),
                "Giao thông",
                "hotline"
            ),
            complaint_resolved("c2b", WARD, "C2", b + Duration::hours(3), Some("dissatisfied")),
            complaint_received("c3a", WARD, "C3", b, b + Duration::hours(1), "Môi trường", "zalo"),
            complaint_received(
                "c4a",
                WARD,
                "C4",
                b,
                server.now() + Duration::hours(5),
                "Giao thông",
                "app"
            ),
            complaint_received("c5a", WARD, "C5", b, b + Duration::hours(10), "Y tế", "portal"),
            complaint_resolved("c5b", WARD, "C5", b + Duration::hours(1), None),
        ]))
        .await;
    let c = server.summary(WARD, "24h").await.complaints;
    assert_eq!(c.received, 5);
    assert_eq!(c.resolved, 3);
    assert_eq!(c.resolved_on_time, 2);
    assert_eq!(c.open, 2);
    assert_eq!(c.overdue, 1);
    let by_field: BTreeMap<String, u64> =
        [("Môi trường", 2), ("Giao thông", 2), ("Y tế", 1)].map(|(k, v)| (k.to_owned(), v)).into();
    assert_eq!(c.by_field, by_field);
    let by_channel: BTreeMap<String, u64> =
        [("zalo", 2), ("hotline", 1), ("app", 1), ("portal", 1)]
            .map(|(k, v)| (k.to_owned(), v))
            .into();
    assert_eq!(c.by_channel, by_channel);
    assert_eq!(c.satisfaction_rate, Some(0.5));
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn tasks_and_late_officers_follow_the_definitions(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let b = server.now() - Duration::hours(20);
    let past = b + Duration::hours(1);
    let future = server.now() + Duration::hours(5);
    let an = ("cb-an", "Nguyễn Văn An");
    let binh = ("cb-binh", "Trần Thị Bình");
    let cuong = ("cb-cuong", "Lê Văn Cường");
    server
        .ingest_ok(&json!([
            task_assigned("t1", WARD, "T1", b, past, an), // overdue: An
            task_assigned("t2", WARD, "T2", b, future, an), // open, not overdue
            task_assigned("t3", WARD, "T3", b, past, binh),
            task_completed("t3c", WARD, "T3", b + Duration::hours(2)), // completed
            task_assigned("t4", SIBLING_WARD, "T4", b, past, binh),    // overdue: Bình (other ward)
            dossier_received("d1", WARD, "D1", b, past),
            dossier_assigned("d1a", WARD, "D1", b + Duration::minutes(1), an), // overdue: An
            dossier_received("d2", WARD, "D2", b, past),
            dossier_assigned("d2a", WARD, "D2", b + Duration::minutes(1), an),
            dossier_assigned("d2b", WARD, "D2", b + Duration::minutes(2), cuong), // reassigned: Cường
            complaint_received("c1", WARD, "C1", b, past, "Môi trường", "zalo"),
            complaint_assigned("c1a", WARD, "C1", b + Duration::minutes(1), cuong), // overdue: Cường
            dossier_received("d3", WARD, "D3", b, past), // overdue, but nobody assigned
        ]))
        .await;
    let ward = server.summary(WARD, "24h").await;
    assert_eq!(
        (ward.tasks.assigned, ward.tasks.completed, ward.tasks.open, ward.tasks.overdue),
        (3, 1, 2, 1)
    );
    // In the ward: An 2 (T1, D1), Cường 2 (D2, C1). Bình's overdue task is in the sibling ward.
    assert_eq!(ward.officers.late, 2);
    let top: Vec<(&str, u64)> =
        ward.officers.top_late.iter().map(|o| (o.id.as_str(), o.overdue)).collect();
    assert_eq!(top, [("cb-an", 2), ("cb-cuong", 2)]);
    assert_eq!(ward.officers.top_late[0].name, "Nguyễn Văn An");
    assert_eq!(ward.officers.top_late[0].unit, WARD);
    assert_eq!(ward.officers.top_late[0].unit_name, "Phường Trúc Bạch");
    // In the district, Bình counts too.
    let district = server.summary(DISTRICT, "24h").await;
    assert_eq!(district.officers.late, 3);
    assert_eq!(district.tasks.overdue, 2);
    // Completing An's task takes one off An's count.
    server.ingest_ok(&json!([task_completed("t1c", WARD, "T1", server.now())])).await;
    let ward = server.summary(WARD, "24h").await;
    let top: Vec<(&str, u64)> =
        ward.officers.top_late.iter().map(|o| (o.id.as_str(), o.overdue)).collect();
    assert_eq!(top, [("cb-cuong", 2), ("cb-an", 1)]);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn figures_roll_up_through_the_unit_tree(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let b = server.now() - Duration::hours(3);
    let past = b + Duration::hours(1);
    let later = server.now() + Duration::hours(24);
    server
        .ingest_ok(&json!([
            dossier_received("w1", WARD, "W1", b, later),
            dossier_resolved("w1r", WARD, "W1", b + Duration::minutes(30), "completed"), // on time
            dossier_received("w2", WARD, "W2", b, past),                                 // overdue
            dossier_received("s1", SIBLING_WARD, "S1", b, past),
            dossier_resolved("s1r", SIBLING_WARD, "S1", b + Duration::hours(2), "completed"), // late
            complaint_received("s2", SIBLING_WARD, "SC", b, past, "Giao thông", "hotline"), // overdue
            dossier_received("d1", DISTRICT, "DD", b, later), // at the district itself
            dossier_received("o1", OTHER_DISTRICT_WARD, "O1", b, later),
        ]))
        .await;
    let ward = server.summary(WARD, "24h").await;
    assert_eq!((ward.dossiers.received, ward.dossiers.overdue), (2, 1));
    let district = server.summary(DISTRICT, "24h").await;
    assert_eq!(district.dossiers.received, 4);
    assert_eq!((district.dossiers.resolved_on_time, district.dossiers.resolved_late), (1, 1));
    assert_eq!(district.complaints.overdue, 1);
    let child = |s: &ioc_shared::summary::Summary, code: &str| {
        s.children.iter().find(|c| c.code == code).cloned().unwrap()
    };
    let trúc_bạch = child(&district, WARD);
    assert_eq!(
        (trúc_bạch.dossiers_received, trúc_bạch.on_time_rate, trúc_bạch.overdue),
        (2, Some(1.0), 1)
    );
    let phúc_xá = child(&district, SIBLING_WARD);
    assert_eq!(
        (
            phúc_xá.dossiers_received,
            phúc_xá.on_time_rate,
            phúc_xá.overdue,
            phúc_xá.complaints_received
        ),
        (1, Some(0.0), 1, 1)
    );
    // Worst on-time rate first.
    assert_eq!(district.children[0].code, SIBLING_WARD);
    assert_eq!(district.children[1].code, WARD);
    let city = server.summary(CITY, "24h").await;
    assert_eq!(city.dossiers.received, 5);
    assert_eq!(city.children.len(), 30);
    assert_eq!(child(&city, DISTRICT).dossiers_received, 4);
    assert_eq!(child(&city, OTHER_DISTRICT).dossiers_received, 1);
    assert_eq!(child(&city, DISTRICT).overdue, 2);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn windows_count_events_by_when_they_happened(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let far = t + Duration::days(60);
    server
        .ingest_ok(&json!([
            dossier_received("a", WARD, "A", t - Duration::minutes(1), far),
            dossier_received("b", WARD, "B", t - Duration::hours(30), far),
            dossier_received("c", WARD, "C", t - Duration::days(10), far),
            dossier_received("d", WARD, "D", t - Duration::days(40), far),
        ]))
        .await;
    let received = |s: ioc_shared::summary::Summary| s.dossiers.received;
    assert_eq!(received(server.summary(WARD, "24h").await), 1);
    assert_eq!(received(server.summary(WARD, "7d").await), 2);
    assert_eq!(received(server.summary(WARD, "30d").await), 3);
    // `today` starts at local midnight; a minute ago is today unless it is just past midnight.
    let local = t.with_timezone(&ioc_shared::time::local_offset());
    if chrono::Timelike::hour(&local) > 0 || chrono::Timelike::minute(&local) > 2 {
        assert_eq!(received(server.summary(WARD, "today").await), 1);
    }
    // Open is "now", whatever the window.
    assert_eq!(server.summary(WARD, "24h").await.dossiers.open, 4);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn unknown_unit_is_404_and_unknown_window_is_400(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let (status, body) = server.get("/api/v1/units/99999/summary?window=24h").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "unknown unit `99999`");
    let (status, body) = server.get("/api/v1/units/001/summary?window=1y").await;
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("expected one of today, 24h, 7d, 30d"));
    let (status, body) = server.get("/api/v1/units/00004").await;
    assert_eq!(status, 200);
    let path: Vec<&str> =
        body["path"].as_array().unwrap().iter().map(|u| u["code"].as_str().unwrap()).collect();
    assert_eq!(path, ["01", "001", "00004"]);
    server.cleanup().await;
}

/// Redis is derived: emptied, it is rebuilt from PostgreSQL with the same figures.
#[sqlx::test(migrations = "../server/migrations")]
async fn redis_is_rebuilt_from_postgres_after_losing_its_data(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let b = server.now() - Duration::hours(5);
    server
        .ingest_ok(&json!([
            dossier_received("1", WARD, "D1", b, b + Duration::hours(1)),
            dossier_assigned("2", WARD, "D1", b, ("o1", "Đỗ Minh Long")),
            dossier_received("3", WARD, "D2", b, b + Duration::hours(1)),
            dossier_resolved("4", WARD, "D2", b + Duration::hours(2), "completed"),
        ]))
        .await;
    let before = server.summary(DISTRICT, "24h").await;
    let mut redis = server.server.state.redis.clone();
    ioc_server::aggregate::clear(&mut redis, &server.server.state.keys).await.unwrap();
    let after = server.summary(DISTRICT, "24h").await;
    assert_eq!(before.dossiers, after.dossiers);
    assert_eq!(before.officers, after.officers);
    assert_eq!(after.dossiers.overdue, 1);
    server.cleanup().await;
}
