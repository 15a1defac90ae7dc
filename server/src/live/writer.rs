//! Socket writers: a few shard tasks that own the send halves of many live connections.
//!
//! Why: with one sending task per connection, one change of the city woke every subscribed
//! connection's task, 10,000 wake-ups to write one shared frame. A shard instead
//! - follows each scope its connections subscribe to once (one forwarding task per scope and
//!   shard, `ScopeFeed`), and on a publication writes the frame to every subscribed sink in one
//!   pass, waiting on none of them;
//! - gives each connection its own waker (`ConnectionWaker`): a sink that cannot take more
//!   is written again when *its* waker fires, which names the connection, so the shard never
//!   re-polls sockets that are not ready;
//! - keeps one timer for every heartbeat, ping and send timeout, and one receiver of
//!   revocation notices, instead of one of each per connection.
//!
//! A slow reader never holds anyone up: while its socket is full it keeps only the newest
//! publication of each scope (it skips to the latest, and gets the snapshot, not a delta whose
//! base it lacks), and it is dropped after [`SEND_TIMEOUT`] without progress. The receive half
//! of a connection stays its own task in [`super::socket`], asleep until the client speaks.

use super::context::SocketContext;
use super::hub::{Latest, Published, ScopeKey};
use crate::accounts::access::{self, Caller};
use crate::metrics::METRICS;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::task::AtomicWaker;
use futures_util::SinkExt;
use ioc_shared::live::{
    FeedStatus, ServerMessage, SilentSource, HEARTBEAT_SECONDS, MAX_SUBSCRIPTIONS_PER_CONNECTION,
};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, oneshot, watch};
use tokio::time::Instant;

/// How often the server pings each client.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A write that makes no progress for this long means the client is not reading: drop it.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);
/// Control frames (answers, heartbeats, pings) waiting for one connection; beyond this the
/// client has not read for minutes and is dropped. Publications are not counted: a waiting
/// connection keeps only the newest of each scope.
const MAX_WAITING_FRAMES: usize = 64;
/// Requests waiting for one shard; a receive half waits (and so stops reading its client)
/// while the shard's queue is full.
const REQUEST_QUEUE: usize = 1024;
/// Most shards, whatever the number of cores.
const MAX_SHARDS: usize = 16;
/// "Policy violation" (RFC 6455): the session ended.
pub const CLOSE_POLICY: u16 = 1008;
/// "Service restart": the server is shutting down; clients reconnect (to another replica) at once.
pub const CLOSE_SERVICE_RESTART: u16 = 1012;

/// Identifies a connection inside its shard.
pub type ConnectionId = u64;

/// What a connection's receive half asks of its shard.
pub enum Request {
    /// A new connection: its send half, and what ends when the shard lets it go.
    Attach(Box<Attached>),
    /// An authorized subscription, and whether the client takes deltas.
    Subscribe {
        id: ConnectionId,
        key: ScopeKey,
        deltas: bool,
    },
    Unsubscribe {
        id: ConnectionId,
        key: ScopeKey,
    },
    /// A frame for this client alone (an answer to one of its messages).
    Send {
        id: ConnectionId,
        message: Message,
    },
    /// Close with this code and reason.
    Close {
        id: ConnectionId,
        code: u16,
        reason: &'static str,
    },
    /// The client went away: close the send half without a reason.
    Detach {
        id: ConnectionId,
    },
}

/// A connection handed to a shard.
pub struct Attached {
    pub id: ConnectionId,
    pub sink: SplitSink<WebSocket, Message>,
    pub caller: Caller,
    /// Dropped when the shard lets the connection go (after its close frame, if any): the
    /// receive half then stops reading.
    pub done: oneshot::Sender<()>,
}

/// The shards of this replica: each one's request queue. The shard tasks themselves are
/// started and supervised by the server ([`Writers::shard`]). Cheap to clone.
#[derive(Clone, Default)]
pub struct Writers {
    /// One request queue per shard (replaced when a shard is started again).
    shards: Arc<RwLock<Vec<mpsc::Sender<Request>>>>,
    /// The next connection's id; connections go to shards in turn.
    next_id: Arc<AtomicU64>,
}

/// Names of the shard tasks, as the server supervises them.
pub const SHARD_NAMES: [&str; MAX_SHARDS] = [
    "live-writer-0",
    "live-writer-1",
    "live-writer-2",
    "live-writer-3",
    "live-writer-4",
    "live-writer-5",
    "live-writer-6",
    "live-writer-7",
    "live-writer-8",
    "live-writer-9",
    "live-writer-10",
    "live-writer-11",
    "live-writer-12",
    "live-writer-13",
    "live-writer-14",
    "live-writer-15",
];

impl Writers {
    /// How many shards this replica runs: as many as the runtime has workers, so every core
    /// writes and none waits on a lock.
    pub fn count() -> usize {
        tokio::runtime::Handle::current().metrics().num_workers().clamp(1, MAX_SHARDS)
    }

    /// The task of shard `index`, with a new request queue. Starting a shard again (after a
    /// panic) replaces its queue: the connections it held are closed and their clients
    /// reconnect. The task ends when the queue closes (every sender gone).
    pub fn shard(&self, index: usize, context: SocketContext) -> impl Future<Output = ()> + Send {
        let (requests, receiver) = mpsc::channel(REQUEST_QUEUE);
        let own = requests.downgrade();
        {
            let mut shards = self.shards.write().unwrap_or_else(|p| p.into_inner());
            if shards.len() <= index {
                shards.resize(index + 1, requests.clone());
            }
            shards[index] = requests;
        }
        Shard::new(context, own).run(receiver)
    }

    /// A new connection's id and the queue of the shard that will write to it; `None` before
    /// the server started its shards.
    pub fn assign(&self) -> Option<(ConnectionId, mpsc::Sender<Request>)> {
        let shards = self.shards.read().unwrap_or_else(|p| p.into_inner());
        if shards.is_empty() {
            return None;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let shard = &shards[(id % shards.len() as u64) as usize];
        Some((id, shard.clone()))
    }

    /// Lets every shard's queue go: each shard ends once its connections' senders are gone.
    pub fn close(&self) {
        self.shards.write().unwrap_or_else(|p| p.into_inner()).clear();
    }
}

/// What one subscription of a connection has been sent.
pub(super) struct Delivered {
    /// False for a client that asked for snapshots only.
    pub(super) deltas: bool,
    /// The version it was last sent (none before its first snapshot).
    pub(super) version: Option<u64>,
}

impl Delivered {
    /// The message for this subscriber: the delta when it holds the delta's base, otherwise
    /// (a skipped publication, the first message, or no deltas wanted) the whole snapshot.
    pub(super) fn next_message(&mut self, published: &Published) -> Utf8Bytes {
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

/// The connections whose sinks became writable since the shard last looked, and the shard's
/// own waker.
#[derive(Default)]
struct Woken {
    ids: Mutex<Vec<ConnectionId>>,
    shard: AtomicWaker,
}

impl Woken {
    /// The connections woken so far; pending (with the shard's waker registered) while none.
    fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Vec<ConnectionId>> {
        self.shard.register(cx.waker());
        let ids = std::mem::take(&mut *self.ids.lock().unwrap_or_else(|p| p.into_inner()));
        if ids.is_empty() {
            Poll::Pending
        } else {
            Poll::Ready(ids)
        }
    }
}

/// The waker a connection's sink is polled with: it records which connection can go on.
struct ConnectionWaker {
    id: ConnectionId,
    woken: Arc<Woken>,
}

impl Wake for ConnectionWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.ids.lock().unwrap_or_else(|p| p.into_inner()).push(self.id);
        self.woken.shard.wake();
    }
}

/// One connection's send side, owned by its shard.
struct Connection {
    sink: SplitSink<WebSocket, Message>,
    /// Names this connection when its sink can take more.
    waker: Waker,
    caller: Caller,
    /// The notices that close this connection (its session's, its person's, its display's).
    revocation_keys: Vec<String>,
    subscriptions: HashMap<ScopeKey, Delivered>,
    /// Answers, heartbeats, pings and the close frame not yet written, in order.
    frames: VecDeque<Message>,
    /// The newest publication of each scope not yet written, oldest scope first.
    publications: VecDeque<(ScopeKey, Arc<Published>)>,
    /// After the close frame (or the client's going): close the sink, then let go.
    closing: bool,
    /// Since when a write has been waiting for the client to read.
    waiting_since: Option<Instant>,
    next_heartbeat: Instant,
    next_ping: Instant,
    /// Dropped with the connection: tells the receive half that the send half is done.
    _done: oneshot::Sender<()>,
}

/// Whether a connection goes on after being written to.
#[derive(Debug, PartialEq)]
enum Progress {
    /// Open (everything written, or waiting for its waker).
    Open,
    /// Closed or failed: let it go.
    Finished,
}

impl Connection {
    /// Queues `published` unless this connection already has that version.
    fn offer(&mut self, key: &ScopeKey, published: &Arc<Published>) {
        let Some(delivered) = self.subscriptions.get(key) else { return };
        if self.closing || delivered.version == Some(published.version) {
            return;
        }
        match self.publications.iter_mut().find(|(waiting, _)| waiting == key) {
            Some(waiting) => waiting.1 = published.clone(),
            None => self.publications.push_back((key.clone(), published.clone())),
        }
    }

    /// Queues a control frame; false when the client has stopped reading.
    fn queue(&mut self, message: Message) -> bool {
        if self.closing {
            return true;
        }
        self.frames.push_back(message);
        self.frames.len() <= MAX_WAITING_FRAMES
    }

    /// Closes with `close` (a code and reason) or, without one, as the client went away.
    fn close(&mut self, close: Option<(u16, &'static str)>) {
        if self.closing {
            return;
        }
        self.frames.clear();
        self.publications.clear();
        if let Some((code, reason)) = close {
            self.frames.push_back(Message::Close(Some(CloseFrame { code, reason: reason.into() })));
        }
        self.closing = true;
    }

    /// Writes what is queued as far as the socket takes it, without waiting: where it cannot
    /// go on, the connection's waker is registered and the shard writes again when it fires.
    fn write(&mut self, now: Instant) -> Progress {
        let waker = self.waker.clone();
        let mut cx = Context::from_waker(&waker);
        while !self.frames.is_empty() || !self.publications.is_empty() {
            match self.sink.poll_ready_unpin(&mut cx) {
                Poll::Pending => {
                    self.waiting_since.get_or_insert(now);
                    return Progress::Open;
                }
                Poll::Ready(Err(_)) => return Progress::Finished,
                Poll::Ready(Ok(())) => {}
            }
            let message = match self.frames.pop_front() {
                Some(frame) => frame,
                None => {
                    let Some((key, published)) = self.publications.pop_front() else { break };
                    match self.subscriptions.get_mut(&key) {
                        Some(delivered) => Message::Text(delivered.next_message(&published)),
                        None => continue,
                    }
                }
            };
            if self.sink.start_send_unpin(message).is_err() {
                return Progress::Finished;
            }
        }
        let flushed = if self.closing {
            self.sink.poll_close_unpin(&mut cx)
        } else {
            self.sink.poll_flush_unpin(&mut cx)
        };
        match flushed {
            Poll::Pending => {
                self.waiting_since.get_or_insert(now);
                Progress::Open
            }
            Poll::Ready(Ok(())) if !self.closing => {
                self.waiting_since = None;
                Progress::Open
            }
            Poll::Ready(_) => Progress::Finished,
        }
    }
}

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
struct Shard {
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
    fn new(context: SocketContext, requests: mpsc::WeakSender<Request>) -> Shard {
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

    async fn run(mut self, mut requests: mpsc::Receiver<Request>) {
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

    /// The heartbeat frame for one connection: the shared one, unless a source feeding one of
    /// its units is silent.
    fn heartbeat_of(&self, id: ConnectionId, heartbeat: &Heartbeat) -> Option<Message> {
        let connection = self.connections.get(&id)?;
        let silent = silent_for(&self.context, &heartbeat.silent, connection.subscriptions.keys());
        if silent.is_empty() {
            return heartbeat.shared.clone().map(Message::Text);
        }
        serde_json::to_string(&heartbeat.message(silent))
            .ok()
            .map(|text| Message::Text(text.into()))
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

/// One round of heartbeats: the figures' health, read once for every connection due.
struct Heartbeat {
    at: String,
    status: FeedStatus,
    lag_seconds: f64,
    silent: Vec<crate::ingest::sources::SilentScope>,
    /// The frame for connections concerned by no silent source, serialized once.
    shared: Option<Utf8Bytes>,
}

impl Heartbeat {
    fn now(context: &SocketContext) -> Heartbeat {
        let health = context.feed.current();
        // A screen learns from `status` whether its figures are current.
        let status = if health.status == FeedStatus::Live && !context.hub.healthy() {
            FeedStatus::Unavailable
        } else {
            health.status
        };
        let mut heartbeat = Heartbeat {
            at: ioc_shared::time::to_local_rfc3339(context.hub.clock().now()),
            status,
            lag_seconds: health.lag_seconds,
            silent: context.sources.silent(),
            shared: None,
        };
        heartbeat.shared =
            serde_json::to_string(&heartbeat.message(Vec::new())).ok().map(Utf8Bytes::from);
        heartbeat
    }

    fn message(&self, silent_sources: Vec<SilentSource>) -> ServerMessage {
        ServerMessage::Heartbeat {
            at: self.at.clone(),
            status: self.status,
            lag_seconds: self.lag_seconds,
            silent_sources,
        }
    }
}

/// The silent sources that feed any of the subscribed units.
fn silent_for<'a>(
    context: &SocketContext,
    silent: &[crate::ingest::sources::SilentScope],
    subscribed: impl Iterator<Item = &'a ScopeKey>,
) -> Vec<SilentSource> {
    if silent.is_empty() {
        return Vec::new();
    }
    let units: Vec<&str> = subscribed.map(|(unit, _, _)| unit.as_str()).collect();
    silent
        .iter()
        .filter(|source| units.iter().any(|unit| source.concerns(&context.catalog, unit)))
        .map(|source| SilentSource {
            source: source.source.clone(),
            since: ioc_shared::time::to_local_rfc3339(source.since),
        })
        .collect()
}

/// An error answer to one client.
pub fn error_frame(message: String, unit: Option<String>) -> Option<Message> {
    serde_json::to_string(&ServerMessage::Error { message, unit })
        .ok()
        .map(|t| Message::Text(t.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn published(version: u64, delta_base: Option<u64>) -> Published {
        Published {
            version,
            snapshot: format!("snapshot {version}").into(),
            delta: delta_base.map(|base| (base, format!("delta {base}→{version}").into())),
        }
    }

    #[test]
    fn a_subscriber_gets_deltas_only_from_the_version_it_holds() {
        let mut delivered = Delivered { deltas: true, version: None };
        assert_eq!(
            delivered.next_message(&published(5, Some(4))).as_str(),
            "snapshot 5",
            "first message: the whole figures"
        );
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
            assert_eq!(
                delivered.next_message(&published(version, Some(version - 1))).as_str(),
                format!("snapshot {version}")
            );
        }
    }

    /// The waker a sink is polled with names its connection to the shard.
    #[test]
    fn a_connections_waker_names_it_to_the_shard() {
        let woken = Arc::new(Woken::default());
        let first = Waker::from(Arc::new(ConnectionWaker { id: 7, woken: woken.clone() }));
        let second = Waker::from(Arc::new(ConnectionWaker { id: 9, woken: woken.clone() }));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(woken.poll_take(&mut cx).is_pending(), "nothing woken yet");
        second.wake_by_ref();
        first.wake();
        assert_eq!(woken.poll_take(&mut cx), Poll::Ready(vec![9, 7]));
        assert!(woken.poll_take(&mut cx).is_pending(), "taken once");
    }
}
