//! The day-level history of the window counters in PostgreSQL: what the calendar windows
//! (month, quarter, year), their previous periods and the series read.

use super::{Store, StoreError};
use chrono::NaiveDate;
use std::collections::BTreeMap;

/// (unit, day, counter) → change.
pub type DayChanges = BTreeMap<(String, NaiveDate, String), i64>;

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryState {
    pub applied_seq: i64,
    pub fingerprint: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UnitCounter {
    pub unit: String,
    pub counter: String,
    pub n: i64,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DayCounter {
    pub day: NaiveDate,
    pub counter: String,
    pub n: i64,
}

async fn upsert(conn: &mut sqlx::PgConnection, changes: &DayChanges) -> Result<(), StoreError> {
    if changes.is_empty() {
        return Ok(());
    }
    let units: Vec<&str> = changes.keys().map(|(u, _, _)| u.as_str()).collect();
    let days: Vec<NaiveDate> = changes.keys().map(|(_, d, _)| *d).collect();
    let counters: Vec<&str> = changes.keys().map(|(_, _, c)| c.as_str()).collect();
    let ns: Vec<i64> = changes.values().copied().collect();
    sqlx::query(
        "INSERT INTO daily_counters (unit, day, counter, n)
         SELECT * FROM UNNEST($1::text[], $2::date[], $3::text[], $4::bigint[])
         ON CONFLICT (unit, day, counter) DO UPDATE SET n = daily_counters.n + EXCLUDED.n",
    )
    .bind(&units)
    .bind(&days)
    .bind(&counters)
    .bind(&ns)
    .execute(conn)
    .await?;
    Ok(())
}

/// How far the day-level history has applied the outbox, as one snapshot sees it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HistoryPosition {
    /// The last outbox row the history has applied.
    pub applied_seq: i64,
    /// The catalog fingerprint the history was rolled up with.
    pub fingerprint: String,
    /// The last outbox row committed: every change acknowledged so far is at or before it
    /// (outbox numbers are taken in commit order, under `OUTBOX_LOCK`). Rows are pruned only
    /// once applied, so with none left this is the history's own position.
    pub last_seq: i64,
}

/// The history's position and the last committed outbox row, read through `db`.
pub async fn position<'c>(db: impl sqlx::PgExecutor<'c>) -> Result<HistoryPosition, StoreError> {
    Ok(sqlx::query_as(
        "SELECT h.applied_seq, h.fingerprint,
                GREATEST(h.applied_seq, COALESCE((SELECT max(seq) FROM aggregate_outbox), 0)) AS last_seq
         FROM history_state h",
    )
    .fetch_one(db)
    .await?)
}

/// Counter totals of each of `units` over the days `[from, to]`, read through `db` (the pool,
/// or a report's snapshot).
pub async fn daily_sums<'c>(
    db: impl sqlx::PgExecutor<'c>,
    units: &[String],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<UnitCounter>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT unit, counter, sum(n)::bigint AS n FROM daily_counters
         WHERE unit = ANY($1) AND day >= $2 AND day <= $3 GROUP BY unit, counter",
    )
    .bind(units)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?)
}

impl Store {
    pub async fn history_state(&self) -> Result<HistoryState, StoreError> {
        Ok(sqlx::query_as("SELECT applied_seq, fingerprint FROM history_state")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Applies the changes of outbox rows `(after, through]`, exactly once: false (nothing
    /// written) if another replica moved the marker meanwhile.
    pub async fn apply_history(
        &self,
        after: i64,
        through: i64,
        changes: &DayChanges,
    ) -> Result<bool, StoreError> {
        let mut tx = crate::store::begin(&self.pool).await?;
        let moved = sqlx::query("UPDATE history_state SET applied_seq = $2 WHERE applied_seq = $1")
            .bind(after)
            .bind(through)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if moved == 0 {
            return Ok(false);
        }
        upsert(&mut tx, changes).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Replaces the whole history (a catalog change): every item's counts as of outbox
    /// sequence `through`, rolled up with the new catalog.
    pub async fn replace_history(
        &self,
        chunks: Vec<DayChanges>,
        through: i64,
        fingerprint: &str,
    ) -> Result<(), StoreError> {
        let mut tx = crate::store::begin(&self.pool).await?;
        sqlx::query("SELECT applied_seq FROM history_state FOR UPDATE").execute(&mut *tx).await?;
        sqlx::query("DELETE FROM daily_counters").execute(&mut *tx).await?;
        for chunk in &chunks {
            upsert(&mut tx, chunk).await?;
        }
        sqlx::query("UPDATE history_state SET applied_seq = $1, fingerprint = $2")
            .bind(through)
            .bind(fingerprint)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One unit's counters per day over `[from, to]`.
    pub async fn daily_counters(
        &self,
        unit: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<DayCounter>, StoreError> {
        Ok(sqlx::query_as("SELECT day, counter, n FROM daily_counters WHERE unit = $1 AND day >= $2 AND day <= $3")
            .bind(unit)
            .bind(from)
            .bind(to)
            .fetch_all(&self.reads)
            .await?)
    }
}

/// When an item was open, due and paused: what "overdue at a moment" is computed from.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Span {
    pub received_at: chrono::DateTime<chrono::Utc>,
    pub resolved_at: Option<chrono::DateTime<chrono::Utc>>,
    pub due_extended_at: Option<chrono::DateTime<chrono::Utc>>,
    pub paused_since: Option<chrono::DateTime<chrono::Utc>>,
}

/// The items of `kind` within `units` (`None`: all) that were open at some time in
/// `[from, to)`.
pub async fn spans<'c>(
    db: impl sqlx::PgExecutor<'c>,
    kind: &str,
    units: Option<&[String]>,
    from: chrono::DateTime<chrono::Utc>,
    to: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<Span>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT received_at, resolved_at, due_extended_at, paused_since FROM items
         WHERE kind = $1 AND ($2::text[] IS NULL OR unit = ANY($2)) AND received_at IS NOT NULL
           AND received_at < $4 AND (resolved_at IS NULL OR resolved_at >= $3)",
    )
    .bind(kind)
    .bind(units)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?)
}

/// How many spans are open, and how many overdue (open, past the extended due time, not
/// paused), at each of `moments` (sorted ascending). Overdue uses each item's final extended
/// due time and treats an item paused now as paused since `paused_since`.
pub fn open_and_overdue_at(
    spans: &[Span],
    moments: &[chrono::DateTime<chrono::Utc>],
) -> Vec<(u64, u64)> {
    // Each span is open on [received, resolved) and overdue on (due, min(resolved, paused)).
    let mut open_starts = Vec::with_capacity(spans.len());
    let mut open_ends = Vec::with_capacity(spans.len());
    let mut overdue_starts = Vec::with_capacity(spans.len());
    let mut overdue_ends = Vec::with_capacity(spans.len());
    for span in spans {
        open_starts.push(span.received_at);
        open_ends.extend(span.resolved_at);
        if let Some(due) = span.due_extended_at {
            let start = due.max(span.received_at);
            let end = match (span.resolved_at, span.paused_since) {
                (Some(r), Some(p)) => Some(r.min(p)),
                (r, p) => r.or(p),
            };
            if end.is_none_or(|end| end > start) {
                overdue_starts.push(start);
                overdue_ends.extend(end);
            }
        }
    }
    for list in [&mut open_starts, &mut open_ends, &mut overdue_starts, &mut overdue_ends] {
        list.sort_unstable();
    }
    let at_or_before =
        |list: &[chrono::DateTime<chrono::Utc>], m| list.partition_point(|t| *t <= m) as i64;
    let before =
        |list: &[chrono::DateTime<chrono::Utc>], m| list.partition_point(|t| *t < m) as i64;
    moments
        .iter()
        .map(|m| {
            let open = at_or_before(&open_starts, *m) - at_or_before(&open_ends, *m);
            // Overdue once now is strictly past the due time.
            let overdue = before(&overdue_starts, *m) - at_or_before(&overdue_ends, *m);
            (open.max(0) as u64, overdue.max(0) as u64)
        })
        .collect()
}
