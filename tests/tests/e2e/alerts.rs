//! Alerts: rules that watch a unit's figures, raised live (once across replicas),
//! acknowledged, resolved by themselves; who may write rules and see alerts.

use chrono::{DateTime, Duration, Utc};
use ioc_shared::access::Role;
use ioc_tests::events::*;
use ioc_tests::{
    client_with_cookie, ensure_user, eventually, login, paired_display, post_json as post,
    TestServer,
};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration as StdDuration;

const WARD: &str = "00004"; // Phường Trúc Bạch, in Quận Ba Đình
const DISTRICT: &str = "001"; // Quận Ba Đình
const OTHER_DISTRICT: &str = "002"; // Quận Hoàn Kiếm

fn overdue_rule(unit: &str, threshold: f64) -> Value {
    json!({
        "name": "Hồ sơ quá hạn", "unit": unit, "include_children": false,
        "metric": "dossiers.overdue", "window": "24h", "op": ">", "threshold": threshold,
        "severity": "critical", "notify": {"roles": ["chief"]}
    })
}

async fn alerts_of(server: &TestServer, query: &str) -> Vec<Value> {
    let (status, page) = server.get(&format!("/api/v1/alerts?{query}")).await;
    assert_eq!(status, 200, "{page}");
    page["alerts"].as_array().unwrap().clone()
}

async fn audit_actions(server: &TestServer, action: &str) -> Vec<Value> {
    let (_, entries) = server.get("/api/v1/admin/audit?limit=1000").await;
    entries.as_array().unwrap().iter().filter(|e| e["action"] == action).cloned().collect()
}

/// The issue's first promise: an item passing its due time raises the alert (no event needed),
/// two replicas raise it once, it is acknowledged with a note, and it resolves by itself when
/// the item is resolved.
#[sqlx::test(migrations = "../server/migrations")]
async fn an_item_passing_its_due_time_raises_one_alert_across_replicas_acknowledged_then_resolved(
    pool: PgPool,
) {
    let first = TestServer::start(&pool).await;
    let second = TestServer::start_with_prefix(&pool, &first.prefix).await;
    let (status, rule) =
        post(&first.http, format!("{}/api/v1/alerts/rules", first.base), &overdue_rule(WARD, 0.0))
            .await;
    assert_eq!(status, 201, "{rule}");
    let rule_id = rule["id"].as_i64().unwrap();
    assert_eq!(rule["metric"], "dossiers.overdue");
    assert_eq!(rule["created_by"], format!("user:{}", ioc_tests::ADMIN.0));

    let t = first.now();
    let due = t + Duration::seconds(3);
    first.ingest_ok(&json!([dossier_received("1", WARD, "HS-1", t, due)])).await;
    // Wait for the replicas to see the rule (the second replica reads rules every 10 s).
    tokio::time::sleep(StdDuration::from_secs(1)).await;
    if chrono::Utc::now() < due {
        assert!(alerts_of(&first, "unit=01").await.is_empty(), "nothing is overdue yet");
    }
    eventually(StdDuration::from_secs(20), "the alert fires", || async {
        !alerts_of(&first, &format!("unit={WARD}&state=firing")).await.is_empty()
    })
    .await;
    let alerts = alerts_of(&first, "unit=01").await;
    assert_eq!(alerts.len(), 1, "{alerts:?}");
    let alert = &alerts[0];
    assert_eq!(alert["rule"], json!({"id": rule_id, "name": "Hồ sơ quá hạn"}));
    assert_eq!(alert["unit"]["code"], WARD);
    assert_eq!(alert["unit"]["name"], "Phường Trúc Bạch");
    assert_eq!(alert["value"], 1.0, "the summary's overdue count");
    assert_eq!(alert["threshold"], 0.0);
    assert_eq!(alert["severity"], "critical");
    assert_eq!(alert["window"], "24h");
    assert_eq!(alert["acknowledged"], Value::Null);
    let since = ioc_shared::time::parse_rfc3339(alert["since"].as_str().unwrap()).unwrap();
    assert!(since >= due, "not before the due time: {since} < {due}");
    assert!(since <= due + Duration::seconds(2), "within 2 s of the due time: {since}");
    let summary = first.summary(WARD, "24h").await;
    assert_eq!(summary.dossiers.overdue as f64, alert["value"].as_f64().unwrap());

    // Both replicas keep evaluating: still one alert, fired once.
    tokio::time::sleep(StdDuration::from_secs(11)).await;
    assert_eq!(alerts_of(&second, "unit=01").await.len(), 1);
    assert_eq!(audit_actions(&first, "alert_fired").await.len(), 1);

    let alert_id = alert["id"].as_i64().unwrap();
    let ack_url = format!("{}/api/v1/alerts/{alert_id}/ack", first.base);
    let on_second = format!("{}/api/v1/alerts/{alert_id}/ack", second.base);
    let (status, acked) =
        post(&second.http, on_second, &json!({"note": "Đã giao phường xử lý"})).await;
    assert_eq!(status, 200, "{acked}");
    assert_eq!(acked["state"], "acknowledged");
    assert_eq!(acked["acknowledged"]["by"], format!("user:{}", ioc_tests::ADMIN.0));
    assert_eq!(acked["acknowledged"]["note"], "Đã giao phường xử lý");
    let (status, again) = post(&first.http, ack_url, &json!({})).await;
    assert_eq!(status, 409, "{again}");
    assert_eq!(audit_actions(&first, "alert_acknowledged").await.len(), 1);

    first.ingest_ok(&json!([dossier_resolved("2", WARD, "HS-1", first.now(), "completed")])).await;
    eventually(StdDuration::from_secs(20), "the alert resolves by itself", || async {
        alerts_of(&first, "unit=01").await.iter().all(|a| a["state"] == "resolved")
    })
    .await;
    let resolved = &alerts_of(&first, "state=resolved").await[0];
    assert_eq!(resolved["id"], alert_id);
    assert!(resolved["resolved_at"].is_string());
    assert_eq!(resolved["acknowledged"]["note"], "Đã giao phường xử lý", "the record stays");
    assert!(alerts_of(&first, "state=firing").await.is_empty());
    assert_eq!(audit_actions(&first, "alert_resolved").await.len(), 1);
    first.cleanup().await;
}

/// A rate is not evaluated on fewer rated items than `min_sample`; a rule with `for_seconds`
/// fires only once its condition has held that long; `include_children` raises one alert per
/// unit below.
#[sqlx::test(migrations = "../server/migrations")]
async fn rates_wait_for_their_sample_conditions_for_their_duration_and_children_get_one_alert_each(
    pool: PgPool,
) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let mut events = Vec::new();
    // Two dossiers resolved late in the ward: an on-time rate of 0 over 2 rated.
    for n in 0..2 {
        let dossier = format!("HS-{n}");
        events.push(dossier_received(
            &format!("r{n}"),
            WARD,
            &dossier,
            t - Duration::days(3),
            t - Duration::days(1),
        ));
        events.push(dossier_resolved(&format!("s{n}"), WARD, &dossier, t, "completed"));
    }
    // And one overdue dossier in a ward of another district.
    events.push(dossier_received(
        "o1",
        "00037",
        "HS-9",
        t - Duration::days(2),
        t - Duration::hours(1),
    ));
    server.ingest_ok(&json!(events)).await;
    server.settle().await;
    let rate_rule = |min_sample: u32| {
        json!({"name": format!("Đúng hạn (≥ {min_sample})"), "unit": DISTRICT, "include_children": true,
               "metric": "dossiers.on_time_rate", "window": "30d", "op": "<", "threshold": 0.8,
               "min_sample": min_sample})
    };
    let rules_url = format!("{}/api/v1/alerts/rules", server.base);
    let (_, strict) = post(&server.http, rules_url.clone(), &rate_rule(3)).await;
    let (_, loose) = post(&server.http, rules_url.clone(), &rate_rule(2)).await;
    let created = chrono::Utc::now();
    let (_, waiting) = post(
        &server.http,
        rules_url.clone(),
        &json!({"name": "Quá hạn kéo dài", "unit": "01", "include_children": true,
                "metric": "dossiers.overdue", "window": "24h", "op": ">=", "threshold": 1,
                "for_seconds": 3}),
    )
    .await;
    let count_of = |rule: &Value| {
        let id = rule["id"].clone();
        let server = &server;
        async move { alerts_of(server, "").await.iter().filter(|a| a["rule"]["id"] == id).count() }
    };
    eventually(StdDuration::from_secs(20), "the loose rate rule fires twice", || async {
        count_of(&loose).await == 2
    })
    .await;
    let alerts = alerts_of(&server, "").await;
    let of = |rule: &Value| -> Vec<String> {
        let mut units: Vec<String> = alerts
            .iter()
            .filter(|a| a["rule"]["id"] == rule["id"])
            .map(|a| a["unit"]["code"].as_str().unwrap().to_owned())
            .collect();
        units.sort();
        units
    };
    // The ward and its district both have 2 late of 2 rated; the other wards of the district
    // have nothing rated, so nothing to say.
    assert_eq!(of(&loose), vec![WARD.to_owned(), DISTRICT.to_owned()]);
    assert!(of(&strict).is_empty(), "2 rated is below the strict rule's sample of 3");
    let rate = alerts.iter().find(|a| a["rule"]["id"] == loose["id"]).unwrap();
    assert_eq!(rate["value"], 0.0);

    eventually(StdDuration::from_secs(20), "the lasting condition fires three times", || async {
        count_of(&waiting).await == 3
    })
    .await;
    let alerts = alerts_of(&server, "").await;
    let lasting: Vec<&Value> = alerts.iter().filter(|a| a["rule"]["id"] == waiting["id"]).collect();
    let mut units: Vec<&str> =
        lasting.iter().map(|a| a["unit"]["code"].as_str().unwrap()).collect();
    units.sort();
    assert_eq!(units, vec!["00037", "002", "01"], "the ward, its district and the city");
    for alert in lasting {
        let since = ioc_shared::time::parse_rfc3339(alert["since"].as_str().unwrap()).unwrap();
        assert!(
            since >= created + Duration::seconds(3) - Duration::milliseconds(999),
            "fired {since}, the rule was created {created} with for_seconds 3"
        );
    }
    // A chief of Ba Đình sees his district's alerts only.
    let state = &server.server.state;
    ensure_user(state, "truong.badinh", "chief-password-1", Role::Chief, Some(DISTRICT)).await;
    let chief = client_with_cookie(
        &server.base,
        &login(&server.base, "truong.badinh", "chief-password-1").await.unwrap(),
    );
    let page: Value = chief
        .get(format!("{}/api/v1/alerts", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seen: Vec<&str> = page["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["unit"]["code"].as_str().unwrap())
        .collect();
    assert!(!seen.is_empty() && seen.iter().all(|u| *u == DISTRICT || *u == WARD), "{seen:?}");
    let refused = chief
        .get(format!("{}/api/v1/alerts?unit={OTHER_DISTRICT}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);
    server.cleanup().await;
}

/// Rules: created, read, listed by the unit they evaluate, replaced, deleted; refused with the
/// reason when wrong; written only by those responsible for the unit, never by a display.
#[sqlx::test(migrations = "../server/migrations")]
async fn rules_are_checked_scoped_listed_replaced_and_deleted(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let state = &server.server.state;
    ensure_user(state, "truong.badinh", "chief-password-1", Role::Chief, Some(DISTRICT)).await;
    ensure_user(state, "truong.hoankiem", "chief-password-2", Role::Chief, Some(OTHER_DISTRICT))
        .await;
    ensure_user(state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    let as_user = |name: &'static str, password: &'static str| {
        let base = server.base.clone();
        async move { client_with_cookie(&base, &login(&base, name, password).await.unwrap()) }
    };
    let chief = as_user("truong.badinh", "chief-password-1").await;
    let other_chief = as_user("truong.hoankiem", "chief-password-2").await;
    let leader = as_user("lanhdao", "leader-password-1").await;
    let rules_url = format!("{}/api/v1/alerts/rules", server.base);

    // The chief writes a rule on his ward; the leader one on the city.
    let (status, ward_rule) = post(&chief, rules_url.clone(), &overdue_rule(WARD, 5.0)).await;
    assert_eq!(status, 201, "{ward_rule}");
    let mut city = overdue_rule("01", 50.0);
    city["include_children"] = json!(true);
    let (status, city_rule) = post(&leader, rules_url.clone(), &city).await;
    assert_eq!(status, 201, "{city_rule}");
    // Not on a unit outside his own; the refusal is audited.
    let (status, refused) =
        post(&chief, rules_url.clone(), &overdue_rule(OTHER_DISTRICT, 1.0)).await;
    assert_eq!(status, 403, "{refused}");
    let (status, _) = post(&chief, rules_url.clone(), &overdue_rule("01", 1.0)).await;
    assert_eq!(status, 403, "a chief cannot write a rule above his unit");

    // Listed by the unit they evaluate: the ward has its own and the city's.
    let ids = |page: &Value| -> Vec<i64> {
        page["rules"].as_array().unwrap().iter().map(|r| r["id"].as_i64().unwrap()).collect()
    };
    let (_, of_ward) = server.get(&format!("/api/v1/alerts/rules?unit={WARD}")).await;
    assert_eq!(
        ids(&of_ward),
        vec![ward_rule["id"].as_i64().unwrap(), city_rule["id"].as_i64().unwrap()]
    );
    let (_, of_other) = server.get(&format!("/api/v1/alerts/rules?unit={OTHER_DISTRICT}")).await;
    assert_eq!(ids(&of_other), vec![city_rule["id"].as_i64().unwrap()]);
    // The other district's chief does not see the Ba Đình ward's rule, nor may he change it.
    let theirs: Value =
        other_chief.get(rules_url.clone()).send().await.unwrap().json().await.unwrap();
    assert_eq!(ids(&theirs), vec![city_rule["id"].as_i64().unwrap()]);
    let rule_url = format!("{rules_url}/{}", ward_rule["id"]);
    let hidden = other_chief.get(rule_url.clone()).send().await.unwrap();
    assert_eq!(hidden.status().as_u16(), 404);
    let hidden = other_chief.delete(rule_url.clone()).send().await.unwrap();
    assert_eq!(hidden.status().as_u16(), 404);
    let city_url = format!("{rules_url}/{}", city_rule["id"]);
    let not_his = chief.put(city_url.clone()).json(&city).send().await.unwrap();
    assert_eq!(not_his.status().as_u16(), 403, "he sees the city's rule but may not change it");

    // Replaced and read back.
    let mut changed = overdue_rule(WARD, 7.0);
    changed["severity"] = json!("warning");
    let response = chief.put(rule_url.clone()).json(&changed).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let (status, read) = server.get(&format!("/api/v1/alerts/rules/{}", ward_rule["id"])).await;
    assert_eq!(status, 200);
    assert_eq!(read["threshold"], 7.0);
    assert_eq!(read["severity"], "warning");
    assert_eq!(read["created_at"], ward_rule["created_at"]);

    // Bad rules are refused with the reason; nothing is stored.
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut unknown_metric = overdue_rule(WARD, 1.0);
    unknown_metric["metric"] = json!("dossiers.lateness");
    cases.push((unknown_metric, "unknown metric"));
    let mut misspelt = overdue_rule(WARD, 1.0);
    misspelt["treshold"] = json!(3);
    cases.push((misspelt, "treshold"));
    let mut unknown_unit = overdue_rule(WARD, 1.0);
    unknown_unit["unit"] = json!("99999");
    cases.push((unknown_unit, "unknown unit"));
    let mut bad_window = overdue_rule(WARD, 1.0);
    bad_window["window"] = json!("fortnight");
    cases.push((bad_window, "window"));
    let mut bad_op = overdue_rule(WARD, 1.0);
    bad_op["op"] = json!("==");
    cases.push((bad_op, "op"));
    let mut score_by_day = overdue_rule(WARD, 1.0);
    score_by_day["metric"] = json!("score.total");
    cases.push((score_by_day, "month, quarter or year"));
    let mut text_threshold = overdue_rule(WARD, 1.0);
    text_threshold["threshold"] = json!("twenty");
    cases.push((text_threshold, "threshold"));
    let mut negative = overdue_rule(WARD, 1.0);
    negative["for_seconds"] = json!(-5);
    cases.push((negative, "for_seconds"));
    for (body, reason) in cases {
        let (status, answer) = post(&server.http, rules_url.clone(), &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(reason), "{answer} should say {reason}");
    }
    let raw = server
        .http
        .post(rules_url.clone())
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);

    // A wall display neither reads nor writes rules, nor acknowledges.
    let (_, display) = paired_display(&server, DISTRICT).await;
    let wall = client_with_cookie(&server.base, &display);
    assert_eq!(wall.get(rules_url.clone()).send().await.unwrap().status().as_u16(), 403);
    let (status, _) = post(&wall, rules_url.clone(), &overdue_rule(WARD, 1.0)).await;
    assert_eq!(status, 403);
    let (status, _) = post(&wall, format!("{}/api/v1/alerts/1/ack", server.base), &json!({})).await;
    assert_eq!(status, 403);

    // Deleted: gone, and audited with its creation and change.
    let response = chief.delete(rule_url.clone()).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert_eq!(server.get(&format!("/api/v1/alerts/rules/{}", ward_rule["id"])).await.0, 404);
    assert_eq!(chief.delete(rule_url).send().await.unwrap().status().as_u16(), 404);
    for action in ["alert_rule_created", "alert_rule_changed", "alert_rule_deleted"] {
        assert!(!audit_actions(&server, action).await.is_empty(), "{action} audited");
    }
    let (_, all) = server.get("/api/v1/alerts/rules").await;
    assert_eq!(ids(&all), vec![city_rule["id"].as_i64().unwrap()]);
    server.cleanup().await;
}

/// `complaints.spike`: the last hour's complaints over the mean of the same hour on the previous
/// four same weekdays, for the unit and each unit above it (one alert each); a baseline under
/// `min_sample` is not evaluated; when the hour moves on (the clock, no event) the alerts resolve.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_complaint_spike_over_the_same_hour_of_four_weekdays_fires_up_the_tree_and_ends_with_the_hour(
    pool: PgPool,
) {
    const QUIET_WARD: &str = "00001"; // Phường Phúc Xá, in Quận Ba Đình too
    let start = DateTime::from_timestamp(ioc_tests::now().timestamp(), 0).unwrap();
    let clock = ioc_shared::time::Clock::manual(start);
    let server = TestServer::start_clocked(&pool, clock.clone()).await;
    let rule = json!({
        "name": "Phản ánh tăng đột biến", "unit": DISTRICT, "include_children": true,
        "metric": "complaints.spike", "window": "24h", "op": ">=", "threshold": 3,
        "min_sample": 4, "severity": "warning", "notify": {"roles": ["chief"]}
    });
    let (status, rule) =
        post(&server.http, format!("{}/api/v1/alerts/rules", server.base), &rule).await;
    assert_eq!(status, 201, "{rule}");

    let mut events = Vec::new();
    let mut complaint = |unit: &str, at: DateTime<Utc>| {
        let n = events.len();
        let due = at + Duration::days(10);
        events.push(complaint_received(
            &format!("S{n}"),
            unit,
            &format!("PA-{n}"),
            at,
            due,
            "moi_truong",
            "zalo",
        ));
    };
    // The ward's same hour on the previous four same weekdays: 2 + 1 + 0 + 1 = a mean of 1.
    for (weeks, count) in [(1, 2), (2, 1), (3, 0), (4, 1)] {
        for minute in 0..count {
            complaint(WARD, start - Duration::weeks(weeks) - Duration::minutes(30 + minute));
        }
    }
    // Outside those hours: counted by nobody.
    complaint(WARD, start - Duration::weeks(1) - Duration::minutes(61));
    complaint(WARD, start - Duration::days(6) - Duration::minutes(30));
    // The quiet ward: one complaint at that hour in four weeks, under the rule's min_sample.
    complaint(QUIET_WARD, start - Duration::weeks(2) - Duration::minutes(10));
    // The last hour: 3 in the ward (×3), 5 in the quiet ward.
    for minute in [50, 20, 1] {
        complaint(WARD, start - Duration::minutes(minute));
    }
    for minute in [40, 30, 20, 10, 5] {
        complaint(QUIET_WARD, start - Duration::minutes(minute));
    }
    server.ingest_ok(&Value::Array(events)).await;

    eventually(StdDuration::from_secs(20), "the ward and its district fire", || async {
        alerts_of(&server, &format!("unit={DISTRICT}&state=firing")).await.len() == 2
    })
    .await;
    let alerts = alerts_of(&server, &format!("unit={DISTRICT}")).await;
    let value_of = |unit: &str| {
        alerts.iter().find(|a| a["unit"]["code"] == unit).map(|a| a["value"].as_f64().unwrap())
    };
    assert_eq!(value_of(WARD), Some(3.0), "3 now over a mean of 1: {alerts:?}");
    // The district: 3 + 5 = 8 now over (2 + 1 + 0 + 1 + 1) ÷ 4 = 1.25.
    assert_eq!(value_of(DISTRICT), Some(6.4), "{alerts:?}");
    assert_eq!(value_of(QUIET_WARD), None, "a baseline of 1 is under min_sample 4");
    assert!(alerts.iter().all(|a| a["metric"] == "complaints.spike" && a["threshold"] == 3.0));

    // An hour later, with no event: the last hour is empty, both alerts resolve.
    clock.advance(Duration::minutes(61));
    eventually(StdDuration::from_secs(20), "the spike ends with its hour", || async {
        alerts_of(&server, &format!("unit={DISTRICT}&state=resolved")).await.len() == 2
    })
    .await;
    assert!(alerts_of(&server, &format!("unit={DISTRICT}&state=firing")).await.is_empty());
    server.cleanup().await;
}

/// A fresh install has the documented default rules, installed once: a second replica or a
/// restart adds none, and a default the city deleted stays deleted.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_fresh_install_has_the_default_rules_once_and_a_deleted_one_stays_deleted(pool: PgPool) {
    let with_defaults = |s: &mut ioc_server::Settings| s.alert_defaults = true;
    let first = TestServer::start_configured(&pool, with_defaults).await;
    let (_, page) = first.get("/api/v1/alerts/rules").await;
    let rules = page["rules"].as_array().unwrap().clone();
    let metrics: Vec<&str> = rules.iter().map(|r| r["metric"].as_str().unwrap()).collect();
    assert_eq!(
        metrics,
        vec!["dossiers.on_time_rate", "source.silent", "complaints.overdue", "complaints.spike"]
    );
    assert!(rules.iter().all(|r| r["created_by"] == "default" && r["unit"] == "01"));
    assert_eq!(rules[0]["min_sample"], 20);
    assert_eq!(rules[0]["threshold"], 0.8);
    let deleted = first
        .http
        .delete(format!("{}/api/v1/alerts/rules/{}", first.base, rules[2]["id"]))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 204);
    let second = TestServer::start_configured(&pool, with_defaults).await;
    let (_, page) = second.get("/api/v1/alerts/rules").await;
    assert_eq!(page["rules"].as_array().unwrap().len(), 3, "{page}");
    first.cleanup().await;
    second.cleanup().await;
}

/// Random bodies and parameters on every alert endpoint: never a 5xx.
#[sqlx::test(migrations = "../server/migrations")]
async fn random_alert_requests_never_answer_5xx(pool: PgPool) {
    use rand::{Rng, SeedableRng};
    let server = TestServer::start(&pool).await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0xA1E27);
    let fields = [
        "name",
        "unit",
        "include_children",
        "metric",
        "window",
        "op",
        "threshold",
        "for_seconds",
        "severity",
        "min_sample",
        "notify",
        "escalate_after_minutes",
        "note",
    ];
    let rules_url = format!("{}/api/v1/alerts/rules", server.base);
    let mut base = overdue_rule(WARD, 1.0);
    base["escalate_after_minutes"] = json!(10);
    for round in 0..150 {
        let body = ioc_tests::fuzz::mutated(&mut rng, &base, &fields, &[]);
        let targets = [
            server.http.post(rules_url.clone()),
            server.http.put(format!("{rules_url}/{}", rng.random_range(-2..5))),
            server.http.post(format!(
                "{}/api/v1/alerts/{}/ack",
                server.base,
                rng.random_range(-2..5)
            )),
        ];
        let request = targets.into_iter().nth(round % 3).unwrap();
        let response = request
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500, "{body}: {}", response.status());
    }
    for query in [
        "state=open",
        "cursor=abc",
        "cursor=-1",
        "unit=%00",
        "unit=99999",
        "state=&cursor=",
        "cursor=99999999999999999999",
    ] {
        let (status, body) = server.get(&format!("/api/v1/alerts?{query}")).await;
        assert!(
            status < 500 && status != 200 || query.starts_with("state=&"),
            "{query}: {status} {body}"
        );
    }
    for path in [
        "/api/v1/alerts/rules/abc",
        "/api/v1/alerts/rules/0",
        "/api/v1/alerts/rules/99999999999999999999",
    ] {
        assert_eq!(server.get(path).await.0, 404, "{path}");
    }
    server.cleanup().await;
}

/// The live `alerts` view: the open alerts of a unit and the units below it, pushed within 2 s
/// of a change (fired, acknowledged, resolved), to a leader's screen and to a wall display of
/// the district — without who acknowledged or their note.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_live_alerts_view_pushes_every_change_to_screens_and_walls_without_names(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut leader = server.live().await;
    leader.send_text(r#"{"type": "subscribe", "unit": "01", "view": "alerts"}"#).await;
    let (unit, first_version, alerts) =
        leader.alerts_where(StdDuration::from_secs(10), |_| true).await;
    assert_eq!(unit, "01");
    assert!(alerts.is_empty());
    let (_, display) = paired_display(&server, DISTRICT).await;
    let mut wall =
        ioc_tests::LiveClient::connect_as(&server.ws_url(), Some(&display), None).await.unwrap();
    wall.send_text(r#"{"type": "subscribe", "unit": "001", "view": "alerts"}"#).await;
    wall.alerts_where(StdDuration::from_secs(10), |a| a.is_empty()).await;
    // The wall may not follow a unit outside its own.
    wall.send_text(r#"{"type": "subscribe", "unit": "002", "view": "alerts"}"#).await;
    match wall.next_message(StdDuration::from_secs(5)).await {
        Some(ioc_shared::live::ServerMessage::Error { unit, .. }) => {
            assert_eq!(unit.as_deref(), Some("002"))
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    let (status, rule) = post(
        &server.http,
        format!("{}/api/v1/alerts/rules", server.base),
        &overdue_rule(WARD, 0.0),
    )
    .await;
    assert_eq!(status, 201);
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received(
            "1",
            WARD,
            "HS-1",
            t - Duration::days(1),
            t - Duration::hours(1)
        )]))
        .await;
    let (_, version, alerts) =
        leader.alerts_where(StdDuration::from_secs(10), |a| !a.is_empty()).await;
    assert!(version > first_version);
    assert_eq!(alerts.len(), 1);
    assert_eq!(alerts[0].rule.id, rule["id"].as_i64());
    assert_eq!(alerts[0].unit.code, WARD);
    assert_eq!(alerts[0].state, ioc_shared::alerts::AlertState::Firing);
    let (_, _, on_wall) = wall.alerts_where(StdDuration::from_secs(10), |a| !a.is_empty()).await;
    assert_eq!(on_wall, alerts, "the wall sees the district's alert");

    let ack = format!("{}/api/v1/alerts/{}/ack", server.base, alerts[0].id);
    let (status, _) = post(&server.http, ack, &json!({"note": "Ông Nguyễn Văn A xử lý"})).await;
    assert_eq!(status, 200);
    let acked_at = std::time::Instant::now();
    let (_, _, acked) = wall
        .alerts_where(StdDuration::from_secs(10), |a| {
            a.first().is_some_and(|a| a.state == ioc_shared::alerts::AlertState::Acknowledged)
        })
        .await;
    assert!(acked_at.elapsed() < StdDuration::from_secs(2), "pushed within 2 s");
    let acknowledgement = acked[0].acknowledged.as_ref().unwrap();
    assert_eq!(acknowledgement.by, "", "no names on the live view");
    assert_eq!(acknowledgement.note, None, "no notes on the live view");
    let (_, over_http) = server.get("/api/v1/alerts?unit=001").await;
    assert_eq!(over_http["alerts"][0]["acknowledged"]["note"], "Ông Nguyễn Văn A xử lý");

    server
        .ingest_ok(&json!([dossier_resolved("2", WARD, "HS-1", server.now(), "completed")]))
        .await;
    leader.alerts_where(StdDuration::from_secs(10), |a| a.is_empty()).await;
    wall.alerts_where(StdDuration::from_secs(10), |a| a.is_empty()).await;
    server.cleanup().await;
}
