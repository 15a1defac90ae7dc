//! Alert rules and alerts, as `/api/v1/alerts/*` and the live `alerts` view carry them.
//!
//! A rule compares one figure of a unit — a number of its summary named by its JSON path
//! (`dossiers.overdue`, `dossiers.on_time_rate`, `officers.late`, …), its Decision 766 score
//! (`score.total`, `score.at_stake_24h`), or how long a source feeding it has been silent
//! (`source.silent`, minutes), or how much its complaints spiked (`complaints.spike`, see
//! [`spike_multiple`]) — with a threshold. While the comparison holds the unit has one
//! open alert of that rule, which someone acknowledges and which resolves by itself.

use crate::access::Role;
use crate::items::UnitName;
use crate::summary::Window;
use serde::{Deserialize, Serialize};

/// Longest rule name and acknowledgement note, in characters.
pub const MAX_TEXT_CHARS: usize = 4_000;
/// Longest `for_seconds` (a week) and `escalate_after_minutes` (30 days).
pub const MAX_FOR_SECONDS: u32 = 7 * 24 * 3600;
pub const MAX_ESCALATE_MINUTES: u32 = 30 * 24 * 60;

/// The figures a rule may name besides the summary's numbers.
pub const SCORE_METRICS: [&str; 2] = ["score.total", "score.at_stake_24h"];
pub const SOURCE_SILENT: &str = "source.silent";
pub const COMPLAINTS_SPIKE: &str = "complaints.spike";
/// How many previous same weekdays the spike's baseline averages.
pub const SPIKE_BASELINE_WEEKS: usize = 4;

/// How a figure is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    #[serde(rename = ">")]
    Above,
    #[serde(rename = ">=")]
    AtLeast,
    #[serde(rename = "<")]
    Below,
    #[serde(rename = "<=")]
    AtMost,
}

impl Op {
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Above => ">",
            Op::AtLeast => ">=",
            Op::Below => "<",
            Op::AtMost => "<=",
        }
    }

    pub fn parse(text: &str) -> Option<Op> {
        [Op::Above, Op::AtLeast, Op::Below, Op::AtMost].into_iter().find(|op| op.as_str() == text)
    }

    /// Whether `value op threshold` holds.
    pub fn holds(self, value: f64, threshold: f64) -> bool {
        match self {
            Op::Above => value > threshold,
            Op::AtLeast => value >= threshold,
            Op::Below => value < threshold,
            Op::AtMost => value <= threshold,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Critical,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Critical => "critical",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        [Severity::Warning, Severity::Critical].into_iter().find(|s| s.as_str() == text)
    }
}

/// Who is told when an alert of the rule fires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notify {
    /// Every active user of these roles responsible for the alert's unit (chiefs: of the unit,
    /// or of the nearest unit above it that has one).
    #[serde(default)]
    pub roles: Vec<Role>,
    /// These users by name.
    #[serde(default)]
    pub users: Vec<String>,
    /// These webhooks by id.
    #[serde(default)]
    pub webhooks: Vec<i64>,
}

fn default_severity() -> Severity {
    Severity::Warning
}

/// A rule as it is created or replaced (`POST`, `PUT`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    pub name: String,
    pub unit: String,
    /// Evaluated for the unit and for each unit below it, one alert per unit.
    #[serde(default)]
    pub include_children: bool,
    pub metric: String,
    pub window: Window,
    pub op: Op,
    pub threshold: f64,
    /// How long the condition must hold before the alert fires, and be false before it
    /// resolves.
    #[serde(default)]
    pub for_seconds: u32,
    #[serde(default = "default_severity")]
    pub severity: Severity,
    /// Rates are not evaluated on fewer rated items than this.
    #[serde(default)]
    pub min_sample: u32,
    #[serde(default)]
    pub notify: Notify,
    /// An alert still unacknowledged after this long notifies the parent unit's chiefs and the
    /// leaders, once.
    #[serde(default)]
    pub escalate_after_minutes: Option<u32>,
}

/// A stored rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rule {
    pub id: i64,
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// `user:NAME`, or `default` for the shipped set.
    pub created_by: String,
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertState {
    Firing,
    Acknowledged,
    Resolved,
}

impl AlertState {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Firing => "firing",
            AlertState::Acknowledged => "acknowledged",
            AlertState::Resolved => "resolved",
        }
    }

    pub fn parse(text: &str) -> Option<AlertState> {
        [AlertState::Firing, AlertState::Acknowledged, AlertState::Resolved]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The rule an alert came from (`id` is null once the rule was deleted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: Option<i64>,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acknowledgement {
    /// `user:NAME`.
    pub by: String,
    pub at: String,
    pub note: Option<String>,
}

/// One alert: a rule's condition held for a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    pub id: i64,
    pub rule: RuleRef,
    pub unit: UnitName,
    pub metric: String,
    pub window: Window,
    pub op: Op,
    /// The figure, the same number the summary shows for that unit and window (kept current
    /// while the alert is open).
    pub value: f64,
    pub threshold: f64,
    pub severity: Severity,
    pub state: AlertState,
    /// When it fired (RFC 3339).
    pub since: String,
    pub acknowledged: Option<Acknowledgement>,
    pub resolved_at: Option<String>,
    pub escalated_at: Option<String>,
}

impl Alert {
    /// The alert as a wall display may see it: who acknowledged and their note left out.
    pub fn without_names(mut self) -> Alert {
        if let Some(ack) = self.acknowledged.as_mut() {
            ack.by = String::new();
            ack.note = None;
        }
        self
    }
}

/// `GET /api/v1/alerts`: newest first; `next` is the cursor of the following page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertsPage {
    pub alerts: Vec<Alert>,
    pub next: Option<String>,
}

/// The `data` of a live `alerts` message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertsData {
    pub alerts: Vec<Alert>,
}

impl AlertsData {
    /// The open alerts as everyone who may see the unit may read them, wall displays included:
    /// who acknowledged and their note are left out.
    pub fn without_names(alerts: Vec<Alert>) -> AlertsData {
        AlertsData { alerts: alerts.into_iter().map(Alert::without_names).collect() }
    }
}

/// Orders open alerts as a leader reads them: unacknowledged first, then critical first, then
/// the newest.
pub fn attention_order(a: &Alert, b: &Alert) -> std::cmp::Ordering {
    let unacknowledged = |alert: &Alert| alert.state == AlertState::Firing;
    unacknowledged(b)
        .cmp(&unacknowledged(a))
        .then(b.severity.cmp(&a.severity))
        .then(b.since.cmp(&a.since))
        .then(b.id.cmp(&a.id))
}

/// What a rule's metric names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricSource {
    /// A number of the unit's summary (the live `summary` view).
    Summary,
    /// The unit's Decision 766 score (the live `score` view; calendar windows only).
    Score,
    /// The longest silence, in minutes, of a source feeding the unit.
    SourceSilence,
    /// Complaints received in the last hour as a multiple of the same hour's mean on the
    /// previous four same weekdays ([`spike_multiple`]).
    ComplaintsSpike,
}

/// The summary's numbers a rule may name, by JSON path; `complaints.by_field.X` and
/// `complaints.by_channel.X` name any field or channel. `officers_late` is read as
/// `officers.late`.
pub const SUMMARY_METRICS: [&str; 22] = [
    "dossiers.received",
    "dossiers.resolved",
    "dossiers.resolved_on_time",
    "dossiers.resolved_late",
    "dossiers.on_time_rate",
    "dossiers.open",
    "dossiers.overdue",
    "dossiers.processing_hours.p50",
    "dossiers.processing_hours.p90",
    "complaints.received",
    "complaints.resolved",
    "complaints.resolved_on_time",
    "complaints.open",
    "complaints.overdue",
    "complaints.satisfaction_rate",
    "tasks.assigned",
    "tasks.completed",
    "tasks.open",
    "tasks.overdue",
    "officers.late",
    "explanations.open",
    "explanations.overdue",
];

/// The metric as stored: aliases resolved.
pub fn canonical_metric(metric: &str) -> &str {
    match metric {
        "officers_late" => "officers.late",
        other => other,
    }
}

/// Where `metric` is read from, or why it names nothing.
pub fn metric_source(metric: &str, window: Window) -> Result<MetricSource, String> {
    let metric = canonical_metric(metric);
    if metric == SOURCE_SILENT {
        return Ok(MetricSource::SourceSilence);
    }
    if metric == COMPLAINTS_SPIKE {
        return Ok(MetricSource::ComplaintsSpike);
    }
    if SCORE_METRICS.contains(&metric) {
        if !window.is_calendar() {
            return Err(format!(
                "`{metric}` is measured over a month, quarter or year, not `{}`",
                window.as_str()
            ));
        }
        return Ok(MetricSource::Score);
    }
    let dynamic = ["complaints.by_field.", "complaints.by_channel."]
        .iter()
        .any(|prefix| metric.strip_prefix(prefix).is_some_and(|rest| !rest.is_empty()));
    if dynamic || SUMMARY_METRICS.contains(&metric) {
        return Ok(MetricSource::Summary);
    }
    Err(format!(
        "unknown metric `{metric}`; expected a number of the summary by its JSON path ({}, complaints.by_field.NAME, complaints.by_channel.NAME), {}, {}, {COMPLAINTS_SPIKE} or {SOURCE_SILENT}",
        SUMMARY_METRICS.join(", "),
        SCORE_METRICS[0],
        SCORE_METRICS[1],
    ))
}

/// `complaints.spike`: complaints received in the last hour ÷ the mean of the same hour on the
/// previous [`SPIKE_BASELINE_WEEKS`] same weekdays (`baseline`, one count per week). `None`
/// when the baseline holds fewer than `min_sample` complaints, or none at all: a ward that
/// never gets a complaint at that hour has no multiple to speak of. Rounded to 0.01.
pub fn spike_multiple(last_hour: u64, baseline: &[u64], min_sample: u32) -> Option<f64> {
    let total: u64 = baseline.iter().sum();
    if total == 0 || total < u64::from(min_sample) || baseline.is_empty() {
        return None;
    }
    let mean = total as f64 / baseline.len() as f64;
    Some((last_hour as f64 / mean * 100.0).round() / 100.0)
}

/// Whether the metric is a rate (`min_sample` applies to it).
pub fn is_rate(metric: &str) -> bool {
    canonical_metric(metric).ends_with("_rate")
}

fn number_at(document: &serde_json::Value, path: &str) -> Option<f64> {
    path.split('.').try_fold(document, |value, key| value.get(key))?.as_f64()
}

/// A summary metric's value in a summary (`data` of a `snapshot` message) and the number of
/// rated items behind it (for rates; `None` for counts). `Ok(None)`: the figure is empty (a rate
/// with nothing rated, a percentile of no dossiers, a field with no complaints counts 0).
pub fn summary_figure(metric: &str, summary: &serde_json::Value) -> Option<(f64, Option<u64>)> {
    let metric = canonical_metric(metric);
    let sample = match metric {
        "dossiers.on_time_rate" => Some(
            number_at(summary, "dossiers.resolved_on_time").unwrap_or(0.0)
                + number_at(summary, "dossiers.resolved_late").unwrap_or(0.0),
        ),
        "complaints.satisfaction_rate" => number_at(summary, "complaints.resolved"),
        _ => None,
    };
    let value = match number_at(summary, metric) {
        Some(value) => value,
        // A field or channel with no complaint yet is absent from its map: 0.
        None if metric.starts_with("complaints.by_") => 0.0,
        None => return None,
    };
    Some((value, sample.map(|n| n.max(0.0) as u64)))
}

/// A score metric's value in a score (`data` of a `score` message).
pub fn score_figure(metric: &str, score: &serde_json::Value) -> Option<f64> {
    match metric {
        "score.total" => number_at(score, "score"),
        "score.at_stake_24h" => number_at(score, "at_stake_24h.points"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_reads_as_the_issue_writes_it() {
        let spec: RuleSpec = serde_json::from_str(
            r#"{"unit": "001", "include_children": true, "metric": "dossiers.overdue",
                "window": "24h", "op": ">", "threshold": 20, "for_seconds": 0,
                "severity": "critical", "min_sample": 20,
                "notify": {"roles": ["chief"], "users": ["lanhdao"], "webhooks": [3]},
                "escalate_after_minutes": 120, "name": "Quá hạn"}"#,
        )
        .expect("the issue's example");
        assert_eq!(spec.op, Op::Above);
        assert_eq!(spec.window, Window::Hours24);
        assert_eq!(spec.notify.roles, vec![Role::Chief]);
        assert_eq!(spec.escalate_after_minutes, Some(120));
        let unknown = serde_json::from_str::<RuleSpec>(
            r#"{"unit": "001", "metric": "x", "window": "24h", "op": ">", "threshold": 1,
                "name": "n", "treshold": 2}"#,
        );
        assert!(unknown.is_err(), "a misspelt field is refused, not ignored");
    }

    #[test]
    fn a_metric_is_read_where_the_summary_shows_it() {
        let summary = serde_json::json!({
            "dossiers": {"resolved_on_time": 15, "resolved_late": 5, "on_time_rate": 0.75,
                         "overdue": 3, "processing_hours": {"p50": null, "p90": 12.5}},
            "complaints": {"resolved": 4, "by_channel": {"zalo": 7}},
            "officers": {"late": 2}
        });
        assert_eq!(summary_figure("dossiers.on_time_rate", &summary), Some((0.75, Some(20))));
        assert_eq!(summary_figure("dossiers.overdue", &summary), Some((3.0, None)));
        assert_eq!(summary_figure("officers_late", &summary), Some((2.0, None)));
        assert_eq!(summary_figure("complaints.by_channel.zalo", &summary), Some((7.0, None)));
        assert_eq!(summary_figure("complaints.by_channel.hotline", &summary), Some((0.0, None)));
        assert_eq!(summary_figure("dossiers.processing_hours.p50", &summary), None);
        let score =
            serde_json::json!({"score": 71.5, "at_stake_24h": {"dossiers": 3, "points": 1.2}});
        assert_eq!(score_figure("score.total", &score), Some(71.5));
        assert_eq!(score_figure("score.at_stake_24h", &score), Some(1.2));
    }

    #[test]
    fn only_figures_that_exist_can_be_named() {
        assert_eq!(metric_source("dossiers.overdue", Window::Hours24), Ok(MetricSource::Summary));
        assert_eq!(metric_source("officers_late", Window::Today), Ok(MetricSource::Summary));
        assert_eq!(metric_source("score.total", Window::Month), Ok(MetricSource::Score));
        assert!(metric_source("score.total", Window::Hours24).is_err());
        assert_eq!(metric_source("source.silent", Window::Today), Ok(MetricSource::SourceSilence));
        assert_eq!(
            metric_source("complaints.spike", Window::Hours24),
            Ok(MetricSource::ComplaintsSpike)
        );
        assert!(metric_source("dossiers", Window::Today).is_err());
        assert!(metric_source("complaints.by_field.", Window::Today).is_err());
        assert!(metric_source("unit.name", Window::Today).is_err());
        assert!(is_rate("dossiers.on_time_rate") && !is_rate("dossiers.overdue"));
    }

    #[test]
    fn a_spike_is_the_last_hour_over_the_mean_of_the_same_hour_on_four_weekdays() {
        // 2 + 1 + 0 + 1 = 4 over four weeks: a mean of 1 an hour; 3 now is ×3.
        assert_eq!(spike_multiple(3, &[2, 1, 0, 1], 0), Some(3.0));
        assert_eq!(spike_multiple(0, &[2, 1, 0, 1], 0), Some(0.0));
        assert_eq!(spike_multiple(7, &[1, 2, 3, 0], 0), Some(4.67));
        assert_eq!(spike_multiple(9, &[0, 0, 0, 0], 0), None, "no baseline, no multiple");
        assert_eq!(spike_multiple(9, &[1, 0, 0, 0], 2), None, "below min_sample");
        assert_eq!(spike_multiple(9, &[1, 1, 0, 0], 2), Some(18.0));
    }

    #[test]
    fn operators_compare_as_written() {
        assert!(Op::Above.holds(21.0, 20.0) && !Op::Above.holds(20.0, 20.0));
        assert!(Op::AtLeast.holds(20.0, 20.0));
        assert!(Op::Below.holds(0.79, 0.8) && !Op::Below.holds(0.8, 0.8));
        assert!(Op::AtMost.holds(0.8, 0.8));
        assert_eq!(Op::parse(">="), Some(Op::AtLeast));
        assert_eq!(Op::parse("=="), None);
    }
}
