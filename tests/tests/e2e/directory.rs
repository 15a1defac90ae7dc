//! People by the thousand: an admin changing a person's role and unit, the paged list, and
//! the CSV import (over HTTP and from the command line).

use ioc_shared::access::Role;
use ioc_shared::live::ServerMessage;
use ioc_tests::{client_with_cookie, ensure_user, login, LiveClient, TestServer, ADMIN};
use rand::SeedableRng;
use serde_json::{json, Value};
use sqlx::PgPool;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

async fn put(server: &TestServer, username: &str, body: &Value) -> (u16, Value) {
    let response = server
        .http
        .put(format!("{}/api/v1/admin/users/{username}", server.base))
        .json(body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn import(server: &TestServer, csv: impl Into<reqwest::Body>, dry_run: bool) -> (u16, Value) {
    let response = server
        .http
        .post(format!("{}/api/v1/admin/users/import?dry_run={dry_run}", server.base))
        .header("content-type", "text/csv; charset=utf-8")
        .body(csv)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap_or(Value::Null))
}

async fn people(server: &TestServer, query: &str) -> (u16, Value) {
    server.get(&format!("/api/v1/admin/users?{query}")).await
}

fn names(page: &Value) -> Vec<String> {
    page["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["username"].as_str().unwrap().to_owned())
        .collect()
}

#[sqlx::test(migrations = "../server/migrations")]
async fn an_admin_moves_a_chief_and_their_sessions_and_live_connections_end(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "cb.phucxa", "chief-password-1", Role::Chief, Some("00001"))
        .await;
    let cookie = login(&server.base, "cb.phucxa", "chief-password-1").await.unwrap();
    let mut live = LiveClient::connect_as(&server.ws_url(), Some(&cookie), None).await.unwrap();
    live.subscribe("00001", "today").await;
    assert!(matches!(live.next_message(WAIT).await, Some(ServerMessage::Snapshot { .. })));

    let (status, moved) =
        put(&server, "cb.phucxa", &json!({"unit": "00004", "full_name": "Trần Thị Phúc"})).await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!((moved["role"].as_str(), moved["unit"].as_str()), (Some("chief"), Some("00004")));
    assert_eq!(
        live.closed_with(Duration::from_secs(20)).await,
        Some((1008, "session ended".to_owned()))
    );
    let me = client_with_cookie(&server.base, &cookie)
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 401, "the session ended with the move");
    let again = login(&server.base, "cb.phucxa", "chief-password-1").await.unwrap();
    let own = client_with_cookie(&server.base, &again)
        .get(format!("{}/api/v1/units/00004/summary", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status().as_u16(), 200, "the new unit is theirs");
    let (_, audit) = server.get("/api/v1/admin/audit?limit=50").await;
    let entry =
        audit.as_array().unwrap().iter().find(|e| e["action"] == "user_changed").unwrap().clone();
    assert_eq!(entry["target"], "cb.phucxa");
    assert_eq!(entry["detail"], "unit 00001 → 00004, full name — → Trần Thị Phúc", "{entry}");

    // A name or a contact alone does not end the session.
    assert_eq!(put(&server, "cb.phucxa", &json!({"phone": "0912345678"})).await.0, 200);
    let still = client_with_cookie(&server.base, &again)
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(still.status().as_u16(), 200);

    // To leader: the unit goes; back to chief needs one.
    let (status, leader) = put(&server, "cb.phucxa", &json!({"role": "leader"})).await;
    assert_eq!((status, leader["unit"].clone()), (200, Value::Null), "{leader}");
    for (body, why) in [
        (json!({"role": "chief"}), "a chief needs a unit"),
        (json!({"unit": "00004"}), "only a chief has a unit"),
        (json!({"role": "chief", "unit": "99999"}), "unknown unit `99999`"),
        (json!({"role": "mayor"}), "role"),
        (json!({"rank": "high"}), "unknown field"),
        (json!({"email": "nobody"}), "not an email address"),
        (json!({"full_name": "a\u{7}b"}), "control characters"),
    ] {
        let (status, answer) = put(&server, "cb.phucxa", &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{body}: {answer}");
    }
    assert_eq!(put(&server, "nobody.here", &json!({"role": "leader"})).await.0, 404);
    // The last active admin stays an admin.
    let (status, answer) = put(&server, ADMIN.0, &json!({"role": "leader"})).await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("last active admin"), "{answer}");
    // With a second admin, the first may step down.
    ensure_user(&server.server.state, "admin2", "admin-password-2", Role::Admin, None).await;
    let second = login(&server.base, "admin2", "admin-password-2").await.unwrap();
    let response = client_with_cookie(&server.base, &second)
        .put(format!("{}/api/v1/admin/users/{}", server.base, ADMIN.0))
        .json(&json!({"role": "leader"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn the_admin_list_of_people_pages_and_filters(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let mut csv = String::from("username,full_name,role,unit\n");
    for i in 0..12 {
        csv.push_str(&format!("cb.badinh{i:02},Cán bộ Ba Đình {i},chief,00001\n"));
        csv.push_str(&format!("cb.hoankiem{i:02},Cán bộ Hoàn Kiếm {i},chief,002\n"));
    }
    csv.push_str("lanhdao.a,Nguyễn Văn Lãnh,leader,\n");
    let (status, report) = import(&server, csv, false).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"].as_array().unwrap().len(), 25);

    // Everyone, ten at a time, each once and in order.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = people(&server, &format!("limit=10&cursor={cursor}")).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(names(&page));
        match page["next"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 26, "25 imported and the test admin: {seen:?}");

    // A district takes its wards; role and a piece of the name, any case.
    let (_, badinh) = people(&server, "unit=001&limit=100").await;
    assert_eq!(names(&badinh).len(), 12);
    assert!(names(&badinh).iter().all(|n| n.starts_with("cb.badinh")));
    let (_, leaders) = people(&server, "role=leader").await;
    assert_eq!(names(&leaders), ["lanhdao.a"]);
    let (_, found) = people(&server, "q=HOÀN KIẾM 1").await;
    assert_eq!(names(&found), ["cb.hoankiem01", "cb.hoankiem10", "cb.hoankiem11"]);
    let (_, literal) = people(&server, "q=%25").await;
    assert_eq!(names(&literal), Vec::<String>::new(), "a % is a character, not a pattern");
    for (query, status) in [
        ("limit=0", 400),
        ("limit=1001", 400),
        ("limit=x", 400),
        ("role=mayor", 400),
        ("unit=99999", 404),
    ] {
        assert_eq!(people(&server, query).await.0, status, "{query}");
    }
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn an_import_creates_updates_and_refuses_rows_by_their_line(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "cb.cu", "chief-password-1", Role::Chief, Some("00001"))
        .await;
    let cookie = login(&server.base, "cb.cu", "chief-password-1").await.unwrap();
    // As Excel saves it in a Vietnamese locale: a BOM, semicolons, CRLF.
    let csv = "\u{feff}username;full_name;role;unit;email;phone\r\n\
               cb.moi;Nguyễn Văn Mới;chief;00004;moi@hanoi.gov.vn;0912 345 678\r\n\
               cb.cu;Trần Văn Cũ;chief;00006;;\r\n\
               ld.hai;\"Lê Thị Hai; Phó Chủ tịch\";leader;;;\r\n\
               cb.sai;Sai Đơn Vị;chief;99999;;\r\n\
               cb.vaitro;Vai Trò;boss;;;\r\n\
               cb.moi;Lặp Lại;leader;;;\r\n\
               cb.thu;Thư;leader;;khong-phai-email;\r\n\
               cb.thieu;Thiếu\r\n\
               Tên Có Dấu;Không Hợp Lệ;leader;;;\r\n";
    let (status, dry) = import(&server, csv.to_owned(), true).await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["created"], json!(["cb.moi", "ld.hai"]));
    let (_, none) = people(&server, "q=cb.moi").await;
    assert!(names(&none).is_empty(), "a dry run writes nothing");

    let (status, report) = import(&server, csv.to_owned(), false).await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["created"], json!(["cb.moi", "ld.hai"]));
    assert_eq!(report["updated"], json!(["cb.cu"]));
    assert_eq!(report["unchanged"], json!([]));
    let refused: Vec<(u64, String)> = report["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["reason"].as_str().unwrap().to_owned()))
        .collect();
    let lines: Vec<u64> = refused.iter().map(|r| r.0).collect();
    assert_eq!(lines, [5, 6, 7, 8, 9, 10], "{refused:?}");
    for (i, why) in [
        "unknown unit `99999`",
        "unknown role `boss`",
        "already on line 2",
        "not an email address",
        "2 fields where the header has 6",
        "username must be",
    ]
    .iter()
    .enumerate()
    {
        assert!(refused[i].1.contains(why), "line {}: {}", refused[i].0, refused[i].1);
    }
    // Nothing of a refused row: cb.moi is still the chief of line 2, cb.sai does not exist.
    let (_, moi) = people(&server, "q=cb.moi").await;
    assert_eq!(moi["users"][0]["role"], "chief");
    assert_eq!(moi["users"][0]["origin"], "import");
    assert_eq!(moi["users"][0]["email"], "moi@hanoi.gov.vn");
    assert!(names(&people(&server, "q=cb.sai").await.1).is_empty());
    let (_, hai) = people(&server, "q=ld.hai").await;
    assert_eq!(hai["users"][0]["full_name"], "Lê Thị Hai; Phó Chủ tịch");
    // The moved chief's session ended; imported people have no password.
    let me = client_with_cookie(&server.base, &cookie)
        .get(format!("{}/api/v1/me", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(me.status().as_u16(), 401);
    assert_eq!(login(&server.base, "cb.moi", "").await, Err(401));

    // The same file again: all unchanged.
    let (_, again) = import(&server, csv.to_owned(), false).await;
    assert_eq!(again["unchanged"], json!(["cb.moi", "cb.cu", "ld.hai"]));
    assert_eq!(again["created"], json!([]));

    // A file that is wrong as a whole: 400 and nothing written; not CSV: 415.
    for (file, why) in [
        ("username,role,age\nx,leader,3\n", "unknown column `age`"),
        ("full_name,unit\nA,001\n", "no `username` column"),
        ("", "empty"),
    ] {
        let (status, answer) = import(&server, file.to_owned(), false).await;
        assert_eq!(status, 400, "{file}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{answer}");
    }
    let (status, answer) = import(&server, vec![b'u', b',', 0xff, b'\n'], false).await;
    assert_eq!(status, 400, "{answer}");
    let json_body = server
        .http
        .post(format!("{}/api/v1/admin/users/import", server.base))
        .json(&json!({"username": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json_body.status().as_u16(), 415);
    let (_, audit) = server.get("/api/v1/admin/audit?limit=50").await;
    assert!(
        audit.as_array().unwrap().iter().any(|e| e["action"] == "users_imported"
            && e["detail"] == "created 2, updated 1, unchanged 0, refused 6"),
        "{audit}"
    );
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_province_of_thirty_one_thousand_people_imports_in_one_file(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let catalog = ioc_server::catalog::Catalog::load(None).unwrap();
    let wards: Vec<String> =
        catalog.units().filter(|u| u.parent.is_some()).map(|u| u.code.clone()).collect();
    let mut csv = String::from("username,full_name,role,unit,email,phone\n");
    for i in 0..31_000 {
        let unit = &wards[i % wards.len()];
        csv.push_str(&format!(
            "cb{i:05},Cán bộ số {i},chief,{unit},cb{i:05}@hanoi.gov.vn,09{i:08}\n"
        ));
    }
    let (status, report) = import(&server, csv.clone(), false).await;
    assert_eq!(status, 200);
    assert_eq!(report["created"].as_array().unwrap().len(), 31_000);
    assert_eq!(report["refused"], json!([]));
    let (_, page) = people(&server, "limit=1000&q=cb3099").await;
    assert_eq!(names(&page).len(), 10, "cb30990–cb30999");
    // The directory moves a tenth of them: only those are updated.
    let moved: String = csv
        .lines()
        .enumerate()
        .map(|(line, row)| {
            if line > 0 && line % 10 == 0 {
                let mut cells: Vec<&str> = row.split(',').collect();
                cells[3] = "001";
                cells.join(",") + "\n"
            } else {
                format!("{row}\n")
            }
        })
        .collect();
    let moving = (1..=31_000)
        .filter(|line| line % 10 == 0 && wards[(line - 1) % wards.len()] != "001")
        .count();
    let (_, again) = import(&server, moved, false).await;
    assert_eq!(again["updated"].as_array().unwrap().len(), moving);
    assert_eq!(again["unchanged"].as_array().unwrap().len(), 31_000 - moving);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn fuzzed_changes_and_imports_never_answer_5xx(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    ensure_user(&server.server.state, "cb.fuzz", "chief-password-1", Role::Chief, Some("00001"))
        .await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(33);
    let base = json!({"role": "chief", "unit": "00004", "full_name": "A", "email": "a@b.vn", "phone": "0912345678", "break_glass": false});
    let fields = ["role", "unit", "full_name", "email", "phone", "break_glass"];
    for _ in 0..120 {
        let body =
            ioc_tests::fuzz::mutated(&mut rng, &base, &fields, &[json!("leader"), json!("admin")]);
        let (status, answer) = put(&server, "cb.fuzz", &body).await;
        assert!(status < 500, "{body}: {status} {answer}");
    }
    let pieces = [
        "username", "role", "unit", "chief", "leader", "00001", "\u{0}", "\"", ";", ",", "\r\n",
        "\n", "é", "\u{feff}", "x",
    ];
    for _ in 0..120 {
        let mut file = String::from("username,full_name,role,unit,email,phone\n");
        for _ in 0..rand::Rng::random_range(&mut rng, 1..40) {
            file.push_str(pieces[rand::Rng::random_range(&mut rng, 0..pieces.len())]);
        }
        let (status, answer) = import(&server, file.clone(), false).await;
        assert!(status < 500, "{file:?}: {status} {answer}");
    }
    server.cleanup().await;
}
