//! One connection's send side as its shard holds it: what it still has to write, what each of
//! its subscriptions was last sent, and the waker that names it when its socket can take more.

use crate::accounts::access::Caller;
use crate::live::hub::{Published, ScopeKey};
use crate::metrics::METRICS;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::stream::SplitSink;
use futures_util::task::AtomicWaker;
use futures_util::SinkExt;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use tokio::sync::oneshot;
use tokio::time::Instant;

/// Identifies a connection inside its shard.
pub type ConnectionId = u64;

/// Control frames (answers, heartbeats, pings) waiting for one connection; beyond this the
/// client has not read for minutes and is dropped. Publications are not counted: a waiting
/// connection keeps only the newest of each scope.
const MAX_WAITING_FRAMES: usize = 64;

/// What one subscription of a connection has been sent.
pub struct Delivered {
    /// False for a client that asked for snapshots only.
    pub deltas: bool,
    /// The version it was last sent (none before its first snapshot).
    pub version: Option<u64>,
}

impl Delivered {
    /// The message for this subscriber: the delta when it holds the delta's base, otherwise
    /// (a skipped publication, the first message, or no deltas wanted) the whole snapshot.
    pub fn next_message(&mut self, published: &Published) -> Utf8Bytes {
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
pub struct Woken {
    ids: Mutex<Vec<ConnectionId>>,
    shard: AtomicWaker,
}

impl Woken {
    /// The connections woken so far; pending (with the shard's waker registered) while none.
    pub fn poll_take(&self, cx: &mut Context<'_>) -> Poll<Vec<ConnectionId>> {
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
pub struct ConnectionWaker {
    pub id: ConnectionId,
    pub woken: Arc<Woken>,
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
pub struct Connection {
    pub sink: SplitSink<WebSocket, Message>,
    /// Names this connection when its sink can take more.
    pub waker: Waker,
    pub caller: Caller,
    /// The notices that close this connection (its session's, its person's, its display's).
    pub revocation_keys: Vec<String>,
    pub subscriptions: HashMap<ScopeKey, Delivered>,
    /// Answers, heartbeats, pings and the close frame not yet written, in order.
    pub frames: VecDeque<Message>,
    /// The newest publication of each scope not yet written, oldest scope first.
    pub publications: VecDeque<(ScopeKey, Arc<Published>)>,
    /// After the close frame (or the client's going): close the sink, then let go.
    pub closing: bool,
    /// Since when a write has been waiting for the client to read.
    pub waiting_since: Option<Instant>,
    pub next_heartbeat: Instant,
    pub next_ping: Instant,
    /// Dropped with the connection: tells the receive half that the send half is done.
    pub _done: oneshot::Sender<()>,
}

/// Whether a connection goes on after being written to.
#[derive(Debug, PartialEq)]
pub enum Progress {
    /// Open (everything written, or waiting for its waker).
    Open,
    /// Closed or failed: let it go.
    Finished,
}

impl Connection {
    /// Queues `published` unless this connection already has that version.
    pub fn offer(&mut self, key: &ScopeKey, published: &Arc<Published>) {
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
    pub fn queue(&mut self, message: Message) -> bool {
        if self.closing {
            return true;
        }
        self.frames.push_back(message);
        self.frames.len() <= MAX_WAITING_FRAMES
    }

    /// Closes with `close` (a code and reason) or, without one, as the client went away.
    pub fn close(&mut self, close: Option<(u16, &'static str)>) {
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
    pub fn write(&mut self, now: Instant) -> Progress {
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
