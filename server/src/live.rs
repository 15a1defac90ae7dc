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
use crate::app::AppState;
use crate::auth::{self, Caller};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use ioc_shared::live::{ClientMessage, ServerMessage, HEARTBEAT_SECONDS, MAX_SUBSCRIPTIONS_PER_CONNECTION};
use ioc_shared::summary::{Summary, Window};
use redis::aio::ConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch, Notify};
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

/// Follows two Redis channels: `changed`, on which whichever replica applied an aggregate
/// change announces the units it touched (those scopes are marked dirty), and `revoked`, on which
/// logouts and revocations are announced (passed on to live connections). Reconnects forever;
/// after a reconnect every scope is marked dirty, since announcements may have been missed.
pub async fn listen_to_redis(client: redis::Client, keys: Keys, hub: Hub, revocations: broadcast::Sender<String>) {
    let mut backoff = Duration::from_millis(200);
    let changed = keys.changed_channel();
    let revoked = keys.revoked_channel();
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&[changed.as_str(), revoked.as_str()]).await {
                Ok(()) => {
                    backoff = Duration::from_millis(200);
                    hub.mark_changed(&["*".to_owned()]);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let payload = message.get_payload::<String>().unwrap_or_default();
                        if message.get_channel_name() == revoked {
                            let _ = revocations.send(payload);
                            continue;
                        }
                        let units: Vec<String> =
                            serde_json::from_str(&payload).unwrap_or_else(|_| vec!["*".to_owned()]);
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
    /// Close the connection with this code and reason.
    Close(u16, &'static str),
}

/// Inbound messages a client may send per second, sustained…
const MESSAGES_PER_SECOND: f64 = 10.0;
/// …and in one burst. A client beyond this is closed: dashboards send a handful of messages.
const MESSAGE_BURST: f64 = 30.0;
/// How often a connection re-checks its credential (idle expiry, missed revocations).
const RECHECK_EVERY: Duration = Duration::from_secs(30);
/// WebSocket close codes (RFC 6455).
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
/// How long a closing connection waits for the client's answer to its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Serves one WebSocket connection of an authenticated caller: a receive half parsing client
/// messages and a send half writing snapshots, heartbeats and pings. Every subscription is checked against the caller's scope; the connection
/// closes when its session or display is revoked, or a recheck finds it no longer valid.
pub async fn serve_socket(socket: WebSocket, state: AppState, caller: Caller) {
    let (mut sink, mut stream) = socket.split();
    let (commands, mut command_rx) = mpsc::channel::<Command>(16);
    let hub = state.hub.clone();

    // Set when the send half has finished (after its close frame, if any).
    let (send_done, mut send_finished) = watch::channel(false);

    let receive = async move {
        let mut budget = MessageBudget::new();
        // After asking to close, keep reading (and ignoring) until the client answers the
        // close: closing a socket with unread input resets it, and the client would never see
        // the reason.
        let mut closing = false;
        loop {
            let next = tokio::select! {
                next = tokio::time::timeout(CLIENT_SILENCE_LIMIT, stream.next()) => next,
                _ = send_finished.changed() => {
                    let _ = tokio::time::timeout(CLOSE_GRACE, async { while let Some(Ok(_)) = stream.next().await {} }).await;
                    break;
                }
            };
            let message = match next {
                Err(_) | Ok(None) => break,
                Ok(Some(Err(error))) => {
                    if is_too_big(&error) && !closing {
                        let _ = commands.send(Command::Close(CLOSE_TOO_BIG, "message larger than 64 KiB")).await;
                    }
                    break;
                }
                Ok(Some(Ok(message))) => message,
            };
            if closing {
                continue;
            }
            if matches!(message, Message::Text(_) | Message::Binary(_)) && !budget.take(Instant::now()) {
                let _ = commands.send(Command::Close(CLOSE_POLICY, "too many messages")).await;
                closing = true;
                continue;
            }
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
        let revocation_keys = caller.revocation_keys();
        let mut revocations = state.revocations.subscribe();
        let mut subscriptions: StreamMap<ScopeKey, WatchStream<Option<Utf8Bytes>>> = StreamMap::new();
        let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECONDS));
        let mut ping = tokio::time::interval(PING_EVERY);
        let mut recheck = tokio::time::interval_at(Instant::now() + RECHECK_EVERY, RECHECK_EVERY);
        let mut close: Option<(u16, &'static str)> = None;
        loop {
            let outgoing = tokio::select! {
                command = command_rx.recv() => match command {
                    None => break,
                    Some(Command::Subscribe(key)) => {
                        if let Err(refusal) = auth::authorize_unit(&state, &caller, &key.0).await {
                            error_message(refusal.message().to_owned(), Some(key.0))
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
                    Some(Command::Close(code, reason)) => {
                        close = Some((code, reason));
                        break;
                    }
                },
                Some((_, snapshot)) = subscriptions.next(), if !subscriptions.is_empty() => snapshot.map(Message::Text),
                notice = revocations.recv() => match notice {
                    Ok(key) if revocation_keys.contains(&key) => {
                        close = Some((CLOSE_POLICY, "session ended"));
                        break;
                    }
                    Ok(_) => None,
                    // Missed notices: check the credential itself.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if !matches!(auth::still_valid(&state, &caller).await, Ok(true)) {
                            close = Some((CLOSE_POLICY, "session ended"));
                            break;
                        }
                        None
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = recheck.tick() => {
                    // A database outage does not end the connection; a definite "no" does.
                    if matches!(auth::still_valid(&state, &caller).await, Ok(false)) {
                        close = Some((CLOSE_POLICY, "session ended"));
                        break;
                    }
                    None
                }
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
        if let Some((code, reason)) = close {
            let frame = CloseFrame { code, reason: reason.into() };
            let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
        }
        let _ = tokio::time::timeout(SEND_TIMEOUT, sink.close()).await;
        let _ = send_done.send(true);
    };

    // Each half ends the other: the send half by `send_done` (after which the receive half
    // drains briefly), the receive half by dropping its command sender (after which the send
    // half still sends what it was told, such as a close frame with its reason).
    tokio::join!(receive, send);
}

/// A token bucket of inbound messages: [`MESSAGE_BURST`] at once, refilled at
/// [`MESSAGES_PER_SECOND`].
struct MessageBudget {
    allowance: f64,
    last: Instant,
}

impl MessageBudget {
    fn new() -> MessageBudget {
        MessageBudget { allowance: MESSAGE_BURST, last: Instant::now() }
    }

    /// Spends one message; false when the budget is exhausted.
    fn take(&mut self, now: Instant) -> bool {
        let refill = now.duration_since(self.last).as_secs_f64() * MESSAGES_PER_SECOND;
        self.allowance = (self.allowance + refill).min(MESSAGE_BURST);
        self.last = now;
        if self.allowance < 1.0 {
            return false;
        }
        self.allowance -= 1.0;
        true
    }
}

/// Whether a read failed because the client sent more than the size limit.
fn is_too_big(error: &axum::Error) -> bool {
    let text = error.to_string();
    text.contains("too long") || text.contains("Space limit exceeded") || text.contains("too big")
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

    /// Deterministic time: the budget allows a burst, refuses beyond it, and refills with time.
    #[tokio::test(start_paused = true)]
    async fn the_message_budget_allows_a_burst_then_refills_at_the_sustained_rate() {
        let mut budget = MessageBudget::new();
        let burst = MESSAGE_BURST as usize;
        assert!((0..burst).all(|_| budget.take(Instant::now())));
        assert!(!budget.take(Instant::now()), "one past the burst is refused");
        tokio::time::advance(Duration::from_secs(1)).await;
        let refilled = (0..burst).take_while(|_| budget.take(Instant::now())).count();
        assert_eq!(refilled, MESSAGES_PER_SECOND as usize);
        tokio::time::advance(Duration::from_secs(60)).await;
        let after_a_pause = (0..2 * burst).take_while(|_| budget.take(Instant::now())).count();
        assert_eq!(after_a_pause, burst, "never more than the burst, however long the pause");
    }

    #[test]
    fn a_bad_window_is_explained() {
        let Command::Error(message, _) = parse_client_message(r#"{"type":"subscribe","unit":"001","window":"1y"}"#) else {
            panic!("expected an error");
        };
        assert!(message.contains("unknown variant `1y`"), "{message}");
    }
}
