//! Open311 GeoReport v2 under `/open311/v2/`, in JSON (`.json`) and XML (`.xml`):
//! `discovery`, `services`, `services/{code}`, `requests` (GET and POST) and `requests/{id}`.
//! Every error under `/open311/`, whatever answered it (a handler, axum's own rejections, a
//! body or URI limit), is a GeoReport error (`[{"code": 400, "description": "…"}]`) in the
//! format the path asks for, with that status ([`georeport_errors`]). XML answers are always
//! well formed: characters XML 1.0 forbids are refused on input and replaced on output.
//!
//! A request becomes an ordinary `complaint.received` (so it shows in every figure at once);
//! its place, media and the citizen's personal data are kept beside it and the personal data
//! is never returned.

use crate::ingest::open311::{
    read_form, read_pairs, service, service_request, services, triage_unit, xml_allows,
    RequestError, Service,
};
use crate::state::AppState;
use crate::store::open311::{RequestFilter, RequestRow};
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use chrono::{DateTime, Duration, Utc};
use ioc_shared::invalid::Invalid;
use ioc_shared::time::{parse_w3c_date, DateEnd};
use quick_xml::events::{BytesDecl, BytesText, Event};
use serde_json::{json, Map, Value};

/// The specification this follows.
const SPECIFICATION: &str = "http://wiki.open311.org/GeoReport_v2";
/// When this API last changed in a way clients would notice.
const CHANGESET: &str = "2026-11-23T00:00:00+07:00";
/// Requests listed when no dates are given: the last 90 days…
const DEFAULT_DAYS: i64 = 90;
/// …and at most this many per answer (newest first).
pub const MAX_REQUESTS: i64 = 1_000;
/// Longest URI (path and query) answered; longer is a GeoReport 414.
pub const MAX_URI_BYTES: usize = 8_192;
/// What `status_notes` says of a request waiting to be routed to its ward.
pub const NEEDS_ROUTING_NOTE: &str = "Cần phân loại";

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
    not_found(format_of_path(uri.path())).into_response()
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

/// Marks a response that already is a GeoReport document, so [`georeport_errors`] leaves it.
#[derive(Debug, Clone, Copy)]
struct GeoReportDocument;

impl IntoResponse for Open311Error {
    fn into_response(self) -> Response {
        let body = json!([{"code": self.status.as_u16(), "description": self.description}]);
        let mut response = render(self.format, "errors", &body);
        *response.status_mut() = self.status;
        response
    }
}

/// The format a path under `/open311/` asks for: XML when it ends in `.xml`, else JSON.
fn format_of_path(path: &str) -> Format {
    if path.ends_with(".xml") {
        Format::Xml
    } else {
        Format::Json
    }
}

/// Longest error body read to find its message.
const MAX_ERROR_BODY_BYTES: usize = 4096;

/// Makes every error under `/open311/` a GeoReport error document in the path's format: a URI
/// over [`MAX_URI_BYTES`] is refused with 414 here, and errors answered by anything but the
/// GeoReport handlers (405 from the router, 413 from the body limit, 400 from a path whose
/// bytes do not decode, the API's JSON errors) are rewritten with their status and message.
pub async fn georeport_errors(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let path = request.uri().path().to_owned();
    if !(path == "/open311" || path.starts_with("/open311/")) {
        return next.run(request).await;
    }
    let format = format_of_path(&path);
    let uri_length = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if uri_length > MAX_URI_BYTES {
        return Open311Error::new(
            StatusCode::URI_TOO_LONG,
            format!("the URI is longer than {MAX_URI_BYTES} bytes"),
            format,
        )
        .into_response();
    }
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<GeoReportDocument>().is_some()
    {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_ERROR_BODY_BYTES)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let description = if status.is_server_error() {
        "the service is unavailable; try again".to_owned()
    } else {
        // The API's JSON errors carry `error`; axum's rejections are plain text.
        serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v["error"].as_str().map(str::to_owned))
            .unwrap_or(text)
    };
    let description = if description.trim().is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        description
    };
    let mut answer = Open311Error::new(status, description, format).into_response();
    if let Some(allow) = parts.headers.get(header::ALLOW) {
        answer.headers_mut().insert(header::ALLOW, allow.clone());
    }
    answer
}

fn not_found(format: Format) -> Open311Error {
    Open311Error::new(StatusCode::NOT_FOUND, "no such Open311 resource; see discovery.json", format)
}

/// The answer in the asked format. For XML, `root` names the outer element, and each array
/// element is named after its array (see [`element_name`]).
fn render(format: Format, root: &str, body: &Value) -> Response {
    let mut response = render_document(format, root, body);
    response.extensions_mut().insert(GeoReportDocument);
    response
}

fn render_document(format: Format, root: &str, body: &Value) -> Response {
    match format {
        Format::Json => {
            ([(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string())
                .into_response()
        }
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

fn write_element(
    writer: &mut quick_xml::Writer<Vec<u8>>,
    name: &str,
    value: &Value,
) -> Result<(), std::io::Error> {
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
            element.write_text_content(BytesText::from_escaped(escape_text(s)))?;
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

/// `text` with every character XML 1.0 forbids replaced by U+FFFD, so that what was stored
/// before such characters were refused (or came in through another door) never makes an
/// answer unreadable.
fn xml_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.chars().all(xml_allows) {
        std::borrow::Cow::Borrowed(text)
    } else {
        std::borrow::Cow::Owned(
            text.chars().map(|c| if xml_allows(c) { c } else { '\u{fffd}' }).collect(),
        )
    }
}

/// `text` escaped for XML content, forbidden characters replaced (see [`xml_text`]) and a
/// carriage return written as `&#xD;`, which a parser would otherwise turn into a line feed.
fn escape_text(text: &str) -> String {
    quick_xml::escape::escape(xml_text(text).as_ref()).replace('\r', "&#xD;")
}

/// This server's base URL as the client reached it (behind a TLS proxy: `X-Forwarded-Proto`).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("localhost");
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

fn service_json(service: &Service) -> Value {
    json!({
        "service_code": service.code, "service_name": service.name, "description": service.description,
        "metadata": true, "type": "realtime", "keywords": service.group.to_lowercase(), "group": service.group,
    })
}

async fn get_top(
    State(state): State<AppState>,
    Path(file): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let Some((name, format)) = split_format(&file) else {
        return not_found(Format::Json).into_response();
    };
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
        "services" => {
            render(format, "services", &Value::Array(services().iter().map(service_json).collect()))
        }
        "requests" => match list_requests(&state, query.as_deref().unwrap_or(""), format).await {
            Ok(body) => render(format, "service_requests", &body),
            Err(error) => error.into_response(),
        },
        _ => not_found(format).into_response(),
    }
}

async fn get_service(Path(file): Path<String>) -> Response {
    let Some((code, format)) = split_format(&file) else {
        return not_found(Format::Json).into_response();
    };
    let Some(service) = service(code) else {
        return Open311Error::new(
            StatusCode::NOT_FOUND,
            format!(
                "no service `{code}`; see services.{}",
                if format == Format::Json { "json" } else { "xml" }
            ),
            format,
        )
        .into_response();
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
    let Some((id, format)) = split_format(&file) else {
        return not_found(Format::Json).into_response();
    };
    let filter = RequestFilter { ids: vec![id.to_owned()], limit: 1, ..Default::default() };
    match state.store.open311_requests(&filter).await {
        Ok(rows) if rows.is_empty() => {
            Open311Error::new(StatusCode::NOT_FOUND, format!("no service request `{id}`"), format)
                .into_response()
        }
        Ok(rows) => render(
            format,
            "service_requests",
            &Value::Array(rows.iter().map(|r| request_json(&state, r)).collect()),
        ),
        Err(error) => unavailable(error, format).into_response(),
    }
}

fn unavailable(error: crate::store::StoreError, format: Format) -> Open311Error {
    tracing::error!(%error, "Open311 request not answered");
    Open311Error::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the service is unavailable; try again",
        format,
    )
}

fn parse_date(
    name: &str,
    text: &str,
    end: DateEnd,
    format: Format,
) -> Result<DateTime<Utc>, Open311Error> {
    parse_w3c_date(text, end).ok_or_else(|| {
        Open311Error::new(
            StatusCode::BAD_REQUEST,
            format!("`{name}` must be a W3C date (2026-12-02, 2026-12-02T04:24Z, 2026-12-02T11:24:00+07:00), not `{text}`"),
            format,
        )
    })
}

/// Every value of a parameter that may be repeated and comma-delimited, trimmed, empty ones
/// dropped: `service_code=a,b&service_code=c` is `[a, b, c]`.
fn all_values(params: &[(String, String)], name: &str) -> Vec<String> {
    params
        .iter()
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| value.split(','))
        .map(|value| value.trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

/// The one value of a parameter; given twice is a 400.
fn one_value<'a>(
    params: &'a [(String, String)],
    name: &str,
    format: Format,
) -> Result<Option<&'a str>, Open311Error> {
    let mut values = params
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .filter(|v| !v.trim().is_empty());
    let first = values.next();
    if values.next().is_some() {
        return Err(Open311Error::new(
            StatusCode::BAD_REQUEST,
            format!("`{name}` is given more than once"),
            format,
        ));
    }
    Ok(first)
}

async fn list_requests(
    state: &AppState,
    query: &str,
    format: Format,
) -> Result<Value, Open311Error> {
    let params = read_pairs(query.as_bytes())
        .map_err(|m| Open311Error::new(StatusCode::BAD_REQUEST, m.0, format))?;
    let bad = |m: String| Open311Error::new(StatusCode::BAD_REQUEST, m, format);
    let mut filter = RequestFilter { limit: MAX_REQUESTS, ..Default::default() };
    filter.ids =
        all_values(&params, "service_request_id").into_iter().take(MAX_REQUESTS as usize).collect();
    filter.service_codes = all_values(&params, "service_code");
    if let Some(code) = filter.service_codes.iter().find(|code| service(code).is_none()) {
        return Err(bad(format!("unknown `service_code` `{code}` (see services.json)")));
    }
    let end = one_value(&params, "end_date", format)?
        .map(|t| parse_date("end_date", t, DateEnd::End, format))
        .transpose()?;
    let start = one_value(&params, "start_date", format)?
        .map(|t| parse_date("start_date", t, DateEnd::Start, format))
        .transpose()?;
    if let (Some(start), Some(end)) = (start, end) {
        if end < start {
            return Err(bad("`end_date` is before `start_date`".into()));
        }
    }
    // With no dates, the last 90 days; with one, 90 days from or to it.
    filter.from = Some(start.unwrap_or_else(|| {
        end.unwrap_or_else(|| state.clock.now()) - Duration::days(DEFAULT_DAYS)
    }));
    filter.to = end.or_else(|| start.map(|s| s + Duration::days(DEFAULT_DAYS)));
    let wanted = all_values(&params, "status");
    if let Some(other) = wanted.iter().find(|s| *s != "open" && *s != "closed") {
        return Err(bad(format!("`status` must be `open` or `closed` (got `{other}`)")));
    }
    let (open, closed) = (wanted.iter().any(|s| s == "open"), wanted.iter().any(|s| s == "closed"));
    filter.open = if open && !closed {
        Some(true)
    } else if closed && !open {
        Some(false)
    } else {
        None
    };
    let rows = state.store.open311_requests(&filter).await.map_err(|e| unavailable(e, format))?;
    Ok(Value::Array(rows.iter().map(|r| request_json(state, r)).collect()))
}

fn request_json(state: &AppState, row: &RequestRow) -> Value {
    let local = |t: Option<DateTime<Utc>>| t.map(ioc_shared::time::to_local_rfc3339);
    let service = service(&row.service_code);
    let open = row.open.unwrap_or(true);
    let status_notes = if !open {
        "Đã giải quyết"
    } else if row.needs_routing {
        NEEDS_ROUTING_NOTE
    } else {
        "Đang xử lý"
    };
    let mut body = Map::new();
    body.insert("service_request_id".into(), json!(row.service_request_id));
    body.insert("status".into(), json!(if open { "open" } else { "closed" }));
    body.insert("status_notes".into(), json!(status_notes));
    body.insert("service_name".into(), json!(service.map(|s| s.name.as_str())));
    body.insert("service_code".into(), json!(row.service_code));
    if state.settings.open311_public_descriptions {
        body.insert("description".into(), json!(row.summary));
    }
    body.insert(
        "agency_responsible".into(),
        json!(state.catalog.get(&row.unit).map(|u| u.name.as_str())),
    );
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
async fn post_requests(
    State(state): State<AppState>,
    Path(file): Path<String>,
    parts: axum::http::request::Parts,
    body: Bytes,
) -> Response {
    let Some(("requests", format)) = split_format(&file) else {
        let format = split_format(&file).map_or(Format::Json, |(_, f)| f);
        return Open311Error::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "only requests.json and requests.xml take a POST",
            format,
        )
        .into_response();
    };
    match create_request(&state, &parts, &body).await {
        Ok((id, needs_routing)) => {
            let notice = if needs_routing {
                "Phản ánh đã được tiếp nhận; đang phân loại để chuyển đến đơn vị có thẩm quyền."
            } else {
                "Phản ánh đã được tiếp nhận và chuyển đến đơn vị có thẩm quyền."
            };
            render(
                format,
                "service_requests",
                &json!([{"service_request_id": id, "service_notice": notice}]),
            )
        }
        Err((status, description)) => {
            Open311Error::new(status, description, format).into_response()
        }
    }
}

/// Stores a request; returns its id and whether it waits to be routed.
async fn create_request(
    state: &AppState,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> Result<(String, bool), (StatusCode, String)> {
    let bad = |invalid: Invalid| (StatusCode::BAD_REQUEST, invalid.0);
    let fields = read_form(body).map_err(bad)?;
    // Clients send `api_key` in the body or in the query string.
    let query = read_form(parts.uri.query().unwrap_or("").as_bytes()).map_err(bad)?;
    // The key: the same check (and the same throttling of wrong keys) as POST /api/v1/events.
    let key = fields
        .get("api_key")
        .or_else(|| query.get("api_key"))
        .filter(|k| !k.is_empty())
        .ok_or((StatusCode::FORBIDDEN, "missing `api_key` (an ingest key)".to_owned()))?;
    let sender =
        super::events::sender_for_key(state, parts, key).await.map_err(|error| match error {
            super::error::ApiError::TooManyRequests { message, .. } => {
                (StatusCode::TOO_MANY_REQUESTS, message)
            }
            super::error::ApiError::StorageUnavailable(_)
            | super::error::ApiError::AggregatesUnavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "the service is unavailable; try again".to_owned(),
            ),
            _ => (StatusCode::FORBIDDEN, "invalid or revoked `api_key`".to_owned()),
        })?;
    let source = match &sender {
        crate::ingest::Sender::Key(key) => key.source.clone(),
        crate::ingest::Sender::Trusted => "open311".to_owned(),
    };
    let id = format!("YC-{}", uuid_like());
    let triage = triage_unit(&state.catalog, state.settings.open311_triage_unit.as_deref());
    let checked = service_request(&fields, &state.catalog, triage, &source, &id, state.clock.now())
        .map_err(|error| match error {
            RequestError::UnknownService(_) => (StatusCode::NOT_FOUND, error.to_string()),
            RequestError::Invalid(message) => (StatusCode::BAD_REQUEST, message),
        })?;
    let needs_routing = checked.event["needs_routing"] == json!(true);
    let limit = state.settings.database_timeout;
    let unavailable = |_| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "the service is unavailable; nothing was stored, try again".to_owned(),
        )
    };
    super::error::bounded(limit, state.store.insert_open311_request(&checked.request))
        .await
        .map_err(unavailable)?;
    let outcome =
        super::error::bounded(limit, state.ingestor.ingest(&sender, vec![Ok(checked.event)])).await;
    match outcome {
        Ok(response) if response.accepted == 1 => Ok((id, needs_routing)),
        Ok(response) => {
            let _ = state.store.delete_open311_request(&id).await;
            let reason = response
                .rejected
                .into_iter()
                .next()
                .map(|r| r.error)
                .unwrap_or_else(|| "not accepted".to_owned());
            Err((StatusCode::BAD_REQUEST, reason))
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

    proptest::proptest! {
        /// Whatever text was stored (before forbidden characters were refused, or through
        /// another door), every XML answer parses in a strict XML 1.0 parser and carries the
        /// text with only the forbidden characters replaced.
        #[test]
        fn any_stored_text_makes_a_well_formed_answer(text in proptest::prelude::any::<String>()) {
            let xml = to_xml("service_requests", &json!([{"description": text, "address": text}])).unwrap();
            let document = roxmltree::Document::parse(&xml);
            proptest::prop_assert!(document.is_ok(), "{:?}: {:?}", xml, document.err());
            let document = document.unwrap();
            let written = document.descendants().find(|n| n.has_tag_name("description")).and_then(|n| n.text()).unwrap_or("");
            let expected: String = text.chars().map(|c| if xml_allows(c) { c } else { '\u{fffd}' }).collect();
            proptest::prop_assert_eq!(written, expected.as_str());
        }
    }

    #[test]
    fn forbidden_characters_are_replaced_and_line_ends_kept() {
        let xml = to_xml("r", &json!({"d": "a\u{1}b\u{b}c\u{fffe}\r\n\td"})).unwrap();
        assert_eq!(xml, "<?xml version=\"1.0\" encoding=\"utf-8\"?><r><d>a\u{fffd}b\u{fffd}c\u{fffd}&#xD;\n\td</d></r>");
        assert_eq!(
            roxmltree::Document::parse(&xml)
                .unwrap()
                .root_element()
                .first_child()
                .and_then(|n| n.text()),
            Some("a\u{fffd}b\u{fffd}c\u{fffd}\r\n\td")
        );
    }

    #[test]
    fn only_json_and_xml_are_formats() {
        assert_eq!(split_format("services.json"), Some(("services", Format::Json)));
        assert_eq!(split_format("requests.xml"), Some(("requests", Format::Xml)));
        assert_eq!(split_format("services.csv"), None);
    }
}
