//! Moves aggregate changes from the PostgreSQL outbox into Redis, in sequence order and exactly
//! once, then announces the changed units on the Redis `changed` channel.
//!
//! Every replica runs an applier; they may race on a row, but the apply script only writes a
//! row whose sequence is past Redis's `applied` marker, so each row lands once. When Redis has
//! lost its data (no marker), the applier rebuilds it from the items table, the truth.

use crate::aggregate::{self, Applied, Keys, Ops};
use crate::catalog::Catalog;
use crate::store::{Store, StoreError};
use redis::aio::ConnectionManager;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;

/// How often the applier looks at the outbox when nobody woke it (another replica's batch
/// that its own applier did not finish, or a restart).
const POLL_EVERY: Duration = Duration::from_secs(1);
/// Outbox rows read per round.
const ROWS_PER_ROUND: i64 = 64;
/// How often applied outbox rows are pruned.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
}

#[derive(Clone)]
pub struct Applier {
    store: Store,
    redis: ConnectionManager,
    keys: Keys,
    catalog: Catalog,
    /// Notified after a local batch commits, so its changes show without waiting for a poll.
    pub wake: Arc<Notify>,
}

impl Applier {
    pub fn new(store: Store, redis: ConnectionManager, keys: Keys, catalog: Catalog) -> Applier {
        Applier { store, redis, keys, catalog, wake: Arc::new(Notify::new()) }
    }

    /// Applies until woken no more; logs and retries on errors.
    pub async fn run(mut self) {
        let mut last_prune = tokio::time::Instant::now();
        loop {
            match self.apply_pending().await {
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "aggregates not applied; will retry"),
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
            }
        }
    }

    /// Applies every outbox row past Redis's marker; returns how many this call wrote.
    pub async fn apply_pending(&mut self) -> Result<usize, ApplyError> {
        let mut written = 0;
        loop {
            let applied: Option<i64> = redis::cmd("GET").arg(self.keys.applied()).query_async(&mut self.redis).await?;
            let Some(applied) = applied else {
                self.rebuild().await?;
                continue;
            };
            let rows = self.store.outbox_after(applied, ROWS_PER_ROUND).await?;
            if rows.is_empty() {
                return Ok(written);
            }
            for row in rows {
                let now = chrono::Utc::now().timestamp();
                let mut ops = Ops::default();
                for delta in &row.deltas {
                    ops.add_delta(&self.keys, &self.catalog, delta, now);
                }
                match aggregate::apply(&mut self.redis, &self.keys, row.seq, &ops).await? {
                    Applied::Now => {
                        written += 1;
                        aggregate::publish_changed(&mut self.redis, &self.keys, &ops.changed_units).await?;
                    }
                    Applied::Before => {}
                    Applied::NeedsRebuild => break,
                }
            }
        }
    }

    /// Rebuilds every aggregate from the items table, unless another replica just did.
    pub async fn rebuild(&mut self) -> Result<(), ApplyError> {
        let mut snapshot = self.store.snapshot().await?;
        let applied: Option<i64> = redis::cmd("GET").arg(self.keys.applied()).query_async(&mut self.redis).await?;
        if applied.is_some() {
            snapshot.finish().await?;
            return Ok(());
        }
        tracing::info!(through_seq = snapshot.through_seq, "rebuilding Redis aggregates from PostgreSQL");
        aggregate::clear(&mut self.redis, &self.keys).await?;
        let now = chrono::Utc::now().timestamp();
        let mut items = 0;
        while let Some(chunk) = snapshot.next_chunk().await? {
            let mut ops = Ops::default();
            for delta in &chunk {
                ops.add_delta(&self.keys, &self.catalog, delta, now);
            }
            items += chunk.len();
            aggregate::apply_unconditionally(&mut self.redis, &self.keys, &ops).await?;
        }
        let _: () = redis::cmd("SET")
            .arg(self.keys.applied())
            .arg(snapshot.through_seq)
            .query_async(&mut self.redis)
            .await?;
        snapshot.finish().await?;
        tracing::info!(items, "Redis aggregates rebuilt");
        let everything: BTreeSet<String> = std::iter::once("*".to_owned()).collect();
        aggregate::publish_changed(&mut self.redis, &self.keys, &everything).await?;
        Ok(())
    }

    async fn prune(&mut self) -> Result<(), ApplyError> {
        let applied: Option<i64> = redis::cmd("GET").arg(self.keys.applied()).query_async(&mut self.redis).await?;
        if let Some(applied) = applied {
            self.store.prune_outbox(applied).await?;
        }
        Ok(())
    }
}
