//! The deadline engine: an item turns overdue when the clock passes its due time, with no event.

use chrono::Duration;
use ioc_tests::events::*;
use ioc_tests::TestServer;
use serde_json::json;
use sqlx::PgPool;

#[sqlx::test(migrations = "../server/migrations")]
async fn an_item_turns_overdue_when_its_due_time_passes_with_no_event(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let due = t + Duration::seconds(3);
    server
        .ingest_ok(&json!([
            dossier_received("1", "00004", "D1", t, due),
            dossier_assigned("2", "00004", "D1", t, ("cb-1", "Vũ Thị Mai")),
        ]))
        .await;
    let mut client = server.live().await;
    client.subscribe("001", "today").await;
    let (first_version, first) =
        client.snapshot_where(std::time::Duration::from_secs(20), |s| s.dossiers.open == 1).await;
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

/// The late-officer figures the deadline engine keeps incrementally equal a full recomputation
/// from PostgreSQL (the truth) at every step: items assigned already late, items turning late
/// by time alone, then reassignments, resolutions and pauses of late and not-yet-late items,
/// over random officers, wards and kinds, at the city, two districts and a ward; and again
/// after Redis loses its data and the figures are rebuilt.
#[sqlx::test(migrations = "../server/migrations")]
async fn late_officer_counts_equal_a_full_recomputation_as_items_turn_late_are_reassigned_and_resolved(
    pool: PgPool,
) {
    use rand::{Rng, SeedableRng};
    let seed: u64 = rand::random();
    println!("seed {seed}");
    let mut random = rand::rngs::StdRng::seed_from_u64(seed);
    let server = TestServer::start(&pool).await;
    let wards = ["00001", "00004", "00037", "00040"];
    let officers = [
        ("cb-1", "Nguyễn Văn An"),
        ("cb-2", "Trần Thị Bình"),
        ("cb-3", "Lê Văn Cường"),
        ("cb-4", "Phạm Thị Dung"),
        ("cb-5", "Hoàng Văn Em"),
    ];
    // Whole seconds, so that "due before the summary's second" is never ambiguous but at the
    // second the crossing items fall due (see `summary_away_from`).
    let t0 = chrono::DateTime::from_timestamp(server.now().timestamp(), 0).unwrap();
    let crossing = t0 + Duration::seconds(6);
    let dues = [t0 - Duration::hours(1), crossing, t0 + Duration::hours(2)];
    let kinds = ["dossier", "complaint", "task"];
    let mut next_id = 0;
    let mut id = move || {
        next_id += 1;
        format!("e{next_id}")
    };
    // (kind, ward, item)
    let mut items: Vec<(&str, &str, String)> = Vec::new();
    let mut events = Vec::new();
    for n in 0..90 {
        let kind = kinds[random.random_range(0..3)];
        let ward = wards[random.random_range(0..wards.len())];
        let officer = officers[random.random_range(0..officers.len())];
        let due = dues[random.random_range(0..dues.len())];
        let item = format!("{}{n}", &kind[..1]);
        let at = t0 - Duration::hours(2);
        match kind {
            "dossier" => {
                events.push(dossier_received(&id(), ward, &item, at, due));
                events.push(dossier_assigned(&id(), ward, &item, at, officer));
            }
            "complaint" => {
                events.push(complaint_received(
                    &id(),
                    ward,
                    &item,
                    at,
                    due,
                    "moi_truong",
                    "hotline",
                ));
                events.push(complaint_assigned(&id(), ward, &item, at, officer));
            }
            _ => events.push(task_assigned(&id(), ward, &item, at, due, officer)),
        }
        items.push((kind, ward, item));
    }
    server.ingest_ok(&serde_json::Value::Array(events)).await;
    assert_late_officers_match(&server, &pool, crossing, &wards).await;

    // Nothing is sent: the items due at `crossing` turn late by time alone.
    let wait = (crossing - server.now()).to_std().unwrap_or_default()
        + std::time::Duration::from_millis(1500);
    tokio::time::sleep(wait).await;
    let counted = assert_late_officers_match(&server, &pool, crossing, &wards).await;
    assert!(counted > 0, "some officers are late");

    // Reassign, resolve and pause a random half of the items, late or not.
    let mut events = Vec::new();
    let at = server.now();
    for (kind, ward, item) in &items {
        let officer = officers[random.random_range(0..officers.len())];
        match (random.random_range(0..6), *kind) {
            (0, "dossier") => events.push(dossier_assigned(&id(), ward, item, at, officer)),
            (0, "complaint") => events.push(complaint_assigned(&id(), ward, item, at, officer)),
            (0, _) => events.push(task_assigned(
                &id(),
                ward,
                item,
                at,
                dues[random.random_range(0..dues.len())],
                officer,
            )),
            (1, "dossier") => events.push(dossier_resolved(&id(), ward, item, at, "completed")),
            (1, "complaint") => events.push(complaint_resolved(&id(), ward, item, at, None)),
            (1, _) => events.push(task_completed(&id(), ward, item, at)),
            (2, "dossier") => events.push(dossier_paused(&id(), ward, item, at)),
            _ => {}
        }
    }
    server.ingest_ok(&serde_json::Value::Array(events)).await;
    assert_late_officers_match(&server, &pool, crossing, &wards).await;

    // Redis loses everything: the rebuilt generation counts the same late officers.
    server.cleanup().await;
    ioc_tests::eventually(std::time::Duration::from_secs(30), "figures rebuilt", || async {
        server.get("/api/v1/units/01/summary?window=24h").await.0 == 200
    })
    .await;
    assert_late_officers_match(&server, &pool, crossing, &wards).await;
    server.cleanup().await;
}

/// The summary of `scope` read at a second other than `avoid` (the one second where "due
/// before now" could differ between the engine's milliseconds and the summary's seconds).
async fn summary_away_from(
    server: &TestServer,
    scope: &str,
    avoid: chrono::DateTime<chrono::Utc>,
) -> ioc_shared::summary::Summary {
    loop {
        let summary = server.summary(scope, "24h").await;
        let as_of = ioc_shared::time::parse_rfc3339(&summary.as_of).unwrap();
        if as_of.timestamp() != avoid.timestamp() {
            return summary;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Compares the late officers of the city, both districts and one ward with a recomputation
/// from the items table at the summary's time; returns the city's number of late officers.
async fn assert_late_officers_match(
    server: &TestServer,
    pool: &PgPool,
    avoid: chrono::DateTime<chrono::Utc>,
    wards: &[&str],
) -> u64 {
    let scopes: [(&str, &[&str]); 4] =
        [("01", wards), ("001", &wards[..2]), ("002", &wards[2..]), (wards[2], &wards[2..3])];
    let mut city_late = 0;
    for (scope, units) in scopes {
        let summary = summary_away_from(server, scope, avoid).await;
        let as_of = ioc_shared::time::parse_rfc3339(&summary.as_of).unwrap();
        let units: Vec<String> = units.iter().map(|u| u.to_string()).collect();
        let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
            "SELECT officer_id, max(officer_name), unit, count(*) FROM items \
             WHERE open AND NOT paused AND due_extended_at < $1 AND officer_id IS NOT NULL AND unit = ANY($2) \
             GROUP BY officer_id, unit",
        )
        .bind(as_of)
        .bind(&units)
        .fetch_all(pool)
        .await
        .unwrap();
        // officer → (name, total, unit holding most: most items, then smaller code)
        let mut by_officer: std::collections::BTreeMap<String, (String, u64, (i64, String))> =
            Default::default();
        for (officer, name, unit, n) in rows {
            let entry = by_officer.entry(officer).or_insert((name, 0, (0, String::new())));
            entry.1 += n as u64;
            if n > entry.2 .0 || (n == entry.2 .0 && unit < entry.2 .1) {
                entry.2 = (n, unit);
            }
        }
        let mut expected: Vec<(String, String, String, u64)> =
            by_officer.into_iter().map(|(id, (name, n, (_, unit)))| (id, name, unit, n)).collect();
        let late = expected.len() as u64;
        expected.sort_by(|a, b| b.3.cmp(&a.3).then(a.0.cmp(&b.0)));
        expected.truncate(10);
        let got: Vec<(String, String, String, u64)> = summary
            .officers
            .top_late
            .iter()
            .map(|o| (o.id.clone(), o.name.clone(), o.unit.clone(), o.overdue))
            .collect();
        assert_eq!(
            summary.officers.late, late,
            "{scope} at {}: number of late officers",
            summary.as_of
        );
        assert_eq!(got, expected, "{scope} at {}: the ranking", summary.as_of);
        if scope == "01" {
            city_late = late;
        }
    }
    city_late
}
