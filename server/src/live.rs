//! Live figures: the hub and the WebSocket endpoint `GET /api/v1/live`.
//!
//! The hub keeps one task per subscribed (unit, window) scope. That task computes the scope's
//! summary once, serializes the snapshot message once, and publishes the bytes in a
//! `tokio::sync::watch` channel that every subscriber of the scope reads. A watch channel keeps
//! only the newest value, so a slow client simply skips to the latest snapshot: it can never
//! lag, fill a queue, or slow anyone else, and work per change is per scope, not per client.
//!
//! A scope task recomputes when
//! - Redis pub/sub says one of its units changed (any replica's ingest; see [`listen_for_changes`]),
//! - the earliest due time in the scope passes (the deadline engine: overdue needs no event),
//! - or every [`REFRESH_EVERY`], so sliding windows and "today" roll over,
//!
//! at most once per [`MIN_INTERVAL`] (changes in between are coalesced), and publishes only
//! when the figures differ. It ends when its last subscriber leaves.

use crate::aggregate::Keys;
use crate::catalog::Catalog;
use crate::summary;
use axum::extract::ws::{Message, Utf8Bytes, WebSocket};
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use ioc_shared::live::{ClientMessage, ServerMessage, HEARTBEAT_SECONDS, MAX_SUBSCRIPTIONS_PER_CONNECTION};
use ioc_shared::summary::{Summary, Window};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::StreamMap;

/// Shortest time between two computations of one scope: changes within it are coalesced.
pub const MIN_INTERVAL: Duration = Duration::from_millis(250);
/// Longest time between two computations of one scope.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// How long to wait before retrying when Redis did not answer.
const RETRY_AFTER: Duration = Duration::from_secs(2);
/// How often the server pings each client.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A client that sends nothing (not even a pong) for this long is gone.
const CLIENT_SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// A send that takes longer than this means the client is not reading: drop it.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Which figures a subscriber wants.
pub type ScopeKey = (String, Window);

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
    /// False while Redis does not answer: heartbeats stop so screens show their data aging.
    healthy: AtomicBool,
}

struct ScopeSlot {
    /// The latest snapshot message, serialized once for all subscribers.
    latest: watch::Sender<Option<Utf8Bytes>>,
    /// Set when the scope's figures may have changed.
    dirty: Notify,
}

impl Hub {
    pub fn new(redis: ConnectionManager, keys: Keys, catalog: Catalog) -> Hub {
        Hub {
            inner: Arc::new(HubInner {
                scopes: Mutex::new(HashMap::new()),
                redis,
                keys,
                catalog,
                healthy: AtomicBool::new(true),
            }),
        }
    }

    /// Receives the scope's snapshots; the current one (once computed) comes first.
    pub fn subscribe(&self, key: ScopeKey) -> watch::Receiver<Option<Utf8Bytes>> {
        let mut scopes = self.inner.scopes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = scopes.get(&key) {
            return slot.latest.subscribe();
        }
        let (latest, receiver) = watch::channel(None);
        let slot = Arc::new(ScopeSlot { latest, dirty: Notify::new() });
        scopes.insert(key.clone(), slot.clone());
        tokio::spawn(run_scope(self.inner.clone(), key, slot));
        receiver
    }

    /// Marks every scope containing one of `units` as changed; `*` marks all.
    pub fn mark_changed(&self, units: &[String]) {
        let scopes = self.inner.scopes.lock().unwrap_or_else(|p| p.into_inner());
        let all = units.iter().any(|u| u == "*");
        for ((unit, _), slot) in scopes.iter() {
            if all || units.contains(unit) {
                slot.dirty.notify_one();
            }
        }
    }

    /// Number of scopes being computed (for tests and metrics).
    pub fn active_scopes(&self) -> usize {
        self.inner.scopes.lock().map(|s| s.len()).unwrap_or(0)
    }

    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    fn healthy(&self) -> bool {
        self.inner.healthy.load(Ordering::Relaxed)
    }
}

async fn run_scope(hub: Arc<HubInner>, key: ScopeKey, slot: Arc<ScopeSlot>) {
    let Some(unit) = hub.catalog.get(&key.0).cloned() else {
        remove_scope(&hub, &key);
        return;
    };
    let mut redis = hub.redis.clone();
    let mut version: u64 = 0;
    let mut last: Option<Summary> = None;
    loop {
        let now = Utc::now();
        let mut wake_at = Instant::now() + REFRESH_EVERY;
        match summary::compute(&mut redis, &hub.keys, &hub.catalog, &unit, key.1, now).await {
            Ok(computed) => {
                hub.healthy.store(true, Ordering::Relaxed);
                if let Some(due_ms) = computed.next_due_ms {
                    // Wake just after the due time: an item is overdue once now is past it.
                    let wait_ms = (due_ms - now.timestamp_millis() + 1).max(0) as u64;
                    wake_at = wake_at.min(Instant::now() + Duration::from_millis(wait_ms));
                }
                if !same_figures(last.as_ref(), &computed.summary) {
                    version = (version + 1).max(now.timestamp_millis().max(0) as u64);
                    let message = ServerMessage::Snapshot {
                        unit: key.0.clone(),
                        window: key.1,
                        version,
                        data: Box::new(computed.summary.clone()),
                    };
                    match serde_json::to_string(&message) {
                        Ok(text) => {
                            slot.latest.send_replace(Some(Utf8Bytes::from(text)));
                            last = Some(computed.summary);
                        }
                        Err(error) => tracing::error!(%error, "snapshot not serializable"),
                    }
                }
            }
            Err(error) => {
                hub.healthy.store(false, Ordering::Relaxed);
                tracing::warn!(%error, unit = %key.0, "summary not computed; retrying");
                wake_at = Instant::now() + RETRY_AFTER;
            }
        }
        let computed_at = Instant::now();
        tokio::select! {
            _ = slot.dirty.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
            _ = slot.latest.closed() => {}
        }
        if slot.latest.receiver_count() == 0 && remove_scope_if_unused(&hub, &key, &slot) {
            return;
        }
        tokio::time::sleep_until(computed_at + MIN_INTERVAL).await;
    }
}

fn remove_scope(hub: &HubInner, key: &ScopeKey) {
    hub.scopes.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
}

/// Removes the scope unless a subscriber arrived meanwhile (checked under the map's lock, which
/// `subscribe` also holds while it adds a receiver).
fn remove_scope_if_unused(hub: &HubInner, key: &ScopeKey, slot: &Arc<ScopeSlot>) -> bool {
    let mut scopes = hub.scopes.lock().unwrap_or_else(|p| p.into_inner());
    if slot.latest.receiver_count() == 0 {
        scopes.remove(key);
        true
    } else {
        false
    }
}

/// Whether two summaries show the same figures (the computation time aside).
fn same_figures(last: Option<&Summary>, new: &Summary) -> bool {
    match last {
        None => false,
        Some(last) => {
            let mut a = last.clone();
            a.as_of.clear();
            let mut b = new.clone();
            b.as_of.clear();
            a == b
        }
    }
}

/// Follows the Redis `changed` channel, on which whichever replica applied an aggregate change
/// announces the units it touched, and marks those scopes dirty. Reconnects forever; after a
/// reconnect every scope is marked dirty, since announcements may have been missed.
pub async fn listen_for_changes(client: redis::Client, keys: Keys, hub: Hub) {
    let mut backoff = Duration::from_millis(200);
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(keys.changed_channel()).await {
                Ok(()) => {
                    backoff = Duration::from_millis(200);
                    hub.mark_changed(&["*".to_owned()]);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let units: Vec<String> = message
                            .get_payload::<String>()
                            .ok()
                            .and_then(|text| serde_json::from_str(&text).ok())
                            .unwrap_or_else(|| vec!["*".to_owned()]);
                        hub.mark_changed(&units);
                    }
                    tracing::warn!("Redis change feed closed; reconnecting");
                }
                Err(error) => tracing::warn!(%error, "cannot subscribe to Redis change feed"),
            },
            Err(error) => tracing::warn!(%error, "cannot connect to Redis change feed"),
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// What the receive half of a connection tells its send half.
enum Command {
    Subscribe(ScopeKey),
    Unsubscribe(ScopeKey),
    Error(String, Option<String>),
}

/// Serves one WebSocket connection: a receive half parsing client messages and a send half
/// writing snapshots, heartbeats and pings, joined so that either ending ends both.
pub async fn serve_socket(socket: WebSocket, hub: Hub) {
    let (mut sink, mut stream) = socket.split();
    let (commands, mut command_rx) = mpsc::channel::<Command>(16);

    let receive = async move {
        loop {
            let message = match tokio::time::timeout(CLIENT_SILENCE_LIMIT, stream.next()).await {
                Err(_) | Ok(None) | Ok(Some(Err(_))) => break,
                Ok(Some(Ok(message))) => message,
            };
            let command = match message {
                Message::Text(text) => parse_client_message(&text),
                Message::Binary(_) => Command::Error("send JSON text messages, not binary".into(), None),
                Message::Close(_) => break,
                Message::Ping(_) | Message::Pong(_) => continue,
            };
            if commands.send(command).await.is_err() {
                break;
            }
        }
    };

    let send = async move {
        let mut subscriptions: StreamMap<ScopeKey, WatchStream<Option<Utf8Bytes>>> = StreamMap::new();
        let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECONDS));
        let mut ping = tokio::time::interval(PING_EVERY);
        loop {
            let outgoing = tokio::select! {
                command = command_rx.recv() => match command {
                    None => break,
                    Some(Command::Subscribe(key)) => {
                        if hub.catalog().get(&key.0).is_none() {
                            error_message(format!("unknown unit `{}`", key.0), Some(key.0))
                        } else if subscriptions.contains_key(&key) {
                            None
                        } else if subscriptions.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
                            error_message(format!("at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection"), Some(key.0))
                        } else {
                            subscriptions.insert(key.clone(), WatchStream::new(hub.subscribe(key)));
                            None
                        }
                    }
                    Some(Command::Unsubscribe(key)) => {
                        if subscriptions.remove(&key).is_none() {
                            error_message(format!("not subscribed to `{}` {}", key.0, key.1.as_str()), Some(key.0))
                        } else {
                            None
                        }
                    }
                    Some(Command::Error(message, unit)) => error_message(message, unit),
                },
                Some((_, snapshot)) = subscriptions.next(), if !subscriptions.is_empty() => snapshot.map(Message::Text),
                _ = heartbeat.tick() => {
                    if hub.healthy() {
                        let beat = ServerMessage::Heartbeat { at: ioc_shared::time::to_local_rfc3339(Utc::now()) };
                        serde_json::to_string(&beat).ok().map(|t| Message::Text(t.into()))
                    } else {
                        None
                    }
                }
                _ = ping.tick() => Some(Message::Ping(Default::default())),
            };
            if let Some(message) = outgoing {
                match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
                    Ok(Ok(())) => {}
                    _ => break,
                }
            }
        }
        let _ = sink.close().await;
    };

    tokio::select! {
        _ = receive => {}
        _ = send => {}
    }
}

fn error_message(message: String, unit: Option<String>) -> Option<Message> {
    serde_json::to_string(&ServerMessage::Error { message, unit }).ok().map(|t| Message::Text(t.into()))
}

fn parse_client_message(text: &str) -> Command {
    match serde_json::from_str::<ClientMessage>(text) {
        Ok(ClientMessage::Subscribe { unit, window }) => Command::Subscribe((unit, window)),
        Ok(ClientMessage::Unsubscribe { unit, window }) => Command::Unsubscribe((unit, window)),
        Err(error) => Command::Error(
            format!(
                "cannot read message ({error}); expected {{\"type\":\"subscribe\"|\"unsubscribe\",\"unit\":\"<code>\",\"window\":\"today\"|\"24h\"|\"7d\"|\"30d\"}}"
            ),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bad_window_is_explained() {
        let Command::Error(message, _) = parse_client_message(r#"{"type":"subscribe","unit":"001","window":"1y"}"#) else {
            panic!("expected an error");
        };
        assert!(message.contains("unknown variant `1y`"), "{message}");
    }
}
