//! The ingest contract: what a source system sends to `POST /api/v1/events`.
//!
//! An event moves one item (a dossier, a complaint or a task) forward. [`parse_event`] checks
//! one JSON value against the contract and says, in words a source-system operator can act on,
//! what is wrong. The unit code is checked against the catalog by the server, which owns it.

use crate::calendar::{DueIn, WorkingCalendar};
use crate::invalid::Invalid;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// How far in the future an event's `at` may be (clock skew between systems), in seconds.
pub const MAX_FUTURE_SKEW_SECONDS: i64 = 300;
/// Longest event id, item id or officer id, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Longest free-text name (procedure, field, officer name, source), in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest complaint summary, in characters.
pub const MAX_SUMMARY_CHARS: usize = 4000;
/// Longest task title, in characters.
pub const MAX_TITLE_CHARS: usize = 500;
/// Earliest time an event may carry (`at`, `due`): the Unix epoch, UTC.
pub const EARLIEST_TIME: &str = "1970-01-01T00:00:00Z";
/// Latest time an event may carry: the last second of year 9999, UTC. Later times cannot be
/// written back as RFC 3339 (`+10000-…`), so they are refused rather than stored unreadable.
pub const LATEST_TIME: &str = "9999-12-31T23:59:59Z";
/// Source used when an event names none.
pub const DEFAULT_SOURCE: &str = "default";

/// The three kinds of item whose life the events describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ItemKind {
    Dossier,
    Complaint,
    Task,
}

impl ItemKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Dossier => "dossier",
            ItemKind::Complaint => "complaint",
            ItemKind::Task => "task",
        }
    }

    pub fn parse(text: &str) -> Option<ItemKind> {
        match text {
            "dossier" => Some(ItemKind::Dossier),
            "complaint" => Some(ItemKind::Complaint),
            "task" => Some(ItemKind::Task),
            _ => None,
        }
    }
}

/// How a dossier reached the one-stop shop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DossierChannel {
    Online,
    Direct,
    Postal,
}

/// How a citizen's complaint or petition arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ComplaintChannel {
    Zalo,
    Hotline,
    App,
    Portal,
    Direct,
}

impl ComplaintChannel {
    pub const ALL: [ComplaintChannel; 5] = [
        ComplaintChannel::Zalo,
        ComplaintChannel::Hotline,
        ComplaintChannel::App,
        ComplaintChannel::Portal,
        ComplaintChannel::Direct,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ComplaintChannel::Zalo => "zalo",
            ComplaintChannel::Hotline => "hotline",
            ComplaintChannel::App => "app",
            ComplaintChannel::Portal => "portal",
            ComplaintChannel::Direct => "direct",
        }
    }
}

/// How a dossier ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Completed,
    Rejected,
    /// Withdrawn by the citizen: counted as resolved, but neither on time nor late.
    Withdrawn,
}

/// A citizen's rating of how a complaint was handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Satisfaction {
    Satisfied,
    Neutral,
    Dissatisfied,
}

/// The officer an item is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Officer {
    pub id: String,
    pub name: String,
}

/// The per-type part of an event. Serialized with the envelope's `type` as its tag.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum EventBody {
    #[serde(rename = "dossier.received")]
    DossierReceived {
        dossier: String,
        procedure: String,
        field: String,
        channel: DossierChannel,
        due: DateTime<Utc>,
        /// The deadline as sent in working time, when it was (`due` was then computed from it
        /// on the working calendar); pauses then extend it by working time.
        #[serde(skip_serializing_if = "Option::is_none")]
        due_in: Option<DueIn>,
    },
    #[serde(rename = "dossier.assigned")]
    DossierAssigned { dossier: String, officer: Officer },
    #[serde(rename = "dossier.paused")]
    DossierPaused { dossier: String },
    #[serde(rename = "dossier.resumed")]
    DossierResumed { dossier: String },
    #[serde(rename = "dossier.resolved")]
    DossierResolved {
        dossier: String,
        outcome: Outcome,
        /// The citizen's rating, when the one-stop shop asked for it (Decision 766's dossier
        /// satisfaction).
        #[serde(skip_serializing_if = "Option::is_none")]
        satisfaction: Option<Satisfaction>,
    },
    #[serde(rename = "complaint.received")]
    ComplaintReceived {
        complaint: String,
        field: String,
        channel: ComplaintChannel,
        due: DateTime<Utc>,
        #[serde(skip_serializing_if = "Option::is_none")]
        due_in: Option<DueIn>,
        #[serde(skip_serializing_if = "Option::is_none")]
        summary: Option<String>,
        /// The sender does not know the ward: `unit` is a triage unit (the catalog's root or
        /// a configured one), and a later `complaint.routed` or `complaint.assigned` naming the
        /// ward moves the complaint, with its figures, there.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        needs_routing: bool,
    },
    /// The complaint is the business of `unit` from now on (it was waiting to be routed).
    #[serde(rename = "complaint.routed")]
    ComplaintRouted {
        complaint: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        note: Option<String>,
    },
    #[serde(rename = "complaint.assigned")]
    ComplaintAssigned { complaint: String, officer: Officer },
    #[serde(rename = "complaint.resolved")]
    ComplaintResolved {
        complaint: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        satisfaction: Option<Satisfaction>,
    },
    #[serde(rename = "task.assigned")]
    TaskAssigned {
        task: String,
        officer: Officer,
        due: DateTime<Utc>,
        #[serde(skip_serializing_if = "Option::is_none")]
        due_in: Option<DueIn>,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
    },
    #[serde(rename = "task.completed")]
    TaskCompleted { task: String },
}

/// Every event type the server accepts, as written in `type`.
pub const EVENT_TYPES: [&str; 11] = [
    "dossier.received",
    "dossier.assigned",
    "dossier.paused",
    "dossier.resumed",
    "dossier.resolved",
    "complaint.received",
    "complaint.routed",
    "complaint.assigned",
    "complaint.resolved",
    "task.assigned",
    "task.completed",
];

impl EventBody {
    /// The item this event is about.
    pub fn item(&self) -> (ItemKind, &str) {
        match self {
            EventBody::DossierReceived { dossier, .. }
            | EventBody::DossierAssigned { dossier, .. }
            | EventBody::DossierPaused { dossier }
            | EventBody::DossierResumed { dossier }
            | EventBody::DossierResolved { dossier, .. } => (ItemKind::Dossier, dossier),
            EventBody::ComplaintReceived { complaint, .. }
            | EventBody::ComplaintRouted { complaint, .. }
            | EventBody::ComplaintAssigned { complaint, .. }
            | EventBody::ComplaintResolved { complaint, .. } => (ItemKind::Complaint, complaint),
            EventBody::TaskAssigned { task, .. } | EventBody::TaskCompleted { task } => {
                (ItemKind::Task, task)
            }
        }
    }

    /// The `type` string of this event.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::DossierReceived { .. } => "dossier.received",
            EventBody::DossierAssigned { .. } => "dossier.assigned",
            EventBody::DossierPaused { .. } => "dossier.paused",
            EventBody::DossierResumed { .. } => "dossier.resumed",
            EventBody::DossierResolved { .. } => "dossier.resolved",
            EventBody::ComplaintReceived { .. } => "complaint.received",
            EventBody::ComplaintRouted { .. } => "complaint.routed",
            EventBody::ComplaintAssigned { .. } => "complaint.assigned",
            EventBody::ComplaintResolved { .. } => "complaint.resolved",
            EventBody::TaskAssigned { .. } => "task.assigned",
            EventBody::TaskCompleted { .. } => "task.completed",
        }
    }
}

/// One checked event: the envelope and its per-type fields.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    /// Unique within its source; the same source and id again is a duplicate.
    pub id: String,
    /// The sending system; `default` when the event names none.
    pub source: String,
    /// When it happened, normalised to UTC (the offset it was sent with is not needed).
    pub at: DateTime<Utc>,
    /// Admin unit code of the item.
    pub unit: String,
    #[serde(flatten)]
    pub body: EventBody,
}

/// Checks an event as a source system sends it: like [`parse_event`], and a `due_in` (working
/// hours or days, instead of `due`) becomes `due` on `calendar`, counted from `at`.
pub fn parse_incoming_event(
    value: &Value,
    now: DateTime<Utc>,
    calendar: &WorkingCalendar,
) -> Result<Event, Invalid> {
    let Some(object) = value.as_object() else { return parse_event(value, now) };
    let given = |name: &str| object.get(name).is_some_and(|v| !v.is_null());
    if !given("due_in") {
        return parse_event(value, now);
    }
    let fields = Fields(object);
    let at = fields.time("at")?;
    let due_in = fields.due_in()?.ok_or_else(|| "missing field `due_in`".to_owned())?;
    let due = calendar
        .due(at, due_in)
        .ok_or_else(|| "`due_in` runs past the dates the working calendar can count".to_owned())?;
    if given("due") {
        // Both may come only when they agree (an event sent again as this server stored it).
        let stated = fields.time("due")?;
        if stated != due {
            return Err(format!(
                "give either `due` or `due_in`, not both: `due_in` gives {}, `due` says {}",
                crate::time::to_local_rfc3339(due),
                crate::time::to_local_rfc3339(stated)
            )
            .into());
        }
        return parse_event(value, now);
    }
    let mut object = object.clone();
    object.insert("due".to_owned(), Value::String(crate::time::to_local_rfc3339(due)));
    parse_event(&Value::Object(object), now)
}

/// Checks one JSON value against the contract. `now` bounds how far in the future `at` may be.
pub fn parse_event(value: &Value, now: DateTime<Utc>) -> Result<Event, Invalid> {
    let object = value
        .as_object()
        .ok_or_else(|| format!("an event must be a JSON object, not {}", kind_of(value)))?;
    let fields = Fields(object);
    let id = fields.id("id")?;
    let source = match object.get("source") {
        None | Some(Value::Null) => DEFAULT_SOURCE.to_owned(),
        Some(_) => fields.text("source", MAX_NAME_CHARS)?,
    };
    let type_name = fields.text("type", 64)?;
    let at = fields.time("at")?;
    if at > now + Duration::seconds(MAX_FUTURE_SKEW_SECONDS) {
        return Err(format!(
            "`at` is more than {} minutes in the future ({}); check the sending system's clock",
            MAX_FUTURE_SKEW_SECONDS / 60,
            at.to_rfc3339()
        )
        .into());
    }
    let unit = fields.id("unit")?;
    let body = match type_name.as_str() {
        "dossier.received" => EventBody::DossierReceived {
            dossier: fields.id("dossier")?,
            procedure: fields.text("procedure", MAX_NAME_CHARS)?,
            field: fields.text("field", MAX_NAME_CHARS)?,
            channel: fields.choice("channel", &["online", "direct", "postal"])?,
            due: fields.due()?,
            due_in: fields.due_in()?,
        },
        "dossier.assigned" => EventBody::DossierAssigned {
            dossier: fields.id("dossier")?,
            officer: fields.officer()?,
        },
        "dossier.paused" => EventBody::DossierPaused { dossier: fields.id("dossier")? },
        "dossier.resumed" => EventBody::DossierResumed { dossier: fields.id("dossier")? },
        "dossier.resolved" => EventBody::DossierResolved {
            dossier: fields.id("dossier")?,
            outcome: fields.choice("outcome", &["completed", "rejected", "withdrawn"])?,
            satisfaction: match object.get("satisfaction") {
                None | Some(Value::Null) => None,
                Some(_) => {
                    Some(fields.choice("satisfaction", &["satisfied", "neutral", "dissatisfied"])?)
                }
            },
        },
        "complaint.received" => EventBody::ComplaintReceived {
            complaint: fields.id("complaint")?,
            field: fields.text("field", MAX_NAME_CHARS)?,
            channel: fields.choice("channel", &["zalo", "hotline", "app", "portal", "direct"])?,
            due: fields.due()?,
            due_in: fields.due_in()?,
            summary: fields.optional_text("summary", MAX_SUMMARY_CHARS)?,
            needs_routing: fields.optional_bool("needs_routing")?,
        },
        "complaint.routed" => EventBody::ComplaintRouted {
            complaint: fields.id("complaint")?,
            note: fields.optional_text("note", MAX_TITLE_CHARS)?,
        },
        "complaint.assigned" => EventBody::ComplaintAssigned {
            complaint: fields.id("complaint")?,
            officer: fields.officer()?,
        },
        "complaint.resolved" => EventBody::ComplaintResolved {
            complaint: fields.id("complaint")?,
            satisfaction: match object.get("satisfaction") {
                None | Some(Value::Null) => None,
                Some(_) => {
                    Some(fields.choice("satisfaction", &["satisfied", "neutral", "dissatisfied"])?)
                }
            },
        },
        "task.assigned" => EventBody::TaskAssigned {
            task: fields.id("task")?,
            officer: fields.officer()?,
            due: fields.due()?,
            due_in: fields.due_in()?,
            title: fields.optional_text("title", MAX_TITLE_CHARS)?,
        },
        "task.completed" => EventBody::TaskCompleted { task: fields.id("task")? },
        other => {
            return Err(format!(
                "unknown event type `{other}`; expected one of: {}",
                EVENT_TYPES.join(", ")
            )
            .into())
        }
    };
    Ok(Event { id, source, at, unit, body })
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Field accessors that turn every mismatch into an operator-readable reason.
struct Fields<'a>(&'a Map<String, Value>);

impl Fields<'_> {
    fn text(&self, name: &str, max_chars: usize) -> Result<String, Invalid> {
        match self.0.get(name) {
            None | Some(Value::Null) => Err(format!("missing field `{name}`").into()),
            Some(Value::String(text)) => {
                let trimmed = text.trim();
                let chars = trimmed.chars().count();
                if chars == 0 {
                    Err(format!("`{name}` is empty").into())
                } else if chars > max_chars {
                    Err(format!(
                        "`{name}` is {chars} characters long; at most {max_chars} are allowed"
                    )
                    .into())
                } else if trimmed.contains('\0') {
                    // PostgreSQL's text and jsonb cannot hold U+0000.
                    Err(format!(
                        "`{name}` contains a NUL character (\\u0000), which cannot be stored"
                    )
                    .into())
                } else if trimmed.chars().any(char::is_control)
                    && name != "summary"
                    && name != "title"
                {
                    Err(format!("`{name}` contains control characters").into())
                } else {
                    Ok(trimmed.to_owned())
                }
            }
            Some(other) => Err(format!("`{name}` must be a string, not {}", kind_of(other)).into()),
        }
    }

    fn optional_text(&self, name: &str, max_chars: usize) -> Result<Option<String>, Invalid> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
            Some(_) => self.text(name, max_chars).map(Some),
        }
    }

    /// `true` or `false`; absent or null is `false`.
    fn optional_bool(&self, name: &str) -> Result<bool, Invalid> {
        match self.0.get(name) {
            None | Some(Value::Null) => Ok(false),
            Some(Value::Bool(b)) => Ok(*b),
            Some(other) => {
                Err(format!("`{name}` must be true or false, not {}", kind_of(other)).into())
            }
        }
    }

    /// Identifiers: 1–128 characters, no control characters. Numbers are refused rather than
    /// converted, so `"001"` and `1` never silently become the same code.
    fn id(&self, name: &str) -> Result<String, Invalid> {
        self.text(name, MAX_ID_CHARS)
    }

    /// `due`, with a hint about `due_in` when it is missing.
    fn due(&self) -> Result<DateTime<Utc>, Invalid> {
        match self.0.get("due") {
            None | Some(Value::Null) => Err("missing field `due` (or give `due_in`: {\"working_hours\": N} or {\"working_days\": N})".to_owned().into()),
            Some(_) => self.time("due"),
        }
    }

    /// `due_in`: `{"working_hours": N}` or `{"working_days": N}`, if given.
    fn due_in(&self) -> Result<Option<DueIn>, Invalid> {
        match self.0.get("due_in") {
            None | Some(Value::Null) => Ok(None),
            Some(value) => serde_json::from_value::<DueIn>(value.clone())
                .map_err(|_| Invalid(format!("`due_in` must be {{\"working_hours\": N}} or {{\"working_days\": N}} (got {value})")))
                .and_then(DueIn::check)
                .map(Some),
        }
    }

    fn time(&self, name: &str) -> Result<DateTime<Utc>, Invalid> {
        let text = self.text(name, 64)?;
        let time = crate::time::parse_rfc3339(&text).ok_or_else(|| {
            format!(
                "`{name}` is not an RFC 3339 time with an offset (got `{text}`; \
                 expected e.g. 2026-11-22T09:30:00+07:00)"
            )
        })?;
        let earliest = crate::time::parse_rfc3339(EARLIEST_TIME);
        let latest = crate::time::parse_rfc3339(LATEST_TIME);
        if earliest.is_some_and(|e| time < e) || latest.is_some_and(|l| time > l) {
            return Err(format!("`{name}` is `{text}`, outside the supported range {EARLIEST_TIME} to {LATEST_TIME} (UTC)").into());
        }
        Ok(time)
    }

    fn choice<T: for<'de> Deserialize<'de>>(
        &self,
        name: &str,
        allowed: &[&str],
    ) -> Result<T, Invalid> {
        let text = self.text(name, 64)?;
        if !allowed.contains(&text.as_str()) {
            return Err(
                format!("`{name}` must be one of {}, not `{text}`", allowed.join(", ")).into()
            );
        }
        serde_json::from_value(Value::String(text.clone())).map_err(|_| {
            format!("`{name}` must be one of {}, not `{text}`", allowed.join(", ")).into()
        })
    }

    fn officer(&self) -> Result<Officer, Invalid> {
        match self.0.get("officer") {
            None | Some(Value::Null) => Err("missing field `officer`".to_owned().into()),
            Some(Value::Object(officer)) => {
                let inner = Fields(officer);
                let id = inner.id("id").map_err(|e| format!("officer: {e}"))?;
                let name =
                    inner.text("name", MAX_NAME_CHARS).map_err(|e| format!("officer: {e}"))?;
                Ok(Officer { id, name })
            }
            Some(other) => Err(format!(
                "`officer` must be an object {{\"id\", \"name\"}}, not {}",
                kind_of(other)
            )
            .into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        crate::time::parse_rfc3339("2026-11-22T10:00:00+07:00").unwrap_or_default()
    }

    #[test]
    fn a_full_dossier_received_parses_and_round_trips() {
        let value = json!({"id": "e1", "type": "dossier.received", "at": "2026-11-22T08:00:00+07:00",
            "unit": "001", "dossier": "D1", "procedure": "Cấp phép xây dựng", "field": "Xây dựng",
            "channel": "online", "due": "2026-11-25T17:00:00+07:00"});
        let event = parse_event(&value, now()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(event.source, DEFAULT_SOURCE);
        assert_eq!(event.body.item(), (ItemKind::Dossier, "D1"));
        let again = parse_event(&serde_json::to_value(&event).unwrap_or_default(), now());
        assert_eq!(again, Ok(event));
    }

    #[test]
    fn every_rejection_names_its_reason() {
        let base = json!({"id": "e1", "type": "task.completed", "at": "2026-11-22T08:00:00+07:00",
            "unit": "001", "task": "T1"});
        let cases: Vec<(Value, &str)> = vec![
            (json!([1]), "must be a JSON object"),
            (json!({"type": "task.completed"}), "missing field `id`"),
            (patch(&base, "type", json!("task.deleted")), "unknown event type `task.deleted`"),
            (patch(&base, "at", json!("yesterday")), "`at` is not an RFC 3339 time"),
            (patch(&base, "at", json!("2026-11-22T10:06:00+07:00")), "in the future"),
            (patch(&base, "id", json!(42)), "`id` must be a string"),
            (patch(&base, "id", json!("x".repeat(129))), "at most 128"),
            (patch(&base, "task", json!("")), "`task` is empty"),
            (patch(&base, "task", json!("T\u{0}1")), "NUL character"),
            (patch(&base, "at", json!("1969-12-31T23:59:59Z")), "outside the supported range"),
        ];
        for (value, expected) in cases {
            let error = parse_event(&value, now()).err().map(|e| e.0).unwrap_or_default();
            assert!(error.contains(expected), "{value}: got `{error}`, wanted `{expected}`");
        }
    }

    #[test]
    fn choices_list_the_allowed_values() {
        let value = json!({"id": "e1", "type": "complaint.received", "at": "2026-11-22T08:00:00+07:00",
            "unit": "001", "complaint": "C1", "field": "Môi trường", "channel": "fax",
            "due": "2026-11-25T17:00:00+07:00"});
        let error = parse_event(&value, now()).err().map(|e| e.0).unwrap_or_default();
        assert_eq!(error, "`channel` must be one of zalo, hotline, app, portal, direct, not `fax`");
    }

    /// Regression: a NUL in a complaint's summary or a task's title sank the whole batch (500).
    #[test]
    fn a_nul_in_free_text_is_refused_with_a_reason() {
        let complaint = json!({"id": "e1", "type": "complaint.received", "at": "2026-11-22T08:00:00+07:00",
            "unit": "001", "complaint": "C1", "field": "Môi trường", "channel": "zalo",
            "due": "2026-11-25T17:00:00+07:00", "summary": "rác\u{0}thải"});
        let error = parse_event(&complaint, now()).err().map(|e| e.0).unwrap_or_default();
        assert!(error.contains("`summary` contains a NUL character"), "{error}");
        let task = json!({"id": "e2", "type": "task.assigned", "at": "2026-11-22T08:00:00+07:00", "unit": "001",
            "task": "T1", "officer": {"id": "o1", "name": "A"}, "due": "2026-11-25T17:00:00+07:00", "title": "\u{0}"});
        let error = parse_event(&task, now()).err().map(|e| e.0).unwrap_or_default();
        assert!(error.contains("`title` contains a NUL character"), "{error}");
    }

    /// Regression: a due past year 9999 in UTC was stored as `+10000-…` and could not be read back.
    #[test]
    fn a_time_past_year_9999_in_utc_is_refused() {
        let value = json!({"id": "e1", "type": "dossier.received", "at": "2026-11-22T08:00:00+07:00",
            "unit": "001", "dossier": "D1", "procedure": "P", "field": "F", "channel": "online",
            "due": "9999-12-31T23:59:59-23:59"});
        let error = parse_event(&value, now()).err().map(|e| e.0).unwrap_or_default();
        assert!(
            error.contains("`due` is `9999-12-31T23:59:59-23:59`, outside the supported range"),
            "{error}"
        );
        let latest = patch(&value, "due", json!("9999-12-31T23:59:59Z"));
        let event = parse_event(&latest, now()).unwrap_or_else(|e| panic!("{e}"));
        let again = parse_event(&serde_json::to_value(&event).unwrap_or_default(), now());
        assert_eq!(again, Ok(event), "the latest time round-trips");
    }

    fn patch(base: &Value, key: &str, value: Value) -> Value {
        let mut copy = base.clone();
        if let Some(object) = copy.as_object_mut() {
            object.insert(key.to_owned(), value);
        }
        copy
    }
}
