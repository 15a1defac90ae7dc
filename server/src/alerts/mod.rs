//! Alerts: rules that watch a figure of a unit, and the alerts they raise.
//!
//! - [`rules`] — checking, storing and listing rules, and the shipped defaults;
//! - this module — the alerts themselves in PostgreSQL: firing (once across replicas: a unique
//!   index allows one open alert per rule and unit), keeping the value current, acknowledging,
//!   resolving, listing;
//! - [`evaluate`] — the live evaluation: every rule's units followed through the live hub, so an
//!   alert's value is the very figure the summary shows and a due time passing re-evaluates
//!   with no event.

pub mod evaluate;
pub mod rules;

use crate::accounts::Accounts;
use crate::catalog::Catalog;
use chrono::{DateTime, Utc};
use ioc_shared::alerts::{Acknowledgement, Alert, AlertState, AlertsPage, Op, RuleRef, Severity};
use ioc_shared::items::UnitName;
use ioc_shared::summary::Window;
use ioc_shared::time::{to_local_rfc3339, Clock};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::{watch, Notify};

/// Alerts of one page of `GET /api/v1/alerts`.
pub const ALERTS_PER_PAGE: i64 = 100;

#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    /// The request is wrong; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Forbidden(String),
    /// The alert is not in a state that allows it (acknowledging a resolved alert).
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Store(#[from] sqlx::Error),
}

/// The alerts of every unit, in PostgreSQL; cheap to clone.
#[derive(Clone)]
pub struct Alerts {
    pool: PgPool,
    /// "Now" for every firing, acknowledgement and resolution.
    clock: Clock,
    catalog: Catalog,
    accounts: Accounts,
    /// Woken when a rule is created, changed or deleted on this replica, so the evaluator
    /// follows it at once (other replicas' changes are picked up by its periodic reload).
    rules_changed: Arc<Notify>,
    /// Counts changes of any alert seen by this replica, for the live `alerts` view.
    changed: watch::Sender<u64>,
}

/// An alert row as stored.
#[derive(sqlx::FromRow)]
struct AlertRow {
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

const ALERT_COLUMNS: &str = "id, rule_id, rule_name, unit, metric, time_window, op, threshold, severity, value, state, since, acknowledged_by, acknowledged_at, acknowledged_note, resolved_at, escalated_at";

impl AlertRow {
    /// The alert as the API shows it; a stored text that no longer parses (a hand-edited row)
    /// is an error, never a wrong alert.
    fn into_alert(self, catalog: &Catalog) -> Result<Alert, AlertError> {
        let corrupt = |what: &str, text: &str| {
            AlertError::Store(sqlx::Error::Decode(
                format!("alert {}: stored {what} `{text}` is not valid", self.id).into(),
            ))
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

/// Which alerts a listing wants.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    /// The unit whose subtree is listed; `None`: every unit.
    pub within: Option<String>,
    pub state: Option<AlertState>,
    /// Only alerts with an id below this (the cursor: ids of the previous page's last).
    pub before_id: Option<i64>,
}

/// What a rule's evaluation found for one unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fired {
    /// This replica raised it (it is audited here).
    New(i64),
    /// It was open already (raised before, or by another replica).
    AlreadyOpen,
}

impl Alerts {
    pub fn new(pool: PgPool, clock: Clock, catalog: Catalog, accounts: Accounts) -> Alerts {
        Alerts {
            pool,
            clock,
            catalog,
            accounts,
            rules_changed: Arc::new(Notify::new()),
            changed: watch::channel(0).0,
        }
    }

    /// Notified when this replica changed a rule.
    pub fn rules_changed(&self) -> Arc<Notify> {
        self.rules_changed.clone()
    }

    /// A receiver that sees every change of an alert on this replica (firing, acknowledging,
    /// resolving); the live `alerts` view follows it.
    pub fn changes(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    fn announce(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Raises the alert of `rule` for `unit` unless one is open; the replica that raises it
    /// records it in the audit log.
    pub async fn fire(
        &self,
        rule: &ioc_shared::alerts::Rule,
        unit: &str,
        value: f64,
    ) -> Result<Fired, AlertError> {
        let spec = &rule.spec;
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO alerts (rule_id, rule_name, unit, metric, time_window, op, threshold, severity, value, state, since)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 'firing', $10)
             ON CONFLICT (rule_id, unit) WHERE state <> 'resolved' DO NOTHING
             RETURNING id",
        )
        .bind(rule.id)
        .bind(&spec.name)
        .bind(unit)
        .bind(&spec.metric)
        .bind(spec.window.as_str())
        .bind(spec.op.as_str())
        .bind(spec.threshold)
        .bind(spec.severity.as_str())
        .bind(value)
        .bind(self.clock.now())
        .fetch_optional(&self.pool)
        .await?;
        match id {
            Some(id) => {
                let detail = format!(
                    "rule {} `{}`: {} {} {} {} ({})",
                    rule.id,
                    spec.name,
                    spec.metric,
                    value,
                    spec.op.as_str(),
                    spec.threshold,
                    spec.window.as_str()
                );
                self.accounts
                    .audit(
                        "system",
                        "alert_fired",
                        Some(&format!("alert:{id}")),
                        Some(&detail),
                        None,
                    )
                    .await;
                tracing::info!(alert = id, rule = rule.id, unit, value, "alert fired");
                self.announce();
                Ok(Fired::New(id))
            }
            None => Ok(Fired::AlreadyOpen),
        }
    }

    /// Keeps an open alert's value equal to the figure now shown.
    pub async fn update_value(&self, rule: i64, unit: &str, value: f64) -> Result<(), AlertError> {
        let done = sqlx::query(
            "UPDATE alerts SET value = $3 WHERE rule_id = $1 AND unit = $2 AND state <> 'resolved' AND value <> $3",
        )
        .bind(rule)
        .bind(unit)
        .bind(value)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() > 0 {
            self.announce();
        }
        Ok(())
    }

    /// Resolves the open alert of `rule` for `unit`, if there is one; the replica that resolves
    /// it records it. True when an alert was resolved here.
    pub async fn resolve(&self, rule: i64, unit: &str, why: &str) -> Result<bool, AlertError> {
        let resolved: Vec<i64> = sqlx::query_scalar(
            "UPDATE alerts SET state = 'resolved', resolved_at = $3
             WHERE rule_id = $1 AND unit = $2 AND state <> 'resolved' RETURNING id",
        )
        .bind(rule)
        .bind(unit)
        .bind(self.clock.now())
        .fetch_all(&self.pool)
        .await?;
        for id in &resolved {
            self.accounts
                .audit("system", "alert_resolved", Some(&format!("alert:{id}")), Some(why), None)
                .await;
        }
        if !resolved.is_empty() {
            self.announce();
        }
        Ok(!resolved.is_empty())
    }

    /// Resolves every open alert of a rule (it changed or went); audited per alert.
    async fn resolve_all_of_rule(
        &self,
        executor: &mut sqlx::PgConnection,
        rule: i64,
        why: &str,
    ) -> Result<Vec<i64>, AlertError> {
        let ids: Vec<i64> = sqlx::query_scalar(
            "UPDATE alerts SET state = 'resolved', resolved_at = $2
             WHERE rule_id = $1 AND state <> 'resolved' RETURNING id",
        )
        .bind(rule)
        .bind(self.clock.now())
        .fetch_all(&mut *executor)
        .await?;
        tracing::info!(rule, count = ids.len(), why, "alerts of a rule resolved");
        Ok(ids)
    }

    /// The units with an open alert of `rule`.
    pub async fn open_units_of(&self, rule: i64) -> Result<Vec<String>, AlertError> {
        Ok(sqlx::query_scalar("SELECT unit FROM alerts WHERE rule_id = $1 AND state <> 'resolved'")
            .bind(rule)
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn get(&self, id: i64) -> Result<Option<Alert>, AlertError> {
        let row: Option<AlertRow> =
            sqlx::query_as(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|row| row.into_alert(&self.catalog)).transpose()
    }

    /// One page of alerts, newest first.
    pub async fn list(&self, filter: &AlertFilter) -> Result<AlertsPage, AlertError> {
        let units: Option<Vec<String>> =
            filter.within.as_deref().map(|root| self.catalog.subtree(root));
        let rows: Vec<AlertRow> = sqlx::query_as(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE ($1::text[] IS NULL OR unit = ANY($1))
               AND ($2::text IS NULL OR state = $2)
               AND ($3::bigint IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4"
        ))
        .bind(units)
        .bind(filter.state.map(AlertState::as_str))
        .bind(filter.before_id)
        .bind(ALERTS_PER_PAGE + 1)
        .fetch_all(&self.pool)
        .await?;
        let more = rows.len() as i64 > ALERTS_PER_PAGE;
        let alerts = rows
            .into_iter()
            .take(ALERTS_PER_PAGE as usize)
            .map(|row| row.into_alert(&self.catalog))
            .collect::<Result<Vec<Alert>, AlertError>>()?;
        let next = if more { alerts.last().map(|a| a.id.to_string()) } else { None };
        Ok(AlertsPage { alerts, next })
    }

    /// The open (firing and acknowledged) alerts of a unit's subtree, in the order a leader
    /// reads them.
    pub async fn open_within(&self, root: &str) -> Result<Vec<Alert>, AlertError> {
        let units = self.catalog.subtree(root);
        let rows: Vec<AlertRow> = sqlx::query_as(&format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE unit = ANY($1) AND state <> 'resolved'"
        ))
        .bind(units)
        .fetch_all(&self.pool)
        .await?;
        let mut alerts = rows
            .into_iter()
            .map(|row| row.into_alert(&self.catalog))
            .collect::<Result<Vec<Alert>, AlertError>>()?;
        alerts.sort_by(ioc_shared::alerts::attention_order);
        Ok(alerts)
    }

    /// Acknowledges a firing alert with an optional note; audited.
    pub async fn acknowledge(
        &self,
        id: i64,
        actor: &str,
        note: Option<&str>,
        address: Option<&str>,
    ) -> Result<Alert, AlertError> {
        let done = sqlx::query(
            "UPDATE alerts SET state = 'acknowledged', acknowledged_by = $2, acknowledged_at = $3, acknowledged_note = $4
             WHERE id = $1 AND state = 'firing'",
        )
        .bind(id)
        .bind(actor)
        .bind(self.clock.now())
        .bind(note)
        .execute(&self.pool)
        .await?;
        let alert =
            self.get(id).await?.ok_or_else(|| AlertError::NotFound(format!("no alert {id}")))?;
        if done.rows_affected() == 0 {
            return Err(AlertError::Conflict(format!(
                "alert {id} is {}, not firing: only a firing alert can be acknowledged",
                alert.state.as_str()
            )));
        }
        self.accounts
            .audit(actor, "alert_acknowledged", Some(&format!("alert:{id}")), note, address)
            .await;
        self.announce();
        Ok(alert)
    }
}
