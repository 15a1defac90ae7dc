//! The public board, live: one task computes it (at most every [`MIN_INTERVAL`], at once after
//! a quiet spell, and every [`REFRESH_EVERY`]) and publishes it serialized once in a watch
//! channel that every anonymous connection reads, as the hub does for a scope. Anonymous
//! connections are limited per address ([`MAX_CONNECTIONS_PER_ADDRESS`]); they may send
//! nothing but pings.

use super::protocol::{CLOSE_SERVICE_RESTART, SEND_TIMEOUT};
use crate::accounts::Accounts;
use crate::aggregate::public::Disclosed;
use crate::aggregate::Keys;
use crate::catalog::Catalog;
use crate::redis_link::RedisLink;
use crate::store::Store;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use futures_util::{SinkExt, StreamExt};
use ioc_shared::public::{PublicBoard, PublicMessage};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{watch, Notify};
use tokio::time::Instant;

/// Shortest time between two computations of the board (it covers many units).
pub const MIN_INTERVAL: Duration = Duration::from_secs(2);
/// Longest: the list of public units may change on another replica, and "now" moves.
pub const REFRESH_EVERY: Duration = Duration::from_secs(30);
/// Anonymous live connections one address may hold at once.
pub const MAX_CONNECTIONS_PER_ADDRESS: usize = 20;
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// One publication of the board.
#[derive(Debug)]
pub struct Published {
    pub board: Arc<PublicBoard>,
    /// The `board` message, serialized once.
    pub message: Utf8Bytes,
}

/// The live public board. Cheap to clone.
#[derive(Clone)]
pub struct PublicFeed {
    inner: Arc<Inner>,
}

struct Inner {
    latest: watch::Sender<Option<Arc<Published>>>,
    /// Set when figures or the list of public units may have changed.
    dirty: Notify,
    /// Open anonymous connections per address.
    connections: Mutex<HashMap<String, usize>>,
}

impl Default for PublicFeed {
    fn default() -> PublicFeed {
        PublicFeed {
            inner: Arc::new(Inner {
                latest: watch::channel(None).0,
                dirty: Notify::new(),
                connections: Mutex::new(HashMap::new()),
            }),
        }
    }
}

/// What the board is computed from.
pub struct Sources {
    pub redis: RedisLink,
    pub keys: Keys,
    pub store: Store,
    pub catalog: Catalog,
    pub accounts: Accounts,
    /// Notified on every change of the figures (from the hub).
    pub changes: Arc<Notify>,
    /// "Now" for the board's windows and score.
    pub clock: ioc_shared::time::Clock,
}

/// Why the board was not computed this time (it is tried again shortly).
#[derive(Debug, thiserror::Error)]
enum BoardError {
    #[error("public units: {0}")]
    PublicUnits(#[source] crate::accounts::AccountError),
    #[error("figures: {0}")]
    Figures(#[source] crate::aggregate::summary::SummaryError),
}

impl PublicFeed {
    /// Asks for a new computation (the list of public units changed).
    pub fn mark_changed(&self) {
        self.inner.dirty.notify_one();
    }

    /// The newest board, if computed yet.
    fn latest(&self) -> Option<Arc<Published>> {
        self.inner.latest.borrow().clone()
    }

    /// The newest board, waiting up to `limit` for the first one after start-up.
    pub async fn fresh(&self, limit: Duration) -> Option<Arc<Published>> {
        let mut receiver = self.inner.latest.subscribe();
        let first = tokio::time::timeout(limit, async {
            match receiver.wait_for(|latest| latest.is_some()).await {
                Ok(latest) => latest.clone(),
                Err(_) => None,
            }
        })
        .await;
        first.ok().flatten()
    }

    /// Computes and publishes the board until the server stops.
    pub async fn run(self, mut sources: Sources) {
        let mut version: u64 = 0;
        loop {
            let started = Instant::now();
            let now = sources.clock.now();
            let computed = match sources.accounts.public_units().await {
                Ok(public) => {
                    let disclosed: Vec<Disclosed<'_>> = public
                        .iter()
                        .map(|p| Disclosed { unit: &p.unit, officers: p.officers })
                        .collect();
                    crate::aggregate::public::compute(
                        &mut sources.redis,
                        &sources.keys,
                        &sources.store,
                        &sources.catalog,
                        &disclosed,
                        now,
                    )
                    .await
                    .map_err(BoardError::Figures)
                }
                Err(error) => Err(BoardError::PublicUnits(error)),
            };
            match computed {
                Ok(board) => {
                    // Published again only when a figure changed, not just the computation time.
                    let unchanged = self.latest().is_some_and(|p| {
                        p.board.period == board.period && p.board.units == board.units
                    });
                    if !unchanged {
                        version = (version + 1).max(now.timestamp_millis().max(0) as u64);
                        let message =
                            PublicMessage::Board { version, data: Box::new(board.clone()) };
                        match serde_json::to_string(&message) {
                            Ok(text) => {
                                self.inner.latest.send_replace(Some(Arc::new(Published {
                                    board: Arc::new(board),
                                    message: text.into(),
                                })));
                            }
                            Err(error) => tracing::error!(%error, "public board not serializable"),
                        }
                    }
                }
                Err(error) => tracing::warn!(%error, "public board not computed; retrying"),
            }
            tokio::select! {
                _ = self.inner.dirty.notified() => {}
                _ = sources.changes.notified() => {}
                _ = tokio::time::sleep(REFRESH_EVERY) => {}
            }
            tokio::time::sleep_until(started + MIN_INTERVAL).await;
        }
    }

    /// Admits one more anonymous connection from `address`, or refuses it past the limit.
    pub fn admit(&self, address: &str) -> Option<Admitted> {
        let mut connections = self.inner.connections.lock().unwrap_or_else(|p| p.into_inner());
        let open = connections.entry(address.to_owned()).or_default();
        if *open >= MAX_CONNECTIONS_PER_ADDRESS {
            return None;
        }
        *open += 1;
        Some(Admitted { feed: self.clone(), address: address.to_owned() })
    }

    fn release(&self, address: &str) {
        let mut connections = self.inner.connections.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(open) = connections.get_mut(address) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                connections.remove(address);
            }
        }
    }
}

/// Held by an admitted anonymous connection; frees its place when dropped.
pub struct Admitted {
    feed: PublicFeed,
    address: String,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.feed.release(&self.address);
    }
}

/// Serves one anonymous connection: the board at once and at every change, a heartbeat every
/// few seconds; whatever the client sends is ignored (it needs to send nothing).
pub async fn serve_public_socket(
    socket: WebSocket,
    feed: PublicFeed,
    admitted: Admitted,
    mut shutdown: watch::Receiver<bool>,
    clock: ioc_shared::time::Clock,
) {
    let _admitted = admitted;
    let (mut sink, mut stream) = socket.split();
    let mut boards = feed.inner.latest.subscribe();
    boards.mark_changed();
    let mut heartbeat = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        let outgoing = tokio::select! {
            changed = boards.changed() => match changed {
                Ok(()) => boards.borrow_and_update().as_ref().map(|p| Message::Text(p.message.clone())),
                Err(_) => break,
            },
            _ = heartbeat.tick() => {
                serde_json::to_string(&PublicMessage::Heartbeat { at: ioc_shared::time::to_local_rfc3339(clock.now()) }).ok().map(|t| Message::Text(t.into()))
            }
            incoming = stream.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                Some(Ok(_)) => None,
            },
            () = stopping(&mut shutdown) => {
                let frame = CloseFrame { code: CLOSE_SERVICE_RESTART, reason: "service restart".into() };
                let _ = tokio::time::timeout(SEND_TIMEOUT, sink.send(Message::Close(Some(frame)))).await;
                break;
            }
        };
        if let Some(message) = outgoing {
            if !matches!(tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await, Ok(Ok(()))) {
                break;
            }
        }
    }
    let _ = tokio::time::timeout(SEND_TIMEOUT, sink.close()).await;
}

/// A range of local days, both included.
pub type DateRange = (chrono::NaiveDate, chrono::NaiveDate);

/// A CSV and when it was computed.
type CachedCsv = (std::time::Instant, Arc<String>);

/// How long an open-data answer is reused.
const CACHE_FOR: Duration = Duration::from_secs(60);
/// Different daily ranges kept in the cache at once.
const CACHED_RANGES: usize = 32;

/// The daily CSVs computed in the last minute, by range.
#[derive(Clone, Default)]
pub struct DailyCache {
    entries: Arc<Mutex<HashMap<DateRange, CachedCsv>>>,
    /// One computation at a time: readers of a range being computed wait for it.
    pub computing: Arc<tokio::sync::Mutex<()>>,
}

impl DailyCache {
    pub fn fresh(&self, range: DateRange) -> Option<Arc<String>> {
        let entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.get(&range).filter(|(at, _)| at.elapsed() < CACHE_FOR).map(|(_, csv)| csv.clone())
    }

    pub fn keep(&self, range: DateRange, csv: Arc<String>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        entries.retain(|_, (at, _)| at.elapsed() < CACHE_FOR);
        if entries.len() >= CACHED_RANGES {
            if let Some(oldest) = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| *k) {
                entries.remove(&oldest);
            }
        }
        entries.insert(range, (std::time::Instant::now(), csv));
    }
}

/// Resolves once the server starts shutting down.
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}
