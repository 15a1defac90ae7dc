//! The item conditions every figure read from PostgreSQL shares, written once so that the
//! lists, an officer's page, the breakdowns and the Decision 766 score cannot drift apart
//! (the same definitions as the live figures' fold in [`super::item`]).

use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

/// Counts for on time or late: every outcome but a citizen's withdrawal.
pub const RATED: &str = "coalesce(outcome, '') <> 'withdrawn'";

/// Open, running (not paused) and past its extended due time at `at`.
pub fn push_overdue_at(sql: &mut QueryBuilder<'_, Postgres>, at: DateTime<Utc>) {
    sql.push("open AND NOT paused AND due_extended_at < ").push_bind(at);
}

/// Resolved in `[since, until]` (both ends included, as the figures count a period up to now).
pub fn push_resolved_between(
    sql: &mut QueryBuilder<'_, Postgres>,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) {
    sql.push("resolved_at >= ").push_bind(since).push(" AND resolved_at <= ").push_bind(until);
}

/// ` AND unit = ANY(units)`; nothing for every unit (`None`).
pub fn push_scope<'a>(sql: &mut QueryBuilder<'a, Postgres>, units: Option<&'a [String]>) {
    if let Some(units) = units {
        sql.push(" AND unit = ANY(").push_bind(units).push(")");
    }
}
