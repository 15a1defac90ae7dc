//! What each source system sent, per hour: accepted, duplicate and rejected events, the last
//! time it spoke, and why its events were refused.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// One source's part of one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Traffic {
    pub accepted: i64,
    pub duplicates: i64,
    pub rejected: i64,
    /// Rejection reasons (in their general form) and how often each came.
    pub reasons: BTreeMap<String, i64>,
}

/// Counts over a period.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Counts {
    pub accepted: i64,
    pub duplicates: i64,
    pub rejected: i64,
}

/// One source's traffic, as admins see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceTraffic {
    pub source: String,
    pub last_event_at: Option<DateTime<Utc>>,
    pub last_hour: Counts,
    pub last_day: Counts,
    /// The most frequent rejection reasons of the last day.
    pub top_rejections: Vec<(String, i64)>,
}

#[derive(sqlx::FromRow)]
struct TrafficRow {
    source: String,
    last_event_at: Option<DateTime<Utc>>,
    hour_accepted: i64,
    hour_duplicates: i64,
    hour_rejected: i64,
    day_accepted: i64,
    day_duplicates: i64,
    day_rejected: i64,
}

#[derive(sqlx::FromRow)]
struct ReasonRow {
    source: String,
    reason: String,
    n: i64,
}

/// Rejection reasons kept per source and day.
const TOP_REASONS: usize = 5;

impl Store {
    /// Adds one batch's traffic per source to the current hour.
    pub async fn record_traffic(
        &self,
        by_source: &BTreeMap<String, Traffic>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = crate::store::begin(&self.pool).await?;
        for (source, traffic) in by_source {
            sqlx::query(
                "INSERT INTO source_traffic (source, hour, accepted, duplicates, rejected, last_event_at)
                 VALUES ($1, date_trunc('hour', $5::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', $2, $3, $4, $5)
                 ON CONFLICT (source, hour) DO UPDATE SET accepted = source_traffic.accepted + $2,
                     duplicates = source_traffic.duplicates + $3, rejected = source_traffic.rejected + $4,
                     last_event_at = GREATEST(source_traffic.last_event_at, $5)",
            )
            .bind(source)
            .bind(traffic.accepted)
            .bind(traffic.duplicates)
            .bind(traffic.rejected)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            for (reason, n) in &traffic.reasons {
                sqlx::query(
                    "INSERT INTO source_rejections (source, hour, reason, n) VALUES ($1, date_trunc('hour', $4::timestamptz AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', $2, $3)
                     ON CONFLICT (source, hour, reason) DO UPDATE SET n = source_rejections.n + $3",
                )
                .bind(source)
                .bind(reason)
                .bind(n)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every source heard from in the 30 days before `now`: last event, last hour, last day,
    /// top reasons.
    pub async fn source_traffic(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<SourceTraffic>, StoreError> {
        let rows: Vec<TrafficRow> = sqlx::query_as(
            "SELECT source, max(last_event_at) AS last_event_at,
                    coalesce(sum(accepted) FILTER (WHERE hour >= date_trunc('hour', ($1::timestamptz - interval '1 hour') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)::bigint AS hour_accepted,
                    coalesce(sum(duplicates) FILTER (WHERE hour >= date_trunc('hour', ($1::timestamptz - interval '1 hour') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)::bigint AS hour_duplicates,
                    coalesce(sum(rejected) FILTER (WHERE hour >= date_trunc('hour', ($1::timestamptz - interval '1 hour') AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'), 0)::bigint AS hour_rejected,
                    coalesce(sum(accepted) FILTER (WHERE hour >= $1::timestamptz - interval '1 day'), 0)::bigint AS day_accepted,
                    coalesce(sum(duplicates) FILTER (WHERE hour >= $1::timestamptz - interval '1 day'), 0)::bigint AS day_duplicates,
                    coalesce(sum(rejected) FILTER (WHERE hour >= $1::timestamptz - interval '1 day'), 0)::bigint AS day_rejected
             FROM source_traffic WHERE hour >= $1::timestamptz - interval '30 days' GROUP BY source ORDER BY source",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        let reasons: Vec<ReasonRow> = sqlx::query_as(
            "SELECT source, reason, sum(n)::bigint AS n FROM source_rejections
             WHERE hour >= $1::timestamptz - interval '1 day' GROUP BY source, reason ORDER BY source, n DESC, reason",
        )
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| SourceTraffic {
                top_rejections: reasons
                    .iter()
                    .filter(|r| r.source == row.source)
                    .take(TOP_REASONS)
                    .map(|r| (r.reason.clone(), r.n))
                    .collect(),
                source: row.source,
                last_event_at: row.last_event_at,
                last_hour: Counts {
                    accepted: row.hour_accepted,
                    duplicates: row.hour_duplicates,
                    rejected: row.hour_rejected,
                },
                last_day: Counts {
                    accepted: row.day_accepted,
                    duplicates: row.day_duplicates,
                    rejected: row.day_rejected,
                },
            })
            .collect())
    }
}
