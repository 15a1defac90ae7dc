//! Open311 GeoReport v2 as a front door to ingest: the services offered (one per complaint
//! field, `assets/open311/services.json`) and a service request turned into the
//! `complaint.received` event it is.

use crate::catalog::Catalog;
use crate::store::open311::NewRequest;
use chrono::{DateTime, Utc};
use ioc_shared::calendar::DueIn;
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

static SERVICES: LazyLock<Result<Vec<Service>, String>> = LazyLock::new(|| {
    let services: Vec<Service> = serde_json::from_str(SERVICES_JSON).map_err(|e| format!("assets/open311/services.json: {e}"))?;
    for service in &services {
        service.due_in.check().map_err(|e| format!("assets/open311/services.json, `{}`: {e}", service.code))?;
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

/// Longest text accepted in one form field (a description is cut to the complaint summary's
/// limit by the event contract anyway).
const MAX_FIELD_CHARS: usize = 2_000;

/// The form fields of a request, first value of each name. Refuses NUL and over-long values.
pub fn read_form(body: &[u8]) -> Result<HashMap<String, String>, String> {
    let mut fields = HashMap::new();
    for (name, value) in form_urlencoded::parse(body) {
        if value.contains('\0') || name.contains('\0') {
            return Err(format!("`{name}` contains a NUL character"));
        }
        if value.chars().count() > MAX_FIELD_CHARS {
            return Err(format!("`{name}` is longer than {MAX_FIELD_CHARS} characters"));
        }
        fields.entry(name.into_owned()).or_insert_with(|| value.trim().to_owned());
    }
    Ok(fields)
}

/// A service request checked and turned into its complaint event and stored request.
#[derive(Debug)]
pub struct ServiceRequest {
    pub event: Value,
    pub request: NewRequest,
}

/// Checks a `POST requests` form (everything but the key) and builds the complaint: `id` is
/// the new request's id, `source` the key's.
pub fn service_request(fields: &HashMap<String, String>, catalog: &Catalog, source: &str, id: &str, now: DateTime<Utc>) -> Result<ServiceRequest, String> {
    let given = |name: &str| fields.get(name).map(String::as_str).filter(|v| !v.is_empty());
    let code = given("service_code").ok_or("missing `service_code` (see services.json)")?;
    let service = service(code).ok_or_else(|| format!("unknown `service_code` `{code}` (see services.json)"))?;
    let unit = given("address_id")
        .or_else(|| given("attribute[unit]"))
        .ok_or("say where: `address_id` (or `attribute[unit]`) must be a unit code of the catalog")?;
    if !catalog.contains(unit) {
        return Err(format!("`{unit}` is not a unit code of the catalog"));
    }
    let coordinate = |name: &str, limit: f64| -> Result<Option<f64>, String> {
        match given(name) {
            None => Ok(None),
            Some(text) => match text.parse::<f64>() {
                Ok(value) if value.is_finite() && value.abs() <= limit => Ok(Some(value)),
                _ => Err(format!("`{name}` must be a number between -{limit} and {limit} (got `{text}`)")),
            },
        }
    };
    let (lat, long) = (coordinate("lat", 90.0)?, coordinate("long", 180.0)?);
    if lat.is_some() != long.is_some() {
        return Err("give both `lat` and `long`, or neither".into());
    }
    if let Some(url) = given("media_url") {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err("`media_url` must be an http(s) URL".into());
        }
    }
    let mut event = json!({
        "id": id, "source": source, "type": "complaint.received", "at": ioc_shared::time::to_local_rfc3339(now),
        "unit": unit, "complaint": id, "field": service.name, "channel": "app", "due_in": service.due_in,
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

    proptest::proptest! {
        /// Any bytes as a form get an answer, never a panic.
        #[test]
        fn any_form_body_is_answered(body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let catalog = Catalog::load(None).unwrap();
            if let Ok(fields) = read_form(&body) {
                let _ = service_request(&fields, &catalog, "app", "YC-1", Utc::now());
            }
        }
    }
}
