//! PostgreSQL: the event log and item state, the source of truth.
//!
//! - [`events`]: [`Store::ingest`] stores a batch in one transaction — new items are created
//!   with the unit of their first event, events whose unit differs from their item's are
//!   rejected, the remaining events are inserted (the same source and id again is a duplicate),
//!   every touched item's contribution is refolded from all its events ([`item`]), and the
//!   differences go into `aggregate_outbox` in the same transaction. An event is acknowledged
//!   only once this commits.
//! - [`outbox`]: what the applier reads — outbox rows in commit order, and a consistent
//!   snapshot of every item's contribution for rebuilding Redis.

pub mod alerts;
pub mod annotations;
pub mod backfill;
pub mod events;
pub mod explanations;
pub mod history;
pub mod inspect;
pub mod item;
pub mod lists;
pub mod open311;
pub mod outbox;
pub mod primary;
pub mod retention;
pub mod score;
pub mod spikes;
pub mod sql;
pub mod traffic;

pub use events::IngestOutcome;
pub use outbox::{OutboxRow, Snapshot};

use chrono::{DateTime, Utc};
use ioc_shared::event::{parse_event, Event};
use sqlx::postgres::{PgPool, PgPoolOptions};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// PostgreSQL could not be reached in time: nothing was acknowledged.
    #[error("PostgreSQL is unavailable: {0}")]
    Unavailable(sqlx::Error),
    #[error("PostgreSQL error: {0}")]
    Database(sqlx::Error),
    /// A stored JSON value (an event, a contribution, an outbox row) no longer reads back.
    #[error("stored {what} does not decode: {source}")]
    Decode { what: &'static str, source: serde_json::Error },
    /// A stored event no longer passes the contract it was accepted under.
    #[error("stored event unreadable: {0}")]
    StoredEvent(ioc_shared::invalid::Invalid),
    /// A stored event written by a newer release.
    #[error("stored event format {0} is newer than this release reads ({EVENT_FORMAT})", EVENT_FORMAT = events::EVENT_FORMAT)]
    EventFormat(i16),
    /// A value that should serialize did not (a bug, not bad input).
    #[error("cannot encode {what}: {source}")]
    Encode { what: &'static str, source: serde_json::Error },
    /// Another writer created an item this batch took for new: tried again, the item is then
    /// locked like any other.
    #[error("an item was created by another writer during the batch")]
    Raced,
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

impl From<sqlx::Error> for StoreError {
    fn from(error: sqlx::Error) -> StoreError {
        match error {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::Io(_)
            | sqlx::Error::PoolClosed
            | sqlx::Error::Tls(_) => StoreError::Unavailable(error),
            sqlx::Error::Database(ref e) if e.code().as_deref().is_some_and(is_failover_code) => {
                StoreError::Unavailable(error)
            }
            other => StoreError::Database(other),
        }
    }
}

/// SQLSTATEs a failover or a restart causes, not a bad statement: a connection lost (class
/// 08), the server shutting down, crashed or starting up (57P01–57P03), a write on a host
/// that is (now) a standby (25006).
fn is_failover_code(code: &str) -> bool {
    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03" | "25006")
}

impl StoreError {
    fn is_retryable(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(e)) => {
                matches!(e.code().as_deref(), Some("40001" | "40P01"))
            }
            StoreError::Raced => true,
            _ => false,
        }
    }
}

/// Decodes a stored JSON value, naming what it was on failure. Borrowed: the value need not be
/// cloned first (that clone was a tenth of a rebuild's time).
pub(crate) fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    value: &serde_json::Value,
) -> Result<T, StoreError> {
    T::deserialize(value).map_err(|source| StoreError::Decode { what, source })
}

/// Encodes a value for a JSON column.
pub(crate) fn encode<T: serde::Serialize>(
    what: &'static str,
    value: &T,
) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|source| StoreError::Encode { what, source })
}

/// Opens a transaction whose `BEGIN` completes even when the caller is cancelled.
///
/// sqlx 0.8's `Pool::begin` is not cancel-safe on PostgreSQL (launchbadge/sqlx#4393, fixed in
/// 0.9.1): a future dropped during the `BEGIN` round trip (a client that hangs up, a
/// storage deadline) leaves the pooled connection inside a transaction
/// nothing ends, and the next borrower's statements run in it and hold their locks forever (CI
/// saw every admin request wait on its own `UPDATE sessions`). Run in its own task, the `BEGIN`
/// always finishes; a caller cancelled meanwhile drops a whole `Transaction`, which rolls back.
pub async fn begin(
    pool: &PgPool,
) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
    let pool = pool.clone();
    #[allow(clippy::disallowed_methods)] // the one safe place: nothing cancels this task
    let opening = tokio::spawn(async move { pool.begin().await });
    match opening.await {
        Ok(opened) => opened,
        Err(join) if join.is_panic() => std::panic::resume_unwind(join.into_panic()),
        // The runtime is shutting down: no transaction was handed out.
        Err(_) => Err(sqlx::Error::WorkerCrashed),
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    /// The primary: every write, and every read whose figure must be exact.
    pub pool: PgPool,
    /// Heavy reads that may lag a replica's replay (item lists and their CSV, daily series and
    /// open data): `IOC_DATABASE_READ_URL`, or the primary.
    pub reads: PgPool,
}

impl Store {
    /// A store reading and writing the primary `pool`.
    pub fn new(pool: PgPool) -> Store {
        Store { reads: pool.clone(), pool }
    }

    /// Connects lazily, so the server starts (and answers 503) while PostgreSQL is down.
    /// A URL naming several hosts follows the one that accepts writes ([`primary`]).
    pub fn connect_lazy(url: &str, acquire_timeout: Duration) -> Result<Store, StoreError> {
        let options = PgPoolOptions::new().max_connections(16).acquire_timeout(acquire_timeout);
        let mut hosts = primary::hosts_of(url).map_err(|e| match e {
            primary::HostsError::Options(e) => StoreError::Database(e),
            invalid => StoreError::Database(sqlx::Error::Configuration(Box::new(invalid))),
        })?;
        let pool = if hosts.len() > 1 {
            primary::pool_on_primary(options, hosts)
        } else {
            let Some(host) = hosts.pop() else {
                return Err(StoreError::Database(sqlx::Error::Configuration(
                    "DATABASE_URL names no host".into(),
                )));
            };
            options.connect_lazy_with(host)
        };
        Ok(Store::new(pool))
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        sqlx::migrate!("./migrations").run(&self.pool).await?;
        Ok(())
    }

    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Whether any event from `source` is stored (the simulator backfills only once).
    pub async fn has_events_from(&self, source: &str) -> Result<bool, StoreError> {
        let found: bool =
            sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events WHERE source = $1)")
                .bind(source)
                .fetch_one(&self.pool)
                .await?;
        Ok(found)
    }

    /// The open items of `source`, oldest first: the simulator takes up the ones it left
    /// running when it last stopped.
    pub async fn open_items_from(&self, source: &str) -> Result<Vec<OpenItemRow>, StoreError> {
        let rows = sqlx::query_as::<_, OpenItemRow>(
            "SELECT kind, item_id, unit, received_at, due_extended_at, paused, \
                    officer_id IS NOT NULL AS assigned \
             FROM items WHERE open AND source = $1 ORDER BY received_at",
        )
        .bind(source)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}

/// An open item as [`Store::open_items_from`] reads it.
#[derive(Debug, sqlx::FromRow)]
pub struct OpenItemRow {
    /// `dossier`, `complaint` or `task`.
    pub kind: String,
    pub item_id: String,
    pub unit: String,
    pub received_at: Option<DateTime<Utc>>,
    /// The due time after pauses (none while paused).
    pub due_extended_at: Option<DateTime<Utc>>,
    pub paused: bool,
    /// Whether an officer holds it.
    pub assigned: bool,
}

/// Reads back an event stored by [`Store::ingest`]. Stored events were checked on the way in,
/// so the future-time bound is not applied again.
pub(crate) fn stored_event(body: &serde_json::Value) -> Result<Event, StoreError> {
    let far_future: DateTime<Utc> = DateTime::<Utc>::MAX_UTC - chrono::Duration::days(1);
    parse_event(body, far_future).map_err(StoreError::StoredEvent)
}
