//! Complaints received per hour, for the `complaints.spike` alert metric: the last hour and the
//! same hour on the previous same weekdays, counted per unit in one query.

use chrono::{DateTime, Duration, Utc};
use ioc_shared::alerts::SPIKE_BASELINE_WEEKS;
use sqlx::PgPool;
use std::collections::HashMap;

/// Complaints received at one unit (its own items, not its subtree's): `[0]` in the last hour,
/// `[k]` in the same hour `k` weeks before.
pub type HourCounts = [u64; SPIKE_BASELINE_WEEKS + 1];

/// The hours counted at `now`: `[now − 1h, now)` and the same hour 1…4 weeks before. Local time
/// (UTC+7) has no daylight saving, so a week earlier is always 7 × 24 h earlier.
pub fn hour_starts(now: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    (0..=SPIKE_BASELINE_WEEKS as i64)
        .map(|weeks| now - Duration::hours(1) - Duration::weeks(weeks))
        .collect()
}

/// Complaints received in each hour of [`hour_starts`]`(now)`, by the unit each belongs to;
/// units with none are absent. Each hour is one range scan of `items_received_by_time`.
pub async fn complaints_by_hour(
    pool: &PgPool,
    now: DateTime<Utc>,
) -> Result<HashMap<String, HourCounts>, sqlx::Error> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT i.unit, w.k, count(*)
         FROM unnest($1::timestamptz[]) WITH ORDINALITY AS w(start, k)
         JOIN items i ON i.kind = 'complaint'
                     AND i.received_at >= w.start
                     AND i.received_at < w.start + interval '1 hour'
         GROUP BY i.unit, w.k",
    )
    .bind(hour_starts(now))
    .fetch_all(pool)
    .await?;
    let mut counts: HashMap<String, HourCounts> = HashMap::new();
    for (unit, ordinal, count) in rows {
        // WITH ORDINALITY counts from 1; the first hour is the last one.
        let slot = usize::try_from(ordinal - 1).ok().filter(|k| *k <= SPIKE_BASELINE_WEEKS);
        let (Some(slot), Ok(count)) = (slot, u64::try_from(count)) else {
            return Err(sqlx::Error::Decode(
                format!("complaints by hour: ordinal {ordinal}, count {count}").into(),
            ));
        };
        counts.entry(unit).or_default()[slot] = count;
    }
    Ok(counts)
}
