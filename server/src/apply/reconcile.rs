//! Reconciliation: recomputes figures from PostgreSQL and compares them with Redis, so drift
//! that no marker shows (keys lost to eviction, one unit's keys deleted) is found and healed.
//!
//! Each pass takes a consistent snapshot at outbox sequence S, waits until Redis has applied
//! exactly S, reads Redis in one atomic pipeline, and compares: the open and running counts of
//! every unit (cheap: one grouped query), and today's and this hour's window counters of a
//! sample of units (the periodic job rotates through the catalog, a bounded number per pass).
//! A difference is logged with its scope, counted, and triggers a rebuild.

use super::{bounded, Applier, ApplyError};
use crate::aggregate::{self, Granularity, Keys, UNKNOWN_UNIT};
use crate::store::outbox::{CounterSum, OpenCount};
use ioc_shared::event::ItemKind;
use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

/// How long a pass waits for Redis to reach the snapshot's sequence.
const CATCH_UP_WAIT: Duration = Duration::from_secs(5);
/// Attempts per pass when Redis keeps moving past the snapshot.
const ATTEMPTS: usize = 4;
/// Units whose window counters the periodic job compares per pass.
pub const SAMPLE_PER_PASS: usize = 40;
/// How often the periodic job runs.
pub const RECONCILE_EVERY: Duration = Duration::from_secs(180);

/// One figure that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub unit: String,
    /// `open:dossier`, `running:task`, `today:d.recv`, `hour:c.recv`, …
    pub figure: String,
    pub redis: i64,
    pub truth: i64,
}

/// The outcome of one pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reconciled {
    /// Redis agrees with PostgreSQL on everything compared.
    Agreed,
    /// Differences were found; a rebuild was requested.
    Differed(Vec<Mismatch>),
    /// No comparison was possible now (why).
    Skipped(String),
}

impl Applier {
    /// Compares Redis with PostgreSQL: open and running counts of every unit, and the window
    /// counters of `sample`. Requests a rebuild on any difference.
    pub async fn reconcile(&mut self, sample: &[String]) -> Result<Reconciled, ApplyError> {
        for _ in 0..ATTEMPTS {
            let mut snapshot = bounded(self.store.snapshot()).await?;
            let target = snapshot.through_seq;
            let open = bounded(snapshot.open_counts()).await?;
            let now = self.clock.now().timestamp();
            let day = Granularity::Day.index(now);
            let hour = Granularity::Hour.index(now);
            let subtree_units: Vec<String> =
                sample.iter().flat_map(|u| self.catalog.subtree(u)).collect();
            let today = bounded(snapshot.counter_sums(
                &subtree_units,
                Granularity::Day.start(day),
                Granularity::Day.start(day + 1),
            ))
            .await?;
            let this_hour = bounded(snapshot.counter_sums(
                &subtree_units,
                Granularity::Hour.start(hour),
                Granularity::Hour.start(hour + 1),
            ))
            .await?;
            bounded(snapshot.finish()).await?;

            let Some(keys) = self.wait_for(target).await? else { continue };
            let units: Vec<String> = self
                .catalog
                .units()
                .map(|u| u.code.clone())
                .chain(std::iter::once(UNKNOWN_UNIT.to_owned()))
                .collect();
            let mut pipe = redis::pipe();
            pipe.atomic().get(keys.applied());
            for unit in &units {
                pipe.hgetall(keys.open(unit));
                for kind in KINDS {
                    pipe.zcard(keys.due(unit, kind));
                }
            }
            for unit in sample {
                pipe.hgetall(keys.bucket(Granularity::Day, day, unit));
                pipe.hgetall(keys.bucket(Granularity::Hour, hour, unit));
            }
            let replies: Vec<redis::Value> = bounded(pipe.query_async(&mut self.redis)).await?;
            let mut replies = replies.into_iter();
            let mut next = move || replies.next().unwrap_or(redis::Value::Nil);
            let applied: Option<i64> = redis::from_redis_value(next())?;
            if applied != Some(target) {
                continue;
            }
            let mut mismatches = Vec::new();
            let truth = self.roll_up_open(&open);
            for unit in &units {
                let redis_open: HashMap<String, i64> = redis::from_redis_value(next())?;
                for kind in KINDS {
                    let running: i64 = redis::from_redis_value(next())?;
                    let (truth_open, truth_running) =
                        truth.get(&(unit.clone(), kind)).copied().unwrap_or((0, 0));
                    let redis_open = redis_open.get(kind.as_str()).copied().unwrap_or(0);
                    compare(
                        &mut mismatches,
                        unit,
                        &format!("open:{}", kind.as_str()),
                        redis_open,
                        truth_open,
                    );
                    compare(
                        &mut mismatches,
                        unit,
                        &format!("running:{}", kind.as_str()),
                        running,
                        truth_running,
                    );
                }
            }
            let today = self.roll_up_counters(sample, &today);
            let this_hour = self.roll_up_counters(sample, &this_hour);
            for unit in sample {
                for (label, truth) in [("today", &today), ("hour", &this_hour)] {
                    let bucket: HashMap<String, i64> = redis::from_redis_value(next())?;
                    let empty = BTreeMap::new();
                    let expected = truth.get(unit).unwrap_or(&empty);
                    let mut counters: Vec<&String> = expected
                        .keys()
                        .chain(bucket.keys().filter(|f| !f.starts_with("k:")))
                        .collect();
                    counters.sort();
                    counters.dedup();
                    for counter in counters {
                        let have = bucket.get(counter).copied().unwrap_or(0);
                        let want = expected.get(counter).copied().unwrap_or(0);
                        compare(&mut mismatches, unit, &format!("{label}:{counter}"), have, want);
                    }
                }
            }
            if mismatches.is_empty() {
                return Ok(Reconciled::Agreed);
            }
            crate::metrics::METRICS.reconciliation_differences.inc_by(mismatches.len() as u64);
            for m in mismatches.iter().take(50) {
                tracing::error!(unit = %m.unit, figure = %m.figure, redis = m.redis, truth = m.truth, "Redis differs from PostgreSQL");
            }
            self.request_rebuild(format!(
                "reconciliation found {} figure(s) differing from PostgreSQL",
                mismatches.len()
            ));
            return Ok(Reconciled::Differed(mismatches));
        }
        Ok(Reconciled::Skipped(
            "the figures kept moving while they were compared; trying again next pass".into(),
        ))
    }

    /// Waits until the current generation has applied exactly `target`; `None` if it moved
    /// past it or did not get there in time.
    async fn wait_for(&mut self, target: i64) -> Result<Option<Keys>, ApplyError> {
        let deadline = tokio::time::Instant::now() + CATCH_UP_WAIT;
        loop {
            let Some(keys) = bounded(aggregate::current(&mut self.redis, &self.keys)).await? else {
                return Ok(None);
            };
            let applied: Option<i64> =
                bounded(redis::cmd("GET").arg(keys.applied()).query_async(&mut self.redis)).await?;
            match applied {
                Some(applied) if applied == target => return Ok(Some(keys)),
                Some(applied) if applied > target => return Ok(None),
                _ if tokio::time::Instant::now() >= deadline => return Ok(None),
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    /// Per (unit, kind): open and running counts at the unit and everything below it.
    fn roll_up_open(&self, rows: &[OpenCount]) -> HashMap<(String, ItemKind), (i64, i64)> {
        let mut out: HashMap<(String, ItemKind), (i64, i64)> = HashMap::new();
        for row in rows {
            let Some(kind) = ItemKind::parse(&row.kind) else { continue };
            for unit in self.path_of(&row.unit) {
                let entry = out.entry((unit, kind)).or_default();
                entry.0 += row.open;
                entry.1 += row.running;
            }
        }
        out
    }

    /// Per sampled unit: counter sums over its subtree.
    fn roll_up_counters(
        &self,
        sample: &[String],
        rows: &[CounterSum],
    ) -> HashMap<String, BTreeMap<String, i64>> {
        let mut out: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
        for row in rows {
            for unit in self.path_of(&row.unit) {
                if sample.contains(&unit) {
                    *out.entry(unit).or_default().entry(row.counter.clone()).or_default() += row.n;
                }
            }
        }
        out
    }

    /// A unit and its ancestors, or the unknown-unit bucket for a unit not in the catalog.
    fn path_of(&self, unit: &str) -> Vec<String> {
        let path: Vec<String> =
            self.catalog.self_and_ancestors(unit).iter().map(|u| u.code.clone()).collect();
        if path.is_empty() {
            vec![UNKNOWN_UNIT.to_owned()]
        } else {
            path
        }
    }

    /// The periodic job: every [`RECONCILE_EVERY`], one pass over a rotating sample.
    pub async fn reconcile_periodically(mut self) {
        let mut units: Vec<String> = self.catalog.units().map(|u| u.code.clone()).collect();
        units.sort();
        let mut offset = 0;
        let mut every = tokio::time::interval(RECONCILE_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            let sample: Vec<String> = units
                .iter()
                .cycle()
                .skip(offset)
                .take(SAMPLE_PER_PASS.min(units.len()))
                .cloned()
                .collect();
            offset = (offset + SAMPLE_PER_PASS) % units.len().max(1);
            match self.reconcile(&sample).await {
                Ok(Reconciled::Agreed) => tracing::debug!(
                    units = sample.len(),
                    "reconciliation: Redis agrees with PostgreSQL"
                ),
                Ok(Reconciled::Differed(found)) => {
                    tracing::error!(differences = found.len(), "reconciliation: rebuilding")
                }
                Ok(Reconciled::Skipped(why)) => tracing::info!(why, "reconciliation skipped"),
                Err(error) => {
                    tracing::warn!(%error, "reconciliation failed; trying again next pass")
                }
            }
        }
    }
}

const KINDS: [ItemKind; 3] = [ItemKind::Dossier, ItemKind::Complaint, ItemKind::Task];

fn compare(mismatches: &mut Vec<Mismatch>, unit: &str, figure: &str, redis: i64, truth: i64) {
    if redis != truth {
        mismatches.push(Mismatch {
            unit: unit.to_owned(),
            figure: figure.to_owned(),
            redis,
            truth,
        });
    }
}
