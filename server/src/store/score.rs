//! What the Decision 766 score counts, per unit, from the items (the truth).

use super::sql::RATED;
use super::{Store, StoreError};
use chrono::{DateTime, Utc};

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

impl Store {
    /// Score parts per unit for the period `[from, now]` within `units` (`None`: all).
    pub async fn score_parts(
        &self,
        units: Option<&[String]>,
        from: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<ScoreParts>, StoreError> {
        Ok(sqlx::query_as(&format!(
            "SELECT unit,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND {RATED}
                                 AND (received_at >= $2 OR resolved_at >= $2 OR open)) AS progress_denominator,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND {RATED}
                                 AND ((resolved_at >= $2 AND resolved_at <= $3 AND resolved_at <= due_extended_at)
                                      OR (open AND (paused OR due_extended_at >= $3)))) AS progress_numerator,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at >= $2 AND received_at <= $3) AS received,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at >= $2 AND received_at <= $3 AND channel = 'online') AS received_online,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND resolved_at >= $2 AND resolved_at <= $3) AS dossiers_resolved,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND resolved_at >= $2 AND resolved_at <= $3
                                 AND {RATED} AND resolved_at > due_extended_at) AS dossiers_late,
                count(*) FILTER (WHERE kind = 'dossier' AND received_at IS NOT NULL AND resolved_at >= $2 AND resolved_at <= $3
                                 AND satisfaction = 'dissatisfied') AS dossiers_dissatisfied,
                count(*) FILTER (WHERE kind = 'complaint' AND received_at IS NOT NULL AND resolved_at >= $2 AND resolved_at <= $3) AS complaints_resolved,
                count(*) FILTER (WHERE kind = 'complaint' AND received_at IS NOT NULL AND resolved_at >= $2 AND resolved_at <= $3
                                 AND resolved_at <= due_extended_at) AS complaints_on_time,
                count(*) FILTER (WHERE kind = 'complaint' AND received_at IS NOT NULL AND resolved_at >= $2 AND resolved_at <= $3
                                 AND satisfaction = 'dissatisfied') AS complaints_dissatisfied,
                count(*) FILTER (WHERE kind = 'dossier' AND open AND NOT paused AND due_extended_at >= $3
                                 AND due_extended_at < $3 + interval '24 hours') AS due_24h
             FROM items
             WHERE ($1::text[] IS NULL OR unit = ANY($1)) AND kind <> 'task' AND (open OR received_at >= $2 OR resolved_at >= $2)
             GROUP BY unit"
        ))
        .bind(units)
        .bind(from)
        .bind(now)
        .fetch_all(&self.pool)
        .await?)
    }
}
