//! `POST /api/v1/events`: the front door for source systems.
//!
//! Reads a JSON array or NDJSON body, checks each event on its own ([`parse_event`] and the
//! unit catalog), and stores the valid ones in one transaction. A bad event never costs its
//! batch-mates their place: the response lists each refused event by index with its reason.

use crate::accounts::IngestKey;
use crate::app::AppState;
use crate::error::ApiError;
use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap};
use axum::Json;
use chrono::Utc;
use ioc_shared::event::{parse_event, Event};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;

/// Largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Most events in one request.
pub const MAX_EVENTS: usize = 10_000;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestResponse {
    /// Newly stored events.
    pub accepted: usize,
    /// Events already stored before (same source and id): counted once, not an error.
    pub duplicates: usize,
    pub rejected: Vec<Rejected>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejected {
    /// Position in the request: array index, or the 0-based line among non-blank NDJSON lines.
    pub index: usize,
    /// The event's `id` when it had a readable one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub error: String,
}

pub async fn post_events(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Result<Json<IngestResponse>, ApiError> {
    let sender = authorize(&state, &headers).await?;
    let bytes = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| ApiError::PayloadTooLarge(format!("request body is larger than {} MiB", MAX_BODY_BYTES / (1024 * 1024))))?;
    let ndjson = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-ndjson"));
    let values = if ndjson { read_ndjson(&bytes)? } else { read_json_array(&bytes)? };
    let response = ingest_values(&state, &sender, values).await?;
    Ok(Json(response))
}

/// Who is sending, and what they may send.
#[derive(Debug, Clone)]
pub enum Sender {
    /// The bootstrap `IOC_INGEST_TOKEN`, or the server itself (the demo simulator): any source, any unit.
    Trusted,
    /// A source system's key: its own source only, and only its unit subtree when limited.
    Key(IngestKey),
}

/// Checks and stores events given as JSON values (or per-line parse errors). Used by the HTTP
/// handler and by the demo simulator.
pub async fn ingest_values(state: &AppState, sender: &Sender, values: Vec<Result<Value, String>>) -> Result<IngestResponse, ApiError> {
    let now = Utc::now();
    let mut response = IngestResponse::default();
    let mut valid: Vec<(usize, Event)> = Vec::with_capacity(values.len());
    for (index, value) in values.into_iter().enumerate() {
        let value = match value {
            Ok(value) => value,
            Err(error) => {
                response.rejected.push(Rejected { index, id: None, error });
                continue;
            }
        };
        let checked = parse_event(&value, now).and_then(|event| {
            if !state.catalog.contains(&event.unit) {
                return Err(format!("unknown unit code `{}`: not in the unit catalog", event.unit));
            }
            check_sender(state, sender, &value, event)
        });
        match checked {
            Ok(event) => valid.push((index, event)),
            Err(error) => response.rejected.push(Rejected { index, id: id_of(&value), error }),
        }
    }
    let outcome = state.store.ingest(&valid).await?;
    response.accepted = outcome.accepted;
    response.duplicates = outcome.duplicates;
    if !outcome.rejected.is_empty() {
        let ids: HashMap<usize, &str> = valid.iter().map(|(i, e)| (*i, e.id.as_str())).collect();
        for (index, error) in outcome.rejected {
            let id = ids.get(&index).map(|id| (*id).to_owned());
            response.rejected.push(Rejected { index, id, error });
        }
    }
    response.rejected.sort_by_key(|r| r.index);
    if outcome.changed {
        state.applier.wake.notify_one();
    }
    Ok(response)
}

/// Holds a keyed event to its key's source and unit subtree.
fn check_sender(state: &AppState, sender: &Sender, value: &Value, mut event: Event) -> Result<Event, String> {
    let Sender::Key(key) = sender else { return Ok(event) };
    match value.get("source").and_then(Value::as_str) {
        None => event.source = key.source.clone(),
        Some(source) if source.trim() == key.source => {}
        Some(source) => {
            return Err(format!("source `{source}` does not match this key's source `{}`", key.source));
        }
    }
    if let Some(root) = &key.unit {
        if !state.catalog.is_within(&event.unit, root) {
            return Err(format!("unit `{}` is outside the units this key may send for (`{root}` and below)", event.unit));
        }
    }
    Ok(event)
}

fn id_of(value: &Value) -> Option<String> {
    value.get("id").and_then(Value::as_str).map(str::to_owned)
}

/// Ingest takes a source system's key (or the bootstrap token) as a bearer token; sessions and
/// display cookies cannot ingest.
async fn authorize(state: &AppState, headers: &HeaderMap) -> Result<Sender, ApiError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(|| ApiError::Unauthorized("missing `Authorization: Bearer <ingest key>` header".into()))?;
    if let Some(expected) = state.settings.ingest_token.as_deref() {
        if constant_time_eq(given.as_bytes(), expected.as_bytes()) {
            return Ok(Sender::Trusted);
        }
    }
    match state.accounts.key_by_secret(given).await? {
        Some(key) => Ok(Sender::Key(key)),
        None => Err(ApiError::Unauthorized("invalid or revoked ingest key".into())),
    }
}

/// Compares secrets without revealing, through timing, how much of them matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn read_json_array(bytes: &[u8]) -> Result<Vec<Result<Value, String>>, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::BadRequest(format!("body is not valid JSON: {e}")))?;
    let Value::Array(list) = value else {
        return Err(ApiError::BadRequest(
            "body must be a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)".into(),
        ));
    };
    if list.len() > MAX_EVENTS {
        return Err(ApiError::PayloadTooLarge(format!("{} events in one request; at most {MAX_EVENTS} are allowed", list.len())));
    }
    Ok(list.into_iter().map(Ok).collect())
}

fn read_ndjson(bytes: &[u8]) -> Result<Vec<Result<Value, String>>, ApiError> {
    let text = std::str::from_utf8(bytes).map_err(|_| ApiError::BadRequest("NDJSON body is not UTF-8".into()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() > MAX_EVENTS {
        return Err(ApiError::PayloadTooLarge(format!("{} events in one request; at most {MAX_EVENTS} are allowed", lines.len())));
    }
    let values: Vec<Result<Value, String>> = lines
        .iter()
        .map(|line| serde_json::from_str(line).map_err(|e| format!("line is not valid JSON: {e}")))
        .collect();
    if !values.is_empty() && values.iter().all(Result::is_err) {
        return Err(ApiError::BadRequest("no line of the NDJSON body is valid JSON".into()));
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_keeps_good_lines_and_reports_bad_ones() {
        let values = read_ndjson(b"{\"a\":1}\n\nnot json\n{\"b\":2}\n").unwrap_or_default();
        assert_eq!(values.len(), 3);
        assert!(values[0].is_ok() && values[1].is_err() && values[2].is_ok());
        assert!(matches!(read_ndjson(b"garbage\n"), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn a_json_object_is_not_a_batch() {
        assert!(matches!(read_json_array(b"{\"id\":1}"), Err(ApiError::BadRequest(_))));
        assert!(matches!(read_json_array(b"[1,"), Err(ApiError::BadRequest(_))));
    }

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
    }
}
