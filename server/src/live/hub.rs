//! The hub: one task per subscribed (unit, window) scope.
//!
//! That task computes the scope's summary once, serializes the snapshot message and the delta
//! from the previous one once, and publishes both in a `tokio::sync::watch` channel that every
//! subscriber of the scope reads ([`Published`]). A watch channel keeps only the newest value,
//! so a slow client simply skips to the latest: it can never lag, fill a queue, or slow anyone
//! else, and work per change is per scope, not per client. A subscriber that skipped a value
//! no longer has the delta's base and gets the snapshot (the socket decides, per subscriber).
//!
//! A scope task recomputes when
//! - Redis pub/sub says one of its units changed (any replica's ingest; see [`super::feed`]),
//! - the earliest due time in the scope passes (the deadline engine: overdue needs no event),
//! - or every [`REFRESH_EVERY`], so sliding windows and "today" roll over,
//!
//! and publishes only when the figures differ. Coalescing is leading-edge ([`Pacer`]): the first
//! change after a quiet [`MIN_INTERVAL`] is computed at once; changes during the interval that
//! follows are merged into one computation at its end. It ends when its last subscriber leaves.

use crate::aggregate::{summary, Keys};
use crate::catalog::Catalog;
use crate::metrics::METRICS;
use axum::extract::ws::Utf8Bytes;
use chrono::Utc;
use crate::store::Store;
use ioc_shared::live::{ServerMessage, View};
use ioc_shared::summary::Window;
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Shortest time between two computations of one scope: changes within it are coalesced.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);
/// Longest time between two computations of one scope.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How long to wait before retrying when Redis did not answer.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Which figures a subscriber wants: a unit, a window (the period, for the score), and a view.
pub type ScopeKey = (String, Window, View);

/// Fans summaries out to subscribers. Cheap to clone.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<HubInner>,
}

struct HubInner {
    /// Scopes with at least one subscriber (or whose task is about to end).
    scopes: Mutex<HashMap<ScopeKey, Arc<ScopeSlot>>>,
    redis: ConnectionManager,
    keys: Keys,
    catalog: Catalog,
    /// PostgreSQL, for the calendar windows' history and the score.
    store: Store,
    /// False while Redis does not answer: heartbeats stop so screens show their data aging.
    healthy: AtomicBool,
    /// Open live connections on this replica (shutdown waits for them to close).
    connections: AtomicUsize,
    /// Notified on every change of any unit (the public board follows it).
    any_change: Arc<Notify>,
}

/// One publication of a scope, serialized once for all of its subscribers.
#[derive(Debug)]
pub struct Published {
    /// The version of the figures in `snapshot` (and produced by `delta`).
    pub version: u64,
    /// The whole figures (a `snapshot` or `score` message).
    pub snapshot: Utf8Bytes,
    /// A `delta` message from the previous publication's version, when it is smaller than the
    /// snapshot and the previous publication was not a forced refresh.
    pub delta: Option<(u64, Utf8Bytes)>,
}

/// What a subscriber reads: the newest publication (none until the first computation).
pub type Latest = Option<Arc<Published>>;

struct ScopeSlot {
    /// The newest publication.
    latest: watch::Sender<Latest>,
    /// Set when the scope's figures may have changed.
    dirty: Notify,
    /// Set when every scope changed at once (a rebuild switched generations, or the change
    /// feed reconnected): the next computation is published even if the figures look the same,
    /// so every screen gets a fresh snapshot.
    refresh: AtomicBool,
}

impl Hub {
    pub fn new(redis: ConnectionManager, keys: Keys, catalog: Catalog, store: Store) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                scopes: Mutex::new(HashMap::new()),
                redis,
                keys,
                catalog,
                store,
                healthy: AtomicBool::new(true),
                connections: AtomicUsize::new(0),
                any_change: Arc::new(Notify::new()),
            }),
        }
    }

    /// Receives the scope's snapshots; the current one (once computed) comes first.
    pub fn subscribe(&self, key: ScopeKey) -> watch::Receiver<Latest> {
        let mut scopes = self.inner.scopes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = scopes.get(&key) {
            return slot.latest.subscribe();
        }
        let (latest, receiver) = watch::channel(None);
        let slot = Arc::new(ScopeSlot { latest, dirty: Notify::new(), refresh: AtomicBool::new(false) });
        scopes.insert(key.clone(), slot.clone());
        METRICS.live_scopes.set(scopes.len() as i64);
        tokio::spawn(run_scope(self.inner.clone(), key, slot));
        receiver
    }

    /// Marks every scope containing one of `units` as changed; `*` marks all.
    pub fn mark_changed(&self, units: &[String]) {
        self.inner.any_change.notify_one();
        let scopes = self.inner.scopes.lock().unwrap_or_else(|p| p.into_inner());
        let all = units.iter().any(|u| u == "*");
        for ((unit, _, _), slot) in scopes.iter() {
            if all || units.contains(unit) {
                if all {
                    slot.refresh.store(true, Ordering::Relaxed);
                }
                slot.dirty.notify_one();
            }
        }
    }

    /// Notified whenever any unit changed.
    pub fn any_change(&self) -> Arc<Notify> {
        self.inner.any_change.clone()
    }

    /// Number of scopes being computed (for tests and metrics).
    pub fn active_scopes(&self) -> usize {
        self.inner.scopes.lock().map(|s| s.len()).unwrap_or(0)
    }

    /// Whether the last computation reached Redis.
    pub fn healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed)
    }

    /// Counts a live connection until the guard is dropped.
    pub fn connection_opened(&self) -> ConnectionGuard {
        self.inner.connections.fetch_add(1, Ordering::Relaxed);
        METRICS.live_connections.inc();
        ConnectionGuard { hub: self.inner.clone() }
    }

    /// Open live connections on this replica.
    pub fn open_connections(&self) -> usize {
        self.inner.connections.load(Ordering::Relaxed)
    }
}

/// Held by each live connection; see [`Hub::connection_opened`].
pub struct ConnectionGuard {
    hub: Arc<HubInner>,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.hub.connections.fetch_sub(1, Ordering::Relaxed);
        METRICS.live_connections.dec();
    }
}

/// One computation of a scope: the message for its subscribers, what to compare (without the
/// computation time), and when the scope next changes by time alone.
struct Computation {
    message: ServerMessage,
    /// The summary as sent (for deltas); none for the score, which is always sent whole.
    document: Option<serde_json::Value>,
    figures: serde_json::Value,
    next_due_ms: Option<i64>,
}

async fn compute_scope(hub: &HubInner, redis: &mut ConnectionManager, unit: &crate::catalog::Unit, key: &ScopeKey, now: chrono::DateTime<Utc>, version: u64) -> Result<Computation, String> {
    match key.2 {
        View::Summary => {
            let computed = summary::compute(redis, &hub.keys, &hub.store, &hub.catalog, unit, key.1, now).await.map_err(|e| e.to_string())?;
            let document = serde_json::to_value(&computed.summary).map_err(|e| e.to_string())?;
            let mut figures = document.clone();
            figures["as_of"] = serde_json::Value::Null;
            let message = ServerMessage::Snapshot { unit: key.0.clone(), window: key.1, version, data: Box::new(computed.summary) };
            Ok(Computation { message, document: Some(document), figures, next_due_ms: computed.next_due_ms })
        }
        View::Score => {
            let score = crate::aggregate::score::compute(&hub.store, &hub.catalog, unit, key.1, now).await.map_err(|e| e.to_string())?;
            let mut figures = serde_json::to_value(&score).map_err(|e| e.to_string())?;
            figures["to"] = serde_json::Value::Null;
            // The score changes when a dossier turns overdue, with no event: wake then.
            let next_due_ms = match crate::aggregate::current(redis, &hub.keys).await {
                Ok(Some(keys)) => {
                    let first: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
                        .arg(keys.due(&unit.code, ioc_shared::event::ItemKind::Dossier))
                        .arg(now.timestamp_millis())
                        .arg("+inf")
                        .arg("WITHSCORES")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(1)
                        .query_async(redis)
                        .await
                        .unwrap_or_default();
                    first.first().map(|(_, at)| *at as i64)
                }
                _ => None,
            };
            let message = ServerMessage::Score { unit: key.0.clone(), window: key.1, version, data: Box::new(score) };
            Ok(Computation { message, document: None, figures, next_due_ms })
        }
    }
}

/// The delta message from `previous` (at version `base`) to `computed`, unless it would be
/// larger than the snapshot (then subscribers get the snapshot).
fn delta_message(key: &ScopeKey, base: u64, version: u64, previous: &serde_json::Value, current: &serde_json::Value, snapshot_len: usize) -> Option<Utf8Bytes> {
    let changes = ioc_shared::live::changes_between(previous, current);
    let message = ServerMessage::Delta { unit: key.0.clone(), window: key.1, base, version, changes };
    match serde_json::to_string(&message) {
        Ok(text) if text.len() < snapshot_len => Some(Utf8Bytes::from(text)),
        Ok(_) => None,
        Err(error) => {
            tracing::error!(%error, "delta not serializable");
            None
        }
    }
}

async fn run_scope(hub: Arc<HubInner>, key: ScopeKey, slot: Arc<ScopeSlot>) {
    let Some(unit) = hub.catalog.get(&key.0).cloned() else {
        remove_scope(&hub, &key);
        return;
    };
    let mut redis = hub.redis.clone();
    let mut version: u64 = 0;
    // What was last published: the figures compared (without the computation time) and the
    // document sent, the base of the next delta.
    let mut last: Option<serde_json::Value> = None;
    let mut last_document: Option<serde_json::Value> = None;
    let mut pacer = Pacer::default();
    loop {
        pacer.computing(Instant::now());
        let now = Utc::now();
        let mut wake_at = Instant::now() + REFRESH_EVERY;
        let next_version = (version + 1).max(now.timestamp_millis().max(0) as u64);
        match compute_scope(&hub, &mut redis, &unit, &key, now, next_version).await {
            Ok(computed) => {
                hub.healthy.store(true, Ordering::Relaxed);
                if let Some(due_ms) = computed.next_due_ms {
                    // Wake just after the due time: an item is overdue once now is past it.
                    let wait_ms = (due_ms - now.timestamp_millis() + 1).max(0) as u64;
                    wake_at = wake_at.min(Instant::now() + Duration::from_millis(wait_ms));
                }
                let refresh = slot.refresh.swap(false, Ordering::Relaxed);
                if refresh || last.as_ref() != Some(&computed.figures) {
                    match serde_json::to_string(&computed.message) {
                        Ok(text) => {
                            // After a refresh every subscriber gets the whole figures.
                            let delta = match (&last_document, &computed.document) {
                                (Some(previous), Some(current)) if !refresh && version > 0 => {
                                    delta_message(&key, version, next_version, previous, current, text.len()).map(|d| (version, d))
                                }
                                _ => None,
                            };
                            version = next_version;
                            METRICS.snapshots_sent.inc();
                            slot.latest.send_replace(Some(Arc::new(Published { version, snapshot: Utf8Bytes::from(text), delta })));
                            last = Some(computed.figures);
                            last_document = computed.document;
                        }
                        Err(error) => tracing::error!(%error, "snapshot not serializable"),
                    }
                }
            }
            Err(error) => {
                hub.healthy.store(false, Ordering::Relaxed);
                tracing::warn!(%error, unit = %key.0, "figures not computed; retrying");
                wake_at = Instant::now() + RETRY_AFTER;
            }
        }
        wait_for_work(&slot.dirty, wake_at, slot.latest.closed()).await;
        if slot.latest.receiver_count() == 0 && remove_scope_if_unused(&hub, &key, &slot) {
            return;
        }
        tokio::time::sleep_until(pacer.next_computation_at()).await;
    }
}

/// Waits for a reason to compute again: a change, the scope's next wake time, or `gone` (its
/// last subscriber left). A change notified while nobody waited is not lost: `Notify` keeps it.
async fn wait_for_work(dirty: &Notify, wake_at: Instant, gone: impl std::future::Future<Output = ()>) {
    tokio::select! {
        _ = dirty.notified() => {}
        _ = tokio::time::sleep_until(wake_at) => {}
        _ = gone => {}
    }
}

/// Leading-edge coalescing of one scope's computations: a change after a quiet
/// [`MIN_INTERVAL`] is computed at once; changes that arrive within [`MIN_INTERVAL`] of the
/// last computation wait for its end and are computed together.
#[derive(Debug, Default)]
struct Pacer {
    last_computation: Option<Instant>,
}

impl Pacer {
    fn computing(&mut self, at: Instant) {
        self.last_computation = Some(at);
    }

    /// When the next computation may start (now, if the scope has been quiet).
    fn next_computation_at(&self) -> Instant {
        match self.last_computation {
            Some(at) => at + MIN_INTERVAL,
            None => Instant::now(),
        }
    }
}

fn remove_scope(hub: &HubInner, key: &ScopeKey) {
    let mut scopes = hub.scopes.lock().unwrap_or_else(|p| p.into_inner());
    scopes.remove(key);
    METRICS.live_scopes.set(scopes.len() as i64);
}

/// Removes the scope unless a subscriber arrived meanwhile (checked under the map's lock, which
/// `subscribe` also holds while it adds a receiver).
fn remove_scope_if_unused(hub: &HubInner, key: &ScopeKey, slot: &Arc<ScopeSlot>) -> bool {
    let mut scopes = hub.scopes.lock().unwrap_or_else(|p| p.into_inner());
    if slot.latest.receiver_count() == 0 {
        scopes.remove(key);
        METRICS.live_scopes.set(scopes.len() as i64);
        true
    } else {
        false
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::Mutex as StdMutex;

    /// The scope loop's pacing, on a paused clock: computations happen when `run_scope` would
    /// run them, recorded as milliseconds since the start.
    async fn pacing_of(changes_at_ms: &[u64], until_ms: u64) -> Vec<u64> {
        let start = Instant::now();
        let dirty = Arc::new(Notify::new());
        let computed = Arc::new(StdMutex::new(Vec::new()));
        let scope = {
            let (dirty, computed) = (dirty.clone(), computed.clone());
            tokio::spawn(async move {
                let mut pacer = Pacer::default();
                loop {
                    pacer.computing(Instant::now());
                    computed.lock().unwrap().push((Instant::now() - start).as_millis() as u64);
                    wait_for_work(&dirty, Instant::now() + REFRESH_EVERY, std::future::pending()).await;
                    tokio::time::sleep_until(pacer.next_computation_at()).await;
                }
            })
        };
        for at in changes_at_ms {
            tokio::time::sleep_until(start + Duration::from_millis(*at)).await;
            dirty.notify_one();
        }
        tokio::time::sleep_until(start + Duration::from_millis(until_ms)).await;
        scope.abort();
        let computed = computed.lock().unwrap().clone();
        computed
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_change_after_a_quiet_period_is_computed_at_once() {
        assert_eq!(pacing_of(&[5_000], 6_000).await, vec![0, 5_000]);
    }

    #[tokio::test(start_paused = true)]
    async fn changes_within_the_interval_are_merged_into_one_computation_at_its_end() {
        // A first change at once, then ten changes 20 ms apart: one computation at the end of
        // the interval (and one more for the change that came during that wait), not ten.
        let burst: Vec<u64> = std::iter::once(5_000).chain((1..=10).map(|i| 5_000 + 20 * i)).collect();
        let computed = pacing_of(&burst, 7_000).await;
        assert_eq!(computed, vec![0, 5_000, 5_250, 5_500]);
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_changes_are_computed_once_per_interval() {
        let every_10ms: Vec<u64> = (0..200).map(|i| 1_000 + 10 * i).collect();
        let computed = pacing_of(&every_10ms, 3_000).await;
        let gaps: Vec<u64> = computed.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|gap| *gap >= MIN_INTERVAL.as_millis() as u64), "{computed:?}");
        assert!(computed.len() <= 2 + 2_000 / MIN_INTERVAL.as_millis() as usize + 1, "{computed:?}");
    }
}
