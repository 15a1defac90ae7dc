//! What admins inspect: quarantined rows, and items whose unit left the catalog.

use super::{Store, StoreError};
use crate::catalog::Catalog;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A row set aside because it could not be read.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Quarantined {
    pub id: i64,
    pub at: DateTime<Utc>,
    /// `outbox`, `event` or `item`.
    pub kind: String,
    /// Which row: the outbox seq, `source/event id`, or `source/kind/item id`.
    #[sqlx(rename = "ref")]
    #[serde(rename = "ref")]
    pub reference: String,
    pub error: String,
    pub payload: Option<serde_json::Value>,
}

/// Items of a unit that is not in the catalog (counted under `_unknown` in the figures).
#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq)]
pub struct UnknownUnit {
    pub unit: String,
    pub kind: String,
    pub items: i64,
    pub open: i64,
}

impl Store {
    /// Quarantined rows, newest first, and how many there are in all.
    pub async fn quarantined(&self, limit: i64) -> Result<(i64, Vec<Quarantined>), StoreError> {
        let total: i64 =
            sqlx::query_scalar("SELECT count(*) FROM quarantine").fetch_one(&self.pool).await?;
        let rows = sqlx::query_as(
            "SELECT id, at, kind, ref, error, payload FROM quarantine ORDER BY id DESC LIMIT $1",
        )
        .bind(limit.clamp(1, 10_000))
        .fetch_all(&self.pool)
        .await?;
        Ok((total, rows))
    }

    /// Items whose unit is not in `catalog`, per unit and kind.
    pub async fn unknown_units(&self, catalog: &Catalog) -> Result<Vec<UnknownUnit>, StoreError> {
        let rows: Vec<UnknownUnit> = sqlx::query_as(
            "SELECT unit, kind, count(*) AS items,
                    count(*) FILTER (WHERE (contribution->>'open')::boolean) AS open
             FROM items GROUP BY unit, kind ORDER BY unit, kind",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().filter(|row| !catalog.contains(&row.unit)).collect())
    }
}
