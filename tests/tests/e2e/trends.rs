//! Over time and against the national index: calendar windows, the previous period, series,
//! and the live Decision 766 score.

use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use ioc_shared::live::ServerMessage;
use ioc_shared::score::Score;
use ioc_tests::events::*;
use ioc_tests::TestServer;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration as StdDuration;

const WARD: &str = "00004";

use ioc_shared::time::local_midnight_of;

/// Events placed around the month, quarter and year boundaries, and in the 24 hours before the
/// last 24. Every expectation is computed from the events sent and the server's clock, so the
/// test holds at any moment, the first minutes of a month or a year included.
#[sqlx::test(migrations = "../server/migrations")]
async fn calendar_windows_and_their_previous_periods(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let today = server.today();
    let month_start = local_midnight_of(ioc_shared::time::month_start(today));
    let quarter_start = local_midnight_of(ioc_shared::time::quarter_start(today));
    let year_start = local_midnight_of(ioc_shared::time::year_start(today));
    let h = Duration::hours;
    let received = |id: &str, at: DateTime<Utc>| dossier_received(id, WARD, id, at, at + h(2));
    // This month's event: an hour in, or halfway to now in the month's first hour.
    let into_month = Duration::seconds(((t - month_start).num_seconds() / 2).min(3600));
    let mut events = vec![
        received("m1", month_start + into_month), // this month (and quarter, year)
        received("m2", month_start - h(1)), // last month's last hour: the month's previous period
    ];
    if quarter_start < month_start {
        events.push(received("q1", quarter_start + h(1))); // this quarter, an earlier month
    }
    events.push(received("q0", quarter_start - h(1))); // the previous quarter's last hour
    if year_start < quarter_start {
        events.push(received("y1", year_start + h(1)));
    }
    events.push(received("y0", year_start - h(1))); // last year's last hour: far past Redis's retention
                                                    // A rolling window's previous period: the 24 hours before the last 24.
    events.push(received("r1", t - h(30)));
    events.push(received("r2", t - h(2)));
    server.ingest_ok(&Value::Array(events.clone())).await;
    let count_in = |from: DateTime<Utc>, to: DateTime<Utc>| {
        events
            .iter()
            .filter(|e| {
                let at = ioc_shared::time::parse_rfc3339(e["at"].as_str().unwrap()).unwrap();
                at >= from && at < to
            })
            .count() as u64
    };
    let days_so_far =
        |start: DateTime<Utc>| (today - ioc_shared::time::local_day(start)).num_days() + 1;
    for (window, start) in
        [("month", month_start), ("quarter", quarter_start), ("year", year_start)]
    {
        let summary = server.summary(WARD, window).await;
        assert_eq!(summary.dossiers.received, count_in(start, t + h(1)), "{window}");
        let previous = summary.previous.expect("previous");
        let previous_from = start - Duration::days(days_so_far(start));
        assert_eq!(
            ioc_shared::time::parse_rfc3339(&previous.from),
            Some(previous_from),
            "{window}"
        );
        assert_eq!(ioc_shared::time::parse_rfc3339(&previous.to), Some(start), "{window}");
        assert_eq!(previous.dossiers.received, count_in(previous_from, start), "{window} previous");
        assert!(
            previous.dossiers.received >= 1,
            "{window}: the event just before the boundary counts in the previous period"
        );
    }
    let day = server.summary(WARD, "24h").await;
    let previous = day.previous.expect("previous");
    let (from, to) = (
        ioc_shared::time::parse_rfc3339(&previous.from).unwrap(),
        ioc_shared::time::parse_rfc3339(&previous.to).unwrap(),
    );
    assert_eq!(to - from, h(24));
    assert!(
        to <= t - h(24) && to > t - h(24) - Duration::minutes(2),
        "the 24h window began 24 h ago: {to} vs {t}"
    );
    assert_eq!(previous.dossiers.received, count_in(from, to));
    assert!(previous.dossiers.received >= 1, "r1, 30 hours ago");
    assert_eq!(day.dossiers.received, count_in(to, t + h(1)));
    assert!(day.dossiers.received >= 1, "r2, 2 hours ago");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn series_per_day_week_and_month_with_overdue_at_day_ends(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let today = server.today();
    let d = |n: i64| today - Duration::days(n);
    let at = |n: i64, hour: i64| local_midnight_of(d(n)) + Duration::hours(hour);
    server
        .ingest_ok(&json!([
            // A: received 3 days ago, due 2 days ago at noon, paused yesterday at 10:00 (still).
            dossier_received("a1", WARD, "A", at(3, 9), at(2, 12)),
            dossier_paused("a2", WARD, "A", at(1, 10)),
            // B: the same, resolved late yesterday at noon.
            dossier_received("b1", WARD, "B", at(3, 9), at(2, 12)),
            dossier_resolved("b2", WARD, "B", at(1, 12), "completed"),
            // C: received 3 days ago, resolved on time the same day.
            dossier_received("c1", WARD, "C", at(3, 9), at(3, 20)),
            dossier_resolved("c2", WARD, "C", at(3, 15), "completed"),
        ]))
        .await;
    server.settle().await;
    let series = |query: String| {
        let server = &server;
        async move {
            let (status, body) = server.get(&format!("/api/v1/units/{WARD}/series?{query}")).await;
            assert_eq!(status, 200, "{query}: {body}");
            body
        }
    };
    let values = |body: &Value| -> Vec<Value> {
        body["points"].as_array().unwrap().iter().map(|p| p["value"].clone()).collect()
    };
    let range = format!("from={}&to={}", d(3), today);
    let received = series(format!("metric=dossiers.received&step=day&{range}")).await;
    assert_eq!(received["points"][0]["t"], json!(d(3).to_string()));
    assert_eq!(values(&received), [json!(3.0), json!(0.0), json!(0.0), json!(0.0)]);
    let overdue = series(format!("metric=dossiers.overdue&step=day&{range}")).await;
    assert_eq!(
        values(&overdue),
        [json!(0.0), json!(2.0), json!(0.0), json!(0.0)],
        "overdue at each day's end; a pause stops it"
    );
    let rate = series(format!("metric=dossiers.on_time_rate&step=day&{range}")).await;
    assert_eq!(
        values(&rate),
        [json!(1.0), Value::Null, json!(0.0), Value::Null],
        "null on days with none rated"
    );
    let late = series(format!("metric=dossiers.resolved_late&step=day&{range}")).await;
    assert_eq!(values(&late), [json!(0.0), json!(0.0), json!(1.0), json!(0.0)]);
    // Weeks start on Monday; months on the 1st; the steps sum the days.
    let weekly = series(format!("metric=dossiers.received&step=week&{range}")).await;
    let weeks = weekly["points"].as_array().unwrap();
    for point in weeks {
        let t = NaiveDate::parse_from_str(point["t"].as_str().unwrap(), "%Y-%m-%d").unwrap();
        assert_eq!(t.weekday(), chrono::Weekday::Mon);
    }
    assert_eq!(weeks.iter().map(|p| p["value"].as_f64().unwrap()).sum::<f64>(), 3.0);
    let monthly = series(format!("metric=dossiers.resolved&step=month&{range}")).await;
    assert!(monthly["points"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["t"].as_str().unwrap().ends_with("-01")));
    assert_eq!(
        monthly["points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["value"].as_f64().unwrap())
            .sum::<f64>(),
        2.0
    );
    for metric in [
        "complaints.received",
        "complaints.resolved",
        "complaints.overdue",
        "tasks.overdue",
        "score",
        "dossiers.resolved_on_time",
    ] {
        let body = series(format!("metric={metric}&step=day&{range}")).await;
        assert_eq!(body["points"].as_array().unwrap().len(), 4, "{metric}");
    }
    // At most 400 points; bad parameters are 400.
    let (status, _) = server.get(&format!("/api/v1/units/{WARD}/series?metric=dossiers.received&step=day&from=2024-01-01&to={today}")).await;
    assert_eq!(status, 400);
    for bad in ["metric=nope", "step=hour", "from=yesterday", "from=2026-11-10&to=2026-11-01"] {
        assert_eq!(server.get(&format!("/api/v1/units/{WARD}/series?{bad}")).await.0, 400, "{bad}");
    }
    server.cleanup().await;
}

fn direct_received(id: &str, dossier: &str, at: DateTime<Utc>, due: DateTime<Utc>) -> Value {
    let mut event = dossier_received(id, WARD, dossier, at, due);
    event["channel"] = json!("direct");
    event
}

fn indicator(score: &Score, code: &str) -> f64 {
    score.indicators.iter().find(|i| i.code == code).unwrap().score
}

/// Each indicator on hand-computed dossiers and complaints of this month; the score drops
/// within 2 s when a dossier turns overdue with no event.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_decision_766_score_is_computed_and_follows_time(pool: PgPool) {
    // The month's events span the two hours before now: in a month's first three hours the
    // server's clock starts three hours into the month instead (and runs from there).
    let real = ioc_tests::now();
    let month_start = ioc_shared::time::local_midnight_of(ioc_shared::time::month_start(
        ioc_shared::time::local_today(real),
    ));
    let clock = if real - month_start < Duration::hours(3) {
        ioc_shared::time::Clock::starting_at(month_start + Duration::hours(3))
    } else {
        ioc_shared::time::Clock::system()
    };
    let server = TestServer::start_clocked(&pool, clock).await;
    let t = server.now();
    // With nothing to rate: full progress and satisfaction, no online share.
    let (_, empty) = server.get(&format!("/api/v1/units/{WARD}/score?period=month")).await;
    let empty: Score = serde_json::from_value(empty).unwrap();
    assert_eq!((empty.score, empty.measured_max), (38.0, 50.0));
    assert_eq!(empty.not_measured.len(), 3);

    let m = |minutes: i64| t - Duration::minutes(minutes);
    let mut online = dossier_received("d1", WARD, "D1", m(120), m(60)); // on time below
    online["channel"] = json!("online");
    let mut direct = dossier_received("d2", WARD, "D2", m(120), m(100)); // resolved late
    direct["channel"] = json!("direct");
    let mut rated = dossier_resolved("d2x", WARD, "D2", m(90), "completed");
    rated["satisfaction"] = json!("dissatisfied");
    server
        .ingest_ok(&json!([
            online,
            dossier_resolved("d1x", WARD, "D1", m(70), "completed"),
            direct,
            rated,
            direct_received("d3", "D3", m(120), m(110)), // withdrawn: excluded
            dossier_resolved("d3x", WARD, "D3", m(100), "withdrawn"),
            direct_received("d4", "D4", m(120), m(10)), // open, paused: not overdue
            dossier_paused("d4p", WARD, "D4", m(60)),
            direct_received("d5", "D5", m(120), t + Duration::hours(10)), // open, due in 10 h: at stake
            complaint_received("c1", WARD, "C1", m(120), m(30), "Môi trường", "zalo"),
            complaint_resolved("c1x", WARD, "C1", m(40), Some("satisfied")),
            complaint_received("c2", WARD, "C2", m(120), m(60), "Môi trường", "zalo"),
            complaint_resolved("c2x", WARD, "C2", m(50), Some("dissatisfied")), // late and dissatisfied
        ]))
        .await;
    let (status, body) = server.get(&format!("/api/v1/units/{WARD}/score?period=month")).await;
    assert_eq!(status, 200, "{body}");
    let score: Score = serde_json::from_value(body).unwrap();
    // progress: on time D1 + open not overdue D4 (paused), D5 = 3 of D1, D2, D4, D5 = 4.
    assert_eq!(indicator(&score, "progress"), 15.0);
    // online: 1 of 5 received (D3, withdrawn, was still received).
    assert_eq!(indicator(&score, "online"), 2.4);
    assert!(score.indicators.iter().find(|i| i.code == "online").unwrap().approximate);
    // complaints on time: 1 of 2; satisfaction: (2 − 1 dissatisfied − 1 late) ÷ 2 = 0.
    assert_eq!(indicator(&score, "complaints_on_time"), 3.0);
    assert_eq!(indicator(&score, "complaint_satisfaction"), 0.0);
    // dossier satisfaction: resolved D1, D2, D3; r = (3 − 1 − 1) ÷ 3 → min(6, 6 × r ÷ 0.9) = 2.22.
    assert_eq!(indicator(&score, "dossier_satisfaction"), 2.22);
    assert_eq!(score.score, 22.62);
    assert_eq!(score.band, "Yếu");
    assert_eq!(score.at_stake_24h.dossiers, 1);
    assert_eq!(score.at_stake_24h.points, 5.0, "20 × 1 ÷ 4");
    let (_, city) = server.get("/api/v1/units/001/score?period=quarter").await;
    let city: Score = serde_json::from_value(city).unwrap();
    assert_eq!(city.children.first().map(|c| c.rank), Some(1));
    assert!(city.children.windows(2).all(|w| w[0].score >= w[1].score));
    assert_eq!(server.get(&format!("/api/v1/units/{WARD}/score?period=week")).await.0, 400);

    // Live: a running dossier falls due in a few seconds; the score drops without an event.
    let mut live = server.live().await;
    live.send_text(
        &json!({"type": "subscribe", "unit": WARD, "window": "month", "view": "score"}).to_string(),
    )
    .await;
    let first = loop {
        match live.next_message(StdDuration::from_secs(10)).await {
            Some(ServerMessage::Score { data, .. }) => break *data,
            Some(_) => continue,
            None => panic!("no score message"),
        }
    };
    assert_eq!(first.score, score.score);
    // Events carry whole seconds.
    let due = server.now() + Duration::seconds(3);
    server.ingest_ok(&json!([dossier_received("d6", WARD, "D6", m(5), due)])).await;
    let mut dropped_at = None;
    while let Some(message) = live.next_message(StdDuration::from_secs(8)).await {
        if let ServerMessage::Score { data, .. } = message {
            if indicator(&data, "progress") < indicator(&first, "progress")
                && data.at_stake_24h.dossiers == 1
            {
                dropped_at = Some(server.server.state.clock.now());
                break;
            }
        }
    }
    let dropped_at = dropped_at.expect("the score dropped when the dossier turned overdue");
    assert!(dropped_at >= due, "not before the due time");
    assert!(
        dropped_at - due <= Duration::seconds(2),
        "within 2 s of the due time: {:?}",
        dropped_at - due
    );
    // A score view needs a calendar period.
    live.send_text(
        &json!({"type": "subscribe", "unit": WARD, "window": "24h", "view": "score"}).to_string(),
    )
    .await;
    match live.next_message(StdDuration::from_secs(5)).await {
        Some(ServerMessage::Error { message, .. }) => {
            assert!(message.contains("month, quarter or year"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    server.cleanup().await;
}
