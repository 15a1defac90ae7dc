//! Property-based fuzzing of the ingest contract: `parse_event` over arbitrary JSON values and
//! strings. Whatever a client sends, the parser answers (never panics), and whatever it accepts
//! can be stored and read back: no NUL, times in the supported range, a lossless round trip.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Utc};
use ioc_shared::event::{
    parse_event, parse_incoming_event, EARLIEST_TIME, EVENT_TYPES, LATEST_TIME,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

fn now() -> DateTime<Utc> {
    ioc_shared::time::parse_rfc3339("2026-11-22T10:00:00+07:00").unwrap()
}

/// Strings a hostile or broken source system might send.
fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[a-zA-Z0-9 ._-]{0,12}",
        Just(String::new()),
        Just("\u{0}".to_owned()),
        Just("a\u{0}b".to_owned()),
        Just("\u{7}\u{1b}[2J".to_owned()),
        Just("x".repeat(5000)),
        Just("9999-12-31T23:59:59-23:59".to_owned()),
        Just("0000-01-01T00:00:00+23:59".to_owned()),
        Just("2026-11-22T08:00:00+07:00".to_owned()),
        Just("2026-11-22T08:00:00.123456789Z".to_owned()),
        Just("+10000-01-01T00:00:00Z".to_owned()),
        Just("1969-12-31T23:59:59Z".to_owned()),
        (0usize..EVENT_TYPES.len()).prop_map(|i| EVENT_TYPES[i].to_owned()),
        Just("online".to_owned()),
        Just("zalo".to_owned()),
        Just("completed".to_owned()),
        Just("satisfied".to_owned()),
    ]
}

/// Any JSON value, nested a little.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f)
            .map(Value::Number)
            .unwrap_or(Value::Null)),
        nasty_string().prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(nasty_string(), inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: [&str; 18] = [
    "id",
    "source",
    "type",
    "at",
    "unit",
    "dossier",
    "complaint",
    "task",
    "procedure",
    "field",
    "channel",
    "due",
    "outcome",
    "summary",
    "title",
    "satisfaction",
    "officer",
    "due_in",
];

/// An object with the contract's field names and arbitrary values: close enough to an event
/// to reach every check.
fn event_like() -> impl Strategy<Value = Value> {
    let value = prop_oneof![
        3 => nasty_string().prop_map(Value::String),
        1 => any_json(),
        1 => (nasty_string(), nasty_string()).prop_map(|(id, name)| json!({"id": id, "name": name})),
        1 => (any::<i64>(), prop_oneof![Just("working_hours"), Just("working_days"), Just("weeks")]).prop_map(|(n, unit)| json!({unit: n})),
        1 => (0i64..30_000).prop_map(|n| json!({"working_hours": n})),
    ];
    prop::collection::vec((0usize..FIELDS.len(), value), 0..FIELDS.len() + 2).prop_map(|pairs| {
        let mut object = Map::new();
        for (field, value) in pairs {
            object.insert(FIELDS[field].to_owned(), value);
        }
        Value::Object(object)
    })
}

fn strings_in(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(s) => out.push(s.clone()),
        Value::Array(list) => list.iter().for_each(|v| strings_in(v, out)),
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(k.clone());
            strings_in(v, out);
        }),
        _ => {}
    }
}

fn check_accepted(value: &Value) -> Result<(), TestCaseError> {
    // As ingest reads it: a `due_in` becomes a `due` on the working calendar.
    let calendar = ioc_shared::calendar::WorkingCalendar::builtin();
    let Ok(event) = parse_incoming_event(value, now(), &calendar) else { return Ok(()) };
    let stored = serde_json::to_value(&event).unwrap();
    let mut strings = Vec::new();
    strings_in(&stored, &mut strings);
    prop_assert!(
        strings.iter().all(|s| !s.contains('\0')),
        "an accepted event carries a NUL: {stored}"
    );
    let earliest = ioc_shared::time::parse_rfc3339(EARLIEST_TIME).unwrap();
    let latest = ioc_shared::time::parse_rfc3339(LATEST_TIME).unwrap();
    prop_assert!(event.at >= earliest && event.at <= latest);
    // What is stored reads back as the same event (the applier and rebuild depend on it).
    let far_future = DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1);
    prop_assert_eq!(parse_event(&stored, far_future), Ok(event));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_json_never_panics_and_what_is_accepted_round_trips(value in any_json()) {
        check_accepted(&value)?;
    }

    #[test]
    fn event_like_objects_never_panic_and_what_is_accepted_round_trips(value in event_like()) {
        check_accepted(&value)?;
    }

    #[test]
    fn arbitrary_text_as_a_body_never_panics(text in any::<String>()) {
        if let Ok(value) = serde_json::from_str::<Value>(&text) {
            check_accepted(&value)?;
        }
    }
}

/// A well-formed event of every type survives the same checks (so the properties above are not
/// vacuous: valid events do get through).
#[test]
fn valid_events_pass_the_properties() {
    let base = |t: &str| json!({"id": "e1", "source": "s", "type": t, "at": "2026-11-22T08:00:00+07:00", "unit": "001"});
    let mut accepted = 0;
    for t in EVENT_TYPES {
        let mut value = base(t);
        let extra = json!({"dossier": "D", "complaint": "C", "task": "T", "procedure": "P", "field": "F",
            "channel": if t.starts_with("dossier") { "online" } else { "zalo" }, "due": "2026-11-25T17:00:00+07:00",
            "outcome": "completed", "officer": {"id": "o", "name": "N"}, "summary": "dòng 1\ndòng 2", "title": "việc"});
        for (k, v) in extra.as_object().unwrap() {
            value[k] = v.clone();
        }
        check_accepted(&value).unwrap();
        accepted += usize::from(parse_event(&value, now()).is_ok());
    }
    assert_eq!(accepted, EVENT_TYPES.len());
}
