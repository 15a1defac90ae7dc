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

/// A procedure's dossiers resolved in the period, worst first (most resolved late).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcedureLine {
    pub procedure: String,
    pub resolved: u64,
    pub late: u64,
    pub on_time_rate: Option<f64>,
}

/// An item open and past its due time when the period ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverdueItem {
    pub kind: String,
    pub id: String,
    pub unit: String,
    /// The dossier's procedure or the task's title.
    pub what: Option<String>,
    pub officer: Option<String>,
    /// Its due time (RFC 3339, local).
    pub due: String,
    /// Hours past it when the period ended.
    pub hours_overdue: f64,
}

/// An officer with items open and past their due time when the period ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LateOfficer {
    pub id: String,
    pub name: Option<String>,
    pub overdue: u64,
}

/// The unit's alerts (and its units') and how they were handled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertsInPeriod {
    /// Raised in the period.
    pub raised: u64,
    /// Of those, acknowledged, and resolved, before the period ended.
    pub acknowledged: u64,
    pub resolved: u64,
    /// Raised at any time and still not resolved when the period ended.
    pub open_at_end: u64,
}

/// Explanation requests to the unit (and its units).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExplanationsInPeriod {
    /// Asked in the period.
    pub asked: u64,
    /// Answered in the period (whenever asked).
    pub answered: u64,
    /// Past their due time without an answer or a close when the period ended.
    pub overdue_at_end: u64,
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
    /// At most 10 procedures, most dossiers resolved late first.
    pub worst_procedures: Vec<ProcedureLine>,
    /// At most 20 items, longest overdue first, when the period ended.
    pub most_overdue: Vec<OverdueItem>,
    /// At most 20 officers, most overdue items first, when the period ended.
    pub late_officers: Vec<LateOfficer>,
    pub alerts: AlertsInPeriod,
    pub explanations: ExplanationsInPeriod,
    /// Notes on the unit's timeline in the period, and the calendar's days off.
    pub annotations: Vec<crate::annotation::Annotation>,
    /// The Decision 766 score of the month, quarter or year the period ends in, to its end
    /// (a week: its month so far).
    pub score: Score,
    /// The last outbox row (acknowledged change) the figures reflect: everything acknowledged
    /// before the freeze, and nothing after this row. Absent from reports frozen before it was
    /// recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_position: Option<i64>,
    pub digest: String,
    pub signature: String,
}

/// One line of a unit's list of reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportListing {
    pub id: i64,
    /// The unit's code.
    pub unit: String,
    /// Its name in the catalog.
    pub unit_name: String,
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

/// A period's name in Vietnamese (`week` → `tuần`), for screens, PDFs and emails.
pub fn period_name(period: &str) -> &'static str {
    match period {
        "week" => "tuần",
        "month" => "tháng",
        "quarter" => "quý",
        _ => "năm",
    }
}

/// The days a schedule may name, Monday first (`weekday` in a schedule).
pub const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

/// Who a scheduled report is mailed to.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipients {
    /// `chief` (the unit's chiefs, or those of the nearest unit above that has any),
    /// `leader`, `admin`.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Usernames.
    #[serde(default)]
    pub users: Vec<String>,
}

/// `POST /api/v1/reports/schedules`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewReportSchedule {
    pub unit: String,
    /// One of [`PERIODS`]; `week` when absent.
    #[serde(default)]
    pub period: Option<String>,
    /// One of [`WEEKDAYS`]; `mon` when absent.
    #[serde(default)]
    pub weekday: Option<String>,
    /// Local `HH:MM`; `07:00` when absent.
    #[serde(default)]
    pub time: Option<String>,
    pub to: Recipients,
}

/// A report schedule: the report of the period just ended is made and mailed on the first
/// `weekday` of each new period at `time` local (the next working day when that is a day off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSchedule {
    pub id: i64,
    pub unit: UnitName,
    pub period: String,
    pub weekday: String,
    pub time: String,
    pub to: Recipients,
    pub created_by: String,
    /// When it fires next (RFC 3339, local time).
    pub next_run_at: String,
    /// The report it made last, if any.
    pub last_report: Option<i64>,
}
