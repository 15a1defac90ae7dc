//! The live WebSocket protocol (`GET /api/v1/live`), both directions, as JSON text frames.
//!
//! # Snapshots and deltas
//!
//! A subscription first receives a `snapshot` (the whole figures, with a `version`). After
//! that, when the figures change, it receives a `delta`: `base` is the version it applies to,
//! `version` the version it produces, and `changes` an RFC 6902 JSON Patch against the
//! snapshot's `data` (only `add`, `remove` and `replace` are sent). [`ScopeFigures`] applies
//! them. The server sends a snapshot instead of a delta whenever the subscriber has not
//! received the delta's base (it was skipped because the subscriber was slow, or the socket is
//! new), after a rebuild, and when the delta would be larger than the snapshot. A client
//! whose copy does not match a delta's `base` subscribes again and gets a snapshot.
//!
//! A client that wants snapshots only (as before deltas existed) subscribes with
//! `"deltas": false`.

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
    ///
    /// Subscribing again to a scope already subscribed sends its current snapshot again (how a
    /// client whose copy went out of step recovers).
    Subscribe {
        unit: String,
        /// Required for the summary and score views; the alerts view has none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<Window>,
        #[serde(default, skip_serializing_if = "View::is_summary")]
        view: View,
        /// `false`: whole snapshots at every change, never deltas.
        #[serde(default = "deltas_by_default", skip_serializing_if = "is_true")]
        deltas: bool,
    },
    /// Stop receiving them.
    Unsubscribe {
        unit: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        window: Option<Window>,
        #[serde(default, skip_serializing_if = "View::is_summary")]
        view: View,
    },
}

fn deltas_by_default() -> bool {
    true
}

fn is_true(value: &bool) -> bool {
    *value
}

/// What a subscription receives.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// The figures (`snapshot` messages).
    #[default]
    Summary,
    /// The Decision 766 score (`score` messages).
    Score,
    /// The open alerts of the unit and every unit below it (`alerts` messages).
    Alerts,
}

impl View {
    pub fn is_summary(&self) -> bool {
        *self == View::Summary
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            View::Summary => "summary",
            View::Score => "score",
            View::Alerts => "alerts",
        }
    }
}

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ServerMessage {
    /// The full current figures of one subscribed scope. `version` only grows for a scope.
    ///
    /// The dashboard (wasm32) reads snapshots and deltas from the browser's own JSON objects
    /// instead of decoding them through this enum: one decoder of the summary instead of two,
    /// and no patch decoder, in its download (~9 KB less, brotli).
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    Snapshot { unit: String, window: Window, version: u64, data: Box<Summary> },
    /// What changed in a summary since version `base` (see the module docs). Scores are
    /// always sent whole.
    #[cfg_attr(target_arch = "wasm32", serde(skip_deserializing))]
    Delta { unit: String, window: Window, base: u64, version: u64, changes: json_patch::Patch },
    /// The Decision 766 score of a scope subscribed with `view: score`.
    Score { unit: String, window: Window, version: u64, data: Box<crate::score::Score> },
    /// The open (firing and acknowledged) alerts of a unit subscribed with `view: alerts`, in
    /// the order a leader reads them; always sent whole. Names and notes of acknowledgements
    /// are left out (wall displays subscribe too): `GET /api/v1/alerts` has them.
    Alerts { unit: String, version: u64, data: crate::alerts::AlertsData },
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

/// The changes that turn `old` into `new`, as an RFC 6902 patch.
pub fn changes_between(old: &serde_json::Value, new: &serde_json::Value) -> json_patch::Patch {
    json_patch::diff(old, new)
}

/// A subscriber's copy of one scope's figures, kept current from snapshots and deltas. Both
/// the dashboard and the wall keep theirs this way, and so do the tests and the load tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeFigures {
    /// The version the copy is at.
    pub version: u64,
    /// The snapshot's `data` with every delta since applied.
    pub document: serde_json::Value,
}

/// Why a delta could not be applied; either way the client subscribes again for a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeltaRefused {
    /// The copy is at another version than the delta's base (a message was missed).
    OutOfStep { have: u64, base: u64 },
    /// The patch does not fit the copy (the copy is left unchanged).
    DoesNotApply(String),
}

impl ScopeFigures {
    /// A copy from a snapshot's `data`.
    pub fn from_snapshot(version: u64, data: &Summary) -> Result<ScopeFigures, serde_json::Error> {
        Ok(ScopeFigures { version, document: serde_json::to_value(data)? })
    }

    /// Applies a delta, or leaves the copy unchanged and says why not.
    pub fn apply(
        &mut self,
        base: u64,
        version: u64,
        changes: &json_patch::Patch,
    ) -> Result<(), DeltaRefused> {
        if base != self.version {
            return Err(DeltaRefused::OutOfStep { have: self.version, base });
        }
        // `patch` applies all operations or none.
        json_patch::patch(&mut self.document, changes)
            .map_err(|e| DeltaRefused::DoesNotApply(e.to_string()))?;
        self.version = version;
        Ok(())
    }

    /// The figures as the dashboard reads them.
    pub fn summary(&self) -> Result<Summary, serde_json::Error> {
        serde_json::from_value(self.document.clone())
    }
}
