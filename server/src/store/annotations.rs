//! Notes on the timeline, as entered.

use super::{Store, StoreError};
use chrono::{DateTime, Utc};
use ioc_shared::annotation::Annotation;

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    unit: String,
    at: DateTime<Utc>,
    until: Option<DateTime<Utc>>,
    text: String,
    children: bool,
    made_by: String,
}

impl From<Row> for Annotation {
    fn from(row: Row) -> Annotation {
        Annotation {
            id: Some(row.id),
            unit: Some(row.unit),
            at: ioc_shared::time::to_local_rfc3339(row.at),
            until: row.until.map(ioc_shared::time::to_local_rfc3339),
            text: row.text,
            children: row.children,
            by: Some(row.made_by),
            source: "note".into(),
        }
    }
}

/// A note to store.
pub struct NewNote<'a> {
    pub unit: &'a str,
    pub at: DateTime<Utc>,
    pub until: Option<DateTime<Utc>>,
    pub text: &'a str,
    pub children: bool,
    pub made_by: &'a str,
}

impl Store {
    pub async fn add_annotation(
        &self,
        note: &NewNote<'_>,
        now: DateTime<Utc>,
    ) -> Result<Annotation, StoreError> {
        let row: Row = sqlx::query_as(
            "INSERT INTO annotations (unit, at, until, text, children, made_by, made_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)
             RETURNING id, unit, at, until, text, children, made_by",
        )
        .bind(note.unit)
        .bind(note.at)
        .bind(note.until)
        .bind(note.text)
        .bind(note.children)
        .bind(note.made_by)
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        Ok(row.into())
    }
}

/// Notes shown on `unit`'s timeline over `[from, to)`: its own, and those of its ancestors
/// (`ancestors`) entered with `children`; by time.
pub async fn annotations<'c>(
    db: impl sqlx::PgExecutor<'c>,
    unit: &str,
    ancestors: &[String],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<Vec<Annotation>, StoreError> {
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT id, unit, at, until, text, children, made_by FROM annotations
         WHERE (unit = $1 OR (children AND unit = ANY($2)))
           AND at < $4 AND COALESCE(until, at) >= $3
         ORDER BY at, id LIMIT 1000",
    )
    .bind(unit)
    .bind(ancestors)
    .bind(from)
    .bind(to)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(Annotation::from).collect())
}
