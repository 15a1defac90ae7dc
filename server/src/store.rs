//! PostgreSQL: the event log and item state, the source of truth.
//!
//! [`Store::ingest`] stores a batch in one transaction: new items are created with the unit of
//! their first event, events whose unit differs from their item's are rejected, the remaining
//! events are inserted (the same source and id again is a duplicate), every touched item's
//! contribution is refolded from all its events, and the differences go into
//! `aggregate_outbox` in the same transaction. An event is acknowledged only once this commits.

use crate::item::{self, Contribution, ItemDelta};
use chrono::{DateTime, Utc};
use ioc_shared::event::{parse_event, Event, ItemKind};
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::Row;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

/// Advisory-lock key that orders outbox sequence numbers by commit.
const OUTBOX_LOCK: i64 = 0x10C0_0B0C;
/// Item deltas per outbox row: keeps each Redis apply script short.
const DELTAS_PER_OUTBOX_ROW: usize = 256;
/// How often a batch is retried after a deadlock or serialization failure.
const RETRIES: usize = 3;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached in time: nothing was acknowledged.
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("PostgreSQL error: {0}")]
    Database(sqlx::Error),
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        match error {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed | sqlx::Error::Tls(_) => {
                StoreError::Unavailable(error)
            }
            other => StoreError::Database(other),
        }
    }
}

impl StoreError {
    fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("40001" | "40P01"))
            }
            _ => false,
        }
    }
}

/// What became of each event of a batch, by its index in the request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
    /// (index, reason) for events refused because of what is already stored.
    pub rejected: Vec<(usize, String)>,
    /// Whether aggregate changes were written to the outbox (the applier should run).
    pub changed: bool,
}

/// One outbox row, read by the applier.
#[derive(Debug)]
pub struct OutboxRow {
    pub seq: i64,
    pub deltas: Vec<ItemDelta>,
}

#[derive(Debug, Clone)]
pub struct Store {
    pub pool: PgPool,
}

impl Store {
    /// Connects lazily, so the server starts (and answers 503) while PostgreSQL is down.
    pub fn connect_lazy(url: &str, acquire_timeout: Duration) -> Result<Store, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(acquire_timeout)
            .connect_lazy(url)
            .map_err(StoreError::Database)?;
        Ok(Store { pool })
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations").run(&self.pool).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Stores a batch of checked events (`(index in request, event)`), all or nothing.
    pub async fn ingest(&self, events: &[(usize, Event)]) -> Result<IngestOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            match self.ingest_once(events).await {
                Err(error) if error.is_retryable() && attempt < RETRIES => {
                    attempt += 1;
                    tracing::debug!(%error, attempt, "ingest transaction retried");
                }
                result => return result,
            }
        }
    }

    async fn ingest_once(&self, events: &[(usize, Event)]) -> Result<IngestOutcome, StoreError> {
        let mut outcome = IngestOutcome::default();
        if events.is_empty() {
            return Ok(outcome);
        }
        // Repeats inside the batch are duplicates of their first occurrence.
        let mut seen = HashSet::new();
        let mut unique: Vec<&(usize, Event)> = Vec::with_capacity(events.len());
        for entry in events {
            if seen.insert((entry.1.source.as_str(), entry.1.id.as_str())) {
                unique.push(entry);
            } else {
                outcome.duplicates += 1;
            }
        }

        // Items in a fixed order, so concurrent batches lock them without deadlocking.
        let mut first_unit: BTreeMap<(ItemKind, &str), &str> = BTreeMap::new();
        for (_, event) in &unique {
            let (kind, id) = event.body.item();
            first_unit.entry((kind, id)).or_insert(event.unit.as_str());
        }
        let item_kinds: Vec<&str> = first_unit.keys().map(|(k, _)| k.as_str()).collect();
        let item_ids: Vec<&str> = first_unit.keys().map(|(_, id)| *id).collect();
        let item_units: Vec<&str> = first_unit.values().copied().collect();

        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO items (kind, item_id, unit)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])
             ON CONFLICT DO NOTHING",
        )
        .bind(&item_kinds)
        .bind(&item_ids)
        .bind(&item_units)
        .execute(&mut *tx)
        .await?;
        let rows = sqlx::query(
            "SELECT i.kind, i.item_id, i.unit, i.contribution FROM items i
             JOIN UNNEST($1::text[], $2::text[]) AS k(kind, item_id)
               ON i.kind = k.kind AND i.item_id = k.item_id
             ORDER BY i.kind, i.item_id
             FOR UPDATE OF i",
        )
        .bind(&item_kinds)
        .bind(&item_ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut items: HashMap<(String, String), (String, Contribution)> = HashMap::with_capacity(rows.len());
        for row in rows {
            let contribution: Option<serde_json::Value> = row.try_get("contribution")?;
            let contribution = contribution
                .and_then(|value| serde_json::from_value(value).ok())
                .unwrap_or_default();
            items.insert((row.try_get("kind")?, row.try_get("item_id")?), (row.try_get("unit")?, contribution));
        }

        // An item belongs to one unit: the one its first stored event named.
        let mut to_insert: Vec<&(usize, Event)> = Vec::with_capacity(unique.len());
        for entry in unique {
            let (index, event) = entry;
            let (kind, id) = event.body.item();
            match items.get(&(kind.as_str().to_owned(), id.to_owned())) {
                Some((unit, _)) if *unit != event.unit => outcome.rejected.push((
                    *index,
                    format!(
                        "unit `{}` differs from unit `{unit}` of {} `{id}`: every event of an item must carry the item's unit",
                        event.unit,
                        kind.as_str()
                    ),
                )),
                _ => to_insert.push(entry),
            }
        }

        let mut sources = Vec::with_capacity(to_insert.len());
        let mut ids = Vec::with_capacity(to_insert.len());
        let mut types = Vec::with_capacity(to_insert.len());
        let mut ats = Vec::with_capacity(to_insert.len());
        let mut units = Vec::with_capacity(to_insert.len());
        let mut kinds = Vec::with_capacity(to_insert.len());
        let mut item_of = Vec::with_capacity(to_insert.len());
        let mut bodies = Vec::with_capacity(to_insert.len());
        for (_, event) in &to_insert {
            let (kind, item_id) = event.body.item();
            sources.push(event.source.as_str());
            ids.push(event.id.as_str());
            types.push(event.body.type_name());
            ats.push(event.at);
            units.push(event.unit.as_str());
            kinds.push(kind.as_str());
            item_of.push(item_id);
            bodies.push(serde_json::to_value(event).map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?);
        }
        let inserted = sqlx::query(
            "INSERT INTO events (source, event_id, type, at, unit, item_kind, item_id, body)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                                  $5::text[], $6::text[], $7::text[], $8::jsonb[])
             ON CONFLICT (source, event_id) DO NOTHING
             RETURNING item_kind, item_id",
        )
        .bind(&sources)
        .bind(&ids)
        .bind(&types)
        .bind(&ats)
        .bind(&units)
        .bind(&kinds)
        .bind(&item_of)
        .bind(&bodies)
        .fetch_all(&mut *tx)
        .await?;
        outcome.accepted = inserted.len();
        outcome.duplicates += to_insert.len() - inserted.len();

        // Refold every item that got a new event from all of its events.
        let mut touched: Vec<(String, String)> = Vec::new();
        let mut touched_set = HashSet::new();
        for row in &inserted {
            let key: (String, String) = (row.try_get("item_kind")?, row.try_get("item_id")?);
            if touched_set.insert(key.clone()) {
                touched.push(key);
            }
        }
        if touched.is_empty() {
            tx.commit().await?;
            return Ok(outcome);
        }
        let touched_kinds: Vec<&str> = touched.iter().map(|(k, _)| k.as_str()).collect();
        let touched_ids: Vec<&str> = touched.iter().map(|(_, i)| i.as_str()).collect();
        let history = sqlx::query(
            "SELECT e.item_kind, e.item_id, e.body FROM events e
             JOIN UNNEST($1::text[], $2::text[]) AS k(kind, item_id)
               ON e.item_kind = k.kind AND e.item_id = k.item_id",
        )
        .bind(&touched_kinds)
        .bind(&touched_ids)
        .fetch_all(&mut *tx)
        .await?;
        let mut events_of: HashMap<(String, String), Vec<Event>> = HashMap::new();
        for row in history {
            let body: serde_json::Value = row.try_get("body")?;
            let event = stored_event(&body)?;
            events_of.entry((row.try_get("item_kind")?, row.try_get("item_id")?)).or_default().push(event);
        }

        let mut deltas = Vec::new();
        let mut update_kinds = Vec::new();
        let mut update_ids = Vec::new();
        let mut update_contributions = Vec::new();
        for key in &touched {
            let Some(kind) = ItemKind::parse(&key.0) else { continue };
            let Some((unit, before)) = items.get(key) else { continue };
            let mut history = events_of.remove(key).unwrap_or_default();
            item::sort_for_fold(&mut history);
            let after = item::contribution(kind, &history);
            if let Some(delta) = ItemDelta::between(kind, &key.1, unit, before, &after) {
                deltas.push(delta);
            }
            update_kinds.push(key.0.as_str());
            update_ids.push(key.1.as_str());
            update_contributions.push(serde_json::to_value(&after).unwrap_or(serde_json::Value::Null));
        }
        sqlx::query(
            "UPDATE items SET contribution = u.contribution, updated_at = now()
             FROM UNNEST($1::text[], $2::text[], $3::jsonb[]) AS u(kind, item_id, contribution)
             WHERE items.kind = u.kind AND items.item_id = u.item_id",
        )
        .bind(&update_kinds)
        .bind(&update_ids)
        .bind(&update_contributions)
        .execute(&mut *tx)
        .await?;

        if !deltas.is_empty() {
            sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(OUTBOX_LOCK).execute(&mut *tx).await?;
            for chunk in deltas.chunks(DELTAS_PER_OUTBOX_ROW) {
                let json = serde_json::to_value(chunk).unwrap_or(serde_json::Value::Null);
                sqlx::query("INSERT INTO aggregate_outbox (deltas) VALUES ($1)").bind(json).execute(&mut *tx).await?;
            }
            outcome.changed = true;
        }
        tx.commit().await?;
        Ok(outcome)
    }

    /// Outbox rows after `after_seq`, oldest first.
    pub async fn outbox_after(&self, after_seq: i64, limit: i64) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = sqlx::query("SELECT seq, deltas FROM aggregate_outbox WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq)
            .bind(limit)
            .fetch_all(&self.pool)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let seq: i64 = row.try_get("seq")?;
            let deltas: serde_json::Value = row.try_get("deltas")?;
            let deltas: Vec<ItemDelta> = serde_json::from_value(deltas)
                .map_err(|e| StoreError::Database(sqlx::Error::Decode(Box::new(e))))?;
            out.push(OutboxRow { seq, deltas });
        }
        Ok(out)
    }

    /// Forgets outbox rows that were applied a while ago (kept a little for inspection).
    pub async fn prune_outbox(&self, applied_seq: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM aggregate_outbox WHERE seq <= $1 AND created_at < now() - interval '10 minutes'",
        )
        .bind(applied_seq)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Starts reading every item's contribution under the outbox lock, so that no batch can
    /// commit until [`Snapshot::finish`]: used to rebuild Redis from the truth.
    pub async fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(OUTBOX_LOCK).execute(&mut *tx).await?;
        let seq_row = sqlx::query("SELECT last_value, is_called FROM aggregate_outbox_seq_seq")
            .fetch_one(&mut *tx)
            .await?;
        let last: i64 = seq_row.try_get("last_value")?;
        let called: bool = seq_row.try_get("is_called")?;
        Ok(Snapshot { tx, after: (String::new(), String::new()), through_seq: if called { last } else { 0 } })
    }

    /// Whether any event from `source` is stored (the simulator backfills only once).
    pub async fn has_events_from(&self, source: &str) -> Result<bool, StoreError> {
        let row = sqlx::query("SELECT EXISTS (SELECT 1 FROM events WHERE source = $1) AS found")
            .bind(source)
            .fetch_one(&self.pool)
            .await?;
        Ok(row.try_get("found")?)
    }
}

/// Every item's contribution as of one outbox sequence, read in chunks.
pub struct Snapshot {
    /// Holds the outbox lock until finished.
    tx: sqlx::Transaction<'static, sqlx::Postgres>,
    /// Last item read, for keyset paging.
    after: (String, String),
    /// The outbox sequence the contributions correspond to: rows after it are still to apply.
    pub through_seq: i64,
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot").field("through_seq", &self.through_seq).finish()
    }
}

impl Snapshot {
    /// The next items, each as a delta from nothing; `None` when all were read.
    pub async fn next_chunk(&mut self) -> Result<Option<Vec<ItemDelta>>, StoreError> {
        let rows = sqlx::query(
            "SELECT kind, item_id, unit, contribution FROM items
             WHERE (kind, item_id) > ($1, $2) AND contribution IS NOT NULL
             ORDER BY kind, item_id LIMIT 2000",
        )
        .bind(&self.after.0)
        .bind(&self.after.1)
        .fetch_all(&mut *self.tx)
        .await?;
        let Some(last_row) = rows.last() else { return Ok(None) };
        self.after = (last_row.try_get("kind")?, last_row.try_get("item_id")?);
        let mut chunk = Vec::with_capacity(rows.len());
        for row in rows {
            let kind: String = row.try_get("kind")?;
            let Some(kind) = ItemKind::parse(&kind) else { continue };
            let item_id: String = row.try_get("item_id")?;
            let unit: String = row.try_get("unit")?;
            let value: serde_json::Value = row.try_get("contribution")?;
            let contribution: Contribution = serde_json::from_value(value).unwrap_or_default();
            if let Some(delta) = ItemDelta::between(kind, &item_id, &unit, &Contribution::default(), &contribution) {
                chunk.push(delta);
            }
        }
        Ok(Some(chunk))
    }

    /// Releases the outbox lock.
    pub async fn finish(self) -> Result<(), StoreError> {
        self.tx.commit().await?;
        Ok(())
    }
}

/// Reads back an event stored by [`Store::ingest`]. Stored events were checked on the way in,
/// so the future-time bound is not applied again.
fn stored_event(body: &serde_json::Value) -> Result<Event, StoreError> {
    let far_future: DateTime<Utc> = DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1);
    parse_event(body, far_future).map_err(|reason| {
        StoreError::Database(sqlx::Error::Decode(format!("stored event unreadable: {reason}").into()))
    })
}
