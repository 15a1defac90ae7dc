//! The figures of one scope (a unit and everything below it) over one window.
//!
//! `GET /api/v1/units/{code}/summary` returns a [`Summary`]; the live WebSocket carries the
//! very same object in its snapshots.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The time window that event counts cover. `open` and `overdue` figures are always "now".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Window {
    /// Since local midnight (UTC+7).
    #[serde(rename = "today")]
    Today,
    /// The last 24 hours, exact to the minute.
    #[serde(rename = "24h")]
    Hours24,
    /// The last 7 days, exact to the hour.
    #[serde(rename = "7d")]
    Days7,
    /// The last 30 days, exact to the hour.
    #[serde(rename = "30d")]
    Days30,
    /// Since the first day of this month (local calendar).
    #[serde(rename = "month")]
    Month,
    /// Since the first day of this quarter (January, April, July, October).
    #[serde(rename = "quarter")]
    Quarter,
    /// Since 1 January.
    #[serde(rename = "year")]
    Year,
}

impl Window {
    pub const ALL: [Window; 7] = [
        Window::Today,
        Window::Hours24,
        Window::Days7,
        Window::Days30,
        Window::Month,
        Window::Quarter,
        Window::Year,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Window::Today => "today",
            Window::Hours24 => "24h",
            Window::Days7 => "7d",
            Window::Days30 => "30d",
            Window::Month => "month",
            Window::Quarter => "quarter",
            Window::Year => "year",
        }
    }

    pub fn parse(text: &str) -> Option<Window> {
        Window::ALL.into_iter().find(|w| w.as_str() == text)
    }

    /// A calendar period (month, quarter, year): its figures come from the day-level history.
    pub fn is_calendar(self) -> bool {
        matches!(self, Window::Month | Window::Quarter | Window::Year)
    }

    /// The accepted names, for error messages.
    pub const NAMES: &'static str = "today, 24h, 7d, 30d, month, quarter, year";
}

/// Which unit the figures are for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitRef {
    pub code: String,
    pub name: String,
    pub kind: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DossierFigures {
    pub received: u64,
    /// Includes withdrawn dossiers, which are neither on time nor late.
    pub resolved: u64,
    pub resolved_on_time: u64,
    pub resolved_late: u64,
    /// on time ÷ (on time + late); `null` when nothing was rated.
    pub on_time_rate: Option<f64>,
    pub open: u64,
    pub overdue: u64,
    /// Hours from received to resolved over the window's resolved dossiers (within 5 %).
    pub processing_hours: Percentiles,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ComplaintFigures {
    pub received: u64,
    pub resolved: u64,
    pub resolved_on_time: u64,
    pub open: u64,
    pub overdue: u64,
    /// Complaints received in the window, by field.
    pub by_field: BTreeMap<String, u64>,
    /// Complaints received in the window, by channel.
    pub by_channel: BTreeMap<String, u64>,
    /// satisfied ÷ rated; `null` when nobody rated.
    pub satisfaction_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TaskFigures {
    pub assigned: u64,
    pub completed: u64,
    pub open: u64,
    pub overdue: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateOfficer {
    pub id: String,
    pub name: String,
    /// Unit code of the officer's overdue work (the unit with most of it, when several).
    pub unit: String,
    /// Name of that unit, so screens need no catalog of their own.
    #[serde(default)]
    pub unit_name: String,
    pub overdue: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OfficerFigures {
    /// Officers with at least one overdue open dossier, complaint or task in the scope.
    pub late: u64,
    /// The 10 worst, most overdue items first.
    pub top_late: Vec<LateOfficer>,
}

/// One direct child of the scope, for the ranking.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChildFigures {
    pub code: String,
    pub name: String,
    pub dossiers_received: u64,
    pub on_time_rate: Option<f64>,
    /// Dossiers resolved on time plus late in the window: the sample behind `on_time_rate`.
    /// Fewer than 5 ranks the unit after those with a rate ("ít dữ liệu").
    #[serde(default)]
    pub rated: u64,
    /// Overdue dossiers plus overdue complaints, now.
    pub overdue: u64,
    pub complaints_received: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub unit: UnitRef,
    pub window: Window,
    /// When these figures were computed (RFC 3339, local time).
    pub as_of: String,
    pub dossiers: DossierFigures,
    pub complaints: ComplaintFigures,
    pub tasks: TaskFigures,
    pub officers: OfficerFigures,
    /// Explanation requests to the unit and the units below it, now.
    #[serde(default)]
    pub explanations: ExplanationFigures,
    /// Direct children, worst on-time rate first (no rate sorts last), then by code.
    pub children: Vec<ChildFigures>,
    /// The window figures of the previous period of the same length, ending where this one
    /// starts (state figures such as `open` and `overdue` are left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<Previous>,
}

/// Explanation requests (yêu cầu giải trình) of a unit's subtree, now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplanationFigures {
    /// Open: asked (or reopened) and not answered yet, overdue ones included.
    pub open: u64,
    /// Open past their due time.
    pub overdue: u64,
}

/// The window figures of the previous period.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Previous {
    /// RFC 3339, local time: the period is `[from, to)`.
    pub from: String,
    pub to: String,
    pub dossiers: PreviousDossiers,
    pub complaints: PreviousComplaints,
    pub tasks: PreviousTasks,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreviousDossiers {
    pub received: u64,
    pub resolved: u64,
    pub resolved_on_time: u64,
    pub resolved_late: u64,
    pub on_time_rate: Option<f64>,
    pub processing_hours: Percentiles,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreviousComplaints {
    pub received: u64,
    pub resolved: u64,
    pub resolved_on_time: u64,
    pub by_field: BTreeMap<String, u64>,
    pub by_channel: BTreeMap<String, u64>,
    pub satisfaction_rate: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PreviousTasks {
    pub assigned: u64,
    pub completed: u64,
}

/// A unit in brief, for breadcrumbs and menus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitBrief {
    pub code: String,
    pub name: String,
    pub kind: String,
}

/// `GET /api/v1/units/{code}`: a unit, its path from the root, and its direct children.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitInfo {
    pub code: String,
    pub name: String,
    pub kind: String,
    /// From the root down to this unit (inclusive).
    pub path: Vec<UnitBrief>,
    pub children: Vec<UnitBrief>,
}

/// on time ÷ (on time + late), `None` when both are zero.
pub fn rate(part: u64, rest: u64) -> Option<f64> {
    let total = part + rest;
    (total > 0).then(|| part as f64 / total as f64)
}
