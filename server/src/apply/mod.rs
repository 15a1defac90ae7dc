//! Moves aggregate changes from the PostgreSQL outbox into Redis, in sequence order and exactly
//! once, then announces the changed units on the Redis `changed` channel; and keeps Redis
//! honest.
//!
//! Every replica runs an applier; they may race on a row, but the apply script only writes a
//! row whose sequence is past the generation's `applied` marker, so each row lands once.
//!
//! Redis is derived, and is rebuilt from PostgreSQL whenever it cannot be trusted: no current
//! generation or marker (lost data, eviction), a marker behind the pruned outbox (restored from
//! an old backup) or ahead of it (another database's data), a unit catalog other than the one
//! the figures were built with, a total gone below zero, or a difference found by
//! [`reconcile`]. A rebuild builds a new generation beside the current one from a consistent
//! snapshot (ingest goes on), catches up on the outbox, and switches atomically ([`rebuild`]).
//! A row that cannot be read is quarantined and skipped, never retried for ever.
//! [`status`] watches how far behind the figures are, for every screen's freshness.

pub mod history;
pub mod rebuild;
pub mod reconcile;
pub mod status;

use crate::aggregate::{self, Applied, Keys, Ops};
use crate::catalog::Catalog;
use crate::redis_link::RedisLink;
use crate::store::{OutboxRow, Store, StoreError};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;

/// How often the applier looks at the outbox when nobody woke it (another replica's batch
/// that its own applier did not finish, or a restart).
const POLL_EVERY: Duration = Duration::from_secs(1);
/// How often an idle applier checks that Redis still holds the figures (one `GET`).
const LOSS_CHECK_EVERY: Duration = Duration::from_millis(100);
/// Outbox rows read per round.
const ROWS_PER_ROUND: i64 = 256;
/// Redis writes (about) merged into one apply script: merging rows adds each key's
/// increments once, and a script this size runs in tens of milliseconds, keeping Redis free
/// for readers in between.
const MERGED_WRITES: usize = 20_000;
/// How often applied outbox rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);
/// Longest wait for one PostgreSQL or Redis call of the applier: a connection that hangs
/// without closing must not stop the figures for ever.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis reply: {0}")]
    Reply(#[from] redis::ParsingError),
    #[error("a call to PostgreSQL or Redis took longer than {0:?}")]
    TimedOut(Duration),
    /// A task of the applier's stopped before finishing (it panicked or was cancelled).
    #[error("a rebuild step stopped: {0}")]
    Stopped(tokio::task::JoinError),
}

/// Resolves once Redis holds no current generation (it restarted empty, or lost its data),
/// checked with one `GET` every [`LOSS_CHECK_EVERY`]: the rebuild starts within that, not at
/// the next full poll.
async fn generation_lost(redis: &mut RedisLink, keys: &Keys) {
    loop {
        tokio::time::sleep(LOSS_CHECK_EVERY).await;
        if matches!(aggregate::current(redis, keys).await, Ok(None)) {
            return;
        }
    }
}

/// Runs `call` with the applier's time limit.
pub(crate) async fn bounded<T, E: Into<ApplyError>>(
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, ApplyError> {
    match tokio::time::timeout(CALL_TIMEOUT, call).await {
        Ok(result) => result.map_err(Into::into),
        Err(_) => Err(ApplyError::TimedOut(CALL_TIMEOUT)),
    }
}

#[derive(Clone)]
pub struct Applier {
    store: Store,
    redis: RedisLink,
    /// Key names without a generation; [`aggregate::current`] picks the generation.
    keys: Keys,
    catalog: Catalog,
    /// "Now": which buckets are still kept, and the generation's age.
    clock: ioc_shared::time::Clock,
    /// The catalog (and key layout) fingerprint the current generation must have been built with.
    fingerprint: String,
    /// Notified after a local batch commits, so its changes show without waiting for a poll.
    pub wake: Arc<Notify>,
    /// Why the aggregates should be rebuilt, when something noticed they cannot be trusted.
    rebuild_wanted: Arc<Mutex<Option<String>>>,
}

/// What the drift checks found.
enum Check {
    /// The current generation, trusted, and its marker.
    Trusted(Keys, i64),
    /// Rebuild, for this reason.
    Untrusted(String),
}

impl Applier {
    pub fn new(
        store: Store,
        redis: RedisLink,
        keys: Keys,
        catalog: Catalog,
        clock: ioc_shared::time::Clock,
    ) -> Applier {
        let fingerprint = catalog.fingerprint(aggregate::LAYOUT_VERSION);
        Applier {
            store,
            redis,
            keys,
            catalog,
            clock,
            fingerprint,
            wake: Arc::new(Notify::new()),
            rebuild_wanted: Arc::new(Mutex::new(None)),
        }
    }

    /// Asks for a rebuild at the next round.
    pub fn request_rebuild(&self, reason: impl Into<String>) {
        let mut wanted = self.rebuild_wanted.lock().unwrap_or_else(|p| p.into_inner());
        wanted.get_or_insert_with(|| reason.into());
        self.wake.notify_one();
    }

    fn take_rebuild_request(&self) -> Option<String> {
        self.rebuild_wanted.lock().unwrap_or_else(|p| p.into_inner()).take()
    }

    /// Applies until stopped; logs and retries on errors.
    pub async fn run(mut self) {
        let mut last_prune = tokio::time::Instant::now();
        loop {
            if let Err(error) = self.apply_pending().await {
                let store = match &error {
                    ApplyError::Store(_) => "postgres",
                    ApplyError::TimedOut(_) => "timeout",
                    ApplyError::Redis(_) | ApplyError::Reply(_) | ApplyError::Stopped(_) => "redis",
                };
                crate::metrics::METRICS.storage_errors.with_label_values(&[store]).inc();
                tracing::warn!(%error, "aggregates not applied; will retry");
            }
            if last_prune.elapsed() >= PRUNE_EVERY {
                last_prune = tokio::time::Instant::now();
                if let Err(error) = self.prune().await {
                    tracing::debug!(%error, "outbox not pruned");
                }
            }
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
                () = generation_lost(&mut self.redis, &self.keys) => {}
            }
        }
    }

    /// Checks that Redis can be trusted (rebuilding when not) and applies every outbox row past
    /// its marker; returns how many rows this call wrote.
    pub async fn apply_pending(&mut self) -> Result<usize, ApplyError> {
        let mut written = 0;
        loop {
            if let Some(reason) = self.take_rebuild_request() {
                self.rebuild(&reason).await?;
            }
            let (keys, applied) = match self.check().await? {
                Check::Trusted(keys, applied) => (keys, applied),
                Check::Untrusted(reason) => {
                    if !self.rebuild(&reason).await? {
                        // Another replica is rebuilding: let it finish.
                        return Ok(written);
                    }
                    continue;
                }
            };
            let rows = bounded(self.store.outbox_after(applied, ROWS_PER_ROUND)).await?;
            if rows.is_empty() {
                self.apply_history().await?;
                return Ok(written);
            }
            // The round's rows in one Redis round trip, consecutive rows merged into one script
            // (increments added per key first) up to [`MERGED_WRITES`] writes each; every range
            // is still written exactly once, see `apply_many`. Then one notice naming every
            // unit they changed.
            // (marker before the range, last seq, rows, ops)
            let mut ranges: Vec<(i64, i64, usize, Ops)> = Vec::new();
            for row in &rows {
                match ranges.last_mut() {
                    Some((_, last, count, ops)) if ops.writes() < MERGED_WRITES => {
                        self.add_row(&keys, row, ops).await?;
                        *last = row.seq;
                        *count += 1;
                    }
                    _ => {
                        let before = ranges.last().map_or(applied, |range| range.1);
                        let mut ops = Ops::default();
                        self.add_row(&keys, row, &mut ops).await?;
                        ranges.push((before, row.seq, 1, ops));
                    }
                }
            }
            let batch: Vec<(i64, i64, &aggregate::Ops)> =
                ranges.iter().map(|(before, last, _, ops)| (*before, *last, ops)).collect();
            let outcomes = bounded(aggregate::apply_many(&mut self.redis, &keys, &batch)).await?;
            let mut changed = std::collections::BTreeSet::new();
            for ((_, seq, count, ops), outcome) in ranges.iter().zip(outcomes) {
                match outcome {
                    Applied::Now => {
                        written += count;
                        changed.extend(ops.changed_units.iter().cloned());
                    }
                    Applied::Negative => {
                        // Rows after it in this round may be written too: the rebuild this
                        // asks for recomputes everything from the truth anyway.
                        written += count;
                        changed.extend(ops.changed_units.iter().cloned());
                        tracing::error!(seq, units = ?ops.changed_units, "a total went below zero: the aggregates drifted");
                        self.request_rebuild(format!(
                            "a total went below zero applying outbox rows up to {seq}"
                        ));
                    }
                    // Another replica got there first for part of it: the next round reads
                    // past its marker.
                    Applied::MarkerMoved
                    | Applied::Before
                    | Applied::NoMarker
                    | Applied::Superseded => {}
                }
            }
            if !changed.is_empty() {
                aggregate::publish_changed(&mut self.redis, &self.keys, &changed).await?;
            }
        }
    }

    /// Adds the Redis writes of one outbox row to `ops`; an unreadable row is quarantined and
    /// adds no writes at all (the marker still moves past it, so nothing stalls behind it).
    async fn add_row(&self, keys: &Keys, row: &OutboxRow, ops: &mut Ops) -> Result<(), ApplyError> {
        match row.decode() {
            Ok(deltas) => {
                let now = self.clock.now().timestamp();
                for delta in &deltas {
                    ops.add_delta(keys, &self.catalog, delta, now);
                }
            }
            Err(error) => {
                tracing::error!(seq = row.seq, %error, "outbox row quarantined");
                bounded(self.store.quarantine_outbox(row, &crate::errors::chain(&error))).await?;
            }
        }
        Ok(())
    }

    /// The drift checks of every round.
    async fn check(&mut self) -> Result<Check, ApplyError> {
        let Some(keys) = bounded(aggregate::current(&mut self.redis, &self.keys)).await? else {
            return Ok(Check::Untrusted("Redis holds no current generation of the figures".into()));
        };
        let (applied, catalog): (Option<i64>, Option<String>) = bounded(
            redis::pipe().get(keys.applied()).get(keys.catalog()).query_async(&mut self.redis),
        )
        .await?;
        let Some(applied) = applied else {
            return Ok(Check::Untrusted(
                "the applied marker of the current generation is missing".into(),
            ));
        };
        if catalog.as_deref() != Some(self.fingerprint.as_str()) {
            return Ok(Check::Untrusted(
                "the unit catalog (or key layout) differs from the one the figures were built with"
                    .into(),
            ));
        }
        let bounds = bounded(self.store.outbox_bounds()).await?;
        if applied < bounds.pruned_through {
            return Ok(Check::Untrusted(format!(
                "Redis is behind the outbox: applied through {applied}, but rows through {} were already pruned",
                bounds.pruned_through
            )));
        }
        if applied > bounds.last_seq {
            return Ok(Check::Untrusted(format!(
                "Redis is ahead of PostgreSQL: applied through {applied}, but the last outbox row is {}",
                bounds.last_seq
            )));
        }
        Ok(Check::Trusted(keys, applied))
    }

    /// Prunes outbox rows both Redis and the day-level history have applied.
    async fn prune(&mut self) -> Result<(), ApplyError> {
        if let Check::Trusted(_, applied) = self.check().await? {
            let history = bounded(self.store.history_state()).await?.applied_seq;
            bounded(self.store.prune_outbox(applied.min(history), self.clock.now())).await?;
        }
        Ok(())
    }
}
