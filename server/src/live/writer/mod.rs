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
//! base it lacks), and it is dropped after [`super::protocol::SEND_TIMEOUT`] without progress.
//! The receive half of a connection stays its own task in [`super::socket`], asleep until the
//! client speaks.
//!
//! Layout: `connection` is one connection's send side, `shard` the task that owns many,
//! `heartbeat` the health frames; the close codes and timings are in [`super::protocol`].

mod connection;
mod heartbeat;
mod shard;

pub use connection::ConnectionId;

use super::context::SocketContext;
use super::hub::ScopeKey;
use crate::accounts::access::Caller;
use axum::extract::ws::{Message, WebSocket};
use futures_util::stream::SplitSink;
use shard::Shard;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::{mpsc, oneshot};

/// Requests waiting for one shard; a receive half waits (and so stops reading its client)
/// while the shard's queue is full.
const REQUEST_QUEUE: usize = 1024;
/// Most shards, whatever the number of cores.
const MAX_SHARDS: usize = 16;

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
