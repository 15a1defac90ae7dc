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
    /// `view` is `summary` (the default) or `score` (the Decision 766 score; the window is then
    /// the period: `month`, `quarter` or `year`).
    Subscribe {
        unit: String,
        window: Window,
        #[serde(default, skip_serializing_if = "View::is_summary")]
        view: View,
    },
    /// Stop receiving them.
    Unsubscribe {
        unit: String,
        window: Window,
        #[serde(default, skip_serializing_if = "View::is_summary")]
        view: View,
    },
}

/// What a subscription receives.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// The figures (`snapshot` messages).
    #[default]
    Summary,
    /// The Decision 766 score (`score` messages).
    Score,
}

impl View {
    pub fn is_summary(&self) -> bool {
        *self == View::Summary
    }
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// The full current figures of one subscribed scope. `version` only grows for a scope.
    Snapshot { unit: String, window: Window, version: u64, data: Box<Summary> },
    /// The Decision 766 score of a scope subscribed with `view: score`.
    Score { unit: String, window: Window, version: u64, data: Box<crate::score::Score> },
    /// A message the server could not act on; the connection stays open.
    Error {
        message: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// Sent every few seconds. The figures on screen include every acknowledged event up to
    /// `at` only while `status` is `live`; otherwise `status` and `lag_seconds` say why not.
    Heartbeat {
        at: String,
        #[serde(default)]
        status: FeedStatus,
        /// Seconds since the oldest acknowledged event not yet in the figures (0: none).
        #[serde(default)]
        lag_seconds: f64,
        /// Source systems feeding the subscribed units that went silent past their interval.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        silent_sources: Vec<SilentSource>,
    },
}

/// How current the figures are.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FeedStatus {
    /// Every acknowledged event is in the figures (or at most [`BEHIND_AFTER_SECONDS`] behind).
    #[default]
    Live,
    /// Acknowledged events are waiting to be applied for longer than [`BEHIND_AFTER_SECONDS`].
    Behind,
    /// The figures are being rebuilt from the truth ("đang đồng bộ lại").
    Rebuilding,
    /// The live figures cannot be read or applied right now (Redis or PostgreSQL unreachable).
    Unavailable,
}

/// Figures later than this are not shown as live.
pub const BEHIND_AFTER_SECONDS: f64 = 10.0;

/// A source system that stopped sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilentSource {
    pub source: String,
    /// When it last sent an event (RFC 3339, local time); its key's creation if never.
    pub since: String,
}
