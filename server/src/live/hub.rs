//! The hub: one task per subscribed unit and view, computing every window its subscribers
//! follow.
//!
//! That task computes a unit's summaries for all of its subscribed windows in one atomic read
//! (what the windows have in common — open and overdue counts, late officers — is read once,
//! [`summary::compute_windows`]), then, per window, serializes the snapshot message and the
//! delta from the previous one once, and publishes both in a `tokio::sync::watch` channel that
//! every subscriber of that (unit, window, view) scope reads ([`Published`]). A watch channel
//! keeps only the newest value, so a slow client simply skips to the latest: it can never lag,
//! fill a queue, or slow anyone else, and work per change is per unit, not per client. A
//! subscriber that skipped a value no longer has the delta's base and gets the snapshot (the
//! writer decides, per subscriber).
//!
//! A unit task recomputes when
//! - Redis pub/sub says the unit changed (any replica's ingest; see [`super::feed`]),
//! - the earliest due time in the unit passes (the deadline engine: overdue needs no event),
//! - a new window is subscribed (computed at once),
//! - or every [`REFRESH_EVERY`], so sliding windows and "today" roll over,
//!
//! and publishes a window only when its figures differ. Coalescing is leading-edge (`Pacer`):
//! the first change after a quiet [`MIN_INTERVAL`] is computed at once; changes during the
//! interval that follows are merged into one computation at its end. A window goes when its last
//! subscriber leaves, the task when its last window does.

use crate::aggregate::{summary, Keys};
use crate::catalog::Catalog;
use crate::metrics::METRICS;
use crate::redis_link::RedisLink;
use crate::store::Store;
use axum::extract::ws::Utf8Bytes;
use chrono::Utc;
use ioc_shared::live::{ServerMessage, View};
use ioc_shared::summary::Window;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Shortest time between two computations of one unit: changes within it are coalesced.
pub const MIN_INTERVAL: Duration = Duration::from_millis(150);
/// Deliveries a second that one unit's updates may cause on this replica: a unit watched by
/// more screens than this × [`MIN_INTERVAL`] is computed less often (sustained load stays
/// bounded per unit, whatever the number of screens; 10,000 screens get 4.5 updates a second).
pub const DELIVERIES_PER_UNIT_PER_SECOND: usize = 45_000;
/// Longest coalescing interval, however many screens watch a unit.
pub const MAX_INTERVAL: Duration = Duration::from_secs(1);
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
    /// The scopes with at least one subscriber, and the tasks computing them.
    registry: Mutex<Registry>,
    redis: RedisLink,
    keys: Keys,
    catalog: Catalog,
    /// PostgreSQL, for the calendar windows' history and the score.
    store: Store,
    /// "Now" for every window and due time.
    clock: ioc_shared::time::Clock,
    /// False while Redis does not answer: heartbeats stop so screens show their data aging.
    healthy: AtomicBool,
    /// Open live connections on this replica (shutdown waits for them to close).
    connections: AtomicUsize,
    /// Notified on every change of any unit (the public board follows it).
    any_change: Arc<Notify>,
    /// The current generation as last read, shared by every unit's computation (checked in
    /// each atomic read, so never trusted blindly).
    generation: crate::aggregate::GenerationHint,
}

/// Which task computes a scope: one per unit and view, for all of its windows.
type UnitKey = (String, View);

#[derive(Default)]
struct Registry {
    /// Each subscribed scope's channel (or one whose task is about to drop it).
    scopes: HashMap<ScopeKey, Arc<ScopeSlot>>,
    /// Each unit task's shared state.
    units: HashMap<UnitKey, Arc<UnitSlot>>,
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

/// One (unit, window, view) scope.
struct ScopeSlot {
    /// The newest publication.
    latest: watch::Sender<Latest>,
    /// Connections watching it on this replica (kept by the writer shards, which hold one
    /// receiver each for all of theirs): the unit's coalescing interval grows with them.
    viewers: AtomicUsize,
}

/// What a unit task shares with the hub.
struct UnitSlot {
    /// The windows being computed, each with its scope's channel (changed under the
    /// registry's lock).
    windows: Mutex<Vec<(Window, Arc<ScopeSlot>)>>,
    /// Set when the unit's figures may have changed.
    dirty: Notify,
    /// Set when a window was added: computed without waiting for the coalescing interval.
    added: AtomicBool,
    /// Set when every scope changed at once (a rebuild switched generations, or the change
    /// feed reconnected): the next computation is published even if the figures look the same,
    /// so every screen gets a fresh snapshot.
    refresh: AtomicBool,
}

impl Hub {
    pub fn new(
        redis: RedisLink,
        keys: Keys,
        catalog: Catalog,
        store: Store,
        clock: ioc_shared::time::Clock,
    ) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                registry: Mutex::new(Registry::default()),
                redis,
                keys,
                catalog,
                store,
                clock,
                healthy: AtomicBool::new(true),
                connections: AtomicUsize::new(0),
                any_change: Arc::new(Notify::new()),
                generation: Default::default(),
            }),
        }
    }

    /// The clock every window and due time is computed against.
    pub fn clock(&self) -> &ioc_shared::time::Clock {
        &self.inner.clock
    }

    /// Receives the scope's snapshots; the current one (once computed) comes first.
    pub fn subscribe(&self, key: ScopeKey) -> watch::Receiver<Latest> {
        let mut registry = self.inner.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = registry.scopes.get(&key) {
            return slot.latest.subscribe();
        }
        let (latest, receiver) = watch::channel(None);
        let slot = Arc::new(ScopeSlot { latest, viewers: AtomicUsize::new(0) });
        registry.scopes.insert(key.clone(), slot.clone());
        METRICS.live_scopes.set(registry.scopes.len() as i64);
        let (unit, window, view) = key;
        match registry.units.get(&(unit.clone(), view)) {
            Some(unit_slot) => {
                unit_slot.windows.lock().unwrap_or_else(|p| p.into_inner()).push((window, slot));
                unit_slot.added.store(true, Ordering::Relaxed);
                unit_slot.dirty.notify_one();
            }
            None => {
                let unit_slot = Arc::new(UnitSlot {
                    windows: Mutex::new(vec![(window, slot)]),
                    dirty: Notify::new(),
                    added: AtomicBool::new(false),
                    refresh: AtomicBool::new(false),
                });
                registry.units.insert((unit.clone(), view), unit_slot.clone());
                tokio::spawn(run_unit(self.inner.clone(), (unit, view), unit_slot));
            }
        }
        receiver
    }

    /// Counts `added` connections more (or fewer, when negative) watching `key`.
    pub fn viewing(&self, key: &ScopeKey, added: isize) {
        let registry = self.inner.registry.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = registry.scopes.get(key) {
            if added >= 0 {
                slot.viewers.fetch_add(added.unsigned_abs(), Ordering::Relaxed);
            } else {
                let _ = slot.viewers.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                    Some(n.saturating_sub(added.unsigned_abs()))
                });
            }
        }
    }

    /// Connections watching `key` on this replica (for tests and the pacing).
    pub fn viewers(&self, key: &ScopeKey) -> usize {
        let registry = self.inner.registry.lock().unwrap_or_else(|p| p.into_inner());
        registry.scopes.get(key).map_or(0, |slot| slot.viewers.load(Ordering::Relaxed))
    }

    /// Marks every unit in `units` as changed; `*` marks all.
    pub fn mark_changed(&self, units: &[String]) {
        self.inner.any_change.notify_one();
        let registry = self.inner.registry.lock().unwrap_or_else(|p| p.into_inner());
        let all = units.iter().any(|u| u == "*");
        for ((unit, _), slot) in registry.units.iter() {
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
        self.inner.registry.lock().map(|r| r.scopes.len()).unwrap_or(0)
    }

    /// Number of unit tasks computing those scopes (one per unit and view, for all windows).
    pub fn computing_units(&self) -> usize {
        self.inner.registry.lock().map(|r| r.units.len()).unwrap_or(0)
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

/// One computation of a window: its figures, what to compare (without the computation time),
/// and when the unit next changes by time alone.
struct Computation {
    figures: Figures,
    /// The summary as sent (for deltas); none for the score, which is always sent whole.
    document: Option<serde_json::Value>,
    compared: serde_json::Value,
    next_due_ms: Option<i64>,
}

enum Figures {
    Summary(Box<ioc_shared::summary::Summary>),
    Score(Box<ioc_shared::score::Score>),
    Alerts(ioc_shared::alerts::AlertsData),
}

impl Figures {
    fn message(self, key: &ScopeKey, version: u64) -> ServerMessage {
        match self {
            Figures::Summary(data) => {
                ServerMessage::Snapshot { unit: key.0.clone(), window: key.1, version, data }
            }
            Figures::Score(data) => {
                ServerMessage::Score { unit: key.0.clone(), window: key.1, version, data }
            }
            Figures::Alerts(data) => ServerMessage::Alerts { unit: key.0.clone(), version, data },
        }
    }
}

/// Why a unit's figures were not computed this time (the unit task logs it and retries).
#[derive(Debug, thiserror::Error)]
pub enum HubError {
    #[error("summary: {0}")]
    Summary(#[from] summary::SummaryError),
    #[error("score: {0}")]
    Score(#[from] crate::store::StoreError),
    #[error("alerts: {0}")]
    Alerts(#[from] sqlx::Error),
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("figures not serialised: {0}")]
    Json(#[from] serde_json::Error),
}

/// Computes `windows` of one unit and view: the summaries in one atomic read, the scores (from
/// PostgreSQL) one by one.
async fn compute_unit(
    hub: &HubInner,
    redis: &mut RedisLink,
    unit: &crate::catalog::Unit,
    view: View,
    windows: &[Window],
    now: chrono::DateTime<Utc>,
) -> Result<Vec<Computation>, HubError> {
    match view {
        View::Summary => {
            let computed = summary::compute_windows(
                redis,
                &hub.keys,
                &hub.store,
                &hub.catalog,
                unit,
                windows,
                now,
                Some(&hub.generation),
            )
            .await?;
            computed
                .into_iter()
                .map(|computed| {
                    let document = serde_json::to_value(&computed.summary)?;
                    let mut compared = document.clone();
                    compared["as_of"] = serde_json::Value::Null;
                    Ok(Computation {
                        figures: Figures::Summary(Box::new(computed.summary)),
                        document: Some(document),
                        compared,
                        next_due_ms: computed.next_due_ms,
                    })
                })
                .collect()
        }
        View::Score => {
            // The score changes when a dossier turns overdue, with no event: wake then.
            let next_due_ms = match crate::aggregate::current(redis, &hub.keys).await? {
                Some(keys) => {
                    let first: Vec<(String, f64)> = redis::cmd("ZRANGEBYSCORE")
                        .arg(keys.due(&unit.code, ioc_shared::event::ItemKind::Dossier))
                        .arg(now.timestamp_millis())
                        .arg("+inf")
                        .arg("WITHSCORES")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(1)
                        .query_async(redis)
                        .await?;
                    first.first().map(|(_, at)| *at as i64)
                }
                None => None,
            };
            let mut computed = Vec::with_capacity(windows.len());
            for &period in windows {
                let score = crate::aggregate::score::compute(
                    &hub.store.pool,
                    &hub.catalog,
                    unit,
                    period,
                    now,
                )
                .await?;
                let mut compared = serde_json::to_value(&score)?;
                compared["to"] = serde_json::Value::Null;
                computed.push(Computation {
                    figures: Figures::Score(Box::new(score)),
                    document: None,
                    compared,
                    next_due_ms,
                });
            }
            Ok(computed)
        }
        View::Alerts => {
            // Every window of the alerts view is the same (its key uses `today`).
            let open = crate::store::alerts::open_within(&hub.store.pool, &hub.catalog, &unit.code)
                .await?;
            let data = ioc_shared::alerts::AlertsData::without_names(open);
            let compared = serde_json::to_value(&data)?;
            Ok(windows
                .iter()
                .map(|_| Computation {
                    figures: Figures::Alerts(data.clone()),
                    document: None,
                    compared: compared.clone(),
                    next_due_ms: None,
                })
                .collect())
        }
    }
}

/// The delta message from `previous` (at version `base`) to `computed`, unless it would be
/// larger than the snapshot (then subscribers get the snapshot).
fn delta_message(
    key: &ScopeKey,
    base: u64,
    version: u64,
    previous: &serde_json::Value,
    current: &serde_json::Value,
    snapshot_len: usize,
) -> Option<Utf8Bytes> {
    let changes = ioc_shared::live::changes_between(previous, current);
    let message =
        ServerMessage::Delta { unit: key.0.clone(), window: key.1, base, version, changes };
    match serde_json::to_string(&message) {
        Ok(text) if text.len() < snapshot_len => Some(Utf8Bytes::from(text)),
        Ok(_) => None,
        Err(error) => {
            tracing::error!(%error, "delta not serializable");
            None
        }
    }
}

/// What one window last published: its version, the figures compared (without the
/// computation time) and the document sent, the base of the next delta.
#[derive(Default)]
struct WindowState {
    version: u64,
    compared: Option<serde_json::Value>,
    document: Option<serde_json::Value>,
}

impl WindowState {
    /// Publishes `computed` in `slot` unless it shows what was last published (a refresh
    /// publishes anyway, as a snapshot for everyone).
    fn publish(
        &mut self,
        key: &ScopeKey,
        slot: &ScopeSlot,
        computed: Computation,
        refresh: bool,
        now: chrono::DateTime<Utc>,
    ) {
        if !refresh && self.compared.as_ref() == Some(&computed.compared) {
            return;
        }
        let version = (self.version + 1).max(now.timestamp_millis().max(0) as u64);
        let Computation { figures, document, compared, .. } = computed;
        match serde_json::to_string(&figures.message(key, version)) {
            Ok(text) => {
                let delta = match (&self.document, &document) {
                    (Some(previous), Some(current)) if !refresh && self.version > 0 => {
                        delta_message(key, self.version, version, previous, current, text.len())
                            .map(|d| (self.version, d))
                    }
                    _ => None,
                };
                METRICS.snapshots_sent.inc();
                slot.latest.send_replace(Some(Arc::new(Published {
                    version,
                    snapshot: Utf8Bytes::from(text),
                    delta,
                })));
                *self = WindowState { version, compared: Some(compared), document };
            }
            Err(error) => tracing::error!(%error, "snapshot not serializable"),
        }
    }
}

async fn run_unit(hub: Arc<HubInner>, key: UnitKey, slot: Arc<UnitSlot>) {
    let Some(unit) = hub.catalog.get(&key.0).cloned() else {
        forget_unit(&hub, &key, &slot);
        return;
    };
    let mut redis = hub.redis.clone();
    let mut states: HashMap<Window, WindowState> = HashMap::new();
    let mut pacer = Pacer::default();
    loop {
        pacer.computing(Instant::now());
        let now = hub.clock.now();
        let mut wake_at = Instant::now() + REFRESH_EVERY;
        let windows: Vec<(Window, Arc<ScopeSlot>)> =
            slot.windows.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let periods: Vec<Window> = windows.iter().map(|(window, _)| *window).collect();
        match compute_unit(&hub, &mut redis, &unit, key.1, &periods, now).await {
            Ok(computed) => {
                hub.healthy.store(true, Ordering::Relaxed);
                if let Some(due_ms) = computed.iter().filter_map(|c| c.next_due_ms).min() {
                    // Wake just after the due time: an item is overdue once now is past it.
                    let wait_ms = (due_ms - now.timestamp_millis() + 1).max(0) as u64;
                    wake_at = wake_at.min(Instant::now() + Duration::from_millis(wait_ms));
                }
                let refresh = slot.refresh.swap(false, Ordering::Relaxed);
                for ((window, scope), computation) in windows.iter().zip(computed) {
                    let scope_key = (key.0.clone(), *window, key.1);
                    states.entry(*window).or_default().publish(
                        &scope_key,
                        scope,
                        computation,
                        refresh,
                        now,
                    );
                }
            }
            Err(error) => {
                hub.healthy.store(false, Ordering::Relaxed);
                tracing::warn!(%error, unit = %key.0, "figures not computed; retrying");
                wake_at = Instant::now() + RETRY_AFTER;
            }
        }
        let all_gone = async {
            futures_util::future::join_all(windows.iter().map(|(_, scope)| scope.latest.closed()))
                .await;
        };
        wait_for_work(&slot.dirty, wake_at, all_gone).await;
        drop(windows);
        if drop_unused_windows(&hub, &key, &slot, &mut states) {
            return;
        }
        if !slot.added.swap(false, Ordering::Relaxed) {
            let viewers: usize = slot
                .windows
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .iter()
                .map(|(_, scope)| scope.viewers.load(Ordering::Relaxed))
                .sum();
            tokio::time::sleep_until(pacer.next_computation_at(interval_for(viewers))).await;
        }
    }
}

/// Waits for a reason to compute again: a change, the scope's next wake time, or `gone` (its
/// last subscriber left). A change notified while nobody waited is not lost: `Notify` keeps it.
async fn wait_for_work(
    dirty: &Notify,
    wake_at: Instant,
    gone: impl std::future::Future<Output = ()>,
) {
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

    /// When the next computation may start (now, if the unit has been quiet for `interval`).
    fn next_computation_at(&self, interval: Duration) -> Instant {
        match self.last_computation {
            Some(at) => at + interval,
            None => Instant::now(),
        }
    }
}

/// The coalescing interval of a unit watched by `viewers` connections: [`MIN_INTERVAL`], or
/// longer so that its updates cause at most [`DELIVERIES_PER_UNIT_PER_SECOND`], up to
/// [`MAX_INTERVAL`].
///
/// A unit no screen watches (only the alert evaluation follows it) is computed at most once per
/// [`MAX_INTERVAL`]: an alert needs its figures within seconds, not many times a second.
fn interval_for(viewers: usize) -> Duration {
    if viewers == 0 {
        return MAX_INTERVAL;
    }
    let bounded = Duration::from_secs_f64(viewers as f64 / DELIVERIES_PER_UNIT_PER_SECOND as f64);
    bounded.clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// Forgets a unit task that cannot run (its unit is not in the catalog).
fn forget_unit(hub: &HubInner, key: &UnitKey, slot: &UnitSlot) {
    let mut registry = hub.registry.lock().unwrap_or_else(|p| p.into_inner());
    registry.units.remove(key);
    for (window, _) in slot.windows.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
        registry.scopes.remove(&(key.0.clone(), window, key.1));
    }
    METRICS.live_scopes.set(registry.scopes.len() as i64);
}

/// Drops the windows nobody subscribes to any more, and the unit itself (true) once it has
/// none. Checked under the registry's lock, which `subscribe` also holds while it adds a
/// receiver or a window, so a subscriber arriving meanwhile is never lost.
fn drop_unused_windows(
    hub: &HubInner,
    key: &UnitKey,
    slot: &UnitSlot,
    states: &mut HashMap<Window, WindowState>,
) -> bool {
    let mut registry = hub.registry.lock().unwrap_or_else(|p| p.into_inner());
    let mut windows = slot.windows.lock().unwrap_or_else(|p| p.into_inner());
    windows.retain(|(window, scope)| {
        if scope.latest.receiver_count() > 0 {
            return true;
        }
        registry.scopes.remove(&(key.0.clone(), *window, key.1));
        states.remove(window);
        false
    });
    let empty = windows.is_empty();
    if empty {
        registry.units.remove(key);
    }
    METRICS.live_scopes.set(registry.scopes.len() as i64);
    empty
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
                    wait_for_work(&dirty, Instant::now() + REFRESH_EVERY, std::future::pending())
                        .await;
                    tokio::time::sleep_until(pacer.next_computation_at(MIN_INTERVAL)).await;
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

    #[test]
    fn a_unit_watched_by_many_screens_is_computed_less_often() {
        assert_eq!(interval_for(0), MAX_INTERVAL, "followed by the alert evaluation only");
        assert_eq!(interval_for(1), MIN_INTERVAL);
        assert_eq!(
            interval_for(5_000),
            MIN_INTERVAL,
            "5,000 screens at 150 ms: 33k deliveries a second"
        );
        let ten_thousand = interval_for(10_000);
        assert!(
            ten_thousand > Duration::from_millis(220) && ten_thousand < Duration::from_millis(225),
            "10,000 screens: 4.5 updates a second, 45k deliveries: {ten_thousand:?}"
        );
        assert_eq!(interval_for(1_000_000), MAX_INTERVAL);
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_change_after_a_quiet_period_is_computed_at_once() {
        assert_eq!(pacing_of(&[5_000], 6_000).await, vec![0, 5_000]);
    }

    #[tokio::test(start_paused = true)]
    async fn changes_within_the_interval_are_merged_into_one_computation_at_its_end() {
        // A first change at once, then ten changes 10 ms apart (within one interval): one
        // computation at the end of the interval (and one more for the change that came during
        // that wait), not ten.
        let interval = MIN_INTERVAL.as_millis() as u64;
        assert!(interval > 100, "the burst fits in one interval");
        let burst: Vec<u64> =
            std::iter::once(5_000).chain((1..=10).map(|i| 5_000 + 10 * i)).collect();
        let computed = pacing_of(&burst, 7_000).await;
        assert_eq!(computed, vec![0, 5_000, 5_000 + interval, 5_000 + 2 * interval]);
    }

    #[tokio::test(start_paused = true)]
    async fn sustained_changes_are_computed_once_per_interval() {
        let every_10ms: Vec<u64> = (0..200).map(|i| 1_000 + 10 * i).collect();
        let computed = pacing_of(&every_10ms, 3_000).await;
        let gaps: Vec<u64> = computed.windows(2).skip(1).map(|w| w[1] - w[0]).collect();
        assert!(gaps.iter().all(|gap| *gap >= MIN_INTERVAL.as_millis() as u64), "{computed:?}");
        assert!(
            computed.len() <= 2 + 2_000 / MIN_INTERVAL.as_millis() as usize + 1,
            "{computed:?}"
        );
    }
}
