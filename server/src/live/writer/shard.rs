//! A writer shard: the send halves of many connections, the scopes they follow (each once), and
//! one timer and one revocation receiver for all of them.

use super::connection::{Connection, ConnectionId, ConnectionWaker, Delivered, Progress, Woken};
use super::heartbeat::Heartbeat;
use super::{Attached, Request};
use crate::accounts::access::{self, Caller};
use crate::live::context::SocketContext;
use crate::live::hub::{Latest, ScopeKey};
use crate::live::protocol::{
    error_frame, CLOSE_POLICY, CLOSE_SERVICE_RESTART, HEARTBEAT_SECONDS, PING_EVERY, SEND_TIMEOUT,
};
use axum::extract::ws::Message;
use ioc_shared::live::MAX_SUBSCRIPTIONS_PER_CONNECTION;
use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::task::Waker;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::Instant;

/// One scope followed by a shard: a receiver to read its newest publication, and the task that
/// tells the shard when there is a new one.
struct ScopeFeed {
    receiver: watch::Receiver<Latest>,
    forwarder: tokio::task::AbortHandle,
    subscribers: HashSet<ConnectionId>,
}

impl Drop for ScopeFeed {
    fn drop(&mut self) {
        // The forwarder holds a receiver too: the hub ends the scope once both are gone.
        self.forwarder.abort();
    }
}

/// A shard: the send halves of its connections, and the scopes they follow.
pub struct Shard {
    context: SocketContext,
    connections: HashMap<ConnectionId, Connection>,
    scopes: HashMap<ScopeKey, ScopeFeed>,
    /// Scope forwarders send the key of a scope that published here.
    published_tx: mpsc::UnboundedSender<ScopeKey>,
    published_rx: mpsc::UnboundedReceiver<ScopeKey>,
    woken: Arc<Woken>,
    /// The shard's own queue, for the credential recheck after missed revocation notices;
    /// weak, so that the queue closes (and the shard ends) once the writers let it go.
    requests: mpsc::WeakSender<Request>,
    /// Set once the server shuts down: every connection closes with 1012, new ones at once.
    stopping: bool,
}

impl Shard {
    pub fn new(context: SocketContext, requests: mpsc::WeakSender<Request>) -> Shard {
        let (published_tx, published_rx) = mpsc::unbounded_channel();
        Shard {
            context,
            connections: HashMap::new(),
            scopes: HashMap::new(),
            published_tx,
            published_rx,
            woken: Arc::default(),
            requests,
            stopping: false,
        }
    }

    pub async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
        let mut revocations = self.context.revocations.subscribe();
        let mut shutdown = self.context.shutdown.clone();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let woken = self.woken.clone();
        loop {
            tokio::select! {
                request = requests.recv() => match request {
                    Some(request) => self.handle(request),
                    None => break,
                },
                Some(key) = self.published_rx.recv() => self.publish(&key),
                ids = std::future::poll_fn(|cx| woken.poll_take(cx)) => {
                    let now = Instant::now();
                    for id in ids {
                        self.write(id, now);
                    }
                }
                notice = revocations.recv() => self.revoked(notice),
                _ = tick.tick() => self.on_tick(Instant::now()),
                _ = shutdown.wait_for(|stopping| *stopping), if !self.stopping => self.stop(),
            }
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Attach(attached) => self.attach(*attached),
            Request::Subscribe { id, key, deltas } => self.subscribe(id, key, deltas),
            Request::Unsubscribe { id, key } => {
                let Some(connection) = self.connections.get_mut(&id) else { return };
                if connection.subscriptions.remove(&key).is_none() {
                    let answer = error_frame(
                        format!("not subscribed to `{}` {}", key.0, key.1.as_str()),
                        Some(key.0.clone()),
                    );
                    self.queue(id, answer);
                } else {
                    connection.publications.retain(|(waiting, _)| *waiting != key);
                    self.leave_scope(id, &key);
                }
            }
            Request::Send { id, message } => self.queue(id, Some(message)),
            Request::Close { id, code, reason } => self.close(id, Some((code, reason))),
            Request::Detach { id } => self.close(id, None),
        }
    }

    fn attach(&mut self, attached: Attached) {
        let Attached { id, sink, caller, done } = attached;
        let now = Instant::now();
        let waker = Waker::from(Arc::new(ConnectionWaker { id, woken: self.woken.clone() }));
        let connection = Connection {
            sink,
            waker,
            revocation_keys: caller.revocation_keys(),
            caller,
            subscriptions: HashMap::new(),
            frames: VecDeque::new(),
            publications: VecDeque::new(),
            closing: false,
            waiting_since: None,
            next_heartbeat: now + Duration::from_secs(HEARTBEAT_SECONDS),
            next_ping: now + PING_EVERY,
            _done: done,
        };
        self.connections.insert(id, connection);
        if self.stopping {
            self.close(id, Some((CLOSE_SERVICE_RESTART, "service restart")));
            return;
        }
        // A screen learns at once that it is connected, and whether its figures are current.
        let beat = self.heartbeat_of(id, &Heartbeat::now(&self.context));
        self.queue(id, beat);
    }

    fn subscribe(&mut self, id: ConnectionId, key: ScopeKey, deltas: bool) {
        let Some(connection) = self.connections.get_mut(&id) else { return };
        if !connection.subscriptions.contains_key(&key)
            && connection.subscriptions.len() >= MAX_SUBSCRIPTIONS_PER_CONNECTION
        {
            let answer = error_frame(
                format!("at most {MAX_SUBSCRIPTIONS_PER_CONNECTION} subscriptions per connection"),
                Some(key.0.clone()),
            );
            self.queue(id, answer);
            return;
        }
        // New, or again (a client out of step): the current snapshot comes first either way.
        connection.subscriptions.insert(key.clone(), Delivered { deltas, version: None });
        let feed = match self.scopes.entry(key.clone()) {
            std::collections::hash_map::Entry::Occupied(entry) => entry.into_mut(),
            std::collections::hash_map::Entry::Vacant(entry) => {
                let receiver = self.context.hub.subscribe(key.clone());
                let forwarder =
                    tokio::spawn(forward(receiver.clone(), key.clone(), self.published_tx.clone()))
                        .abort_handle();
                entry.insert(ScopeFeed { receiver, forwarder, subscribers: HashSet::new() })
            }
        };
        if feed.subscribers.insert(id) {
            self.context.hub.viewing(&key, 1);
        }
        let current = feed.receiver.borrow().clone();
        if let (Some(published), Some(connection)) = (current, self.connections.get_mut(&id)) {
            connection.offer(&key, &published);
        }
        self.write(id, Instant::now());
    }

    /// Forgets `id` as a subscriber of `key`; the scope goes when its last subscriber here does.
    fn leave_scope(&mut self, id: ConnectionId, key: &ScopeKey) {
        if let Some(feed) = self.scopes.get_mut(key) {
            if feed.subscribers.remove(&id) {
                self.context.hub.viewing(key, -1);
            }
            if feed.subscribers.is_empty() {
                self.scopes.remove(key);
            }
        }
    }

    /// A scope published: every subscriber here gets it, in one pass.
    fn publish(&mut self, key: &ScopeKey) {
        let Some(feed) = self.scopes.get_mut(key) else { return };
        let Some(published) = feed.receiver.borrow_and_update().clone() else { return };
        let subscribers: Vec<ConnectionId> = feed.subscribers.iter().copied().collect();
        let now = Instant::now();
        for id in subscribers {
            if let Some(connection) = self.connections.get_mut(&id) {
                connection.offer(key, &published);
            }
            self.write(id, now);
        }
    }

    fn queue(&mut self, id: ConnectionId, message: Option<Message>) {
        let Some(connection) = self.connections.get_mut(&id) else { return };
        let Some(message) = message else { return };
        if connection.queue(message) {
            self.write(id, Instant::now());
        } else {
            self.remove(id);
        }
    }

    fn close(&mut self, id: ConnectionId, close: Option<(u16, &'static str)>) {
        let Some(connection) = self.connections.get_mut(&id) else { return };
        connection.close(close);
        self.write(id, Instant::now());
    }

    fn write(&mut self, id: ConnectionId, now: Instant) {
        let Some(connection) = self.connections.get_mut(&id) else { return };
        if connection.write(now) == Progress::Finished {
            self.remove(id);
        }
    }

    fn remove(&mut self, id: ConnectionId) {
        let Some(connection) = self.connections.remove(&id) else { return };
        for key in connection.subscriptions.keys() {
            self.leave_scope(id, key);
        }
    }

    fn revoked(&mut self, notice: Result<String, broadcast::error::RecvError>) {
        match notice {
            Ok(key) => {
                let revoked: Vec<ConnectionId> = self
                    .connections
                    .iter()
                    .filter(|(_, c)| c.revocation_keys.contains(&key))
                    .map(|(id, _)| *id)
                    .collect();
                for id in revoked {
                    self.close(id, Some((CLOSE_POLICY, "session ended")));
                }
            }
            // Missed notices: check every connection's credential itself, off the shard.
            Err(broadcast::error::RecvError::Lagged(_)) => {
                let callers: Vec<(ConnectionId, Caller)> =
                    self.connections.iter().map(|(id, c)| (*id, c.caller.clone())).collect();
                let (context, requests) = (self.context.clone(), self.requests.clone());
                tokio::spawn(async move {
                    for (id, caller) in callers {
                        if !matches!(
                            access::still_valid(&context.accounts, context.session_idle, &caller)
                                .await,
                            Ok(true)
                        ) {
                            let Some(requests) = requests.upgrade() else { return };
                            let _ = requests
                                .send(Request::Close {
                                    id,
                                    code: CLOSE_POLICY,
                                    reason: "session ended",
                                })
                                .await;
                        }
                    }
                });
            }
            Err(broadcast::error::RecvError::Closed) => {}
        }
    }

    /// Every second: heartbeats and pings that are due, and connections whose client stopped
    /// reading.
    fn on_tick(&mut self, now: Instant) {
        let stalled: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, c)| {
                c.waiting_since.is_some_and(|since| now.duration_since(since) > SEND_TIMEOUT)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in stalled {
            self.remove(id);
        }
        let beat_due: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, c)| !c.closing && c.next_heartbeat <= now)
            .map(|(id, _)| *id)
            .collect();
        if !beat_due.is_empty() {
            let heartbeat = Heartbeat::now(&self.context);
            for id in beat_due {
                if let Some(connection) = self.connections.get_mut(&id) {
                    connection.next_heartbeat = now + Duration::from_secs(HEARTBEAT_SECONDS);
                }
                let beat = self.heartbeat_of(id, &heartbeat);
                self.queue(id, beat);
            }
        }
        let ping_due: Vec<ConnectionId> = self
            .connections
            .iter()
            .filter(|(_, c)| !c.closing && c.next_ping <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in ping_due {
            if let Some(connection) = self.connections.get_mut(&id) {
                connection.next_ping = now + PING_EVERY;
            }
            self.queue(id, Some(Message::Ping(Default::default())));
        }
    }

    fn stop(&mut self) {
        self.stopping = true;
        let ids: Vec<ConnectionId> = self.connections.keys().copied().collect();
        for id in ids {
            self.close(id, Some((CLOSE_SERVICE_RESTART, "service restart")));
        }
    }

    /// The heartbeat frame for one connection.
    fn heartbeat_of(&self, id: ConnectionId, heartbeat: &Heartbeat) -> Option<Message> {
        let connection = self.connections.get(&id)?;
        heartbeat.frame_for(&self.context, connection.subscriptions.keys())
    }
}

/// Tells the shard each time the scope publishes (one wake-up per scope and shard, not per
/// connection); ends when the shard aborts it or the scope's channel closes.
async fn forward(
    mut receiver: watch::Receiver<Latest>,
    key: ScopeKey,
    published: mpsc::UnboundedSender<ScopeKey>,
) {
    while receiver.changed().await.is_ok() {
        if published.send(key.clone()).is_err() {
            break;
        }
    }
}
