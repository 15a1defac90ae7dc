//! Builders for contract events, as a source system would send them.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

fn t(at: DateTime<Utc>) -> String {
    ioc_shared::time::to_local_rfc3339(at)
}

pub fn dossier_received(
    id: &str,
    unit: &str,
    dossier: &str,
    at: DateTime<Utc>,
    due: DateTime<Utc>,
) -> Value {
    json!({"id": id, "source": "mot-cua", "type": "dossier.received", "at": t(at), "unit": unit,
           "dossier": dossier, "procedure": "Đăng ký khai sinh", "field": "Hộ tịch",
           "channel": "online", "due": t(due)})
}

pub fn dossier_assigned(
    id: &str,
    unit: &str,
    dossier: &str,
    at: DateTime<Utc>,
    officer: (&str, &str),
) -> Value {
    json!({"id": id, "source": "mot-cua", "type": "dossier.assigned", "at": t(at), "unit": unit,
           "dossier": dossier, "officer": {"id": officer.0, "name": officer.1}})
}

pub fn dossier_paused(id: &str, unit: &str, dossier: &str, at: DateTime<Utc>) -> Value {
    json!({"id": id, "source": "mot-cua", "type": "dossier.paused", "at": t(at), "unit": unit, "dossier": dossier})
}

pub fn dossier_resumed(id: &str, unit: &str, dossier: &str, at: DateTime<Utc>) -> Value {
    json!({"id": id, "source": "mot-cua", "type": "dossier.resumed", "at": t(at), "unit": unit, "dossier": dossier})
}

pub fn dossier_resolved(
    id: &str,
    unit: &str,
    dossier: &str,
    at: DateTime<Utc>,
    outcome: &str,
) -> Value {
    json!({"id": id, "source": "mot-cua", "type": "dossier.resolved", "at": t(at), "unit": unit,
           "dossier": dossier, "outcome": outcome})
}

pub fn complaint_received(
    id: &str,
    unit: &str,
    complaint: &str,
    at: DateTime<Utc>,
    due: DateTime<Utc>,
    field: &str,
    channel: &str,
) -> Value {
    json!({"id": id, "source": "pakn", "type": "complaint.received", "at": t(at), "unit": unit,
           "complaint": complaint, "field": field, "channel": channel, "due": t(due),
           "summary": "Rác thải chưa được thu gom"})
}

pub fn complaint_assigned(
    id: &str,
    unit: &str,
    complaint: &str,
    at: DateTime<Utc>,
    officer: (&str, &str),
) -> Value {
    json!({"id": id, "source": "pakn", "type": "complaint.assigned", "at": t(at), "unit": unit,
           "complaint": complaint, "officer": {"id": officer.0, "name": officer.1}})
}

pub fn complaint_resolved(
    id: &str,
    unit: &str,
    complaint: &str,
    at: DateTime<Utc>,
    satisfaction: Option<&str>,
) -> Value {
    let mut value = json!({"id": id, "source": "pakn", "type": "complaint.resolved", "at": t(at), "unit": unit,
           "complaint": complaint});
    if let Some(s) = satisfaction {
        value["satisfaction"] = json!(s);
    }
    value
}

pub fn task_assigned(
    id: &str,
    unit: &str,
    task: &str,
    at: DateTime<Utc>,
    due: DateTime<Utc>,
    officer: (&str, &str),
) -> Value {
    json!({"id": id, "source": "nhiem-vu", "type": "task.assigned", "at": t(at), "unit": unit,
           "task": task, "due": t(due), "officer": {"id": officer.0, "name": officer.1}})
}

pub fn task_completed(id: &str, unit: &str, task: &str, at: DateTime<Utc>) -> Value {
    json!({"id": id, "source": "nhiem-vu", "type": "task.completed", "at": t(at), "unit": unit, "task": task})
}
