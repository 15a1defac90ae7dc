//! The WebSocket protocol of `GET /api/v1/live`: a receive half parsing client messages and a
//! send half writing snapshots, heartbeats and pings, checked against the caller's scope.

use super::credentials::LiveCredentials;
use super::hub::{Hub, Latest, ScopeKey};
use crate::apply::status::FeedMonitor;
use crate::ingest::sources::SourceWatch;
use ioc_shared::live::SilentSource;
use crate::accounts::access::{self, Caller};
use crate::accounts::Accounts;
use crate::catalog::Catalog;
use crate::metrics::METRICS;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use chrono::Utc;
use futures_util::{SinkExt, StreamExt};
use ioc_shared::live::{ClientMessage, FeedStatus, View, ServerMessage, HEARTBEAT_SECONDS, MAX_SUBSCRIPTIONS_PER_CONNECTION};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::WatchStream;
use tokio_stream::StreamMap;

/// How often the server pings each client.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A client that sends nothing (not even a pong) for this long is gone.
const CLIENT_SILENCE_LIMIT: Duration = Duration::from_secs(60);
/// A send that takes longer than this means the client is not reading: drop it.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What a live connection needs from the server.
#[derive(Clone)]
pub struct SocketContext {
    pub hub: Hub,
    pub catalog: Catalog,
    pub accounts: Accounts,
    /// A session ends after this long without activity (for a connection that missed notices).
    pub session_idle: Duration,
    /// Revocation notices, from every replica and from the periodic recheck.
    pub revocations: broadcast::Sender<String>,
    /// Where the connection's credential is registered for the periodic recheck (one query per
    /// interval for all connections, [`super::credentials`]).
    pub credentials: LiveCredentials,
    /// Turns true when the server shuts down: the connection closes with 1012.
    pub shutdown: watch::Receiver<bool>,
    /// How current the figures are, for every heartbeat.
    pub feed: FeedMonitor,
    /// Source systems gone silent, for the heartbeats of screens showing units they feed.
    pub sources: SourceWatch,
}

/// What the receive half of a connection tells its send half.
enum Command {
    /// A scope, and whether the client takes deltas.
    Subscribe(ScopeKey, bool),
    Unsubscribe(ScopeKey),
    Error(String, Option<String>),
    /// Close the connection with this code and reason.
    Close(u16, &'static str),
}

/// Inbound messages a client may send per second, sustained…
const MESSAGES_PER_SECOND: f64 = 10.0;
/// …and in one burst. A client beyond this is closed: dashboards send a handful of messages.
const MESSAGE_BURST: f64 = 30.0;
/// WebSocket close codes (RFC 6455).
const CLOSE_POLICY: u16 = 1008;
const CLOSE_TOO_BIG: u16 = 1009;
/// "Service restart": the server is shutting down; clients reconnect (to another replica) at once.
pub const CLOSE_SERVICE_RESTART: u16 = 1012;
/// How long a closing connection waits for the client's answer to its close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

/// Serves one WebSocket connection of an authenticated caller: a receive half parsing client
/// messages and a send half writing snapshots, heartbeats and pings. Every subscription is checked against the caller's scope; the connection
/// closes when its session or display is revoked, or a recheck finds it no longer valid.
pub async fn serve_socket(socket: WebSocket, context: SocketContext, caller: Caller) {
    let _counted = context.hub.connection_opened();
    // Rechecked with every other connection's credential until the connection closes.
    let _registered = context.credentials.register(&caller);
    let (mut sink, mut stream) = socket.split();
    let (commands, mut command_rx) = mpsc::channel::<Command>(16);
    let hub = context.hub.clone();
    let mut shutdown = context.shutdown.clone();

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
        let mut revocations = context.revocations.subscribe();
        let mut subscriptions: StreamMap<ScopeKey, WatchStream<Latest>> = StreamMap::new();
        // Per subscription: whether it takes deltas, and the version it was last sent.
        let mut sent: std::collections::HashMap<ScopeKey, Delivered> = std::collections::HashMap::new();
        let mut heartbeat = tokio::time::interval(Duration::from_secs(HEARTBEAT_SECONDS));
        let mut ping = tokio::time::interval(PING_EVERY);
        let mut close: Option<(u16, &'static str)> = None;
        loop {
            let outgoing = tokio::select! {
                command = command_rx.recv() => match command {
                    None => break,
                    Some(Command::Subscribe(key, deltas)) => {
                        if let Err(refusal) = access::authorize_unit(&context.catalog, &context.accounts, &caller, &key.0).await {
                            error_message(refusal.message().to_owned(), Some(key.0))
                        } else if !subscriptions.contains_key(&key) && subscriptions.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION {
                            error_message(format!("at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection"), Some(key.0))
                        } else {
                            // New, or again (a client out of step): the current snapshot comes
                            // first either way, as a fresh watch stream yields the current value.
                            subscriptions.insert(key.clone(), WatchStream::new(hub.subscribe(key.clone())));
                            sent.insert(key, Delivered { deltas, version: None });
                            None
                        }
                    }
                    Some(Command::Unsubscribe(key)) => {
                        sent.remove(&key);
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
                Some((key, published)) = subscriptions.next(), if !subscriptions.is_empty() => {
                    match (published, sent.get_mut(&key)) {
                        (Some(published), Some(delivered)) => Some(Message::Text(delivered.next_message(&published))),
                        _ => None,
                    }
                }
                notice = revocations.recv() => match notice {
                    Ok(key) if revocation_keys.contains(&key) => {
                        close = Some((CLOSE_POLICY, "session ended"));
                        break;
                    }
                    Ok(_) => None,
                    // Missed notices: check the credential itself.
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        if !matches!(access::still_valid(&context.accounts, context.session_idle, &caller).await, Ok(true)) {
                            close = Some((CLOSE_POLICY, "session ended"));
                            break;
                        }
                        None
                    }
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = heartbeat.tick() => {
                    // Always sent: a screen learns that it is connected, and from `status`
                    // whether its figures are current.
                    let health = context.feed.current();
                    let status = if health.status == FeedStatus::Live && !hub.healthy() { FeedStatus::Unavailable } else { health.status };
                    let beat = ServerMessage::Heartbeat {
                        at: ioc_shared::time::to_local_rfc3339(Utc::now()),
                        status,
                        lag_seconds: health.lag_seconds,
                        silent_sources: silent_for(&context, subscriptions.keys()),
                    };
                    serde_json::to_string(&beat).ok().map(|t| Message::Text(t.into()))
                }
                _ = ping.tick() => Some(Message::Ping(Default::default())),
                () = stopping(&mut shutdown) => {
                    close = Some((CLOSE_SERVICE_RESTART, "service restart"));
                    break;
                }
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

/// What one subscription of a connection has been sent.
struct Delivered {
    /// False for a client that asked for snapshots only.
    deltas: bool,
    /// The version it was last sent (none before its first snapshot).
    version: Option<u64>,
}

impl Delivered {
    /// The message for this subscriber: the delta when it holds the delta's base, otherwise
    /// (a skipped publication, the first message, or no deltas wanted) the whole snapshot.
    fn next_message(&mut self, published: &super::hub::Published) -> axum::extract::ws::Utf8Bytes {
        let message = match &published.delta {
            Some((base, delta)) if self.deltas && self.version == Some(*base) => {
                METRICS.deltas_delivered.inc();
                delta.clone()
            }
            _ => {
                METRICS.snapshots_delivered.inc();
                published.snapshot.clone()
            }
        };
        self.version = Some(published.version);
        message
    }
}

/// The silent sources that feed any of the subscribed units.
fn silent_for<'a>(context: &SocketContext, subscribed: impl Iterator<Item = &'a ScopeKey>) -> Vec<SilentSource> {
    let units: Vec<&str> = subscribed.map(|(unit, _, _)| unit.as_str()).collect();
    context
        .sources
        .silent()
        .into_iter()
        .filter(|silent| units.iter().any(|unit| silent.concerns(&context.catalog, unit)))
        .map(|silent| SilentSource { source: silent.source, since: ioc_shared::time::to_local_rfc3339(silent.since) })
        .collect()
}

/// Resolves once the server starts shutting down (or its state is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
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
        Ok(ClientMessage::Subscribe { view: View::Score, window, .. }) if !window.is_calendar() => {
            Command::Error("the score view takes the period as its window: month, quarter or year".into(), None)
        }
        Ok(ClientMessage::Subscribe { unit, window, view, deltas }) => Command::Subscribe((unit, window, view), deltas),
        Ok(ClientMessage::Unsubscribe { unit, window, view }) => Command::Unsubscribe((unit, window, view)),
        Err(error) => Command::Error(
            format!(
                "cannot read message ({error}); expected {{\"type\":\"subscribe\"|\"unsubscribe\",\"unit\":\"<code>\",\"window\":\"today\"|\"24h\"|\"7d\"|\"30d\"|\"month\"|\"quarter\"|\"year\",\"view\"?:\"summary\"|\"score\",\"deltas\"?:true|false}}"
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

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 2000, ..Default::default() })]

        /// Fuzzing the client message parser: any text gets an answer, never a panic, and
        /// only well-formed subscribe/unsubscribe messages become subscriptions.
        #[test]
        fn any_client_text_is_answered(text in proptest::prelude::any::<String>()) {
            match parse_client_message(&text) {
                Command::Subscribe(key, _) | Command::Unsubscribe(key) => {
                    let value: serde_json::Value = serde_json::from_str(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(e.to_string()))?;
                    proptest::prop_assert_eq!(value["unit"].as_str(), Some(key.0.as_str()));
                }
                Command::Error(message, _) => proptest::prop_assert!(message.contains("expected")),
                Command::Close(..) => proptest::prop_assert!(false, "parsing never closes"),
            }
        }

        #[test]
        fn json_shaped_client_messages_are_answered(
            kind in proptest::prop_oneof!["subscribe", "unsubscribe", "ping", ".*"],
            unit in ".*",
            window in proptest::prop_oneof!["today", "24h", "7d", "30d", ".*"],
        ) {
            let text = serde_json::json!({"type": kind, "unit": unit, "window": window}).to_string();
            let known = matches!(kind.as_str(), "subscribe" | "unsubscribe") && ioc_shared::summary::Window::parse(&window).is_some();
            match parse_client_message(&text) {
                Command::Subscribe(key, _) | Command::Unsubscribe(key) => {
                    proptest::prop_assert!(known);
                    proptest::prop_assert_eq!(key.0, unit);
                }
                Command::Error(..) => proptest::prop_assert!(!known),
                Command::Close(..) => proptest::prop_assert!(false, "parsing never closes"),
            }
        }
    }

    fn published(version: u64, delta_base: Option<u64>) -> super::super::hub::Published {
        super::super::hub::Published {
            version,
            snapshot: format!("snapshot {version}").into(),
            delta: delta_base.map(|base| (base, format!("delta {base}→{version}").into())),
        }
    }

    #[test]
    fn a_subscriber_gets_deltas_only_from_the_version_it_holds() {
        let mut delivered = Delivered { deltas: true, version: None };
        assert_eq!(delivered.next_message(&published(5, Some(4))).as_str(), "snapshot 5", "first message: the whole figures");
        assert_eq!(delivered.next_message(&published(6, Some(5))).as_str(), "delta 5→6");
        // Version 7 was skipped (a slow reader): 8's delta does not fit, the snapshot does.
        assert_eq!(delivered.next_message(&published(8, Some(7))).as_str(), "snapshot 8");
        assert_eq!(delivered.next_message(&published(9, Some(8))).as_str(), "delta 8→9");
        // A refresh (no delta) brings the snapshot.
        assert_eq!(delivered.next_message(&published(10, None)).as_str(), "snapshot 10");
    }

    #[test]
    fn a_subscriber_that_asked_for_snapshots_only_never_gets_a_delta() {
        let mut delivered = Delivered { deltas: false, version: None };
        for version in 5..10 {
            assert_eq!(delivered.next_message(&published(version, Some(version - 1))).as_str(), format!("snapshot {version}"));
        }
    }

    #[test]
    fn a_bad_window_is_explained() {
        let Command::Error(message, _) = parse_client_message(r#"{"type":"subscribe","unit":"001","window":"1y"}"#) else {
            panic!("expected an error");
        };
        assert!(message.contains("unknown variant `1y`"), "{message}");
    }
}
