//! The work behind the numbers: the items behind a count, an officer's work, and breakdowns by
//! procedure, field or channel — as `GET /api/v1/units/{code}/items`, `/api/v1/officers/{id}`
//! and `/api/v1/units/{code}/breakdown` carry them.

use crate::event::ItemKind;
use crate::summary::Window;
use serde::{Deserialize, Serialize};

/// Which items of a scope a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ListState {
    /// Open, not paused, past the (extended) due time: most overdue first.
    Overdue,
    /// Open, not paused, due within `within` hours and not yet past it: soonest first.
    DueSoon,
    /// Open (paused included): oldest received first.
    Open,
    /// Open and paused for a citizen's supplement: longest paused first.
    Paused,
    /// Resolved after the extended due time, within `window`: most late first.
    ResolvedLate,
    /// Filed at a triage unit because the sender did not know the ward ("cần phân loại"),
    /// not yet routed: oldest received first. The routing queue.
    NeedsRouting,
}

impl ListState {
    pub const ALL: [ListState; 6] = [
        ListState::Overdue,
        ListState::DueSoon,
        ListState::Open,
        ListState::Paused,
        ListState::ResolvedLate,
        ListState::NeedsRouting,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ListState::Overdue => "overdue",
            ListState::DueSoon => "due_soon",
            ListState::Open => "open",
            ListState::Paused => "paused",
            ListState::ResolvedLate => "resolved_late",
            ListState::NeedsRouting => "needs_routing",
        }
    }

    pub fn parse(text: &str) -> Option<ListState> {
        ListState::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A unit, briefly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitName {
    pub code: String,
    pub name: String,
}

/// An officer, briefly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerName {
    pub id: String,
    pub name: String,
}

/// One dossier, complaint or task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Item {
    pub kind: ItemKind,
    pub id: String,
    pub source: String,
    pub unit: UnitName,
    /// `null` while unassigned.
    pub officer: Option<OfficerName>,
    /// Dossiers only.
    pub procedure: Option<String>,
    pub field: Option<String>,
    /// Dossiers and complaints.
    pub channel: Option<String>,
    /// Tasks only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Complaints only, at most 200 characters, and only for admins, leaders and chiefs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
    /// RFC 3339 (local time).
    pub received: Option<String>,
    /// The due time as sent.
    pub due: Option<String>,
    /// The due time after pauses.
    pub due_extended: Option<String>,
    pub paused: bool,
    /// Hours past the extended due time: while overdue, or how late it was resolved; else `null`.
    pub overdue_hours: Option<f64>,
    pub resolved: Option<String>,
    pub outcome: Option<String>,
    /// Directions (chỉ đạo) given on it, oldest first; for people only, never a display.
    #[serde(default)]
    pub directions: Vec<crate::explanations::Direction>,
}

/// `GET /api/v1/units/{code}/items`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemList {
    pub unit: UnitName,
    pub kind: ItemKind,
    pub state: ListState,
    pub as_of: String,
    /// Items in the whole list (all pages).
    pub total: u64,
    pub items: Vec<Item>,
    /// Opaque cursor of the next page, or `null` on the last page.
    pub next: Option<String>,
}

/// An officer's figures for one kind of item, within the scope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfficerFigures {
    pub open: u64,
    pub overdue: u64,
    pub resolved_on_time: u64,
    pub resolved_late: u64,
}

/// `GET /api/v1/officers/{id}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OfficerView {
    pub officer: OfficerName,
    /// The scope asked for.
    pub unit: UnitName,
    /// The officer's own unit: the one holding most of their items within the scope.
    #[serde(default)]
    pub home: Option<UnitName>,
    pub window: Window,
    pub dossiers: OfficerFigures,
    pub complaints: OfficerFigures,
    pub tasks: OfficerFigures,
    /// The first page of their overdue items, all kinds, most overdue first.
    pub overdue: Vec<Item>,
    pub overdue_total: u64,
}

/// What a breakdown groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BreakdownBy {
    Procedure,
    Field,
    Channel,
}

impl BreakdownBy {
    pub fn as_str(self) -> &'static str {
        match self {
            BreakdownBy::Procedure => "procedure",
            BreakdownBy::Field => "field",
            BreakdownBy::Channel => "channel",
        }
    }

    pub fn parse(text: &str) -> Option<BreakdownBy> {
        [BreakdownBy::Procedure, BreakdownBy::Field, BreakdownBy::Channel]
            .into_iter()
            .find(|b| b.as_str() == text)
    }
}

/// The row that gathers every key past the most frequent ones.
pub const OTHER_KEY: &str = "(khác)";
/// Rows rated fewer times than this are ranked after those with a rate ("ít dữ liệu").
pub const MIN_RATED: u64 = 5;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Median {
    pub p50: Option<f64>,
}

/// One procedure, field or channel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakdownRow {
    pub key: String,
    pub received: u64,
    /// Of `received`, how many came online (dossiers).
    pub received_online: u64,
    pub resolved: u64,
    pub resolved_on_time: u64,
    pub resolved_late: u64,
    pub on_time_rate: Option<f64>,
    pub open: u64,
    pub overdue: u64,
    pub processing_hours: Median,
}

/// `GET /api/v1/units/{code}/breakdown`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Breakdown {
    pub unit: UnitName,
    pub kind: ItemKind,
    pub by: BreakdownBy,
    pub window: Window,
    pub rows: Vec<BreakdownRow>,
}
