//! Reading an ingest request body: a JSON array of events, or NDJSON (one event per line).

use serde_json::Value;

/// Largest request body, in bytes.
pub const MAX_BODY_BYTES: usize = 10 * 1024 * 1024;
/// Most events in one request.
pub const MAX_EVENTS: usize = 10_000;

/// Why a whole body was refused (nothing in it was stored).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Not readable as a batch at all (answered 400).
    #[error("{0}")]
    Unreadable(String),
    /// More events than one request may carry (answered 413).
    #[error("{0}")]
    TooMany(String),
}

/// One entry of a batch: a JSON value, or why its NDJSON line was not JSON.
pub type Entry = Result<Value, super::Rejection>;

pub fn read_json_array(bytes: &[u8]) -> Result<Vec<Entry>, BodyError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| BodyError::Unreadable(format!("body is not valid JSON: {e}")))?;
    let Value::Array(list) = value else {
        return Err(BodyError::Unreadable(
            "body must be a JSON array of events (or NDJSON with Content-Type: application/x-ndjson)".into(),
        ));
    };
    if list.len() > MAX_EVENTS {
        return Err(too_many(list.len()));
    }
    Ok(list.into_iter().map(Ok).collect())
}

pub fn read_ndjson(bytes: &[u8]) -> Result<Vec<Entry>, BodyError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| BodyError::Unreadable("NDJSON body is not UTF-8".into()))?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.len() > MAX_EVENTS {
        return Err(too_many(lines.len()));
    }
    let values: Vec<Entry> = lines
        .iter()
        .map(|line| serde_json::from_str(line).map_err(super::Rejection::NotJson))
        .collect();
    if !values.is_empty() && values.iter().all(Result::is_err) {
        return Err(BodyError::Unreadable("no line of the NDJSON body is valid JSON".into()));
    }
    Ok(values)
}

fn too_many(count: usize) -> BodyError {
    BodyError::TooMany(format!("{count} events in one request; at most {MAX_EVENTS} are allowed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ndjson_keeps_good_lines_and_reports_bad_ones() {
        let values = read_ndjson(b"{\"a\":1}\n\nnot json\n{\"b\":2}\n").unwrap_or_default();
        assert_eq!(values.len(), 3);
        assert!(values[0].is_ok() && values[1].is_err() && values[2].is_ok());
        assert!(matches!(read_ndjson(b"garbage\n"), Err(BodyError::Unreadable(_))));
    }

    #[test]
    fn a_json_object_is_not_a_batch() {
        assert!(matches!(read_json_array(b"{\"id\":1}"), Err(BodyError::Unreadable(_))));
        assert!(matches!(read_json_array(b"[1,"), Err(BodyError::Unreadable(_))));
    }
}
