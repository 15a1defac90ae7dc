//! Storing a batch of events: the event log, item state and the outbox, in one transaction.
//!
//! An item is identified by (source, kind, id): it belongs to the source system that created
//! it, and another source naming the same id has an item of its own.

use super::item::{self, Contribution, ItemDelta};
use super::{decode, encode, stored_event, Store, StoreError};
use chrono::{DateTime, Utc};
use ioc_shared::event::{Event, EventBody, ItemKind};
use std::collections::{BTreeMap, HashMap, HashSet};

/// Advisory-lock key that orders outbox sequence numbers by commit.
pub(crate) const OUTBOX_LOCK: i64 = 0x10C0_0B0C;
/// Item deltas per outbox row: keeps each Redis apply script short.
const DELTAS_PER_OUTBOX_ROW: usize = 256;
/// How often a batch is retried after a deadlock or serialization failure.
const RETRIES: usize = 3;
/// Format of the `body` this release writes to `events` (see `events.format`).
pub const EVENT_FORMAT: i16 = 1;
/// Format of the `deltas` this release writes to `aggregate_outbox`: 2 added the item's source.
pub const OUTBOX_FORMAT: i16 = 2;

/// What became of each event of a batch, by its index in the request.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    pub accepted: usize,
    pub duplicates: usize,
    /// (index, reason) for events refused because of what is already stored.
    pub rejected: Vec<(usize, String)>,
    /// Whether aggregate changes were written to the outbox (the applier should run).
    pub changed: bool,
    /// Index of every event newly stored (the others of the batch were duplicates or refused).
    pub stored: Vec<usize>,
}

/// (source, kind, item id)
pub(crate) type ItemKey = (String, String, String);

/// An item as locked for a batch.
#[derive(sqlx::FromRow)]
struct ItemRow {
    source: String,
    kind: String,
    item_id: String,
    unit: String,
    contribution: Option<serde_json::Value>,
    needs_routing: bool,
}

/// What the batch knows of one item: its unit, contribution and whether it waits to be routed.
struct ItemState {
    unit: String,
    contribution: Contribution,
    needs_routing: bool,
}

/// Whether this event may move a complaint waiting to be routed to the event's unit.
fn routes(body: &EventBody) -> bool {
    matches!(body, EventBody::ComplaintRouted { .. } | EventBody::ComplaintAssigned { .. })
}

/// One stored event of an item, as read.
#[derive(sqlx::FromRow)]
pub(crate) struct HistoryRow {
    pub(crate) source: String,
    pub(crate) event_id: String,
    pub(crate) item_kind: String,
    pub(crate) item_id: String,
    format: i16,
    pub(crate) body: serde_json::Value,
}

impl HistoryRow {
    /// The event, unless a newer release wrote it or it no longer passes the contract.
    pub(crate) fn event(&self) -> Result<Event, StoreError> {
        if self.format > EVENT_FORMAT {
            return Err(StoreError::EventFormat(self.format));
        }
        stored_event(&self.body)
    }
}

/// A newly inserted event.
#[derive(sqlx::FromRow)]
struct InsertedRow {
    source: String,
    event_id: String,
    item_kind: String,
    item_id: String,
}

impl Store {
    /// Stores a batch of checked events (`(index in request, event)`), all or nothing.
    pub async fn ingest(
        &self,
        events: &[(usize, Event)],
        now: DateTime<Utc>,
    ) -> Result<IngestOutcome, StoreError> {
        let mut attempt = 0;
        loop {
            match self.ingest_once(events, now).await {
                Err(error) if error.is_retryable() && attempt < RETRIES => {
                    attempt += 1;
                    tracing::debug!(%error, attempt, "ingest transaction retried");
                }
                result => return result,
            }
        }
    }

    /// One try at storing a batch: each step below is one function, in this order.
    async fn ingest_once(
        &self,
        events: &[(usize, Event)],
        now: DateTime<Utc>,
    ) -> Result<IngestOutcome, StoreError> {
        let mut outcome = IngestOutcome::default();
        if events.is_empty() {
            return Ok(outcome);
        }
        let unique = without_repeats(events, &mut outcome);
        let first_unit = first_units(&unique);
        let mut tx = crate::store::begin(&self.pool).await?;
        let (items, new_items) = lock_items(&mut tx, &first_unit).await?;
        let moves = routing_moves(&unique, &items);
        let to_insert = keep_to_item_units(unique, &items, &moves, &mut outcome);
        let inserted = insert_events(&mut tx, &to_insert, now, &mut outcome).await?;
        let touched = touched_items(inserted);
        if touched.is_empty() {
            tx.commit().await?;
            return Ok(outcome);
        }
        let mut events_of = events_of_items(&mut tx, &touched).await?;
        let deltas =
            refold(&mut tx, &touched, &items, &new_items, &moves, &mut events_of, now).await?;
        if !deltas.is_empty() {
            write_outbox(&mut tx, &deltas, now).await?;
            outcome.changed = true;
        }
        tx.commit().await?;
        Ok(outcome)
    }
}

/// The batch without repeats: a repeat inside it is a duplicate of its first occurrence.
fn without_repeats<'a>(
    events: &'a [(usize, Event)],
    outcome: &mut IngestOutcome,
) -> Vec<&'a (usize, Event)> {
    let mut seen = HashSet::new();
    let mut unique = Vec::with_capacity(events.len());
    for entry in events {
        if seen.insert((entry.1.source.as_str(), entry.1.id.as_str())) {
            unique.push(entry);
        } else {
            outcome.duplicates += 1;
        }
    }
    unique
}

/// (source, kind, item id) → the unit a new item gets and whether it waits to be routed: its
/// received event's (or else the first event's); a complaint received with `needs_routing`
/// waits. Ordered, so that concurrent batches lock their items without deadlocking.
type FirstUnits<'a> = BTreeMap<(&'a str, ItemKind, &'a str), (&'a str, bool)>;

fn first_units<'a>(unique: &[&'a (usize, Event)]) -> FirstUnits<'a> {
    let mut first_unit = FirstUnits::new();
    for (_, event) in unique {
        let (kind, id) = event.body.item();
        let entry = first_unit
            .entry((event.source.as_str(), kind, id))
            .or_insert((event.unit.as_str(), false));
        match &event.body {
            EventBody::ComplaintReceived { needs_routing, .. } => {
                *entry = (event.unit.as_str(), *needs_routing)
            }
            EventBody::DossierReceived { .. } => entry.0 = event.unit.as_str(),
            _ => {}
        }
    }
    first_unit
}

/// Locks the batch's existing items (in key order) and reads what the batch needs of them; the
/// new ones are added as they will be, and named in the second set. New items are inserted at
/// the end with their fold (one row version each): another replica creating one meanwhile
/// makes that insert conflict, and the batch is tried again with the item locked
/// ([`StoreError::Raced`]).
async fn lock_items(
    tx: &mut sqlx::PgConnection,
    first_unit: &FirstUnits<'_>,
) -> Result<(HashMap<ItemKey, ItemState>, HashSet<ItemKey>), StoreError> {
    let sources: Vec<&str> = first_unit.keys().map(|(s, _, _)| *s).collect();
    let kinds: Vec<&str> = first_unit.keys().map(|(_, k, _)| k.as_str()).collect();
    let ids: Vec<&str> = first_unit.keys().map(|(_, _, id)| *id).collect();
    let rows: Vec<ItemRow> = sqlx::query_as(
        "SELECT i.source, i.kind, i.item_id, i.unit, i.contribution, i.needs_routing FROM items i
         JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k(source, kind, item_id)
           ON i.source = k.source AND i.kind = k.kind AND i.item_id = k.item_id
         ORDER BY i.source, i.kind, i.item_id
         FOR UPDATE OF i",
    )
    .bind(&sources)
    .bind(&kinds)
    .bind(&ids)
    .fetch_all(&mut *tx)
    .await?;
    let mut items: HashMap<ItemKey, ItemState> = HashMap::with_capacity(rows.len());
    for row in rows {
        let key = (row.source, row.kind, row.item_id);
        let contribution = match row.contribution {
            Some(value) => match decode::<Contribution>("item contribution", &value) {
                Ok(contribution) => contribution,
                Err(error) => {
                    // Refolded from its events below; the unreadable value is kept aside.
                    quarantine(
                        tx,
                        "item",
                        &format!("{}/{}/{}", key.0, key.1, key.2),
                        Some(&value),
                        &crate::errors::chain(&error),
                    )
                    .await?;
                    Contribution::default()
                }
            },
            None => Contribution::default(),
        };
        items.insert(
            key,
            ItemState { unit: row.unit, contribution, needs_routing: row.needs_routing },
        );
    }
    let mut new_items = HashSet::new();
    for ((source, kind, id), (unit, needs_routing)) in first_unit {
        let key = ((*source).to_owned(), kind.as_str().to_owned(), (*id).to_owned());
        if !items.contains_key(&key) {
            let state = ItemState {
                unit: (*unit).to_owned(),
                contribution: Contribution::default(),
                needs_routing: *needs_routing,
            };
            items.insert(key.clone(), state);
            new_items.insert(key);
        }
    }
    Ok((items, new_items))
}

/// A complaint waiting to be routed moves to the unit of its earliest routing event
/// (`complaint.routed` or `complaint.assigned`) that names another unit.
fn routing_moves<'a>(
    unique: &[&'a (usize, Event)],
    items: &HashMap<ItemKey, ItemState>,
) -> HashMap<ItemKey, &'a str> {
    let mut moves = HashMap::new();
    let mut routing_events: Vec<&Event> =
        unique.iter().map(|(_, e)| e).filter(|e| routes(&e.body)).collect();
    item::sort_for_fold_refs(&mut routing_events);
    for event in routing_events {
        let (kind, id) = event.body.item();
        let key = (event.source.clone(), kind.as_str().to_owned(), id.to_owned());
        if items.get(&key).is_some_and(|item| item.needs_routing && item.unit != event.unit)
            && !moves.contains_key(&key)
        {
            moves.insert(key, event.unit.as_str());
        }
    }
    moves
}

/// The events to insert: an item belongs to one unit (the one its first stored event named,
/// or the one it is routed to), and an event naming another is refused.
fn keep_to_item_units<'a>(
    unique: Vec<&'a (usize, Event)>,
    items: &HashMap<ItemKey, ItemState>,
    moves: &HashMap<ItemKey, &str>,
    outcome: &mut IngestOutcome,
) -> Vec<&'a (usize, Event)> {
    let mut to_insert = Vec::with_capacity(unique.len());
    for entry in unique {
        let (index, event) = entry;
        let (kind, id) = event.body.item();
        let key = (event.source.clone(), kind.as_str().to_owned(), id.to_owned());
        let moved_to = moves.get(&key).copied();
        match items.get(&key) {
            Some(item) if item.unit != event.unit && moved_to != Some(event.unit.as_str()) => outcome.rejected.push((
                *index,
                format!(
                    "unit `{}` differs from unit `{}` of {} `{id}`: every event of an item must carry the item's unit",
                    event.unit,
                    item.unit,
                    kind.as_str()
                ),
            )),
            _ => to_insert.push(entry),
        }
    }
    to_insert
}

/// Inserts the events (the same source and id again is a duplicate); counts them in `outcome`.
async fn insert_events(
    tx: &mut sqlx::PgConnection,
    to_insert: &[&(usize, Event)],
    now: DateTime<Utc>,
    outcome: &mut IngestOutcome,
) -> Result<Vec<InsertedRow>, StoreError> {
    let mut sources = Vec::with_capacity(to_insert.len());
    let mut ids = Vec::with_capacity(to_insert.len());
    let mut types = Vec::with_capacity(to_insert.len());
    let mut ats = Vec::with_capacity(to_insert.len());
    let mut units = Vec::with_capacity(to_insert.len());
    let mut kinds = Vec::with_capacity(to_insert.len());
    let mut item_of = Vec::with_capacity(to_insert.len());
    let mut bodies = Vec::with_capacity(to_insert.len());
    let mut index_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(to_insert.len());
    for (index, event) in to_insert {
        let (kind, item_id) = event.body.item();
        sources.push(event.source.as_str());
        ids.push(event.id.as_str());
        types.push(event.body.type_name());
        ats.push(event.at);
        units.push(event.unit.as_str());
        kinds.push(kind.as_str());
        item_of.push(item_id);
        bodies.push(encode("event", event)?);
        index_of.insert((event.source.as_str(), event.id.as_str()), *index);
    }
    let inserted: Vec<InsertedRow> = sqlx::query_as(
        "INSERT INTO events (source, event_id, type, at, unit, item_kind, item_id, body, format, ingested_at)
         SELECT s, e, t, a, u, k, i, b, $9, $10 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[],
                              $5::text[], $6::text[], $7::text[], $8::jsonb[]) AS x(s, e, t, a, u, k, i, b)
         ON CONFLICT (source, event_id) DO NOTHING
         RETURNING source, event_id, item_kind, item_id",
    )
    .bind(&sources)
    .bind(&ids)
    .bind(&types)
    .bind(&ats)
    .bind(&units)
    .bind(&kinds)
    .bind(&item_of)
    .bind(&bodies)
    .bind(EVENT_FORMAT)
    .bind(now)
    .fetch_all(&mut *tx)
    .await?;
    outcome.accepted = inserted.len();
    outcome.duplicates += to_insert.len() - inserted.len();
    outcome.stored = inserted
        .iter()
        .filter_map(|row| index_of.get(&(row.source.as_str(), row.event_id.as_str())).copied())
        .collect();
    Ok(inserted)
}

/// Every item that got a new event, once each, in the order first met.
fn touched_items(inserted: Vec<InsertedRow>) -> Vec<ItemKey> {
    let mut touched = Vec::new();
    let mut seen = HashSet::new();
    for row in inserted {
        let key = (row.source, row.item_kind, row.item_id);
        if seen.insert(key.clone()) {
            touched.push(key);
        }
    }
    touched
}

/// Every stored event of `items`, read through `conn`, undecoded: ingest refolds from them and
/// the view backfill reads them too.
pub(crate) async fn stored_events_of(
    conn: &mut sqlx::PgConnection,
    items: &[ItemKey],
) -> Result<Vec<HistoryRow>, StoreError> {
    let sources: Vec<&str> = items.iter().map(|(s, _, _)| s.as_str()).collect();
    let kinds: Vec<&str> = items.iter().map(|(_, k, _)| k.as_str()).collect();
    let ids: Vec<&str> = items.iter().map(|(_, _, i)| i.as_str()).collect();
    Ok(sqlx::query_as(
        "SELECT e.source, e.event_id, e.item_kind, e.item_id, e.format, e.body FROM events e
         JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k(source, kind, item_id)
           ON e.source = k.source AND e.item_kind = k.kind AND e.item_id = k.item_id",
    )
    .bind(&sources)
    .bind(&kinds)
    .bind(&ids)
    .fetch_all(conn)
    .await?)
}

/// The touched items' stored events, decoded; one that no longer reads is quarantined, visibly,
/// and its item folded from the rest (it must not sink every later batch of its item).
async fn events_of_items(
    tx: &mut sqlx::PgConnection,
    touched: &[ItemKey],
) -> Result<HashMap<ItemKey, Vec<Event>>, StoreError> {
    let mut events_of: HashMap<ItemKey, Vec<Event>> = HashMap::new();
    for row in stored_events_of(tx, touched).await? {
        match row.event() {
            Ok(event) => {
                events_of.entry((row.source, row.item_kind, row.item_id)).or_default().push(event)
            }
            Err(error) => {
                let reference = format!("{}/{}", row.source, row.event_id);
                tracing::error!(event = %reference, %error, "stored event quarantined");
                let reason = crate::errors::chain(&error);
                quarantine(tx, "event", &reference, Some(&row.body), &reason).await?;
            }
        }
    }
    Ok(events_of)
}

/// Refolds every touched item from all of its events, writes its fold and view (one row version
/// each), and returns what changes in the aggregates. A routed complaint takes everything it
/// counted from the triage unit to its ward.
#[allow(clippy::too_many_arguments)]
async fn refold(
    tx: &mut sqlx::PgConnection,
    touched: &[ItemKey],
    items: &HashMap<ItemKey, ItemState>,
    new_items: &HashSet<ItemKey>,
    moves: &HashMap<ItemKey, &str>,
    events_of: &mut HashMap<ItemKey, Vec<Event>>,
    now: DateTime<Utc>,
) -> Result<Vec<ItemDelta>, StoreError> {
    let mut deltas = Vec::new();
    let mut update_sources = Vec::new();
    let mut update_kinds = Vec::new();
    let mut update_ids = Vec::new();
    let mut update_contributions = Vec::new();
    let mut update_units = Vec::new();
    let mut update_routing = Vec::new();
    let mut views = ViewColumns::default();
    for key in touched {
        let Some(kind) = ItemKind::parse(&key.1) else { continue };
        let Some(item) = items.get(key) else { continue };
        let mut history = events_of.remove(key).unwrap_or_default();
        item::sort_for_fold(&mut history);
        let after = item::contribution(kind, &history);
        views.push(item::view(kind, &history));
        let none = Contribution::default();
        let moved_to = moves.get(key).copied();
        let (unit_after, counted_here) = match moved_to {
            Some(to) => {
                deltas.extend(ItemDelta::between(
                    kind,
                    &key.0,
                    &key.2,
                    &item.unit,
                    &item.contribution,
                    &none,
                ));
                (to, &none)
            }
            None => (item.unit.as_str(), &item.contribution),
        };
        deltas.extend(ItemDelta::between(kind, &key.0, &key.2, unit_after, counted_here, &after));
        update_units.push(unit_after);
        update_routing.push(item.needs_routing && moved_to.is_none());
        update_sources.push(key.0.as_str());
        update_kinds.push(key.1.as_str());
        update_ids.push(key.2.as_str());
        update_contributions.push(encode("item contribution", &after)?);
    }
    // One row version per item (its fold and its view together): each version written costs
    // an entry in every one of the items' indexes.
    let state = StateColumns {
        contribution: update_contributions,
        unit: update_units,
        needs_routing: update_routing,
        updated_at: now,
    };
    let written = views.upsert(tx, &update_sources, &update_kinds, &update_ids, &state).await?;
    if written.iter().any(|row| {
        !row.inserted
            && new_items.contains(&(row.source.clone(), row.kind.clone(), row.item_id.clone()))
    }) {
        return Err(StoreError::Raced);
    }
    Ok(deltas)
}

/// Writes `deltas` to the outbox, numbered in commit order (under [`OUTBOX_LOCK`], held until
/// the batch commits).
async fn write_outbox(
    tx: &mut sqlx::PgConnection,
    deltas: &[ItemDelta],
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(OUTBOX_LOCK).execute(&mut *tx).await?;
    for chunk in deltas.chunks(DELTAS_PER_OUTBOX_ROW) {
        let json = encode("outbox deltas", &chunk)?;
        // Written at the server's clock: the applier's lag is measured against it.
        sqlx::query(
            "INSERT INTO aggregate_outbox (deltas, format, created_at) VALUES ($1, $2, $3)",
        )
        .bind(json)
        .bind(OUTBOX_FORMAT)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// Sets an unreadable row aside with its error.
pub(crate) async fn quarantine(
    conn: &mut sqlx::PgConnection,
    kind: &str,
    reference: &str,
    payload: Option<&serde_json::Value>,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query("INSERT INTO quarantine (kind, ref, payload, error) VALUES ($1, $2, $3, $4)")
        .bind(kind)
        .bind(reference)
        .bind(payload)
        .bind(error)
        .execute(conn)
        .await?;
    crate::metrics::METRICS.quarantined.with_label_values(&[kind]).inc();
    Ok(())
}

/// Version of the item view columns this release writes; older rows are refolded at start.
pub const VIEW_VERSION: i16 = 1;
/// Longest complaint text kept in a list (the event keeps it whole until the retention).
const LIST_SUMMARY_CHARS: usize = 200;

/// An item's fold, written with its view at ingest.
pub(crate) struct StateColumns<'a> {
    contribution: Vec<serde_json::Value>,
    unit: Vec<&'a str>,
    needs_routing: Vec<bool>,
    updated_at: DateTime<Utc>,
}

/// An item written by [`ViewColumns::upsert`], and whether it was new.
#[derive(sqlx::FromRow)]
pub(crate) struct UpsertedRow {
    source: String,
    kind: String,
    item_id: String,
    inserted: bool,
}

/// The view columns of several items, as arrays for one UNNEST statement.
#[derive(Default)]
pub(crate) struct ViewColumns {
    open: Vec<bool>,
    paused: Vec<bool>,
    paused_since: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    received_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    due_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    due_extended_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    resolved_at: Vec<Option<chrono::DateTime<chrono::Utc>>>,
    outcome: Vec<Option<String>>,
    officer_id: Vec<Option<String>>,
    officer_name: Vec<Option<String>>,
    procedure: Vec<Option<String>>,
    field: Vec<Option<String>>,
    channel: Vec<Option<String>>,
    title: Vec<Option<String>>,
    summary: Vec<Option<String>>,
    satisfaction: Vec<Option<String>>,
}

type PgQuery<'q> = sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>;

impl ViewColumns {
    pub(crate) fn push(&mut self, view: item::ItemView) {
        self.open.push(view.open);
        self.paused.push(view.paused);
        self.paused_since.push(view.paused_since);
        self.received_at.push(view.received_at);
        self.due_at.push(view.due_at);
        self.due_extended_at.push(view.due_extended_at);
        self.resolved_at.push(view.resolved_at);
        self.outcome.push(view.outcome);
        self.officer_id.push(view.officer.as_ref().map(|o| o.id.clone()));
        self.officer_name.push(view.officer.map(|o| o.name));
        self.procedure.push(view.procedure);
        self.field.push(view.field);
        self.channel.push(view.channel);
        self.title.push(view.title);
        self.summary.push(view.summary.map(|s| s.chars().take(LIST_SUMMARY_CHARS).collect()));
        self.satisfaction.push(view.satisfaction);
    }

    /// Binds the item keys as $1–$3, the view columns as $4–$19 (in the order of the struct)
    /// and the view version as $20: both statements below number them so.
    fn bind<'q>(
        &'q self,
        query: PgQuery<'q>,
        sources: &'q [&str],
        kinds: &'q [&str],
        ids: &'q [&str],
    ) -> PgQuery<'q> {
        query
            .bind(sources)
            .bind(kinds)
            .bind(ids)
            .bind(&self.open)
            .bind(&self.paused)
            .bind(&self.paused_since)
            .bind(&self.received_at)
            .bind(&self.due_at)
            .bind(&self.due_extended_at)
            .bind(&self.resolved_at)
            .bind(&self.outcome)
            .bind(&self.officer_id)
            .bind(&self.officer_name)
            .bind(&self.procedure)
            .bind(&self.field)
            .bind(&self.channel)
            .bind(&self.title)
            .bind(&self.summary)
            .bind(&self.satisfaction)
            .bind(VIEW_VERSION)
    }

    /// Refolds the view of existing items (their fold stays as it is).
    pub(crate) async fn write(
        &self,
        conn: &mut sqlx::PgConnection,
        sources: &[&str],
        kinds: &[&str],
        ids: &[&str],
    ) -> Result<(), StoreError> {
        let query = sqlx::query(
            "UPDATE items SET view_version = $20, open = u.open, paused = u.paused, paused_since = u.paused_since,
                 received_at = u.received_at, due_at = u.due_at, due_extended_at = u.due_extended_at,
                 resolved_at = u.resolved_at, outcome = u.outcome, officer_id = u.officer_id,
                 officer_name = u.officer_name, procedure = u.procedure, field = u.field, channel = u.channel,
                 title = u.title, summary = u.summary, satisfaction = u.satisfaction
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bool[], $5::bool[], $6::timestamptz[],
                         $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::text[],
                         $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], $19::text[])
                 AS u(source, kind, item_id, open, paused, paused_since, received_at, due_at, due_extended_at,
                      resolved_at, outcome, officer_id, officer_name, procedure, field, channel, title, summary, satisfaction)
             WHERE items.source = u.source AND items.kind = u.kind AND items.item_id = u.item_id",
        );
        self.bind(query, sources, kinds, ids).execute(conn).await?;
        Ok(())
    }

    /// Writes items with their fold and view: new ones inserted, the others (locked by the
    /// caller) updated; says which were inserted.
    pub(crate) async fn upsert(
        &self,
        conn: &mut sqlx::PgConnection,
        sources: &[&str],
        kinds: &[&str],
        ids: &[&str],
        state: &StateColumns<'_>,
    ) -> Result<Vec<UpsertedRow>, StoreError> {
        let query = sqlx::query(
            "INSERT INTO items AS i (source, kind, item_id, open, paused, paused_since, received_at, due_at,
                 due_extended_at, resolved_at, outcome, officer_id, officer_name, procedure, field, channel, title,
                 summary, satisfaction, view_version, contribution, unit, needs_routing, updated_at)
             SELECT s, k, id, o, p, ps, ra, da, dx, rs, oc, oi, onm, pr, f, ch, t, sm, sa, $20, c, n, r, $24
             FROM UNNEST($1::text[], $2::text[], $3::text[], $4::bool[], $5::bool[], $6::timestamptz[],
                         $7::timestamptz[], $8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::text[],
                         $12::text[], $13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[],
                         $19::text[], $21::jsonb[], $22::text[], $23::bool[])
                  AS u(s, k, id, o, p, ps, ra, da, dx, rs, oc, oi, onm, pr, f, ch, t, sm, sa, c, n, r)
             ON CONFLICT (source, kind, item_id) DO UPDATE SET view_version = $20, open = EXCLUDED.open,
                 paused = EXCLUDED.paused, paused_since = EXCLUDED.paused_since, received_at = EXCLUDED.received_at,
                 due_at = EXCLUDED.due_at, due_extended_at = EXCLUDED.due_extended_at,
                 resolved_at = EXCLUDED.resolved_at, outcome = EXCLUDED.outcome, officer_id = EXCLUDED.officer_id,
                 officer_name = EXCLUDED.officer_name, procedure = EXCLUDED.procedure, field = EXCLUDED.field,
                 channel = EXCLUDED.channel, title = EXCLUDED.title, summary = EXCLUDED.summary,
                 satisfaction = EXCLUDED.satisfaction, contribution = EXCLUDED.contribution, unit = EXCLUDED.unit,
                 needs_routing = EXCLUDED.needs_routing, updated_at = EXCLUDED.updated_at
             RETURNING i.source, i.kind, i.item_id, (i.xmax = 0) AS inserted",
        );
        let query = self
            .bind(query, sources, kinds, ids)
            .bind(&state.contribution)
            .bind(&state.unit)
            .bind(&state.needs_routing)
            .bind(state.updated_at);
        let rows = query.fetch_all(conn).await?;
        rows.iter().map(|row| sqlx::FromRow::from_row(row).map_err(StoreError::from)).collect()
    }
}
