//! Live aggregates in Redis: the read side. Computes the figures of one scope and window.
//!
//! A window is read as few buckets as possible: minutes up to the first whole hour, hours up to
//! the first local midnight, then whole days through today ([`window_buckets`]). One atomic
//! pipeline reads them with the "now" state (open counts, overdue range counts, late officers),
//! so a summary never mixes two versions of the aggregates.

use super::{Granularity, Keys};
use crate::catalog::{Catalog, Unit};
use crate::redis_link::RedisLink;
use crate::store::item::{counter, processing_bin_hours};
use crate::store::Store;
use chrono::{DateTime, Utc};
use ioc_shared::event::ItemKind;
use ioc_shared::items::MIN_RATED;
use ioc_shared::summary::{
    rate, ChildFigures, ComplaintFigures, DossierFigures, ExplanationFigures, LateOfficer,
    OfficerFigures, Percentiles, Previous, PreviousComplaints, PreviousDossiers, PreviousTasks,
    Summary, TaskFigures, UnitRef, Window,
};
use std::collections::{BTreeMap, HashMap};

/// How many late officers a summary lists.
pub const TOP_LATE_OFFICERS: usize = 10;

/// A computed summary and when the scope next changes by time alone.
#[derive(Debug, Clone)]
pub struct Computed {
    pub summary: Summary,
    /// Earliest due time (Unix ms) of a running item in the scope not yet overdue: the live
    /// hub wakes then to push the change, with no event needed.
    pub next_due_ms: Option<i64>,
}

/// First second of a window ending at `now`.
pub fn window_start(window: Window, now: DateTime<Utc>) -> i64 {
    use ioc_shared::time::{
        local_midnight_of, local_today, month_start, quarter_start, year_start,
    };
    let now_s = now.timestamp();
    let today = local_today(now);
    match window {
        Window::Today => local_midnight_of(today).timestamp(),
        Window::Hours24 => now_s.div_euclid(60) * 60 - 24 * 3600,
        Window::Days7 => now_s.div_euclid(3600) * 3600 - 7 * 86_400,
        Window::Days30 => now_s.div_euclid(3600) * 3600 - 30 * 86_400,
        Window::Month => local_midnight_of(month_start(today)).timestamp(),
        Window::Quarter => local_midnight_of(quarter_start(today)).timestamp(),
        Window::Year => local_midnight_of(year_start(today)).timestamp(),
    }
}

/// Days from 1970-01-01 to `date` (the index of its local-day bucket).
pub fn days_since_epoch(date: chrono::NaiveDate) -> i64 {
    (date - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default()).num_days()
}

/// The previous period of a window: `[from, to)` in Unix seconds, of the same length, ending
/// where the window starts. Calendar windows count whole local days (as many as the window
/// has begun, today included).
pub fn previous_range(window: Window, now: DateTime<Utc>) -> (i64, i64) {
    let start = window_start(window, now);
    let length = match window {
        Window::Hours24 => 24 * 3600,
        Window::Days7 => 7 * 86_400,
        Window::Days30 => 30 * 86_400,
        // Today so far, to the minute.
        Window::Today => (now.timestamp() - start).div_euclid(60) * 60,
        Window::Month | Window::Quarter | Window::Year => {
            let today = Granularity::Day.index(now.timestamp());
            (today - Granularity::Day.index(start) + 1) * 86_400
        }
    };
    (start - length, start)
}

/// The fewest buckets that together cover `[from, to)` (both on minute boundaries), each once.
pub fn range_buckets(from: i64, to: i64) -> Vec<(Granularity, i64)> {
    let mut t = from.div_euclid(60) * 60;
    let mut buckets = Vec::new();
    while t < to {
        let day = Granularity::Day.index(t);
        if Granularity::Day.start(day) == t && t + 86_400 <= to {
            buckets.push((Granularity::Day, day));
            t += 86_400;
        } else if t % 3600 == 0 && t + 3600 <= to {
            buckets.push((Granularity::Hour, Granularity::Hour.index(t)));
            t += 3600;
        } else {
            buckets.push((Granularity::Minute, Granularity::Minute.index(t)));
            t += 60;
        }
    }
    buckets
}

/// The buckets that together cover `[window start, now]`, each once.
pub fn window_buckets(window: Window, now: DateTime<Utc>) -> Vec<(Granularity, i64)> {
    let now_s = now.timestamp();
    let mut t = window_start(window, now);
    let mut buckets = Vec::new();
    while t <= now_s && t % 3600 != 0 {
        buckets.push((Granularity::Minute, Granularity::Minute.index(t)));
        t += 60;
    }
    while t <= now_s && Granularity::Day.start(Granularity::Day.index(t)) != t {
        buckets.push((Granularity::Hour, Granularity::Hour.index(t)));
        t += 3600;
    }
    while t <= now_s {
        buckets.push((Granularity::Day, Granularity::Day.index(t)));
        t += 86_400;
    }
    buckets
}

/// Why a summary could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error("Redis: {0}")]
    Redis(#[from] redis::RedisError),
    #[error("Redis reply: {0}")]
    Reply(#[from] redis::ParsingError),
    /// No current generation: the figures are being rebuilt.
    #[error("the figures are being rebuilt")]
    Rebuilding,
    /// The day-level history could not be read.
    #[error("history: {0}")]
    History(#[from] crate::store::StoreError),
    /// A total below zero means Redis drifted from the truth; it is never shown as 0.
    #[error("`{figure}` of unit {unit} is below zero; the figures are being rebuilt")]
    Negative { unit: String, figure: String },
}

/// Computes the summary of `unit` over `window` as of `now`, from the current generation.
pub async fn compute(
    conn: &mut RedisLink,
    keys: &Keys,
    history: &Store,
    catalog: &Catalog,
    unit: &Unit,
    window: Window,
    now: DateTime<Utc>,
) -> Result<Computed, SummaryError> {
    let mut computed =
        compute_windows(conn, keys, history, catalog, unit, &[window], now, None).await?;
    computed.pop().ok_or(SummaryError::Rebuilding)
}

/// The flow counters of one window and of its previous period, as read.
struct WindowTotals {
    window: Window,
    buckets: Vec<(Granularity, i64)>,
    previous_buckets: Vec<(Granularity, i64)>,
    previous_from: i64,
    previous_to: i64,
}

/// Computes the summaries of `unit` over each of `windows` as of `now`, in the order given.
///
/// What the windows have in common (open and overdue counts, the next due time, late officers
/// and their names, the children's overdue) is read once, in the same atomic pipeline as every
/// window's buckets: the summaries of one unit always agree with each other. With a `hint`
/// of the current generation, no round trip is spent asking for it first.
#[allow(clippy::too_many_arguments)]
pub async fn compute_windows(
    conn: &mut RedisLink,
    base: &Keys,
    history: &Store,
    catalog: &Catalog,
    unit: &Unit,
    windows: &[Window],
    now: DateTime<Utc>,
    hint: Option<&super::GenerationHint>,
) -> Result<Vec<Computed>, SummaryError> {
    let _timer = crate::metrics::METRICS.summary_seconds.start_timer();
    let mut generation = match hint.and_then(super::GenerationHint::get) {
        Some(generation) => generation,
        None => super::current(conn, base).await?.ok_or(SummaryError::Rebuilding)?.generation(),
    };
    let now_ms = now.timestamp_millis();
    let children: Vec<&Unit> =
        catalog.children(&unit.code).iter().filter_map(|c| catalog.get(c)).collect();
    let kinds = [ItemKind::Dossier, ItemKind::Complaint, ItemKind::Task];
    let plans: Vec<WindowTotals> = windows
        .iter()
        .map(|&window| {
            let (previous_from, previous_to) = previous_range(window, now);
            // Calendar windows read the day-level history; the others, Redis's buckets.
            let rolling = !window.is_calendar();
            WindowTotals {
                window,
                buckets: if rolling { window_buckets(window, now) } else { Vec::new() },
                previous_buckets: if rolling {
                    range_buckets(previous_from, previous_to)
                } else {
                    Vec::new()
                },
                previous_from,
                previous_to,
            }
        })
        .collect();

    // Read again, once, if the generation moved since the hint (a rebuild switched).
    let mut moved = false;
    let (keys, replies) = loop {
        let keys = base.at(generation);
        let replies: Vec<redis::Value> =
            state_pipeline(base, &keys, unit, &plans, &children, now_ms).query_async(conn).await?;
        let seen: Option<u64> =
            redis::from_redis_value(replies.first().cloned().unwrap_or(redis::Value::Nil))?;
        if let Some(hint) = hint {
            hint.set(seen);
        }
        match seen {
            Some(current) if current == generation => break (keys, replies),
            Some(current) if !moved => {
                generation = current;
                moved = true;
            }
            _ => return Err(SummaryError::Rebuilding),
        }
    };
    let keys = &keys;
    let mut replies = replies.into_iter().skip(1);
    let mut next = move || replies.next().unwrap_or(redis::Value::Nil);

    let mut window_totals: Vec<(HashMap<String, i64>, HashMap<String, i64>)> =
        Vec::with_capacity(plans.len());
    for plan in &plans {
        let mut totals: HashMap<String, i64> = HashMap::new();
        for _ in &plan.buckets {
            let bucket: HashMap<String, i64> = redis::from_redis_value(next())?;
            for (field, n) in bucket {
                *totals.entry(field).or_default() += n;
            }
        }
        let mut previous_totals: HashMap<String, i64> = HashMap::new();
        for _ in &plan.previous_buckets {
            let bucket: HashMap<String, i64> = redis::from_redis_value(next())?;
            for (field, n) in bucket.into_iter().filter(|(f, _)| !f.starts_with("k:")) {
                *previous_totals.entry(field).or_default() += n;
            }
        }
        window_totals.push((totals, previous_totals));
    }
    let open: HashMap<String, i64> = redis::from_redis_value(next())?;
    let mut overdue = [0_u64; 3];
    for slot in &mut overdue {
        *slot = redis::from_redis_value(next())?;
    }
    let mut next_due_ms: Option<i64> = None;
    for _ in kinds {
        let first: Vec<(String, f64)> = redis::from_redis_value(next())?;
        if let Some((_, score)) = first.first() {
            let score = *score as i64;
            next_due_ms = Some(next_due_ms.map_or(score, |n| n.min(score)));
        }
    }
    let _passed: i64 = redis::from_redis_value(next())?;
    let late_officers: u64 = redis::from_redis_value(next())?;
    let top_late: Vec<(String, f64)> = redis::from_redis_value(next())?;
    let mut child_overdue = Vec::with_capacity(children.len());
    for _ in &children {
        let dossiers: u64 = redis::from_redis_value(next())?;
        let complaints: u64 = redis::from_redis_value(next())?;
        child_overdue.push(dossiers + complaints);
    }
    if let Some((figure, _)) = open.iter().find(|(_, n)| **n < 0) {
        return Err(SummaryError::Negative { unit: unit.code.clone(), figure: figure.clone() });
    }
    let officers = late_officer_figures(conn, keys, catalog, unit, late_officers, top_late).await?;
    let (explanations, explanation_due) =
        history.explanation_figures(&catalog.subtree(&unit.code), now).await?;
    if let Some(due) = explanation_due {
        let due_ms = due.timestamp_millis();
        next_due_ms = Some(next_due_ms.map_or(due_ms, |n| n.min(due_ms)));
    }

    let mut computed = Vec::with_capacity(plans.len());
    for (plan, (mut totals, mut previous_totals)) in plans.into_iter().zip(window_totals) {
        if plan.window.is_calendar() {
            let to_day = ioc_shared::time::local_day_of_second(now.timestamp());
            let from_day = ioc_shared::time::local_day_of_second(window_start(plan.window, now));
            totals = history_totals(&history.pool, unit, &children, from_day, to_day).await?;
            let previous_from_day = ioc_shared::time::local_day_of_second(plan.previous_from);
            let previous_to_day = ioc_shared::time::local_day_of_second(plan.previous_to - 1);
            previous_totals =
                history_totals(&history.pool, unit, &[], previous_from_day, previous_to_day)
                    .await?;
        }
        if let Some((figure, _)) =
            totals.iter().chain(previous_totals.iter()).find(|(_, n)| **n < 0)
        {
            return Err(SummaryError::Negative { unit: unit.code.clone(), figure: figure.clone() });
        }
        let state = NowState {
            open: &open,
            overdue,
            children: &children,
            child_overdue: &child_overdue,
            explanations,
        };
        let summary =
            window_summary(unit, plan, now, &totals, &previous_totals, &state, officers.clone());
        computed.push(Computed { summary, next_due_ms });
    }
    Ok(computed)
}

/// What a unit's windows have in common: the "now" state, read once.
struct NowState<'a> {
    open: &'a HashMap<String, i64>,
    overdue: [u64; 3],
    children: &'a [&'a Unit],
    child_overdue: &'a [u64],
    explanations: ExplanationFigures,
}

/// The atomic read of a unit's windows and "now" state in generation `keys`, after a `GET` of
/// the current generation (to check it is still `keys`'s).
fn state_pipeline(
    base: &Keys,
    keys: &Keys,
    unit: &Unit,
    plans: &[WindowTotals],
    children: &[&Unit],
    now_ms: i64,
) -> redis::Pipeline {
    let overdue_max = format!("({now_ms}"); // strictly before now: "now is past its due time"
    let kinds = [ItemKind::Dossier, ItemKind::Complaint, ItemKind::Task];
    let mut pipe = redis::pipe();
    pipe.atomic();
    pipe.cmd("GET").arg(base.current_generation());
    for plan in plans {
        for (granularity, index) in plan.buckets.iter().chain(&plan.previous_buckets) {
            pipe.cmd("HGETALL").arg(keys.bucket(*granularity, *index, &unit.code));
        }
    }
    pipe.cmd("HGETALL").arg(keys.open(&unit.code));
    for kind in kinds {
        pipe.cmd("ZCOUNT").arg(keys.due(&unit.code, kind)).arg("-inf").arg(&overdue_max);
    }
    for kind in kinds {
        pipe.cmd("ZRANGEBYSCORE")
            .arg(keys.due(&unit.code, kind))
            .arg(now_ms)
            .arg("+inf")
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(1);
    }
    // The deadline engine first counts what turned late since the last read (by anyone),
    // then the ranking is read as kept: no work per overdue item here.
    // (Guarded: it writes nothing should the generation have moved.)
    pipe.cmd("EVAL")
        .arg(super::write::ADVANCE_SCRIPT.as_str())
        .arg(0)
        .arg(keys.generation_prefix())
        .arg(now_ms)
        .arg(base.current_generation())
        .arg(keys.generation());
    pipe.cmd("ZCARD").arg(keys.late_officers(&unit.code));
    pipe.cmd("ZRANGE")
        .arg(keys.late_officers(&unit.code))
        .arg(0)
        .arg(TOP_LATE_OFFICERS - 1)
        .arg("WITHSCORES");
    for child in children {
        for kind in [ItemKind::Dossier, ItemKind::Complaint] {
            pipe.cmd("ZCOUNT").arg(keys.due(&child.code, kind)).arg("-inf").arg(&overdue_max);
        }
    }
    pipe
}

/// A page of the late officers of `unit`, most overdue items first, from the same ranking the
/// summary's count and top ten come from (so the list and the tile always agree): how many
/// there are, and those from `offset` on (at most `limit`, at least one).
pub async fn late_officers_page(
    conn: &mut RedisLink,
    base: &Keys,
    catalog: &Catalog,
    unit: &Unit,
    now: DateTime<Utc>,
    offset: usize,
    limit: usize,
) -> Result<OfficerFigures, SummaryError> {
    let generation =
        super::current(conn, base).await?.ok_or(SummaryError::Rebuilding)?.generation();
    let keys = base.at(generation);
    let mut pipe = redis::pipe();
    pipe.atomic();
    pipe.cmd("GET").arg(base.current_generation());
    // The deadline engine first counts what turned late since the last read, as for a summary.
    pipe.cmd("EVAL")
        .arg(super::write::ADVANCE_SCRIPT.as_str())
        .arg(0)
        .arg(keys.generation_prefix())
        .arg(now.timestamp_millis())
        .arg(base.current_generation())
        .arg(keys.generation());
    pipe.cmd("ZCARD").arg(keys.late_officers(&unit.code));
    pipe.cmd("ZRANGE")
        .arg(keys.late_officers(&unit.code))
        .arg(offset)
        .arg((offset + limit).saturating_sub(1))
        .arg("WITHSCORES");
    let replies: Vec<redis::Value> = pipe.query_async(conn).await?;
    let mut replies = replies.into_iter();
    let mut next = move || replies.next().unwrap_or(redis::Value::Nil);
    let seen: Option<u64> = redis::from_redis_value(next())?;
    if seen != Some(generation) {
        return Err(SummaryError::Rebuilding);
    }
    let _passed: i64 = redis::from_redis_value(next())?;
    let late: u64 = redis::from_redis_value(next())?;
    let page: Vec<(String, f64)> = redis::from_redis_value(next())?;
    late_officer_figures(conn, &keys, catalog, unit, late, page).await
}

/// The late officers of `unit`: how many, and the first [`TOP_LATE_OFFICERS`] with their
/// names and the unit holding most of their late work.
async fn late_officer_figures(
    conn: &mut RedisLink,
    keys: &Keys,
    catalog: &Catalog,
    unit: &Unit,
    late: u64,
    top_late: Vec<(String, f64)>,
) -> Result<OfficerFigures, SummaryError> {
    let mut officers = OfficerFigures { late, top_late: Vec::with_capacity(top_late.len()) };
    if top_late.is_empty() {
        return Ok(officers);
    }
    let ids: Vec<&str> = top_late.iter().map(|(id, _)| id.as_str()).collect();
    let mut pipe = redis::pipe();
    pipe.cmd("HMGET").arg(keys.officers()).arg(&ids);
    for id in &ids {
        pipe.cmd("HGETALL").arg(keys.officer_units(id));
    }
    let (names, units): (Vec<Option<String>>, Vec<HashMap<String, i64>>) = {
        let replies: Vec<redis::Value> = pipe.query_async(conn).await?;
        let mut replies = replies.into_iter();
        let names = redis::from_redis_value(replies.next().unwrap_or(redis::Value::Nil))?;
        let units = replies.map(redis::from_redis_value).collect::<Result<_, _>>()?;
        (names, units)
    };
    for (((id, score), name), units) in top_late.into_iter().zip(names).zip(units) {
        let unit = unit_holding_most(catalog, &unit.code, &units);
        officers.top_late.push(LateOfficer {
            name: name.unwrap_or_else(|| id.clone()),
            unit_name: catalog.get(&unit).map(|u| u.name.clone()).unwrap_or_default(),
            unit,
            id,
            overdue: (-score).max(0.0) as u64,
        });
    }
    Ok(officers)
}

/// One window's summary from its counters and the unit's "now" state.
fn window_summary(
    unit: &Unit,
    plan: WindowTotals,
    now: DateTime<Utc>,
    totals: &HashMap<String, i64>,
    previous_totals: &HashMap<String, i64>,
    state: &NowState<'_>,
    officers: OfficerFigures,
) -> Summary {
    let get = |name: &str| -> u64 { totals.get(name).copied().unwrap_or(0) as u64 };
    let open_of =
        |kind: ItemKind| -> u64 { state.open.get(kind.as_str()).copied().unwrap_or(0) as u64 };
    let overdue = state.overdue;

    let dossiers = DossierFigures {
        received: get(counter::DOSSIERS_RECEIVED),
        resolved: get(counter::DOSSIERS_RESOLVED),
        resolved_on_time: get(counter::DOSSIERS_ON_TIME),
        resolved_late: get(counter::DOSSIERS_LATE),
        on_time_rate: rate(get(counter::DOSSIERS_ON_TIME), get(counter::DOSSIERS_LATE)),
        open: open_of(ItemKind::Dossier),
        overdue: overdue[0],
        processing_hours: processing_percentiles(totals),
    };
    let complaints = ComplaintFigures {
        received: get(counter::COMPLAINTS_RECEIVED),
        resolved: get(counter::COMPLAINTS_RESOLVED),
        resolved_on_time: get(counter::COMPLAINTS_ON_TIME),
        open: open_of(ItemKind::Complaint),
        overdue: overdue[1],
        by_field: with_prefix(totals, counter::COMPLAINT_FIELD),
        by_channel: with_prefix(totals, counter::COMPLAINT_CHANNEL),
        satisfaction_rate: {
            let rated = get(counter::COMPLAINTS_RATED);
            let satisfied = get(counter::COMPLAINTS_SATISFIED);
            rate(satisfied, rated.saturating_sub(satisfied))
        },
    };
    let tasks = TaskFigures {
        assigned: get(counter::TASKS_ASSIGNED),
        completed: get(counter::TASKS_COMPLETED),
        open: open_of(ItemKind::Task),
        overdue: overdue[2],
    };
    let mut children: Vec<ChildFigures> = state
        .children
        .iter()
        .zip(state.child_overdue)
        .map(|(child, overdue)| {
            let field = |name: &str| get(&format!("k:{}:{name}", child.code));
            ChildFigures {
                code: child.code.clone(),
                name: child.name.clone(),
                dossiers_received: field(counter::DOSSIERS_RECEIVED),
                on_time_rate: rate(field(counter::DOSSIERS_ON_TIME), field(counter::DOSSIERS_LATE)),
                rated: field(counter::DOSSIERS_ON_TIME) + field(counter::DOSSIERS_LATE),
                overdue: *overdue,
                complaints_received: field(counter::COMPLAINTS_RECEIVED),
            }
        })
        .collect();
    rank_children(&mut children);

    let previous = previous_figures(previous_totals, plan.previous_from, plan.previous_to);
    Summary {
        unit: UnitRef { code: unit.code.clone(), name: unit.name.clone(), kind: unit.kind.clone() },
        window: plan.window,
        as_of: ioc_shared::time::to_local_rfc3339(now),
        dossiers,
        complaints,
        tasks,
        officers,
        explanations: state.explanations,
        children,
        previous: Some(previous),
    }
}

/// A unit's counters (and its children's, as `k:{child}:{counter}` like Redis keeps them) over
/// local days `[from, to]`, from the day-level history.
pub(crate) async fn history_totals<'c>(
    db: impl sqlx::PgExecutor<'c>,
    unit: &Unit,
    children: &[&Unit],
    from: chrono::NaiveDate,
    to: chrono::NaiveDate,
) -> Result<HashMap<String, i64>, SummaryError> {
    let units: Vec<String> =
        std::iter::once(unit.code.clone()).chain(children.iter().map(|c| c.code.clone())).collect();
    let rows = crate::store::history::daily_sums(db, &units, from, to).await?;
    let mut totals = HashMap::new();
    for row in rows {
        add_to_totals(&mut totals, unit, &row.unit, row.counter, row.n);
    }
    Ok(totals)
}

/// Adds `n` of `counter` at `at_unit` to `totals` as [`history_totals`] keeps them: the unit's
/// own under the counter's name, a child's as `k:{child}:{counter}`.
pub(crate) fn add_to_totals(
    totals: &mut HashMap<String, i64>,
    unit: &Unit,
    at_unit: &str,
    counter: String,
    n: i64,
) {
    if at_unit == unit.code {
        *totals.entry(counter).or_default() += n;
    } else if counter::PER_CHILD.contains(&counter.as_str()) {
        *totals.entry(format!("k:{at_unit}:{counter}")).or_default() += n;
    }
}

/// The window figures of `totals` as the previous period `[from, to)`.
pub(crate) fn previous_figures(totals: &HashMap<String, i64>, from: i64, to: i64) -> Previous {
    let get = |name: &str| -> u64 { totals.get(name).copied().unwrap_or(0).max(0) as u64 };
    let time = |t: i64| {
        DateTime::from_timestamp(t, 0).map(ioc_shared::time::to_local_rfc3339).unwrap_or_default()
    };
    Previous {
        from: time(from),
        to: time(to),
        dossiers: PreviousDossiers {
            received: get(counter::DOSSIERS_RECEIVED),
            resolved: get(counter::DOSSIERS_RESOLVED),
            resolved_on_time: get(counter::DOSSIERS_ON_TIME),
            resolved_late: get(counter::DOSSIERS_LATE),
            on_time_rate: rate(get(counter::DOSSIERS_ON_TIME), get(counter::DOSSIERS_LATE)),
            processing_hours: processing_percentiles(totals),
        },
        complaints: PreviousComplaints {
            received: get(counter::COMPLAINTS_RECEIVED),
            resolved: get(counter::COMPLAINTS_RESOLVED),
            resolved_on_time: get(counter::COMPLAINTS_ON_TIME),
            by_field: with_prefix(totals, counter::COMPLAINT_FIELD),
            by_channel: with_prefix(totals, counter::COMPLAINT_CHANNEL),
            satisfaction_rate: {
                let rated = get(counter::COMPLAINTS_RATED);
                let satisfied = get(counter::COMPLAINTS_SATISFIED);
                rate(satisfied, rated.saturating_sub(satisfied))
            },
        },
        tasks: PreviousTasks {
            assigned: get(counter::TASKS_ASSIGNED),
            completed: get(counter::TASKS_COMPLETED),
        },
    }
}

/// Worst on-time rate first, but only among children with at least [`MIN_RATED`] rated
/// dossiers (one late dossier out of one says little); the others follow ("ít dữ liệu"); then
/// most overdue, then code, so the order is stable.
pub fn rank_children(children: &mut [ChildFigures]) {
    children.sort_by(|a, b| {
        let rated = |c: &ChildFigures| c.rated >= MIN_RATED && c.on_time_rate.is_some();
        let rate_order = match (rated(a), rated(b)) {
            (true, true) => a.on_time_rate.unwrap_or(0.0).total_cmp(&b.on_time_rate.unwrap_or(0.0)),
            (true, false) => std::cmp::Ordering::Less,
            (false, true) => std::cmp::Ordering::Greater,
            (false, false) => std::cmp::Ordering::Equal,
        };
        rate_order.then(b.overdue.cmp(&a.overdue)).then(a.code.cmp(&b.code))
    });
}

fn with_prefix(totals: &HashMap<String, i64>, prefix: &str) -> BTreeMap<String, u64> {
    totals
        .iter()
        .filter_map(|(name, n)| Some((name.strip_prefix(prefix)?.to_owned(), *n)))
        .filter(|(_, n)| *n > 0)
        .map(|(name, n)| (name, n as u64))
        .collect()
}

/// Nearest-rank p50 and p90 from the merged histogram.
fn processing_percentiles(totals: &HashMap<String, i64>) -> Percentiles {
    let mut bins: Vec<(f64, u64)> = totals
        .iter()
        .filter_map(|(name, n)| {
            let bin = name.strip_prefix(counter::DOSSIER_PROCESSING_BIN)?;
            Some((processing_bin_hours(bin)?, (*n).max(0) as u64))
        })
        .filter(|(_, n)| *n > 0)
        .collect();
    bins.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total: u64 = bins.iter().map(|(_, n)| n).sum();
    let percentile = |p: f64| -> Option<f64> {
        if total == 0 {
            return None;
        }
        let rank = ((p * total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (hours, n) in &bins {
            seen += n;
            if seen >= rank {
                return Some((hours * 100.0).round() / 100.0);
            }
        }
        None
    };
    Percentiles { p50: percentile(0.5), p90: percentile(0.9) }
}

/// Of an officer's overdue items by unit, the unit (inside `scope`) holding most of them; ties
/// go to the smaller code, so the answer is stable.
fn unit_holding_most(catalog: &Catalog, scope: &str, units: &HashMap<String, i64>) -> String {
    units
        .iter()
        .filter(|(unit, n)| **n > 0 && (*unit == scope || catalog.is_within(unit, scope)))
        .max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0)))
        .map(|(unit, _)| unit.clone())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        ioc_shared::time::parse_rfc3339(text).unwrap_or_default()
    }

    /// The moments where calendar arithmetic breaks first: each turn of a local day, month,
    /// quarter, half-year and year (its first and last minute), 29 February, and Tết.
    const TURNS: [&str; 16] = [
        "2026-11-22T10:37:12+07:00",
        "2026-11-22T00:00:00+07:00",
        "2026-11-22T23:59:59+07:00",
        "2026-11-30T23:59:00+07:00",
        "2026-12-01T00:00:00+07:00",
        "2026-12-01T00:20:00+07:00",
        "2026-03-31T23:59:59+07:00",
        "2026-04-01T00:00:30+07:00",
        "2026-06-30T23:30:00+07:00",
        "2026-07-01T00:20:00+07:00",
        "2026-12-31T23:59:59+07:00",
        "2027-01-01T00:00:00+07:00",
        "2027-01-01T00:20:00+07:00",
        "2028-02-29T00:10:00+07:00",
        "2028-03-01T00:10:00+07:00",
        "2026-02-17T09:00:00+07:00",
    ];

    fn local(text: &str) -> chrono::NaiveDate {
        ioc_shared::time::local_day(at(text))
    }

    #[test]
    fn calendar_windows_start_at_local_midnight_of_their_first_day() {
        let start = |window, now: &str| {
            DateTime::from_timestamp(window_start(window, at(now)), 0).unwrap_or_default()
        };
        // 00:20 on 1 January: today, the month, the quarter and the year all began 20 minutes ago.
        for window in [Window::Today, Window::Month, Window::Quarter, Window::Year] {
            assert_eq!(
                start(window, "2027-01-01T00:20:00+07:00"),
                at("2027-01-01T00:00:00+07:00"),
                "{window:?}"
            );
        }
        // One minute before: everything is still the old year's.
        assert_eq!(
            start(Window::Today, "2026-12-31T23:59:00+07:00"),
            at("2026-12-31T00:00:00+07:00")
        );
        assert_eq!(
            start(Window::Month, "2026-12-31T23:59:00+07:00"),
            at("2026-12-01T00:00:00+07:00")
        );
        assert_eq!(
            start(Window::Quarter, "2026-12-31T23:59:00+07:00"),
            at("2026-10-01T00:00:00+07:00")
        );
        assert_eq!(
            start(Window::Year, "2026-12-31T23:59:00+07:00"),
            at("2026-01-01T00:00:00+07:00")
        );
        // The first local hour of a month is still the previous day in UTC.
        assert_eq!(start(Window::Month, "2026-12-01T00:20:00+07:00"), at("2026-11-30T17:00:00Z"));
        assert_eq!(
            start(Window::Quarter, "2026-07-01T00:20:00+07:00"),
            at("2026-07-01T00:00:00+07:00")
        );
        assert_eq!(
            start(Window::Quarter, "2026-06-30T23:30:00+07:00"),
            at("2026-04-01T00:00:00+07:00")
        );
        // 29 February and the day after.
        assert_eq!(
            start(Window::Today, "2028-02-29T00:10:00+07:00"),
            at("2028-02-29T00:00:00+07:00")
        );
        assert_eq!(
            start(Window::Month, "2028-03-01T00:10:00+07:00"),
            at("2028-03-01T00:00:00+07:00")
        );
        // Rolling windows ignore the calendar.
        assert_eq!(
            start(Window::Hours24, "2027-01-01T00:20:30+07:00"),
            at("2026-12-31T00:20:00+07:00")
        );
        assert_eq!(
            start(Window::Days7, "2027-01-01T00:20:30+07:00"),
            at("2026-12-25T00:00:00+07:00")
        );
    }

    /// The previous period has as many whole local days as the window has begun (today
    /// included) and ends where the window starts, at every turn.
    #[test]
    fn previous_periods_end_at_the_window_and_count_whole_days() {
        for now in TURNS {
            for window in [Window::Month, Window::Quarter, Window::Year] {
                let start = window_start(window, at(now));
                let (from, to) = previous_range(window, at(now));
                assert_eq!(to, start, "{window:?} {now}");
                let days_begun =
                    (local(now) - ioc_shared::time::local_day_of_second(start)).num_days() + 1;
                assert_eq!(to - from, days_begun * 86_400, "{window:?} {now}");
                assert_eq!(
                    Granularity::Day.start(Granularity::Day.index(from)),
                    from,
                    "{window:?} {now}: starts at a local midnight"
                );
            }
            let (from, to) = previous_range(Window::Hours24, at(now));
            assert_eq!((to - from, to), (86_400, window_start(Window::Hours24, at(now))), "{now}");
            let (from, to) = previous_range(Window::Today, at(now));
            assert_eq!(to, window_start(Window::Today, at(now)), "{now}");
            assert!(
                to - from <= 86_400 && (to - from) % 60 == 0,
                "{now}: today's previous period is today so far"
            );
        }
        // On 1 January at 00:20 the year's previous period is the last day of the old year.
        let (from, to) = previous_range(Window::Year, at("2027-01-01T00:20:00+07:00"));
        assert_eq!(
            (from, to),
            (
                at("2026-12-31T00:00:00+07:00").timestamp(),
                at("2027-01-01T00:00:00+07:00").timestamp()
            )
        );
        // On 29 February the month's previous period is the 29 days before 1 February … 29.
        let (from, _) = previous_range(Window::Month, at("2028-02-29T12:00:00+07:00"));
        assert_eq!(from, at("2028-01-03T00:00:00+07:00").timestamp());
    }

    /// Every second of the window lies in exactly one bucket, for every window and many "now"s.
    #[test]
    fn window_buckets_cover_the_window_exactly_once() {
        for now_text in TURNS {
            let now = at(now_text);
            for window in Window::ALL {
                let buckets = window_buckets(window, now);
                let start = window_start(window, now);
                let mut t = start;
                for (granularity, index) in &buckets {
                    assert_eq!(
                        granularity.start(*index),
                        t,
                        "{window:?} {now_text}: gap or overlap"
                    );
                    t = granularity.start(*index + 1);
                }
                assert!(t > now.timestamp(), "{window:?} {now_text}: window not covered to now");
                // Only rolling windows are read from Redis bucket by bucket; calendar windows
                // read the day-level history in PostgreSQL instead.
                if !window.is_calendar() {
                    assert!(buckets.len() <= 60 + 24 + 31, "{window:?}: {} buckets", buckets.len());
                }
            }
        }
    }

    #[test]
    fn the_24h_window_is_exact_to_the_minute() {
        let now = at("2026-11-22T10:37:12+07:00");
        assert_eq!(window_start(Window::Hours24, now), at("2026-11-21T10:37:00+07:00").timestamp());
        assert_eq!(window_start(Window::Days7, now), at("2026-11-15T10:00:00+07:00").timestamp());
        assert_eq!(window_start(Window::Today, now), at("2026-11-22T00:00:00+07:00").timestamp());
    }

    /// The unit named beside a late officer is the one holding most of their overdue work
    /// inside the scope being read, ties to the smaller code.
    #[test]
    fn an_officers_unit_is_the_one_holding_most_of_their_late_work_in_the_scope() {
        let Ok(catalog) = Catalog::load(None) else { panic!("the built-in catalog loads") };
        let units: HashMap<String, i64> = [("00004", 3), ("00037", 3), ("00001", 1), ("00006", 0)]
            .into_iter()
            .map(|(unit, n)| (unit.to_owned(), n))
            .collect();
        assert_eq!(
            unit_holding_most(&catalog, "01", &units),
            "00004",
            "a tie goes to the smaller code"
        );
        assert_eq!(
            unit_holding_most(&catalog, "002", &units),
            "00037",
            "only units inside the scope count"
        );
        assert_eq!(unit_holding_most(&catalog, "00001", &units), "00001");
        assert_eq!(
            unit_holding_most(&catalog, "00006", &units),
            "",
            "a unit at 0 holds none of it"
        );
    }

    /// Regression: a unit with one late dossier out of one topped the city's ranking.
    #[test]
    fn children_rank_worst_rate_first_only_with_enough_rated() {
        let child = |code: &str, rate: Option<f64>, rated: u64, overdue: u64| ChildFigures {
            code: code.into(),
            name: code.into(),
            dossiers_received: 0,
            on_time_rate: rate,
            rated,
            overdue,
            complaints_received: 0,
        };
        let mut list = vec![
            child("a", None, 0, 9),
            child("b", Some(0.9), 10, 0),
            child("c", Some(0.5), 6, 0),
            child("d", Some(0.9), 10, 3),
            child("e", Some(0.0), 1, 1),
            child("f", Some(0.0), 4, 0),
        ];
        rank_children(&mut list);
        let order: Vec<&str> = list.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(
            order,
            ["c", "d", "b", "a", "e", "f"],
            "0 of 1 and 0 of 4 rank with the small samples, by overdue then code"
        );
    }
}
