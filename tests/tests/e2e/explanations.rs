//! Explanation requests (yêu cầu giải trình) and directions (chỉ đạo): a leader asks a ward to
//! explain, the ward's chief is mailed and answers, whoever asked is told, closes or asks
//! again; an unanswered request past its working-time due is overdue, counted, listed and
//! notified once; directions show on the item wherever it is listed. Scope refusals for
//! another district's chief and for displays; random bodies never 5xx.

use chrono::Duration;
use ioc_shared::access::Role;
use ioc_shared::calendar::{DueIn, WorkingCalendar};
use ioc_tests::events::*;
use ioc_tests::receivers::{SmtpServer, WebhookReceiver};
use ioc_tests::{
    client_with_cookie, ensure_user, eventually, login, paired_display, post_json as post,
    TestServer,
};
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration as StdDuration;

const WARD: &str = "00004"; // Phường Trúc Bạch, in Quận Ba Đình (001)
const DISTRICT: &str = "001";
const OTHER_DISTRICT: &str = "002"; // Quận Hoàn Kiếm
const SECRET: &str = "the-telegram-bridge-secret";

struct People {
    leader: reqwest::Client,
    ward_chief: reqwest::Client,
    district_chief: reqwest::Client,
    other_chief: reqwest::Client,
}

/// A leader, the ward's chief, Ba Đình's chief and Hoàn Kiếm's chief, logged in; the leader
/// and the ward's chief have email addresses.
async fn people(server: &TestServer) -> People {
    let state = &server.server.state;
    ensure_user(state, "lanhdao", "leader-password-1", Role::Leader, None).await;
    ensure_user(state, "chutich.trucbach", "ward-password-1", Role::Chief, Some(WARD)).await;
    ensure_user(state, "truong.badinh", "chief-password-1", Role::Chief, Some(DISTRICT)).await;
    ensure_user(state, "truong.hoankiem", "chief-password-2", Role::Chief, Some(OTHER_DISTRICT))
        .await;
    server.set_email("lanhdao", "lanhdao@hanoi.gov.vn").await;
    server.set_email("chutich.trucbach", "trucbach@hanoi.gov.vn").await;
    logged_in(server).await
}

/// Everyone logged in again (after the clock jumped past their sessions' idle limit).
async fn logged_in(server: &TestServer) -> People {
    let client = |cookie: String| client_with_cookie(&server.base, &cookie);
    let session = |name: &'static str, password: &'static str| async move {
        client(login(&server.base, name, password).await.unwrap())
    };
    People {
        leader: session("lanhdao", "leader-password-1").await,
        ward_chief: session("chutich.trucbach", "ward-password-1").await,
        district_chief: session("truong.badinh", "chief-password-1").await,
        other_chief: session("truong.hoankiem", "chief-password-2").await,
    }
}

fn request(question: &str, due_in: Value) -> Value {
    json!({"unit": WARD,
           "about": {"kind": "figure", "metric": "dossiers.overdue", "window": "month"},
           "question": question, "due_in": due_in})
}

async fn subscribe_webhook(server: &TestServer, receiver: &WebhookReceiver) {
    let (status, webhook) = post(
        &server.http,
        format!("{}/api/v1/admin/webhooks", server.base),
        &json!({"url": receiver.url, "secret": SECRET,
                "events": ["explanation.requested", "explanation.answered", "explanation.overdue"]}),
    )
    .await;
    assert_eq!(status, 201, "{webhook}");
}

fn webhook_types(receiver: &WebhookReceiver) -> Vec<String> {
    receiver.received().iter().map(|r| r.json()["type"].as_str().unwrap().to_owned()).collect()
}

/// The whole life of a request: asked by a leader (due in 3 working days on the calendar),
/// mailed to the ward's chief and signed to the webhook, counted in the summary, seen by the
/// district's chief but not by another district's; answered by the ward's chief (not by the
/// district's, who is not the ward's chief), told to the leader; reopened, answered again,
/// closed — and a closed request takes no answer.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_request_goes_from_a_leader_to_the_wards_chief_and_back_on_the_record(pool: PgPool) {
    let smtp = SmtpServer::start().await;
    let receiver = WebhookReceiver::start(0).await;
    let start = ioc_tests::now();
    let clock = ioc_shared::time::Clock::manual(start);
    let smtp_url = smtp.url();
    let server = TestServer::start_clocked_configured(&pool, clock.clone(), |settings| {
        settings.smtp_url = Some(smtp_url);
    })
    .await;
    let people = people(&server).await;
    subscribe_webhook(&server, &receiver).await;
    let base = format!("{}/api/v1/explanations", server.base);

    let (status, asked) = post(
        &people.leader,
        base.clone(),
        &request("Vì sao hồ sơ quá hạn tăng?", json!({"working_days": 3})),
    )
    .await;
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_i64().unwrap();
    assert_eq!(asked["state"], "open");
    assert_eq!(asked["overdue"], false);
    assert_eq!(asked["unit"]["code"], WARD);
    assert_eq!(asked["asked_by"], "lanhdao");
    assert_eq!(asked["question"], "Vì sao hồ sơ quá hạn tăng?");
    let due = WorkingCalendar::builtin().due(start, DueIn::WorkingDays(3)).unwrap();
    assert_eq!(asked["due"], ioc_shared::time::to_local_rfc3339(due));

    // The ward's chief is mailed; the webhook hears it, signed.
    eventually(StdDuration::from_secs(15), "the ward chief's email", || async {
        !smtp.messages().is_empty()
    })
    .await;
    let mails = smtp.messages();
    assert_eq!(mails.len(), 1, "{mails:?}");
    assert_eq!(mails[0].to, "trucbach@hanoi.gov.vn");
    assert!(mails[0].text.contains("Vì sao hồ sơ quá hạn tăng?"), "{}", mails[0].text);
    eventually(StdDuration::from_secs(15), "the requested webhook", || async {
        !receiver.received().is_empty()
    })
    .await;
    let first = &receiver.received()[0];
    assert_eq!(
        first.header("x-ioc-signature"),
        ioc_server::notify::deliver::signature(SECRET, &first.body)
    );
    assert_eq!(first.json()["type"], "explanation.requested");
    assert_eq!(first.json()["explanation"]["id"], id);

    // Counted in the summary of the ward and of every unit above it.
    for unit in [WARD, DISTRICT, "01"] {
        let summary = server.summary(unit, "today").await;
        assert_eq!(summary.explanations.open, 1, "{unit}");
        assert_eq!(summary.explanations.overdue, 0, "{unit}");
    }
    assert_eq!(server.summary(OTHER_DISTRICT, "today").await.explanations.open, 0);

    // The district's chief sees it; another district's chief neither sees nor learns of it.
    let listed: Value =
        people.district_chief.get(base.clone()).send().await.unwrap().json().await.unwrap();
    assert_eq!(listed["explanations"][0]["id"], id, "{listed}");
    let other = people.other_chief.get(base.clone()).send().await.unwrap();
    assert_eq!(other.status().as_u16(), 200);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["explanations"], json!([]));
    let one = format!("{base}/{id}");
    assert_eq!(people.other_chief.get(one.clone()).send().await.unwrap().status().as_u16(), 404);
    let refused =
        people.other_chief.get(format!("{base}?unit={WARD}")).send().await.unwrap().status();
    assert_eq!(refused.as_u16(), 403);
    let (status, _) =
        post(&people.other_chief, format!("{one}/answer"), &json!({"text": "x"})).await;
    assert_eq!(status, 404);
    // Ba Đình's chief may ask his wards, not his own district nor another's.
    let (status, _) = post(
        &people.district_chief,
        base.clone(),
        &request("Phường giải trình?", json!({"working_days": 1})),
    )
    .await;
    assert_eq!(status, 201);
    let mut own = request("?", json!({"working_days": 1}));
    own["unit"] = json!(DISTRICT);
    assert_eq!(post(&people.district_chief, base.clone(), &own).await.0, 403);
    own["unit"] = json!("00037"); // a ward of Hoàn Kiếm
    assert_eq!(post(&people.district_chief, base.clone(), &own).await.0, 403);
    // A ward chief asks nobody: his ward has no unit below it.
    own["unit"] = json!(WARD);
    assert_eq!(post(&people.ward_chief, base.clone(), &own).await.0, 403);

    // The district's chief sees it but is not a chief of the ward: he cannot answer.
    let (status, body) =
        post(&people.district_chief, format!("{one}/answer"), &json!({"text": "Tôi trả lời"}))
            .await;
    assert_eq!(status, 403, "{body}");
    let (status, answered) = post(
        &people.ward_chief,
        format!("{one}/answer"),
        &json!({"text": "Do thiếu cán bộ tiếp nhận trong tuần."}),
    )
    .await;
    assert_eq!(status, 200, "{answered}");
    assert_eq!(answered["state"], "answered");
    assert!(answered["answered_at"].is_string());
    let (status, _) =
        post(&people.ward_chief, format!("{one}/answer"), &json!({"text": "Lần hai"})).await;
    assert_eq!(status, 409, "an answered request takes no second answer until reopened");
    // Only whoever asked (or a leader) closes or reopens.
    let (status, _) = post(&people.ward_chief, format!("{one}/close"), &json!({})).await;
    assert_eq!(status, 403);

    // The leader is told, by mail and on the webhook.
    eventually(StdDuration::from_secs(15), "the leader's email", || async {
        smtp.messages().iter().any(|m| m.to == "lanhdao@hanoi.gov.vn")
    })
    .await;
    let to_leader: Vec<_> =
        smtp.messages().into_iter().filter(|m| m.to == "lanhdao@hanoi.gov.vn").collect();
    assert_eq!(to_leader.len(), 1);
    assert!(to_leader[0].text.contains("Do thiếu cán bộ tiếp nhận trong tuần."));
    eventually(StdDuration::from_secs(15), "the answered webhook", || async {
        webhook_types(&receiver).contains(&"explanation.answered".to_owned())
    })
    .await;

    // Asked again, three hours later: open again, due 3 working days from then.
    clock.advance(Duration::hours(3));
    let (status, reopened) =
        post(&people.leader, format!("{one}/reopen"), &json!({"question": "Kế hoạch khắc phục?"}))
            .await;
    assert_eq!(status, 200, "{reopened}");
    assert_eq!(reopened["state"], "open");
    assert_eq!(reopened["question"], "Kế hoạch khắc phục?");
    let due = WorkingCalendar::builtin().due(clock.now(), DueIn::WorkingDays(3)).unwrap();
    assert_eq!(reopened["due"], ioc_shared::time::to_local_rfc3339(due));
    let (status, _) =
        post(&people.leader, format!("{one}/reopen"), &json!({"question": "?"})).await;
    assert_eq!(status, 409, "an open request is not reopened");
    let (status, _) =
        post(&people.ward_chief, format!("{one}/answer"), &json!({"text": "Bổ sung 2 cán bộ."}))
            .await;
    assert_eq!(status, 200);
    let (status, closed) =
        post(&people.leader, format!("{one}/close"), &json!({"note": "Đồng ý."})).await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["state"], "closed");
    let (status, _) =
        post(&people.ward_chief, format!("{one}/answer"), &json!({"text": "x"})).await;
    assert_eq!(status, 409);

    // The whole thread, in order.
    let thread: Value =
        people.ward_chief.get(one.clone()).send().await.unwrap().json().await.unwrap();
    let kinds: Vec<&str> = thread["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["question", "answer", "reopen", "answer", "close"]);
    assert_eq!(thread["messages"][1]["by"], "chutich.trucbach");
    assert_eq!(thread["messages"][4]["text"], "Đồng ý.");
    let closed_list: Value = people
        .leader
        .get(format!("{base}?state=closed"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(closed_list["explanations"].as_array().unwrap().len(), 1);
    assert_eq!(closed_list["explanations"][0]["id"], id);
    // Counted no more: only the district chief's request is open.
    assert_eq!(server.summary(WARD, "today").await.explanations.open, 1);

    // On the record.
    let (_, audit) = server.get("/api/v1/admin/audit?limit=1000").await;
    let actions: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["target"] == format!("explanation:{id}"))
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in [
        "explanation_requested",
        "explanation_answered",
        "explanation_reopened",
        "explanation_closed",
    ] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    server.cleanup().await;
}

/// An open request past its due time in working time is overdue: the summary counts it when
/// the due time passes (no event needed), `state=overdue` lists it, the chiefs and whoever
/// asked are notified once; an answer ends it.
#[sqlx::test(migrations = "../server/migrations")]
async fn an_unanswered_request_past_its_due_time_is_overdue_counted_listed_and_notified_once(
    pool: PgPool,
) {
    let receiver = WebhookReceiver::start(0).await;
    let start = ioc_tests::now();
    let clock = ioc_shared::time::Clock::manual(start);
    let server = TestServer::start_clocked(&pool, clock.clone()).await;
    let people = people(&server).await;
    subscribe_webhook(&server, &receiver).await;
    let base = format!("{}/api/v1/explanations", server.base);
    let (status, asked) =
        post(&people.leader, base.clone(), &request("Giải trình?", json!({"working_hours": 2})))
            .await;
    assert_eq!(status, 201, "{asked}");
    let id = asked["id"].as_i64().unwrap();
    let due = WorkingCalendar::builtin().due(start, DueIn::WorkingHours(2)).unwrap();

    let mut live = server.live().await;
    live.subscribe(DISTRICT, "today").await;
    live.snapshot_where(StdDuration::from_secs(10), |s| s.explanations.open == 1).await;
    clock.set(due + Duration::minutes(1));
    // Live, with no event: the due time passing turns the count.
    live.snapshot_where(StdDuration::from_secs(10), |s| s.explanations.overdue == 1).await;
    let people = logged_in(&server).await;
    let overdue: Value = people
        .leader
        .get(format!("{base}?state=overdue"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(overdue["explanations"][0]["id"], id, "{overdue}");
    assert_eq!(overdue["explanations"][0]["overdue"], true);
    assert_eq!(overdue["explanations"][0]["state"], "open");
    eventually(StdDuration::from_secs(15), "the overdue webhook", || async {
        webhook_types(&receiver).contains(&"explanation.overdue".to_owned())
    })
    .await;
    // Once: two more checks of the overdue task later, still one.
    tokio::time::sleep(ioc_server::explanations::OVERDUE_CHECK_EVERY * 2).await;
    let overdue_notices: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.json()["type"] == "explanation.overdue")
        .collect();
    assert_eq!(overdue_notices.len(), 1);
    let recipients = overdue_notices[0].json()["recipients"].clone();
    let told: Vec<&str> =
        recipients.as_array().unwrap().iter().map(|p| p["username"].as_str().unwrap()).collect();
    assert_eq!(told, ["chutich.trucbach", "lanhdao"], "the ward's chief and whoever asked");

    let (status, _) =
        post(&people.ward_chief, format!("{base}/{id}/answer"), &json!({"text": "Đã xử lý."}))
            .await;
    assert_eq!(status, 200);
    live.snapshot_where(StdDuration::from_secs(10), |s| s.explanations.open == 0).await;
    let none = people.leader.get(format!("{base}?state=overdue")).send().await.unwrap();
    let none: Value = none.json().await.unwrap();
    assert_eq!(none["explanations"], json!([]));
    server.cleanup().await;
}

/// Directions on an item: from a leader or a chief above the item's unit, shown on the item in
/// the unit's list and on the officer's page; not from the ward's own chief (403), not on an
/// item out of sight (404), never from or to a display.
#[sqlx::test(migrations = "../server/migrations")]
async fn directions_come_from_above_and_show_on_the_item_wherever_it_is_listed(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let people = people(&server).await;
    let now = server.now();
    server
        .ingest_ok(&json!([
            dossier_received(
                "1",
                WARD,
                "HS-CD-1",
                now - Duration::days(3),
                now - Duration::hours(2)
            ),
            dossier_assigned(
                "2",
                WARD,
                "HS-CD-1",
                now - Duration::days(3),
                ("CB-77", "Nguyễn Văn An")
            ),
        ]))
        .await;
    server.settle().await;
    let url = format!("{}/api/v1/items/dossier/HS-CD-1/directions", server.base);
    let (status, given) =
        post(&people.leader, url.clone(), &json!({"text": "Giải quyết dứt điểm trong ngày."}))
            .await;
    assert_eq!(status, 201, "{given}");
    assert_eq!(given["by"], "lanhdao");
    let (status, _) =
        post(&people.district_chief, url.clone(), &json!({"text": "Phường báo cáo trước 17h."}))
            .await;
    assert_eq!(status, 201);
    assert_eq!(post(&people.ward_chief, url.clone(), &json!({"text": "x"})).await.0, 403);
    assert_eq!(post(&people.other_chief, url.clone(), &json!({"text": "x"})).await.0, 404);
    assert_eq!(post(&people.leader, url.clone(), &json!({"text": "  "})).await.0, 400);
    assert_eq!(post(&people.leader, url.clone(), &json!({"text": "x".repeat(4001)})).await.0, 400);
    assert_eq!(post(&people.leader, url.clone(), &json!({"note": "x"})).await.0, 400);
    let missing = format!("{}/api/v1/items/dossier/HS-NONE/directions", server.base);
    assert_eq!(post(&people.leader, missing, &json!({"text": "x"})).await.0, 404);
    let bad_kind = format!("{}/api/v1/items/permit/HS-CD-1/directions", server.base);
    assert_eq!(post(&people.leader, bad_kind, &json!({"text": "x"})).await.0, 404);

    let texts = |item: &Value| -> Vec<String> {
        item["directions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["text"].as_str().unwrap().to_owned())
            .collect()
    };
    let expected = ["Giải quyết dứt điểm trong ngày.", "Phường báo cáo trước 17h."];
    let list: Value = people
        .ward_chief
        .get(format!("{}/api/v1/units/{WARD}/items?kind=dossier&state=overdue", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(texts(&list["items"][0]), expected, "{list}");
    let officer: Value = people
        .ward_chief
        .get(format!("{}/api/v1/officers/CB-77", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(texts(&officer["overdue"][0]), expected, "{officer}");

    // A display receives no item lists, gives no directions, reads no requests.
    let (_, display) = paired_display(&server, DISTRICT).await;
    let wall = client_with_cookie(&server.base, &display);
    assert_eq!(post(&wall, url.clone(), &json!({"text": "x"})).await.0, 403);
    assert_eq!(
        wall.get(format!("{}/api/v1/explanations", server.base))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16(),
        403
    );
    let (status, _) = post(
        &wall,
        format!("{}/api/v1/explanations", server.base),
        &request("?", json!({"working_days": 1})),
    )
    .await;
    assert_eq!(status, 403);
    server.cleanup().await;
}

/// What a request may be about is checked: an item or an alert the unit does not hold, an
/// unknown metric or unit, a due time of zero or beyond the limit, a text too long: 400.
/// Random bodies and paths on every endpoint: never a 5xx.
#[sqlx::test(migrations = "../server/migrations")]
async fn bad_explanation_requests_are_refused_plainly_and_random_ones_never_answer_5xx(
    pool: PgPool,
) {
    use rand::{Rng, SeedableRng};
    let server = TestServer::start(&pool).await;
    let base = format!("{}/api/v1/explanations", server.base);
    let ok = request("Giải trình?", json!({"working_days": 3}));
    assert_eq!(post(&server.http, base.clone(), &ok).await.0, 201);
    let mut cases = Vec::new();
    for (field, value) in [
        ("unit", json!("99999")),
        ("about", json!({"kind": "item", "item_kind": "dossier", "id": "HS-NOWHERE"})),
        ("about", json!({"kind": "alert", "id": 424242})),
        ("about", json!({"kind": "figure", "metric": "dossiers.nothing", "window": "month"})),
        ("about", json!({"kind": "figure", "metric": "score.total", "window": "24h"})),
        ("about", json!({"kind": "rumour"})),
        ("due_in", json!({"working_days": 0})),
        ("due_in", json!({"working_days": 99999})),
        ("due_in", json!({"days": 3})),
        ("question", json!("")),
        ("question", json!("q".repeat(4001))),
        ("extra", json!(1)),
    ] {
        let mut body = ok.clone();
        body[field] = value;
        cases.push(body);
    }
    for body in &cases {
        let (status, answer) = post(&server.http, base.clone(), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.is_empty()), "{answer}");
    }
    let mut longest = ok.clone();
    longest["question"] = json!("ă".repeat(4000));
    assert_eq!(post(&server.http, base.clone(), &longest).await.0, 201);

    let mut rng = rand::rngs::StdRng::seed_from_u64(0xE1A9);
    let fields = ["unit", "about", "question", "due_in", "text", "note"];
    let extra = [
        json!({"kind": "figure", "metric": "dossiers.overdue", "window": "zzz"}),
        json!({"kind": "item", "item_kind": "task", "id": 7}),
        json!({"kind": "alert", "id": -1}),
        json!({"working_hours": -3}),
        json!({"working_days": 1.5}),
        json!("00004"),
    ];
    for round in 0..160 {
        let body = ioc_tests::fuzz::mutated(&mut rng, &ok, &fields, &extra);
        let id: i32 = rng.random_range(-2..4);
        let path = match round % 6 {
            0 => base.clone(),
            1 => format!("{base}/{id}/answer"),
            2 => format!("{base}/{id}/close"),
            3 => format!("{base}/{id}/reopen"),
            4 => format!("{}/api/v1/items/dossier/HS-{id}/directions", server.base),
            _ => format!(
                "{}/api/v1/items/{}/x/directions",
                server.base,
                ["task", "%00", "zz"][id.rem_euclid(3) as usize]
            ),
        };
        let response = server
            .http
            .post(path.clone())
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(response.status().as_u16() < 500, "{path} {body}: {}", response.status());
    }
    for query in [
        "state=late",
        "cursor=abc",
        "cursor=-1",
        "unit=%00",
        "unit=99999",
        "cursor=99999999999999999999",
    ] {
        let (status, body) = server.get(&format!("/api/v1/explanations?{query}")).await;
        assert!((400..500).contains(&status), "{query}: {status} {body}");
    }
    for path in [
        "/api/v1/explanations/abc",
        "/api/v1/explanations/0",
        "/api/v1/explanations/99999999999999999999",
    ] {
        assert_eq!(server.get(path).await.0, 404, "{path}");
    }
    server.cleanup().await;
}
