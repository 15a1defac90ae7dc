//! Rebuilding the figures from PostgreSQL into a new generation beside the current one.
//!
//! One replica at a time (a lock in Redis with a time-out). The new generation is filled from
//! a consistent snapshot of the items (ingest is not held up), catches up on the outbox rows
//! acknowledged meanwhile, and then becomes current in one atomic step; screens get a fresh
//! snapshot after the switch and never see half-built figures. The old generation is deleted a
//! little later, once nobody can still be reading it.

use super::{bounded, Applier, ApplyError};
use crate::aggregate::write::{clear_prefix, SnapshotWriter};
use crate::aggregate::{self, Applied, Ops};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// How long the rebuild lock lasts unless renewed (it is renewed as chunks are written).
const LOCK_SECONDS: u64 = 120;
/// How long an old generation is kept after the switch, for readers still on it.
const OLD_GENERATION_GRACE: Duration = Duration::from_secs(30);
/// Progress is logged at most this often.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Releases the lock only if it is still ours.
const UNLOCK_SCRIPT: &str = r#"
local held = redis.call('GET', KEYS[1])
if held and string.sub(held, 1, string.len(ARGV[1])) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

impl Applier {
    /// Rebuilds the figures, unless another replica is already doing it (then `false`).
    pub async fn rebuild(&mut self, reason: &str) -> Result<bool, ApplyError> {
        let token = format!("{:016x}", rand::random::<u64>());
        let locked: Option<String> = bounded(
            redis::cmd("SET")
                .arg(self.keys.rebuilding())
                .arg(format!("{token} {reason}"))
                .arg("NX")
                .arg("EX")
                .arg(LOCK_SECONDS)
                .query_async(&mut self.redis),
        )
        .await?;
        if locked.is_none() {
            tokio::time::sleep(Duration::from_millis(500)).await;
            return Ok(false);
        }
        let result = self.rebuild_locked(reason, &token).await;
        let released: redis::RedisResult<i64> = redis::Script::new(UNLOCK_SCRIPT)
            .key(self.keys.rebuilding())
            .arg(&token)
            .invoke_async(&mut self.redis)
            .await;
        if let Err(error) = released {
            tracing::warn!(%error, "rebuild lock not released; it times out by itself");
        }
        result.map(|()| true)
    }

    async fn rebuild_locked(&mut self, reason: &str, token: &str) -> Result<(), ApplyError> {
        let started = Instant::now();
        let old =
            bounded(aggregate::current(&mut self.redis, &self.keys)).await?.map(|k| k.generation());
        let generation =
            (self.clock.now().timestamp_millis().max(1) as u64).max(old.unwrap_or(0) + 1);
        let fresh = self.keys.at(generation);
        tracing::warn!(
            reason,
            generation,
            "rebuilding the Redis figures from PostgreSQL beside the current ones"
        );
        bounded(clear_prefix(&mut self.redis, &fresh.generation_prefix())).await?;

        let mut snapshot = bounded(self.store.snapshot()).await?;
        let total: i64 = bounded(self.store.count_items()).await?;
        let now = self.clock.now().timestamp();
        let mut items = 0_usize;
        let mut last_log = Instant::now();
        // Three stages on their own tasks, so that they overlap: this one reads chunks from
        // PostgreSQL; the merger turns them into ops on another core, merging many chunks so
        // that most bucket keys are written once; Redis writes one merged batch while the next
        // is merged.
        let (chunks, merger) = {
            let (sender, mut receiver) =
                tokio::sync::mpsc::channel::<Vec<crate::store::item::ItemDelta>>(2);
            let (fresh, catalog, redis) = (fresh.clone(), self.catalog.clone(), self.redis.clone());
            let merger = tokio::spawn(async move {
                let mut writing: Option<tokio::task::JoinHandle<Result<(), ApplyError>>> = None;
                let mut writer = SnapshotWriter::default();
                let mut ops = Ops::default();
                let mut last = false;
                while !last {
                    let chunk = receiver.recv().await;
                    last = chunk.is_none();
                    for delta in chunk.iter().flatten() {
                        ops.add_delta(&fresh, &catalog, delta, now);
                    }
                    if last || ops.merged_fields() >= SnapshotWriter::MERGE_FIELDS {
                        let pipelines = writer.pipelines(std::mem::take(&mut ops));
                        finish_writing(writing.take()).await?;
                        let mut redis = redis.clone();
                        // Each pipeline within the applier's time limit (a batch is many).
                        writing = Some(tokio::spawn(async move {
                            for pipeline in pipelines {
                                bounded(aggregate::write::write_pipeline(&mut redis, pipeline))
                                    .await?;
                            }
                            Ok(())
                        }));
                    }
                }
                finish_writing(writing).await
            });
            (sender, merger)
        };
        while let Some(chunk) = bounded(snapshot.next_chunk()).await? {
            items += chunk.len();
            if chunks.send(chunk).await.is_err() {
                break; // the merger stopped: its error comes below
            }
            if last_log.elapsed() >= PROGRESS_EVERY {
                last_log = Instant::now();
                let rate = items as f64 / started.elapsed().as_secs_f64().max(0.001);
                let left = (total as f64 - items as f64).max(0.0) / rate.max(1.0);
                tracing::info!(
                    items,
                    total,
                    rate = rate.round(),
                    seconds_left = left.round(),
                    "rebuild in progress"
                );
                let _: redis::RedisResult<i64> = redis::cmd("EXPIRE")
                    .arg(self.keys.rebuilding())
                    .arg(LOCK_SECONDS)
                    .query_async(&mut self.redis)
                    .await;
            }
        }
        drop(chunks);
        finish_writing(Some(merger)).await?;
        let through = snapshot.through_seq;
        bounded(snapshot.finish()).await?;
        bounded(
            redis::pipe()
                .set(fresh.applied(), through)
                .set(fresh.catalog(), &self.fingerprint)
                .query_async::<()>(&mut self.redis),
        )
        .await?;

        // Catch up on what was acknowledged while the snapshot was read.
        let mut caught_up = 0;
        loop {
            let applied: i64 =
                bounded(redis::cmd("GET").arg(fresh.applied()).query_async(&mut self.redis))
                    .await?;
            let rows = bounded(self.store.outbox_after(applied, 256)).await?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                let mut ops = aggregate::Ops::default();
                self.add_row(&fresh, &row, &mut ops).await?;
                if bounded(aggregate::build(&mut self.redis, &fresh, row.seq, &ops)).await?
                    == Applied::Now
                {
                    caught_up += 1;
                }
            }
        }

        // The switch: from now on every reader and every applier uses the new generation.
        let _: Option<String> = bounded(
            redis::cmd("SET")
                .arg(self.keys.current_generation())
                .arg(generation)
                .arg("GET")
                .query_async(&mut self.redis),
        )
        .await?;
        let everything: BTreeSet<String> = std::iter::once("*".to_owned()).collect();
        aggregate::publish_changed(&mut self.redis, &self.keys, &everything).await?;
        crate::metrics::METRICS.rebuilds.inc();
        let seconds = started.elapsed().as_secs_f64();
        tracing::warn!(
            reason,
            generation,
            items,
            caught_up,
            seconds,
            items_per_second = (items as f64 / seconds.max(0.001)).round(),
            "Redis figures rebuilt and switched"
        );
        let _ = token;

        // Old generations go once nobody can still be reading them.
        let mut redis = self.redis.clone();
        let keys = self.keys.clone();
        tokio::spawn(async move {
            tokio::time::sleep(OLD_GENERATION_GRACE).await;
            if let Err(error) = aggregate::write::clear_other_generations(&mut redis, &keys).await {
                tracing::warn!(%error, "old generations not deleted yet");
            }
        });
        Ok(())
    }
}

/// Waits for the snapshot chunk Redis is writing, if any, and passes on how it went.
async fn finish_writing(
    writing: Option<tokio::task::JoinHandle<Result<(), ApplyError>>>,
) -> Result<(), ApplyError> {
    match writing {
        Some(task) => task.await.map_err(ApplyError::Stopped)?,
        None => Ok(()),
    }
}
