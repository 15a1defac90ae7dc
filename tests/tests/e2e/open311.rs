//! Open311 GeoReport v2: discovery, services, a citizen's request that becomes a complaint in
//! the figures, the request list with each filter, JSON and XML, and GeoReport errors.

use chrono::Duration;
use ioc_tests::{now, TestServer};
use serde_json::{json, Value};
use sqlx::PgPool;

/// An XML document as (path of element names, text) pairs, e.g.
/// `("service_requests/request/status", "open")`; also checks it is well-formed.
fn xml_texts(xml: &str) -> Vec<(String, String)> {
    use quick_xml::events::Event;
    let mut reader = quick_xml::Reader::from_str(xml);
    let mut path: Vec<String> = Vec::new();
    let mut out = Vec::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            Event::Start(e) => path.push(String::from_utf8(e.name().as_ref().to_vec()).unwrap()),
            Event::Empty(e) => out.push((format!("{}/{}", path.join("/"), String::from_utf8_lossy(e.name().as_ref())), String::new())),
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => out.push((path.join("/"), t.decode().unwrap().into_owned())),
            Event::GeneralRef(r) => {
                // An escaped character (&lt; …) inside the current text.
                let name = String::from_utf8_lossy(&r).into_owned();
                let ch = match name.as_str() { "lt" => "<", "gt" => ">", "amp" => "&", "quot" => "\"", "apos" => "'", _ => "?" };
                out.push((path.join("/"), ch.to_owned()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "unclosed elements: {path:?}");
    out
}

fn text_at<'a>(texts: &'a [(String, String)], path: &str) -> Vec<&'a str> {
    texts.iter().filter(|(p, _)| p == path).map(|(_, t)| t.as_str()).collect()
}

async fn get(server: &TestServer, path: &str) -> (u16, String, String) {
    let response = reqwest::Client::new().get(format!("{}{path}", server.base)).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    (status, content_type, response.text().await.unwrap())
}

async fn post_form(server: &TestServer, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = reqwest::Client::new().post(format!("{}{path}", server.base)).form(form).send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// An ingest key for the citizens' app, as an admin creates it.
async fn app_key(server: &TestServer) -> String {
    server.create_key(&json!({"source": "app-hanoi"})).await
}

#[sqlx::test(migrations = "../server/migrations")]
async fn discovery_and_services_in_json_and_xml(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let (status, content_type, body) = get(&server, "/open311/v2/discovery.json").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("application/json"), "{content_type}");
    let discovery: Value = serde_json::from_str(&body).unwrap();
    let endpoint = &discovery["endpoints"][0];
    assert_eq!(endpoint["specification"], json!("http://wiki.open311.org/GeoReport_v2"));
    assert!(endpoint["url"].as_str().unwrap().ends_with("/open311/v2"), "{discovery}");
    assert_eq!(endpoint["formats"], json!(["application/json", "text/xml"]));

    let (status, content_type, body) = get(&server, "/open311/v2/discovery.xml").await;
    assert_eq!(status, 200);
    assert!(content_type.starts_with("text/xml"), "{content_type}");
    let texts = xml_texts(&body);
    assert_eq!(text_at(&texts, "discovery/endpoints/endpoint/formats/format"), vec!["application/json", "text/xml"]);

    let (status, _, body) = get(&server, "/open311/v2/services.json").await;
    assert_eq!(status, 200);
    let services: Vec<Value> = serde_json::from_str(&body).unwrap();
    let environment = services.iter().find(|s| s["service_code"] == "moi-truong").expect("Môi trường is a service");
    assert_eq!((environment["service_name"].as_str(), environment["type"].as_str()), (Some("Môi trường"), Some("realtime")));
    assert!(environment["group"].is_string() && environment["metadata"] == json!(true), "{environment}");

    let (_, _, body) = get(&server, "/open311/v2/services.xml").await;
    let texts = xml_texts(&body);
    assert_eq!(text_at(&texts, "services/service/service_code").len(), services.len());
    assert!(text_at(&texts, "services/service/service_name").contains(&"Giao thông"));

    let (status, _, body) = get(&server, "/open311/v2/services/moi-truong.json").await;
    assert_eq!(status, 200);
    let definition: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(definition["service_code"], json!("moi-truong"));
    assert_eq!(definition["attributes"][0]["code"], json!("unit"));
    let (_, _, body) = get(&server, "/open311/v2/services/moi-truong.xml").await;
    assert_eq!(text_at(&xml_texts(&body), "service_definition/attributes/attribute/code"), vec!["unit"]);

    // Errors, in the GeoReport format and with the right status.
    let (status, _, body) = get(&server, "/open311/v2/services/khong-co.json").await;
    assert_eq!(status, 404);
    let errors: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(errors[0]["code"], json!(404));
    assert!(errors[0]["description"].as_str().unwrap().contains("khong-co"), "{errors}");
    let (status, _, body) = get(&server, "/open311/v2/services/khong-co.xml").await;
    assert_eq!(status, 404);
    assert_eq!(text_at(&xml_texts(&body), "errors/error/code"), vec!["404"]);
    let (status, _, _) = get(&server, "/open311/v2/services.csv").await;
    assert_eq!(status, 404);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn a_request_becomes_a_complaint_in_the_figures_and_keeps_personal_data_private(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let key = app_key(&server).await;
    let before = server.summary("00004", "today").await.complaints.received;
    let form = [
        ("api_key", key.as_str()), ("service_code", "moi-truong"), ("address_id", "00004"),
        ("description", "Rác thải tồn đọng ở ngõ 12 <3 ngày>"), ("lat", "21.0455"), ("long", "105.8406"),
        ("address_string", "Ngõ 12 Trúc Bạch"), ("email", "nguoidan@example.vn"), ("phone", "0912345678"),
        ("first_name", "Lan"), ("last_name", "Nguyễn"), ("media_url", "https://example.vn/anh.jpg"),
    ];
    let (status, body) = post_form(&server, "/open311/v2/requests.json", &form).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    let id = answer[0]["service_request_id"].as_str().unwrap().to_owned();
    assert!(answer[0]["service_notice"].is_string(), "{answer}");

    // It is a complaint of the ward now, with the service's working-time deadline.
    let summary = server.summary("00004", "today").await;
    assert_eq!(summary.complaints.received, before + 1);
    assert_eq!(summary.complaints.by_channel.get("app"), Some(&1));

    let (status, _, body) = get(&server, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(status, 200, "{body}");
    let request = &serde_json::from_str::<Value>(&body).unwrap()[0];
    assert_eq!(request["status"], json!("open"));
    assert_eq!(request["service_code"], json!("moi-truong"));
    assert_eq!(request["service_name"], json!("Môi trường"));
    assert_eq!(request["agency_responsible"], json!("Phường Trúc Bạch"));
    assert_eq!(request["address_id"], json!("00004"));
    assert_eq!(request["address"], json!("Ngõ 12 Trúc Bạch"));
    assert_eq!((request["lat"].as_f64(), request["long"].as_f64()), (Some(21.0455), Some(105.8406)));
    assert!(request["expected_datetime"].as_str().unwrap().ends_with("+07:00"), "{request}");
    assert!(request.get("description").is_none(), "complaint texts are private by default: {request}");
    for private in ["nguoidan@example.vn", "0912345678", "Lan", "Nguyễn"] {
        assert!(!body.contains(private), "`{private}` must never be returned: {body}");
    }
    // The same in XML.
    let (status, _, body) = get(&server, &format!("/open311/v2/requests/{id}.xml")).await;
    assert_eq!(status, 200);
    let texts = xml_texts(&body);
    assert_eq!(text_at(&texts, "service_requests/request/service_request_id"), vec![id.as_str()]);
    assert_eq!(text_at(&texts, "service_requests/request/status"), vec!["open"]);
    // The personal data is stored (for the unit to call back), beside the complaint.
    let email: Option<String> = sqlx::query_scalar("SELECT email FROM open311_requests WHERE service_request_id = $1").bind(&id).fetch_one(&pool).await.unwrap();
    assert_eq!(email.as_deref(), Some("nguoidan@example.vn"));
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn the_request_list_filters_by_id_service_dates_and_status(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let key = app_key(&server).await;
    let mut ids = Vec::new();
    for (service, unit) in [("moi-truong", "00004"), ("giao-thong", "00001"), ("giao-thong", "00037")] {
        let (status, body) = post_form(&server, "/open311/v2/requests.xml", &[("api_key", &key), ("service_code", service), ("attribute[unit]", unit)]).await;
        assert_eq!(status, 200, "{body}");
        let texts = xml_texts(&body);
        ids.push(text_at(&texts, "service_requests/request/service_request_id")[0].to_owned());
    }
    // The unit resolves the second one (the app's own source, the request's id).
    let resolved = json!([{"id": "done-1", "source": "app-hanoi", "type": "complaint.resolved", "at": ioc_shared::time::to_local_rfc3339(now()),
        "unit": "00001", "complaint": ids[1]}]);
    let response = reqwest::Client::new().post(format!("{}/api/v1/events", server.base)).bearer_auth(&key).json(&resolved).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    server.settle().await;

    let list = |query: String| {
        let server = &server;
        async move {
            let (status, _, body) = get(server, &format!("/open311/v2/requests.json{query}")).await;
            assert_eq!(status, 200, "{query}: {body}");
            let mut found: Vec<String> = serde_json::from_str::<Vec<Value>>(&body).unwrap().iter().map(|r| r["service_request_id"].as_str().unwrap().to_owned()).collect();
            found.sort();
            found
        }
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(list(String::new()).await, sorted(ids.clone()), "the last 90 days by default");
    assert_eq!(list(format!("?service_request_id={},{}", ids[0], ids[2])).await, sorted(vec![ids[0].clone(), ids[2].clone()]));
    assert_eq!(list("?service_code=giao-thong".into()).await, sorted(vec![ids[1].clone(), ids[2].clone()]));
    assert_eq!(list("?status=closed".into()).await, vec![ids[1].clone()]);
    assert_eq!(list("?status=open".into()).await, sorted(vec![ids[0].clone(), ids[2].clone()]));
    let later = ioc_shared::time::to_local_rfc3339(now() + Duration::hours(1)).replace('+', "%2B");
    let earlier = ioc_shared::time::to_local_rfc3339(now() - Duration::hours(1)).replace('+', "%2B");
    assert_eq!(list(format!("?start_date={later}")).await, Vec::<String>::new());
    assert_eq!(list(format!("?start_date={earlier}&end_date={later}")).await, sorted(ids.clone()));
    assert_eq!(list(format!("?end_date={earlier}")).await, Vec::<String>::new());
    // Dates with an unencoded `+07:00` (which a query string turns into a space) still read.
    let raw_earlier = ioc_shared::time::to_local_rfc3339(now() - Duration::hours(1));
    let raw_later = ioc_shared::time::to_local_rfc3339(now() + Duration::hours(1));
    assert_eq!(list(format!("?start_date={raw_earlier}&end_date={raw_later}")).await, sorted(ids.clone()));
    let (_, _, body) = get(&server, &format!("/open311/v2/requests/{}.json", ids[1])).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()[0]["status"], json!("closed"));
    // The XML list.
    let (_, _, body) = get(&server, "/open311/v2/requests.xml?service_code=moi-truong").await;
    assert_eq!(text_at(&xml_texts(&body), "service_requests/request/service_request_id"), vec![ids[0].as_str()]);
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn bad_requests_get_georeport_errors_and_store_nothing(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let key = app_key(&server).await;
    for (form, status, expected) in [
        (vec![("service_code", "moi-truong"), ("address_id", "00004")], 403, "api_key"),
        (vec![("api_key", "not-a-key"), ("service_code", "moi-truong"), ("address_id", "00004")], 403, "api_key"),
        (vec![("api_key", key.as_str()), ("address_id", "00004")], 400, "service_code"),
        (vec![("api_key", key.as_str()), ("service_code", "khong-co"), ("address_id", "00004")], 400, "service_code"),
        (vec![("api_key", key.as_str()), ("service_code", "moi-truong")], 400, "address_id"),
        (vec![("api_key", key.as_str()), ("service_code", "moi-truong"), ("address_id", "99999")], 400, "not a unit code"),
        (vec![("api_key", key.as_str()), ("service_code", "moi-truong"), ("address_id", "00004"), ("lat", "200"), ("long", "1")], 400, "`lat`"),
        (vec![("api_key", key.as_str()), ("service_code", "moi-truong"), ("address_id", "00004"), ("description", "a\u{0}b")], 400, "NUL"),
    ] {
        let (got, body) = post_form(&server, "/open311/v2/requests.json", &form).await;
        assert_eq!(got, status, "{form:?}: {body}");
        let errors: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(errors[0]["code"], json!(status), "{body}");
        assert!(errors[0]["description"].as_str().unwrap().contains(expected), "{form:?}: {body}");
    }
    let (status, body) = post_form(&server, "/open311/v2/requests.xml", &[("api_key", "wrong")]).await;
    assert_eq!(status, 403);
    assert_eq!(text_at(&xml_texts(&body), "errors/error/code"), vec!["403"]);
    for query in ["?status=maybe", "?start_date=yesterday", "?service_code=khong-co"] {
        let (status, _, body) = get(&server, &format!("/open311/v2/requests.json{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()[0]["code"], json!(400));
    }
    let (status, _, _) = get(&server, "/open311/v2/requests/YC-unknown.json").await;
    assert_eq!(status, 404);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM open311_requests").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 0, "nothing stored for a refused request");
    assert_eq!(server.summary("00004", "today").await.complaints.received, 0);
    server.cleanup().await;
}

/// With IOC_OPEN311_PUBLIC_DESCRIPTIONS=true the city shows complaint texts in `GET requests`;
/// personal data stays private either way.
#[sqlx::test(migrations = "../server/migrations")]
async fn descriptions_are_shown_only_when_the_city_says_so(pool: PgPool) {
    let prefix = ioc_tests::fresh_prefix();
    let catalog = ioc_server::catalog::Catalog::load(None).unwrap();
    let server = TestServer::start_with(&pool, &prefix, catalog, |settings| settings.open311_public_descriptions = true).await;
    let key = app_key(&server).await;
    let form = [("api_key", key.as_str()), ("service_code", "giao-thong"), ("address_id", "00004"),
        ("description", "Ổ gà lớn trước số 10"), ("phone", "0987654321")];
    let (status, body) = post_form(&server, "/open311/v2/requests.json", &form).await;
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()[0]["service_request_id"].as_str().unwrap().to_owned();
    let (_, _, body) = get(&server, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()[0]["description"], json!("Ổ gà lớn trước số 10"), "{body}");
    assert!(!body.contains("0987654321"), "{body}");
    server.cleanup().await;
}
