//! Open311 GeoReport v2 as a front door to ingest: the services offered (one per complaint
//! field, `assets/open311/services.json`) and a service request turned into the
//! `complaint.received` event it is.

use crate::catalog::Catalog;
use crate::store::open311::NewRequest;
use chrono::{DateTime, Utc};
use ioc_shared::calendar::DueIn;
use ioc_shared::invalid::Invalid;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::LazyLock;

/// The services file shipped with the server.
const SERVICES_JSON: &str = include_str!("../../../assets/open311/services.json");

/// A service: one kind of complaint a citizen can report.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub code: String,
    /// In Vietnamese; also the complaint's `field`.
    pub name: String,
    pub group: String,
    pub description: String,
    /// The deadline a request gets, in working time.
    pub due_in: DueIn,
}

static SERVICES: LazyLock<Result<Vec<Service>, Invalid>> = LazyLock::new(|| {
    let services: Vec<Service> = serde_json::from_str(SERVICES_JSON)
        .map_err(|e| Invalid(format!("assets/open311/services.json: {e}")))?;
    for service in &services {
        service.due_in.check().map_err(|e| {
            Invalid(format!("assets/open311/services.json, `{}`: {e}", service.code))
        })?;
    }
    Ok(services)
});

/// The services offered (none if the shipped file were broken, which a test rules out).
pub fn services() -> &'static [Service] {
    match &*SERVICES {
        Ok(services) => services,
        Err(error) => {
            tracing::error!(%error, "Open311 services unavailable");
            &[]
        }
    }
}

pub fn service(code: &str) -> Option<&'static Service> {
    services().iter().find(|s| s.code == code)
}

/// Longest text accepted in one form field: GeoReport v2 allows `description` 4,000
/// characters, and `address_string` is given the same.
pub const MAX_FIELD_CHARS: usize = 4_000;

/// Whether XML 1.0 can carry `c` at all: U+0000–U+0008, U+000B, U+000C, U+000E–U+001F, U+FFFE
/// and U+FFFF cannot (unpaired surrogates cannot be in a Rust string in the first place).
pub fn xml_allows(c: char) -> bool {
    !matches!(c, '\u{0}'..='\u{8}' | '\u{b}' | '\u{c}' | '\u{e}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}')
}

/// The fields of a form (an `application/x-www-form-urlencoded` body, or a query string), in
/// order, repeats kept. Refuses what no answer could carry: bytes that are not UTF-8 once
/// decoded, characters XML 1.0 forbids (every answer may be XML), and values over
/// [`MAX_FIELD_CHARS`].
pub fn read_pairs(body: &[u8]) -> Result<Vec<(String, String)>, Invalid> {
    let decode = |bytes: &[u8]| -> Result<String, Invalid> {
        let spaced: Vec<u8> = bytes.iter().map(|b| if *b == b'+' { b' ' } else { *b }).collect();
        let decoded: Vec<u8> = percent_encoding::percent_decode(&spaced).collect();
        String::from_utf8(decoded)
            .map_err(|_| Invalid::from("the form holds bytes that are not UTF-8 text"))
    };
    let mut pairs = Vec::new();
    for pair in body.split(|b| *b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|b| *b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &pair[pair.len()..]),
        };
        let (name, value) = (decode(name)?, decode(value)?);
        if let Some(c) = name.chars().chain(value.chars()).find(|c| !xml_allows(*c)) {
            return Err(format!(
                "`{name}` contains the control character U+{:04X}, which no answer could carry",
                u32::from(c)
            )
            .into());
        }
        if value.chars().count() > MAX_FIELD_CHARS {
            return Err(format!("`{name}` is longer than {MAX_FIELD_CHARS} characters").into());
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// The fields of a form as [`read_pairs`] reads them, the first value of each name, trimmed.
pub fn read_form(body: &[u8]) -> Result<HashMap<String, String>, Invalid> {
    let mut fields = HashMap::new();
    for (name, value) in read_pairs(body)? {
        fields.entry(name).or_insert_with(|| value.trim().to_owned());
    }
    Ok(fields)
}

/// Why a service request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// `service_code` names no service: GeoReport's 404.
    #[error("unknown `service_code` `{0}` (see services.json)")]
    UnknownService(String),
    /// Anything else wrong with the form: 400.
    #[error("{0}")]
    Invalid(String),
}

impl From<&str> for RequestError {
    fn from(message: &str) -> RequestError {
        RequestError::Invalid(message.to_owned())
    }
}

impl From<String> for RequestError {
    fn from(message: String) -> RequestError {
        RequestError::Invalid(message)
    }
}

/// A service request checked and turned into its complaint event and stored request.
#[derive(Debug)]
pub struct ServiceRequest {
    pub event: Value,
    pub request: NewRequest,
}

/// Where a request is filed when it names no unit (`IOC_OPEN311_TRIAGE_UNIT` if it is in the
/// catalog, else the catalog's first root).
pub fn triage_unit<'a>(catalog: &'a Catalog, configured: Option<&'a str>) -> Option<&'a str> {
    configured
        .filter(|code| catalog.contains(code))
        .or_else(|| catalog.roots().first().map(String::as_str))
}

/// Checks a `POST requests` form (everything but the key) and builds the complaint: `id` is
/// the new request's id, `source` the key's.
///
/// The place is, as the specification says, "one of `lat` & `long` or `address_string` or
/// `address_id`": `address_id` (or `attribute[unit]`) is a unit code of the catalog and files
/// the complaint there; with only coordinates or an address, it is filed at `triage` and waits
/// to be routed (`needs_routing`).
pub fn service_request(
    fields: &HashMap<String, String>,
    catalog: &Catalog,
    triage: Option<&str>,
    source: &str,
    id: &str,
    now: DateTime<Utc>,
) -> Result<ServiceRequest, RequestError> {
    let given = |name: &str| fields.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let code = given("service_code").ok_or("missing `service_code` (see services.json)")?;
    let service = service(code).ok_or_else(|| RequestError::UnknownService(code.to_owned()))?;
    let coordinate = |name: &str, limit: f64| -> Result<Option<f64>, RequestError> {
        match given(name) {
            None => Ok(None),
            Some(text) => match text.parse::<f64>() {
                Ok(value) if value.is_finite() && value.abs() <= limit => Ok(Some(value)),
                _ => Err(RequestError::Invalid(format!(
                    "`{name}` must be a number between -{limit} and {limit} (got `{text}`)"
                ))),
            },
        }
    };
    let (lat, long) = (coordinate("lat", 90.0)?, coordinate("long", 180.0)?);
    if lat.is_some() != long.is_some() {
        return Err("give both `lat` and `long`, or neither".into());
    }
    let (unit, needs_routing) = match given("address_id").or_else(|| given("attribute[unit]")) {
        Some(unit) if catalog.contains(unit) => (unit, false),
        Some(unit) => return Err(format!("`address_id` `{unit}` is not a unit code of the catalog").into()),
        None if lat.is_some() || given("address_string").is_some() => {
            (triage.ok_or("the catalog has no unit to file a request without `address_id` at")?, true)
        }
        None => return Err("say where: one of `lat` & `long`, `address_string` or `address_id` (a unit code of the catalog)".into()),
    };
    if let Some(url) = given("media_url") {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("`media_url` must be an http(s) URL".into());
        }
    }
    let mut event = json!({
        "id": id, "source": source, "type": "complaint.received", "at": ioc_shared::time::to_local_rfc3339(now),
        "unit": unit, "complaint": id, "field": service.name, "channel": "app", "due_in": service.due_in,
        "needs_routing": needs_routing,
    });
    if let Some(description) = given("description") {
        event["summary"] = json!(description);
    }
    let text = |name: &str| given(name).map(str::to_owned);
    let request = NewRequest {
        service_request_id: id.to_owned(),
        source: source.to_owned(),
        service_code: service.code.clone(),
        unit: unit.to_owned(),
        requested_at: now,
        lat,
        long,
        address_string: text("address_string"),
        media_url: text("media_url"),
        first_name: text("first_name"),
        last_name: text("last_name"),
        email: text("email"),
        phone: text("phone"),
        device_id: text("device_id"),
    };
    Ok(ServiceRequest { event, request })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_services_read_and_each_has_a_deadline() {
        assert!(SERVICES.is_ok(), "{:?}", SERVICES.as_ref().err());
        assert!(services().len() >= 5);
        assert!(service("moi-truong").is_some_and(|s| s.name == "Môi trường"));
    }

    fn fixed_moment() -> DateTime<Utc> {
        ioc_shared::time::parse_rfc3339("2026-12-31T23:59:00+07:00").unwrap()
    }

    #[test]
    fn forms_refuse_bad_bytes_and_characters_xml_forbids() {
        assert_eq!(
            read_pairs(b"a=1&a=2&b=x+y%2Bz").unwrap(),
            vec![("a".into(), "1".into()), ("a".into(), "2".into()), ("b".into(), "x y+z".into())]
        );
        for bad in [
            "d=%01",
            "d=%0B",
            "d=%0C",
            "d=%1F",
            "d=%EF%BF%BE",
            "d=%EF%BF%BF",
            "d=%00",
            "d=%ED%A0%80",
            "d=%FF",
            "%01=x",
        ] {
            assert!(read_pairs(bad.as_bytes()).is_err(), "{bad}");
        }
        assert!(
            read_pairs(b"d=a%09b%0Ac%0Dd").is_ok(),
            "tab, line feed and carriage return are text"
        );
        let long = format!("d={}", "ộ".repeat(MAX_FIELD_CHARS));
        assert!(read_pairs(long.as_bytes()).is_ok());
        assert!(read_pairs(format!("{long}x").as_bytes()).is_err());
    }

    #[test]
    fn a_request_without_a_unit_waits_at_the_triage_unit() {
        let catalog = Catalog::load(None).unwrap();
        let triage = triage_unit(&catalog, None);
        assert_eq!(triage, catalog.roots().first().map(String::as_str));
        assert_eq!(triage_unit(&catalog, Some("001")), Some("001"));
        assert_eq!(
            triage_unit(&catalog, Some("nowhere")),
            triage,
            "an unknown configured unit falls back to the root"
        );
        let form = |pairs: &[(&str, &str)]| {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect::<HashMap<_, _>>()
        };
        let at = |fields: &HashMap<String, String>| {
            service_request(fields, &catalog, triage, "app", "YC-1", fixed_moment())
        };
        for place in [
            &[("lat", "21.03"), ("long", "105.85")][..],
            &[("address_string", "Số 1 Tràng Tiền")][..],
        ] {
            let mut fields = form(&[("service_code", "moi-truong")]);
            fields.extend(form(place));
            let request = at(&fields).unwrap();
            assert_eq!(
                (request.event["unit"].as_str(), request.event["needs_routing"].as_bool()),
                (triage, Some(true)),
                "{place:?}"
            );
        }
        let filed = at(&form(&[
            ("service_code", "moi-truong"),
            ("address_id", "00004"),
            ("lat", "21.03"),
            ("long", "105.85"),
        ]))
        .unwrap();
        assert_eq!(
            (filed.event["unit"].as_str(), filed.event["needs_routing"].as_bool()),
            (Some("00004"), Some(false))
        );
        assert!(
            matches!(at(&form(&[("service_code", "moi-truong")])), Err(RequestError::Invalid(m)) if m.contains("one of `lat` & `long`"))
        );
        assert!(matches!(
            at(&form(&[("service_code", "khong-co"), ("address_id", "00004")])),
            Err(RequestError::UnknownService(_))
        ));
        assert!(
            matches!(
                at(&form(&[("service_code", "moi-truong"), ("lat", "21.03")])),
                Err(RequestError::Invalid(_))
            ),
            "lat without long"
        );
    }

    proptest::proptest! {
        /// Any bytes as a form get an answer, never a panic.
        #[test]
        fn any_form_body_is_answered(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let catalog = Catalog::load(None).unwrap();
            if let Ok(fields) = read_form(&body) {
                let _ = service_request(&fields, &catalog, Some("01"), "app", "YC-1", fixed_moment());
            }
        }
    }
}
