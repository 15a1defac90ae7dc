//! Live aggregates in Redis: the read side. Computes the figures of one scope and window.
//!
//! A window is read as few buckets as possible: minutes up to the first whole hour, hours up to
//! the first local midnight, then whole days through today ([`window_buckets`]). One atomic
//! pipeline reads them with the "now" state (open counts, overdue range counts, late officers),
//! so a summary never mixes two versions of the aggregates.

use crate::aggregate::{Granularity, Keys, MEMBER_SEPARATOR};
use crate::catalog::{Catalog, Unit};
use crate::item::{counter, processing_bin_hours};
use chrono::{DateTime, Utc};
use ioc_shared::event::ItemKind;
use ioc_shared::summary::{
    rate, ChildFigures, ComplaintFigures, DossierFigures, LateOfficer, OfficerFigures, Percentiles,
    Summary, TaskFigures, UnitRef, Window,
};
use redis::aio::ConnectionManager;
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
    let now_s = now.timestamp();
    match window {
        Window::Today => ioc_shared::time::local_midnight(now).timestamp(),
        Window::Hours24 => now_s.div_euclid(60) * 60 - 24 * 3600,
        Window::Days7 => now_s.div_euclid(3600) * 3600 - 7 * 86_400,
        Window::Days30 => now_s.div_euclid(3600) * 3600 - 30 * 86_400,
    }
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

/// Computes the summary of `unit` over `window` as of `now`.
pub async fn compute(
    conn: &mut ConnectionManager,
    keys: &Keys,
    catalog: &Catalog,
    unit: &Unit,
    window: Window,
    now: DateTime<Utc>,
) -> redis::RedisResult<Computed> {
    let now_ms = now.timestamp_millis();
    let overdue_max = format!("({now_ms}"); // strictly before now: "now is past its due time"
    let children: Vec<&Unit> = catalog.children(&unit.code).iter().filter_map(|c| catalog.get(c)).collect();
    let buckets = window_buckets(window, now);
    let kinds = [ItemKind::Dossier, ItemKind::Complaint, ItemKind::Task];

    let mut pipe = redis::pipe();
    pipe.atomic();
    for (granularity, index) in &buckets {
        pipe.cmd("HGETALL").arg(keys.bucket(*granularity, *index, &unit.code));
    }
    pipe.cmd("HGETALL").arg(keys.open(&unit.code));
    for kind in kinds {
        pipe.cmd("ZCOUNT").arg(keys.due(&unit.code, kind)).arg("-inf").arg(&overdue_max);
    }
    for kind in kinds {
        pipe.cmd("ZRANGEBYSCORE").arg(keys.due(&unit.code, kind)).arg(now_ms).arg("+inf")
            .arg("WITHSCORES").arg("LIMIT").arg(0).arg(1);
    }
    pipe.cmd("ZRANGEBYSCORE").arg(keys.late(&unit.code)).arg("-inf").arg(&overdue_max);
    for child in &children {
        for kind in [ItemKind::Dossier, ItemKind::Complaint] {
            pipe.cmd("ZCOUNT").arg(keys.due(&child.code, kind)).arg("-inf").arg(&overdue_max);
        }
    }
    let replies: Vec<redis::Value> = pipe.query_async(conn).await?;
    let mut replies = replies.into_iter();
    let mut next = move || replies.next().unwrap_or(redis::Value::Nil);

    let mut totals: HashMap<String, i64> = HashMap::new();
    for _ in &buckets {
        let bucket: HashMap<String, i64> = redis::from_redis_value(next())?;
        for (field, n) in bucket {
            *totals.entry(field).or_default() += n;
        }
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
    let late_members: Vec<String> = redis::from_redis_value(next())?;
    let mut child_overdue = Vec::with_capacity(children.len());
    for _ in &children {
        let dossiers: u64 = redis::from_redis_value(next())?;
        let complaints: u64 = redis::from_redis_value(next())?;
        child_overdue.push(dossiers + complaints);
    }

    let mut officers = rank_late_officers(&late_members);
    if !officers.top_late.is_empty() {
        let ids: Vec<&str> = officers.top_late.iter().map(|o| o.id.as_str()).collect();
        let names: Vec<Option<String>> =
            redis::cmd("HMGET").arg(keys.officers()).arg(&ids).query_async(conn).await?;
        for (officer, name) in officers.top_late.iter_mut().zip(names) {
            officer.name = name.unwrap_or_else(|| officer.id.clone());
            officer.unit_name = catalog.get(&officer.unit).map(|u| u.name.clone()).unwrap_or_default();
        }
    }

    let get = |name: &str| -> u64 { totals.get(name).copied().unwrap_or(0).max(0) as u64 };
    let open_of = |kind: ItemKind| -> u64 { open.get(kind.as_str()).copied().unwrap_or(0).max(0) as u64 };

    let dossiers = DossierFigures {
        received: get(counter::DOSSIERS_RECEIVED),
        resolved: get(counter::DOSSIERS_RESOLVED),
        resolved_on_time: get(counter::DOSSIERS_ON_TIME),
        resolved_late: get(counter::DOSSIERS_LATE),
        on_time_rate: rate(get(counter::DOSSIERS_ON_TIME), get(counter::DOSSIERS_LATE)),
        open: open_of(ItemKind::Dossier),
        overdue: overdue[0],
        processing_hours: processing_percentiles(&totals),
    };
    let complaints = ComplaintFigures {
        received: get(counter::COMPLAINTS_RECEIVED),
        resolved: get(counter::COMPLAINTS_RESOLVED),
        resolved_on_time: get(counter::COMPLAINTS_ON_TIME),
        open: open_of(ItemKind::Complaint),
        overdue: overdue[1],
        by_field: with_prefix(&totals, counter::COMPLAINT_FIELD),
        by_channel: with_prefix(&totals, counter::COMPLAINT_CHANNEL),
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
    let mut children: Vec<ChildFigures> = children
        .iter()
        .zip(child_overdue)
        .map(|(child, overdue)| {
            let field = |name: &str| get(&format!("k:{}:{name}", child.code));
            ChildFigures {
                code: child.code.clone(),
                name: child.name.clone(),
                dossiers_received: field(counter::DOSSIERS_RECEIVED),
                on_time_rate: rate(field(counter::DOSSIERS_ON_TIME), field(counter::DOSSIERS_LATE)),
                overdue,
                complaints_received: field(counter::COMPLAINTS_RECEIVED),
            }
        })
        .collect();
    rank_children(&mut children);

    let summary = Summary {
        unit: UnitRef { code: unit.code.clone(), name: unit.name.clone(), kind: unit.kind.clone() },
        window,
        as_of: ioc_shared::time::to_local_rfc3339(now),
        dossiers,
        complaints,
        tasks,
        officers: std::mem::take(&mut officers),
        children,
    };
    Ok(Computed { summary, next_due_ms })
}

/// Worst on-time rate first; children with no rate after those with one; then most overdue,
/// then catalog code, so the order is stable.
pub fn rank_children(children: &mut [ChildFigures]) {
    children.sort_by(|a, b| {
        let rate_order = match (a.on_time_rate, b.on_time_rate) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
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

/// Groups overdue assigned items by officer: count, and the unit holding most of them.
fn rank_late_officers(members: &[String]) -> OfficerFigures {
    let mut by_officer: HashMap<&str, (u64, HashMap<&str, u64>)> = HashMap::new();
    for member in members {
        let mut parts = member.split(MEMBER_SEPARATOR);
        let (Some(officer), Some(unit)) = (parts.next(), parts.next()) else { continue };
        let entry = by_officer.entry(officer).or_default();
        entry.0 += 1;
        *entry.1.entry(unit).or_default() += 1;
    }
    let late = by_officer.len() as u64;
    let mut ranked: Vec<LateOfficer> = by_officer
        .into_iter()
        .map(|(id, (overdue, units))| {
            let unit = units
                .into_iter()
                .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
                .map(|(u, _)| u.to_owned())
                .unwrap_or_default();
            LateOfficer { id: id.to_owned(), name: String::new(), unit, unit_name: String::new(), overdue }
        })
        .collect();
    ranked.sort_by(|a, b| b.overdue.cmp(&a.overdue).then(a.id.cmp(&b.id)));
    ranked.truncate(TOP_LATE_OFFICERS);
    OfficerFigures { late, top_late: ranked }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        ioc_shared::time::parse_rfc3339(text).unwrap_or_default()
    }

    /// Every second of the window lies in exactly one bucket, for every window and many "now"s.
    #[test]
    fn window_buckets_cover_the_window_exactly_once() {
        for now_text in ["2026-11-22T10:37:12+07:00", "2026-11-22T00:00:00+07:00", "2026-11-22T23:59:59+07:00"] {
            let now = at(now_text);
            for window in Window::ALL {
                let buckets = window_buckets(window, now);
                let start = window_start(window, now);
                let mut t = start;
                for (granularity, index) in &buckets {
                    assert_eq!(granularity.start(*index), t, "{window:?} {now_text}: gap or overlap");
                    t = granularity.start(*index + 1);
                }
                assert!(t > now.timestamp(), "{window:?} {now_text}: window not covered to now");
                assert!(buckets.len() <= 60 + 24 + 31, "{window:?}: {} buckets", buckets.len());
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

    #[test]
    fn children_rank_worst_rate_first_and_no_rate_last() {
        let child = |code: &str, rate: Option<f64>, overdue: u64| ChildFigures {
            code: code.into(), name: code.into(), dossiers_received: 0, on_time_rate: rate,
            overdue, complaints_received: 0,
        };
        let mut list = vec![child("a", None, 9), child("b", Some(0.9), 0), child("c", Some(0.5), 0), child("d", Some(0.9), 3)];
        rank_children(&mut list);
        let order: Vec<&str> = list.iter().map(|c| c.code.as_str()).collect();
        assert_eq!(order, ["c", "d", "b", "a"]);
    }

    #[test]
    fn officers_are_ranked_by_overdue_count() {
        let s = MEMBER_SEPARATOR;
        let members: Vec<String> = [("o1", "001", "d1"), ("o2", "002", "d2"), ("o2", "002", "t1"), ("o2", "003", "c1")]
            .iter()
            .map(|(o, u, i)| format!("{o}{s}{u}{s}dossier{s}{i}"))
            .collect();
        let ranked = rank_late_officers(&members);
        assert_eq!(ranked.late, 2);
        assert_eq!(ranked.top_late[0].id, "o2");
        assert_eq!(ranked.top_late[0].overdue, 3);
        assert_eq!(ranked.top_late[0].unit, "002");
    }
}
