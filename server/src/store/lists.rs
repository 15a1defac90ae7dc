//! The items behind the figures, read from PostgreSQL (the truth): lists by state with keyset
//! paging, an officer's work, and breakdowns by procedure, field or channel.
//!
//! Paging is by keyset — (sort key, item id, source) — so each page continues exactly after the
//! last item shown: items that change meanwhile are never shown twice, and new ones appear in
//! their place.

use super::sql::{push_overdue_at, push_resolved_between, push_scope, RATED};
use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use ioc_shared::event::ItemKind;
use ioc_shared::items::ListState;
use sqlx::{Postgres, QueryBuilder};

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

/// (sort expression, its type) of each list. Every sort is ascending; "most late first" sorts
/// by how early the due time was before the resolution.
fn sort_of(state: ListState) -> (&'static str, &'static str) {
    match state {
        ListState::Overdue | ListState::DueSoon => ("due_extended_at", "timestamptz"),
        ListState::Open | ListState::NeedsRouting => ("received_at", "timestamptz"),
        ListState::Paused => ("paused_since", "timestamptz"),
        ListState::ResolvedLate => {
            ("(EXTRACT(EPOCH FROM due_extended_at) - EXTRACT(EPOCH FROM resolved_at))", "numeric")
        }
    }
}

/// The items of a list: its kind, its state's condition, the scope and the officer.
fn push_list_filter<'a>(sql: &mut QueryBuilder<'a, Postgres>, query: &ListQuery<'a>) {
    sql.push("kind = ").push_bind(query.kind.as_str()).push(" AND ");
    match query.state {
        ListState::Overdue => push_overdue_at(sql, query.now),
        ListState::DueSoon => {
            sql.push("open AND NOT paused AND due_extended_at >= ")
                .push_bind(query.now)
                .push(" AND due_extended_at < ")
                .push_bind(query.due_before);
        }
        ListState::Open => {
            sql.push("open");
        }
        ListState::Paused => {
            sql.push("open AND paused");
        }
        ListState::ResolvedLate => {
            push_resolved_between(sql, query.resolved_since, query.now);
            sql.push(" AND resolved_at > due_extended_at AND ").push(RATED);
        }
        ListState::NeedsRouting => {
            sql.push("needs_routing");
        }
    }
    push_scope(sql, query.units);
    if let Some(officer) = query.officer {
        sql.push(" AND officer_id = ").push_bind(officer);
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
        let mut count = QueryBuilder::new("SELECT count(*) FROM items WHERE ");
        push_list_filter(&mut count, query);
        let total: i64 = count.build_query_scalar().fetch_one(&self.reads).await?;

        let (sort, sort_type) = sort_of(query.state);
        let mut page = QueryBuilder::new("SELECT ");
        page.push(ITEM_COLUMNS)
            .push(", (")
            .push(sort)
            .push(")::text AS sort_key FROM items WHERE ");
        push_list_filter(&mut page, query);
        if let Some(after) = &query.after {
            page.push(" AND (")
                .push(sort)
                .push(", item_id, source) > (")
                .push_bind(after.key.as_str())
                .push("::text::")
                .push(sort_type)
                .push(", ")
                .push_bind(after.id.as_str())
                .push(", ")
                .push_bind(after.source.as_str())
                .push(")");
        }
        page.push(" ORDER BY ").push(sort).push(", item_id, source LIMIT ").push_bind(query.limit);
        let rows: Vec<ListedItem> = page.build_query_as().fetch_all(&self.reads).await?;
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
        let mut sql = QueryBuilder::new(
            "SELECT kind, count(*) FILTER (WHERE open) AS open, count(*) FILTER (WHERE ",
        );
        push_overdue_at(&mut sql, now);
        sql.push(") AS overdue, count(*) FILTER (WHERE ");
        push_resolved_between(&mut sql, since, now);
        sql.push(" AND resolved_at <= due_extended_at AND ")
            .push(RATED)
            .push(") AS resolved_on_time, count(*) FILTER (WHERE ");
        push_resolved_between(&mut sql, since, now);
        sql.push(" AND resolved_at > due_extended_at AND ")
            .push(RATED)
            .push(") AS resolved_late, max(officer_name) AS name FROM items WHERE officer_id = ")
            .push_bind(officer);
        push_scope(&mut sql, units);
        sql.push(" GROUP BY kind");
        let rows = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows)
    }

    /// The unit holding most of an officer's items within `units` (`None`: all).
    pub async fn officer_home(
        &self,
        officer: &str,
        units: Option<&[String]>,
    ) -> Result<Option<String>, StoreError> {
        let mut sql = QueryBuilder::new("SELECT unit FROM items WHERE officer_id = ");
        sql.push_bind(officer);
        push_scope(&mut sql, units);
        sql.push(" GROUP BY unit ORDER BY count(*) DESC, unit LIMIT 1");
        let unit: Option<String> = sql.build_query_scalar().fetch_optional(&self.pool).await?;
        Ok(unit)
    }

    /// An officer's overdue items of every kind, most overdue first.
    pub async fn officer_overdue<'a>(
        &self,
        officer: &'a str,
        units: Option<&'a [String]>,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<(i64, Vec<ListedItem>), StoreError> {
        let filter = |sql: &mut QueryBuilder<'a, Postgres>| {
            sql.push("officer_id = ").push_bind(officer);
            push_scope(sql, units);
            sql.push(" AND ");
            push_overdue_at(sql, now);
        };
        let mut count = QueryBuilder::new("SELECT count(*) FROM items WHERE ");
        filter(&mut count);
        let total: i64 = count.build_query_scalar().fetch_one(&self.pool).await?;
        let mut page = QueryBuilder::new("SELECT ");
        page.push(ITEM_COLUMNS).push(", due_extended_at::text AS sort_key FROM items WHERE ");
        filter(&mut page);
        page.push(" ORDER BY due_extended_at, item_id, source LIMIT ").push_bind(limit);
        let rows = page.build_query_as().fetch_all(&self.pool).await?;
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
        // Received or resolved in the period: the same bounds for every count.
        let in_period = |sql: &mut QueryBuilder<'_, Postgres>, at: &str| {
            sql.push(at)
                .push(" >= ")
                .push_bind(since)
                .push(" AND ")
                .push(at)
                .push(" < ")
                .push_bind(until);
        };
        let mut sql = QueryBuilder::new("SELECT ");
        sql.push(column).push(" AS key, count(*) FILTER (WHERE ");
        in_period(&mut sql, "received_at");
        sql.push(") AS received, count(*) FILTER (WHERE ");
        in_period(&mut sql, "received_at");
        sql.push(" AND channel = 'online') AS received_online, count(*) FILTER (WHERE ");
        in_period(&mut sql, "resolved_at");
        sql.push(" AND received_at IS NOT NULL) AS resolved, count(*) FILTER (WHERE ");
        in_period(&mut sql, "resolved_at");
        sql.push(" AND received_at IS NOT NULL AND ").push(RATED).push(
            " AND resolved_at <= due_extended_at) AS resolved_on_time, count(*) FILTER (WHERE ",
        );
        in_period(&mut sql, "resolved_at");
        sql.push(" AND received_at IS NOT NULL AND ")
            .push(RATED)
            .push(" AND resolved_at > due_extended_at) AS resolved_late, count(*) FILTER (WHERE open) AS open, count(*) FILTER (WHERE ");
        push_overdue_at(&mut sql, now);
        sql.push(") AS overdue, (percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM resolved_at - received_at) / 3600.0) FILTER (WHERE ");
        in_period(&mut sql, "resolved_at");
        sql.push(" AND received_at IS NOT NULL))::float8 AS p50_hours FROM items WHERE kind = ")
            .push_bind(kind.as_str());
        push_scope(&mut sql, units);
        sql.push(" AND (open OR received_at >= ")
            .push_bind(since)
            .push(" OR resolved_at >= ")
            .push_bind(since)
            .push(") GROUP BY 1");
        let rows = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows)
    }
}
