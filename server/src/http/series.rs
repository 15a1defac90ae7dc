//! `GET /api/v1/units/{code}/series?metric=M&step=day|week|month&from=YYYY-MM-DD&to=YYYY-MM-DD`:
//! a figure over time, from the day-level history (and, for overdue counts and the score, the
//! items' open and due times). Days are local; weeks start on Monday; at most 400 points.

use super::error::{bounded, ApiError};
use super::extract::day_param;
use crate::accounts::access::{authorize_unit, Caller};
use crate::aggregate::score::indicators;
use crate::state::AppState;
use crate::store::history::{open_and_overdue_at, DayCounter};
use crate::store::item::counter;
use crate::store::score::ScoreParts;
use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::Serialize;
use std::collections::HashMap;

/// Most points of one series.
pub const MAX_POINTS: usize = 400;

pub const METRICS: [&str; 11] = [
    "dossiers.received",
    "dossiers.resolved",
    "dossiers.resolved_on_time",
    "dossiers.resolved_late",
    "dossiers.on_time_rate",
    "dossiers.overdue",
    "complaints.received",
    "complaints.resolved",
    "complaints.overdue",
    "tasks.overdue",
    "score",
];

pub fn routes() -> Router<AppState> {
    Router::new().route("/api/v1/units/{code}/series", get(series))
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// The first day of the step (YYYY-MM-DD, local).
    pub t: String,
    pub value: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    pub unit: ioc_shared::items::UnitName,
    pub metric: String,
    pub step: String,
    pub points: Vec<Point>,
    /// Notes on the unit's timeline over the points' days, and the calendar's days off.
    pub annotations: Vec<ioc_shared::annotation::Annotation>,
}

/// The first day of the step holding `day`.
fn step_start(step: &str, day: NaiveDate) -> NaiveDate {
    match step {
        "week" => day - chrono::Duration::days(i64::from(day.weekday().num_days_from_monday())),
        "month" => ioc_shared::time::month_start(day),
        _ => day,
    }
}

fn next_step(step: &str, start: NaiveDate) -> NaiveDate {
    match step {
        "week" => start + chrono::Duration::days(7),
        "month" => start.checked_add_months(chrono::Months::new(1)).unwrap_or(start),
        _ => start + chrono::Duration::days(1),
    }
}

async fn series(
    State(state): State<AppState>,
    caller: Caller,
    Path(code): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Series>, ApiError> {
    let unit = authorize_unit(&state.catalog, &state.accounts, &caller, &code).await?;
    let metric = params.get("metric").map(String::as_str).unwrap_or("dossiers.received");
    if !METRICS.contains(&metric) {
        return Err(ApiError::BadRequest(format!(
            "unknown metric `{metric}`; expected one of {}",
            METRICS.join(", ")
        )));
    }
    let step = params.get("step").map(String::as_str).unwrap_or("day");
    if !["day", "week", "month"].contains(&step) {
        return Err(ApiError::BadRequest(format!(
            "`step` must be day, week or month, not `{step}`"
        )));
    }
    let now = state.clock.now();
    let today = ioc_shared::time::local_day_of_second(now.timestamp());
    let to = day_param(&params, "to")?.unwrap_or(today);
    let from = day_param(&params, "from")?.unwrap_or(to - chrono::Duration::days(29));
    if from > to {
        return Err(ApiError::BadRequest("`from` is after `to`".into()));
    }
    // The steps: [start, next start) each, the first holding `from`.
    let mut steps: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    let mut start = step_start(step, from);
    while start <= to {
        let next = next_step(step, start);
        steps.push((start, next));
        if steps.len() > MAX_POINTS {
            return Err(ApiError::BadRequest(format!(
                "more than {MAX_POINTS} points; choose a larger step or a shorter range"
            )));
        }
        start = next;
    }
    let (first, last) =
        (steps.first().map(|s| s.0).unwrap_or(from), steps.last().map(|s| s.1).unwrap_or(to));
    let rows: Vec<DayCounter> =
        state.store.daily_counters(&unit.code, first, last - chrono::Duration::days(1)).await?;
    let sum = |counter: &str, (a, b): (NaiveDate, NaiveDate)| -> i64 {
        rows.iter().filter(|r| r.counter == counter && r.day >= a && r.day < b).map(|r| r.n).sum()
    };
    // The end of each step (capped at now): when "overdue at the end" is counted.
    let ends: Vec<DateTime<Utc>> =
        steps.iter().map(|(_, next)| ioc_shared::time::local_midnight_of(*next).min(now)).collect();
    let starts: Vec<DateTime<Utc>> =
        steps.iter().map(|(s, _)| ioc_shared::time::local_midnight_of(*s).min(now)).collect();
    let units = unit.parent.as_ref().map(|_| state.catalog.subtree(&unit.code));
    let spans_of = |kind: &'static str| {
        let store = state.store.clone();
        let units = units.clone();
        let (a, b) = (starts.first().copied().unwrap_or(now), ends.last().copied().unwrap_or(now));
        async move { crate::store::history::spans(&store.pool, kind, units.as_deref(), a, b).await }
    };
    let values: Vec<Option<f64>> = match metric {
        "dossiers.overdue" | "complaints.overdue" | "tasks.overdue" => {
            let kind =
                metric.split('.').next().map(|k| k.trim_end_matches('s')).unwrap_or("dossier");
            let spans = spans_of(match kind {
                "complaint" => "complaint",
                "task" => "task",
                _ => "dossier",
            })
            .await?;
            open_and_overdue_at(&spans, &ends)
                .into_iter()
                .map(|(_, overdue)| Some(overdue as f64))
                .collect()
        }
        "score" => {
            let spans = spans_of("dossier").await?;
            let at_end = open_and_overdue_at(&spans, &ends);
            let at_start = open_and_overdue_at(&spans, &starts);
            steps
                .iter()
                .enumerate()
                .map(|(i, range)| {
                    let (open_end, overdue_end) = at_end[i];
                    let (open_start, _) = at_start[i];
                    let parts = ScoreParts {
                        progress_numerator: sum(counter::DOSSIERS_ON_TIME, *range)
                            + (open_end - overdue_end) as i64,
                        progress_denominator: sum(counter::DOSSIERS_RECEIVED, *range)
                            + open_start as i64,
                        received: sum(counter::DOSSIERS_RECEIVED, *range),
                        received_online: sum(counter::DOSSIERS_ONLINE, *range),
                        dossiers_resolved: sum(counter::DOSSIERS_RESOLVED, *range),
                        dossiers_late: sum(counter::DOSSIERS_LATE, *range),
                        dossiers_dissatisfied: sum(counter::DOSSIERS_DISSATISFIED, *range),
                        complaints_resolved: sum(counter::COMPLAINTS_RESOLVED, *range),
                        complaints_on_time: sum(counter::COMPLAINTS_ON_TIME, *range),
                        complaints_dissatisfied: sum(counter::COMPLAINTS_DISSATISFIED, *range),
                        ..ScoreParts::default()
                    };
                    let score: f64 = indicators(&parts).iter().map(|i| i.score).sum();
                    Some((score * 100.0).round() / 100.0)
                })
                .collect()
        }
        "dossiers.on_time_rate" => steps
            .iter()
            .map(|range| {
                ioc_shared::summary::rate(
                    sum(counter::DOSSIERS_ON_TIME, *range).max(0) as u64,
                    sum(counter::DOSSIERS_LATE, *range).max(0) as u64,
                )
            })
            .collect(),
        _ => {
            let name = match metric {
                "dossiers.received" => counter::DOSSIERS_RECEIVED,
                "dossiers.resolved" => counter::DOSSIERS_RESOLVED,
                "dossiers.resolved_on_time" => counter::DOSSIERS_ON_TIME,
                "dossiers.resolved_late" => counter::DOSSIERS_LATE,
                "complaints.received" => counter::COMPLAINTS_RECEIVED,
                _ => counter::COMPLAINTS_RESOLVED,
            };
            steps.iter().map(|range| Some(sum(name, *range) as f64)).collect()
        }
    };
    let points = steps
        .iter()
        .zip(values)
        .map(|((start, _), value)| Point { t: start.format("%Y-%m-%d").to_string(), value })
        .collect();
    let notes = crate::reports::annotations::of_unit(
        &state.store.pool,
        &state.catalog,
        unit,
        first,
        last - chrono::Duration::days(1),
    );
    let annotations = bounded(state.settings.database_timeout, notes).await?;
    Ok(Json(Series {
        unit: ioc_shared::items::UnitName { code: unit.code.clone(), name: unit.name.clone() },
        metric: metric.to_owned(),
        step: step.to_owned(),
        points,
        annotations,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    /// Steps across the turn of a year, a leap February and a week that spans two years.
    #[test]
    fn steps_start_on_mondays_and_firsts_and_follow_each_other_across_years() {
        assert_eq!(
            step_start("week", date(2027, 1, 1)),
            date(2026, 12, 28),
            "1 January 2027 is a Friday"
        );
        assert_eq!(next_step("week", date(2026, 12, 28)), date(2027, 1, 4));
        assert_eq!(step_start("month", date(2026, 12, 31)), date(2026, 12, 1));
        assert_eq!(next_step("month", date(2026, 12, 1)), date(2027, 1, 1));
        assert_eq!(step_start("month", date(2028, 2, 29)), date(2028, 2, 1));
        assert_eq!(next_step("month", date(2028, 2, 1)), date(2028, 3, 1));
        assert_eq!(next_step("day", date(2028, 2, 28)), date(2028, 2, 29));
        assert_eq!(next_step("day", date(2026, 12, 31)), date(2027, 1, 1));
        assert_eq!(
            ioc_shared::time::local_midnight_of(date(2027, 1, 1)).to_rfc3339(),
            "2026-12-31T17:00:00+00:00"
        );
    }
}
