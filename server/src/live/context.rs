//! What every live connection of a replica, and every writer shard, shares: the hub, the
//! credentials recheck, the revocation notices and the health each heartbeat reports. Built once per
//! replica from its state (`AppState::live_context`) and cloned into each connection.

use super::credentials::LiveCredentials;
use super::hub::Hub;
use crate::accounts::Accounts;
use crate::apply::status::FeedMonitor;
use crate::catalog::Catalog;
use crate::ingest::sources::SourceWatch;
use std::time::Duration;
use tokio::sync::{broadcast, watch};

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
