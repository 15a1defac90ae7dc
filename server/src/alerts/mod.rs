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
use crate::aggregate::write::announce_unit;
use crate::aggregate::Keys;
use crate::catalog::Catalog;
use crate::notify::{self, Audience, Notice, Notices, Webhooks};
use crate::store::alerts::{alert_columns, AlertRow};
use ioc_shared::access::Role;
use ioc_shared::alerts::{Alert, AlertState, AlertsPage};
use ioc_shared::time::Clock;
use sqlx::PgPool;
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
    /// The alert is not in a state that allows it (acknowledging a resolved alert).
    #[error("{0}")]
    Conflict(String),
    #[error("storage: {0}")]
    Store(#[from] sqlx::Error),
    /// A rule's recipients did not serialize (a bug, not bad input).
    #[error("a rule's recipients cannot be encoded")]
    Encode(#[from] serde_json::Error),
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
    redis: crate::redis_link::RedisLink,
    keys: Keys,
    /// How notifications are queued: whether email is configured, and the worker to wake.
    notices: Notices,
}

/// The notice of an alert's `event`: the alert for webhooks, a Vietnamese email.
pub fn alert_notice(
    alert: &Alert,
    event: &'static str,
    at: chrono::DateTime<chrono::Utc>,
) -> Notice {
    let what = match event {
        "alert.resolved" => "Đã hết cảnh báo",
        "alert.escalated" => "Cảnh báo chưa được tiếp nhận",
        _ if alert.severity == ioc_shared::alerts::Severity::Critical => "Cảnh báo nghiêm trọng",
        _ => "Cảnh báo",
    };
    let subject = format!("[IOC] {what}: {} — {}", alert.rule.name, alert.unit.name);
    let text = format!(
        "{what}\n\nĐơn vị: {} ({})\nQuy tắc: {}\nChỉ số: {} = {} (ngưỡng {} {}, cửa sổ {})\nTừ: {}\n",
        alert.unit.name,
        alert.unit.code,
        alert.rule.name,
        alert.metric,
        alert.value,
        alert.op.as_str(),
        alert.threshold,
        alert.window.as_str(),
        alert.since,
    );
    Notice {
        event_type: event,
        at,
        object_key: "alert",
        object: serde_json::to_value(alert).unwrap_or_default(),
        subject,
        text,
        attachments: Vec::new(),
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
    pub fn new(
        pool: PgPool,
        clock: Clock,
        catalog: Catalog,
        accounts: Accounts,
        redis: crate::redis_link::RedisLink,
        keys: Keys,
        notices: Notices,
    ) -> Alerts {
        Alerts {
            pool,
            clock,
            catalog,
            accounts,
            rules_changed: Arc::new(Notify::new()),
            redis,
            keys,
            notices,
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
        announce_unit(&self.redis, &self.keys, &self.catalog, unit).await;
    }

    /// Raises the alert of `rule` for `unit` unless one is open; the replica that raises it
    /// records it in the audit log and queues its notifications in the same transaction.
    pub async fn fire(
        &self,
        rule: &ioc_shared::alerts::Rule,
        unit: &str,
        value: f64,
    ) -> Result<Fired, AlertError> {
        let spec = &rule.spec;
        let now = self.clock.now();
        let mut tx = crate::store::begin(&self.pool).await?;
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
        .bind(now)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Ok(Fired::AlreadyOpen);
        };
        let audience =
            Audience { roles: spec.notify.roles.clone(), users: spec.notify.users.clone() };
        let webhooks = Webhooks::Listed(spec.notify.webhooks.clone());
        self.notify_in(&mut tx, id, "alert.firing", &audience, &webhooks).await?;
        tx.commit().await?;
        self.notices.wake.notify_one();
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
            .audit("system", "alert_fired", Some(&format!("alert:{id}")), Some(&detail), None)
            .await;
        tracing::info!(alert = id, rule = rule.id, unit, value, "alert fired");
        self.announce(unit).await;
        Ok(Fired::New(id))
    }

    /// Queues the notifications of alert `id`'s `event` in `tx`.
    async fn notify_in(
        &self,
        tx: &mut sqlx::PgConnection,
        id: i64,
        event: &'static str,
        audience: &Audience,
        webhooks: &Webhooks,
    ) -> Result<(), AlertError> {
        let row: AlertRow =
            sqlx::query_as(concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
        let alert = row.into_alert(&self.catalog)?;
        let people = notify::people(&mut *tx, &self.catalog, &alert.unit.code, audience).await?;
        let notice = alert_notice(&alert, event, self.clock.now());
        notify::enqueue(&mut *tx, &notice, &people, webhooks, self.notices.email).await?;
        Ok(())
    }

    /// Escalates every firing alert left unacknowledged past its rule's
    /// `escalate_after_minutes`: the chiefs of the unit above and the leaders are told, once
    /// (whichever replica marks it first).
    pub async fn escalate_due(&self) -> Result<usize, AlertError> {
        let now = self.clock.now();
        let due: Vec<(i64, String, serde_json::Value)> = sqlx::query_as(
            "SELECT a.id, a.unit, r.notify FROM alerts a JOIN alert_rules r ON r.id = a.rule_id
             WHERE a.state = 'firing' AND a.escalated_at IS NULL AND r.escalate_after_minutes IS NOT NULL
               AND a.since + make_interval(mins => r.escalate_after_minutes) <= $1",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let mut escalated = 0;
        for (id, unit, notify_json) in due {
            let mut tx = crate::store::begin(&self.pool).await?;
            let marked = sqlx::query(
                "UPDATE alerts SET escalated_at = $2 WHERE id = $1 AND state = 'firing' AND escalated_at IS NULL",
            )
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if marked.rows_affected() == 0 {
                continue;
            }
            // The parent's chiefs (or the nearest above it with chiefs), and the leaders.
            let parent =
                self.catalog.get(&unit).and_then(|u| u.parent.clone()).unwrap_or(unit.clone());
            let listed: ioc_shared::alerts::Notify =
                serde_json::from_value(notify_json).unwrap_or_default();
            let audience = Audience { roles: vec![Role::Chief, Role::Leader], users: Vec::new() };
            let row: AlertRow =
                sqlx::query_as(concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = $1"))
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            let alert = row.into_alert(&self.catalog)?;
            let people = notify::people(&mut tx, &self.catalog, &parent, &audience).await?;
            let notice = alert_notice(&alert, "alert.escalated", now);
            let webhooks = Webhooks::Listed(listed.webhooks);
            notify::enqueue(&mut tx, &notice, &people, &webhooks, self.notices.email).await?;
            tx.commit().await?;
            self.notices.wake.notify_one();
            let told: Vec<&str> = people.iter().map(|p| p.username.as_str()).collect();
            self.accounts
                .audit(
                    "system",
                    "alert_escalated",
                    Some(&format!("alert:{id}")),
                    Some(&format!("told {}", told.join(", "))),
                    None,
                )
                .await;
            self.announce(&unit).await;
            escalated += 1;
        }
        Ok(escalated)
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
    /// it records it and tells the rule's webhooks. True when an alert was resolved here.
    pub async fn resolve(
        &self,
        rule: &ioc_shared::alerts::Rule,
        unit: &str,
        why: &str,
    ) -> Result<bool, AlertError> {
        let mut tx = crate::store::begin(&self.pool).await?;
        let resolved: Vec<i64> = sqlx::query_scalar(
            "UPDATE alerts SET state = 'resolved', resolved_at = $3
             WHERE rule_id = $1 AND unit = $2 AND state <> 'resolved' RETURNING id",
        )
        .bind(rule.id)
        .bind(unit)
        .bind(self.clock.now())
        .fetch_all(&mut *tx)
        .await?;
        let webhooks = Webhooks::Listed(rule.spec.notify.webhooks.clone());
        for id in &resolved {
            self.notify_in(&mut tx, *id, "alert.resolved", &Audience::default(), &webhooks).await?;
        }
        tx.commit().await?;
        for id in &resolved {
            self.accounts
                .audit("system", "alert_resolved", Some(&format!("alert:{id}")), Some(why), None)
                .await;
        }
        if !resolved.is_empty() {
            self.notices.wake.notify_one();
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
            sqlx::query_as(concat!("SELECT ", alert_columns!(), " FROM alerts WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|row| row.into_alert(&self.catalog)).transpose()?)
    }

    /// One page of alerts, newest first.
    pub async fn list(&self, filter: &AlertFilter) -> Result<AlertsPage, AlertError> {
        let units: Option<Vec<String>> =
            filter.within.as_deref().map(|root| self.catalog.subtree(root));
        let rows: Vec<AlertRow> = sqlx::query_as(concat!(
            "SELECT ",
            alert_columns!(),
            " FROM alerts
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
