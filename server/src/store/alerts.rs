//! Alerts as stored: the rows the alert layer writes and the live hub reads (the open alerts
//! of a unit's subtree, for the live `alerts` view).

use crate::catalog::Catalog;
use chrono::{DateTime, Utc};
use ioc_shared::alerts::{Acknowledgement, Alert, AlertState, Op, RuleRef, Severity};
use ioc_shared::items::UnitName;
use ioc_shared::summary::Window;
use ioc_shared::time::to_local_rfc3339;
use sqlx::PgPool;

/// An alert row as stored.
#[derive(sqlx::FromRow)]
pub struct AlertRow {
    id: i64,
    rule_id: Option<i64>,
    rule_name: String,
    unit: String,
    metric: String,
    time_window: String,
    op: String,
    threshold: f64,
    severity: String,
    value: f64,
    state: String,
    since: DateTime<Utc>,
    acknowledged_by: Option<String>,
    acknowledged_at: Option<DateTime<Utc>>,
    acknowledged_note: Option<String>,
    resolved_at: Option<DateTime<Utc>>,
    escalated_at: Option<DateTime<Utc>>,
}

/// (A macro, so that every query naming them is a constant: `concat!`.)
macro_rules! alert_columns {
    () => {
        "id, rule_id, rule_name, unit, metric, time_window, op, threshold, severity, value, state, since, acknowledged_by, acknowledged_at, acknowledged_note, resolved_at, escalated_at"
    };
}
pub(crate) use alert_columns;

impl AlertRow {
    /// The alert as the API shows it; a stored text that no longer parses (a hand-edited row)
    /// is an error, never a wrong alert.
    pub fn into_alert(self, catalog: &Catalog) -> Result<Alert, sqlx::Error> {
        let corrupt = |what: &str, text: &str| {
            sqlx::Error::Decode(
                format!("alert {}: stored {what} `{text}` is not valid", self.id).into(),
            )
        };
        let window =
            Window::parse(&self.time_window).ok_or_else(|| corrupt("window", &self.time_window))?;
        let op = Op::parse(&self.op).ok_or_else(|| corrupt("op", &self.op))?;
        let severity =
            Severity::parse(&self.severity).ok_or_else(|| corrupt("severity", &self.severity))?;
        let state = AlertState::parse(&self.state).ok_or_else(|| corrupt("state", &self.state))?;
        let name = catalog.get(&self.unit).map(|u| u.name.clone()).unwrap_or_default();
        Ok(Alert {
            id: self.id,
            rule: RuleRef { id: self.rule_id, name: self.rule_name },
            unit: UnitName { code: self.unit, name },
            metric: self.metric,
            window,
            op,
            value: self.value,
            threshold: self.threshold,
            severity,
            state,
            since: to_local_rfc3339(self.since),
            acknowledged: match (self.acknowledged_by, self.acknowledged_at) {
                (Some(by), Some(at)) => Some(Acknowledgement {
                    by,
                    at: to_local_rfc3339(at),
                    note: self.acknowledged_note,
                }),
                _ => None,
            },
            resolved_at: self.resolved_at.map(to_local_rfc3339),
            escalated_at: self.escalated_at.map(to_local_rfc3339),
        })
    }
}

/// The open (firing and acknowledged) alerts of a unit's subtree, in the order a leader reads
/// them: unacknowledged first, critical first, newest first.
pub async fn open_within(
    pool: &PgPool,
    catalog: &Catalog,
    root: &str,
) -> Result<Vec<Alert>, sqlx::Error> {
    let units = catalog.subtree(root);
    let rows: Vec<AlertRow> = sqlx::query_as(concat!(
        "SELECT ",
        alert_columns!(),
        " FROM alerts WHERE unit = ANY($1) AND state <> 'resolved'"
    ))
    .bind(units)
    .fetch_all(pool)
    .await?;
    let mut alerts =
        rows.into_iter().map(|row| row.into_alert(catalog)).collect::<Result<Vec<Alert>, _>>()?;
    alerts.sort_by(ioc_shared::alerts::attention_order);
    Ok(alerts)
}
