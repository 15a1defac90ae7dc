//! Working-day deadlines: `GET /api/v1/calendar/due`, `due_in` on events, and pauses that
//! extend a working-time deadline by the working time paused.

use ioc_tests::TestServer;
use serde_json::{json, Value};
use sqlx::PgPool;

async fn due(server: &TestServer, query: &str) -> (u16, Value) {
    server.get(&format!("/api/v1/calendar/due?{query}")).await
}

fn encoded(time: &str) -> String {
    time.replace('+', "%2B")
}

#[sqlx::test(migrations = "../server/migrations")]
async fn deadlines_cross_weekends_tet_and_compensatory_saturdays(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    for (from, amount, expected) in [
        // Friday 15:00 + 4 working hours: 2 on Friday, 2 on Monday.
        ("2026-11-20T15:00:00+07:00", "working_hours=4", "2026-11-23T10:00:00+07:00"),
        // Over lunch: 11:00 + 2 h.
        ("2026-11-23T11:00:00+07:00", "working_hours=2", "2026-11-23T14:00:00+07:00"),
        // The day before Tết Bính Ngọ (Saturday 14/2 – Sunday 22/2/2026) + 1 working day.
        ("2026-02-13T10:00:00+07:00", "working_days=1", "2026-02-23T10:00:00+07:00"),
        // Friday 9/1/2026 + 4 h runs into the compensatory working Saturday 10/1/2026.
        ("2026-01-09T15:00:00+07:00", "working_hours=4", "2026-01-10T10:00:00+07:00"),
        // Friday 2/1/2026 was swapped off: from New Year's Day, the first working hour is on
        // Monday 5/1.
        ("2026-01-01T09:00:00+07:00", "working_hours=1", "2026-01-05T09:00:00+07:00"),
        // 15 working days from a Monday morning: three working weeks, to the last minute.
        ("2026-11-02T08:00:00+07:00", "working_days=15", "2026-11-20T17:00:00+07:00"),
        // A UTC `from` (17:30 in Hanoi, after hours) answers in local time.
        ("2026-11-20T10:30:00Z", "working_hours=1", "2026-11-23T09:00:00+07:00"),
    ] {
        let (status, body) = due(&server, &format!("from={}&{amount}", encoded(from))).await;
        assert_eq!(
            (status, body["due"].as_str()),
            (200, Some(expected)),
            "{from} + {amount}: {body}"
        );
    }
    // An unencoded `+07:00` in the query (a `+` there means a space) is read as meant.
    let (status, body) = due(&server, "from=2026-11-20T15:00:00+07:00&working_hours=4").await;
    assert_eq!((status, body["due"].as_str()), (200, Some("2026-11-23T10:00:00+07:00")), "{body}");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn bad_calendar_questions_get_a_clear_400_and_strangers_a_401(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let from = encoded("2026-11-20T15:00:00+07:00");
    for (query, expected) in [
        (format!("from={from}"), "exactly one of"),
        (format!("from={from}&working_hours=2&working_days=1"), "exactly one of"),
        (format!("from={from}&working_hours=0"), "between 1 and"),
        (format!("from={from}&working_days=-3"), "whole number"),
        (format!("from={from}&working_hours=999999999"), "between 1 and"),
        ("working_hours=2".to_owned(), "missing `from`"),
        ("from=yesterday&working_hours=2".to_owned(), "not an RFC 3339 time"),
    ] {
        let (status, body) = due(&server, &query).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body["error"].as_str().unwrap().contains(expected), "{query}: {body}");
    }
    let stranger = reqwest::Client::new()
        .get(format!("{}/api/v1/calendar/due?from={from}&working_hours=2", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status().as_u16(), 401);
    // A source system asks with its ingest key.
    let source = reqwest::Client::new()
        .get(format!("{}/api/v1/calendar/due?from={from}&working_hours=2", server.base))
        .bearer_auth(ioc_tests::TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(source.status().as_u16(), 200);
    server.cleanup().await;
}

/// An event with `due_in` instead of `due`: the server computes `due` on the calendar from the
/// event's `at`, stores both, and a pause extends it by the working time paused.
#[sqlx::test(migrations = "../server/migrations")]
async fn due_in_becomes_a_due_and_pauses_extend_it_in_working_time(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let received = json!({"id": "r1", "source": "mot-cua", "type": "dossier.received", "at": "2026-11-16T08:00:00+07:00",
        "unit": "00004", "dossier": "HS-1", "procedure": "Đăng ký khai sinh", "field": "Hộ tịch", "channel": "online",
        "due_in": {"working_hours": 10}});
    let complaint = json!({"id": "c1", "source": "tong-dai", "type": "complaint.received", "at": "2026-11-20T15:00:00+07:00",
        "unit": "00004", "complaint": "PA-1", "field": "Môi trường", "channel": "hotline", "due_in": {"working_days": 2}});
    // Paused Monday 16/11 16:00, resumed Tuesday 17/11 09:00: 2 working hours.
    let paused = json!({"id": "p1", "source": "mot-cua", "type": "dossier.paused", "at": "2026-11-16T16:00:00+07:00", "unit": "00004", "dossier": "HS-1"});
    let resumed = json!({"id": "s1", "source": "mot-cua", "type": "dossier.resumed", "at": "2026-11-17T09:00:00+07:00", "unit": "00004", "dossier": "HS-1"});
    server.ingest_ok(&json!([received, complaint, paused, resumed])).await;
    server.settle().await;

    let (status, list) = server.get("/api/v1/units/00004/items?kind=dossier&state=overdue").await;
    assert_eq!(status, 200, "{list}");
    let item = &list["items"][0];
    // 10 working hours from Monday 08:00: Monday's 8, then Tuesday 08:00–10:00.
    assert_eq!(item["due"], json!("2026-11-17T10:00:00+07:00"), "{item}");
    // Plus the 2 working hours paused: Tuesday 12:00 (not 12:00 + the 17 clock hours paused).
    assert_eq!(item["due_extended"], json!("2026-11-17T12:00:00+07:00"), "{item}");
    let (_, complaints) = server.get("/api/v1/units/00004/items?kind=complaint&state=open").await;
    // Friday 15:00 + 2 working days (16 h): Monday 8 h, Tuesday 8 h … ends Tuesday 15:00.
    assert_eq!(complaints["items"][0]["due"], json!("2026-11-24T15:00:00+07:00"), "{complaints}");

    // The event log keeps both `due` and `due_in`.
    let stored: Value = sqlx::query_scalar("SELECT body FROM events WHERE event_id = 'r1'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored["due_in"], json!({"working_hours": 10}), "{stored}");
    assert!(stored["due"].is_string(), "{stored}");
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_bad_due_in_is_refused_and_the_rest_of_the_batch_kept(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let base = json!({"source": "mot-cua", "type": "dossier.received", "at": "2026-11-16T08:00:00+07:00",
        "unit": "00004", "procedure": "Đăng ký khai sinh", "field": "Hộ tịch", "channel": "online"});
    let with = |id: &str, extra: Value| {
        let mut event = base.clone();
        event["id"] = json!(id);
        event["dossier"] = json!(format!("HS-{id}"));
        for (key, value) in extra.as_object().unwrap() {
            event[key] = value.clone();
        }
        event
    };
    let batch = json!([
        with("ok", json!({"due_in": {"working_days": 3}})),
        with("both", json!({"due_in": {"working_days": 3}, "due": "2026-11-20T17:00:00+07:00"})),
        // Both, agreeing (3 working days from Monday 08:00 end Wednesday 17:00): accepted.
        with(
            "agreeing",
            json!({"due_in": {"working_days": 3}, "due": "2026-11-18T17:00:00+07:00"})
        ),
        with("zero", json!({"due_in": {"working_hours": 0}})),
        with("shape", json!({"due_in": {"working_weeks": 1}})),
        with("text", json!({"due_in": "3 days"})),
        with("none", json!({})),
    ]);
    let (status, body) = server.ingest(&batch).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["accepted"], json!(2), "{body}");
    let reasons: Vec<String> = body["rejected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["error"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons.len(), 5, "{body}");
    assert!(
        reasons[0].contains("not both") && reasons[0].contains("2026-11-18T17:00:00+07:00"),
        "{reasons:?}"
    );
    assert!(reasons[1].contains("between 1 and"), "{reasons:?}");
    assert!(reasons[2].contains("`due_in` must be"), "{reasons:?}");
    assert!(reasons[3].contains("`due_in` must be"), "{reasons:?}");
    assert!(reasons[4].contains("or give `due_in`"), "{reasons:?}");
    server.cleanup().await;
}
