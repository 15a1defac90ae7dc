//! What the Decision 766 score counts, per unit, from the items (the truth).

use super::sql::{push_scope, RATED};
use super::StoreError;
use chrono::{DateTime, Utc};
use sqlx::QueryBuilder;

/// One unit's (own items') parts of the measured indicators over a period.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct ScoreParts {
    pub unit: String,
    /// Dossiers received or resolved in the period, or still open; withdrawn excluded.
    pub progress_denominator: i64,
    /// Of those: resolved on or before the extended due time, or open and not overdue.
    pub progress_numerator: i64,
    pub received: i64,
    pub received_online: i64,
    pub dossiers_resolved: i64,
    pub dossiers_late: i64,
    pub dossiers_dissatisfied: i64,
    pub complaints_resolved: i64,
    pub complaints_on_time: i64,
    pub complaints_dissatisfied: i64,
    /// Open, running dossiers falling due within `[now, now + 24 h)`.
    pub due_24h: i64,
}

/// Score parts per unit for the period `[from, now]` within `units` (`None`: all).
pub async fn score_parts<'c>(
    db: impl sqlx::PgExecutor<'c>,
    units: Option<&[String]>,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Result<Vec<ScoreParts>, StoreError> {
    // The period's ends are bound once and named, for the many counts that use them.
    let mut sql = QueryBuilder::new("WITH period AS (SELECT ");
    sql.push_bind(from)
            .push("::timestamptz AS since, ")
            .push_bind(now)
            .push("::timestamptz AS until) SELECT unit,")
            .push(" count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND ")
            .push(RATED)
            .push(
                " AND (received_at >= since OR resolved_at >= since OR open)) AS progress_denominator,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND ",
            )
            .push(RATED)
            .push(
                " AND ((resolved_at >= since AND resolved_at <= until AND resolved_at <= due_extended_at)
                                      OR (open AND (paused OR due_extended_at >= until)))) AS progress_numerator,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at >= since AND received_at <= until) AS received,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at >= since AND received_at <= until AND channel = 'online') AS received_online,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND resolved_at >= since AND resolved_at <= until) AS dossiers_resolved,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND resolved_at >= since AND resolved_at <= until
                                 AND ",
            )
            .push(RATED)
            .push(
                " AND resolved_at > due_extended_at) AS dossiers_late,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND resolved_at >= since AND resolved_at <= until
                                 AND satisfaction = 'dissatisfied') AS dossiers_dissatisfied,
                count(*) FILTER (WHERE kind = 'complaint' AND received_at IS NOT NULL AND resolved_at >= since AND resolved_at <= until) AS complaints_resolved,
                count(*) FILTER (WHERE kind = 'complaint' AND received_at IS NOT NULL AND resolved_at >= since AND resolved_at <= until
                                 AND resolved_at <= due_extended_at) AS complaints_on_time,
                count(*) FILTER (WHERE kind = 'complaint' AND received_at IS NOT NULL AND resolved_at >= since AND resolved_at <= until
                                 AND satisfaction = 'dissatisfied') AS complaints_dissatisfied,
                count(*) FILTER (WHERE kind = 'dossier' AND open AND NOT paused AND due_extended_at >= until
                                 AND due_extended_at < until + interval '24 hours') AS due_24h
             FROM items CROSS JOIN period
             WHERE kind <> 'task' AND (open OR received_at >= since OR resolved_at >= since)",
            );
    push_scope(&mut sql, units);
    sql.push(" GROUP BY unit");
    Ok(sql.build_query_as().fetch_all(db).await?)
}
