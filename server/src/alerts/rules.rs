//! Alert rules: who may write them, what a valid one is, where they are kept, and the set a
//! fresh install starts with.

use super::{AlertError, Alerts};
use crate::accounts::access::Principal;
use crate::catalog::Catalog;
use chrono::{DateTime, Utc};
use ioc_shared::access::Role;
use ioc_shared::alerts::{
    canonical_metric, metric_source, Notify, Op, Rule, RuleSpec, Severity, MAX_ESCALATE_MINUTES,
    MAX_FOR_SECONDS, MAX_TEXT_CHARS,
};
use ioc_shared::summary::Window;
use ioc_shared::time::to_local_rfc3339;

/// Longest rule name, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most users or webhooks one rule notifies.
pub const MAX_RECIPIENTS: usize = 100;
/// Largest `min_sample`.
pub const MAX_MIN_SAMPLE: u32 = 1_000_000;

/// Whether `principal` may create, change or delete a rule on `unit`: admins and leaders on
/// every unit, a chief on units within his own; a wall display never.
pub fn may_manage(principal: &Principal, catalog: &Catalog, unit: &str) -> bool {
    match principal {
        Principal::Display(_) => false,
        Principal::User(user) => match user.role {
            Role::Admin | Role::Leader => true,
            Role::Chief => user.unit.as_deref().is_some_and(|own| catalog.is_within(unit, own)),
        },
    }
}

/// Checks a rule as sent and returns it as stored (the metric's alias resolved, the name
/// trimmed). Every message says what to change.
pub fn check(mut spec: RuleSpec, catalog: &Catalog) -> Result<RuleSpec, AlertError> {
    let invalid = |message: String| Err(AlertError::Invalid(message));
    spec.name = spec.name.trim().to_owned();
    let name_chars = spec.name.chars().count();
    if name_chars == 0 || name_chars > MAX_NAME_CHARS {
        return invalid(format!("`name` must have 1 to {MAX_NAME_CHARS} characters"));
    }
    if spec.name.chars().any(char::is_control) {
        return invalid("`name` must not contain control characters".into());
    }
    if !catalog.contains(&spec.unit) {
        return invalid(format!("unknown unit `{}`", spec.unit));
    }
    spec.metric = canonical_metric(&spec.metric).to_owned();
    if spec.metric.chars().count() > MAX_TEXT_CHARS {
        return invalid(format!("`metric` is longer than {MAX_TEXT_CHARS} characters"));
    }
    metric_source(&spec.metric, spec.window).map_err(AlertError::Invalid)?;
    if !spec.threshold.is_finite() {
        return invalid("`threshold` must be a finite number".into());
    }
    if spec.for_seconds > MAX_FOR_SECONDS {
        return invalid(format!("`for_seconds` must be at most {MAX_FOR_SECONDS} (a week)"));
    }
    if spec.min_sample > MAX_MIN_SAMPLE {
        return invalid(format!("`min_sample` must be at most {MAX_MIN_SAMPLE}"));
    }
    if let Some(minutes) = spec.escalate_after_minutes {
        if minutes == 0 || minutes > MAX_ESCALATE_MINUTES {
            return invalid(format!(
                "`escalate_after_minutes` must be 1 to {MAX_ESCALATE_MINUTES} (30 days), or absent"
            ));
        }
    }
    let notify = &spec.notify;
    if notify.users.len() > MAX_RECIPIENTS || notify.webhooks.len() > MAX_RECIPIENTS {
        return invalid(format!(
            "`notify` names at most {MAX_RECIPIENTS} users and {MAX_RECIPIENTS} webhooks"
        ));
    }
    if notify.users.iter().any(|u| u.is_empty() || u.chars().count() > MAX_NAME_CHARS) {
        return invalid("`notify.users` must be user names".into());
    }
    Ok(spec)
}

#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    name: String,
    unit: String,
    include_children: bool,
    metric: String,
    time_window: String,
    op: String,
    threshold: f64,
    for_seconds: i32,
    severity: String,
    min_sample: i32,
    notify: serde_json::Value,
    escalate_after_minutes: Option<i32>,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// (A macro, so that every query naming them is a constant: `concat!`.)
macro_rules! rule_columns {
    () => {
        "id, name, unit, include_children, metric, time_window, op, threshold, for_seconds, severity, min_sample, notify, escalate_after_minutes, created_by, created_at, updated_at"
    };
}

impl RuleRow {
    /// The rule; a stored value that no longer parses is an error, never a different rule.
    fn into_rule(self) -> Result<Rule, AlertError> {
        let id = self.id;
        let corrupt = move |what: &str| {
            AlertError::Store(sqlx::Error::Decode(
                format!("alert rule {id}: stored {what} is not valid").into(),
            ))
        };
        let notify: Notify =
            serde_json::from_value(self.notify).map_err(|_| corrupt("`notify`"))?;
        Ok(Rule {
            id: self.id,
            spec: RuleSpec {
                name: self.name,
                unit: self.unit,
                include_children: self.include_children,
                metric: self.metric,
                window: Window::parse(&self.time_window).ok_or_else(|| corrupt("window"))?,
                op: Op::parse(&self.op).ok_or_else(|| corrupt("op"))?,
                threshold: self.threshold,
                for_seconds: u32::try_from(self.for_seconds).map_err(|_| corrupt("for_seconds"))?,
                severity: Severity::parse(&self.severity).ok_or_else(|| corrupt("severity"))?,
                min_sample: u32::try_from(self.min_sample).map_err(|_| corrupt("min_sample"))?,
                notify,
                escalate_after_minutes: self
                    .escalate_after_minutes
                    .map(u32::try_from)
                    .transpose()
                    .map_err(|_| corrupt("escalate_after_minutes"))?,
            },
            created_by: self.created_by,
            created_at: to_local_rfc3339(self.created_at),
            updated_at: to_local_rfc3339(self.updated_at),
        })
    }
}

fn as_i32(value: u32) -> i32 {
    // Every bound checked above is far below i32::MAX.
    i32::try_from(value).unwrap_or(i32::MAX)
}

/// The shipped rules, for a catalog root (documented in the README, "Alerts").
pub fn defaults(root: &str) -> Vec<RuleSpec> {
    let rule = |name: &str, metric: &str, window: Window, op: Op, threshold: f64| RuleSpec {
        name: name.to_owned(),
        unit: root.to_owned(),
        include_children: true,
        metric: metric.to_owned(),
        window,
        op,
        threshold,
        for_seconds: 0,
        severity: Severity::Warning,
        min_sample: 0,
        notify: Notify { roles: vec![Role::Chief], users: Vec::new(), webhooks: Vec::new() },
        escalate_after_minutes: None,
    };
    vec![
        RuleSpec {
            min_sample: 20,
            ..rule(
                "Tỷ lệ đúng hạn 30 ngày dưới 80 %",
                "dossiers.on_time_rate",
                Window::Days30,
                Op::Below,
                0.8,
            )
        },
        RuleSpec {
            severity: Severity::Critical,
            escalate_after_minutes: Some(120),
            ..rule(
                "Nguồn dữ liệu im lặng 30 phút",
                "source.silent",
                Window::Today,
                Op::AtLeast,
                30.0,
            )
        },
        rule("Phản ánh quá hạn trên 20", "complaints.overdue", Window::Hours24, Op::Above, 20.0),
        // A mean of at least one complaint an hour at that hour (4 over the 4 weeks), so a
        // ward's first complaints of a quiet evening are no "spike".
        RuleSpec {
            min_sample: 4,
            ..rule(
                "Phản ánh tăng đột biến gấp 3 lần",
                "complaints.spike",
                Window::Hours24,
                Op::AtLeast,
                3.0,
            )
        },
    ]
}

impl Alerts {
    /// Installs the shipped rules on each catalog root that never had them (a default deleted
    /// later stays deleted). Safe on several replicas starting together.
    pub async fn install_defaults(&self) -> Result<usize, AlertError> {
        let mut installed = 0;
        for root in self.catalog.roots() {
            let mut tx = crate::store::begin(&self.pool).await?;
            let now = self.clock.now();
            let first: Option<String> = sqlx::query_scalar(
                "INSERT INTO alert_defaults (root, installed_at) VALUES ($1, $2)
                 ON CONFLICT (root) DO NOTHING RETURNING root",
            )
            .bind(root)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            if first.is_none() {
                continue;
            }
            for spec in defaults(root) {
                insert_rule(&mut tx, &spec, "default", now).await?;
                installed += 1;
            }
            tx.commit().await?;
        }
        if installed > 0 {
            self.rules_changed.notify_one();
        }
        Ok(installed)
    }

    pub async fn create_rule(
        &self,
        spec: RuleSpec,
        actor: &str,
        address: Option<&str>,
    ) -> Result<Rule, AlertError> {
        let spec = check(spec, &self.catalog)?;
        let mut tx = crate::store::begin(&self.pool).await?;
        let id = insert_rule(&mut tx, &spec, actor, self.clock.now()).await?;
        tx.commit().await?;
        self.accounts
            .audit(
                actor,
                "alert_rule_created",
                Some(&format!("alert_rule:{id}")),
                Some(&spec.name),
                address,
            )
            .await;
        self.rules_changed.notify_one();
        self.rule(id).await?.ok_or_else(|| AlertError::NotFound(format!("no alert rule {id}")))
    }

    pub async fn rule(&self, id: i64) -> Result<Option<Rule>, AlertError> {
        let row: Option<RuleRow> =
            sqlx::query_as(concat!("SELECT ", rule_columns!(), " FROM alert_rules WHERE id = $1"))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(RuleRow::into_rule).transpose()
    }

    /// Every rule, by id.
    pub async fn all_rules(&self) -> Result<Vec<Rule>, AlertError> {
        let rows: Vec<RuleRow> =
            sqlx::query_as(concat!("SELECT ", rule_columns!(), " FROM alert_rules ORDER BY id"))
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(RuleRow::into_rule).collect()
    }

    /// Replaces a rule. Its open alerts are resolved (they were raised under the old terms); if
    /// the new terms still hold, the evaluation raises them again at once.
    pub async fn replace_rule(
        &self,
        id: i64,
        spec: RuleSpec,
        actor: &str,
        address: Option<&str>,
    ) -> Result<Rule, AlertError> {
        let spec = check(spec, &self.catalog)?;
        let mut tx = crate::store::begin(&self.pool).await?;
        let updated: Option<i64> = bind_spec(
            sqlx::query_scalar(
                "UPDATE alert_rules SET name = $1, unit = $2, include_children = $3, metric = $4, time_window = $5,
                   op = $6, threshold = $7, for_seconds = $8, severity = $9, min_sample = $10, notify = $11,
                   escalate_after_minutes = $12, updated_at = $13
                 WHERE id = $14 RETURNING id",
            ),
            &spec,
        )?
        .bind(self.clock.now())
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        if updated.is_none() {
            return Err(AlertError::NotFound(format!("no alert rule {id}")));
        }
        let resolved = self.resolve_all_of_rule(&mut tx, id, "the rule changed").await?;
        tx.commit().await?;
        self.after_rule_change(id, &resolved, "alert_rule_changed", &spec.name, actor, address)
            .await;
        self.rule(id).await?.ok_or_else(|| AlertError::NotFound(format!("no alert rule {id}")))
    }

    /// Deletes a rule; its open alerts are resolved, and every alert keeps the rule's name.
    pub async fn delete_rule(
        &self,
        id: i64,
        actor: &str,
        address: Option<&str>,
    ) -> Result<(), AlertError> {
        let mut tx = crate::store::begin(&self.pool).await?;
        let resolved = self.resolve_all_of_rule(&mut tx, id, "the rule was deleted").await?;
        let name: Option<String> =
            sqlx::query_scalar("DELETE FROM alert_rules WHERE id = $1 RETURNING name")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(name) = name else {
            return Err(AlertError::NotFound(format!("no alert rule {id}")));
        };
        tx.commit().await?;
        self.after_rule_change(id, &resolved, "alert_rule_deleted", &name, actor, address).await;
        Ok(())
    }

    async fn after_rule_change(
        &self,
        id: i64,
        resolved: &[(i64, String)],
        action: &str,
        name: &str,
        actor: &str,
        address: Option<&str>,
    ) {
        self.accounts
            .audit(actor, action, Some(&format!("alert_rule:{id}")), Some(name), address)
            .await;
        for (alert, unit) in resolved {
            let why = format!("{action} by {actor}");
            self.accounts
                .audit(
                    "system",
                    "alert_resolved",
                    Some(&format!("alert:{alert}")),
                    Some(&why),
                    None,
                )
                .await;
            self.announce(unit).await;
        }
        self.rules_changed.notify_one();
    }
}

async fn insert_rule(
    tx: &mut sqlx::PgConnection,
    spec: &RuleSpec,
    created_by: &str,
    now: DateTime<Utc>,
) -> Result<i64, AlertError> {
    Ok(bind_spec(
        sqlx::query_scalar(
            "INSERT INTO alert_rules (name, unit, include_children, metric, time_window, op, threshold, for_seconds,
               severity, min_sample, notify, escalate_after_minutes, created_by, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14) RETURNING id",
        ),
        spec,
    )?
    .bind(created_by)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?)
}

type IdQuery<'q> = sqlx::query::QueryScalar<'q, sqlx::Postgres, i64, sqlx::postgres::PgArguments>;

/// Binds a rule's twelve columns as `$1`…`$12`, in the order both the insert and the update
/// name them.
fn bind_spec<'q>(query: IdQuery<'q>, spec: &'q RuleSpec) -> Result<IdQuery<'q>, AlertError> {
    let notify = serde_json::to_value(&spec.notify)?;
    Ok(query
        .bind(&spec.name)
        .bind(&spec.unit)
        .bind(spec.include_children)
        .bind(&spec.metric)
        .bind(spec.window.as_str())
        .bind(spec.op.as_str())
        .bind(spec.threshold)
        .bind(as_i32(spec.for_seconds))
        .bind(spec.severity.as_str())
        .bind(as_i32(spec.min_sample))
        .bind(notify)
        .bind(spec.escalate_after_minutes.map(as_i32)))
}

/// Whether a rule evaluates `unit`: its own unit, or one below it when it includes children.
pub fn evaluates(rule: &Rule, catalog: &Catalog, unit: &str) -> bool {
    rule.spec.unit == unit
        || (rule.spec.include_children && catalog.is_within(unit, &rule.spec.unit))
}

/// The units a rule evaluates.
pub fn units_of(rule: &Rule, catalog: &Catalog) -> Vec<String> {
    if rule.spec.include_children {
        catalog.subtree(&rule.spec.unit)
    } else {
        vec![rule.spec.unit.clone()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load(None).expect("the shipped catalog")
    }

    fn spec(metric: &str, window: Window) -> RuleSpec {
        RuleSpec { metric: metric.into(), window, ..defaults("01").remove(0) }
    }

    #[test]
    fn the_defaults_are_valid_rules() {
        let catalog = catalog();
        for root in catalog.roots() {
            for rule in defaults(root) {
                assert!(check(rule.clone(), &catalog).is_ok(), "{rule:?}");
            }
        }
    }

    #[test]
    fn a_rule_that_names_nothing_is_refused_with_the_reason() {
        let catalog = catalog();
        let message = |spec: RuleSpec| match check(spec, &catalog) {
            Err(AlertError::Invalid(message)) => message,
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert!(message(spec("dossiers.nothing", Window::Today)).contains("unknown metric"));
        assert!(message(spec("score.total", Window::Days7)).contains("month, quarter or year"));
        assert!(message(RuleSpec {
            unit: "99999".into(),
            ..spec("dossiers.overdue", Window::Today)
        })
        .contains("unknown unit"));
        assert!(message(RuleSpec { name: "  ".into(), ..spec("dossiers.overdue", Window::Today) })
            .contains("`name`"));
        assert!(message(RuleSpec {
            threshold: f64::NAN,
            ..spec("dossiers.overdue", Window::Today)
        })
        .contains("finite"));
        assert!(message(RuleSpec {
            escalate_after_minutes: Some(0),
            ..spec("dossiers.overdue", Window::Today)
        })
        .contains("escalate_after_minutes"));
        let alias = check(spec("officers_late", Window::Today), &catalog).expect("an alias");
        assert_eq!(alias.metric, "officers.late");
    }
}
