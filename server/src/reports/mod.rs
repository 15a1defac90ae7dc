//! Frozen reports of a unit over a calendar period (the weekly briefing): made once from
//! PostgreSQL (the day-level history, the items' open and due times, the 766 score), signed
//! ([`sign`]) and kept byte for byte, so that what a leader shows on Monday is what the system
//! said then, and anyone can check it offline.

pub mod annotations;
pub mod pdf;
pub mod schedules;
pub mod sign;
pub mod work;

use crate::aggregate::summary::{
    add_to_totals, history_totals, previous_figures, rank_children, SummaryError,
};
use crate::apply::history::day_changes;
use crate::catalog::{Catalog, Unit};
use crate::store::history::{open_and_overdue_at, DayChanges, HistoryPosition};
use crate::store::item::counter;
use crate::store::{Store, StoreError};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use ioc_shared::items::UnitName;
use ioc_shared::report::{AtEnd, OpenAtEnd, Report, ReportChild, ReportListing};
use ioc_shared::summary::{ChildFigures, Window};
use ioc_shared::time::{local_midnight_of, month_start, quarter_start, year_start};
use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] sign::SignError),
    #[error(transparent)]
    Pdf(#[from] pdf::PdfError),
    #[error("the figures could not be read")]
    Figures(#[from] SummaryError),
    #[error("unknown period `{0}`")]
    UnknownPeriod(String),
    #[error("no period before {0}")]
    NoPeriodBefore(NaiveDate),
    #[error("schedule {0} never runs again")]
    NeverRunsAgain(i64),
    /// The day-level history had not applied everything acknowledged before the freeze within
    /// [`CATCH_UP_WAIT`]: a report made now would miss some of it.
    #[error("figures catching up, retry: the history is at outbox row {applied} of {wanted}")]
    CatchingUp { applied: i64, wanted: i64 },
    /// A period that has not ended yet: its figures would still change.
    #[error("the {period} {from} – {to} has not ended yet (reports freeze complete periods)")]
    NotOver { period: String, from: NaiveDate, to: NaiveDate },
}

/// The summary's on-time rate (`part ÷ (part + rest)`), kept to 3 decimals in a frozen report.
fn rate_of(part: u64, rest: u64) -> Option<f64> {
    ioc_shared::summary::rate(part, rest).map(|r| (r * 1000.0).round() / 1000.0)
}

/// The first and last local day of the `period` holding `day`.
pub fn period_days(period: &str, day: NaiveDate) -> Option<(NaiveDate, NaiveDate)> {
    let start = match period {
        "week" => day - Duration::days(i64::from(day.weekday().num_days_from_monday())),
        "month" => month_start(day),
        "quarter" => quarter_start(day),
        "year" => year_start(day),
        _ => return None,
    };
    let next = match period {
        "week" => start + Duration::days(7),
        "month" => start.checked_add_months(chrono::Months::new(1))?,
        "quarter" => start.checked_add_months(chrono::Months::new(3))?,
        _ => start.checked_add_months(chrono::Months::new(12))?,
    };
    Some((start, next - Duration::days(1)))
}

/// The last complete `period` before `today`: its last day.
pub fn last_complete(period: &str, today: NaiveDate) -> Option<NaiveDate> {
    let (start, _) = period_days(period, today)?;
    Some(start - Duration::days(1))
}

/// Longest a freeze waits for the day-level history to apply what was acknowledged before it.
pub const CATCH_UP_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How often a waiting freeze looks at the history's position.
const CATCH_UP_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// Waits until the day-level history (rolled up with the catalog of `fingerprint`) has applied
/// every outbox row committed when it was called, at most [`CATCH_UP_WAIT`].
async fn history_caught_up(store: &Store, fingerprint: &str) -> Result<(), ReportError> {
    let deadline = tokio::time::Instant::now() + CATCH_UP_WAIT;
    let mut now = crate::store::history::position(&store.pool).await?;
    let wanted = now.last_seq;
    loop {
        if now.fingerprint == fingerprint && now.applied_seq >= wanted {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ReportError::CatchingUp { applied: now.applied_seq, wanted });
        }
        tokio::time::sleep(CATCH_UP_POLL).await;
        now = crate::store::history::position(&store.pool).await?;
    }
}

/// The day changes of the outbox rows committed in `snapshot` that its history has not applied
/// yet (those of the moments between the wait and the snapshot), rolled up as the applier
/// rolls them: added to the history's sums, the figures are those of the snapshot's items.
async fn not_yet_applied(
    snapshot: &mut sqlx::PgConnection,
    catalog: &Catalog,
    position: &HistoryPosition,
) -> Result<DayChanges, StoreError> {
    let mut changes = DayChanges::new();
    if position.last_seq > position.applied_seq {
        let rows =
            crate::store::outbox::outbox_between(snapshot, position.applied_seq, position.last_seq)
                .await?;
        for row in rows {
            // An unreadable row adds nothing to the history either (the applier quarantines it).
            if let Ok(deltas) = row.decode() {
                day_changes(catalog, &deltas, &mut changes);
            }
        }
    }
    Ok(changes)
}

/// Adds to `totals` (as [`history_totals`] keeps them for `unit`) the `pending` changes of
/// `units` on the local days `[from, to]`.
fn add_pending(
    totals: &mut HashMap<String, i64>,
    pending: &DayChanges,
    unit: &Unit,
    units: &[&Unit],
    from: NaiveDate,
    to: NaiveDate,
) {
    for ((at_unit, day, counter), n) in pending {
        if *day >= from && *day <= to && units.iter().any(|u| &u.code == at_unit) {
            add_to_totals(totals, unit, at_unit, counter.clone(), *n);
        }
    }
}

/// Freezes the report of `unit` over the `period` holding `ending`, signs it with `key` and
/// stores it; returns it as stored.
///
/// Everything acknowledged before the call is in it: the freeze first waits (at most
/// [`CATCH_UP_WAIT`], then [`ReportError::CatchingUp`]) for the day-level history to apply it,
/// then reads every figure in one read-only snapshot — the history's sums plus the outbox rows
/// it has not applied in that snapshot, the items, alerts and requests — so that the period's
/// figures and what was open at its end are of the same moment, recorded as `outbox_position`.
#[allow(clippy::too_many_arguments)]
pub async fn make(
    store: &Store,
    catalog: &Catalog,
    key: &sign::ReportKey,
    unit: &Unit,
    period: &str,
    ending: NaiveDate,
    made_by: &str,
    now: DateTime<Utc>,
) -> Result<serde_json::Value, ReportError> {
    let Some((from, to)) = period_days(period, ending) else {
        return Err(ReportError::UnknownPeriod(period.to_owned()));
    };
    if to >= ioc_shared::time::local_today(now) {
        return Err(ReportError::NotOver { period: period.to_owned(), from, to });
    }
    let Some((previous_from, previous_to)) = period_days(period, from - Duration::days(1)) else {
        return Err(ReportError::NoPeriodBefore(from));
    };
    let start = local_midnight_of(from);
    let end = local_midnight_of(to + Duration::days(1));
    let children: Vec<&Unit> =
        catalog.children(&unit.code).iter().filter_map(|code| catalog.get(code)).collect();
    let fingerprint = catalog.fingerprint(crate::aggregate::LAYOUT_VERSION);
    history_caught_up(store, &fingerprint).await?;
    let mut snapshot = crate::store::begin(&store.pool).await.map_err(StoreError::from)?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *snapshot)
        .await
        .map_err(StoreError::from)?;
    let position = crate::store::history::position(&mut *snapshot).await?;
    if position.fingerprint != fingerprint {
        // The catalog changed meanwhile and the history is being rolled up again.
        return Err(ReportError::CatchingUp {
            applied: position.applied_seq,
            wanted: position.last_seq,
        });
    }
    let pending = not_yet_applied(&mut snapshot, catalog, &position).await?;
    let mut totals = history_totals(&mut *snapshot, unit, &children, from, to).await?;
    let with_children: Vec<&Unit> = std::iter::once(unit).chain(children.iter().copied()).collect();
    add_pending(&mut totals, &pending, unit, &with_children, from, to);
    let mut previous_totals =
        history_totals(&mut *snapshot, unit, &[], previous_from, previous_to).await?;
    add_pending(&mut previous_totals, &pending, unit, &[unit], previous_from, previous_to);
    let figures = previous_figures(&totals, start.timestamp(), end.timestamp());
    let previous = previous_figures(
        &previous_totals,
        local_midnight_of(previous_from).timestamp(),
        start.timestamp(),
    );

    let get = |name: String| totals.get(&name).copied().unwrap_or(0).max(0) as u64;
    let mut ranked: Vec<ChildFigures> = children
        .iter()
        .map(|child| {
            let field = |name: &str| get(format!("k:{}:{name}", child.code));
            let (on_time, late) = (field(counter::DOSSIERS_ON_TIME), field(counter::DOSSIERS_LATE));
            ChildFigures {
                code: child.code.clone(),
                name: child.name.clone(),
                dossiers_received: field(counter::DOSSIERS_RECEIVED),
                on_time_rate: rate_of(on_time, late),
                rated: on_time + late,
                overdue: 0,
                complaints_received: field(counter::COMPLAINTS_RECEIVED),
            }
        })
        .collect();
    rank_children(&mut ranked);
    let children: Vec<ReportChild> = ranked
        .into_iter()
        .enumerate()
        .map(|(i, c)| ReportChild {
            rank: i as u32 + 1,
            code: c.code,
            name: c.name,
            dossiers_received: c.dossiers_received,
            rated: c.rated,
            on_time_rate: c.on_time_rate,
            complaints_received: c.complaints_received,
        })
        .collect();

    // Open and overdue when the period ended, from each item's open and due times.
    let units = unit.parent.as_ref().map(|_| catalog.subtree(&unit.code));
    let mut at_end = AtEnd::default();
    for (kind, slot) in [
        ("dossier", &mut at_end.dossiers),
        ("complaint", &mut at_end.complaints),
        ("task", &mut at_end.tasks),
    ] {
        let spans = crate::store::history::spans(
            &mut *snapshot,
            kind,
            units.as_deref(),
            end,
            end + Duration::seconds(1),
        )
        .await?;
        let (open, overdue) =
            open_and_overdue_at(&spans, &[end]).first().copied().unwrap_or((0, 0));
        *slot = OpenAtEnd { open, overdue };
    }

    // The 766 score of the month (quarter, year) the period ends in, to its end.
    let score_window = match period {
        "quarter" => Window::Quarter,
        "year" => Window::Year,
        _ => Window::Month,
    };
    let score = crate::aggregate::score::compute(
        &mut *snapshot,
        catalog,
        unit,
        score_window,
        end - Duration::seconds(1),
    )
    .await?;

    let worst_procedures =
        work::worst_procedures(&mut *snapshot, units.as_deref(), start, end).await?;
    let most_overdue = work::most_overdue(&mut *snapshot, units.as_deref(), end).await?;
    let late_officers = work::late_officers(&mut *snapshot, units.as_deref(), end).await?;
    let alerts = work::alerts(&mut *snapshot, units.as_deref(), start, end).await?;
    let explanations = work::explanations(&mut *snapshot, units.as_deref(), start, end).await?;
    let annotations = annotations::of_unit(&mut *snapshot, catalog, unit, from, to).await?;
    snapshot.commit().await.map_err(StoreError::from)?;

    let id: i64 = sqlx::query_scalar("SELECT nextval('reports_id_seq')")
        .fetch_one(&store.pool)
        .await
        .map_err(StoreError::from)?;
    let report = Report {
        id,
        unit: UnitName { code: unit.code.clone(), name: unit.name.clone() },
        period: period.to_owned(),
        from: from.to_string(),
        to: to.to_string(),
        frozen_at: ioc_shared::time::to_local_rfc3339(now),
        made_by: made_by.to_owned(),
        figures,
        previous,
        at_end,
        children,
        worst_procedures,
        most_overdue,
        late_officers,
        alerts,
        explanations,
        annotations,
        score,
        outbox_position: Some(position.last_seq),
        digest: String::new(),
        signature: String::new(),
    };
    let mut value = serde_json::to_value(&report)
        .map_err(|e| StoreError::Encode { what: "report", source: e })?;
    key.sign(&mut value)?;
    let body = serde_json::to_string(&value)
        .map_err(|e| StoreError::Encode { what: "report", source: e })?;
    let digest = value.get("digest").and_then(serde_json::Value::as_str).unwrap_or_default();
    sqlx::query(
        "INSERT INTO reports (id, unit, period, from_day, to_day, frozen_at, made_by, digest, body)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(&unit.code)
    .bind(period)
    .bind(from)
    .bind(to)
    .bind(now)
    .bind(made_by)
    .bind(digest)
    .bind(&body)
    .execute(&store.pool)
    .await
    .map_err(StoreError::from)?;
    Ok(value)
}

/// A stored report row.
#[derive(sqlx::FromRow)]
struct ListingRow {
    id: i64,
    unit: String,
    period: String,
    from_day: NaiveDate,
    to_day: NaiveDate,
    frozen_at: DateTime<Utc>,
    digest: String,
}

/// The reports of `units` (`None`: every unit), newest first, at most `limit`.
pub async fn list(
    store: &Store,
    catalog: &Catalog,
    units: Option<&[String]>,
    limit: i64,
) -> Result<Vec<ReportListing>, StoreError> {
    let rows: Vec<ListingRow> = sqlx::query_as(
        "SELECT id, unit, period, from_day, to_day, frozen_at, digest FROM reports
         WHERE ($1::text[] IS NULL OR unit = ANY($1)) ORDER BY id DESC LIMIT $2",
    )
    .bind(units)
    .bind(limit)
    .fetch_all(&store.pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| ReportListing {
            id: r.id,
            unit_name: catalog.get(&r.unit).map(|u| u.name.clone()).unwrap_or_default(),
            unit: r.unit,
            period: r.period,
            from: r.from_day.to_string(),
            to: r.to_day.to_string(),
            frozen_at: ioc_shared::time::to_local_rfc3339(r.frozen_at),
            digest: r.digest,
        })
        .collect())
}

/// One stored report: its unit and its body as served.
pub async fn get(store: &Store, id: i64) -> Result<Option<(String, String)>, StoreError> {
    Ok(sqlx::query_as("SELECT unit, body FROM reports WHERE id = $1")
        .bind(id)
        .fetch_optional(&store.pool)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_calendar_weeks_months_quarters_and_years() {
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("test");
        assert_eq!(
            period_days("week", day("2026-11-29")),
            Some((day("2026-11-23"), day("2026-11-29")))
        );
        assert_eq!(
            period_days("week", day("2026-11-23")),
            Some((day("2026-11-23"), day("2026-11-29")))
        );
        assert_eq!(
            period_days("month", day("2026-02-10")),
            Some((day("2026-02-01"), day("2026-02-28")))
        );
        assert_eq!(
            period_days("quarter", day("2026-12-31")),
            Some((day("2026-10-01"), day("2026-12-31")))
        );
        assert_eq!(
            period_days("year", day("2026-06-01")),
            Some((day("2026-01-01"), day("2026-12-31")))
        );
        assert_eq!(period_days("day", day("2026-06-01")), None);
        // The last complete week before Friday 4 December 2026 ends on Sunday 29 November.
        assert_eq!(last_complete("week", day("2026-12-04")), Some(day("2026-11-29")));
        assert_eq!(last_complete("month", day("2026-01-01")), Some(day("2025-12-31")));
    }
}
