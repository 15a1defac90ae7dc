//! The live WebSocket protocol (`GET /api/v1/live`), both directions, as JSON text frames.

use crate::summary::{Summary, Window};
use serde::{Deserialize, Serialize};

/// Largest client message the server reads, in bytes.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 64 * 1024;
/// Most subscriptions one connection may hold at once.
pub const MAX_SUBSCRIPTIONS_PER_CONNECTION: usize = 32;
/// How often the server sends a heartbeat, so a screen can show that its figures are current.
pub const HEARTBEAT_SECONDS: u64 = 5;

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ClientMessage {
    /// Start receiving snapshots of a scope and window; the current one comes at once.
    Subscribe { unit: String, window: Window },
    /// Stop receiving them.
    Unsubscribe { unit: String, window: Window },
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// The full current figures of one subscribed scope. `version` only grows for a scope.
    Snapshot { unit: String, window: Window, version: u64, data: Box<Summary> },
    /// A message the server could not act on; the connection stays open.
    Error {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// Sent every few seconds: the connection is alive and every subscribed snapshot is current.
    Heartbeat { at: String },
}
