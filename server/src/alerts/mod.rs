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
use crate::aggregate::write::publish_changed;
use crate::aggregate::Keys;
use crate::catalog::Catalog;
use crate::store::alerts::{AlertRow, ALERT_COLUMNS};
use ioc_shared::alerts::{Alert, AlertState, AlertsPage};
use ioc_shared::time::Clock;
use sqlx::PgPool;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::Notify;

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
    /// Announces an alert's change on the change feed, so every replica's live `alerts` view
    /// of the unit and the units above it is recomputed.
    redis: redis::aio::ConnectionManager,
    keys: Keys,
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
    pub fn new(
        pool: PgPool,
        clock: Clock,
        catalog: Catalog,
        accounts: Accounts,
        redis: redis::aio::ConnectionManager,
        keys: Keys,
    ) -> Alerts {
        Alerts {
            pool,
            clock,
            catalog,
            accounts,
            rules_changed: Arc::new(Notify::new()),
            redis,
            keys,
        }
    }

    /// Notified when this replica changed a rule.
    pub fn rules_changed(&self) -> Arc<Notify> {
        self.rules_changed.clone()
    }

    /// Tells every replica that the alerts of `unit` changed: its live `alerts` view and those
    /// of the units above it are recomputed. A lost announcement delays the view until its next
    /// periodic refresh; the alert itself is stored.
    async fn announce(&self, unit: &str) {
        let units: BTreeSet<String> =
            self.catalog.self_and_ancestors(unit).into_iter().map(|u| u.code.clone()).collect();
        let mut redis = self.redis.clone();
        if let Err(error) = publish_changed(&mut redis, &self.keys, &units).await {
            tracing::warn!(%error, unit, "alert change not announced");
        }
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
                self.announce(unit).await;
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
            self.announce(unit).await;
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
            self.announce(unit).await;
        }
        Ok(!resolved.is_empty())
    }

    /// Resolves every open alert of a rule (it changed or went); audited per alert.
    async fn resolve_all_of_rule(
        &self,
        executor: &mut sqlx::PgConnection,
        rule: i64,
        why: &str,
    ) -> Result<Vec<(i64, String)>, AlertError> {
        let ids: Vec<(i64, String)> = sqlx::query_as(
            "UPDATE alerts SET state = 'resolved', resolved_at = $2
             WHERE rule_id = $1 AND state <> 'resolved' RETURNING id, unit",
        )
        .bind(rule)
        .bind(self.clock.now())
        .fetch_all(&mut *executor)
        .await?;
        tracing::info!(rule, count = ids.len(), why, "alerts of a rule resolved");
        Ok(ids)
    }

    pub async fn get(&self, id: i64) -> Result<Option<Alert>, AlertError> {
        let row: Option<AlertRow> =
            sqlx::query_as(&format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| row.into_alert(&self.catalog)).transpose()?)
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
            .collect::<Result<Vec<Alert>, sqlx::Error>>()?;
        let next = if more { alerts.last().map(|a| a.id.to_string()) } else { None };
        Ok(AlertsPage { alerts, next })
    }

    /// The open (firing and acknowledged) alerts of a unit's subtree, in the order a leader
    /// reads them.
    pub async fn open_within(&self, root: &str) -> Result<Vec<Alert>, AlertError> {
        Ok(crate::store::alerts::open_within(&self.pool, &self.catalog, root).await?)
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
        self.announce(&alert.unit.code).await;
        Ok(alert)
    }
}
