//! Open311 GeoReport v2: discovery, services, a citizen's request that becomes a complaint in
//! the figures, the request list with each filter, JSON and XML, and GeoReport errors.

use chrono::Duration;
use ioc_tests::TestServer;
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
            Event::Empty(e) => out.push((
                format!("{}/{}", path.join("/"), String::from_utf8_lossy(e.name().as_ref())),
                String::new(),
            )),
            Event::End(_) => {
                path.pop();
            }
            Event::Text(t) => out.push((path.join("/"), t.decode().unwrap().into_owned())),
            Event::GeneralRef(r) => {
                // An escaped character (&lt; …) inside the current text.
                let name = String::from_utf8_lossy(&r).into_owned();
                let ch = match name.as_str() {
                    "lt" => "<",
                    "gt" => ">",
                    "amp" => "&",
                    "quot" => "\"",
                    "apos" => "'",
                    _ => "?",
                };
                out.push((path.join("/"), ch.to_owned()));
            }
            Event::Eof => break,
            _ => {}
        }
    }
    assert!(path.is_empty(), "unclosed elements: {path:?}");
    out
}

/// Parses `xml` with a strict XML 1.0 parser (the kind third-party clients use).
fn assert_well_formed(xml: &str) {
    if let Err(error) = roxmltree::Document::parse(xml) {
        panic!("not well-formed XML ({error}): {xml}");
    }
}

fn text_at<'a>(texts: &'a [(String, String)], path: &str) -> Vec<&'a str> {
    texts.iter().filter(|(p, _)| p == path).map(|(_, t)| t.as_str()).collect()
}

async fn get(server: &TestServer, path: &str) -> (u16, String, String) {
    let response =
        reqwest::Client::new().get(format!("{}{path}", server.base)).send().await.unwrap();
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    (status, content_type, response.text().await.unwrap())
}

async fn post_form(server: &TestServer, path: &str, form: &[(&str, &str)]) -> (u16, String) {
    let response = reqwest::Client::new()
        .post(format!("{}{path}", server.base))
        .form(form)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The ids `GET requests.json{query}` lists, sorted.
async fn listed(server: &TestServer, query: String) -> Vec<String> {
    let (status, _, body) = get(server, &format!("/open311/v2/requests.json{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    let mut found: Vec<String> = serde_json::from_str::<Vec<Value>>(&body)
        .unwrap()
        .iter()
        .map(|r| r["service_request_id"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    found
}

/// A server that shows complaint texts in `GET requests` (IOC_OPEN311_PUBLIC_DESCRIPTIONS).
async fn start_with_public_descriptions(pool: &PgPool) -> TestServer {
    let catalog = ioc_server::catalog::Catalog::load(None).unwrap();
    TestServer::start_with(pool, &ioc_tests::fresh_prefix(), catalog, |settings| {
        settings.open311_public_descriptions = true
    })
    .await
}

/// Files a request through `POST requests.json` (it must be accepted); its id.
async fn filed(server: &TestServer, form: &[(&str, &str)]) -> String {
    let (status, body) = post_form(server, "/open311/v2/requests.json", form).await;
    assert_eq!(status, 200, "{form:?}: {body}");
    serde_json::from_str::<Value>(&body).unwrap()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Sends events with the app's ingest key; the ingest answer.
async fn post_events(server: &TestServer, key: &str, events: &Value) -> Value {
    let response = reqwest::Client::new()
        .post(format!("{}/api/v1/events", server.base))
        .bearer_auth(key)
        .json(events)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.json().await.unwrap()
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
    assert_eq!(
        text_at(&texts, "discovery/endpoints/endpoint/formats/format"),
        vec!["application/json", "text/xml"]
    );

    let (status, _, body) = get(&server, "/open311/v2/services.json").await;
    assert_eq!(status, 200);
    let services: Vec<Value> = serde_json::from_str(&body).unwrap();
    let environment = services
        .iter()
        .find(|s| s["service_code"] == "moi-truong")
        .expect("Môi trường is a service");
    assert_eq!(
        (environment["service_name"].as_str(), environment["type"].as_str()),
        (Some("Môi trường"), Some("realtime"))
    );
    assert!(
        environment["group"].is_string() && environment["metadata"] == json!(true),
        "{environment}"
    );

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
    assert_eq!(
        text_at(&xml_texts(&body), "service_definition/attributes/attribute/code"),
        vec!["unit"]
    );

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
async fn a_request_becomes_a_complaint_in_the_figures_and_keeps_personal_data_private(
    pool: PgPool,
) {
    let server = TestServer::start(&pool).await;
    let key = app_key(&server).await;
    let before = server.summary("00004", "today").await.complaints.received;
    let form = [
        ("api_key", key.as_str()),
        ("service_code", "moi-truong"),
        ("address_id", "00004"),
        ("description", "Rác thải tồn đọng ở ngõ 12 <3 ngày>"),
        ("lat", "21.0455"),
        ("long", "105.8406"),
        ("address_string", "Ngõ 12 Trúc Bạch"),
        ("email", "nguoidan@example.vn"),
        ("phone", "0912345678"),
        ("first_name", "Lan"),
        ("last_name", "Nguyễn"),
        ("media_url", "https://example.vn/anh.jpg"),
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
    assert_eq!(
        (request["lat"].as_f64(), request["long"].as_f64()),
        (Some(21.0455), Some(105.8406))
    );
    assert!(request["expected_datetime"].as_str().unwrap().ends_with("+07:00"), "{request}");
    assert!(
        request.get("description").is_none(),
        "complaint texts are private by default: {request}"
    );
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
    let email: Option<String> =
        sqlx::query_scalar("SELECT email FROM open311_requests WHERE service_request_id = $1")
            .bind(&id)
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(email.as_deref(), Some("nguoidan@example.vn"));
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn the_request_list_filters_by_id_service_dates_and_status(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let key = app_key(&server).await;
    let mut ids = Vec::new();
    for (service, unit) in
        [("moi-truong", "00004"), ("giao-thong", "00001"), ("giao-thong", "00037")]
    {
        let (status, body) = post_form(
            &server,
            "/open311/v2/requests.xml",
            &[("api_key", &key), ("service_code", service), ("attribute[unit]", unit)],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let texts = xml_texts(&body);
        ids.push(text_at(&texts, "service_requests/request/service_request_id")[0].to_owned());
    }
    // The unit resolves the second one (the app's own source, the request's id).
    let resolved = json!([{"id": "done-1", "source": "app-hanoi", "type": "complaint.resolved", "at": ioc_shared::time::to_local_rfc3339(server.now()),
        "unit": "00001", "complaint": ids[1]}]);
    post_events(&server, &key, &resolved).await;
    server.settle().await;

    let list = |query: String| listed(&server, query);
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(list(String::new()).await, sorted(ids.clone()), "the last 90 days by default");
    assert_eq!(
        list(format!("?service_request_id={},{}", ids[0], ids[2])).await,
        sorted(vec![ids[0].clone(), ids[2].clone()])
    );
    assert_eq!(
        list("?service_code=giao-thong".into()).await,
        sorted(vec![ids[1].clone(), ids[2].clone()])
    );
    assert_eq!(list("?status=closed".into()).await, vec![ids[1].clone()]);
    assert_eq!(list("?status=open".into()).await, sorted(vec![ids[0].clone(), ids[2].clone()]));
    let later =
        ioc_shared::time::to_local_rfc3339(server.now() + Duration::hours(1)).replace('+', "%2B");
    let earlier =
        ioc_shared::time::to_local_rfc3339(server.now() - Duration::hours(1)).replace('+', "%2B");
    assert_eq!(list(format!("?start_date={later}")).await, Vec::<String>::new());
    assert_eq!(list(format!("?start_date={earlier}&end_date={later}")).await, sorted(ids.clone()));
    assert_eq!(list(format!("?end_date={earlier}")).await, Vec::<String>::new());
    // Dates with an unencoded `+07:00` (which a query string turns into a space) still read.
    let raw_earlier = ioc_shared::time::to_local_rfc3339(server.now() - Duration::hours(1));
    let raw_later = ioc_shared::time::to_local_rfc3339(server.now() + Duration::hours(1));
    assert_eq!(
        list(format!("?start_date={raw_earlier}&end_date={raw_later}")).await,
        sorted(ids.clone())
    );
    let (_, _, body) = get(&server, &format!("/open311/v2/requests/{}.json", ids[1])).await;
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()[0]["status"], json!("closed"));
    // The XML list.
    let (_, _, body) = get(&server, "/open311/v2/requests.xml?service_code=moi-truong").await;
    assert_eq!(
        text_at(&xml_texts(&body), "service_requests/request/service_request_id"),
        vec![ids[0].as_str()]
    );
    server.cleanup().await;
}

#[sqlx::test(migrations = "../server/migrations")]
async fn bad_requests_get_georeport_errors_and_store_nothing(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let key = app_key(&server).await;
    for (form, status, expected) in [
        (vec![("service_code", "moi-truong"), ("address_id", "00004")], 403, "api_key"),
        (
            vec![("api_key", "not-a-key"), ("service_code", "moi-truong"), ("address_id", "00004")],
            403,
            "api_key",
        ),
        (vec![("api_key", key.as_str()), ("address_id", "00004")], 400, "service_code"),
        (
            vec![("api_key", key.as_str()), ("service_code", "khong-co"), ("address_id", "00004")],
            404,
            "service_code",
        ),
        (
            vec![("api_key", key.as_str()), ("service_code", "moi-truong")],
            400,
            "one of `lat` & `long`, `address_string` or `address_id`",
        ),
        (
            vec![
                ("api_key", key.as_str()),
                ("service_code", "moi-truong"),
                ("address_id", "99999"),
            ],
            400,
            "not a unit code",
        ),
        (
            vec![
                ("api_key", key.as_str()),
                ("service_code", "moi-truong"),
                ("address_id", "00004"),
                ("lat", "200"),
                ("long", "1"),
            ],
            400,
            "`lat`",
        ),
        (
            vec![
                ("api_key", key.as_str()),
                ("service_code", "moi-truong"),
                ("address_id", "00004"),
                ("description", "a\u{0}b"),
            ],
            400,
            "U+0000",
        ),
        (
            vec![
                ("api_key", key.as_str()),
                ("service_code", "moi-truong"),
                ("address_id", "00004"),
                ("description", "a\u{1}b"),
            ],
            400,
            "U+0001",
        ),
        (
            vec![
                ("api_key", key.as_str()),
                ("service_code", "moi-truong"),
                ("address_id", "00004"),
                ("description", "a\u{b}b"),
            ],
            400,
            "U+000B",
        ),
        (
            vec![
                ("api_key", key.as_str()),
                ("service_code", "moi-truong"),
                ("address_string", "x\u{fffe}"),
            ],
            400,
            "U+FFFE",
        ),
        (
            vec![
                ("api_key", key.as_str()),
                ("service_code", "moi-truong"),
                ("address_id", "00004"),
                ("lat", "21.0"),
            ],
            400,
            "both `lat` and `long`",
        ),
    ] {
        let (got, body) = post_form(&server, "/open311/v2/requests.json", &form).await;
        assert_eq!(got, status, "{form:?}: {body}");
        let errors: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(errors[0]["code"], json!(status), "{body}");
        assert!(errors[0]["description"].as_str().unwrap().contains(expected), "{form:?}: {body}");
    }
    let (status, body) =
        post_form(&server, "/open311/v2/requests.xml", &[("api_key", "wrong")]).await;
    assert_eq!(status, 403);
    assert_eq!(text_at(&xml_texts(&body), "errors/error/code"), vec!["403"]);
    for query in ["?status=maybe", "?start_date=yesterday", "?service_code=khong-co"] {
        let (status, _, body) = get(&server, &format!("/open311/v2/requests.json{query}")).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert_eq!(serde_json::from_str::<Value>(&body).unwrap()[0]["code"], json!(400));
    }
    let (status, _, _) = get(&server, "/open311/v2/requests/YC-unknown.json").await;
    assert_eq!(status, 404);
    let stored: i64 =
        sqlx::query_scalar("SELECT count(*) FROM open311_requests").fetch_one(&pool).await.unwrap();
    assert_eq!(stored, 0, "nothing stored for a refused request");
    assert_eq!(server.summary("00004", "today").await.complaints.received, 0);
    server.cleanup().await;
}

/// With IOC_OPEN311_PUBLIC_DESCRIPTIONS=true the city shows complaint texts in `GET requests`;
/// personal data stays private either way.
#[sqlx::test(migrations = "../server/migrations")]
async fn descriptions_are_shown_only_when_the_city_says_so(pool: PgPool) {
    let server = start_with_public_descriptions(&pool).await;
    let key = app_key(&server).await;
    let form = [
        ("api_key", key.as_str()),
        ("service_code", "giao-thong"),
        ("address_id", "00004"),
        ("description", "Ổ gà lớn trước số 10"),
        ("phone", "0987654321"),
    ];
    let (status, body) = post_form(&server, "/open311/v2/requests.json", &form).await;
    assert_eq!(status, 200, "{body}");
    let id = serde_json::from_str::<Value>(&body).unwrap()[0]["service_request_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, _, body) = get(&server, &format!("/open311/v2/requests/{id}.json")).await;
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()[0]["description"],
        json!("Ổ gà lớn trước số 10"),
        "{body}"
    );
    assert!(!body.contains("0987654321"), "{body}");
    server.cleanup().await;
}

/// Complaints received over the last 24 hours at `unit`.
async fn received(server: &TestServer, unit: &str) -> u64 {
    server.summary(unit, "24h").await.complaints.received
}

/// A request with only coordinates or only an address is filed at the catalog's root as
/// "cần phân loại", counted there, listed in the routing queue; a `complaint.routed` (or
/// `complaint.assigned`) naming the ward moves it and its figures there.
#[sqlx::test(migrations = "../server/migrations")]
async fn a_request_without_a_unit_waits_in_the_routing_queue_until_routed(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let key = app_key(&server).await;
    let catalog = &server.server.state.catalog;
    let root = catalog.roots()[0].clone();
    let district = catalog.get("00004").and_then(|u| u.parent.clone()).unwrap();
    let mut ids = Vec::new();
    for place in [
        &[("lat", "21.0455"), ("long", "105.8406")][..],
        &[("address_string", "Ngõ 12 Trúc Bạch")][..],
    ] {
        let mut form = vec![("api_key", key.as_str()), ("service_code", "moi-truong")];
        form.extend_from_slice(place);
        ids.push(filed(&server, &form).await);
    }
    let (root_code, district_code) = (root.as_str(), district.as_str());
    assert_eq!(received(&server, root_code).await, 2, "counted as received, at the root");
    assert_eq!((received(&server, district_code).await, received(&server, "00004").await), (0, 0));
    let queue = |unit: String| {
        let server = &server;
        async move {
            let (status, body) = server
                .get(&format!("/api/v1/units/{unit}/items?kind=complaint&state=needs_routing"))
                .await;
            assert_eq!(status, 200, "{body}");
            body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    let mut waiting = queue(root.clone()).await;
    waiting.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(waiting, expected, "both in the routing queue");
    let (_, _, body) = get(&server, &format!("/open311/v2/requests/{}.json", ids[0])).await;
    let request = &serde_json::from_str::<Value>(&body).unwrap()[0];
    assert_eq!(
        (request["status"].as_str(), request["status_notes"].as_str()),
        (Some("open"), Some("Cần phân loại")),
        "{request}"
    );
    assert_eq!(request["address_id"].as_str(), Some(root.as_str()));

    // The city's operators route the first to the ward, and assign the second to an officer there.
    let at = ioc_shared::time::to_local_rfc3339(server.now());
    let routing = json!([
        {"id": "route-1", "source": "app-hanoi", "type": "complaint.routed", "at": at, "unit": "00004", "complaint": ids[0], "note": "Phường Trúc Bạch"},
        {"id": "route-2", "source": "app-hanoi", "type": "complaint.assigned", "at": at, "unit": "00004", "complaint": ids[1],
         "officer": {"id": "cb-1", "name": "Trần Văn Bình"}},
    ]);
    let answer = post_events(&server, &key, &routing).await;
    assert_eq!(answer["accepted"], json!(2), "{answer}");
    server.settle().await;
    assert_eq!(received(&server, "00004").await, 2, "moved to the ward with their figures");
    assert_eq!(received(&server, district_code).await, 2);
    assert_eq!(
        received(&server, root_code).await,
        2,
        "the root still counts them once, below it now"
    );
    assert_eq!(queue(root.clone()).await, Vec::<String>::new(), "the queue is empty");
    let (_, _, body) = get(&server, &format!("/open311/v2/requests/{}.json", ids[0])).await;
    let request = &serde_json::from_str::<Value>(&body).unwrap()[0];
    assert_eq!(
        (request["address_id"].as_str(), request["status_notes"].as_str()),
        (Some("00004"), Some("Đang xử lý")),
        "{request}"
    );
    // From now on the complaint's events carry the ward: the root is refused.
    let late = json!([{"id": "late-1", "source": "app-hanoi", "type": "complaint.resolved", "at": at, "unit": root, "complaint": ids[0]}]);
    let answer = post_events(&server, &key, &late).await;
    assert_eq!(answer["accepted"], json!(0), "{answer}");
    // The figures after the move equal a rebuild from PostgreSQL.
    let before = (
        received(&server, "00004").await,
        received(&server, district_code).await,
        received(&server, root_code).await,
    );
    server.server.state.applier.request_rebuild("test: routed complaints");
    server.settle().await;
    assert_eq!(
        (
            received(&server, "00004").await,
            received(&server, district_code).await,
            received(&server, root_code).await
        ),
        before
    );
    server.cleanup().await;
}

/// Every error under /open311/ is a GeoReport error document in the format of the path, with
/// its status: 403, 404, 405, 413, 414, and 400 for bytes in the path that do not decode.
#[sqlx::test(migrations = "../server/migrations")]
async fn every_error_is_a_georeport_document_in_the_requested_format(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let client = reqwest::Client::new();
    let long_query = format!("?service_request_id={}", "x".repeat(9_000));
    let big_body = format!("api_key=k&description={}", "a".repeat(3_000_000));
    for format in ["json", "xml"] {
        let cases: Vec<(reqwest::RequestBuilder, u16)> = vec![
            (
                client
                    .post(format!("{}/open311/v2/requests.{format}", server.base))
                    .form(&[("service_code", "moi-truong")]),
                403,
            ),
            (client.get(format!("{}/open311/v2/nothing-here.{format}", server.base)), 404),
            (client.get(format!("{}/open311/v2/requests/YC-none.{format}", server.base)), 404),
            (client.put(format!("{}/open311/v2/requests.{format}", server.base)), 405),
            (client.delete(format!("{}/open311/v2/services.{format}", server.base)), 405),
            (
                client
                    .post(format!("{}/open311/v2/requests.{format}", server.base))
                    .header("content-type", "application/x-www-form-urlencoded")
                    .body(big_body.clone()),
                413,
            ),
            (client.get(format!("{}/open311/v2/requests.{format}{long_query}", server.base)), 414),
            (client.get(format!("{}/open311/v2/requests/%FF%FE.{format}", server.base)), 400),
            (
                client.get(format!("{}/open311/v2/requests.{format}?start_date=%FF", server.base)),
                400,
            ),
        ];
        for (request, status) in cases {
            let response = request.send().await.unwrap();
            let got = response.status().as_u16();
            let content_type = response
                .headers()
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response.text().await.unwrap();
            assert_eq!(got, status, "{format}: {body}");
            if format == "json" {
                assert!(content_type.starts_with("application/json"), "{status}: {content_type}");
                let errors: Value =
                    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{status}: {e}: {body}"));
                assert_eq!(errors[0]["code"], json!(status), "{body}");
                assert!(errors[0]["description"].as_str().is_some_and(|d| !d.is_empty()), "{body}");
            } else {
                assert!(content_type.starts_with("text/xml"), "{status}: {content_type}");
                assert_well_formed(&body);
                assert_eq!(
                    text_at(&xml_texts(&body), "errors/error/code"),
                    vec![status.to_string()],
                    "{body}"
                );
            }
        }
    }
    server.cleanup().await;
}

/// `service_code` comma-delimited and repeated, `status` both ways, W3C dates in every form,
/// `api_key` in the query string, and descriptions and addresses up to 4,000 characters.
#[sqlx::test(migrations = "../server/migrations")]
async fn filters_dates_keys_and_lengths_as_the_specification_gives_them(pool: PgPool) {
    let server = TestServer::start(&pool).await;
    let key = app_key(&server).await;
    let long_text = "ộ".repeat(4_000);
    let mut ids = Vec::new();
    for (service, description) in
        [("moi-truong", long_text.as_str()), ("giao-thong", "Ổ gà"), ("trat-tu-do-thi", "Vỉa hè")]
    {
        // The key in the query string, the rest in the body.
        let url = format!("{}/open311/v2/requests.json?api_key={key}", server.base);
        let response = reqwest::Client::new()
            .post(url)
            .form(&[
                ("service_code", service),
                ("address_id", "00004"),
                ("description", description),
                ("address_string", long_text.as_str()),
            ])
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap();
        assert_eq!(status, 200, "{service}: {body}");
        ids.push(
            serde_json::from_str::<Value>(&body).unwrap()[0]["service_request_id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let too_long = "a".repeat(4_001);
    for field in ["description", "address_string"] {
        let (status, body) = post_form(
            &server,
            "/open311/v2/requests.json",
            &[
                ("api_key", &key),
                ("service_code", "moi-truong"),
                ("address_id", "00004"),
                (field, &too_long),
            ],
        )
        .await;
        assert_eq!(status, 400, "{field}: {body}");
        assert!(body.contains("4000"), "{body}");
    }
    // The third is resolved.
    let resolved = json!([{"id": "done-3", "source": "app-hanoi", "type": "complaint.resolved", "at": ioc_shared::time::to_local_rfc3339(server.now()), "unit": "00004", "complaint": ids[2]}]);
    post_events(&server, &key, &resolved).await;
    server.settle().await;
    let list = |query: String| listed(&server, query);
    let sorted = |v: &[&String]| {
        let mut v: Vec<String> = v.iter().map(|s| (*s).clone()).collect();
        v.sort();
        v
    };
    let all = sorted(&[&ids[0], &ids[1], &ids[2]]);
    assert_eq!(
        list("?service_code=moi-truong,giao-thong".into()).await,
        sorted(&[&ids[0], &ids[1]])
    );
    assert_eq!(
        list("?service_code=moi-truong&service_code=trat-tu-do-thi".into()).await,
        sorted(&[&ids[0], &ids[2]])
    );
    assert_eq!(
        list("?service_code=moi-truong,%20giao-thong&service_code=trat-tu-do-thi".into()).await,
        all
    );
    assert_eq!(list("?status=open,closed".into()).await, all);
    assert_eq!(list("?status=open&status=closed".into()).await, all);
    assert_eq!(list("?status=closed".into()).await, vec![ids[2].clone()]);
    // W3C dates: a day (local), minutes without seconds in UTC, any offset.
    let now = server.now();
    let today = server.today();
    let tomorrow = today.succ_opt().unwrap();
    assert_eq!(
        list(format!("?start_date={today}&end_date={today}")).await,
        all,
        "a local day, both ends included"
    );
    assert_eq!(list(format!("?start_date={tomorrow}")).await, Vec::<String>::new());
    let minute = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%MZ").to_string();
    assert_eq!(
        list(format!(
            "?start_date={}&end_date={}",
            minute(now - Duration::minutes(5)),
            minute(now + Duration::minutes(5))
        ))
        .await,
        all
    );
    let offset = (now + Duration::hours(1))
        .with_timezone(&chrono::FixedOffset::west_opt(3 * 3600).unwrap())
        .format("%Y-%m-%dT%H:%M%:z")
        .to_string();
    assert_eq!(
        list(format!("?start_date={}", offset.replace('+', "%2B"))).await,
        Vec::<String>::new()
    );
    assert_eq!(list(format!("?end_date={}", offset.replace('+', "%2B"))).await, all);
    for bad in [
        "?start_date=2026-13-01",
        "?end_date=02/12/2026",
        "?start_date=2026-12-02T04Z",
        "?start_date=a&start_date=b",
    ] {
        let (status, _, body) = get(&server, &format!("/open311/v2/requests.json{bad}")).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    server.cleanup().await;
}

/// A request stored with characters XML forbids (before they were refused, or put there by
/// another door) never makes requests.xml unreadable: they are written replaced.
#[sqlx::test(migrations = "../server/migrations")]
async fn requests_stored_with_forbidden_characters_still_make_well_formed_xml(pool: PgPool) {
    let server = start_with_public_descriptions(&pool).await;
    let key = app_key(&server).await;
    let (status, body) = post_form(
        &server,
        "/open311/v2/requests.xml",
        &[
            ("api_key", &key),
            ("service_code", "moi-truong"),
            ("address_id", "00004"),
            ("description", "sạch"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    sqlx::query("UPDATE items SET summary = 'a' || chr(1) || 'b' || chr(11) || 'c' || chr(65534) WHERE kind = 'complaint'").execute(&pool).await.unwrap();
    sqlx::query("UPDATE open311_requests SET address_string = 'x' || chr(31)")
        .execute(&pool)
        .await
        .unwrap();
    for path in ["/open311/v2/requests.xml", "/open311/v2/requests.xml?status=open"] {
        let (status, _, body) = get(&server, path).await;
        assert_eq!(status, 200, "{body}");
        assert_well_formed(&body);
        let texts = xml_texts(&body);
        assert_eq!(
            text_at(&texts, "service_requests/request/description"),
            vec!["a\u{fffd}b\u{fffd}c\u{fffd}"]
        );
        assert_eq!(text_at(&texts, "service_requests/request/address"), vec!["x\u{fffd}"]);
    }
    server.cleanup().await;
}

/// The PyPI client `georeport` (what a third-party app uses; scripts/setup.sh pins it) reads
/// services, a definition, the filtered list and single requests in JSON and in XML, with a
/// stored description that holds a character XML forbids: its expat parser must accept
/// every answer.
#[sqlx::test(migrations = "../server/migrations")]
async fn the_georeport_client_from_pypi_reads_every_answer_in_json_and_xml(pool: PgPool) {
    let python = std::env::var("IOC_OPEN311_CLIENT_PYTHON").expect(
        "IOC_OPEN311_CLIENT_PYTHON names the Python with `georeport` (scripts/test.sh sets it up)",
    );
    let server = start_with_public_descriptions(&pool).await;
    let key = app_key(&server).await;
    let mut ids = Vec::new();
    for form in [
        vec![
            ("api_key", key.as_str()),
            ("service_code", "moi-truong"),
            ("address_id", "00004"),
            ("description", "Rác \"ngõ 12\" <3 ngày> & mùi\r\nhôi"),
        ],
        vec![
            ("api_key", key.as_str()),
            ("service_code", "giao-thong"),
            ("lat", "21.0455"),
            ("long", "105.8406"),
        ],
    ] {
        ids.push(filed(&server, &form).await);
    }
    // As if stored before control characters were refused.
    sqlx::query("UPDATE items SET summary = 'cũ' || chr(1) WHERE item_id = $1")
        .bind(&ids[1])
        .execute(&pool)
        .await
        .unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/georeport_client.py");
    // Off the runtime: the server answering the client runs on it.
    let command = (python.clone(), format!("{}/open311/v2", server.base), ids.clone());
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&command.0).arg(script).arg(&command.1).args(&command.2).output()
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("{python}: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "georeport failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    let read: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    let mut sorted_ids = ids.clone();
    sorted_ids.sort();
    for format in ["json", "xml"] {
        let got = &read[format];
        assert!(
            got["services"].as_array().unwrap().contains(&json!("moi-truong")),
            "{format}: {got}"
        );
        assert_eq!(got["definition"], json!("moi-truong"), "{format}");
        assert_eq!(got["listed"], json!(sorted_ids), "{format}");
        let descriptions: Vec<&str> =
            got["descriptions"].as_array().unwrap().iter().map(|d| d.as_str().unwrap()).collect();
        assert!(
            descriptions.contains(&"Rác \"ngõ 12\" <3 ngày> & mùi\r\nhôi"),
            "{format}: {descriptions:?}"
        );
        assert!(
            descriptions.contains(&"cũ\u{fffd}") || descriptions.contains(&"cũ\u{1}"),
            "{format}: {descriptions:?}"
        );
        assert_eq!(got["status_notes"][&ids[0]], json!("Đang xử lý"), "{format}");
        assert_eq!(got["status_notes"][&ids[1]], json!("Cần phân loại"), "{format}");
    }
    // JSON carries the stored text as it is; XML cannot, and writes U+FFFD.
    assert!(
        read["xml"]["descriptions"].as_array().unwrap().contains(&json!("cũ\u{fffd}")),
        "{}",
        read["xml"]
    );
    server.cleanup().await;
}
