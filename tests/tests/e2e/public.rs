//! Public disclosure and open data: nothing is public until an admin says so; officer names
//! only when turned on; never a complaint text; the open data parses back; anonymous live
//! connections are limited per address.

use chrono::Duration;
use ioc_tests::events::*;
use ioc_tests::TestServer;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration as StdDuration;

async fn anonymous_get(server: &TestServer, path: &str) -> (u16, String) {
    let response =
        reqwest::Client::new().get(format!("{}{path}", server.base)).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

async fn board(server: &TestServer) -> Value {
    let (status, body) = anonymous_get(server, "/open-data/v1/units.json").await;
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).unwrap()
}

/// Waits until the public board satisfies `check`, returning it.
async fn board_where(server: &TestServer, what: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(30);
    loop {
        let current = board(server).await;
        if check(&current) {
            return current;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for: {what}; last board {current}"
        );
        tokio::time::sleep(StdDuration::from_millis(200)).await;
    }
}

fn codes(board: &Value) -> Vec<String> {
    board["units"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap().to_owned())
        .collect()
}

fn csv_records(text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    assert!(text.starts_with("# "), "the licence line comes first: {text}");
    assert!(text.lines().next().unwrap().contains("CC BY 4.0"));
    let mut reader = csv::ReaderBuilder::new().comment(Some(b'#')).from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_owned).collect();
    let rows = reader.records().map(|r| r.unwrap().iter().map(str::to_owned).collect()).collect();
    (header, rows)
}

#[sqlx::test(migrations = "../server/migrations")]
async fn only_public_units_are_disclosed_and_officers_only_when_turned_on(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([
            dossier_received(
                "r1",
                "00004",
                "HS-1",
                t - Duration::hours(30),
                t - Duration::hours(3)
            ),
            dossier_assigned(
                "a1",
                "00004",
                "HS-1",
                t - Duration::hours(29),
                ("cb-7", "Trần Thị B")
            ),
            dossier_received(
                "r2",
                "00001",
                "HS-2",
                t - Duration::hours(30),
                t - Duration::hours(3)
            ),
            dossier_assigned("a2", "00001", "HS-2", t - Duration::hours(29), ("cb-9", "Lê Văn C")),
            complaint_received(
                "c1",
                "00004",
                "PA-1",
                t - Duration::hours(2),
                t + Duration::hours(20),
                "Môi trường",
                "zalo"
            ),
        ]))
        .await;
    let mut with_text = complaint_received(
        "c2",
        "00004",
        "PA-2",
        t - Duration::hours(1),
        t + Duration::hours(20),
        "Môi trường",
        "hotline",
    );
    with_text["summary"] = json!("Nhà số 5 đổ rác trộm — thông tin riêng");
    server.ingest_ok(&json!([with_text])).await;
    server.settle().await;

    // Nothing public by default.
    let empty = board(&server).await;
    assert_eq!(codes(&empty), Vec::<String>::new(), "{empty}");
    assert!(empty["licence"].as_str().unwrap().contains("CC BY 4.0"));

    let (status, made) = server.make_public("00004", false).await;
    assert_eq!(status, 200, "{made}");
    assert_eq!(made["officers"], json!(false));
    let public = board_where(&server, "Trúc Bạch public", |b| codes(b) == ["00004"]).await;
    let unit = &public["units"][0];
    assert_eq!(
        (unit["name"].as_str(), unit["dossiers_overdue"].as_u64(), unit["rank"].as_u64()),
        (Some("Phường Trúc Bạch"), Some(1), Some(1)),
        "{unit}"
    );
    assert_eq!(unit["late_officers"], Value::Null, "no names unless the city turns them on");
    let (_, csv) = anonymous_get(&server, "/open-data/v1/units.csv").await;
    for private in ["Trần Thị B", "Lê Văn C", "thông tin riêng", "00001"] {
        assert!(
            !public.to_string().contains(private) && !csv.contains(private),
            "`{private}` disclosed"
        );
    }
    // The CSV parses back to the same figures.
    let (header, rows) = csv_records(&csv);
    assert_eq!(&header[..3], ["rank", "code", "name"]);
    assert_eq!(rows.len(), 1);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(rows[0][column("code")], "00004");
    assert_eq!(rows[0][column("dossiers_overdue")], "1");

    // The city turns names on for this unit: they appear, and the change is audited.
    let (status, _) = server.make_public("00004", true).await;
    assert_eq!(status, 200);
    let named =
        board_where(&server, "names published", |b| !b["units"][0]["late_officers"].is_null())
            .await;
    assert_eq!(named["units"][0]["late_officers"], json!([{"name": "Trần Thị B", "overdue": 1}]));
    let (_, audit) = server.get("/api/v1/admin/audit").await;
    let actions: Vec<&str> =
        audit.as_array().unwrap().iter().filter_map(|a| a["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "unit_made_public").count(), 2, "{audit}");

    // The command line does the same.
    let (ok, out, err) = ioc_tests::run_ioc(&pool, &server.prefix, &["public", "add", "00001"], "");
    assert!(ok, "{out}{err}");
    let (_, out, _) = ioc_tests::run_ioc(&pool, &server.prefix, &["public", "list"], "");
    assert!(
        out.lines().any(|l| l.starts_with("00001"))
            && out.lines().any(|l| l.starts_with("00004") && l.contains("named")),
        "{out}"
    );
    let both = board_where(&server, "two public units", |b| codes(b).len() == 2).await;
    assert!(!both.to_string().contains("Lê Văn C"), "00001's officers stay unnamed: {both}");
    let (ok, _, _) = ioc_tests::run_ioc(&pool, &server.prefix, &["public", "remove", "00001"], "");
    assert!(ok);
    board_where(&server, "00001 withdrawn", |b| codes(b) == ["00004"]).await;

    // Bad admin input: an unknown unit, a unit not public.
    let (status, body) = server.make_public("99999", false).await;
    assert_eq!(status, 400, "{body}");
    let response = server
        .http
        .post(format!("{}/api/v1/admin/public/00037/remove", server.base))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn the_daily_history_parses_back_and_bad_ranges_are_refused(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    // Regression: run in the first half hour after local midnight, the events fell on yesterday.
    let midnight = ioc_shared::time::local_midnight(t);
    let ago = |minutes: i64| (t - Duration::minutes(minutes)).max(midnight);
    server
        .ingest_ok(&json!([
            dossier_received("r1", "00004", "HS-1", ago(30), t + Duration::hours(3)),
            dossier_received("r2", "00004", "HS-2", ago(20), t + Duration::hours(3)),
            complaint_received(
                "c1",
                "00004",
                "PA-1",
                ago(10),
                t + Duration::hours(20),
                "Môi trường",
                "zalo"
            ),
        ]))
        .await;
    server.settle().await;
    server.make_public("00004", false).await;
    let today = ioc_shared::time::local_midnight(t)
        .with_timezone(&ioc_shared::time::local_offset())
        .date_naive();
    let from = today - Duration::days(2);
    let (status, csv) =
        anonymous_get(&server, &format!("/open-data/v1/daily.csv?from={from}&to={today}")).await;
    assert_eq!(status, 200, "{csv}");
    let (header, rows) = csv_records(&csv);
    assert_eq!(&header[..3], ["date", "code", "name"]);
    assert_eq!(rows.len(), 3, "three days of the one public unit: {csv}");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let last = rows.last().unwrap();
    assert_eq!(
        (last[column("date")].as_str(), last[column("code")].as_str()),
        (today.to_string().as_str(), "00004")
    );
    assert_eq!(last[column("dossiers_received")], "2");
    assert_eq!(last[column("complaints_received")], "1");
    assert_eq!(rows[0][column("dossiers_received")], "0");

    for query in
        ["?from=2026-13-01", "?from=2026-11-20&to=2026-11-01", "?from=2024-01-01&to=2026-01-01"]
    {
        let (status, body) =
            anonymous_get(&server, &format!("/open-data/v1/daily.csv{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
    }
    let (status, page) = anonymous_get(&server, "/open-data/v1/").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("CC BY 4.0")
            && page.contains("on_time_rate")
            && page.contains("dossiers_received"),
        "{page}"
    );
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn anonymous_live_connections_get_the_board_and_are_limited_per_address(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    server.make_public("00004", false).await;
    board_where(&server, "Trúc Bạch public", |b| codes(b) == ["00004"]).await;
    let url = format!("{}/api/v1/public/live", server.base.replacen("http", "ws", 1));
    let mut sockets = Vec::new();
    for _ in 0..ioc_server::live::public::MAX_CONNECTIONS_PER_ADDRESS {
        let (socket, _) =
            tokio_tungstenite::connect_async(url.as_str()).await.expect("no login needed");
        sockets.push(socket);
    }
    // Each gets the board at once.
    use futures_util::StreamExt;
    let first = tokio::time::timeout(StdDuration::from_secs(10), sockets[0].next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let message: ioc_shared::public::PublicMessage =
        serde_json::from_str(first.to_text().unwrap()).unwrap();
    let ioc_shared::public::PublicMessage::Board { data, .. } = message else {
        panic!("{message:?}")
    };
    assert_eq!(data.units.iter().map(|u| u.code.as_str()).collect::<Vec<_>>(), ["00004"]);
    // One more from the same address is refused.
    match tokio_tungstenite::connect_async(url.as_str()).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status().as_u16(), 429)
        }
        other => panic!("expected 429, got {:?}", other.map(|_| "a connection")),
    }
    // A place frees when a connection closes.
    drop(sockets.pop());
    ioc_tests::eventually(StdDuration::from_secs(10), "a freed place", || async {
        tokio_tungstenite::connect_async(url.as_str()).await.is_ok()
    })
    .await;
    server.cleanup().await;
}
