//! The items behind the figures, read from PostgreSQL (the truth): lists by state with keyset
//! paging, an officer's work, and breakdowns by procedure, field or channel.
//!
//! Paging is by keyset — (sort key, item id, source) — so each page continues exactly after the
//! last item shown: items that change meanwhile are never shown twice, and new ones appear in
//! their place.

use super::sql::{overdue_at, RATED};
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use ioc_shared::event::ItemKind;
use ioc_shared::items::ListState;

/// Where a page starts: after this sort key (as PostgreSQL prints it), item id and source.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct After {
    pub key: String,
    pub id: String,
    pub source: String,
}

/// One list request.
#[derive(Debug, Clone)]
pub struct ListQuery<'a> {
    pub kind: ItemKind,
    pub state: ListState,
    /// The scope's units; `None` for every unit.
    pub units: Option<&'a [String]>,
    pub now: DateTime<Utc>,
    /// `due_soon`: due before this.
    pub due_before: DateTime<Utc>,
    /// `resolved_late`: resolved at or after this.
    pub resolved_since: DateTime<Utc>,
    /// Only this officer's items.
    pub officer: Option<&'a str>,
    pub limit: i64,
    pub after: Option<After>,
}

/// An item as listed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ListedItem {
    pub source: String,
    pub kind: String,
    pub item_id: String,
    pub unit: String,
    pub officer_id: Option<String>,
    pub officer_name: Option<String>,
    pub procedure: Option<String>,
    pub field: Option<String>,
    pub channel: Option<String>,
    pub title: Option<String>,
    pub summary: Option<String>,
    pub received_at: Option<DateTime<Utc>>,
    pub due_at: Option<DateTime<Utc>>,
    pub due_extended_at: Option<DateTime<Utc>>,
    pub paused: bool,
    pub resolved_at: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    /// The sort key, exactly as PostgreSQL prints it (for the next page's cursor).
    pub sort_key: String,
}

/// (sort expression, its type, direction-free condition) of each list. Every sort is
/// ascending; "most late first" sorts by how early the due time was before the resolution.
fn shape(state: ListState) -> (&'static str, &'static str, String) {
    match state {
        ListState::Overdue => ("due_extended_at", "timestamptz", overdue_at("$2")),
        ListState::DueSoon => ("due_extended_at", "timestamptz", "open AND NOT paused AND due_extended_at >= $2 AND due_extended_at < $3".into()),
        ListState::Open => ("received_at", "timestamptz", "open".into()),
        ListState::Paused => ("paused_since", "timestamptz", "open AND paused".into()),
        ListState::ResolvedLate => (
            "(EXTRACT(EPOCH FROM due_extended_at) - EXTRACT(EPOCH FROM resolved_at))",
            "numeric",
            format!("resolved_at >= $4 AND resolved_at <= $2 AND resolved_at > due_extended_at AND {RATED}"),
        ),
        ListState::NeedsRouting => ("received_at", "timestamptz", "needs_routing".into()),
    }
}

const ITEM_COLUMNS: &str = "source, kind, item_id, unit, officer_id, officer_name, procedure, field, channel, title, summary, \
     received_at, due_at, due_extended_at, paused, resolved_at, outcome";

/// Per kind: an officer's open, overdue, and resolved on time and late since a time.
#[derive(Debug, Clone, Default, sqlx::FromRow)]
pub struct OfficerCounts {
    pub kind: String,
    pub open: i64,
    pub overdue: i64,
    pub resolved_on_time: i64,
    pub resolved_late: i64,
    pub name: Option<String>,
}

/// One group of a breakdown.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BreakdownCounts {
    pub key: Option<String>,
    pub received: i64,
    pub received_online: i64,
    pub resolved: i64,
    pub resolved_on_time: i64,
    pub resolved_late: i64,
    pub open: i64,
    pub overdue: i64,
    pub p50_hours: Option<f64>,
}

impl Store {
    /// One page of a list and the list's size.
    pub async fn list_items(
        &self,
        query: &ListQuery<'_>,
    ) -> Result<(i64, Vec<ListedItem>), StoreError> {
        let (sort, sort_type, condition) = shape(query.state);
        let filter = format!(
            "kind = $1 AND {condition} AND ($5::text[] IS NULL OR unit = ANY($5)) AND ($6::text IS NULL OR officer_id = $6)"
        );
        let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM items WHERE {filter}"))
            .bind(query.kind.as_str())
            .bind(query.now)
            .bind(query.due_before)
            .bind(query.resolved_since)
            .bind(query.units)
            .bind(query.officer)
            .fetch_one(&self.pool)
            .await?;
        let page = format!(
            "SELECT {ITEM_COLUMNS}, ({sort})::text AS sort_key FROM items
             WHERE {filter} AND ($7::text IS NULL OR ({sort}, item_id, source) > ($7::text::{sort_type}, $8, $9))
             ORDER BY {sort}, item_id, source LIMIT $10"
        );
        let after = query.after.as_ref();
        let rows: Vec<ListedItem> = sqlx::query_as(&page)
            .bind(query.kind.as_str())
            .bind(query.now)
            .bind(query.due_before)
            .bind(query.resolved_since)
            .bind(query.units)
            .bind(query.officer)
            .bind(after.map(|a| a.key.as_str()))
            .bind(after.map(|a| a.id.as_str()).unwrap_or(""))
            .bind(after.map(|a| a.source.as_str()).unwrap_or(""))
            .bind(query.limit)
            .fetch_all(&self.pool)
            .await?;
        Ok((total, rows))
    }

    /// An officer's figures per kind within `units` (`None`: all), resolved counted since
    /// `since`; empty when they have no item there.
    pub async fn officer_counts(
        &self,
        officer: &str,
        units: Option<&[String]>,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
    ) -> Result<Vec<OfficerCounts>, StoreError> {
        let rows = sqlx::query_as(&format!(
            "SELECT kind,
                    count(*) FILTER (WHERE open) AS open,
                    count(*) FILTER (WHERE {overdue}) AS overdue,
                    count(*) FILTER (WHERE resolved_at >= $4 AND resolved_at <= $3 AND resolved_at <= due_extended_at
                                     AND {RATED}) AS resolved_on_time,
                    count(*) FILTER (WHERE resolved_at >= $4 AND resolved_at <= $3 AND resolved_at > due_extended_at
                                     AND {RATED}) AS resolved_late,
                    max(officer_name) AS name
             FROM items WHERE officer_id = $1 AND ($2::text[] IS NULL OR unit = ANY($2)) GROUP BY kind",
            overdue = overdue_at("$3"),
        ))
        .bind(officer)
        .bind(units)
        .bind(now)
        .bind(since)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    /// An officer's overdue items of every kind, most overdue first.
    pub async fn officer_overdue(
        &self,
        officer: &str,
        units: Option<&[String]>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<(i64, Vec<ListedItem>), StoreError> {
        let filter = format!(
            "officer_id = $1 AND ($2::text[] IS NULL OR unit = ANY($2)) AND {}",
            overdue_at("$3")
        );
        let total: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM items WHERE {filter}"))
            .bind(officer)
            .bind(units)
            .bind(now)
            .fetch_one(&self.pool)
            .await?;
        let rows = sqlx::query_as(&format!(
            "SELECT {ITEM_COLUMNS}, due_extended_at::text AS sort_key FROM items WHERE {filter}
             ORDER BY due_extended_at, item_id, source LIMIT $4"
        ))
        .bind(officer)
        .bind(units)
        .bind(now)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok((total, rows))
    }

    /// Figures per procedure, field or channel (`column`) of `kind` within `units`, for items
    /// received or resolved in `[since, until)`, or open now.
    pub async fn breakdown(
        &self,
        kind: ItemKind,
        column: &str,
        units: Option<&[String]>,
        now: DateTime<Utc>,
        since: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<Vec<BreakdownCounts>, StoreError> {
        let column = match column {
            "procedure" => "procedure",
            "field" => "field",
            _ => "channel",
        };
        let rows = sqlx::query_as(&format!(
            "SELECT {column} AS key,
                    count(*) FILTER (WHERE received_at >= $3 AND received_at < $4) AS received,
                    count(*) FILTER (WHERE received_at >= $3 AND received_at < $4 AND channel = 'online') AS received_online,
                    count(*) FILTER (WHERE resolved_at >= $3 AND resolved_at < $4 AND received_at IS NOT NULL) AS resolved,
                    count(*) FILTER (WHERE resolved_at >= $3 AND resolved_at < $4 AND received_at IS NOT NULL
                                     AND {RATED} AND resolved_at <= due_extended_at) AS resolved_on_time,
                    count(*) FILTER (WHERE resolved_at >= $3 AND resolved_at < $4 AND received_at IS NOT NULL
                                     AND {RATED} AND resolved_at > due_extended_at) AS resolved_late,
                    count(*) FILTER (WHERE open) AS open,
                    count(*) FILTER (WHERE {overdue}) AS overdue,
                    (percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM resolved_at - received_at) / 3600.0)
                        FILTER (WHERE resolved_at >= $3 AND resolved_at < $4 AND received_at IS NOT NULL))::float8 AS p50_hours
             FROM items
             WHERE kind = $1 AND ($2::text[] IS NULL OR unit = ANY($2))
               AND (open OR received_at >= $3 OR resolved_at >= $3)
             GROUP BY 1",
            overdue = overdue_at("$5"),
        ))
        .bind(kind.as_str())
        .bind(units)
        .bind(since)
        .bind(until)
        .bind(now)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }
}
