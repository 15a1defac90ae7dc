//! Open311 GeoReport v2 under `/open311/v2/`, in JSON (`.json`) and XML (`.xml`):
//! `discovery`, `services`, `services/{code}`, `requests` (GET and POST) and `requests/{id}`.
//! Errors are GeoReport errors (`[{"code": 400, "description": "…"}]`) with that status.
//!
//! A request becomes an ordinary `complaint.received` (so it shows in every figure at once);
//! its place, media and the citizen's personal data are kept beside it and the personal data
//! is never returned.

use crate::ingest::open311::{read_form, service, service_request, services, Service};
use crate::state::AppState;
use crate::store::open311::{RequestFilter, RequestRow};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The specification this follows.
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// When this API last changed in a way clients would notice.
const CHANGESET: &str = "2026-11-23T00:00:00+07:00";
/// Requests listed when no dates are given: the last 90 days…
const DEFAULT_DAYS: i64 = 90;
/// …and at most this many per answer (newest first).
pub const MAX_REQUESTS: i64 = 1_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/open311/v2/{file}", get(get_top).post(post_requests))
        .route("/open311/v2/services/{file}", get(get_service))
        .route("/open311/v2/requests/{file}", get(get_request))
        // Anything else under /open311 is a GeoReport 404, never the dashboard.
        .route("/open311", any(unknown))
        .route("/open311/{*rest}", any(unknown))
}

async fn unknown(uri: axum::http::Uri) -> Response {
    let format = if uri.path().ends_with(".xml") { Format::Xml } else { Format::Json };
    not_found(format).into_response()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Xml,
}

/// `name.json` / `name.xml` → (name, format).
fn split_format(file: &str) -> Option<(&str, Format)> {
    if let Some(name) = file.strip_suffix(".json") {
        Some((name, Format::Json))
    } else {
        file.strip_suffix(".xml").map(|name| (name, Format::Xml))
    }
}

/// A GeoReport error answer.
struct Open311Error {
    status: StatusCode,
    description: String,
    format: Format,
}

impl Open311Error {
    fn new(status: StatusCode, description: impl Into<String>, format: Format) -> Open311Error {
        Open311Error { status, description: description.into(), format }
    }
}

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let body = json!([{"code": self.status.as_u16(), "description": self.description}]);
        let mut response = render(self.format, "errors", &body);
        *response.status_mut() = self.status;
        response
    }
}

fn not_found(format: Format) -> Open311Error {
    Open311Error::new(StatusCode::NOT_FOUND, "no such Open311 resource; see discovery.json", format)
}

/// The answer in the asked format. For XML, `root` names the outer element, and each array
/// element is named after its array (see [`element_name`]).
fn render(format: Format, root: &str, body: &Value) -> Response {
    match format {
        Format::Json => ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response(),
        Format::Xml => match to_xml(root, body) {
            Ok(xml) => ([(header::CONTENT_TYPE, "text/xml; charset=utf-8")], xml).into_response(),
            Err(error) => {
                tracing::error!(%error, "Open311 XML not written");
                (StatusCode::INTERNAL_SERVER_ERROR, [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
                    "<?xml version=\"1.0\" encoding=\"utf-8\"?><errors><error><code>500</code><description>internal error</description></error></errors>")
                    .into_response()
            }
        },
    }
}

/// GeoReport's XML names: a list's elements are named after the list.
fn element_name(list: &str) -> &str {
    match list {
        "services" => "service",
        "service_requests" => "request",
        "errors" => "error",
        "endpoints" => "endpoint",
        "formats" => "format",
        "attributes" => "attribute",
        "values" => "value",
        other => other,
    }
}

fn to_xml(root: &str, body: &Value) -> Result<String, std::io::Error> {
    let mut writer = quick_xml::Writer::new(Vec::new());
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("utf-8"), None)))?;
    write_element(&mut writer, root, body)?;
    Ok(String::from_utf8_lossy(&writer.into_inner()).into_owned())
}

fn write_element(writer: &mut quick_xml::Writer<Vec<u8>>, name: &str, value: &Value) -> Result<(), std::io::Error> {
    let element = writer.create_element(name);
    match value {
        Value::Null => {
            element.write_empty()?;
        }
        Value::Bool(b) => {
            element.write_text_content(BytesText::new(if *b { "true" } else { "false" }))?;
        }
        Value::Number(n) => {
            element.write_text_content(BytesText::new(&n.to_string()))?;
        }
        Value::String(s) => {
            element.write_text_content(BytesText::new(s))?;
        }
        Value::Array(items) => {
            let item_name = element_name(name).to_owned();
            element.write_inner_content(|w| {
                for item in items {
                    write_element(w, &item_name, item)?;
                }
                Ok::<(), std::io::Error>(())
            })?;
        }
        Value::Object(fields) => {
            element.write_inner_content(|w| {
                for (key, field) in fields {
                    write_element(w, key, field)?;
                }
                Ok::<(), std::io::Error>(())
            })?;
        }
    }
    Ok(())
}

/// This server's base URL as the client reached it (behind a TLS proxy: `X-Forwarded-Proto`).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let https = headers.get("x-forwarded-proto").and_then(|v| v.to_str().ok()).is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

fn service_json(service: &Service) -> Value {
    json!({
        "service_code": service.code, "service_name": service.name, "description": service.description,
        "metadata": true, "type": "realtime", "keywords": service.group.to_lowercase(), "group": service.group,
    })
}

async fn get_top(State(state): State<AppState>, Path(file): Path<String>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let Some((name, format)) = split_format(&file) else { return not_found(Format::Json).into_response() };
    match name {
        "discovery" => {
            let body = json!({
                "changeset": CHANGESET,
                "contact": "Trung tâm Điều hành (IOC): quản trị viên của hệ thống",
                "key_service": "Khoá (api_key) do quản trị viên cấp: `ioc key create SOURCE`",
                "endpoints": [{
                    "specification": SPECIFICATION, "url": format!("{}/open311/v2", base_url(&headers)),
                    "changeset": CHANGESET, "type": "production", "formats": ["application/json", "text/xml"],
                }],
            });
            render(format, "discovery", &body)
        }
        "services" => render(format, "services", &Value::Array(services().iter().map(service_json).collect())),
        "requests" => match list_requests(&state, query.as_deref().unwrap_or(""), format).await {
            Ok(body) => render(format, "service_requests", &body),
            Err(error) => error.into_response(),
        },
        _ => not_found(format).into_response(),
    }
}

async fn get_service(Path(file): Path<String>) -> Response {
    let Some((code, format)) = split_format(&file) else { return not_found(Format::Json).into_response() };
    let Some(service) = service(code) else {
        return Open311Error::new(StatusCode::NOT_FOUND, format!("no service `{code}`; see services.{}", if format == Format::Json { "json" } else { "xml" }), format).into_response();
    };
    let body = json!({
        "service_code": service.code,
        "attributes": [{
            "variable": true, "code": "unit", "datatype": "string", "required": false,
            "datatype_description": "Mã đơn vị hành chính (phường, xã) theo danh mục; thay cho address_id",
            "order": 1, "description": "Đơn vị hành chính nơi phản ánh",
        }],
    });
    render(format, "service_definition", &body)
}

async fn get_request(State(state): State<AppState>, Path(file): Path<String>) -> Response {
    let Some((id, format)) = split_format(&file) else { return not_found(Format::Json).into_response() };
    let filter = RequestFilter { ids: vec![id.to_owned()], limit: 1, ..Default::default() };
    match state.store.open311_requests(&filter).await {
        Ok(rows) if rows.is_empty() => Open311Error::new(StatusCode::NOT_FOUND, format!("no service request `{id}`"), format).into_response(),
        Ok(rows) => render(format, "service_requests", &Value::Array(rows.iter().map(|r| request_json(&state, r)).collect())),
        Err(error) => unavailable(error, format).into_response(),
    }
}

fn unavailable(error: crate::store::StoreError, format: Format) -> Open311Error {
    tracing::error!(%error, "Open311 request not answered");
    Open311Error::new(StatusCode::SERVICE_UNAVAILABLE, "the service is unavailable; try again", format)
}

fn parse_date(name: &str, text: &str, format: Format) -> Result<DateTime<Utc>, Open311Error> {
    ioc_shared::time::parse_rfc3339_in_query(text)
        .ok_or_else(|| Open311Error::new(StatusCode::BAD_REQUEST, format!("`{name}` must be a W3C date-time with an offset, e.g. 2026-11-20T08:00:00+07:00 (got `{text}`)"), format))
}

async fn list_requests(state: &AppState, query: &str, format: Format) -> Result<Value, Open311Error> {
    let params: HashMap<String, String> = form_urlencoded::parse(query.as_bytes()).into_owned().collect();
    let bad = |m: String| Open311Error::new(StatusCode::BAD_REQUEST, m, format);
    let mut filter = RequestFilter { limit: MAX_REQUESTS, ..Default::default() };
    if let Some(ids) = params.get("service_request_id").filter(|v| !v.is_empty()) {
        filter.ids = ids.split(',').map(|id| id.trim().to_owned()).filter(|id| !id.is_empty()).take(MAX_REQUESTS as usize).collect();
    }
    if let Some(code) = params.get("service_code").filter(|v| !v.is_empty()) {
        if service(code).is_none() {
            return Err(bad(format!("unknown `service_code` `{code}`")));
        }
        filter.service_code = Some(code.clone());
    }
    let end = params.get("end_date").filter(|v| !v.is_empty()).map(|t| parse_date("end_date", t, format)).transpose()?;
    let start = params.get("start_date").filter(|v| !v.is_empty()).map(|t| parse_date("start_date", t, format)).transpose()?;
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            return Err(bad("`end_date` is before `start_date`".into()));
        }
    }
    // With no dates, the last 90 days; with one, 90 days from or to it.
    filter.from = Some(start.unwrap_or_else(|| end.unwrap_or_else(Utc::now) - Duration::days(DEFAULT_DAYS)));
    filter.to = end.or_else(|| start.map(|s| s + Duration::days(DEFAULT_DAYS)));
    if let Some(status) = params.get("status").filter(|v| !v.is_empty()) {
        let wanted: Vec<&str> = status.split(',').map(str::trim).collect();
        if wanted.iter().any(|s| *s != "open" && *s != "closed") {
            return Err(bad(format!("`status` must be `open` or `closed` (got `{status}`)")));
        }
        let (open, closed) = (wanted.contains(&"open"), wanted.contains(&"closed"));
        filter.open = if open && !closed { Some(true) } else if closed && !open { Some(false) } else { None };
    }
    let rows = state.store.open311_requests(&filter).await.map_err(|e| unavailable(e, format))?;
    Ok(Value::Array(rows.iter().map(|r| request_json(state, r)).collect()))
}

fn request_json(state: &AppState, row: &RequestRow) -> Value {
    let local = |t: Option<DateTime<Utc>>| t.map(ioc_shared::time::to_local_rfc3339);
    let service = service(&row.service_code);
    let open = row.open.unwrap_or(true);
    let status_notes = if open { "Đang xử lý" } else { "Đã giải quyết" };
    let mut body = Map::new();
    body.insert("service_request_id".into(), json!(row.service_request_id));
    body.insert("status".into(), json!(if open { "open" } else { "closed" }));
    body.insert("status_notes".into(), json!(status_notes));
    body.insert("service_name".into(), json!(service.map(|s| s.name.as_str())));
    body.insert("service_code".into(), json!(row.service_code));
    if state.settings.open311_public_descriptions {
        body.insert("description".into(), json!(row.summary));
    }
    body.insert("agency_responsible".into(), json!(state.catalog.get(&row.unit).map(|u| u.name.as_str())));
    body.insert("service_notice".into(), Value::Null);
    body.insert("requested_datetime".into(), json!(local(Some(row.requested_at))));
    body.insert("updated_datetime".into(), json!(local(row.resolved_at.or(row.updated_at))));
    body.insert("expected_datetime".into(), json!(local(row.due_at)));
    body.insert("address".into(), json!(row.address_string));
    body.insert("address_id".into(), json!(row.unit));
    body.insert("zipcode".into(), Value::Null);
    body.insert("lat".into(), json!(row.lat));
    body.insert("long".into(), json!(row.long));
    body.insert("media_url".into(), json!(row.media_url));
    Value::Object(body)
}

/// `POST requests.{format}`: a form with `api_key` (an ingest key), `service_code`, the place
/// (`address_id` or `attribute[unit]`), and optionally the rest GeoReport defines.
async fn post_requests(State(state): State<AppState>, Path(file): Path<String>, parts: axum::http::request::Parts, body: Bytes) -> Response {
    let Some(("requests", format)) = split_format(&file) else {
        let format = split_format(&file).map_or(Format::Json, |(_, f)| f);
        return Open311Error::new(StatusCode::METHOD_NOT_ALLOWED, "only requests.json and requests.xml take a POST", format).into_response();
    };
    match create_request(&state, &parts, &body).await {
        Ok(id) => {
            let notice = "Phản ánh đã được tiếp nhận và chuyển đến đơn vị có thẩm quyền.";
            render(format, "service_requests", &json!([{"service_request_id": id, "service_notice": notice}]))
        }
        Err((status, description)) => Open311Error::new(status, description, format).into_response(),
    }
}

async fn create_request(state: &AppState, parts: &axum::http::request::Parts, body: &[u8]) -> Result<String, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    let fields = read_form(body).map_err(bad)?;
    // The key: the same check (and the same throttling of wrong keys) as POST /api/v1/events.
    let key = fields.get("api_key").filter(|k| !k.is_empty()).ok_or((StatusCode::FORBIDDEN, "missing `api_key` (an ingest key)".to_owned()))?;
    let sender = super::events::sender_for_key(state, parts, key).await.map_err(|error| match error {
        super::error::ApiError::TooManyRequests { message, .. } => (StatusCode::TOO_MANY_REQUESTS, message),
        super::error::ApiError::StorageUnavailable(_) | super::error::ApiError::AggregatesUnavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "the service is unavailable; try again".to_owned())
        }
        _ => (StatusCode::FORBIDDEN, "invalid or revoked `api_key`".to_owned()),
    })?;
    let source = match &sender {
        crate::ingest::Sender::Key(key) => key.source.clone(),
        crate::ingest::Sender::Trusted => "open311".to_owned(),
    };
    let id = format!("YC-{}", uuid_like());
    let checked = service_request(&fields, &state.catalog, &source, &id, Utc::now()).map_err(bad)?;
    let limit = state.settings.database_timeout;
    let unavailable = |_| (StatusCode::SERVICE_UNAVAILABLE, "the service is unavailable; nothing was stored, try again".to_owned());
    super::error::bounded(limit, state.store.insert_open311_request(&checked.request)).await.map_err(unavailable)?;
    let outcome = super::error::bounded(limit, state.ingestor.ingest(&sender, vec![Ok(checked.event)])).await;
    match outcome {
        Ok(response) if response.accepted == 1 => Ok(id),
        Ok(response) => {
            let _ = state.store.delete_open311_request(&id).await;
            let reason = response.rejected.into_iter().next().map(|r| r.error).unwrap_or_else(|| "not accepted".to_owned());
            Err(bad(reason))
        }
        Err(error) => {
            let _ = state.store.delete_open311_request(&id).await;
            Err(unavailable(error))
        }
    }
}

/// 16 random hex digits: a request id nobody can guess from another.
fn uuid_like() -> String {
    format!("{:016x}", rand::random::<u64>())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lists_become_repeated_elements_named_after_them() {
        let xml = to_xml("service_requests", &json!([{"service_request_id": "YC-1", "lat": 21.03, "address": null, "description": "a < b & c"}])).unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"utf-8\"?><service_requests><request><address/>\
             <description>a &lt; b &amp; c</description><lat>21.03</lat><service_request_id>YC-1</service_request_id></request></service_requests>"
        );
    }

    #[test]
    fn only_json_and_xml_are_formats() {
        assert_eq!(split_format("services.json"), Some(("services", Format::Json)));
        assert_eq!(split_format("requests.xml"), Some(("requests", Format::Xml)));
        assert_eq!(split_format("services.csv"), None);
    }
}
