//! A frozen report of one unit over one calendar period (the weekly briefing), as the server
//! signs it and as the dashboard shows it.
//!
//! The signed bytes are the report object without `digest` and `signature`, serialized as
//! RFC 8785 canonical JSON (UTF-8): `digest` is their hex SHA-256, `signature` the base64
//! Ed25519 signature of those same bytes by the server's report key.

use crate::items::UnitName;
use crate::score::Score;
use crate::summary::Previous;
use serde::{Deserialize, Serialize};

/// The periods a report covers: calendar weeks (Monday to Sunday), months, quarters, years,
/// in local time.
pub const PERIODS: [&str; 4] = ["week", "month", "quarter", "year"];

/// Open and overdue items at the period's end.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenAtEnd {
    pub open: u64,
    pub overdue: u64,
}

/// The unit's open work when the period ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AtEnd {
    pub dossiers: OpenAtEnd,
    pub complaints: OpenAtEnd,
    pub tasks: OpenAtEnd,
}

/// One child unit over the period, in the summary's ranking order (worst on-time rate first
/// among children with enough rated dossiers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportChild {
    pub rank: u32,
    pub code: String,
    pub name: String,
    pub dossiers_received: u64,
    /// Dossiers resolved on time or late in the period.
    pub rated: u64,
    pub on_time_rate: Option<f64>,
    pub complaints_received: u64,
}

/// A frozen report; `digest` and `signature` cover everything else.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub id: i64,
    pub unit: UnitName,
    /// `week`, `month`, `quarter` or `year`.
    pub period: String,
    /// First and last local day of the period (`YYYY-MM-DD`).
    pub from: String,
    pub to: String,
    /// When the figures were frozen (RFC 3339, local time).
    pub frozen_at: String,
    /// Who asked for it (a username, or `schedule`).
    pub made_by: String,
    /// The unit's figures over the period, and over the period before it.
    pub figures: Previous,
    pub previous: Previous,
    /// Open and overdue at the period's end.
    pub at_end: AtEnd,
    pub children: Vec<ReportChild>,
    /// The Decision 766 score of the month, quarter or year the period ends in, to its end
    /// (a week: its month so far).
    pub score: Score,
    pub digest: String,
    pub signature: String,
}

/// One line of a unit's list of reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportListing {
    pub id: i64,
    pub unit: String,
    pub period: String,
    pub from: String,
    pub to: String,
    pub frozen_at: String,
    pub digest: String,
}

/// `GET /api/v1/reports/key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportKey {
    pub alg: String,
    /// Base64 of the 32 raw bytes of the Ed25519 public key.
    pub public_key: String,
}
