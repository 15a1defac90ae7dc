//! The work behind the numbers: item lists, officers, breakdowns, CSV, the children ranking,
//! and the national catalog's virtual root.

use chrono::Duration;
use ioc_shared::access::Role;
use ioc_shared::items::{Breakdown, ItemList, OfficerView};
use ioc_tests::events::*;
use ioc_tests::{client_with_cookie, ensure_user, login, paired_display, TestServer};
use serde_json::{json, Value};
use sqlx::PgPool;

const WARD: &str = "00004"; // Phường Trúc Bạch, Quận Ba Đình (001)
const OTHER_WARD: &str = "00001"; // Phường Phúc Xá, Ba Đình
const SIBLING_WARD: &str = "00037"; // a ward of Hoàn Kiếm (002)

async fn list(server: &TestServer, query: &str) -> ItemList {
    let (status, body) = server.get(&format!("/api/v1/units/{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    serde_json::from_value(body).unwrap()
}

fn ids(list: &ItemList) -> Vec<&str> {
    list.items.iter().map(|i| i.id.as_str()).collect()
}

/// Hand-computed lists: who is overdue and by how much, what is due soon, paused, open, and
/// resolved late — with pauses, a reassignment and a withdrawal.
#[sqlx::test(migrations = "../server/migrations")]
async fn each_list_state_holds_the_right_items_in_the_right_order(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let h = Duration::hours;
    server
        .ingest_ok(&json!([
            // Overdue by 26 h, assigned, then reassigned: the second officer holds it.
            dossier_received("a1", WARD, "HS-A", t - h(50), t - h(26)),
            dossier_assigned("a2", WARD, "HS-A", t - h(49), ("cb-1", "Nguyễn Văn A")),
            dossier_assigned("a3", WARD, "HS-A", t - h(48), ("cb-7", "Trần Thị B")),
            // Overdue by 2 h, unassigned.
            dossier_received("b1", OTHER_WARD, "HS-B", t - h(10), t - h(2)),
            // Due 5 h ago, but paused 6 h and resumed: extended due is 1 h ahead → due soon.
            dossier_received("c1", WARD, "HS-C", t - h(20), t - h(5)),
            dossier_paused("c2", WARD, "HS-C", t - h(19)),
            dossier_resumed("c3", WARD, "HS-C", t - h(13)),
            // Paused now (since 3 h): open, not overdue although past due.
            dossier_received("d1", WARD, "HS-D", t - h(30), t - h(4)),
            dossier_paused("d2", WARD, "HS-D", t - h(3)),
            // Due in 30 h: not due soon within 24 h, due soon within 48 h.
            dossier_received("e1", WARD, "HS-E", t - h(1), t + h(30)),
            // Resolved 3 h late; resolved 1 h late; withdrawn after its due (never late); on time.
            dossier_received("f1", WARD, "HS-F", t - h(40), t - h(10)),
            dossier_resolved("f2", WARD, "HS-F", t - h(7), "completed"),
            dossier_received("g1", WARD, "HS-G", t - h(40), t - h(10)),
            dossier_resolved("g2", WARD, "HS-G", t - h(9), "rejected"),
            dossier_received("w1", WARD, "HS-W", t - h(40), t - h(10)),
            dossier_resolved("w2", WARD, "HS-W", t - h(1), "withdrawn"),
            dossier_received("o1", WARD, "HS-O", t - h(40), t - h(10)),
            dossier_resolved("o2", WARD, "HS-O", t - h(20), "completed"),
            // Outside Ba Đình: never in its lists.
            dossier_received("x1", SIBLING_WARD, "HS-X", t - h(50), t - h(40)),
        ]))
        .await;

    let overdue = list(&server, "001/items?kind=dossier&state=overdue").await;
    assert_eq!(ids(&overdue), ["HS-A", "HS-B"], "most overdue first");
    assert_eq!(overdue.total, 2);
    let first = &overdue.items[0];
    assert_eq!(
        first.officer.as_ref().map(|o| o.id.as_str()),
        Some("cb-7"),
        "the reassigned officer holds it"
    );
    assert_eq!(first.officer.as_ref().map(|o| o.name.as_str()), Some("Trần Thị B"));
    assert_eq!(first.overdue_hours, Some(26.0));
    assert_eq!((first.unit.code.as_str(), first.unit.name.as_str()), (WARD, "Phường Trúc Bạch"));
    assert_eq!(first.procedure.as_deref(), Some("Đăng ký khai sinh"));
    assert_eq!((first.channel.as_deref(), first.source.as_str()), (Some("online"), "mot-cua"));
    assert!(overdue.items[1].officer.is_none());
    assert_eq!(overdue.unit.name, "Quận Ba Đình");

    let soon = list(&server, "001/items?kind=dossier&state=due_soon").await;
    assert_eq!(ids(&soon), ["HS-C"], "the pause moved its due time an hour ahead");
    let c = &soon.items[0];
    assert_ne!(c.due, c.due_extended);
    assert_eq!(c.overdue_hours, None);
    assert_eq!(
        ids(&list(&server, "001/items?kind=dossier&state=due_soon&within=48").await),
        ["HS-C", "HS-E"]
    );

    let paused = list(&server, "001/items?kind=dossier&state=paused").await;
    assert_eq!(ids(&paused), ["HS-D"]);
    assert!(paused.items[0].paused);

    let open = list(&server, "001/items?kind=dossier&state=open").await;
    assert_eq!(ids(&open), ["HS-A", "HS-D", "HS-C", "HS-B", "HS-E"], "oldest received first");

    let late = list(&server, "001/items?kind=dossier&state=resolved_late").await;
    assert_eq!(ids(&late), ["HS-F", "HS-G"], "most late first; withdrawn and on-time never");
    assert_eq!(late.items[0].overdue_hours, Some(3.0));
    assert_eq!(late.items[0].outcome.as_deref(), Some("completed"));
    assert_eq!(
        ids(&list(&server, "001/items?kind=dossier&state=resolved_late&window=24h").await),
        ["HS-F", "HS-G"],
        "both resolved within 24 h"
    );

    // Complaints and tasks: title for tasks, no procedure or channel.
    server
        .ingest_ok(&json!([
            task_assigned("t1", WARD, "NV-1", t - h(5), t - h(1), ("cb-9", "Lê Văn C")),
            complaint_received("k1", WARD, "PA-1", t - h(5), t - h(1), "Môi trường", "zalo"),
        ]))
        .await;
    let mut titled = task_assigned("t2", WARD, "NV-2", t - h(4), t - h(2), ("cb-9", "Lê Văn C"));
    titled["title"] = json!("Báo cáo tiến độ");
    server.ingest_ok(&json!([titled])).await;
    let tasks = list(&server, "001/items?kind=task&state=overdue").await;
    assert_eq!(ids(&tasks), ["NV-2", "NV-1"]);
    assert_eq!((tasks.items[0].procedure.clone(), tasks.items[0].channel.clone()), (None, None));
    assert_eq!(tasks.items[0].title.as_deref(), Some("Báo cáo tiến độ"));
    let complaints = list(&server, "001/items?kind=complaint&state=overdue").await;
    assert_eq!(
        complaints.items[0].summary.as_deref(),
        Some("Rác thải chưa được thu gom"),
        "people see the complaint's text"
    );
    server.cleanup().await;
}

/// Paging returns each item once even while items change between pages.
#[sqlx::test(migrations = "../server/migrations")]
async fn paging_returns_each_item_once_while_items_change(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let events: Vec<Value> = (0..120)
        .map(|i| {
            dossier_received(
                &format!("e{i}"),
                WARD,
                &format!("D{i:03}"),
                t - Duration::hours(100),
                t - Duration::minutes(200 - i),
            )
        })
        .collect();
    server.ingest_ok(&Value::Array(events)).await;
    let mut seen = Vec::new();
    let mut page = list(&server, "001/items?kind=dossier&state=overdue&limit=25").await;
    assert_eq!(page.total, 120);
    let mut round = 0;
    loop {
        seen.extend(page.items.iter().map(|i| i.id.clone()));
        round += 1;
        // Between pages: new items more overdue than any (they sort before the cursor), and
        // items resolved on later pages.
        let fresh = format!("N{round}");
        server
            .ingest_ok(&json!([dossier_received(
                &format!("n{round}"),
                WARD,
                &fresh,
                t - Duration::hours(100),
                t - Duration::hours(99)
            )]))
            .await;
        let victim = format!("D{:03}", 119 - round);
        server
            .ingest_ok(&json!([dossier_resolved(
                &format!("r{round}"),
                WARD,
                &victim,
                t,
                "completed"
            )]))
            .await;
        let Some(cursor) = page.next.clone() else { break };
        page = list(
            &server,
            &format!("001/items?kind=dossier&state=overdue&limit=25&cursor={cursor}"),
        )
        .await;
    }
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), seen.len(), "an item came twice: {seen:?}");
    // Every item that stayed overdue throughout was seen.
    for i in 0..(119 - round) {
        assert!(seen.contains(&format!("D{i:03}")), "D{i:03} missing");
    }
    // A cursor from another list is refused.
    let (status, _) = server
        .get(&format!(
            "/api/v1/units/002/items?kind=dossier&state=overdue&cursor={}",
            page.next.unwrap_or_else(|| "00".into())
        ))
        .await;
    assert_eq!(status, 400);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn every_new_endpoint_keeps_to_the_callers_scope(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([
            dossier_received("a1", WARD, "HS-A", t - Duration::hours(5), t - Duration::hours(1)),
            dossier_assigned("a2", WARD, "HS-A", t - Duration::hours(4), ("cb-1", "Nguyễn Văn A")),
            dossier_received(
                "x1",
                SIBLING_WARD,
                "HS-X",
                t - Duration::hours(5),
                t - Duration::hours(1)
            ),
            dossier_assigned(
                "x2",
                SIBLING_WARD,
                "HS-X",
                t - Duration::hours(4),
                ("cb-2", "Phạm Văn D")
            ),
        ]))
        .await;
    ensure_user(
        &server.server.state,
        "truong.badinh",
        "chief-password-1",
        Role::Chief,
        Some("001"),
    )
    .await;
    let chief = client_with_cookie(
        &server.base,
        &login(&server.base, "truong.badinh", "chief-password-1").await.unwrap(),
    );
    let anonymous = reqwest::Client::new();
    let get = |client: &reqwest::Client, path: &str| {
        let request = client.get(format!("{}{path}", server.base));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    for path in [
        "/items?kind=dossier&state=overdue",
        "/items.csv?kind=dossier&state=overdue",
        "/breakdown?kind=dossier&by=procedure",
    ] {
        assert_eq!(get(&anonymous, &format!("/api/v1/units/001{path}")).await, 401, "{path}");
        assert_eq!(get(&chief, &format!("/api/v1/units/001{path}")).await, 200, "{path}");
        assert_eq!(get(&chief, &format!("/api/v1/units/{WARD}{path}")).await, 200, "{path}");
        assert_eq!(get(&chief, &format!("/api/v1/units/002{path}")).await, 403, "{path}");
        assert_eq!(get(&chief, &format!("/api/v1/units/01{path}")).await, 403, "{path}");
        assert_eq!(
            get(&chief, &format!("/api/v1/units/nope{path}")).await,
            403,
            "{path}: a scoped caller learns nothing"
        );
        assert_eq!(get(&server.http, &format!("/api/v1/units/nope{path}")).await, 404, "{path}");
    }
    for bad in [
        "kind=letter",
        "state=late",
        "limit=0",
        "limit=501",
        "within=0",
        "within=169",
        "window=1y",
        "cursor=zz",
    ] {
        assert_eq!(
            get(&server.http, &format!("/api/v1/units/001/items?{bad}")).await,
            400,
            "{bad}"
        );
    }
    for bad in ["kind=task", "by=officer", "window=2d"] {
        assert_eq!(
            get(&server.http, &format!("/api/v1/units/001/breakdown?{bad}")).await,
            400,
            "{bad}"
        );
    }
    // Officers: visible only with work in the caller's scope.
    assert_eq!(get(&chief, "/api/v1/officers/cb-1").await, 200);
    assert_eq!(get(&chief, "/api/v1/officers/cb-2").await, 404, "works only outside Ba Đình");
    assert_eq!(get(&chief, "/api/v1/officers/cb-1?unit=002").await, 403);
    assert_eq!(get(&server.http, "/api/v1/officers/cb-2").await, 200);
    assert_eq!(get(&server.http, "/api/v1/officers/nobody").await, 404);
    assert_eq!(get(&anonymous, "/api/v1/officers/cb-1").await, 401);
    let view: OfficerView = chief
        .get(format!("{}/api/v1/officers/cb-1", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (view.officer.name.as_str(), view.dossiers.open, view.dossiers.overdue, view.overdue_total),
        ("Nguyễn Văn A", 1, 1, 1)
    );
    assert_eq!(view.overdue[0].id, "HS-A");
    server.cleanup().await;
}

/// A wall display never receives a complaint's text: it gets no item lists at all.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_display_never_receives_complaint_text(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    server
        .ingest_ok(&json!([complaint_received(
            "k1",
            WARD,
            "PA-1",
            t - Duration::hours(5),
            t - Duration::hours(1),
            "Môi trường",
            "zalo"
        )]))
        .await;
    let (_, cookie) = paired_display(&server, "001").await;
    let wall = client_with_cookie(&server.base, &cookie);
    for path in [
        "/api/v1/units/001/items?kind=complaint&state=overdue",
        "/api/v1/units/001/items.csv?kind=complaint&state=open",
        "/api/v1/officers/x?unit=001",
    ] {
        let response = wall.get(format!("{}{path}", server.base)).send().await.unwrap();
        assert_eq!(response.status().as_u16(), 403, "{path}");
        assert!(!response.text().await.unwrap().contains("Rác thải"));
    }
    // The summary and breakdowns it may have carry no text either.
    let summary = wall
        .get(format!("{}/api/v1/units/001/summary", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let breakdown = wall
        .get(format!("{}/api/v1/units/001/breakdown?kind=complaint&by=field", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!summary.contains("Rác thải") && !breakdown.contains("Rác thải"));
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn breakdown_rows_sum_to_the_summary_and_rank_small_samples_last(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let mut events = Vec::new();
    let procedures =
        [("Đăng ký khai sinh", 6, 1), ("Cấp phép xây dựng", 6, 4), ("Chứng thực", 2, 2)];
    for (p, (procedure, resolved, late)) in procedures.iter().enumerate() {
        for i in 0..*resolved {
            let id = format!("p{p}-{i}");
            let mut received = dossier_received(
                &id,
                WARD,
                &id,
                t - Duration::hours(3),
                t - Duration::hours(if i < *late { 2 } else { 0 }) + Duration::minutes(30),
            );
            received["procedure"] = json!(procedure);
            if i == 0 {
                received["channel"] = json!("direct");
            }
            events.push(received);
            events.push(dossier_resolved(
                &format!("{id}-done"),
                WARD,
                &id,
                t - Duration::hours(1),
                "completed",
            ));
        }
    }
    let mut still_open =
        dossier_received("open1", WARD, "OPEN1", t - Duration::hours(2), t + Duration::hours(5));
    still_open["procedure"] = json!("Đăng ký kết hôn");
    events.push(still_open);
    server.ingest_ok(&Value::Array(events)).await;
    let summary = server.summary("001", "24h").await;
    let (status, body) =
        server.get("/api/v1/units/001/breakdown?kind=dossier&by=procedure&window=24h").await;
    assert_eq!(status, 200, "{body}");
    let breakdown: Breakdown = serde_json::from_value(body).unwrap();
    let keys: Vec<&str> = breakdown.rows.iter().map(|r| r.key.as_str()).collect();
    // Xây dựng: 2 of 6 on time; khai sinh: 5 of 6; chứng thực: 0 of 2 but only 2 rated.
    assert_eq!(keys, ["Cấp phép xây dựng", "Đăng ký khai sinh", "Chứng thực", "Đăng ký kết hôn"]);
    assert_eq!(breakdown.rows.iter().map(|r| r.received).sum::<u64>(), summary.dossiers.received);
    assert_eq!(
        breakdown.rows.iter().map(|r| r.resolved_on_time).sum::<u64>(),
        summary.dossiers.resolved_on_time
    );
    assert_eq!(
        breakdown.rows.iter().map(|r| r.resolved_late).sum::<u64>(),
        summary.dossiers.resolved_late
    );
    assert_eq!(breakdown.rows.iter().map(|r| r.open).sum::<u64>(), summary.dossiers.open);
    let first = &breakdown.rows[0];
    assert_eq!(
        (first.received, first.received_online, first.resolved_on_time, first.resolved_late),
        (6, 5, 2, 4)
    );
    assert_eq!(first.processing_hours.p50, Some(2.0));
    // By channel.
    let (_, body) =
        server.get("/api/v1/units/001/breakdown?kind=dossier&by=channel&window=24h").await;
    let by_channel: Breakdown = serde_json::from_value(body).unwrap();
    assert_eq!(by_channel.rows.iter().map(|r| r.received).sum::<u64>(), summary.dossiers.received);
    server.cleanup().await;
}

/// A source sending a new field name per event cannot blow up the response: 200 keys, then one
/// `(khác)` row holding the rest.
#[sqlx::test(migrations = "../server/migrations")]
async fn free_text_keys_are_capped_with_one_other_row(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let events: Vec<Value> = (0..260)
        .map(|i| {
            let mut c = complaint_received(
                &format!("c{i}"),
                WARD,
                &format!("C{i}"),
                t,
                t + Duration::hours(4),
                "x",
                "zalo",
            );
            // Ten of them share one field (the most frequent); every other field is new.
            c["field"] = json!(if i < 10 {
                "Môi trường".to_owned()
            } else {
                format!("Lĩnh vực {i:03}")
            });
            c
        })
        .collect();
    server.ingest_ok(&Value::Array(events)).await;
    let (_, body) =
        server.get("/api/v1/units/001/breakdown?kind=complaint&by=field&window=24h").await;
    let breakdown: Breakdown = serde_json::from_value(body).unwrap();
    assert_eq!(breakdown.rows.len(), 201);
    let other = breakdown.rows.iter().find(|r| r.key == "(khác)").expect("an other row");
    assert_eq!(other.received, 260 - 10 - 199);
    assert!(
        breakdown.rows.iter().any(|r| r.key == "Môi trường" && r.received == 10),
        "the most frequent key keeps its row"
    );
    assert_eq!(breakdown.rows.iter().map(|r| r.received).sum::<u64>(), 260);
    server.cleanup().await;
}

/// CSV: exactly the rows of the filter, opened back with a CSV parser; commas, quotes, newlines
/// survive, and formula-like cells are defused.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_csv_download_is_excel_safe_and_round_trips(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let mut tricky = complaint_received(
        "k1",
        WARD,
        "PA-1",
        t - Duration::hours(5),
        t - Duration::hours(1),
        "=HYPERLINK(\"http://x\")",
        "zalo",
    );
    tricky["summary"] = json!("Dòng 1, có dấu phẩy\nDòng 2 \"trích dẫn\"");
    let mut plus = complaint_received(
        "k2",
        WARD,
        "+PA-2",
        t - Duration::hours(6),
        t - Duration::hours(2),
        "@SUM(A1)",
        "hotline",
    );
    plus["summary"] = json!("-1");
    server
        .ingest_ok(&json!([
            tricky,
            plus,
            complaint_received(
                "k3",
                SIBLING_WARD,
                "PA-3",
                t,
                t - Duration::hours(1),
                "Môi trường",
                "app"
            )
        ]))
        .await;
    let response = server
        .http
        .get(format!("{}/api/v1/units/001/items.csv?kind=complaint&state=overdue", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    assert!(response.headers()["content-disposition"].to_str().unwrap().contains("attachment"));
    let bytes = response.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()), "a BOM, so Excel reads UTF-8");
    let mut reader = csv::Reader::from_reader(&bytes[3..]);
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(&headers[..3], ["Loại", "Mã", "Nguồn"]);
    let column = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 2, "exactly the rows of the filter");
    let first = &rows[0];
    assert_eq!(&first[column("Mã")], "'+PA-2", "most overdue first; formula prefix defused");
    assert_eq!(&first[column("Lĩnh vực")], "'@SUM(A1)");
    assert_eq!(&first[column("Nội dung")], "'-1");
    let second = &rows[1];
    assert_eq!(&second[column("Lĩnh vực")], "'=HYPERLINK(\"http://x\")");
    assert_eq!(&second[column("Nội dung")], "Dòng 1, có dấu phẩy\nDòng 2 \"trích dẫn\"");
    assert_eq!(&second[column("Đơn vị")], "Phường Trúc Bạch");
    server.cleanup().await;
}

/// Regression: a unit with one late dossier out of one topped the city's ranking.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_childrens_ranking_puts_small_samples_after_rated_units(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let mut events = Vec::new();
    // Ba Đình (001): 1 dossier, resolved late. Hoàn Kiếm (002): 6 dossiers, 4 on time.
    events.push(dossier_received("a", WARD, "A", t - Duration::hours(5), t - Duration::hours(4)));
    events.push(dossier_resolved("a-done", WARD, "A", t - Duration::hours(1), "completed"));
    for i in 0..6 {
        let id = format!("h{i}");
        let due = if i < 4 { t + Duration::hours(1) } else { t - Duration::hours(2) };
        events.push(dossier_received(&id, SIBLING_WARD, &id, t - Duration::hours(5), due));
        events.push(dossier_resolved(
            &format!("{id}-done"),
            SIBLING_WARD,
            &id,
            t - Duration::hours(1),
            "completed",
        ));
    }
    server.ingest_ok(&Value::Array(events)).await;
    let city = server.summary("01", "24h").await;
    let order: Vec<&str> = city.children.iter().map(|c| c.code.as_str()).collect();
    assert_eq!(&order[..2], ["002", "001"], "Hoàn Kiếm (4 of 6) ranks before Ba Đình (0 of 1)");
    assert_eq!((city.children[0].rated, city.children[1].rated), (6, 1));
    server.cleanup().await;
}

/// The national catalog (34 provinces, no single root) gets the virtual root `VN`, "Cả nước":
/// figures, lists and breakdowns work for it, and leaders land on it.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_national_catalog_gets_a_virtual_root(pool: PgPool) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../assets/units/vietnam-2025-10.json");
    let catalog = ioc_server::catalog::Catalog::load(Some(&path)).unwrap();
    let ward = catalog
        .units()
        .find(|u| u.kind == "ward" && u.parent.as_deref() == Some("01"))
        .unwrap()
        .code
        .clone();
    let server = TestServer::start_with(&pool, &ioc_tests::fresh_prefix(), catalog, |_| {}).await;
    let t = server.now();
    server
        .ingest_ok(&json!([dossier_received(
            "v1",
            &ward,
            "V1",
            t - Duration::hours(5),
            t - Duration::hours(1)
        )]))
        .await;
    let (_, roots) = server.get("/api/v1/units").await;
    assert_eq!(roots, json!([{"code": "VN", "name": "Cả nước", "kind": "country"}]));
    let (_, info) = server.get(&format!("/api/v1/units/{ward}")).await;
    assert_eq!(info["path"][0]["code"], "VN", "the breadcrumb starts at Cả nước");
    assert_eq!(info["path"][1]["code"], "01");
    let country = server.summary("VN", "24h").await;
    assert_eq!(
        (country.dossiers.received, country.dossiers.overdue, country.children.len()),
        (1, 1, 34)
    );
    assert_eq!(ids(&list(&server, "VN/items?kind=dossier&state=overdue").await), ["V1"]);
    let (status, body) =
        server.get("/api/v1/units/VN/breakdown?kind=dossier&by=procedure&window=24h").await;
    assert_eq!(status, 200);
    assert_eq!(body["rows"][0]["received"], 1);
    server.cleanup().await;
}

/// Regression (found by schemathesis): a cursor with a multi-byte character (`0\u{80}000`)
/// split a character while decoding and the server closed the connection without an answer.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_cursor_with_a_multibyte_character_is_a_400_not_a_dropped_connection(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    for cursor in ["0%C2%80000", "%C2%80", "zz", "0", "%E2%82%AC%E2%82%AC"] {
        let (status, body) = server.get(&format!("/api/v1/units/01/items?cursor={cursor}")).await;
        assert_eq!(status, 400, "{cursor}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| e.contains("cursor")), "{cursor}: {body}");
    }
    server.cleanup().await;
}

/// Regression (finding 6 of the screens' review): the tile said 1.163 late officers and the
/// page listed 10, with no paging and no CSV. The full ranked list pages through the same
/// ranking as the tile, and downloads for Excel in either locale.
#[sqlx::test(migrations = "../server/migrations")]
async fn every_late_officer_is_listed_in_pages_and_in_a_csv(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let t = server.now();
    let mut events = Vec::new();
    // Officer i holds i + 1 overdue dossiers (12 officers, 78 dossiers), in two wards of 001;
    // one more officer is late in Hoàn Kiếm only.
    for i in 0..12_usize {
        let ward = if i % 2 == 0 { WARD } else { OTHER_WARD };
        for j in 0..=i {
            let dossier = format!("HS-{i}-{j}");
            events.push(dossier_received(
                &format!("r{i}-{j}"),
                ward,
                &dossier,
                t - Duration::hours(30),
                t - Duration::hours(2),
            ));
            events.push(dossier_assigned(
                &format!("a{i}-{j}"),
                ward,
                &dossier,
                t - Duration::hours(29),
                (&format!("cb-{i:02}"), &format!("=Cán bộ {i}")),
            ));
        }
    }
    events.push(dossier_received(
        "rx",
        SIBLING_WARD,
        "HS-X",
        t - Duration::hours(30),
        t - Duration::hours(2),
    ));
    events.push(dossier_assigned(
        "ax",
        SIBLING_WARD,
        "HS-X",
        t - Duration::hours(29),
        ("cb-x", "Người khác"),
    ));
    server.ingest_ok(&Value::Array(events)).await;
    server.settle().await;

    let (status, first) = server.get("/api/v1/units/001/officers?limit=5").await;
    assert_eq!(status, 200, "{first}");
    let summary = server.summary("001", "today").await;
    assert_eq!(first["total"], 12);
    assert_eq!(first["total"].as_u64(), Some(summary.officers.late), "the list is the tile");
    let counts = |page: &Value| -> Vec<u64> {
        page["officers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["overdue"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(counts(&first), [12, 11, 10, 9, 8]);
    assert_eq!(first["officers"][0]["id"], "cb-11");
    assert_eq!(first["officers"][0]["unit"], OTHER_WARD);
    let (_, last) = server.get("/api/v1/units/001/officers?limit=5&offset=10").await;
    assert_eq!(counts(&last), [2, 1]);
    let (_, beyond) = server.get("/api/v1/units/001/officers?offset=50").await;
    assert_eq!(counts(&beyond), Vec::<u64>::new());
    assert_eq!(beyond["total"], 12);
    let (_, city) = server.get("/api/v1/units/01/officers").await;
    assert_eq!(city["total"], 13);
    for bad in ["limit=0", "limit=501", "limit=x", "offset=-1", "offset=100001"] {
        let (status, body) = server.get(&format!("/api/v1/units/001/officers?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    let (status, _) = server.get("/api/v1/units/nope/officers").await;
    assert_eq!(status, 404);

    // CSV: every officer, ranked, with a BOM and headers; commas with decimal points by
    // default, semicolons for Vietnamese-locale Excel; a formula-like name is defused.
    for (delimiter, separator) in [("", ','), ("&delimiter=semicolon", ';')] {
        let response = server
            .http
            .get(format!("{}/api/v1/units/001/officers.csv?x=1{delimiter}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
        let text = response.text().await.unwrap();
        let text = text.strip_prefix('\u{feff}').expect("a byte-order mark for Excel");
        let mut reader =
            csv::ReaderBuilder::new().delimiter(separator as u8).from_reader(text.as_bytes());
        let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_owned).collect();
        assert_eq!(
            headers,
            ["Hạng", "Mã cán bộ", "Cán bộ", "Mã đơn vị", "Đơn vị", "Số việc quá hạn"]
        );
        let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 12, "{text}");
        assert_eq!(&rows[0][1], "cb-11");
        assert_eq!(&rows[0][2], "'=Cán bộ 11");
        assert_eq!(&rows[11][5], "1");
    }
    let (status, _) = server.get("/api/v1/units/001/officers.csv?delimiter=tab").await;
    assert_eq!(status, 400);

    // Scope: a chief sees his district's, not another's; a wall display none.
    ensure_user(
        &server.server.state,
        "truong.badinh",
        "chief-password-1",
        Role::Chief,
        Some("001"),
    )
    .await;
    let chief = client_with_cookie(
        &server.base,
        &login(&server.base, "truong.badinh", "chief-password-1").await.unwrap(),
    );
    let status = |client: reqwest::Client, path: &'static str| {
        let url = format!("{}{path}", server.base);
        async move { client.get(url).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(chief.clone(), "/api/v1/units/001/officers").await, 200);
    assert_eq!(status(chief.clone(), "/api/v1/units/002/officers").await, 403);
    assert_eq!(status(chief, "/api/v1/units/002/officers.csv").await, 403);
    let (_, cookie) = paired_display(&server, "001").await;
    let wall = client_with_cookie(&server.base, &cookie);
    assert_eq!(status(wall.clone(), "/api/v1/units/001/officers").await, 403);
    assert_eq!(status(wall, "/api/v1/units/001/officers.csv").await, 403);
    assert_eq!(status(reqwest::Client::new(), "/api/v1/units/001/officers").await, 401);
    server.cleanup().await;
}
