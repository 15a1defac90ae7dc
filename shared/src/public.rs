//! Public disclosure: the figures of the units a city made public, as `/cong-khai`, its
//! WebSocket (`/api/v1/public/live`) and the open data (`/open-data/v1/units.json`) carry them.
//! No complaint text is ever in here, and officer names only for units whose admin turned
//! `officers` on.

use serde::{Deserialize, Serialize};

/// The licence of the open data.
pub const LICENCE: &str = "CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/)";

/// Every public unit's figures, ranked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicBoard {
    /// When the figures were computed (RFC 3339, local time): the data's age.
    pub as_of: String,
    /// The period the rates and the score cover: this month so far.
    pub period: String,
    pub licence: String,
    pub units: Vec<PublicUnitFigures>,
}

/// One public unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicUnitFigures {
    /// 1 = best (highest score, then on-time rate, then fewest overdue dossiers).
    pub rank: u32,
    pub code: String,
    pub name: String,
    /// Dossiers resolved this month, and of those on time (share; `null` with none).
    pub dossiers_resolved: u64,
    pub on_time_rate: Option<f64>,
    /// Open now and past their (extended) due time.
    pub dossiers_overdue: u64,
    pub complaints_overdue: u64,
    /// The Decision 766 score of the measured groups this month, and its band.
    pub score: f64,
    pub score_max: f64,
    pub band: String,
    /// The officers with the most overdue items, only when the city publishes names for this
    /// unit (`null` otherwise).
    pub late_officers: Option<Vec<PublicOfficer>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicOfficer {
    pub name: String,
    pub overdue: u64,
}

/// What the public WebSocket sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum PublicMessage {
    /// The whole board, at once and at every change. `version` only grows.
    Board { version: u64, data: Box<PublicBoard> },
    /// Every few seconds, so a page knows it is connected.
    Heartbeat { at: String },
}
