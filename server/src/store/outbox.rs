//! What the applier reads: outbox rows in commit order, a consistent snapshot of every item's
//! contribution for rebuilding Redis, and the figures reconciliation compares Redis against.

use super::events::{quarantine, OUTBOX_FORMAT, OUTBOX_LOCK};
use super::item::{Contribution, ItemDelta};
use super::{decode, Store, StoreError};
use chrono::{DateTime, Utc};
use ioc_shared::event::ItemKind;
use sqlx::postgres::PgPool;

/// One outbox row as stored; [`OutboxRow::deltas`] reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct OutboxRow {
    pub seq: i64,
    pub format: i16,
    pub deltas: serde_json::Value,
}

impl OutboxRow {
    /// The item deltas of the row, or why they cannot be read (then it is quarantined).
    pub fn decode(&self) -> Result<Vec<ItemDelta>, OutboxRowError> {
        if self.format > OUTBOX_FORMAT || self.format < 1 {
            return Err(OutboxRowError::Format(self.format));
        }
        <Vec<ItemDelta> as serde::Deserialize>::deserialize(&self.deltas)
            .map_err(OutboxRowError::Decode)
    }
}

/// Why an outbox row cannot be applied (it is quarantined with this reason).
#[derive(Debug, thiserror::Error)]
pub enum OutboxRowError {
    #[error("outbox format {0} is not one this release reads (1–{OUTBOX_FORMAT})")]
    Format(i16),
    #[error("outbox row does not decode: {0}")]
    Decode(serde_json::Error),
}

#[derive(sqlx::FromRow)]
struct SequenceState {
    last_value: i64,
    is_called: bool,
}

#[derive(sqlx::FromRow)]
struct ContributionRow {
    source: String,
    kind: String,
    item_id: String,
    unit: String,
    contribution: serde_json::Value,
}

/// What the outbox holds: how far it was pruned, and the last sequence number handed out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxBounds {
    /// Rows up to here were deleted: a marker behind it cannot catch up from the outbox.
    pub pruned_through: i64,
    /// No committed row has a higher sequence: a marker ahead of it belongs to other data.
    pub last_seq: i64,
}

/// Per unit (its own items only) and kind: open items, and open items whose clock runs.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenCount {
    pub unit: String,
    pub kind: String,
    pub open: i64,
    pub running: i64,
}

/// Per unit (its own items only): the sum of one window counter over a time range.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct CounterSum {
    pub unit: String,
    pub counter: String,
    pub n: i64,
}

async fn last_seq(conn: &mut sqlx::PgConnection) -> Result<i64, StoreError> {
    let sequence: SequenceState =
        sqlx::query_as("SELECT last_value, is_called FROM aggregate_outbox_seq_seq")
            .fetch_one(conn)
            .await?;
    Ok(if sequence.is_called { sequence.last_value } else { 0 })
}

/// Outbox rows `(after, through]`, oldest first, read through `db` (a report's snapshot reads
/// the rows its history has not applied yet).
pub async fn outbox_between<'c>(
    db: impl sqlx::PgExecutor<'c>,
    after: i64,
    through: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT seq, format, deltas FROM aggregate_outbox WHERE seq > $1 AND seq <= $2 ORDER BY seq",
    )
    .bind(after)
    .bind(through)
    .fetch_all(db)
    .await?)
}

impl Store {
    /// Outbox rows after `after_seq`, oldest first.
    pub async fn outbox_after(
        &self,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT seq, format, deltas FROM aggregate_outbox WHERE seq > $1 ORDER BY seq LIMIT $2",
        )
        .bind(after_seq)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// Sets an unreadable outbox row aside with its error, once (the row itself stays until
    /// pruned).
    pub async fn quarantine_outbox(&self, row: &OutboxRow, error: &str) -> Result<(), StoreError> {
        let reference = row.seq.to_string();
        let known: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM quarantine WHERE kind = 'outbox' AND ref = $1)",
        )
        .bind(&reference)
        .fetch_one(&self.pool)
        .await?;
        if known {
            return Ok(());
        }
        let mut conn = self.pool.acquire().await?;
        quarantine(&mut conn, "outbox", &reference, Some(&row.deltas), error).await
    }

    /// When the oldest acknowledged change not yet applied (after `applied_seq`) was written
    /// (by the server's clock, see [`Store::ingest`]), and how many rows wait.
    pub async fn unapplied(
        &self,
        applied_seq: i64,
    ) -> Result<(Option<DateTime<Utc>>, i64), StoreError> {
        let row: (Option<DateTime<Utc>>, i64) =
            sqlx::query_as("SELECT min(created_at), count(*) FROM aggregate_outbox WHERE seq > $1")
                .bind(applied_seq)
                .fetch_one(&self.pool)
                .await?;
        Ok(row)
    }

    pub async fn outbox_bounds(&self) -> Result<OutboxBounds, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let pruned_through: i64 = sqlx::query_scalar("SELECT pruned_through FROM outbox_state")
            .fetch_one(&mut *conn)
            .await?;
        Ok(OutboxBounds { pruned_through, last_seq: last_seq(&mut conn).await? })
    }

    /// Forgets outbox rows that were applied a while ago (kept a little for inspection), and
    /// records how far it pruned.
    pub async fn prune_outbox(
        &self,
        applied_seq: i64,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let pruned: i64 = sqlx::query_scalar(
            "WITH gone AS (
                 DELETE FROM aggregate_outbox WHERE seq <= $1 AND created_at < $2::timestamptz - interval '10 minutes' RETURNING seq
             ), noted AS (
                 UPDATE outbox_state SET pruned_through = GREATEST(pruned_through, (SELECT coalesce(max(seq), 0) FROM gone))
             )
             SELECT count(*) FROM gone",
        )
        .bind(applied_seq)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(pruned as u64)
    }

    /// How many items there are (for rebuild progress).
    pub async fn count_items(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT count(*) FROM items").fetch_one(&self.pool).await?)
    }

    /// A consistent view of every item's contribution and the outbox sequence it corresponds
    /// to, without holding up ingest: the outbox lock is held only while the view is taken.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut lock = self.pool.acquire().await?;
        // Waits until no batch is between taking its outbox sequence and committing.
        sqlx::query("SELECT pg_advisory_lock($1)").bind(OUTBOX_LOCK).execute(&mut *lock).await?;
        let taken = async {
            let mut tx = crate::store::begin(&self.pool).await?;
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut *tx)
                .await?;
            // The transaction's view is fixed by this first read, taken under the lock.
            let through_seq = last_seq(&mut tx).await?;
            Ok::<_, StoreError>((tx, through_seq))
        }
        .await;
        sqlx::query("SELECT pg_advisory_unlock($1)").bind(OUTBOX_LOCK).execute(&mut *lock).await?;
        let (tx, through_seq) = taken?;
        Ok(Snapshot {
            tx,
            after: (String::new(), String::new(), String::new()),
            through_seq,
            pool: self.pool.clone(),
        })
    }
}

/// Every item's contribution as of one outbox sequence, read in chunks.
pub struct Snapshot {
    /// A repeatable-read, read-only transaction: the view of one moment.
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    /// Last item read, for keyset paging.
    after: (String, String, String),
    /// The outbox sequence the contributions correspond to: rows after it are still to apply.
    pub through_seq: i64,
    /// For setting unreadable items aside outside the read-only view.
    pool: PgPool,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("through_seq", &self.through_seq).finish()
    }
}

/// Items read per chunk of a snapshot.
pub const SNAPSHOT_CHUNK: i64 = 5000;

impl Snapshot {
    /// The next items, each as a delta from nothing; `None` when all were read. An item whose
    /// contribution does not decode is quarantined and skipped.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<ItemDelta>>, StoreError> {
        let rows: Vec<ContributionRow> = sqlx::query_as(
            "SELECT source, kind, item_id, unit, contribution FROM items
             WHERE (source, kind, item_id) > ($1, $2, $3) AND contribution IS NOT NULL
             ORDER BY source, kind, item_id LIMIT $4",
        )
        .bind(&self.after.0)
        .bind(&self.after.1)
        .bind(&self.after.2)
        .bind(SNAPSHOT_CHUNK)
        .fetch_all(&mut *self.tx)
        .await?;
        let Some(last_row) = rows.last() else { return Ok(None) };
        self.after = (last_row.source.clone(), last_row.kind.clone(), last_row.item_id.clone());
        let mut chunk = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(kind) = ItemKind::parse(&row.kind) else { continue };
            let contribution: Contribution = match decode("item contribution", &row.contribution) {
                Ok(contribution) => contribution,
                Err(error) => {
                    let reference = format!("{}/{}/{}", row.source, row.kind, row.item_id);
                    tracing::error!(item = %reference, %error, "item quarantined during rebuild");
                    let mut conn = self.pool.acquire().await?;
                    quarantine(
                        &mut conn,
                        "item",
                        &reference,
                        Some(&row.contribution),
                        &crate::errors::chain(&error),
                    )
                    .await?;
                    continue;
                }
            };
            if let Some(delta) = ItemDelta::between(
                kind,
                &row.source,
                &row.item_id,
                &row.unit,
                &Contribution::default(),
                &contribution,
            ) {
                chunk.push(delta);
            }
        }
        Ok(Some(chunk))
    }

    /// Open and running items per unit and kind, in this view.
    pub async fn open_counts(&mut self) -> Result<Vec<OpenCount>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT unit, kind,
                    count(*) FILTER (WHERE (contribution->>'open')::boolean) AS open,
                    count(*) FILTER (WHERE jsonb_typeof(contribution->'due') = 'object') AS running
             FROM items WHERE contribution IS NOT NULL GROUP BY unit, kind",
        )
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows)
    }

    /// Sums of the window counters of `units`' own items with times in `[from, to)` (Unix
    /// seconds), in this view.
    pub async fn counter_sums(
        &mut self,
        units: &[String],
        from: i64,
        to: i64,
    ) -> Result<Vec<CounterSum>, StoreError> {
        let rows = sqlx::query_as(
            "SELECT i.unit, c->>'counter' AS counter, sum((c->>'n')::bigint)::bigint AS n
             FROM items i, jsonb_array_elements(i.contribution->'counts') AS c
             WHERE i.unit = ANY($1) AND (c->>'at')::bigint >= $2 AND (c->>'at')::bigint < $3
             GROUP BY 1, 2",
        )
        .bind(units)
        .bind(from)
        .bind(to)
        .fetch_all(&mut *self.tx)
        .await?;
        Ok(rows)
    }

    /// Ends the read-only view.
    pub async fn finish(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}
