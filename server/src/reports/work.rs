//! What a report freezes besides the figures: the period's worst procedures, the items and
//! officers late when it ended, its alerts and explanation requests — read from PostgreSQL.

use crate::store::StoreError;
use chrono::{DateTime, Utc};
use ioc_shared::report::{
    AlertsInPeriod, ExplanationsInPeriod, LateOfficer, OverdueItem, ProcedureLine,
};

/// Items open and past their due time at `$2` within units `$1` (`NULL`: all), not paused then
/// (an item paused now counts as paused since `paused_since`, as the series do). A macro, so
/// both statements are whole string literals.
macro_rules! overdue_at_end {
    () => {
        "($1::text[] IS NULL OR unit = ANY($1)) AND received_at < $2
         AND (resolved_at IS NULL OR resolved_at >= $2) AND due_extended_at < $2
         AND NOT (paused AND paused_since < $2)"
    };
}

#[derive(sqlx::FromRow)]
struct ProcedureRow {
    procedure: String,
    resolved: i64,
    late: i64,
}

#[derive(sqlx::FromRow)]
struct OverdueRow {
    kind: String,
    item_id: String,
    unit: String,
    what: Option<String>,
    officer_name: Option<String>,
    due_extended_at: DateTime<Utc>,
}

#[derive(sqlx::FromRow)]
struct OfficerRow {
    officer_id: String,
    officer_name: Option<String>,
    overdue: i64,
}

#[derive(sqlx::FromRow)]
struct AlertRow {
    raised: i64,
    acknowledged: i64,
    resolved: i64,
    open_at_end: i64,
}

#[derive(sqlx::FromRow)]
struct ExplanationRow {
    asked: i64,
    answered: i64,
    overdue_at_end: i64,
}

fn count(n: i64) -> u64 {
    n.max(0) as u64
}

/// Dossiers resolved in `[start, end)` per procedure, most resolved late first (at most 10).
pub async fn worst_procedures<'c>(
    db: impl sqlx::PgExecutor<'c>,
    units: Option<&[String]>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<Vec<ProcedureLine>, StoreError> {
    let rows: Vec<ProcedureRow> = sqlx::query_as(
        "SELECT procedure, count(*) AS resolved,
                count(*) FILTER (WHERE due_extended_at IS NOT NULL AND resolved_at > due_extended_at) AS late
         FROM items
         WHERE kind = 'dossier' AND ($1::text[] IS NULL OR unit = ANY($1)) AND procedure IS NOT NULL
           AND resolved_at >= $2 AND resolved_at < $3
         GROUP BY procedure ORDER BY late DESC, resolved DESC, procedure LIMIT 10",
    )
    .bind(units)
    .bind(start)
    .bind(end)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ProcedureLine {
            on_time_rate: super::rate_of(count(r.resolved - r.late), count(r.late)),
            procedure: r.procedure,
            resolved: count(r.resolved),
            late: count(r.late),
        })
        .collect())
}

/// The items longest overdue at `end` (at most 20).
pub async fn most_overdue<'c>(
    db: impl sqlx::PgExecutor<'c>,
    units: Option<&[String]>,
    end: DateTime<Utc>,
) -> Result<Vec<OverdueItem>, StoreError> {
    let rows: Vec<OverdueRow> = sqlx::query_as(concat!(
        "SELECT kind, item_id, unit, COALESCE(procedure, title) AS what, officer_name, due_extended_at
         FROM items WHERE ",
        overdue_at_end!(),
        " ORDER BY due_extended_at, item_id LIMIT 20"
    ))
    .bind(units)
    .bind(end)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| OverdueItem {
            hours_overdue: ((end - r.due_extended_at).num_seconds() as f64 / 360.0).round() / 10.0,
            kind: r.kind,
            id: r.item_id,
            unit: r.unit,
            what: r.what,
            officer: r.officer_name,
            due: ioc_shared::time::to_local_rfc3339(r.due_extended_at),
        })
        .collect())
}

/// The officers with the most items overdue at `end` (at most 20).
pub async fn late_officers<'c>(
    db: impl sqlx::PgExecutor<'c>,
    units: Option<&[String]>,
    end: DateTime<Utc>,
) -> Result<Vec<LateOfficer>, StoreError> {
    let rows: Vec<OfficerRow> = sqlx::query_as(concat!(
        "SELECT officer_id, max(officer_name) AS officer_name, count(*) AS overdue FROM items WHERE ",
        overdue_at_end!(),
        " AND officer_id IS NOT NULL GROUP BY officer_id ORDER BY overdue DESC, officer_id LIMIT 20"
    ))
    .bind(units)
    .bind(end)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| LateOfficer { id: r.officer_id, name: r.officer_name, overdue: count(r.overdue) })
        .collect())
}

/// Alerts of `units` raised in `[start, end)`, how they were handled by `end`, and how many
/// (raised whenever) were still open at `end`.
pub async fn alerts<'c>(
    db: impl sqlx::PgExecutor<'c>,
    units: Option<&[String]>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<AlertsInPeriod, StoreError> {
    let row: AlertRow = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE since >= $2 AND since < $3) AS raised,
                count(*) FILTER (WHERE since >= $2 AND since < $3 AND acknowledged_at < $3) AS acknowledged,
                count(*) FILTER (WHERE since >= $2 AND since < $3 AND resolved_at < $3) AS resolved,
                count(*) FILTER (WHERE since < $3 AND (resolved_at IS NULL OR resolved_at >= $3)) AS open_at_end
         FROM alerts WHERE ($1::text[] IS NULL OR unit = ANY($1))",
    )
    .bind(units)
    .bind(start)
    .bind(end)
    .fetch_one(db)
    .await?;
    Ok(AlertsInPeriod {
        raised: count(row.raised),
        acknowledged: count(row.acknowledged),
        resolved: count(row.resolved),
        open_at_end: count(row.open_at_end),
    })
}

/// Explanation requests to `units`: asked and answered in `[start, end)`, overdue at `end`.
pub async fn explanations<'c>(
    db: impl sqlx::PgExecutor<'c>,
    units: Option<&[String]>,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Result<ExplanationsInPeriod, StoreError> {
    let row: ExplanationRow = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE asked_at >= $2 AND asked_at < $3) AS asked,
                count(*) FILTER (WHERE answered_at >= $2 AND answered_at < $3) AS answered,
                count(*) FILTER (WHERE asked_at < $3 AND due < $3
                    AND (answered_at IS NULL OR answered_at >= $3)
                    AND (closed_at IS NULL OR closed_at >= $3)) AS overdue_at_end
         FROM explanations WHERE ($1::text[] IS NULL OR unit = ANY($1))",
    )
    .bind(units)
    .bind(start)
    .bind(end)
    .fetch_one(db)
    .await?;
    Ok(ExplanationsInPeriod {
        asked: count(row.asked),
        answered: count(row.answered),
        overdue_at_end: count(row.overdue_at_end),
    })
}
